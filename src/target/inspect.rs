//! Attaching to a Node process harness did not start, through its inspector: the DevTools
//! protocol over WebSocket (a few methods, written with serde_json). Node opens its inspector
//! in a running process on SIGUSR1 (on 127.0.0.1:9229), which is how Chrome DevTools and
//! VS Code attach; `--inspect HOST:PORT` uses one already open (a container started with
//! `--inspect=0.0.0.0:9229`, the port published).
//!
//! Through `Runtime.evaluate`, harness loads its probe into the process (the same script as
//! a started target's, with `process.getBuiltinModule` where Node has it, else the console
//! API's `require`), and the probe connects to harness's socket as if it had been preloaded:
//! samples, CPU trace and I/O trace work unchanged. When its socket closes (harness ends, by
//! any path, even SIGKILL), the probe removes its timers and hooks. [`Inspector::leave`]
//! closes the inspector if harness opened it; if harness went without leaving (a second
//! Ctrl-C, SIGKILL), the probe closes it. harness never sends the process another signal.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

/// Where Node opens its inspector on SIGUSR1.
pub(crate) const DEFAULT_PORT: u16 = 9229;
/// How long the inspector may take to open after SIGUSR1.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one protocol call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The oldest Node the probe runs in (event-loop utilisation, `PerformanceObserver` for GC).
const OLDEST_NODE: u64 = 16;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A session with a process's inspector.
pub(crate) struct Inspector {
    socket: Socket,
    next_id: u64,
    /// harness opened the inspector (SIGUSR1), so it closes it again.
    opened: bool,
    /// Where it listens.
    pub address: SocketAddr,
    /// The process's Node version.
    pub node: String,
}

/// Whether `pid` runs Node: its executable's name.
pub(crate) fn is_node(pid: u32) -> bool {
    executable(pid).is_some_and(|name| name.starts_with("node"))
}

/// The name of `pid`'s executable, when harness may read it.
pub(crate) fn executable(pid: u32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .and_then(|exe| exe.file_name().map(|n| n.to_string_lossy().into_owned()))
}

