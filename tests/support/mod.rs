//! Test servers on 127.0.0.1:0 (and Unix sockets) with controlled behaviour, plus helpers to
//! run the real `harness` binary and read its JSON result.
#![allow(dead_code)]

pub mod h2;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};

/// How the raw HTTP/1.1 test server answers.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// 200 "hello" after a fixed delay.
    Fixed(Duration),
    /// Requests that arrive in the last `stall` of every `period` wait until the period ends.
    Stall { period: Duration, stall: Duration },
    /// Every `n`th request (counted over the whole server) gets a TCP reset instead of an answer.
    ResetEvery(u64),
    /// Every `n`th request gets `status`, the others 200.
    StatusEvery { n: u64, status: u16 },
    /// Framing that changes with each request on a connection: Content-Length, chunked with a
    /// trailer, a 20 kB body, an empty 204.
    Varied,
    /// A body of this many bytes.
    Large(usize),
    /// Bytes that are not HTTP.
    Malformed,
    /// Accepts connections and never reads from them.
    NeverReads,
    /// Two responses for every request.
    TwoResponses,
    /// By path: `/fast…` answers after 10 ms, `/slow…` after 50 ms (slept on a thread of
    /// their own, to the tenth of a millisecond; tokio's timer rounds up to the next ms), `/flaky…` answers 200
    /// JSON, of which every tenth (counted over `/flaky` requests) is an error body
    /// `{"ok":false,…}`; any other path 200 "hello".
    Routes,
}

/// A running test server; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    /// Requests received (parsed), over all connections.
    pub requests: Arc<AtomicU64>,
    /// Connections accepted.
    pub connections: Arc<AtomicU64>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TestServer {
    /// Starts a TCP server on 127.0.0.1:0.
    pub fn start(behaviour: Behaviour) -> TestServer {
        let runtime = runtime();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = TestServer::new(addr, runtime);
        let state = server.state(behaviour);
        server.runtime().spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                state.connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(serve(stream, state.clone()));
            }
        });
        server
    }

    /// Starts a server on a Unix socket at `path`.
    pub fn start_unix(path: &Path, behaviour: Behaviour) -> TestServer {
        let runtime = runtime();
        let listener = {
            let _guard = runtime.enter();
            UnixListener::bind(path).unwrap()
        };
        let server = TestServer::new("127.0.0.1:0".parse().unwrap(), runtime);
        let state = server.state(behaviour);
        server.runtime().spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                state.connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(serve(stream, state.clone()));
            }
        });
        server
    }

    /// A port on 127.0.0.1 where nothing listens.
    pub fn closed_port() -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    fn new(addr: SocketAddr, runtime: tokio::runtime::Runtime) -> TestServer {
        TestServer {
            addr,
            requests: Arc::default(),
            connections: Arc::default(),
            runtime: Some(runtime),
        }
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().unwrap()
    }

    fn state(&self, behaviour: Behaviour) -> Arc<State> {
        Arc::new(State {
            behaviour,
            flaky: AtomicU64::new(0),
            started: Instant::now(),
            requests: self.requests.clone(),
            connections: self.connections.clone(),
        })
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

struct State {
    behaviour: Behaviour,
    /// `/flaky` requests so far (`Behaviour::Routes`).
    flaky: AtomicU64,
    started: Instant,
    requests: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
}

enum Answer {
    Bytes(Vec<u8>),
    Reset,
}

/// Reads pipelined requests and answers each in order.
async fn serve<S: AsyncRead + AsyncWrite + Unpin + IntoReset>(mut stream: S, state: Arc<State>) {
    if matches!(state.behaviour, Behaviour::NeverReads) {
        // Hold the connection open, unread, until the test ends.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(stream);
        return;
    }
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    let mut on_connection = 0u64;
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut out = Vec::new();
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            let head = match request.parse(&buf) {
                Ok(httparse::Status::Complete(len)) => len,
                Ok(httparse::Status::Partial) => break,
                Err(_) => return,
            };
            let body: usize = request
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() < head + body {
                break;
            }
            let path = request.path.unwrap_or("/").to_string();
            buf.drain(..head + body);
            let global = state.requests.fetch_add(1, Ordering::Relaxed) + 1;
            on_connection += 1;
            match answer(&state, global, on_connection, &path).await {
                Answer::Bytes(bytes) => out.extend_from_slice(&bytes),
                Answer::Reset => {
                    let _ = stream.write_all(&out).await;
                    stream.reset();
                    return;
                }
            }
        }
        if !out.is_empty() && stream.write_all(&out).await.is_err() {
            return;
        }
    }
}

