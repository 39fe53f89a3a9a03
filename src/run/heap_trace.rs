//! The heap trace: names the code that holds a leak. It runs after the measured target has
//! been stopped, on a second copy of it started the same way, whose heap is still small: a
//! snapshot of the measured process after a real load can be hundreds of megabytes (tens of
//! seconds of stall and a gigabyte of memory to write and read), and a snapshot taken before
//! or during the measured load would slow it, since V8 then tracks every object its
//! collector moves. The second copy gets a warm-up, a heap snapshot, a trace load sized from
//! what the measured run retained per request, a snapshot, an idle cooldown and a last
//! snapshot; the objects added during the trace load and still alive at the end are the
//! leak candidates ([`crate::analyse::heap`]).
//!
//! Sizing ([`size`]): the trace load is the measured request mix at the measured
//! concurrency and rate (open model), for enough requests to retain about
//! [`TARGET_RETAINED`] (never more than [`MAX_RETAINED`], so that the snapshots stay small and
//! quick), at least [`MIN_REQUESTS`] when that fits, at most as many as were measured and at
//! most [`TRACE_MAX`] long. The warm-up before the first snapshot is a fifth of that, at most
//! [`WARMUP_MAX`]: lazy initialisation, module caches and JIT are then in the first snapshot
//! and never counted as leaked.

use std::time::Duration;

use super::cpu_trace::LIMIT_SLACK;
use super::signals::Signals;
use super::watch::{self, NotStarted, Watched};
use super::{drive_load, round3, LoadRun, Session};
use crate::analyse::{self, memory, Analysis, Found};
use crate::load;
use crate::plan::{LoadPlan, Plan, Stop, TargetSpec, TraceMode, WatchPlan};
use crate::result::{HeapProcess, HeapSnapshotInfo, HeapTrace, PhaseName, RunResult};
use crate::target::{self, probe};

/// Memory the trace load aims to leave retained: clear against a few megabytes of warm-up
/// noise, small enough for quick snapshots.
pub(super) const TARGET_RETAINED: f64 = 16.0 * 1024.0 * 1024.0;
/// Memory the trace load may retain at most (the snapshot of a 64 MB heap takes ~6 s here).
pub(super) const MAX_RETAINED: f64 = 32.0 * 1024.0 * 1024.0;
/// Requests the trace load sends at least, when that stays within [`MAX_RETAINED`].
pub(super) const MIN_REQUESTS: f64 = 2_000.0;
/// Requests of a trace for a listener leak alone: 20 times Node's warning level, enough
/// listeners to name the emitter even if only some requests add one, and few enough that
/// their closures (each holding a request and its response) stay small.
pub(super) const LISTENER_REQUESTS: f64 = 200.0;
/// Requests of a trace at most when the measured run found a listener leak as well as a
/// memory leak.
pub(super) const LISTENER_MAX_REQUESTS: f64 = 1_000.0;
/// Requests of a trace with no leak measured (`--heap`).
pub(super) const DEFAULT_REQUESTS: f64 = 10_000.0;
/// Longest trace load.
pub(super) const TRACE_MAX: Duration = Duration::from_secs(10);
/// Longest warm-up.
pub(super) const WARMUP_MAX: Duration = Duration::from_secs(1);
/// The idle time between the second and the last snapshot: the trace's connections are
/// closed by then, so what is still alive is held by something.
pub(super) const TRACE_COOLDOWN: Duration = Duration::from_secs(2);
/// How long the measured target's port may stay taken after it stopped.
const PORT_WAIT: Duration = Duration::from_secs(10);
/// How long the second copy's Node process may take to connect to the probe once it serves.
const PROBE_WAIT: Duration = Duration::from_secs(5);

/// What the trace produced for the result.
#[derive(Default)]
pub(super) struct Traced {
    /// `heapTrace`: what ran, or why it did not.
    pub record: Option<HeapTrace>,
    /// `heap`: the snapshots and their analysis, or a note per Node process.
    pub heap: Vec<HeapProcess>,
}