/// Finds (or opens, with SIGUSR1) the inspector of `pid` and connects; `given` is an
/// inspector already open (`--inspect`). The error is one line for the user.
pub(crate) async fn attach(pid: u32, given: Option<SocketAddr>) -> Result<Inspector, String> {
    let (address, opened) = match given {
        Some(address) => (address, false),
        None => {
            let address = SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT));
            match connect(address, Some(pid)).await {
                Ok(inspector) => return finish(inspector, false).await,
                Err(_) => {
                    // SAFETY: sends SIGUSR1 to the process the user named; Node opens its
                    // inspector on it.
                    if unsafe { libc::kill(pid as i32, libc::SIGUSR1) } != 0 {
                        return Err(format!(
                            "--pid {pid}: could not signal it ({}) to open its inspector",
                            std::io::Error::last_os_error()
                        ));
                    }
                    (address, true)
                }
            }
        }
    };
    let deadline = tokio::time::Instant::now() + OPEN_TIMEOUT;
    loop {
        match connect(address, given.is_none().then_some(pid)).await {
            Ok(inspector) => return finish(inspector, opened).await,
            Err(why) if tokio::time::Instant::now() >= deadline || given.is_some() => {
                return Err(match given {
                    Some(_) => format!("--inspect {address}: {why}; is the inspector open there (node --inspect=HOST:PORT)?"),
                    None => format!(
                        "--pid {pid}: its inspector did not answer on {address} within {} s after SIGUSR1 ({why}); another process may hold the port: start the app with --inspect=PORT and give --inspect 127.0.0.1:PORT",
                        OPEN_TIMEOUT.as_secs()
                    ),
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Checks the Node version and notes who opened the inspector.
async fn finish(mut inspector: Inspector, opened: bool) -> Result<Inspector, String> {
    inspector.opened = opened;
    let version = inspector
        .evaluate("process.versions.node")
        .await?
        .as_str()
        .unwrap_or_default()
        .to_string();
    let major: u64 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < OLDEST_NODE {
        let _ = inspector.leave().await;
        return Err(format!(
            "the process runs Node {version}, too old for the probe (Node {OLDEST_NODE} or newer)"
        ));
    }
    inspector.node = version;
    Ok(inspector)
}

/// Connects to the first target the inspector at `address` lists; with `pid`, only if it is
/// that process.
async fn connect(address: SocketAddr, pid: Option<u32>) -> Result<Inspector, String> {
    let list = json_list(address).await?;
    let url = list
        .as_array()
        .and_then(|targets| targets.first())
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .ok_or("it lists no target")?
        .to_string();
    let (socket, _) = tokio::time::timeout(CALL_TIMEOUT, tokio_tungstenite::connect_async(&url))
        .await
        .map_err(|_| "the WebSocket did not open".to_string())?
        .map_err(|err| format!("the WebSocket did not open ({err})"))?;
    let mut inspector = Inspector {
        socket,
        next_id: 0,
        opened: false,
        address,
        node: String::new(),
    };
    if let Some(pid) = pid {
        let theirs = inspector.evaluate("process.pid").await?;
        if theirs.as_u64() != Some(u64::from(pid)) {
            let _ = inspector.socket.close(None).await;
            return Err(format!("the inspector there is process {theirs}'s"));
        }
    }
    Ok(inspector)
}

/// `GET /json/list` of the inspector's HTTP side.
async fn json_list(address: SocketAddr) -> Result<serde_json::Value, String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(address).await?;
        stream
            .write_all(
                format!("GET /json/list HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        // Node's inspector keeps the connection open: read the head, then Content-Length.
        let mut response = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let read = stream.read(&mut chunk).await?;
            if read == 0 {
                break;
            }
            response.extend_from_slice(&chunk[..read]);
            if let Some(end) = find(&response, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if length.is_some_and(|n| response.len() >= end + 4 + n) {
                    break;
                }
            }
            if response.len() > 1 << 20 {
                break;
            }
        }
        std::io::Result::Ok(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .map_err(|_| "no answer".to_string())?
        .map_err(|err| format!("no answer ({err})"))?;
    let text = String::from_utf8_lossy(&response);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    serde_json::from_str(body).map_err(|_| "not an inspector".to_string())
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl Inspector {
    /// Evaluates `expression` in the process (awaiting a promise) and returns its value.
    pub(crate) async fn evaluate(&mut self, expression: &str) -> Result<serde_json::Value, String> {
        let reply = self
            .call(
                "Runtime.evaluate",
                serde_json::json!({
                    "expression": expression,
                    "includeCommandLineAPI": true,
                    "returnByValue": true,
                    "awaitPromise": true,
                }),
            )
            .await?;
        if let Some(thrown) = reply.get("exceptionDetails") {
            let text = thrown["exception"]["description"]
                .as_str()
                .or(thrown["text"].as_str())
                .unwrap_or("an exception")
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            return Err(format!("the process threw: {text}"));
        }
        Ok(reply["result"]["value"].clone())
    }

    /// Calls one protocol method and waits for its reply (events in between are skipped).
    async fn call(
        &mut self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let message = serde_json::json!({"id": id, "method": method, "params": params});
        let exchange = async {
            self.socket
                .send(Message::text(message.to_string()))
                .await
                .map_err(|err| format!("the inspector went away ({err})"))?;
            while let Some(message) = self.socket.next().await {
                let message = message.map_err(|err| format!("the inspector went away ({err})"))?;
                let Message::Text(text) = message else {
                    continue;
                };
                let value: serde_json::Value = serde_json::from_str(text.as_str())
                    .map_err(|_| "the inspector sent something that is not JSON".to_string())?;
                if value["id"].as_u64() == Some(id) {
                    if let Some(error) = value.get("error") {
                        return Err(format!("{method}: {}", error["message"]));
                    }
                    return Ok(value["result"].clone());
                }
            }
            Err("the inspector closed the connection".to_string())
        };
        tokio::time::timeout(CALL_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("{method} got no answer in {} s", CALL_TIMEOUT.as_secs()))?
    }

    /// Loads the probe at `script` into the process with `env` (its socket, its interval)
    /// set while it starts; true when it started. When harness opened the inspector, the
    /// probe is told to close it, if still open, once harness's socket closes or breaks:
    /// [`Inspector::leave`] cannot run when harness is killed (a second Ctrl-C, SIGKILL).
    pub(crate) async fn install_probe(
        &mut self,
        script: &std::path::Path,
        env: &[(String, String)],
    ) -> Result<bool, String> {
        let mut env = env.to_vec();
        if self.opened {
            env.push(("HARNESS_PROBE_CLOSE_INSPECTOR".to_string(), "1".to_string()));
        }
        let script = serde_json::to_string(&script.display().to_string()).unwrap_or_default();
        let sets: String = env
            .iter()
            .filter(|(k, _)| k.starts_with("HARNESS_PROBE_"))
            .map(|(k, v)| {
                format!(
                    "process.env[{}] = {};",
                    serde_json::to_string(k).unwrap_or_default(),
                    serde_json::to_string(v).unwrap_or_default()
                )
            })
            .collect();
        let unsets: String = env
            .iter()
            .filter(|(k, _)| k.starts_with("HARNESS_PROBE_"))
            .map(|(k, _)| {
                format!(
                    "delete process.env[{}];",
                    serde_json::to_string(k).unwrap_or_default()
                )
            })
            .collect();
        let expression = format!(
            "(() => {{ const load = typeof process.getBuiltinModule === 'function' \
               ? process.getBuiltinModule('module').createRequire({script}) : require; \
               {sets} try {{ load({script}); }} finally {{ {unsets} }} \
               return process[Symbol.for('harness.probe.loaded')] === true; }})()"
        );
        Ok(self.evaluate(&expression).await?.as_bool() == Some(true))
    }

    /// Whether harness opened the inspector (and so closes it).
    pub(crate) fn opened(&self) -> bool {
        self.opened
    }

    /// Leaves the process as found: closes the inspector if harness opened it (after this
    /// session has gone: `inspector.close()` waits for its sessions), then disconnects.
    pub(crate) async fn leave(&mut self) -> Result<(), String> {
        if self.opened {
            self.opened = false;
            self.evaluate(
                "(() => { const inspector = typeof process.getBuiltinModule === 'function' \
                   ? process.getBuiltinModule('inspector') : require('inspector'); \
                   setTimeout(() => inspector.close(), 200); return true; })()",
            )
            .await?;
        }
        let _ = self.socket.close(None).await;
        Ok(())
    }
}
