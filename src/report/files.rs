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
/// A report folder held by one run: `.harness.lock` in it holds the run's pid, and goes
/// when the run ends. A lock whose process is gone is taken over.
pub(crate) struct FolderLock {
    path: PathBuf,
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Takes `dir` for this run, or says which run holds it: two runs writing one folder would
/// leave one result, both saying it is theirs.
pub(crate) fn lock(dir: &Path) -> anyhow::Result<FolderLock> {
    use std::io::Write;
    let path = dir.join(".harness.lock");
    for _ in 0..2 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                let _ = write!(file, "{}", std::process::id());
                return Ok(FolderLock { path });
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|text| text.trim().parse::<i32>().ok());
                // SAFETY: kill with signal 0 only checks that the process exists.
                let alive = holder.is_some_and(|pid| unsafe {
                    libc::kill(pid, 0) == 0
                        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
                });
                match holder {
                    Some(pid) if alive => anyhow::bail!(
                        "--report: '{}' is in use by another harness run (pid {pid}); give each run its own folder",
                        dir.display()
                    ),
                    _ => {
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
            Err(err) => {
                return Err(err)
                    .with_context(|| format!("--report: could not write in '{}'", dir.display()))
            }
        }
    }
    anyhow::bail!("--report: could not take '{}' for this run", dir.display())
}

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
        writable(what, path)?;
    }
    Ok(())
}

/// Checks before the load that `path` can be written, so a run never ends with its whole
/// load done and the file refused: it is opened for appending without blocking (a FIFO
/// with no reader is refused rather than waited on for good; one with a reader, or a
/// device such as `/dev/stdout`, is fine), and removed again if this made it.
fn writable(what: &str, path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    use std::os::unix::fs::OpenOptionsExt;
    if std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo()) {
        // Opening it would end its reader's read: it is opened, without blocking for good,
        // when it is written ([`open_in_place`]).
        return Ok(());
    }
    let existed = std::fs::symlink_metadata(path).is_ok() && path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|err| {
            if err.raw_os_error() == Some(libc::ENXIO) {
                anyhow::anyhow!(
                    "{what}: '{}' is a FIFO with no reader; start its reader first or give a file",
                    path.display()
                )
            } else {
                anyhow::anyhow!(
                    "{what}: cannot write to '{}' ({err}); give a file harness may write",
                    path.display()
                )
            }
        })?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// How long a FIFO may go without a reader before its write is given up.
const FIFO_READER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens `path` for writing in place (appending, and creating it, with `append`). A FIFO is
/// opened without blocking, retried while it has no reader for [`FIFO_READER_WAIT`], then
/// given up with an error: opening it blocking would wait for a reader for good, past any
/// signal.
fn open_in_place(path: &Path, append: bool) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let fifo = std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo());
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if append {
        options.append(true).create(true);
    }
    if !fifo {
        return options.open(path);
    }
    options.custom_flags(libc::O_NONBLOCK);
    let deadline = std::time::Instant::now() + FIFO_READER_WAIT;
    loop {
        match options.open(path) {
            Ok(file) => {
                // Writes block again: the reader takes what it can.
                use std::os::fd::AsRawFd;
                // SAFETY: fcntl on a descriptor this function owns.
                unsafe {
                    let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
                    libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK);
                }
                return Ok(file);
            }
            Err(err) if err.raw_os_error() == Some(libc::ENXIO) => {
                if std::time::Instant::now() >= deadline {
                    return Err(std::io::Error::other(format!(
                        "the FIFO had no reader for {} s",
                        FIFO_READER_WAIT.as_secs()
                    )));
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(err) => return Err(err),
        }
    }
}

/// Appends `text` to the file at `path` (created if missing), in one write: a CI job
/// summary file collects the summaries of every step.
pub(crate) fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = open_in_place(path, true)
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
            let mut file = open_in_place(path, false).with_context(failed)?;
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