/// Why the trace runs, and what the measured run said about the leak.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Why {
    /// `memory leak found`, `listener leak found` or `--heap`.
    reason: &'static str,
    /// The measured run found a memory or listener leak: only then is code named.
    leak: bool,
    /// Bytes retained per request (heap and external), from the memory leak finding.
    per_request: Option<f64>,
    /// The measured run found listeners piling up on an emitter.
    listeners: bool,
    /// The growth comes with timers piling up: it grows with time as well as requests.
    timers: bool,
}

/// What to do after the measured run (its target stopped, its result analysed): run the
/// heap trace on a second copy of the target, or record why not.
pub(super) enum Decision {
    /// Run it, for this reason.
    Run(Why),
    /// No trace; this is what the result says of it.
    Skip(Traced),
}

/// Whether the heap trace runs: when a leak was found or `--heap` asks, and harness can start
/// a second copy with the probe inside.
pub(super) fn decide(
    ctx: &Session<'_>,
    watch: &WatchPlan,
    result: &RunResult,
    analysis: &Analysis,
) -> Decision {
    let why = why(watch.heap, analysis);
    if watch.heap == TraceMode::Off {
        return Decision::Skip(Traced {
            record: why.map(|why| HeapTrace::not_run(why.reason, "turned off with --no-heap")),
            heap: Vec::new(),
        });
    }
    let attached = result
        .target
        .as_ref()
        .and_then(|t| t.attached.as_ref())
        .is_some_and(|a| a.probe);
    if matches!(watch.target, TargetSpec::Pid(_)) && !attached {
        // --pid without the probe inside: harness cannot start another copy.
        return Decision::Skip(Traced {
            record: why.map(|why| HeapTrace::not_run(why.reason, NOT_OURS)),
            heap: Vec::new(),
        });
    }
    if result.node.is_empty() {
        return Decision::Skip(Traced::default());
    }
    let note = match why {
        None => "no leak was found, so no heap snapshots were taken (--heap takes them always)",
        Some(_) if ctx.signals.received() => "the run was interrupted before the heap trace",
        Some(_) if result.target.as_ref().is_some_and(|t| t.failure.is_some()) => {
            "the target failed during the run, so no heap trace ran"
        }
        Some(why) => return Decision::Run(why),
    };
    Decision::Skip(Traced {
        record: why.map(|why| HeapTrace::not_run(why.reason, note)),
        heap: notes(result, note),
    })
}

/// Runs the heap trace on a second copy of the target and analyses its snapshots; on a
/// process harness attached to (`attached`), in place, on the process itself.
pub(super) async fn run(
    ctx: &Session<'_>,
    watch: &WatchPlan,
    why: Why,
    measured: &RunResult,
    attached: Option<&mut Watched>,
) -> Traced {
    match attached {
        Some(watched) => in_place(ctx, watched, why, measured).await,
        None => fresh(ctx, watch, why, measured).await,
    }
}

/// The trace on the attached process itself: the same loads and snapshots as on a second
/// copy, after the measured run's cooldown.
async fn in_place(
    ctx: &Session<'_>,
    watched: &mut Watched,
    why: Why,
    measured: &RunResult,
) -> Traced {
    let plan = ctx.plan;
    let size = size(&why, measured.requests.total, measured.requests.overall);
    let mut record = HeapTrace::new(why.reason);
    record.start = ctx.now();
    record.rate = round3(size.rate);
    record.connections = plan.load.connections as u64;
    record.url = plan.load.url.clone();
    record.pid = Some(watched.info.pid);
    record.in_place = true;
    eprintln!(
        "Heap trace ({}): on the attached process itself (harness cannot start a copy of it)",
        why.reason
    );
    watched.snapshots.clear();
    watched.allocations.clear();
    let outcome = drive(ctx, watched, &plan.load, size, &mut record).await;
    record.predicted = why.per_request.map(|per| {
        (per * record.responses as f64 * time_factor(&why, measured, &record)).round() as u64
    });
    record.end = ctx.now();
    let heap = analysed(&watched.snapshots, &watched.allocations, why, &record);
    if let Err(warning) = outcome {
        let mut traced = warn(ctx, record, warning, measured);
        if !heap.is_empty() {
            traced.heap = heap;
        }
        return traced;
    }
    Traced {
        record: Some(record),
        heap,
    }
}

