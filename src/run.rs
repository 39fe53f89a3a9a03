//! One run from plan to output: start and watch the target (if any), idle through the
//! baseline, drive the load, idle through the cooldown, run the heap trace if it is wanted,
//! stop the target, build the result and print it. Returns the exit code. Every phase can be
//! cut short by Ctrl-C (or SIGTERM) or by the target dying; what ran is still reported.

use std::io::{IsTerminal, Write};
use std::pin::pin;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::time::Instant;

use crate::exit;
use crate::load::{self, LoadOutcome, StopReason};
use crate::plan::{HeapMode, LoadPlan, Plan, Stop, TargetSpec, WatchPlan};
use crate::report::progress::Progress;
use crate::report::result::{
    AllocationSite, HeapProcess, HeapSnapshotInfo, HeapTrace, Phase, ProcessSample, RunResult,
    Sampling, TargetInfo,
};
use crate::report::{self, terminal};
use crate::sample::{self, Tree};
use crate::target::probe::{self, ProbeServer};
use crate::target::{self, Endpoint, Target};

/// How long to wait for every Node process to answer a forced GC.
const FLOOR_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a heap snapshot (a 64 MB heap takes about 6 s here).
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest heap trace load.
const TRACE_MAX: Duration = Duration::from_secs(10);
/// Lines of the target's stderr shown when it fails.
const STDERR_LINES: usize = 10;

/// The target's process group, for the last-resort kill on a second Ctrl-C.
static TARGET_GROUP: AtomicI32 = AtomicI32::new(0);

/// How a run ended: its exit code and, unless the target failed before the load, its result.
pub struct Finished {
    /// The process exit code for this run alone.
    pub code: u8,
    /// The result, as printed and saved.
    pub result: Option<RunResult>,
}

/// Runs the plan, prints its result and writes its files.
pub fn run(plan: Plan) -> anyhow::Result<Finished> {
    let prepared = load::prepare(&plan.load)?;
    if let Some(dir) = &plan.output.report_dir {
        crate::report::files::prepare(dir)
            .map_err(|err| crate::plan::UsageError(format!("{err:#}")))?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the control runtime")?;
    runtime.block_on(session(plan, prepared))
}

/// Ctrl-C and SIGTERM, as one stream.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
    received: bool,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("could not handle SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("could not handle SIGTERM")?,
            received: false,
        })
    }

    /// Resolves at the next signal. After the first, a second one kills the target's group
    /// and leaves at once.
    async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        if self.received {
            let group = TARGET_GROUP.load(Ordering::Relaxed);
            if group > 0 {
                // SAFETY: kills the group harness created.
                unsafe { libc::killpg(group, libc::SIGKILL) };
            }
            std::process::exit(i32::from(exit::INTERRUPTED));
        }
        self.received = true;
    }
}

/// The target while it is watched.
struct Watched {
    plan: WatchPlan,
    target: Option<Target>,
    probe: Option<ProbeServer>,
    samples: Arc<Mutex<Vec<ProcessSample>>>,
    sampler: Option<sample::Running>,
    info: TargetInfo,
    phases: Vec<Phase>,
    /// Heap snapshots taken, with the phase each ended.
    snapshots: Vec<(String, probe::Snapshot)>,
    /// Allocation sites of what was still alive after the cooldown, per Node process.
    allocations: Vec<(u32, Vec<AllocationSite>)>,
}

