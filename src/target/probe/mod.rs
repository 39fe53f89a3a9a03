//! The Node probe's harness side. The probe script (`probe.cjs`, shipped inside the binary) is
//! written to a private directory (mode 0700) and injected with
//! `NODE_OPTIONS=--require ...`; each Node process it lands in connects to a Unix socket in
//! that directory and speaks newline-delimited JSON: `hello`, `sample` and `warning` messages
//! arrive; `gc` requests go out and come back as `floor` messages; heap snapshots, the
//! sampling heap profiler and the CPU profiler are asked for the same way. Everything is timestamped
//! on harness's clock when it arrives, so it lines up with the load's time series.

use std::collections::BTreeMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::UnixListener;
use tokio::time::Instant;

mod message;

use message::Message;

use crate::result::{AllocationSite, IoProcess, NodeProcess, PhaseName};

/// The probe script, injected into every Node process of the target.
const SCRIPT: &str = include_str!("probe.cjs");
/// The I/O trace, written beside it and loaded by the probe only when a trace starts.
const IO_TRACE: &str = include_str!("iotrace.cjs");
/// Longest line accepted from a probe (a warning's stack can be long, a sample is small).
const MAX_MESSAGE: usize = 1 << 20;

/// The listening side of the probe protocol and everything the probes have said.
pub(crate) struct ProbeServer {
    dir: PathBuf,
    socket: PathBuf,
    script: PathBuf,
    interval: Duration,
    state: Arc<Mutex<State>>,
    next_id: u64,
}

/// Reads each Node process's latest sample; see [`ProbeServer::latest`].
#[derive(Clone)]
pub(crate) struct Latest(Arc<Mutex<State>>);