const NOT_OURS: &str = "harness did not start this target (--pid), so it cannot start a second copy with the Node probe inside; run the server's command after -- to name the code that holds the memory";

/// A note for each Node process of the measured run.
fn notes(result: &RunResult, note: &str) -> Vec<HeapProcess> {
    result
        .node
        .iter()
        .map(|process| HeapProcess {
            pid: process.pid,
            snapshots: Vec::new(),
            analysis: None,
            note: Some(note.to_string()),
            allocations: Vec::new(),
        })
        .collect()
}

/// Whether a trace runs: with `--heap` always; by default when the analysis of the measured
/// run found a memory leak or a listener leak (not listeners that are removed again).
/// Why a trace would run: with `--heap` always; by default when the analysis of the measured
/// run found a memory leak, a suspect that only a trace can decide, or a listener leak (not
/// listeners that are removed again). With `--no-heap` (`Off`), the reason it would have had.
fn why(mode: TraceMode, analysis: &Analysis) -> Option<Why> {
    let growth: Vec<(&memory::Leak, bool)> = analysis
        .findings
        .iter()
        .filter_map(|finding| match &finding.found {
            Found::MemoryLeak(leak) => Some((leak, false)),
            Found::LeakSuspect(suspect) => Some((&suspect.0, true)),
            _ => None,
        })
        .collect();
    let per_request = growth
        .iter()
        .map(|(leak, _)| leak.heap_per_request + leak.external_per_request)
        .reduce(f64::max);
    let timers = growth
        .iter()
        .any(|(leak, _)| leak.handles.iter().any(|h| h.0 == "Timeout"));
    let suspect = growth.iter().all(|(_, suspect)| *suspect);
    let listeners = analysis
        .findings
        .iter()
        .any(|f| matches!(&f.found, Found::ListenerLeak(l) if !l.repeated));
    let leak = per_request.is_some() || listeners;
    let reason = match mode {
        TraceMode::Always => "--heap",
        _ if per_request.is_some() && suspect => "a suspected leak to decide",
        _ if per_request.is_some() => "memory leak found",
        _ if listeners => "listener leak found",
        _ => return None,
    };
    Some(Why {
        reason,
        leak,
        per_request,
        listeners,
        timers,
    })
}

/// How much of the measured growth per request the trace can show in its shorter time: 1,
/// unless the growth comes with timers piling up. A timer started per request keeps adding
/// for as long as it runs, so a request's share grows with the time its timer has run: on
/// average half the load plus the cooldown in the measured run, half the trace load plus its
/// cooldown in the trace (the timer-fed array: 9.5 s against 2.1 s, a factor of 0.22).
fn time_factor(why: &Why, measured: &RunResult, record: &HeapTrace) -> f64 {
    if !why.timers {
        return 1.0;
    }
    let cooldown = measured
        .phases
        .iter()
        .find(|p| p.is(PhaseName::Cooldown))
        .map_or(0.0, |p| p.end - p.start);
    let measured_alive = measured.duration / 2.0 + cooldown;
    let trace_alive = record.seconds / 2.0 + TRACE_COOLDOWN.as_secs_f64();
    if measured_alive <= 0.0 {
        return 1.0;
    }
    (trace_alive / measured_alive).min(1.0)
}

/// How much load the trace sends.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Size {
    /// Requests per second (open model).
    rate: f64,
    /// Requests before the first snapshot.
    warmup: u64,
    /// Requests between the first and second snapshot.
    requests: u64,
}

/// The trace's size from the measured run: what it found, its responses and responses per
/// second.
fn size(why: &Why, measured: u64, measured_rate: f64) -> Size {
    let rate = measured_rate.max(1.0);
    let wanted = match why.per_request {
        Some(per) if per > 0.0 => {
            let wanted = (TARGET_RETAINED / per)
                .max(MIN_REQUESTS)
                .min(MAX_RETAINED / per);
            // Listeners hold a request and its response each, and every emit calls them
            // all: a few hundred name the emitter, and what they hold is named with them.
            if why.listeners {
                wanted.min(LISTENER_MAX_REQUESTS)
            } else {
                wanted
            }
        }
        _ if why.listeners => LISTENER_REQUESTS,
        _ => DEFAULT_REQUESTS,
    };
    let requests = wanted
        .min(measured as f64)
        .min(rate * TRACE_MAX.as_secs_f64())
        .max(1.0);
    let warmup = (requests / 5.0)
        .min(rate * WARMUP_MAX.as_secs_f64())
        .max(1.0);
    Size {
        rate,
        warmup: warmup.round() as u64,
        requests: requests.round() as u64,
    }
}