async fn session(plan: Plan, prepared: load::Prepared) -> anyhow::Result<Finished> {
    let origin = Instant::now();
    let mut signals = Signals::new()?;
    let echo = !plan.output.json && std::io::stderr().is_terminal();
    let mut watched = match &plan.watch {
        Some(watch) => match start_target(watch, &plan, origin, echo, &mut signals).await? {
            Ok(watched) => Some(watched),
            Err(code) => {
                if let Some(path) = &plan.output.junit {
                    let name = plan.scenario.as_deref().unwrap_or("harness");
                    let why = "the target failed before the load (see its stderr)";
                    let xml = report::junit::render(&[report::junit::Suite::failed(
                        name,
                        &plan.thresholds,
                        why,
                    )]);
                    crate::report::files::write_whole(path, xml.as_bytes())?;
                }
                return Ok(Finished { code, result: None });
            }
        },
        None => None,
    };
    if std::env::var_os("HARNESS_FAULT").is_some_and(|fault| fault == "panic-after-ready") {
        // Fault injection for the tests: the target must not outlive a panicking harness.
        panic!("HARNESS_FAULT=panic-after-ready");
    }
    if !plan.output.json {
        print!("{}", header(&plan));
    }
    if let Some(watched) = &mut watched {
        let baseline = watched.plan.baseline;
        watched
            .idle("baseline", baseline, origin, &mut signals)
            .await;
        watched.floor("baseline").await;
    }
    let load = LoadRun {
        plan: &plan.load,
        progress: plan.output.progress,
        during: "the load",
    };
    let outcome = drive_load(load, prepared, watched.as_mut(), &mut signals).await?;
    let mut heap_trace = None;
    if let Some(watched) = &mut watched {
        if !signals.received && watched.alive() {
            watched.floor("load").await;
            let cooldown = watched.plan.cooldown;
            watched
                .idle("cooldown", cooldown, origin, &mut signals)
                .await;
            watched.floor("cooldown").await;
            let reason = watched.trace_reason(&plan, &outcome, origin);
            if let (Some(reason), false) = (reason, signals.received) {
                heap_trace = watched
                    .heap_trace(&plan, &outcome, reason, origin, &mut signals)
                    .await;
            }
        }
        watched.stop().await;
    }
    let mut result = RunResult::new(&plan, &outcome, origin);
    let mut snapshots = Vec::new();
    // The probe's directory holds the snapshots: it stays until they are analysed.
    let mut allocations = Vec::new();
    let _probe = watched.map(|watched| {
        snapshots = watched.snapshots.clone();
        allocations = watched.allocations.clone();
        let mode = watched.plan.heap;
        (watched.into_result(&mut result), mode)
    });
    result.analyse();
    result.heap_trace = heap_trace;
    if let Some((_, mode)) = &_probe {
        result.heap = heap_analysis(*mode, &snapshots, &result);
        for process in &mut result.heap {
            if process.analysis.is_some() {
                if let Some((_, sites)) = allocations.iter().find(|(pid, _)| *pid == process.pid) {
                    process.allocations = sites.clone();
                }
            }
        }
    }
    result.scenario = plan.scenario.clone();
    result.thresholds = plan
        .thresholds
        .iter()
        .map(|t| t.evaluate(&result))
        .collect();
    print_result(&plan, &result)?;
    if let Some(report) = crate::report::files::write_outputs(&plan.output, &result)? {
        if plan.output.json {
            eprintln!("report: {}", report.display());
        } else {
            println!("\nReport: {}", report.display());
        }
    }
    if let Some(path) = &plan.output.junit {
        let name = plan.scenario.as_deref().unwrap_or("harness");
        let xml = report::junit::render(&[report::junit::Suite::ran(name, &result)]);
        crate::report::files::write_whole(path, xml.as_bytes())?;
    }
    Ok(Finished {
        code: exit_code(&outcome, &result, signals.received),
        result: Some(result),
    })
}

/// `interrupted`: a signal arrived at any point (also in the cooldown or the heap trace).
fn exit_code(outcome: &LoadOutcome, result: &RunResult, interrupted: bool) -> u8 {
    if result.target.as_ref().is_some_and(|t| t.failure.is_some()) {
        return exit::TARGET;
    }
    if interrupted {
        return exit::INTERRUPTED;
    }
    match outcome.stop {
        StopReason::Interrupted => exit::INTERRUPTED,
        StopReason::TargetExited => exit::TARGET,
        StopReason::Completed | StopReason::BailedOut => {
            if result.thresholds.iter().all(|t| t.passed) {
                exit::OK
            } else {
                exit::FAILED
            }
        }
    }
}

fn header(plan: &Plan) -> String {
    let load = &plan.load;
    let what = match load.stop {
        Stop::After(duration) if !load.stages.is_empty() => {
            let rates: Vec<String> = load.stages.iter().map(|s| format!("{}", s.rate)).collect();
            format!(
                "{}s ramp ({} req/s)",
                duration.as_secs_f64(),
                rates.join(" → ")
            )
        }
        Stop::After(duration) => format!("{}s test", duration.as_secs_f64()),
        Stop::Amount(amount) => format!("{amount} requests test"),
    };
    let url = match &load.target.socket_path {
        Some(path) => format!("{} via {}", load.url, path.display()),
        None => load.url.clone(),
    };
    terminal::header(&url, &what, load.connections, load.pipelining, load.workers)
}

