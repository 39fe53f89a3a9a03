//! The capacity search (`--find-max`): a closed-model probe picks the first rate (unless
//! `--start`), then open-model steps of `--step-duration` each, judged on their own, at the
//! rates [`crate::analyse::search`] chooses, until the answer is confirmed, harness or the
//! connections are the limit, the target exits, a signal arrives, or 20 steps or
//! `--max-duration` have run. The step at the answer is the run's measured load; the others
//! are `search` phases.

use std::time::Duration;

use super::watch::Watched;
use super::{drive_load, outcome, LoadRun, Session};
use crate::analyse::search;
use crate::load::{self, LoadOutcome};
use crate::plan::{FindMax, Plan, Stop};
use crate::result::{
    Capacity, CapacityLimit, CapacityStep, LimitKind, Phase, PhaseName, RunResult, SearchEnd,
};

/// The closed-model probe's length.
const PROBE: Duration = Duration::from_secs(2);
/// The unmeasured start of each step, while its connections open and the server settles
/// with them: a second, and a second more per 500 connections, up to 3 s (at 1,000
/// connections and 1 s, the connect storm still reached a step's p99 on 2 cores).
fn step_warmup(connections: usize) -> Duration {
    Duration::from_secs_f64((1.0 + connections as f64 / 500.0).min(3.0))
}
/// How much longer than planned a step may run before it is stopped.
const SLACK: Duration = Duration::from_secs(2);

/// What the search gives the run: the outcome of the step at the answer (or of the last
/// step), the plan that step ran, and the search's record.
pub(super) struct Searched {
    pub outcome: LoadOutcome,
    pub plan: Plan,
    pub capacity: Capacity,
}