/// The measured load's requests and connections at `rate`, for `amount` requests, without
/// its warmup or stages.
fn trace_load(measured: &LoadPlan, rate: f64, amount: u64) -> LoadPlan {
    let mut plan = measured.clone();
    plan.warmup = Duration::ZERO;
    plan.stages.clear();
    plan.rate = Some(rate);
    plan.stop = Stop::Amount(amount);
    plan.bailout = None;
    plan
}

/// The second copy's load and watch plan: the same port once the measured target has let
/// go of it, or a free port of its own when harness chose the first one.
async fn second_copy(plan: &Plan, watch: &WatchPlan) -> Result<(LoadPlan, WatchPlan), String> {
    let (mut load, mut watch) = (plan.load.clone(), watch.clone());
    let Some(&addr) = load.target.addrs.first() else {
        return Ok((load, watch)); // a Unix socket: the same path
    };
    if watch.free_port {
        let port = target::free_port(addr)
            .map_err(|err| format!("no free port for it on {}: {err}", addr.ip()))?;
        load = load.with_port(port);
        watch.env.retain(|(key, _)| key != "PORT");
        watch.env.push(("PORT".to_string(), port.to_string()));
    } else if !target::wait_until_free(addr, PORT_WAIT).await {
        return Err(format!(
            "port {} was still taken {} s after the measured target stopped",
            addr.port(),
            PORT_WAIT.as_secs()
        ));
    }
    Ok((load, watch))
}

/// Runs the trace on a second copy of the target and analyses its snapshots.
async fn fresh(ctx: &Session<'_>, watch: &WatchPlan, why: Why, measured: &RunResult) -> Traced {
    let plan = ctx.plan;
    let size = size(&why, measured.requests.total, measured.requests.overall);
    let start = ctx.now();
    let mut record = HeapTrace::new(why.reason);
    record.start = start;
    record.rate = round3(size.rate);
    record.connections = plan.load.connections as u64;
    eprintln!(
        "Heap trace ({}): starting a second copy of the target to find what holds the memory",
        why.reason
    );
    let (mut second, load) = match start_second(ctx, watch, &mut record).await {
        Ok(started) => started,
        Err(warning) => return warn(ctx, record, warning, measured),
    };
    let outcome = drive(ctx, &mut second, &load, size, &mut record).await;
    record.predicted = why.per_request.map(|per| {
        (per * record.responses as f64 * time_factor(&why, measured, &record)).round() as u64
    });
    second.stop().await;
    record.peak_rss = second.peak_rss();
    record.end = ctx.now();
    if let Err(warning) = outcome {
        let heap = analysed(&second.snapshots, &second.allocations, why, &record);
        let mut traced = warn(ctx, record, warning, measured);
        if !heap.is_empty() {
            traced.heap = heap;
        }
        return traced;
    }
    let heap = analysed(&second.snapshots, &second.allocations, why, &record);
    Traced {
        record: Some(record),
        heap,
    }
}

/// A trace that did not finish: one warning line now, the same in the result.
fn warn(ctx: &Session<'_>, mut record: HeapTrace, warning: String, measured: &RunResult) -> Traced {
    eprintln!("warning: the heap trace did not finish: {warning}; the measured result stands");
    if record.end < record.start {
        record.end = ctx.now();
    }
    note(&mut record, warning.clone());
    Traced {
        record: Some(record),
        heap: notes(measured, &format!("no heap analysis: {warning}")),
    }
}