impl Latest {
    /// The latest sample of each Node process that connected (`None` before its first).
    pub(crate) fn samples(&self) -> Vec<Option<crate::result::NodeSample>> {
        self.0
            .lock()
            .map(|s| {
                s.processes
                    .values()
                    .map(|p| p.samples.last().cloned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    processes: BTreeMap<u32, NodeProcess>,
    writers: Vec<(u32, OwnedWriteHalf)>,
    floors_answered: BTreeMap<u64, usize>,
    floor_phases: BTreeMap<u64, PhaseName>,
    snapshots: BTreeMap<u64, Vec<Snapshot>>,
    allocations: BTreeMap<u64, Vec<(u32, Vec<AllocationSite>)>>,
    profiles: BTreeMap<u64, Vec<CpuProfileFile>>,
    io_traces: BTreeMap<u64, Vec<IoProcess>>,
}

/// A CPU profile a probe was asked for.
#[derive(Debug, Clone)]
pub(crate) struct CpuProfileFile {
    /// The Node process.
    pub pid: u32,
    /// Where it was written (in the probe's private directory).
    pub path: PathBuf,
    /// Why there is none.
    pub error: Option<String>,
}

/// A heap snapshot a probe was asked for.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    /// The Node process.
    pub pid: u32,
    /// Where it was written (in the probe's private directory).
    pub path: PathBuf,
    /// How long the process was stalled writing it, ms.
    pub ms: f64,
    /// Used heap when it was asked for, bytes.
    pub heap_used: u64,
    /// Why there is none: over the size limit, or writing failed.
    pub skipped: Option<String>,
}

impl ProbeServer {
    /// Creates the private directory, writes the script and listens on the socket.
    /// `origin` is the run's clock; samples are asked for every `interval`.
    pub(crate) fn start(origin: Instant, interval: Duration) -> anyhow::Result<ProbeServer> {
        let dir = std::env::temp_dir().join(format!("harness-{}-{}", std::process::id(), nonce()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("could not create the probe directory '{}'", dir.display()))?;
        let script = dir.join("probe.cjs");
        std::fs::write(&script, SCRIPT)
            .with_context(|| format!("could not write the probe to '{}'", script.display()))?;
        let io_trace = dir.join("iotrace.cjs");
        std::fs::write(&io_trace, IO_TRACE)
            .with_context(|| format!("could not write the probe to '{}'", io_trace.display()))?;
        let socket = dir.join("probe.sock");
        let listener = UnixListener::bind(&socket)
            .with_context(|| format!("could not listen on '{}'", socket.display()))?;
        let state = Arc::new(Mutex::new(State::default()));
        tokio::spawn(accept(listener, state.clone(), origin));
        Ok(ProbeServer {
            dir,
            socket,
            script,
            interval,
            state,
            next_id: 0,
        })
    }

    /// The environment that injects the probe, added to `NODE_OPTIONS` the user already set.
    pub(crate) fn env(&self) -> Vec<(String, String)> {
        let require = format!("--require \"{}\"", self.script.display());
        let node_options = match std::env::var("NODE_OPTIONS") {
            Ok(existing) if !existing.trim().is_empty() => format!("{existing} {require}"),
            _ => require,
        };
        vec![
            ("NODE_OPTIONS".to_string(), node_options),
            (
                "HARNESS_PROBE_SOCKET".to_string(),
                self.socket.display().to_string(),
            ),
            (
                "HARNESS_PROBE_INTERVAL".to_string(),
                self.interval.as_millis().max(10).to_string(),
            ),
        ]
    }

    /// How many Node processes have connected.
    pub(crate) fn connected(&self) -> usize {
        self.state.lock().map(|s| s.processes.len()).unwrap_or(0)
    }

    /// Asks every connected process for a full GC and waits (up to `timeout`) for each to
    /// answer with its heap after it; the floors are recorded under `phase`.
    /// Returns how many of the processes asked did not answer in time.
    pub(crate) async fn floor(&mut self, phase: PhaseName, timeout: Duration) -> usize {
        self.next_id += 1;
        let id = self.next_id;
        if let Ok(mut state) = self.state.lock() {
            state.floors_answered.insert(id, 0);
            state.floor_phases.insert(id, phase);
        }
        let asked = self
            .broadcast(|_| format!("{{\"type\":\"gc\",\"id\":{id}}}\n"))
            .await
            .len();
        self.wait(timeout, |s| {
            s.floors_answered.get(&id).copied().unwrap_or(0) >= asked
        })
        .await;
        let answered = self
            .state
            .lock()
            .map_or(0, |s| s.floors_answered.get(&id).copied().unwrap_or(0));
        asked.saturating_sub(answered)
    }

    /// Writes a message (built for each process's pid) to every connected probe; returns
    /// the pids it was written to.
    async fn broadcast(&mut self, message: impl Fn(u32) -> String) -> Vec<u32> {
        let mut writers = match self.state.lock() {
            Ok(mut state) => std::mem::take(&mut state.writers),
            Err(_) => return Vec::new(),
        };
        let mut asked = Vec::new();
        for (pid, writer) in &mut writers {
            if writer.write_all(message(*pid).as_bytes()).await.is_ok() {
                asked.push(*pid);
            }
        }
        if let Ok(mut state) = self.state.lock() {
            writers.append(&mut state.writers);
            state.writers = writers;
        }
        asked
    }

    /// Polls until `done` holds or `timeout` passes.
    async fn wait(&self, timeout: Duration, done: impl Fn(&State) -> bool) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.state.lock().map_or(true, |s| done(&s)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Asks every connected process for a heap snapshot (skipped above `max_heap` bytes of
    /// used heap) and waits up to `timeout` for the answers.
    pub(crate) async fn snapshot(
        &mut self,
        phase: &str,
        max_heap: u64,
        timeout: Duration,
    ) -> Vec<Snapshot> {
        self.next_id += 1;
        let id = self.next_id;
        if let Ok(mut state) = self.state.lock() {
            state.snapshots.insert(id, Vec::new());
        }
        let dir = self.dir.clone();
        let path = move |pid: u32| dir.join(format!("heap-{pid}-{phase}.heapsnapshot"));
        let asked = self
            .broadcast(|pid| {
                let request = serde_json::json!({
                    "type": "snapshot", "id": id, "path": path(pid), "maxHeap": max_heap,
                });
                format!("{request}\n")
            })
            .await;
        self.wait(timeout, |s| {
            s.snapshots.get(&id).map_or(0, Vec::len) >= asked.len()
        })
        .await;
        let mut taken = self
            .state
            .lock()
            .ok()
            .and_then(|mut s| s.snapshots.remove(&id))
            .unwrap_or_default();
        for snapshot in &mut taken {
            snapshot.path = path(snapshot.pid);
        }
        // A process that never answered is a snapshot skipped, and says why.
        for pid in asked {
            if !taken.iter().any(|s| s.pid == pid) {
                taken.push(Snapshot {
                    pid,
                    path: path(pid),
                    ms: 0.0,
                    heap_used: 0,
                    skipped: Some(format!(
                        "no answer within {} s (is its event loop blocked?)",
                        timeout.as_secs()
                    )),
                });
            }
        }
        taken
    }

    /// Starts the sampling heap profiler in every connected process; with `garbage`, what
    /// the collector frees stays in its profile (where the garbage is allocated).
    pub(crate) async fn start_sampling(&mut self, garbage: bool) {
        self.broadcast(|_| {
            format!("{{\"type\":\"sampling\",\"action\":\"start\",\"garbage\":{garbage}}}\n")
        })
        .await;
    }

    /// Starts the CPU profiler in every connected process, one sample every `interval`.
    pub(crate) async fn start_profile(&mut self, interval: Duration) {
        let us = interval.as_micros().max(1);
        self.broadcast(|_| {
            format!("{{\"type\":\"profile\",\"action\":\"start\",\"interval\":{us}}}\n")
        })
        .await;
    }

    /// Stops the CPU profilers; each process writes its profile into the probe's directory.
    pub(crate) async fn stop_profile(&mut self, timeout: Duration) -> Vec<CpuProfileFile> {
        self.next_id += 1;
        let id = self.next_id;
        if let Ok(mut state) = self.state.lock() {
            state.profiles.insert(id, Vec::new());
        }
        let dir = self.dir.clone();
        let path = move |pid: u32| dir.join(format!("cpu-{pid}.cpuprofile"));
        let asked = self
            .broadcast(|pid| {
                let request = serde_json::json!({
                    "type": "profile", "action": "stop", "id": id, "path": path(pid),
                });
                format!("{request}\n")
            })
            .await;
        self.wait(timeout, |s| {
            s.profiles.get(&id).map_or(0, Vec::len) >= asked.len()
        })
        .await;
        let mut written = self
            .state
            .lock()
            .ok()
            .and_then(|mut s| s.profiles.remove(&id))
            .unwrap_or_default();
        for profile in &mut written {
            profile.path = path(profile.pid);
        }
        written
    }

    /// Starts the I/O trace in every Node process: requests carrying `header` are traced.
    pub(crate) async fn start_io_trace(&mut self, header: &str) {
        let request = serde_json::json!({"type": "iotrace", "action": "start", "header": header});
        self.broadcast(|_| format!("{request}\n")).await;
    }

    /// Stops the I/O traces and collects each process's report; a process that did not
    /// answer within `timeout` has a report that says so.
    pub(crate) async fn stop_io_trace(&mut self, timeout: Duration) -> Vec<IoProcess> {
        self.next_id += 1;
        let id = self.next_id;
        if let Ok(mut state) = self.state.lock() {
            state.io_traces.insert(id, Vec::new());
        }
        let asked = self
            .broadcast(|_| format!("{{\"type\":\"iotrace\",\"action\":\"stop\",\"id\":{id}}}\n"))
            .await;
        self.wait(timeout, |s| {
            s.io_traces.get(&id).map_or(0, Vec::len) >= asked.len()
        })
        .await;
        let mut reports = self
            .state
            .lock()
            .ok()
            .and_then(|mut s| s.io_traces.remove(&id))
            .unwrap_or_default();
        for pid in asked {
            if !reports.iter().any(|r| r.pid == pid) {
                reports.push(IoProcess {
                    pid,
                    error: Some(format!(
                        "no answer within {} s (is its event loop blocked?)",
                        timeout.as_secs()
                    )),
                    ..IoProcess::default()
                });
            }
        }
        reports
    }

    /// Reads and stops the sampling heap profilers: where the objects still alive were
    /// allocated, per process.
    pub(crate) async fn allocations(
        &mut self,
        timeout: Duration,
    ) -> Vec<(u32, Vec<AllocationSite>)> {
        self.next_id += 1;
        let id = self.next_id;
        if let Ok(mut state) = self.state.lock() {
            state.allocations.insert(id, Vec::new());
        }
        let asked = self
            .broadcast(|_| format!("{{\"type\":\"sampling\",\"action\":\"stop\",\"id\":{id}}}\n"))
            .await;
        self.wait(timeout, |s| {
            s.allocations.get(&id).map_or(0, Vec::len) >= asked.len()
        })
        .await;
        self.state
            .lock()
            .ok()
            .and_then(|mut s| s.allocations.remove(&id))
            .unwrap_or_default()
    }

    /// The last sample of each connected Node process (`None` before its first).
    pub(crate) fn latest_samples(&self) -> Vec<Option<crate::result::NodeSample>> {
        self.latest().samples()
    }

    /// A handle that reads the latest samples from elsewhere (the live view).
    pub(crate) fn latest(&self) -> Latest {
        Latest(self.state.clone())
    }

    /// Everything the probes reported, one entry per Node process.
    pub(crate) fn report(&self) -> Vec<NodeProcess> {
        self.state
            .lock()
            .map(|s| s.processes.values().cloned().collect())
            .unwrap_or_default()
    }
}

impl ProbeServer {
    /// Its private folder (the socket, the script, snapshots and profiles).
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for ProbeServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn accept(listener: UnixListener, state: Arc<Mutex<State>>, origin: Instant) {
    while let Ok((stream, _)) = listener.accept().await {
        let (read, write) = stream.into_split();
        let state = state.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(read);
            let mut writer = Some(write);
            let mut pid = None;
            let mut line = String::new();
            loop {
                line.clear();
                match (&mut lines)
                    .take(MAX_MESSAGE as u64)
                    .read_line(&mut line)
                    .await
                {
                    Ok(0) | Err(_) => {
                        // The process is gone: no floor request should wait for it.
                        if let (Some(pid), Ok(mut state)) = (pid, state.lock()) {
                            state.writers.retain(|(p, _)| *p != pid);
                        }
                        return;
                    }
                    Ok(_) => {}
                }
                let Ok(message) = serde_json::from_str::<Message>(line.trim_end()) else {
                    continue;
                };
                let t = (origin.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
                let Ok(mut state) = state.lock() else { return };
                if let Message::Hello(hello) = &message {
                    if let Some(write) = writer.take() {
                        state.writers.push((hello.pid, write));
                        pid = Some(hello.pid);
                    }
                }
                message.record(&mut state, t);
            }
        });
    }
}

/// A value that makes the directory name hard to guess.
fn nonce() -> u64 {
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    time ^ (u64::from(std::process::id()) << 32)
}