/// Runs the search.
pub(super) async fn search(
    ctx: &Session<'_>,
    find: &FindMax,
    mut watched: Option<&mut Watched>,
) -> anyhow::Result<Searched> {
    let plan = ctx.plan;
    let began = std::time::Instant::now();
    let say = |line: String| {
        if !plan.output.json {
            eprintln!("{line}");
        }
    };
    let mut rules: Vec<String> = find.rules.iter().map(|r| r.text.clone()).collect();
    rules.extend(search::ALWAYS.iter().map(|r| r.to_string()));
    let mut capacity = Capacity::before(rules, find.precision);
    let mut last: Option<(LoadOutcome, Plan)> = None;
    let start = match find.start {
        Some(rate) => rate,
        None => {
            let mut probe = plan.clone();
            probe.load.stop = Stop::After(PROBE);
            probe.load.rate = None;
            probe.load.stages.clear();
            let outcome = drive(ctx, &probe, watched.as_deref_mut(), PROBE).await?;
            let rate = outcome.totals.completed as f64 / outcome.elapsed.as_secs_f64().max(0.001);
            capacity.probe_rate = Some(search::round_rate(rate));
            say(format!(
                "capacity search: a {} s closed-model probe served {} req/s; the first step offers half",
                PROBE.as_secs(),
                search::thousands(rate)
            ));
            let drain = settle(outcome_p99(&outcome), outcome.unfinished, rate);
            last = Some((outcome, probe));
            pause(ctx, drain).await;
            (rate / 2.0).max(search::MIN_RATE)
        }
    };
    // The outcomes of passing steps, by rate (the latest at each), for the answer's figures.
    let mut passing: Vec<(f64, LoadOutcome, Plan)> = Vec::new();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let end = loop {
        if ctx.signals.received() {
            break SearchEnd::Interrupted;
        }
        if watched.as_deref_mut().is_some_and(|w| !w.alive()) {
            break SearchEnd::TargetExited;
        }
        let Some(rate) = search::next_rate(&capacity.steps, start, find.precision) else {
            break if search::answer(&capacity.steps).is_some() {
                SearchEnd::Found
            } else {
                SearchEnd::NonePassed
            };
        };
        if capacity.steps.len() >= search::MAX_STEPS
            || began.elapsed() + find.step + step_warmup(plan.load.connections) > find.max_duration
        {
            break SearchEnd::OutOfSteps;
        }
        let mut step_plan = plan.clone();
        step_plan.load.rate = Some(rate);
        step_plan.load.stages.clear();
        step_plan.load.stop = Stop::After(find.step);
        // Each step opens its connections afresh: at a thousand of them, the connect storm
        // would be in the step's latency. They open in an unmeasured second at the rate.
        step_plan.load.warmup = step_warmup(plan.load.connections);
        step_plan.load.bailout = None;
        let cpu_before = crate::sample::own_cpu_seconds();
        let t0 = ctx.now();
        let outcome = drive(ctx, &step_plan, watched.as_deref_mut(), find.step).await?;
        let t1 = ctx.now();
        let harness_cpu =
            100.0 * (crate::sample::own_cpu_seconds() - cpu_before) / (t1 - t0).max(0.001);
        let result = outcome::build(&step_plan, &outcome, ctx.origin);
        let mut step = step_record(&result, &outcome, rate, harness_cpu);
        // For the sentence if harness is the limit; the analysis fills it again (and the
        // target's CPU) from the same samples over the same window.
        step.machine_cpu = watched
            .as_deref()
            .and_then(|w| w.machine_cpu_between(step.start, step.end))
            .map(|machine| (machine * 10.0).round() / 10.0);
        let failed: Vec<String> = find
            .rules
            .iter()
            .map(|rule| rule.evaluate(&result))
            .filter(|o| !o.passed)
            .map(|o| format!("{}: {}", o.threshold, o.actual))
            .collect();
        let tail = result
            .series
            .iter()
            .rev()
            .find(|s| s.is_full())
            .map(|s| s.requests as f64);
        search::judge(&mut step, tail, failed);
        if let Some(watched) = watched.as_deref_mut() {
            watched.phases.push(Phase::new(PhaseName::Search, t0, t1));
        }
        say(format!(
            "  step {}: {} req/s offered, {} served, p99 {}: {}",
            capacity.steps.len() + 1,
            search::thousands(rate),
            search::thousands(step.achieved),
            crate::units::short_millis(step.latency_p99),
            if step.passed {
                "passed".to_string()
            } else {
                format!("failed ({})", step.why.join("; "))
            }
        ));
        let passed = step.passed;
        let drain = settle(step.latency_p99, step.unfinished, step.achieved);
        let stop = if passed {
            None
        } else if search::harness_limited(&step, plan.load.workers, cores) {
            capacity.limit = search::harness_limit(&step, plan.load.workers, cores);
            Some(SearchEnd::HarnessLimit)
        } else if search::connection_limited(
            &step,
            plan.load.connections * plan.load.pipelining,
            (lowest_service(&capacity.steps, &step), step.service_p50),
        ) {
            capacity.limit =
                search::connections_limit(plan.load.connections, step.service_p50, rate);
            Some(SearchEnd::ConnectionLimit)
        } else {
            None
        };
        capacity.steps.push(step);
        if passed {
            passing.retain(|(r, _, _)| *r != rate);
            passing.push((rate, outcome, step_plan));
        } else {
            last = Some((outcome, step_plan));
        }
        if let Some(stop) = stop {
            break stop;
        }
        pause(ctx, drain).await;
    };
    capacity.max_rate = search::answer(&capacity.steps);
    capacity.end = match end {
        SearchEnd::Found if !search::confirmed(&capacity.steps, find.precision) => {
            SearchEnd::OutOfSteps
        }
        other => other,
    };
    capacity.partial = !matches!(capacity.end, SearchEnd::Found | SearchEnd::NonePassed);
    if capacity.end == SearchEnd::TargetExited {
        let at = capacity.steps.last().map_or(0.0, |s| s.rate);
        capacity.limit = CapacityLimit {
            kind: LimitKind::TargetExited,
            sentence: format!(
                "the target exited during the step at {} req/s",
                search::thousands(at)
            ),
            evidence: Vec::new(),
        };
    }
    let answer = capacity.max_rate;
    let chosen = answer
        .and_then(|rate| passing.iter().position(|(r, _, _)| *r == rate))
        .map(|at| passing.swap_remove(at))
        .map(|(_, outcome, plan)| (outcome, plan))
        .or(last)
        .or_else(|| passing.pop().map(|(_, outcome, plan)| (outcome, plan)));
    let Some((outcome, step_plan)) = chosen else {
        anyhow::bail!("the capacity search ran no load");
    };
    if let Some(watched) = watched {
        // The step at the answer is the measured load, not a search phase.
        let start = outcome
            .measure_start
            .saturating_duration_since(ctx.origin)
            .as_secs_f64();
        watched
            .phases
            .retain(|p| !(p.name == PhaseName::Search && (p.start - start).abs() < 0.5));
    }
    Ok(Searched {
        outcome,
        plan: step_plan,
        capacity,
    })
}