/// Starts the second copy and waits until it serves and its probe has connected.
async fn start_second(
    ctx: &Session<'_>,
    watch: &WatchPlan,
    record: &mut HeapTrace,
) -> Result<(Watched, LoadPlan), String> {
    let (load, watch) = second_copy(ctx.plan, watch)
        .await
        .map_err(|why| format!("could not start a second copy of the target: {why}"))?;
    record.url = load.url.clone();
    let endpoint = watch::endpoint(&load);
    let started = watch::start(ctx, &watch, endpoint, false).await;
    let mut second = match started {
        Ok(Ok(second)) => second,
        Ok(Err(NotStarted::Interrupted)) => return Err("interrupted".to_string()),
        Ok(Err(NotStarted::Failed { why, stderr_tail })) => {
            let last = stderr_tail
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map_or(String::new(), |l| format!(" (its stderr: {})", l.trim()));
            return Err(format!(
                "a second copy of the target did not start: {why}{last}"
            ));
        }
        Err(err) => {
            return Err(format!(
                "a second copy of the target did not start: {err:#}"
            ))
        }
    };
    record.pid = Some(second.info.pid);
    if !second.wait_for_node(PROBE_WAIT).await {
        second.stop().await;
        return Err(
            "the second copy of the target has no Node process that the probe reached".to_string(),
        );
    }
    Ok((second, load))
}

/// The trace on the second copy: warm-up, snapshot, trace load (with the sampling heap
/// profiler), snapshot, idle cooldown, snapshot, allocation sites. `Err`: why it stopped.
async fn drive(
    ctx: &Session<'_>,
    second: &mut Watched,
    load: &LoadPlan,
    size: Size,
    record: &mut HeapTrace,
) -> Result<(), String> {
    let signals = &ctx.signals;
    let warm_plan = trace_load(load, size.rate, size.warmup);
    let trace_plan = trace_load(load, size.rate, size.requests);
    let cannot = |err: anyhow::Error| format!("its load could not start: {err:#}");
    let warm = load::prepare(&warm_plan).map_err(cannot)?;
    let mut traced = load::prepare(&trace_plan).map_err(cannot)?;
    // The trace's {{counter}} values follow the warm-up's, so every key is new to the app.
    traced.share_counter(&warm);
    eprintln!(
        "Heap trace: {} (pid {}) at {}: {} warm-up requests, a heap snapshot, {} requests at {:.0}/s, a snapshot, {} s idle, a snapshot",
        if record.in_place { "the attached process" } else { "second copy" },
        second.info.pid,
        load.url,
        size.warmup,
        size.requests,
        size.rate,
        TRACE_COOLDOWN.as_secs()
    );
    let warmed = run_load(
        second, &warm_plan, warm, "warm-up", WARMUP_MAX, record, signals,
    )
    .await?;
    record.warmup_requests = warmed.totals.sent;
    snapshot(second, PhaseName::Warmup, signals).await?;
    second.start_sampling().await;
    let outcome = run_load(
        second,
        &trace_plan,
        traced,
        "trace load",
        TRACE_MAX,
        record,
        signals,
    )
    .await?;
    let totals = &outcome.totals;
    record.requests = totals.sent;
    record.responses = totals.completed;
    record.errors = totals.errors.iter().sum();
    record.seconds = round3(outcome.elapsed.as_secs_f64());
    snapshot(second, PhaseName::Trace, signals).await?;
    second
        .idle(
            PhaseName::TraceCooldown,
            crate::plan::Idle::Fixed(TRACE_COOLDOWN),
        )
        .await;
    snapshot(second, PhaseName::TraceCooldown, signals).await?;
    second.read_allocations().await;
    Ok(())
}

