//! The target while it is watched: started (or found with `--pid`), sampled, probed, idled
//! through the quiet phases, snapshotted, and stopped. The measured target and the heap
//! trace's second copy are both a [`Watched`].

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio::time::Instant;

use super::rest::{self, Reference};
use super::round3;
use super::signals::{Signals, TARGET_GROUP};
use super::Session;
use crate::plan::{Idle, LoadPlan, TargetSpec, TraceMode, WatchPlan};
use crate::result::{
    AllocationSite, IoProcess, Phase, PhaseName, ProcessSample, RunResult, Sampling, TargetInfo,
};
use crate::sample::{self, Tree};
use crate::target::probe::{self, ProbeServer};
use crate::target::{self, Endpoint, Target};

/// How long to wait for every Node process to answer a forced GC.
const FLOOR_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a heap snapshot: a snapshot stalls a process for about a second per
/// 10-20 MB of used heap here (a 64 MB heap, the default `--heap-limit`, about 6 s), so 30 s
/// plus 0.2 s per megabyte of the limit (43 s by default); past it the copy is taken to be
/// blocked, and the heap trace stops.
fn snapshot_timeout(heap_limit: u64) -> Duration {
    Duration::from_secs(30) + Duration::from_millis(heap_limit / 5_000)
}
/// Lines of the target's stderr shown when it fails.
const STDERR_LINES: usize = 10;

/// The target while it is watched.
pub(super) struct Watched {
    pub plan: WatchPlan,
    pub target: Option<Target>,
    probe: Option<ProbeServer>,
    samples: Arc<Mutex<Vec<ProcessSample>>>,
    sampler: Option<sample::Running>,
    pub info: TargetInfo,
    pub phases: Vec<Phase>,
    /// Heap snapshots taken, with the phase each ended.
    pub snapshots: Vec<(PhaseName, probe::Snapshot)>,
    /// Allocation sites of what was still alive after the cooldown, per Node process.
    pub allocations: Vec<(u32, Vec<AllocationSite>)>,
    /// The run's signals: every wait on the probe or the target ends when one arrives.
    signals: Signals,
    /// The start of the run's clock.
    origin: Instant,
    /// The target at rest at the end of the baseline, what the cooldown waits to return to.
    at_rest: Option<Reference>,
    /// Why the probe is no longer asked to do anything: no Node process answered its last
    /// request in time (a loop blocked for good). Waiting again would only add timeouts.
    silent: Option<String>,
    /// The inspector session of a Node process harness attached to (`--pid`), left as
    /// found when the target is let go.
    inspector: Option<crate::target::inspect::Inspector>,
}

/// Reads the watched target's latest samples while the load runs.
pub(super) struct LiveTarget {
    samples: Arc<Mutex<Vec<ProcessSample>>>,
    probe: Option<probe::Latest>,
}

/// The target now, as the live view shows it; `None` where nothing was sampled yet.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(super) struct TargetNow {
    /// Resident memory of the whole process tree, bytes.
    pub rss: Option<u64>,
    /// V8 heap used, summed over the Node processes, bytes.
    pub heap_used: Option<u64>,
    /// Event-loop delay p99 of the latest interval, the worst Node process's, ms.
    pub loop_delay: Option<f64>,
}

impl LiveTarget {
    /// The latest sample of each kind.
    pub(super) fn now(&self) -> TargetNow {
        let rss = self
            .samples
            .lock()
            .ok()
            .and_then(|s| s.last().map(|p| p.rss));
        let node: Vec<_> = self
            .probe
            .as_ref()
            .map(probe::Latest::samples)
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .collect();
        let any = !node.is_empty();
        TargetNow {
            rss,
            heap_used: any.then(|| node.iter().map(|n| n.heap_used).sum()),
            loop_delay: any.then(|| node.iter().map(|n| n.delay_p99).fold(0.0, f64::max)),
        }
    }
}

/// Why the target never served.
pub(super) enum NotStarted {
    /// A signal arrived while waiting.
    Interrupted,
    /// It could not start, exited first, or was not ready in time.
    Failed {
        /// One line.
        why: String,
        /// The last lines of its stderr.
        stderr_tail: Vec<String>,
    },
}

/// Where the load's target accepts connections.
pub(super) fn endpoint(load: &LoadPlan) -> Endpoint {
    match &load.target.socket_path {
        Some(path) => Endpoint::Unix(path.clone()),
        None => Endpoint::Tcp(load.target.addrs.clone()),
    }
}