/// How long the server needs to finish what the last load left it: requests a load stops
/// waiting for are still queued there, and would wait in front of the next step's, and it
/// closes the load's connections as the next step opens its own. About the slowest response
/// of that load, or its unfinished requests at the rate it served them, from [`MIN_SETTLE`]
/// to [`MAX_SETTLE`].
fn settle(p99_ms: f64, unfinished: u64, served: f64) -> Duration {
    let backlog = if served > 0.0 {
        unfinished as f64 / served
    } else {
        0.0
    };
    Duration::from_secs_f64(
        (p99_ms / 1000.0)
            .max(backlog)
            .clamp(MIN_SETTLE.as_secs_f64(), MAX_SETTLE.as_secs_f64()),
    )
}

/// The shortest pause between steps: a thousand connections closing at once (and the
/// garbage they leave) delayed the next step's first requests by 150 ms at 50 ms pauses.
const MIN_SETTLE: Duration = Duration::from_secs(1);
/// The longest pause between steps.
const MAX_SETTLE: Duration = Duration::from_secs(5);

/// The 99th percentile of a load's latency, ms.
fn outcome_p99(outcome: &LoadOutcome) -> f64 {
    outcome.totals.latency.value_at_quantile(0.99) as f64 / 1000.0
}

/// Idles for `length`, or until a signal.
async fn pause(ctx: &Session<'_>, length: Duration) {
    tokio::select! {
        () = tokio::time::sleep(length) => {}
        () = ctx.signals.wait() => {}
    }
}

/// The service time (median from the actual send) at the lowest rate tried.
fn lowest_service(steps: &[CapacityStep], this: &CapacityStep) -> f64 {
    steps
        .iter()
        .chain(std::iter::once(this))
        .min_by(|a, b| a.rate.total_cmp(&b.rate))
        .map_or(0.0, |s| s.service_p50)
}

/// One load of the search, bounded in time.
async fn drive(
    ctx: &Session<'_>,
    plan: &Plan,
    watched: Option<&mut Watched>,
    length: Duration,
) -> anyhow::Result<LoadOutcome> {
    let prepared = load::prepare(&plan.load)?;
    let spec = LoadRun {
        plan: &plan.load,
        progress: false,
        during: "the capacity search",
        limit: Some(length + plan.load.warmup + SLACK),
    };
    drive_load(spec, prepared, watched, &ctx.signals).await
}

/// A step's figures from its result and outcome.
fn step_record(
    result: &RunResult,
    outcome: &LoadOutcome,
    rate: f64,
    harness_cpu: f64,
) -> CapacityStep {
    let totals = &outcome.totals;
    let seconds = outcome.elapsed.as_secs_f64().max(0.001);
    let service = totals
        .uncorrected
        .as_ref()
        .filter(|h| !h.is_empty())
        .map_or(result.latency.percentiles.p50, |h| {
            h.value_at_quantile(0.5) as f64 / 1000.0
        });
    CapacityStep {
        rate,
        achieved: search::round_rate(totals.completed as f64 / seconds),
        start: result.measure_start,
        end: round3(result.measure_start + result.duration),
        sent: totals.sent,
        completed: totals.completed,
        latency_p50: result.latency.percentiles.p50,
        latency_p99: result.latency.percentiles.p99,
        latency_max: result.latency.max,
        service_p50: round3(service),
        errors: result.errors,
        late: totals.late,
        unfinished: outcome.unfinished,
        utilisation: None,
        cpu: None,
        machine_cpu: None,
        harness_cpu: (harness_cpu * 10.0).round() / 10.0,
        harness_delay_p99: totals.delay_p99_ms(),
        passed: false,
        why: Vec::new(),
    }
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}