/// Drives one of the trace's loads against the second copy, for at most `planned` and a
/// little slack: sized in requests, a load against a copy that stopped answering would
/// otherwise wait out every request's timeout. A load cut short is noted in the record.
async fn run_load(
    second: &mut Watched,
    plan: &LoadPlan,
    prepared: load::Prepared,
    what: &'static str,
    planned: Duration,
    record: &mut HeapTrace,
    signals: &Signals,
) -> Result<load::LoadOutcome, String> {
    let limit = planned + LIMIT_SLACK;
    let spec = LoadRun {
        plan,
        progress: false,
        during: what,
        limit: Some(limit),
    };
    let outcome = drive_load(spec, prepared, Some(&mut *second), signals)
        .await
        .map_err(|err| format!("its {what} failed: {err:#}"))?;
    still_going(second, signals)?;
    let Stop::Amount(amount) = plan.stop else {
        return Ok(outcome);
    };
    let answered = outcome.totals.completed + outcome.totals.failed;
    if answered < amount && outcome.elapsed >= limit - Duration::from_millis(100) {
        let cut = format!(
            "its {what} stopped at its {} s limit with {} of {} requests answered",
            limit.as_secs(),
            outcome.totals.completed,
            amount
        );
        if outcome.totals.completed == 0 {
            // Not one answer: the copy is not serving, and its snapshots would wait too.
            return Err(cut);
        }
        eprintln!("warning: heap trace: {cut}");
        note(record, cut);
    }
    Ok(outcome)
}

/// Adds `text` to what the record says went wrong.
fn note(record: &mut HeapTrace, text: String) {
    record.warning = Some(match record.warning.take() {
        Some(before) => format!("{before}; {text}"),
        None => text,
    });
}

/// Takes the snapshot that ends `phase`; `Err` when no process could be snapshotted.
async fn snapshot(second: &mut Watched, phase: PhaseName, signals: &Signals) -> Result<(), String> {
    still_going(second, signals)?;
    second.snapshot(phase).await;
    let taken: Vec<&probe::Snapshot> = second
        .snapshots
        .iter()
        .filter(|(p, _)| *p == phase)
        .map(|(_, s)| s)
        .collect();
    if taken.iter().any(|s| s.skipped.is_none()) {
        return still_going(second, signals);
    }
    let why = taken
        .iter()
        .find_map(|s| s.skipped.clone())
        .unwrap_or_else(|| "no Node process answered".to_string());
    Err(format!(
        "no heap snapshot at the end of its {}: {why}",
        phase.as_str()
    ))
}

/// `Err` once a signal has arrived or the second copy has exited.
fn still_going(second: &mut Watched, signals: &Signals) -> Result<(), String> {
    if signals.received() {
        return Err("interrupted".to_string());
    }
    if let Some(failure) = &second.info.failure {
        return Err(format!("the second copy of the target failed: {failure}"));
    }
    if !second.alive() {
        return Err("the second copy of the target exited".to_string());
    }
    Ok(())
}

/// Each Node process's three snapshots analysed, with its allocation sites, and the
/// analysis checked against what the measured run found: the trace confirms the leak when
/// its processes together kept enough of what was predicted ([`analyse::trial`]).
fn analysed(
    snapshots: &[(PhaseName, probe::Snapshot)],
    allocations: &[(u32, Vec<crate::result::AllocationSite>)],
    why: Why,
    record: &HeapTrace,
) -> Vec<HeapProcess> {
    let mut heap = heap_analysis(snapshots);
    let analyses: Vec<_> = heap.iter().filter_map(|p| p.analysis.as_ref()).collect();
    let retained = analyse::trial::kept(&analyses);
    let confirmed = record
        .predicted
        .map(|predicted| analyse::trial::confirms(retained, predicted));
    let mut sources = crate::analyse::source::Sources::default();
    for process in &mut heap {
        let Some(analysis) = &mut process.analysis else {
            continue;
        };
        if let Some(note) = analyse::heap::confirm(analysis, why.leak, confirmed) {
            process.note = Some(note);
        }
        if let Some((_, sites)) = allocations.iter().find(|(pid, _)| *pid == process.pid) {
            process.allocations = sites.clone();
            analyse::profile::name_anonymous_sites(&mut process.allocations, &mut sources);
        }
    }
    heap
}