/// Starts (or finds) the target and waits until it serves. `Ok(Err(code))` means the target
/// failed before the load, which has been reported.
async fn start_target(
    watch: &WatchPlan,
    plan: &Plan,
    origin: Instant,
    echo: bool,
    signals: &mut Signals,
) -> anyhow::Result<Result<Watched, u8>> {
    let mut info = TargetInfo::default();
    let (target, probe, tree) = match &watch.target {
        TargetSpec::Pid(pid) => {
            info.pid = *pid;
            (
                None,
                None,
                Tree {
                    root: *pid,
                    group: None,
                },
            )
        }
        TargetSpec::Command(argv) => {
            let probe = if watch.probe {
                Some(ProbeServer::start(origin, watch.sample_interval)?)
            } else {
                None
            };
            let mut env = watch.env.clone();
            env.extend(probe.iter().flat_map(ProbeServer::env));
            let mut target = match Target::spawn(argv, &env, watch.cwd.as_deref(), echo) {
                Ok(target) => target,
                Err(err) => {
                    eprintln!("error: {err:#}");
                    return Ok(Err(exit::TARGET));
                }
            };
            TARGET_GROUP.store(target.pid as i32, Ordering::Relaxed);
            info.command = argv.clone();
            info.pid = target.pid;
            info.started = true;
            let endpoint = match &plan.load.target.socket_path {
                Some(path) => Endpoint::Unix(path.clone()),
                None => Endpoint::Tcp(plan.load.target.addrs.clone()),
            };
            let ready = tokio::select! {
                ready = target.wait_ready(&endpoint, watch.ready_timeout) => ready,
                () = signals.recv() => return Ok(Err(exit::INTERRUPTED)),
            };
            match ready {
                Ok(after) => info.ready_after = Some(round3(after.as_secs_f64())),
                Err(err) => {
                    // Give the output readers a moment to catch the last lines.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    report_not_ready(&err, &target);
                    target.stop(watch.grace).await;
                    return Ok(Err(exit::TARGET));
                }
            }
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
    }))
}

fn report_not_ready(err: &target::NotReady, target: &Target) {
    eprintln!("error: {err}");
    let tail = target.output.stderr_tail(STDERR_LINES);
    if !tail.is_empty() {
        eprintln!("last lines of the target's stderr:");
        for line in tail {
            eprintln!("  {line}");
        }
    }
}

/// A load to drive: the measured one or the heap trace's.
struct LoadRun<'a> {
    plan: &'a LoadPlan,
    /// Show the per-second progress bar.
    progress: bool,
    /// "the load": how a failure names it.
    during: &'static str,
}