async fn answer(state: &State, global: u64, on_connection: u64, path: &str) -> Answer {
    let hello = ok("hello");
    match &state.behaviour {
        Behaviour::Routes if path.starts_with("/fast") || path.starts_with("/slow") => {
            let delay = Duration::from_millis(if path.starts_with("/fast") { 10 } else { 50 });
            let _ = tokio::task::spawn_blocking(move || std::thread::sleep(delay)).await;
            Answer::Bytes(hello)
        }
        Behaviour::Routes if path.starts_with("/flaky") => {
            let n = state.flaky.fetch_add(1, Ordering::Relaxed) + 1;
            Answer::Bytes(if n % 10 == 0 {
                ok(r#"{"ok":false,"error":"db down","token":"s3cret"}"#)
            } else {
                ok(r#"{"ok":true,"results":[1,2,3]}"#)
            })
        }
        Behaviour::Routes => Answer::Bytes(hello),
        Behaviour::Fixed(delay) => {
            tokio::time::sleep(*delay).await;
            Answer::Bytes(hello)
        }
        Behaviour::NeverReads => unreachable!("a server that never reads never answers"),
        Behaviour::Stall { period, stall } => {
            let elapsed = state.started.elapsed();
            let phase = Duration::from_nanos((elapsed.as_nanos() % period.as_nanos()) as u64);
            if phase >= *period - *stall {
                tokio::time::sleep(*period - phase).await;
            }
            Answer::Bytes(hello)
        }
        Behaviour::ResetEvery(n) if global % n == 0 => Answer::Reset,
        Behaviour::ResetEvery(_) => Answer::Bytes(hello),
        Behaviour::StatusEvery { n, status } if global % n == 0 => {
            Answer::Bytes(format!("HTTP/1.1 {status} Oops\r\nContent-Length: 4\r\n\r\noops").into_bytes())
        }
        Behaviour::StatusEvery { .. } => Answer::Bytes(hello),
        Behaviour::Varied => Answer::Bytes(match on_connection % 4 {
            0 => ok("hello"),
            1 => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n".to_vec(),
            2 => ok(&"x".repeat(20_000)),
            _ => b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
        }),
        Behaviour::Large(size) => Answer::Bytes(ok(&"y".repeat(*size))),
        Behaviour::Malformed => Answer::Bytes(b"SPDY/9 what\r\n\r\n".to_vec()),
        Behaviour::TwoResponses => Answer::Bytes([hello.clone(), hello].concat()),
    }
}

fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Closing with a reset (TCP) or plainly (Unix sockets have no reset).
pub trait IntoReset {
    fn reset(self);
}

impl IntoReset for tokio::net::TcpStream {
    fn reset(self) {
        let _ = self.set_zero_linger();
    }
}

impl IntoReset for tokio::net::UnixStream {
    fn reset(self) {}
}

/// The example apps, `scenarios/apps/`.
pub const APPS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/apps");

/// The path of an example app.
pub fn app(name: &str) -> String {
    format!("{APPS}/{name}")
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (at most 10 s) until something accepts connections on 127.0.0.1:`port`.
pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `cmd` and returns its exit code and its peak resident memory (MB), from its
/// `/proc/PID/status` `VmHWM`, read every 10 ms while it runs. Not wait4's `ru_maxrss`: a
/// child spawned with vfork (as Rust's `Command` does) starts on this test process's memory,
/// and its `ru_maxrss` counts that (200 MB when the whole suite runs).
pub fn peak_rss_mb(cmd: &mut std::process::Command) -> (Option<i32>, f64) {
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    let status = loop {
        let hwm = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
            .unwrap_or(0);
        peak_kb = peak_kb.max(hwm);
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    (status.code(), peak_kb as f64 / 1024.0)
}

pub fn harness() -> assert_cmd::Command {
    let mut command = assert_cmd::Command::cargo_bin("harness").unwrap();
    // A test run inside GitHub Actions must not write to the job's own summary.
    command
        .env_remove("NO_COLOR")
        .env_remove("GITHUB_STEP_SUMMARY")
        .timeout(Duration::from_secs(60));
    command
}

/// Runs `harness run PATH`, which must refuse it before sending anything (exit code 2) in
/// one line naming what is wrong; returns that line.
pub fn refused(path: &std::path::Path) -> String {
    let output = harness().arg("run").arg(path).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}: {stderr}",
        path.display()
    );
    assert_eq!(stderr.lines().count(), 1, "{}: {stderr}", path.display());
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// Runs harness with `args` plus `--json -n` and returns the parsed result.
pub fn run_json(args: &[&str]) -> serde_json::Value {
    let output = harness()
        .args(args)
        .args(["--json", "-n"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "harness {args:?} failed: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("not JSON ({err}): {stdout}"))
}

/// Asserts that a finished harness succeeded and parses what it printed as JSON.
pub fn json_output(output: &std::process::Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "harness failed: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "not JSON ({err}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// A number from the result, by JSON pointer.
pub fn num(result: &serde_json::Value, pointer: &str) -> f64 {
    result
        .pointer(pointer)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer} in {result}"))
}

/// harness run on a Node app from `scenarios/apps/`, the one builder the tests share:
/// `--json -n`, the default baseline and cooldown (each until the target is at rest, so
/// every fixture's verdict is checked with them), a free port (URL port 0) unless
/// [`NodeRun::url`] says otherwise, then the test's own flags and environment.
pub struct NodeRun {
    app: String,
    url: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    timeout: Duration,
}

impl NodeRun {
    /// A run of `app` (a file in `scenarios/apps/`).
    pub fn new(app_name: &str) -> NodeRun {
        NodeRun {
            app: app(app_name),
            url: "http://127.0.0.1:0/".to_string(),
            args: Vec::new(),
            env: Vec::new(),
            timeout: Duration::from_secs(60),
        }
    }

    /// How long harness may take before the test kills it (60 s unless said): a capacity
    /// search runs many steps, longer on a machine shared with other tests.
    pub fn timeout(mut self, timeout: Duration) -> NodeRun {
        self.timeout = timeout;
        self
    }

    /// More flags.
    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> NodeRun {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    /// An environment variable for harness and so for the target.
    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> NodeRun {
        self.env.push((
            key.to_string(),
            value.as_ref().to_string_lossy().into_owned(),
        ));
        self
    }

    /// Environment variables for harness and so for the target.
    pub fn envs(mut self, vars: Vec<(String, String)>) -> NodeRun {
        self.env.extend(vars);
        self
    }

    /// Load this URL instead of a free port.
    pub fn url(mut self, url: &str) -> NodeRun {
        self.url = url.to_string();
        self
    }

    /// Runs it and returns what harness did.
    pub fn output(self) -> std::process::Output {
        harness()
            .timeout(self.timeout)
            .envs(self.env)
            .args(["--json", "-n"])
            .args(&self.args)
            .args([self.url.as_str(), "--", "node", &self.app])
            .output()
            .unwrap()
    }

    /// Runs it, checks it succeeded, and returns the parsed result.
    pub fn json(self) -> serde_json::Value {
        json_output(&self.output())
    }
}

/// Live (non-zombie) processes whose process group is `group`.
pub fn group_members(group: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields[0] != "Z" && fields[2].parse::<u32>().ok() == Some(group)
        })
        .collect()
}

/// A private PostgreSQL cluster in a temporary folder, on a Unix socket only, started by
/// `tests/support/postgres.sh` and stopped when dropped.
pub struct Postgres {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Postgres {
    /// Starts one; `None` (the test then skips, saying why) where PostgreSQL or the `pg`
    /// client cannot be had: `.ci/run` installs both.
    pub fn start() -> Option<Postgres> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        if !root.join("scenarios/apps/node_modules/pg").exists() {
            eprintln!("skipped: the pg client is not installed (npm ci --prefix scenarios/apps)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let output = std::process::Command::new("sh")
            .arg(root.join("tests/support/postgres.sh"))
            .arg("start")
            .arg(dir.path())
            .output()
            .unwrap();
        if !output.status.success() {
            eprintln!(
                "skipped: PostgreSQL did not start: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
            return None;
        }
        let env = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Some(Postgres { dir, env })
    }

    /// `PGHOST`, `PGPORT`, `PGUSER` and `PGDATABASE` for a client.
    pub fn env(&self) -> Vec<(String, String)> {
        self.env.clone()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let _ = std::process::Command::new("sh")
            .arg(root.join("tests/support/postgres.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

/// Held by the tests whose verdict depends on how busy the machine is (a database's scans, a
/// server at 2,500 connections), so that two of them never share this machine's two cores:
/// each would see the other's load as its own.
pub fn machine_to_itself() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
