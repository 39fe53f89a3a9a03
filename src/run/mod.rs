//! One run from plan to output: start and watch the target (if any), idle through the
//! baseline, drive the load, idle through the cooldown, take a CPU profile if the loop was
//! busy or blocked, stop the target, build and analyse the result, run the heap trace on a
//! fresh copy of the target if a leak was found, and print and save the result. Returns the exit code. Every phase can be cut short by Ctrl-C (or SIGTERM)
//! or by the target dying; what ran is still reported.
//!
//! - [`signals`]: Ctrl-C and SIGTERM.
//! - [`watch`]: the target while it is watched (started, sampled, probed, stopped).
//! - [`progress`]: the live progress line while the load runs.
//! - [`cpu_trace`]: a CPU profile of the measured target after its cooldown.
//! - [`outcome`]: the saved result built from the finished run.
//! - [`heap_trace`]: the heap trace on a second copy of the target, and its analysis.

mod cpu_trace;
mod find_max;
mod heap_trace;
mod io_trace;
mod outcome;
mod progress;
mod rest;
mod signals;
mod watch;

use std::io::IsTerminal;
use std::pin::pin;
use std::time::Duration;

use anyhow::Context as _;
use tokio::time::Instant;

use crate::exit;
use crate::load::{self, LoadOutcome, StopReason};
use crate::plan::{LoadPlan, Plan, Stop, TraceMode};
use crate::report::{self, terminal};
use crate::result::{PhaseName, RunResult};
use crate::target;
use progress::Progress;
use signals::Signals;
use watch::{NotStarted, Watched};

/// How a run ended: its exit code and, unless the target failed before the load, its result.
pub(crate) struct Finished {
    /// The process exit code for this run alone.
    pub code: u8,
    /// The result, as printed and saved.
    pub result: Option<RunResult>,
    /// Where the HTML report was written, if it was.
    pub report: Option<std::path::PathBuf>,
}

/// What every phase of a run needs: the plan, the run's clock, and the signals that cut it
/// short. Made once per run and lent to each phase.
pub(super) struct Session<'a> {
    /// The run's plan.
    pub plan: &'a Plan,
    /// The start of the run's clock (the target's start, or the load's without one).
    pub origin: Instant,
    /// Ctrl-C, SIGTERM and the rest: every phase ends promptly when one arrives.
    pub signals: Signals,
}

impl Session<'_> {
    /// Now on the run's clock, seconds, rounded to the millisecond.
    pub(crate) fn now(&self) -> f64 {
        round3(self.origin.elapsed().as_secs_f64())
    }
}

/// Runs the plan, prints its result and writes its files.
pub(crate) fn run(mut plan: Plan) -> anyhow::Result<Finished> {
    let prepared = load::prepare(&plan.load)?;
    let mut _folder = None;
    if let Some(dir) = &plan.output.report_dir {
        let dir = crate::report::files::prepare(dir, plan.output.fresh_dir)
            .map_err(|err| crate::plan::UsageError(format!("{err:#}")))?;
        _folder = Some(
            crate::report::files::lock(&dir)
                .map_err(|err| crate::plan::UsageError(format!("{err:#}")))?,
        );
        plan.output.report_dir = Some(dir);
    }
    crate::report::files::check_paths(&plan.output)
        .map_err(|err| crate::plan::UsageError(format!("{err:#}")))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the control runtime")?;
    runtime.block_on(async {
        let ctx = Session {
            plan: &plan,
            origin: Instant::now(),
            signals: Signals::new()?,
        };
        phases(&ctx, prepared).await
    })
}