/// Runs a load while watching for signals and the target's exit.
async fn drive_load(
    spec: LoadRun<'_>,
    prepared: load::Prepared,
    mut watched: Option<&mut Watched>,
    signals: &mut Signals,
) -> anyhow::Result<LoadOutcome> {
    let stopper = prepared.stopper();
    let mut progress = Progress::start(spec.plan, spec.progress);
    let mut target_gone = false;
    let outcome = {
        let mut load = pin!(load::run(prepared, |point| {
            if let Some(progress) = &mut progress {
                progress.second(point);
            }
        }));
        loop {
            let target_exit = async {
                match watched.as_mut().and_then(|w| w.target.as_mut()) {
                    Some(target) if !target_gone => target.exited().await,
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                outcome = &mut load => break outcome,
                () = signals.recv(), if !signals.received => stopper.stop(StopReason::Interrupted),
                status = target_exit => {
                    target_gone = true;
                    stopper.stop(StopReason::TargetExited);
                    if let Some(watched) = watched.as_mut() {
                        watched.info.failure = Some(format!("the target exited during {} ({})", spec.during, target::describe(status)));
                    }
                }
            }
        }
    };
    if let Some(progress) = progress {
        progress.finish();
    }
    outcome
}

impl Watched {
    /// Idles for `length` as phase `name`, unless a signal or the target's exit cuts it short.
    async fn idle(&mut self, name: &str, length: Duration, origin: Instant, signals: &mut Signals) {
        let start = origin.elapsed().as_secs_f64();
        if !length.is_zero() && !signals.received && self.alive() {
            let target = self.target.as_mut();
            let exited = async {
                match target {
                    Some(target) => {
                        target.exited().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep(length) => {}
                () = signals.recv() => {}
                () = exited => {}
            }
        }
        self.phases.push(Phase {
            name: name.to_string(),
            start: round3(start),
            end: round3(origin.elapsed().as_secs_f64()),
        });
    }

    /// Forces a GC in every Node process and records the heap after it.
    async fn floor(&mut self, phase: &str) {
        if let Some(probe) = &mut self.probe {
            if probe.connected() > 0 {
                probe.floor(phase, FLOOR_TIMEOUT).await;
            }
        }
    }

    /// Whether the target is still running (always true for `--pid`, which is not ours).
    fn alive(&mut self) -> bool {
        self.target
            .as_mut()
            .is_none_or(|t| t.try_status().is_none())
    }

    /// Stops the target (if harness started it) and notes how it ended.
    async fn stop(&mut self) {
        self.sampler = None;
        let Some(target) = &mut self.target else {
            return;
        };
        let crashed = target.try_status();
        let (status, signals) = target.stop(self.plan.grace).await;
        self.info.stop_signals = signals;
        if let Some(status) = status {
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
    async fn snapshot(&mut self, phase: &str) {
        if self.plan.heap == HeapMode::Off {
            return;
        }
        if let Some(probe) = &mut self.probe {
            if probe.connected() > 0 {
                let taken = probe
                    .snapshot(phase, self.plan.heap_limit, SNAPSHOT_TIMEOUT)
                    .await;
                self.snapshots
                    .extend(taken.into_iter().map(|s| (phase.to_string(), s)));
            }
        }
    }

    /// Starts the sampling heap profiler in every Node process. It slows every allocation
    /// while it runs (about 2.5 % of a busy server's CPU, bench/probe-cpu.sh), so it runs
    /// during the heap trace only.
    async fn start_sampling(&mut self) {
        if let Some(probe) = &mut self.probe {
            probe.start_sampling().await;
        }
    }

    /// Reads the sampling heap profilers: where the objects still alive were allocated.
    async fn read_allocations(&mut self) {
        if let Some(probe) = &mut self.probe {
            if probe.connected() > 0 {
                self.allocations = probe.allocations(FLOOR_TIMEOUT).await;
            }
        }
    }

    /// Why a heap trace should run now (after the cooldown), if it should: always with
    /// `--heap`; by default when the analysis of what was measured finds a leak.
    fn trace_reason(
        &self,
        plan: &Plan,
        outcome: &LoadOutcome,
        origin: Instant,
    ) -> Option<&'static str> {
        let probe = self.probe.as_ref()?;
        if probe.connected() == 0 {
            return None;
        }
        match self.plan.heap {
            HeapMode::Off => None,
            HeapMode::Always => Some("--heap"),
            HeapMode::Auto => {
                let mut sofar = RunResult::new(plan, outcome, origin);
                self.fill(&mut sofar);
                sofar.analyse();
                leak_found(&sofar).map(|kind| match kind {
                    "memoryLeak" => "memory leak found",
                    _ => "listener leak found",
                })
            }
        }
    }

    /// The heap trace: a heap snapshot, an unmeasured load like the measured one (at most
    /// [`TRACE_MAX`] long), a snapshot, an idle cooldown, a last snapshot, with the sampling
    /// heap profiler running from the first snapshot to the last. A snapshot makes V8 track
    /// every object the collector moves from then on, which slows allocation, so none is
    /// taken before the measured load ends. No load runs when no first snapshot was taken.
    async fn heap_trace(
        &mut self,
        plan: &Plan,
        outcome: &LoadOutcome,
        reason: &str,
        origin: Instant,
        signals: &mut Signals,
    ) -> Option<HeapTrace> {
        self.snapshot("cooldown").await;
        let taken = self
            .snapshots
            .iter()
            .any(|(phase, s)| phase == "cooldown" && s.skipped.is_none());
        if !taken || signals.received || !self.alive() {
            return None;
        }
        let trace = trace_plan(&plan.load, outcome.elapsed);
        let prepared = match load::prepare(&trace) {
            Ok(prepared) => prepared,
            Err(err) => {
                eprintln!("warning: the heap trace could not start: {err:#}");
                return None;
            }
        };
        eprintln!(
            "Heap trace ({reason}): {} more of load, not measured, between heap snapshots",
            match trace.stop {
                Stop::After(d) => format!("{} s", d.as_secs_f64()),
                Stop::Amount(n) => format!("{n} requests"),
            }
        );
        self.start_sampling().await;
        let start = origin.elapsed().as_secs_f64();
        let spec = LoadRun {
            plan: &trace,
            progress: false,
            during: "the heap trace",
        };
        let traced = match drive_load(spec, prepared, Some(&mut *self), signals).await {
            Ok(traced) => traced,
            Err(err) => {
                eprintln!("warning: the heap trace failed: {err:#}");
                return None;
            }
        };
        self.phases.push(Phase {
            name: "trace".to_string(),
            start: round3(start),
            end: round3(origin.elapsed().as_secs_f64()),
        });
        if !signals.received && self.alive() {
            self.snapshot("trace").await;
            let cooldown = self.plan.cooldown;
            self.idle("trace-cooldown", cooldown, origin, signals).await;
            self.snapshot("trace-cooldown").await;
            self.read_allocations().await;
        }
        let totals = &traced.totals;
        Some(HeapTrace {
            reason: reason.to_string(),
            responses: totals.completed,
            errors: totals.errors.iter().sum(),
            seconds: round3(traced.elapsed.as_secs_f64()),
        })
    }

    /// Copies what has been watched so far into `result`.
    fn fill(&self, result: &mut RunResult) {
        let mut phases = self.phases.clone();
        phases.append(&mut result.phases);
        phases.sort_by(|a, b| a.start.total_cmp(&b.start));
        result.phases = phases;
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

    /// Moves what was watched into the result; returns the probe server, whose directory
    /// holds the heap snapshots until it is dropped.
    fn into_result(self, result: &mut RunResult) -> Option<ProbeServer> {
        self.fill(result);
        self.probe
    }
}

/// The kind of the first leak finding (`memoryLeak` or `listenerLeak`), if the analysis
/// found one: what the heap trace explains.
fn leak_found(result: &RunResult) -> Option<&str> {
    result
        .findings
        .iter()
        .map(|f| f.kind.as_str())
        .find(|kind| matches!(*kind, "memoryLeak" | "listenerLeak"))
}

/// The heap trace's load: the measured load's requests, connections and rate (a ramp's last
/// rate), without warmup, as many requests as were measured or as long, at most
/// [`TRACE_MAX`].
fn trace_plan(measured: &LoadPlan, measured_for: Duration) -> LoadPlan {
    let mut plan = measured.clone();
    plan.warmup = Duration::ZERO;
    if let Some(last) = plan.stages.last() {
        plan.rate = Some(last.rate);
    }
    plan.stages.clear();
    plan.stop = match measured.stop {
        Stop::Amount(n) if measured_for <= TRACE_MAX => Stop::Amount(n),
        _ => Stop::After(measured_for.clamp(Duration::from_secs(1), TRACE_MAX)),
    };
    plan
}

/// Analyses each Node process's three snapshots from the heap trace. Without a trace (no
/// leak found, by default) each Node process gets a note saying so. Parsing a snapshot
/// takes about 1 s per 100 MB.
fn heap_analysis(
    mode: HeapMode,
    snapshots: &[(String, probe::Snapshot)],
    result: &RunResult,
) -> Vec<HeapProcess> {
    if result.heap_trace.is_none() && snapshots.is_empty() {
        let why = match mode {
            HeapMode::Off => return Vec::new(),
            HeapMode::Auto if leak_found(result).is_none() => {
                "no leak was found, so no heap snapshots were taken (--heap takes them always)"
            }
            _ => "the run ended before the heap trace",
        };
        return result
            .node
            .iter()
            .map(|process| HeapProcess {
                pid: process.pid,
                snapshots: Vec::new(),
                analysis: None,
                note: Some(why.to_string()),
                allocations: Vec::new(),
            })
            .collect();
    }
    let mut pids: Vec<u32> = snapshots.iter().map(|(_, s)| s.pid).collect();
    pids.sort_unstable();
    pids.dedup();
    pids.into_iter()
        .map(|pid| {
            let taken: Vec<&(String, probe::Snapshot)> =
                snapshots.iter().filter(|(_, s)| s.pid == pid).collect();
            let info = taken
                .iter()
                .map(|(phase, s)| HeapSnapshotInfo {
                    phase: phase.clone(),
                    ms: round3(s.ms),
                    heap_used: s.heap_used,
                    skipped: s.skipped.clone(),
                })
                .collect();
            let file = |phase: &str| {
                taken
                    .iter()
                    .find(|(p, s)| p == phase && s.skipped.is_none())
                    .map(|(_, s)| s.path.clone())
            };
            let (analysis, note) = match (file("cooldown"), file("trace"), file("trace-cooldown")) {
                (Some(first), Some(middle), Some(last)) => {
                    match crate::analyse::heap::analyse_files(&first, Some(&middle), &last) {
                        Ok(analysis) => (Some(analysis), None),
                        Err(err) => (
                            None,
                            Some(format!("the snapshots could not be analysed: {err}")),
                        ),
                    }
                }
                _ => (
                    None,
                    Some(
                        taken
                            .iter()
                            .find_map(|(_, s)| s.skipped.clone())
                            .unwrap_or_else(|| "not all three snapshots were taken".to_string()),
                    ),
                ),
            };
            HeapProcess {
                pid,
                snapshots: info,
                analysis,
                note,
                allocations: Vec::new(),
            }
        })
        .collect()
}

fn print_result(plan: &Plan, result: &RunResult) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if plan.output.json {
        writeln!(stdout, "{}", report::json(result)?)?;
    } else {
        write!(
            stdout,
            "{}",
            terminal::render(result, plan.output.latency_table, plan.output.color)
        )?;
    }
    stdout.flush()?;
    Ok(())
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Stage;
    use clap::Parser;

    fn load_plan(args: &[&str]) -> LoadPlan {
        let args = std::iter::once("harness").chain(args.iter().copied());
        let cli = crate::cli::Cli::try_parse_from(args).unwrap();
        crate::cli::resolve::plan(cli).unwrap().load
    }

    #[test]
    fn the_heap_trace_repeats_the_measured_load_without_warmup_for_at_most_ten_seconds() {
        let amount = load_plan(&["-a", "8000", "--warmup", "2s", "http://127.0.0.1:1/"]);
        let quick = trace_plan(&amount, Duration::from_secs(3));
        assert_eq!(quick.stop, Stop::Amount(8000));
        assert_eq!(quick.warmup, Duration::ZERO);
        assert_eq!(quick.connections, amount.connections);
        let slow = trace_plan(&amount, Duration::from_secs(40));
        assert_eq!(slow.stop, Stop::After(TRACE_MAX));

        let timed = load_plan(&["-d", "30", "-R", "500", "http://127.0.0.1:1/"]);
        let trace = trace_plan(&timed, Duration::from_secs(30));
        assert_eq!(trace.stop, Stop::After(TRACE_MAX));
        assert_eq!(trace.rate, Some(500.0));
        let short = trace_plan(&timed, Duration::from_millis(200));
        assert_eq!(short.stop, Stop::After(Duration::from_secs(1)));
    }

    #[test]
    fn the_heap_trace_of_a_ramp_runs_at_its_last_rate() {
        let mut ramp = load_plan(&["-d", "20", "-R", "100", "http://127.0.0.1:1/"]);
        ramp.stages = vec![
            Stage {
                duration: Duration::from_secs(10),
                rate: 100.0,
            },
            Stage {
                duration: Duration::from_secs(10),
                rate: 900.0,
            },
        ];
        let trace = trace_plan(&ramp, Duration::from_secs(20));
        assert!(trace.stages.is_empty());
        assert_eq!(trace.rate, Some(900.0));
    }
}
