//! Where reports go: `reports/<name>-<time>/` by default for runs with a target, or the
//! directory given with `--report`. The directory is created before the load starts, so a run
//! that cannot write its report fails before it sends anything; files are written whole
//! (to a temporary name, then renamed), so there is never a half-written report.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::result::RunResult;

/// The default report directory for a target command: `reports/<name>-<YYYYMMDD-HHMMSS>`.
pub(crate) fn default_dir(command: &[String]) -> PathBuf {
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

/// Creates the report directory now, before any load, and returns it. A `fresh` directory
/// (harness's default, named after the run and the second it started) never reuses one that
/// exists: two runs in the same second get `NAME-TIME` and `NAME-TIME-2`.
pub(crate) fn prepare(dir: &Path, fresh: bool) -> anyhow::Result<PathBuf> {
    let failed = || {
        format!(
            "--report: could not create the report directory '{}'",
            dir.display()
        )
    };
    if !fresh {
        std::fs::create_dir_all(dir).with_context(failed)?;
        return Ok(dir.to_path_buf());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(failed)?;
    }
    for n in 1..1000 {
        let candidate = if n == 1 {
            dir.to_path_buf()
        } else {
            let mut name = dir.as_os_str().to_owned();
            name.push(format!("-{n}"));
            PathBuf::from(name)
        };
        match std::fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err).with_context(failed),
        }
    }
    anyhow::bail!(
        "--report: '{}' and 998 more like it exist; clean up reports/ or give --report",
        dir.display()
    )
}

/// Checks, before any load, that the extra output files can be written where asked: their
/// folder exists, and a file that exists is not read-only or a folder.
pub(crate) fn check_paths(output: &crate::plan::OutputPlan) -> anyhow::Result<()> {
    let paths = [
        ("--junit", &output.junit),
        ("output.html", &output.html),
        ("output.json", &output.json_file),
        ("--summary-md", &output.summary_md),
    ];
    for (what, path) in paths {
        let Some(path) = path else { continue };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            anyhow::bail!(
                "{what}: the folder '{}' does not exist; create it or write elsewhere",
                dir.display()
            );
        }
        if path.is_dir() {
            anyhow::bail!("{what}: '{}' is a folder; give a file name", path.display());
        }
    }
    Ok(())
}

/// Appends `text` to the file at `path` (created if missing), in one write: a CI job
/// summary file collects the summaries of every step.
pub(crate) fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("could not open '{}' to append the summary", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("could not append the summary to '{}'", path.display()))
}

/// Writes `result.json` and `report.html` into `dir`; returns the report's path.
pub(crate) fn write(dir: &Path, result: &RunResult) -> anyhow::Result<PathBuf> {
    let json = serde_json::to_string_pretty(result).context("could not serialise the result")?;
    write_whole(&dir.join("result.json"), json.as_bytes())?;
    let html = super::html::render(result)?;
    let report = dir.join("report.html");
    write_whole(&report, html.as_bytes())?;
    Ok(report)
}

/// Writes the result and report wherever the plan says (the report folder, and the extra
/// `html`/`json_file` paths); returns the HTML report's path, if one was written.
pub(crate) fn write_outputs(
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
pub(crate) fn named_dir(name: &str) -> PathBuf {
    let dir = default_dir(&[]);
    let stamp = dir
        .file_name()
        .map(|n| n.to_string_lossy().trim_start_matches("run-").to_string())
        .unwrap_or_default();
    PathBuf::from("reports").join(format!("{}-{stamp}", clean(name)))
}

/// Writes a file whole: a regular file (or a new one) through a unique temporary file in the
/// same directory, renamed into place, so that a reader never sees half of it and a full
/// disk leaves nothing behind; a symlink is followed and its target replaced, not the link;
/// anything else (a device such as `/dev/stdout`, a FIFO) is written in place, since
/// renaming over it would replace it.
pub(crate) fn write_whole(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let failed = || format!("could not write '{}'", path.display());
    let target = match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(failed)?;
            return file.write_all(bytes).with_context(failed);
        }
        Ok(_) => std::fs::canonicalize(path).with_context(failed)?,
        Err(_) => path.to_path_buf(),
    };
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temporary = tempfile::Builder::new()
        .prefix(".harness-")
        .suffix(".partial")
        .tempfile_in(dir)
        .with_context(failed)?;
    temporary.write_all(bytes).with_context(failed)?;
    use std::os::unix::fs::PermissionsExt;
    let readable = std::fs::Permissions::from_mode(0o644);
    temporary
        .as_file()
        .set_permissions(readable)
        .with_context(failed)?;
    temporary
        .persist(&target)
        .map_err(|e| e.error)
        .with_context(failed)?;
    Ok(())
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