/// The run, phase by phase: start the target, idle through the baseline, drive the load,
/// idle through the cooldown and take a CPU profile if wanted, stop the target, build and
/// analyse the result, run the heap trace if wanted, check the thresholds, write the outputs.
async fn phases(ctx: &Session<'_>, prepared: load::Prepared) -> anyhow::Result<Finished> {
    let plan = ctx.plan;
    let mut watched = match start(ctx).await? {
        Ok(watched) => watched,
        Err(code) => {
            return Ok(Finished {
                code,
                result: None,
                report: None,
            })
        }
    };
    if std::env::var_os("HARNESS_FAULT").is_some_and(|fault| fault == "panic-after-ready") {
        // Fault injection for the tests: the target must not outlive a panicking harness.
        panic!("HARNESS_FAULT=panic-after-ready");
    }
    if !plan.output.json {
        report::stdout::say(&header(plan));
    }
    if let Some(watched) = &mut watched {
        watched
            .idle(PhaseName::Baseline, watched.plan.baseline)
            .await;
        watched.floor(PhaseName::Baseline).await;
    }
    let crashed_early = watched.as_mut().is_some_and(|w| !w.alive());
    let during = if crashed_early {
        "the baseline"
    } else {
        "the load"
    };
    let load = LoadRun {
        plan: &plan.load,
        progress: plan.output.progress,
        during,
        limit: None,
    };
    let late_by = match plan.start_at {
        Some(at) if !ctx.signals.received() => {
            start_at(at, plan.load.shard.is_some(), &ctx.signals).await
        }
        _ => 0.0,
    };
    let (outcome, capacity, measured) = match &plan.find_max {
        Some(find) => {
            drop(prepared);
            let searched = find_max::search(ctx, find, watched.as_mut()).await?;
            (
                searched.outcome,
                Some(searched.capacity),
                Some(searched.plan),
            )
        }
        None => (
            drive_load(load, prepared, watched.as_mut(), &ctx.signals).await?,
            None,
            None,
        ),
    };
    let mut result = outcome::build(measured.as_ref().unwrap_or(plan), &outcome, ctx.origin);
    result.capacity = capacity;
    if let Some(shard) = &mut result.shard {
        shard.late_by = round3(late_by);
    }
    if let Some(watched) = &mut watched {
        after_load(ctx, watched, &mut result).await;
        watched.stop().await;
        watched.fill(&mut result);
    }
    let analysis = crate::analyse::annotate(&mut result);
    result.scenario = plan.scenario.clone();
    check(plan, &mut result);
    if let Some(watch) = &plan.watch {
        let traced = match heap_trace::decide(ctx, watch, &result, &analysis) {
            heap_trace::Decision::Skip(traced) => traced,
            heap_trace::Decision::Run(why) => {
                // Saved first: a second signal during the trace leaves at once, and the
                // measured result must not go with it.
                crate::report::files::write_outputs(&plan.output, &result)?;
                let attached = watched
                    .as_mut()
                    .filter(|w| w.info.attached.as_ref().is_some_and(|a| a.probe));
                heap_trace::run(ctx, watch, why, &result, attached).await
            }
        };
        result.heap = traced.heap;
        if traced.record.is_some() {
            // The trace (or why none ran) has its say in the findings.
            result.heap_trace = traced.record;
            crate::analyse::annotate(&mut result);
            check(plan, &mut result);
        }
    }
    let report = write_outputs(plan, &result)?;
    Ok(Finished {
        report,
        code: exit_code(&outcome, &result, ctx.signals.received()),
        result: Some(result),
    })
}

/// Checks the plan's thresholds against the result; a shard leaves them to `harness merge`,
/// which checks them on the whole (one shard's share says nothing about it).
fn check(plan: &Plan, result: &mut RunResult) {
    match &mut result.shard {
        Some(shard) => shard.thresholds = plan.thresholds.iter().map(|t| t.text.clone()).collect(),
        None => result.thresholds = plan.thresholds.iter().map(|t| t.evaluate(result)).collect(),
    }
}

/// Waits until `at` (`--start-at`), or a signal; returns how many seconds late the load
/// begins (0 when on time).
async fn start_at(at: std::time::SystemTime, sharded: bool, signals: &Signals) -> f64 {
    match at.duration_since(std::time::SystemTime::now()) {
        Ok(wait) => {
            if wait > std::time::Duration::from_secs(1) {
                eprintln!(
                    "waiting {:.0} s until {} (--start-at) to begin the load",
                    wait.as_secs_f64(),
                    humantime::format_rfc3339_seconds(at)
                );
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = signals.wait() => {}
            }
            0.0
        }
        Err(late) => {
            let late = late.duration().as_secs_f64();
            // Under a second late is on time: `+0s`, or the target's start taking a moment.
            if late >= 1.0 {
                if sharded {
                    eprintln!(
                        "warning: --start-at {} passed {late:.1} s ago; this shard's load begins late and its seconds will not line up with the others' (its result says by how much, in shard.lateBy)",
                        humantime::format_rfc3339_millis(at)
                    );
                } else {
                    eprintln!(
                        "warning: --start-at {} passed {late:.1} s ago; the load begins now",
                        humantime::format_rfc3339_millis(at)
                    );
                }
            }
            late
        }
    }
}