/// Starts (or finds) the target and waits until it serves at `endpoint`; `echo` shows its
/// output on harness's stderr. `Ok(Err(_))` means it never served (nothing is printed).
pub(super) async fn start(
    ctx: &Session<'_>,
    watch: &WatchPlan,
    endpoint: Endpoint,
    echo: bool,
) -> anyhow::Result<Result<Watched, NotStarted>> {
    let (origin, signals) = (ctx.origin, &ctx.signals);
    let mut info = TargetInfo::default();
    let mut inspector = None;
    let (target, probe, tree) = match &watch.target {
        TargetSpec::Pid(pid) => {
            info.pid = *pid;
            let tree = Tree {
                root: *pid,
                group: None,
            };
            // An open inspector the user names is trusted (a Node single-executable app has
            // its own name); otherwise only a process whose executable is node is signalled.
            let node = watch.inspect.is_some() || crate::target::inspect::is_node(*pid);
            let probe = if watch.probe && node {
                let (probe, session) = attach(*pid, watch, origin, &mut info).await?;
                inspector = Some(session);
                Some(probe)
            } else {
                if watch.probe {
                    eprintln!(
                        "warning: --pid {pid} runs {}, not node: RSS and CPU only (if it is Node, open its inspector and give --inspect HOST:PORT)",
                        crate::target::inspect::executable(*pid)
                            .unwrap_or_else(|| "an executable harness cannot read".to_string())
                    );
                }
                None
            };
            (None, probe, tree)
        }
        TargetSpec::Command(argv) => {
            let probe = if watch.probe {
                Some(ProbeServer::start(origin, watch.sample_interval)?)
            } else {
                None
            };
            let mut env = watch.env.clone();
            env.extend(probe.iter().flat_map(ProbeServer::env));
            let launch = Launch {
                argv,
                env: &env,
                probe_dir: probe.as_ref().map(ProbeServer::dir),
            };
            let started = spawn(watch, launch, &endpoint, echo, signals, &mut info).await;
            let target = match started {
                Ok(target) => target,
                Err(not_started) => return Ok(Err(not_started)),
            };
            let tree = Tree {
                root: target.pid,
                group: Some(target.pid),
            };
            (Some(target), probe, tree)
        }
    };
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampler = sample::spawn(
        sample::system_sampler(tree),
        origin,
        watch.sample_interval,
        samples.clone(),
    )
    .context("could not start the sampler thread")?;
    Ok(Ok(Watched {
        plan: watch.clone(),
        target,
        probe,
        samples,
        sampler: Some(sampler),
        info,
        phases: Vec::new(),
        snapshots: Vec::new(),
        allocations: Vec::new(),
        signals: signals.clone(),
        origin,
        at_rest: None,
        silent: None,
        inspector,
    }))
}