/// Analyses each Node process's snapshots at the end of the warm-up, the trace load and its
/// cooldown. Parsing takes about 1 s per 100 MB of snapshot.
fn heap_analysis(snapshots: &[(PhaseName, probe::Snapshot)]) -> Vec<HeapProcess> {
    let mut pids: Vec<u32> = snapshots.iter().map(|(_, s)| s.pid).collect();
    pids.sort_unstable();
    pids.dedup();
    pids.into_iter()
        .map(|pid| {
            let taken: Vec<&(PhaseName, probe::Snapshot)> =
                snapshots.iter().filter(|(_, s)| s.pid == pid).collect();
            let info = taken
                .iter()
                .map(|(phase, s)| HeapSnapshotInfo {
                    phase: *phase,
                    ms: round3(s.ms),
                    heap_used: s.heap_used,
                    skipped: s.skipped.clone(),
                })
                .collect();
            let file = |phase: PhaseName| {
                taken
                    .iter()
                    .find(|(p, s)| *p == phase && s.skipped.is_none())
                    .map(|(_, s)| s.path.clone())
            };
            let (analysis, note) = match (
                file(PhaseName::Warmup),
                file(PhaseName::Trace),
                file(PhaseName::TraceCooldown),
            ) {
                (Some(first), Some(middle), Some(last)) => {
                    match analyse::heap::analyse_files(&first, Some(&middle), &last) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn leak(per_request: f64) -> Why {
        Why {
            reason: "memory leak found",
            leak: true,
            per_request: Some(per_request),
            listeners: false,
            timers: false,
        }
    }

    #[test]
    fn a_trace_retains_about_16_mb_of_a_measured_leak() {
        // The article's cache: 1.28 kB per request at 25,000 requests/s, 750,000 measured.
        let cache = size(&leak(1280.0), 750_000, 25_000.0);
        assert_eq!(cache.requests, (TARGET_RETAINED / 1280.0).round() as u64);
        assert_eq!(cache.warmup, cache.requests / 5);
        assert_eq!(cache.rate, 25_000.0);
        // 90 bytes per request: 186,000 requests, which at 30,000/s is 6 s.
        let small = size(&leak(90.0), 10_000_000, 30_000.0);
        assert!((small.requests as f64 * 90.0 - TARGET_RETAINED).abs() < 1000.0);
        // 64 kB per request: the minimum count would retain 128 MB; 32 MB at most.
        let big = size(&leak(65536.0), 100_000, 2_000.0);
        assert_eq!(big.requests as f64 * 65536.0, MAX_RETAINED);
    }

    #[test]
    fn a_trace_sends_at_most_what_was_measured_and_lasts_at_most_ten_seconds() {
        let few = size(&leak(1280.0), 8_000, 4_000.0);
        assert_eq!(few.requests, 8_000);
        let slow = size(&leak(1280.0), 750_000, 50.0);
        assert_eq!(slow.requests, 500, "50 requests/s for 10 s");
        assert_eq!(slow.warmup, 50, "a warm-up of at most a second");
        let listeners = Why {
            reason: "listener leak found",
            leak: true,
            per_request: None,
            listeners: true,
            timers: false,
        };
        assert_eq!(size(&listeners, 30_000, 1_000.0).requests, 200);
        let both = Why {
            per_request: Some(2_500.0),
            ..listeners
        };
        assert_eq!(size(&both, 30_000, 1_000.0).requests, 1_000);
        assert_eq!(size(&listeners, 30, 10.0).requests, 30);
        let heap = Why {
            reason: "--heap",
            leak: false,
            per_request: None,
            listeners: false,
            timers: false,
        };
        assert_eq!(size(&heap, 1_000_000, 40_000.0).requests, 10_000);
        assert_eq!(size(&heap, 0, 0.0).requests, 1);
    }

    #[test]
    fn the_trace_load_is_the_measured_mix_at_a_fixed_rate_without_warmup_or_stages() {
        let args = [
            "harness",
            "-c",
            "1000",
            "-d",
            "30",
            "--warmup",
            "2s",
            "-B",
            "5",
            "http://127.0.0.1:1/",
        ];
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(args).unwrap();
        let mut measured = crate::cli::resolve::plan(cli).unwrap().load;
        measured.stages = vec![crate::plan::Stage {
            duration: Duration::from_secs(30),
            rate: 900.0,
        }];
        let trace = trace_load(&measured, 2_500.0, 12_000);
        assert_eq!(trace.stop, Stop::Amount(12_000));
        assert_eq!(trace.rate, Some(2_500.0));
        assert_eq!(trace.connections, 1000);
        assert_eq!(trace.warmup, Duration::ZERO);
        assert!(trace.stages.is_empty());
        assert_eq!(trace.bailout, None);
    }
}