/// Starts (or finds) the target, if the plan has one, and waits until it serves. `Err` is
/// the exit code of a target that never served (already reported).
async fn start(ctx: &Session<'_>) -> anyhow::Result<Result<Option<Watched>, u8>> {
    let plan = ctx.plan;
    let Some(watch) = &plan.watch else {
        return Ok(Ok(None));
    };
    let echo = !plan.output.json && std::io::stderr().is_terminal();
    let endpoint = watch::endpoint(&plan.load);
    match watch::start(ctx, watch, endpoint, echo).await? {
        Ok(watched) => Ok(Ok(Some(watched))),
        Err(not_started) => {
            let code = match not_started {
                NotStarted::Interrupted => exit::INTERRUPTED,
                NotStarted::Failed { why, stderr_tail } => {
                    report_not_started(&why, &stderr_tail);
                    exit::TARGET
                }
            };
            write_failed_junit(plan)?;
            Ok(Err(code))
        }
    }
}

/// After the load, unless it was cut short: the floors and the idle cooldown, then the
/// traces of the measured target that the run so far (`result`, filled with what was
/// watched) asks for: the CPU trace, then the I/O trace. Their records and what they found
/// go into `result`.
async fn after_load(ctx: &Session<'_>, watched: &mut Watched, result: &mut RunResult) {
    if ctx.signals.received() || !watched.alive() {
        return;
    }
    watched.floor(PhaseName::Load).await;
    watched
        .idle(PhaseName::Cooldown, watched.plan.cooldown)
        .await;
    watched.floor(PhaseName::Cooldown).await;
    watched.fill(result);
    let analysis = crate::analyse::analyse(result);
    let can_trace = |watched: &mut Watched| {
        watched.node_processes() > 0 && !ctx.signals.received() && watched.alive()
    };
    // After a capacity search, the traces run at the first failing rate, and name what
    // limited the server there: the hot code of a busy loop, or what an idle one awaited.
    let knee = result
        .capacity
        .as_ref()
        .and_then(crate::analyse::search::knee)
        .map(|step| step.rate);
    let knee_plan = knee.map(|rate| {
        let mut plan = ctx.plan.clone();
        plan.load.rate = Some(rate);
        plan.load.stages.clear();
        plan
    });
    let knee_ctx = knee_plan.as_ref().map(|plan| Session {
        plan,
        origin: ctx.origin,
        signals: ctx.signals.clone(),
    });
    let ctx = knee_ctx.as_ref().unwrap_or(ctx);
    let knee_wants = crate::analyse::search::knee_wants_profile(result);
    let cpu_wanted = cpu_trace::wanted(watched.plan.profile, &analysis).or(
        match (knee_wants, watched.plan.profile) {
            (Some(true), TraceMode::Auto) => Some(cpu_trace::Why {
                reason: "capacity limit",
                garbage: false,
            }),
            _ => None,
        },
    );
    let io_wanted = io_trace::wanted(watched.plan.io_trace, &analysis).or(
        match (knee_wants, watched.plan.io_trace) {
            (Some(false), TraceMode::Auto) => Some("capacity limit"),
            _ => None,
        },
    );
    if let Some(why) = cpu_wanted {
        if can_trace(watched) {
            let traced = cpu_trace::run(ctx, watched, why).await;
            if let Some(warning) = &traced.record.warning {
                eprintln!("warning: CPU trace ({}): {warning}", traced.record.reason);
            }
            result.profiles = traced.profiles;
            result.cpu_trace = Some(traced.record);
        }
    }
    if let Some(reason) = io_wanted {
        if can_trace(watched) {
            result.io_trace = Some(io_trace::run(ctx, watched, reason).await);
        }
    }
}

