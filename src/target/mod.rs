//! The target process: started from the command after `--` in its own process group, its
//! output captured, watched until it serves, and stopped with SIGINT, SIGTERM, then SIGKILL.
//! [`Target`] owns the whole group: dropping it kills what is left, so no process of the
//! target outlives harness on any path (normal end, error, Ctrl-C, panic).

pub(crate) mod inspect;
pub(crate) mod output;
pub(crate) mod probe;
pub(crate) mod tree;
pub(crate) mod watchdog;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Context;
use tokio::process::{Child, Command};
use tokio::time::Instant;

use output::OutputTail;

/// How long after SIGTERM before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(2);
/// How often readiness and group emptiness are polled.
const POLL: Duration = Duration::from_millis(25);

/// Where the target is expected to accept connections.
#[derive(Debug, Clone)]
pub(crate) enum Endpoint {
    /// A TCP address from the URL.
    Tcp(Vec<SocketAddr>),
    /// A Unix socket (`-S`).
    Unix(PathBuf),
}

/// Why the target never became ready.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NotReady {
    /// It exited first.
    #[error("the target exited before it was ready ({status})")]
    Exited {
        /// How it exited.
        status: String,
    },
    /// Its first process exited and left others running: it daemonised.
    #[error("the target's first process exited ({status}) before it was ready and left {pids} running: it daemonised or went to the background; run the server in the foreground (for nginx: -g 'daemon off;'); harness stopped what it left")]
    Daemonised {
        /// How the first process exited.
        status: String,
        /// The processes it left, comma-separated.
        pids: String,
    },
    /// It did not accept connections in time.
    #[error("the target did not accept connections within {0:?}; raise --ready-timeout or check the URL's port")]
    Timeout(Duration),
}

/// A running target process group.
pub(crate) struct Target {
    child: Child,
    /// The leader's pid, which is also the process group id.
    pub pid: u32,
    /// The last lines the target wrote.
    pub output: OutputTail,
    status: Option<ExitStatus>,
    group_gone: bool,
    /// Processes of the target found outside its group, signalled by pid.
    strays: Vec<tree::Proc>,
    /// Kills the group if harness dies without stopping it.
    watchdog: Option<watchdog::Watchdog>,
}

impl Target {
    /// Starts `argv` in a new process group with `env` added, capturing its output; `echo`
    /// shows the output dimmed on harness's stderr.
    pub(crate) fn spawn(
        argv: &[String],
        env: &[(String, String)],
        cwd: Option<&std::path::Path>,
        echo: bool,
    ) -> anyhow::Result<Target> {
        let (program, args) = argv.split_first().context("no target command after --")?;
        let mut command = Command::new(program);
        if let Some(cwd) = cwd {
            anyhow::ensure!(
                cwd.is_dir(),
                "the target's folder '{}' does not exist (target.cwd)",
                cwd.display()
            );
            command.current_dir(cwd);
        }
        command
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // Linux only: the kernel kills the target's leader if harness dies without running
        // any cleanup (SIGKILL). Elsewhere the watchdog alone covers that case.
        // SAFETY: prctl is async-signal-safe; it only sets a flag of the new process.
        #[cfg(target_os = "linux")]
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        tree::become_subreaper();
        let mut child = command
            .spawn()
            .with_context(|| format!("could not start the target command '{program}'"))?;
        let pid = child.id().context("the target exited at once")?;
        let output = OutputTail::new();
        if let Some(stdout) = child.stdout.take() {
            output.capture(stdout, false, echo);
        }
        if let Some(stderr) = child.stderr.take() {
            output.capture(stderr, true, echo);
        }
        Ok(Target {
            child,
            pid,
            output,
            status: None,
            group_gone: false,
            strays: Vec::new(),
            watchdog: watchdog::Watchdog::start(pid),
        })
    }

