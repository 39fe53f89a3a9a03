//! One run from plan to output: start and watch the target (if any), idle through the
//! baseline, drive the load, idle through the cooldown, take a CPU profile if the loop was
//! busy or blocked, stop the target, build and analyse the result, run the heap trace on a
//! fresh copy of the target if a leak was found, and print and save the result. Returns the exit code. Every phase can be cut short by Ctrl-C (or SIGTERM)
//! or by the target dying; what ran is still reported.
//!
//! - [`watch`]: the target while it is watched (started, sampled, probed, stopped).
//! - [`cpu_trace`]: a CPU profile of the measured target after its cooldown.
//! - [`heap_trace`]: the heap trace on a second copy of the target, and its analysis.

mod cpu_trace;
mod heap_trace;
mod outcome;
mod watch;

use std::io::{IsTerminal, Write};
use std::pin::pin;
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::Context;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::time::Instant;

use crate::exit;
use crate::load::{self, LoadOutcome, StopReason};
use crate::plan::{LoadPlan, Plan, Stop};
use crate::report::progress::Progress;
use crate::report::{self, terminal};
use crate::result::RunResult;
use crate::target;
use watch::{NotStarted, Watched};

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

async fn session(plan: Plan, prepared: load::Prepared) -> anyhow::Result<Finished> {
    let origin = Instant::now();
    let mut signals = Signals::new()?;
    let echo = !plan.output.json && std::io::stderr().is_terminal();
    let mut watched = match &plan.watch {
        Some(watch) => {
            let endpoint = watch::endpoint(&plan.load);
            match watch::start(watch, endpoint, origin, echo, &mut signals).await? {
                Ok(watched) => Some(watched),
                Err(not_started) => {
                    let code = match not_started {
                        NotStarted::Interrupted => exit::INTERRUPTED,
                        NotStarted::Failed { why, stderr_tail } => {
                            report_not_started(&why, &stderr_tail);
                            exit::TARGET
                        }
                    };
                    write_failed_junit(&plan)?;
                    return Ok(Finished { code, result: None });
                }
            }
        }
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
    let mut profiles = Vec::new();
    if let Some(watched) = &mut watched {
        if !signals.received && watched.alive() {
            watched.floor("load").await;
            let cooldown = watched.plan.cooldown;
            watched
                .idle("cooldown", cooldown, origin, &mut signals)
                .await;
            watched.floor("cooldown").await;
            let mut so_far = outcome::build(&plan, &outcome, origin);
            watched.fill(&mut so_far);
            let why = cpu_trace::wanted(watched.plan.profile, &so_far);
            if let (Some(why), true) = (why, watched.node_processes() > 0) {
                if !signals.received && watched.alive() {
                    profiles = cpu_trace::run(watched, &plan, why, origin, &mut signals).await;
                }
            }
        }
        watched.stop().await;
    }
    let mut result = outcome::build(&plan, &outcome, origin);
    if let Some(watched) = &watched {
        watched.fill(&mut result);
    }
    drop(watched);
    result.profiles = profiles;
    crate::analyse::annotate(&mut result);
    if let Some(watch) = &plan.watch {
        let trace = heap_trace::after_run(&plan, watch, &result, origin, &mut signals).await;
        result.heap_trace = trace.record;
        result.heap = trace.heap;
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

/// Says why the target never served, with the last lines of its stderr.
fn report_not_started(why: &str, stderr_tail: &[String]) {
    eprintln!("error: {why}");
    if !stderr_tail.is_empty() {
        eprintln!("last lines of the target's stderr:");
        for line in stderr_tail {
            eprintln!("  {line}");
        }
    }
}

/// With `--junit`, a failed suite for a target that failed before the load.
fn write_failed_junit(plan: &Plan) -> anyhow::Result<()> {
    if let Some(path) = &plan.output.junit {
        let name = plan.scenario.as_deref().unwrap_or("harness");
        let why = "the target failed before the load (see its stderr)";
        let xml =
            report::junit::render(&[report::junit::Suite::failed(name, &plan.thresholds, why)]);
        crate::report::files::write_whole(path, xml.as_bytes())?;
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
