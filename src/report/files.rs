//! Where reports go: `reports/<name>-<time>/` by default for runs with a target, or the
//! directory given with `--report`. The directory is created before the load starts, so a run
//! that cannot write its report fails before it sends anything; files are written whole
//! (to a temporary name, then renamed), so there is never a half-written report.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::result::RunResult;

/// The default report directory for a target command: `reports/<name>-<YYYYMMDD-HHMMSS>`.
pub fn default_dir(command: &[String]) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(['-', ':'], "")
        .replace('T', "-")
        .trim_end_matches('Z')
        .to_string();
    PathBuf::from("reports").join(format!("{}-{stamp}", name(command)))
}

/// A short name for the run: the stem of the first argument that is a file (`node app.js`
/// gives `app`), else the program's.
fn name(command: &[String]) -> String {
    let script = command
        .iter()
        .skip(1)
        .find(|arg| !arg.starts_with('-') && Path::new(arg).is_file());
    let raw = script.or(command.first()).map_or("run", String::as_str);
    let stem = Path::new(raw)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("run");
    clean(stem)
}

/// `text` with anything but letters, digits, `-` and `_` replaced by `-`; `run` if empty.
fn clean(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if clean.is_empty() {
        "run".to_string()
    } else {
        clean
    }
}

/// Creates the report directory now, before any load.
pub fn prepare(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "--report: could not create the report directory '{}'",
            dir.display()
        )
    })
}

/// Writes `result.json` and `report.html` into `dir`; returns the report's path.
pub fn write(dir: &Path, result: &RunResult) -> anyhow::Result<PathBuf> {
    let json = serde_json::to_string_pretty(result).context("could not serialise the result")?;
    write_whole(&dir.join("result.json"), json.as_bytes())?;
    let html = super::html::render(result)?;
    let report = dir.join("report.html");
    write_whole(&report, html.as_bytes())?;
    Ok(report)
}

/// Writes the result and report wherever the plan says (the report folder, and the extra
/// `html`/`json_file` paths); returns the HTML report's path, if one was written.
pub fn write_outputs(
    output: &crate::plan::OutputPlan,
    result: &RunResult,
) -> anyhow::Result<Option<PathBuf>> {
    let mut report = None;
    if let Some(dir) = &output.report_dir {
        report = Some(write(dir, result)?);
    }
    if let Some(path) = &output.json_file {
        let json =
            serde_json::to_string_pretty(result).context("could not serialise the result")?;
        write_whole(path, json.as_bytes())?;
    }
    if let Some(path) = &output.html {
        write_whole(path, super::html::render(result)?.as_bytes())?;
        report = Some(path.clone());
    }
    Ok(report)
}

/// The default report directory for a named scenario: `reports/<name>-<YYYYMMDD-HHMMSS>`.
pub fn named_dir(name: &str) -> PathBuf {
    let dir = default_dir(&[]);
    let stamp = dir
        .file_name()
        .map(|n| n.to_string_lossy().trim_start_matches("run-").to_string())
        .unwrap_or_default();
    PathBuf::from("reports").join(format!("{}-{stamp}", clean(name)))
}

/// Writes a file under a temporary name and renames it into place.
pub fn write_whole(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, bytes)
        .with_context(|| format!("could not write '{}'", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("could not write '{}'", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_script() {
        let argv = |args: &[&str]| args.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // Unit tests run in the package root.
        assert_eq!(
            name(&argv(&["node", "--inspect", "scenarios/apps/hello.js"])),
            "hello"
        );
        assert_eq!(name(&argv(&["node", "missing.js"])), "node");
        assert_eq!(name(&argv(&["python3", "-m", "http.server"])), "python3");
        assert_eq!(name(&argv(&["./target/release/my server"])), "my-server");
    }
}