/// Attaches to the Node process `pid` through its inspector and loads the probe into it;
/// waits until the probe reports. A refusal (no inspector, Node too old) is a usage error
/// in one line.
async fn attach(
    pid: u32,
    watch: &WatchPlan,
    origin: Instant,
    info: &mut TargetInfo,
) -> anyhow::Result<(ProbeServer, crate::target::inspect::Inspector)> {
    let probe = ProbeServer::start(origin, watch.sample_interval)?;
    let mut session = crate::target::inspect::attach(pid, watch.inspect)
        .await
        .map_err(crate::plan::UsageError)?;
    let loaded = match session
        .install_probe(&probe.dir().join("probe.cjs"), &probe.env())
        .await
    {
        Ok(loaded) => loaded,
        Err(why) => {
            let _ = session.leave().await;
            return Err(crate::plan::UsageError(format!(
                "--pid {pid}: the probe could not be loaded ({why})"
            ))
            .into());
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while loaded && probe.connected() == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reporting = loaded && probe.connected() > 0;
    if !reporting {
        eprintln!(
            "warning: --pid {pid}: the probe did not report from the process; RSS and CPU only"
        );
    }
    info.attached = Some(crate::result::Attached {
        inspector: session.address.to_string(),
        opened: session.opened(),
        node: session.node.clone(),
        probe: reporting,
    });
    Ok((probe, session))
}

/// What to start: the command, the environment it gets, and the probe's folder.
struct Launch<'a> {
    argv: &'a [String],
    env: &'a [(String, String)],
    probe_dir: Option<&'a std::path::Path>,
}

/// Starts the command and waits until it serves at `endpoint`, noting in `info` what
/// happened; a target that never serves is stopped again. Its watchdog removes `probe_dir`
/// if harness dies without doing so.
async fn spawn(
    watch: &WatchPlan,
    launch: Launch<'_>,
    endpoint: &Endpoint,
    echo: bool,
    signals: &Signals,
    info: &mut TargetInfo,
) -> Result<Target, NotStarted> {
    let Launch {
        argv,
        env,
        probe_dir,
    } = launch;
    let mut target =
        Target::spawn(argv, env, watch.cwd.as_deref(), echo).map_err(|err| NotStarted::Failed {
            why: format!("{err:#}"),
            stderr_tail: Vec::new(),
        })?;
    if let Some(dir) = probe_dir {
        target.remove_if_abandoned(dir);
    }
    TARGET_GROUP.store(target.pid as i32, Ordering::Relaxed);
    info.command = crate::redact::args(argv);
    info.pid = target.pid;
    info.started = true;
    let ready = tokio::select! {
        ready = target.wait_ready(endpoint, watch.ready_timeout) => ready,
        // Dropping the target kills its group at once.
        () = signals.wait() => return Err(NotStarted::Interrupted),
    };
    match ready {
        Ok(after) => {
            info.ready_after = Some(round3(after.as_secs_f64()));
            Ok(target)
        }
        Err(err) => {
            // Give the output readers a moment to catch the last lines.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let stderr_tail = target.output.stderr_tail(STDERR_LINES);
            warn_survivors(&target.stop(watch.grace, || false).await.survivors);
            TARGET_GROUP.store(0, Ordering::Relaxed);
            Err(NotStarted::Failed {
                why: err.to_string(),
                stderr_tail,
            })
        }
    }
}

/// Resolves once the target is at rest (at least [`Idle::MIN`] after the call): idle for a
/// few samples, every Node process reported, and, with a `reference`, back to it.
async fn until_rest(
    samples: &Mutex<Vec<ProcessSample>>,
    probe: Option<&ProbeServer>,
    reference: Option<&Reference>,
    since: f64,
    interval: Duration,
) {
    tokio::time::sleep(Idle::MIN).await;
    let poll = (interval / 2).clamp(Duration::from_millis(20), Duration::from_millis(250));
    loop {
        let node = probe.map(ProbeServer::latest_samples).unwrap_or_default();
        let rested = samples.lock().is_ok_and(|points| {
            rest::quiet(&points, since)
                && rest::reported(&node)
                && reference.is_none_or(|r| rest::back(r, &points, &node, since))
        });
        if rested {
            return;
        }
        tokio::time::sleep(poll).await;
    }
}

/// Names the target's processes that outlived SIGKILL.
fn warn_survivors(pids: &[u32]) {
    if !pids.is_empty() {
        let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
        eprintln!(
            "warning: process {} of the target still runs after SIGKILL (stuck in the kernel, or owned by another user); stop it by hand",
            pids.join(", ")
        );
    }
}

impl Watched {
    /// Idles as phase `name` for `length`: a fixed time, or until the target is at rest
    /// (see [`rest`]); a signal or the target's exit cuts it short. The end of the baseline
    /// is what later idle phases wait to return to.
    pub(super) async fn idle(&mut self, name: PhaseName, length: Idle) {
        let (origin, signals) = (self.origin, self.signals.clone());
        let start = origin.elapsed().as_secs_f64();
        if !length.max().is_zero() && !signals.received() && self.alive() {
            let target = self.target.as_mut();
            let exited = async {
                match target {
                    Some(target) => {
                        target.exited().await;
                    }
                    None => std::future::pending().await,
                }
            };
            let resting = async {
                match length {
                    Idle::UntilRest(_) => {
                        let reference = (name != PhaseName::Baseline)
                            .then_some(self.at_rest.as_ref())
                            .flatten();
                        let probe = self.probe.as_ref();
                        until_rest(
                            &self.samples,
                            probe,
                            reference,
                            start,
                            self.plan.sample_interval,
                        )
                        .await;
                    }
                    Idle::Fixed(_) => std::future::pending().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep(length.max()) => {}
                () = resting => {}
                () = signals.wait() => {}
                () = exited => {}
            }
        }
        if name == PhaseName::Baseline {
            let points = self.samples.lock().map(|s| s.clone()).unwrap_or_default();
            let node = self
                .probe
                .as_ref()
                .map(ProbeServer::latest_samples)
                .unwrap_or_default();
            self.at_rest = Some(Reference::at(&points, &node));
        }
        self.phases.push(Phase::new(
            name,
            round3(start),
            round3(origin.elapsed().as_secs_f64()),
        ));
    }

    /// Forces a GC in every Node process and records the heap after it.
    pub(super) async fn floor(&mut self, phase: PhaseName) {
        let Some(probe) = &mut self.probe else {
            return;
        };
        let connected = probe.connected();
        if connected == 0 || self.signals.received() || self.silent.is_some() {
            return;
        }
        let missing = tokio::select! {
            missing = probe.floor(phase, FLOOR_TIMEOUT) => missing,
            () = self.signals.wait() => 0,
        };
        if missing > 0 {
            eprintln!(
                "warning: {missing} Node process(es) did not answer the forced GC at the end of the {} within {} s (a blocked event loop?); their heap floor is missing",
                phase.as_str(),
                FLOOR_TIMEOUT.as_secs()
            );
        }
        if missing >= connected {
            self.silent = Some(format!(
                "no Node process answered the probe at the end of the {} within {} s (is its event loop blocked?)",
                phase.as_str(),
                FLOOR_TIMEOUT.as_secs()
            ));
        }
    }

    /// Why the probe is no longer asked anything, if no process answered its last request.
    pub(super) fn silent(&self) -> Option<&str> {
        self.silent.as_deref()
    }

    /// How many Node processes have connected to the probe.
    pub(super) fn node_processes(&self) -> usize {
        self.probe.as_ref().map_or(0, ProbeServer::connected)
    }

    /// Waits up to `timeout` for a Node process to connect to the probe (it does so when Node
    /// starts, before the app's code runs, so this is quick once the target serves).
    pub(super) async fn wait_for_node(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.node_processes() == 0 {
            if Instant::now() >= deadline || self.probe.is_none() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// Whether the target is still running (always true for `--pid`, which is not ours).
    pub(super) fn alive(&mut self) -> bool {
        self.target
            .as_mut()
            .is_none_or(|t| t.try_status().is_none())
    }

    /// Stops the target (if harness started it) and notes how it ended.
    pub(super) async fn stop(&mut self) {
        self.sampler = None;
        if let Some(mut inspector) = self.inspector.take() {
            if let Err(why) = inspector.leave().await {
                eprintln!("warning: could not close the process's inspector: {why}");
            }
        }
        let Some(target) = &mut self.target else {
            return;
        };
        let crashed = target.try_status();
        // A signal that arrives while stopping skips the rest of the grace: SIGKILL now.
        let (signals, before) = (&self.signals, self.signals.count());
        let stopped = target
            .stop(self.plan.grace, || signals.count() > before)
            .await;
        self.info.stop_signals = stopped.signals;
        self.info.left_group = stopped.left_group;
        warn_survivors(&stopped.survivors);
        if let Some(status) = stopped.status {
            use std::os::unix::process::ExitStatusExt;
            self.info.exit = Some(target::describe(status));
            self.info.exit_code = status.code();
            self.info.exit_signal = status.signal();
        }
        if let (Some(status), None) = (crashed, &self.info.failure) {
            self.info.failure = Some(format!(
                "the target exited before harness stopped it ({})",
                target::describe(status)
            ));
        }
        TARGET_GROUP.store(0, Ordering::Relaxed);
        // Let the output readers drain what the target wrote while stopping.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.info.stdout_tail = target.output.stdout();
        self.info.stderr_tail = target.output.stderr();
    }

    /// Takes a heap snapshot of every Node process, unless heap snapshots are off.
    pub(super) async fn snapshot(&mut self, phase: PhaseName) {
        if self.plan.heap == TraceMode::Off {
            return;
        }
        let Some(probe) = &mut self.probe else {
            return;
        };
        if probe.connected() == 0 || self.signals.received() {
            return;
        }
        let taken = tokio::select! {
            taken = probe.snapshot(phase.as_str(), self.plan.heap_limit, snapshot_timeout(self.plan.heap_limit)) => taken,
            () = self.signals.wait() => Vec::new(),
        };
        for snapshot in &taken {
            if let Some(why) = snapshot
                .skipped
                .as_ref()
                .filter(|w| w.starts_with("no answer"))
            {
                eprintln!(
                    "warning: no heap snapshot of pid {} at the end of its {}: {why}",
                    snapshot.pid,
                    phase.as_str()
                );
            }
        }
        self.snapshots.extend(taken.into_iter().map(|s| (phase, s)));
    }

    /// Starts the sampling heap profiler in every Node process. It slows every allocation
    /// while it runs (about 2.5 % of a busy server's CPU, bench/probe-cpu.sh), so it runs
    /// during the heap trace only.
    pub(super) async fn start_sampling(&mut self) {
        if let Some(probe) = &mut self.probe {
            probe.start_sampling(false).await;
        }
    }

    /// Starts the CPU profiler in every Node process, one sample every `interval`; with
    /// `garbage`, also the sampling heap profiler, keeping what the collector frees.
    pub(super) async fn start_profile(&mut self, interval: Duration, garbage: bool) {
        if let Some(probe) = &mut self.probe {
            probe.start_profile(interval).await;
            if garbage {
                probe.start_sampling(true).await;
            }
        }
    }

    /// Stops the CPU profilers (and with `garbage` the sampling heap profilers): the profile
    /// files written, and where each process allocated.
    pub(super) async fn stop_profile(
        &mut self,
        timeout: Duration,
        garbage: bool,
    ) -> (Vec<probe::CpuProfileFile>, Vec<(u32, Vec<AllocationSite>)>) {
        let Some(probe) = &mut self.probe else {
            return (Vec::new(), Vec::new());
        };
        let files = tokio::select! {
            files = probe.stop_profile(timeout) => files,
            () = self.signals.wait() => return (Vec::new(), Vec::new()),
        };
        let sites = if garbage {
            tokio::select! {
                sites = probe.allocations(FLOOR_TIMEOUT) => sites,
                () = self.signals.wait() => Vec::new(),
            }
        } else {
            Vec::new()
        };
        (files, sites)
    }

    /// Starts the I/O trace in every Node process: requests carrying `header` are traced.
    pub(super) async fn start_io_trace(&mut self, header: &str) {
        if let Some(probe) = &mut self.probe {
            probe.start_io_trace(header).await;
        }
    }

    /// Stops the I/O traces and returns each process's report (a signal ends the wait).
    pub(super) async fn stop_io_trace(&mut self, timeout: Duration) -> Vec<IoProcess> {
        let Some(probe) = &mut self.probe else {
            return Vec::new();
        };
        tokio::select! {
            reports = probe.stop_io_trace(timeout) => reports,
            () = self.signals.wait() => Vec::new(),
        }
    }

    /// Reads the sampling heap profilers: where the objects still alive were allocated.
    pub(super) async fn read_allocations(&mut self) {
        if let Some(probe) = &mut self.probe {
            if probe.connected() > 0 {
                self.allocations = tokio::select! {
                    sites = probe.allocations(FLOOR_TIMEOUT) => sites,
                    () = self.signals.wait() => Vec::new(),
                };
            }
        }
    }

    /// A handle on the latest samples, for the live view under the progress bar.
    pub(super) fn live(&self) -> LiveTarget {
        LiveTarget {
            samples: self.samples.clone(),
            probe: self.probe.as_ref().map(ProbeServer::latest),
        }
    }

    /// The machine's mean CPU, percent of all cores, over the samples after `start` up to
    /// `end` (seconds on the run's clock). `None` without samples.
    pub(super) fn machine_cpu_between(&self, start: f64, end: f64) -> Option<f64> {
        let samples = self.samples.lock().ok()?;
        let during: Vec<f64> = samples
            .iter()
            .filter(|p| p.t > start && p.t <= end)
            .map(|p| p.system_cpu)
            .collect();
        (!during.is_empty()).then(|| during.iter().sum::<f64>() / during.len() as f64)
    }

    /// The highest resident memory of the target's process tree sampled so far, bytes.
    pub(super) fn peak_rss(&self) -> Option<u64> {
        self.samples
            .lock()
            .ok()
            .and_then(|s| s.iter().map(|p| p.rss).max())
    }

    /// Copies what has been watched so far into `result`; again later, it copies what was
    /// watched since as well.
    pub(super) fn fill(&self, result: &mut RunResult) {
        // The load's own phases come from the load; every other one is watched here.
        result
            .phases
            .retain(|p| matches!(p.name, PhaseName::Load | PhaseName::Warmup));
        result.phases.extend(self.phases.iter().cloned());
        result.phases.sort_by(|a, b| a.start.total_cmp(&b.start));
        result.process = Some(Sampling {
            interval: self.plan.sample_interval.as_secs_f64(),
            points: self.samples.lock().map(|s| s.clone()).unwrap_or_default(),
        });
        result.node = self
            .probe
            .as_ref()
            .map(ProbeServer::report)
            .unwrap_or_default();
        result.target = Some(self.info.clone());
    }
}