/// Writes the report, the JSON and JUnit files, then prints the result (files first, so
/// that a reader who leaves early loses nothing but the printout).
fn write_outputs(plan: &Plan, result: &RunResult) -> anyhow::Result<Option<std::path::PathBuf>> {
    let report = crate::report::files::write_outputs(&plan.output, result)?;
    if let Some(path) = &plan.output.junit {
        let name = plan.scenario.as_deref().unwrap_or("harness");
        report::junit::write(path, &[report::junit::Suite::ran(name, result)])?;
    }
    if let Some(path) = &plan.output.summary_md {
        let summary = report::summary::Summary::of(result);
        let report = report.as_ref().map(|r| r.display().to_string());
        crate::report::files::append(path, &summary.markdown(&run_name(plan), report.as_deref()))?;
    }
    print_result(plan, result)?;
    if let Some(report) = &report {
        if plan.output.json {
            eprintln!("report: {}", report.display());
        } else {
            report::stdout::print(&format!("\nReport: {}\n", report.display()))?;
        }
    }
    Ok(report)
}

/// Says why the target never served, with the last lines of its stderr.
fn report_not_started(why: &str, stderr_tail: &[String]) {
    eprintln!("error: {}", crate::units::terminal_safe(why));
    if !stderr_tail.is_empty() {
        eprintln!("last lines of the target's stderr:");
        for line in stderr_tail {
            eprintln!("  {line}");
        }
    }
}

/// The run's name in summaries: the scenario's, else the URL.
fn run_name(plan: &Plan) -> String {
    plan.scenario
        .clone()
        .unwrap_or_else(|| plan.load.url.clone())
}

/// With `--junit` and a Markdown summary, what to say of a target that failed before the
/// load.
fn write_failed_junit(plan: &Plan) -> anyhow::Result<()> {
    if let Some(path) = &plan.output.summary_md {
        let text = format!(
            "### harness: {}\n\n❌ **The target failed before the load** (see the job's log for its stderr)\n\n",
            report::escape::markdown(&run_name(plan))
        );
        crate::report::files::append(path, &text)?;
    }
    if let Some(path) = &plan.output.junit {
        let name = plan.scenario.as_deref().unwrap_or("harness");
        let why = "the target failed before the load (see its stderr)";
        report::junit::write(
            path,
            &[report::junit::Suite::failed(name, &plan.thresholds, why)],
        )?;
    }
    Ok(())
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

/// A load to drive: the measured one or a trace's.
struct LoadRun<'a> {
    plan: &'a LoadPlan,
    /// Show the per-second progress bar.
    progress: bool,
    /// "the load": how a failure names it.
    during: &'static str,
    /// Stop it after this long, whatever it was sized in (a trace's load against a target
    /// that stopped answering must not run for hours).
    limit: Option<Duration>,
}

/// Runs a load while watching for signals and the target's exit.
async fn drive_load(
    spec: LoadRun<'_>,
    prepared: load::Prepared,
    mut watched: Option<&mut Watched>,
    signals: &Signals,
) -> anyhow::Result<LoadOutcome> {
    let stopper = prepared.stopper();
    let live = watched.as_ref().map(|w| w.live());
    let limit = async {
        match spec.limit {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    let mut limit = pin!(limit);
    let mut limited = false;
    let mut progress = Progress::start(spec.plan, spec.progress, live);
    let mut target_gone = false;
    // A signal that arrived before the load (in the baseline) stops it at once.
    let mut interrupted = false;
    let outcome = {
        let mut load = pin!(load::run(prepared, |point, so_far| {
            if let Some(progress) = &mut progress {
                progress.second(point, so_far);
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
                () = signals.wait(), if !interrupted => {
                    interrupted = true;
                    stopper.stop(StopReason::Interrupted);
                }
                () = &mut limit, if !limited => {
                    limited = true;
                    stopper.stop(StopReason::Completed);
                }
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

fn print_result(plan: &Plan, result: &RunResult) -> anyhow::Result<()> {
    if plan.output.json {
        report::stdout::print_data(&format!("{}\n", report::json(result)?))
    } else {
        report::stdout::print(&terminal::render(
            result,
            plan.output.latency_table,
            plan.output.color,
        ))
    }
    .context("could not print the result")?;
    Ok(())
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}
