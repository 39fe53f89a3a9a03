//! The watchdog: a tiny process (harness itself, run as `harness __watchdog PGID`) that holds
//! the read end of a pipe from harness and kills the target's process group when the pipe
//! closes, and the processes that left the group that harness has told it of (one
//! `PID START` line each). Harness closes it once the group is gone; if harness is killed outright
//! (SIGKILL, the OOM killer), the kernel closes it, and the watchdog kills what is left of
//! the group, children and grandchildren included, which `PR_SET_PDEATHSIG` (the leader
//! only) cannot. It then removes the private folders harness told it of (`dir PATH`), which
//! a harness that exits from its signal handler cannot. It runs in a group of its own and
//! ignores the terminal's signals, so a Ctrl-C meant for harness does not stop it before its
//! job is done.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};

/// The hidden subcommand that runs the watchdog.
pub(crate) const SUBCOMMAND: &str = "__watchdog";
/// The line that starts a folder to remove if harness dies.
const DIR: &str = "dir ";
/// The line harness writes before closing the pipe on purpose.
const RELEASED: &str = "released\n";

/// A running watchdog, owned by the target it guards.
pub(crate) struct Watchdog {
    child: Child,
    pipe: Option<ChildStdin>,
}

impl Watchdog {
    /// Starts a watchdog for the process group `group`; `None` if it cannot start (then
    /// only `PR_SET_PDEATHSIG` guards the leader).
    pub(crate) fn start(group: u32) -> Option<Watchdog> {
        let exe = std::env::current_exe().ok()?;
        let mut child = Command::new(exe)
            .args([SUBCOMMAND, &group.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .ok()?;
        let pipe = child.stdin.take();
        Some(Watchdog { child, pipe })
    }

    /// The watchdog's pid (a child of harness, not of the target).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Has the watchdog kill `process` too (it left the group).
    pub(crate) fn guard(&mut self, process: super::tree::Proc) {
        self.tell(&process.to_line());
    }

    /// Has the watchdog remove `dir` (harness's private folder for the target: the probe's
    /// socket and script, heap snapshots) if harness dies without removing it itself.
    pub(crate) fn remove_if_abandoned(&mut self, dir: &std::path::Path) {
        if let Some(dir) = dir.to_str().filter(|d| !d.contains('\n')) {
            self.tell(&format!("{DIR}{dir}\n"));
        }
    }

    fn tell(&mut self, line: &str) {
        if let Some(pipe) = &mut self.pipe {
            let _ = pipe.write_all(line.as_bytes());
        }
    }

    /// Releases the watchdog once the group is gone: it is told so, sees the pipe close,
    /// finds nothing left to kill, and exits, leaving the folders to harness.
    pub(crate) fn release(&mut self) {
        self.tell(RELEASED);
        self.pipe = None;
        let _ = self.child.wait();
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if self.pipe.is_some() {
            self.release();
        }
    }
}

/// `harness __watchdog PGID`: waits until its stdin closes, then kills the group.
pub(crate) fn main(args: &[std::ffi::OsString]) -> ExitCode {
    let Some(group) = args
        .first()
        .and_then(|a| a.to_str())
        .and_then(|a| a.parse::<i32>().ok())
        .filter(|g| *g > 1)
    else {
        return ExitCode::from(2);
    };
    for signal in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGPIPE,
    ] {
        // SAFETY: ignoring a signal is always sound.
        unsafe { libc::signal(signal, libc::SIG_IGN) };
    }
    // Harness writes a line per process that left the group; a few kB at most.
    let mut told = Vec::new();
    let mut buffer = [0u8; 512];
    let mut stdin = std::io::stdin();
    while let Ok(n @ 1..) = stdin.read(&mut buffer) {
        if told.len() < 1 << 20 {
            told.extend_from_slice(&buffer[..n]);
        }
    }
    // SAFETY: kills the group harness created; an error means it is gone already.
    unsafe { libc::killpg(group, libc::SIGKILL) };
    let told = String::from_utf8_lossy(&told);
    for process in told.lines().filter_map(super::tree::Proc::from_line) {
        super::tree::signal(process, libc::SIGKILL);
    }
    // Harness died without cleaning up: its private folders go too (the target is gone, so
    // nothing writes into them any more).
    if !told.lines().any(|line| format!("{line}\n") == RELEASED) {
        for dir in told.lines().filter_map(|line| line.strip_prefix(DIR)) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    ExitCode::SUCCESS
}