    /// Waits until the endpoint accepts a connection; fails if the target exits first or
    /// `timeout` passes. Returns how long it took.
    pub(crate) async fn wait_ready(
        &mut self,
        endpoint: &Endpoint,
        timeout: Duration,
    ) -> Result<Duration, NotReady> {
        let started = Instant::now();
        let deadline = started + timeout;
        loop {
            if let Some(status) = self.try_status() {
                let status = describe(status);
                self.find_strays();
                // SAFETY: signal 0 only checks whether any process of the group exists.
                let group_alive = unsafe { libc::killpg(self.pid as i32, 0) } == 0;
                if !self.strays.is_empty() || group_alive {
                    let pids: Vec<String> = self.strays.iter().map(|p| p.pid.to_string()).collect();
                    let pids = match pids.len() {
                        0 => format!("processes in its group {}", self.pid),
                        1 => format!("process {}", pids[0]),
                        _ => format!("processes {}", pids.join(", ")),
                    };
                    return Err(NotReady::Daemonised { status, pids });
                }
                return Err(NotReady::Exited { status });
            }
            if accepts(endpoint).await {
                return Ok(started.elapsed());
            }
            if Instant::now() >= deadline {
                return Err(NotReady::Timeout(timeout));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Resolves when the leader exits.
    pub(crate) async fn exited(&mut self) -> ExitStatus {
        if let Some(status) = self.status {
            return status;
        }
        match self.child.wait().await {
            Ok(status) => {
                self.status = Some(status);
                status
            }
            // Waiting can only fail if the child was already reaped; treat it as gone.
            Err(_) => std::future::pending().await,
        }
    }

    /// The leader's exit status, if it has exited.
    pub(crate) fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Stops the whole group and the processes that left it: SIGINT and up to `grace` to
    /// exit, then SIGTERM and two more seconds, then SIGKILL; as soon as `hurry()` says so,
    /// SIGKILL at once.
    pub(crate) async fn stop(&mut self, grace: Duration, hurry: impl Fn() -> bool) -> Stopped {
        let mut sent = Vec::new();
        let mut left_group = Vec::new();
        for (signal, wait) in [
            (libc::SIGINT, grace),
            (libc::SIGTERM, TERM_GRACE),
            (libc::SIGKILL, TERM_GRACE),
        ] {
            self.find_strays();
            for stray in &self.strays {
                if !left_group.contains(&stray.pid) {
                    left_group.push(stray.pid);
                }
            }
            if self.all_gone() {
                break;
            }
            if hurry() && signal != libc::SIGKILL {
                continue;
            }
            self.signal(signal);
            sent.push(signal_name(signal).to_string());
            let deadline = Instant::now() + wait;
            let killed = signal == libc::SIGKILL;
            while Instant::now() < deadline && !self.all_gone() && (killed || !hurry()) {
                tokio::time::sleep(POLL).await;
            }
        }
        self.find_strays();
        Stopped {
            status: self.try_status(),
            signals: sent,
            left_group,
            survivors: self.strays.iter().map(|p| p.pid).collect(),
        }
    }

    /// Adds the target's processes now outside its group to those known, and forgets those
    /// that have exited.
    fn find_strays(&mut self) {
        let ours: Vec<u32> = self.watchdog.iter().map(watchdog::Watchdog::pid).collect();
        for stray in tree::strays(self.pid, self.pid, &ours) {
            if !self.strays.contains(&stray) {
                self.strays.push(stray);
                if let Some(watchdog) = &mut self.watchdog {
                    watchdog.guard(stray);
                }
            }
        }
        self.strays.retain(|p| tree::alive(*p));
    }

    /// Has `dir` removed if harness dies without removing it (see the watchdog).
    pub(crate) fn remove_if_abandoned(&mut self, dir: &std::path::Path) {
        if let Some(watchdog) = &mut self.watchdog {
            watchdog.remove_if_abandoned(dir);
        }
    }

    /// True once the group is empty and every known stray has exited; then the watchdog is
    /// no longer needed.
    fn all_gone(&mut self) -> bool {
        self.strays.retain(|p| tree::alive(*p));
        let gone = self.group_empty() && self.strays.is_empty();
        if gone {
            if let Some(watchdog) = &mut self.watchdog {
                watchdog.release();
            }
        }
        gone
    }

    /// True once the leader is reaped and no process is left in its group.
    fn group_empty(&mut self) -> bool {
        if self.group_gone {
            return true;
        }
        self.try_status();
        // SAFETY: signal 0 only checks whether any process of the group exists.
        let alive = unsafe { libc::killpg(self.pid as i32, 0) } == 0;
        self.group_gone = self.status.is_some() && !alive;
        self.group_gone
    }

    fn signal(&self, signal: i32) {
        if !self.group_gone {
            // SAFETY: sends a signal to the group we created; an error means it is gone.
            unsafe {
                libc::killpg(self.pid as i32, signal);
            }
        }
        for stray in &self.strays {
            tree::signal(*stray, signal);
        }
    }
}

/// How a stop went.
#[derive(Debug, Default)]
pub(crate) struct Stopped {
    /// The leader's exit status, if it exited.
    pub status: Option<ExitStatus>,
    /// The signals sent, in order.
    pub signals: Vec<String>,
    /// Processes of the target found outside its group (detached, daemonised).
    pub left_group: Vec<u32>,
    /// Processes still running after SIGKILL (stuck in the kernel, or another user's).
    pub survivors: Vec<u32>,
}

impl Drop for Target {
    fn drop(&mut self) {
        self.find_strays();
        if !self.group_gone || !self.strays.is_empty() {
            self.signal(libc::SIGKILL);
            let _ = self.child.try_wait();
        }
    }
}

/// A port of `addr`'s address that nothing listens on now (the kernel's choice).
pub(crate) fn free_port(addr: SocketAddr) -> std::io::Result<u16> {
    let mut any = addr;
    any.set_port(0);
    Ok(std::net::TcpListener::bind(any)?.local_addr()?.port())
}

/// Waits up to `timeout` until `addr` can be bound again (its last listener has closed);
/// false if it is still taken.
pub(crate) async fn wait_until_free(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        // std's bind sets SO_REUSEADDR, as Node's listen does, so connections of the last
        // listener in TIME_WAIT do not count as taken.
        if std::net::TcpListener::bind(addr).is_ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Whether something accepts connections at the endpoint now.
async fn accepts(endpoint: &Endpoint) -> bool {
    let attempt = async {
        match endpoint {
            Endpoint::Tcp(addrs) => {
                for addr in addrs {
                    if tokio::net::TcpStream::connect(addr).await.is_ok() {
                        return true;
                    }
                }
                false
            }
            Endpoint::Unix(path) => tokio::net::UnixStream::connect(path).await.is_ok(),
        }
    };
    tokio::time::timeout(Duration::from_secs(1), attempt)
        .await
        .unwrap_or(false)
}

/// "exit code 1" or "signal 9 (SIGKILL)".
pub(crate) fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("signal {signal} ({})", signal_name(signal)),
        (None, None) => "unknown status".to_string(),
    }
}

/// The usual name of a signal number.
pub(crate) fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => "signal",
    }
}
