//! The capacity search (`--find-max`), as pure functions of the steps so far: which rate to
//! try next, whether a step met the rules that are always added, whether harness or the
//! connections rather than the server capped it, and what limited the server at the answer.
//!
//! - The rate doubles from the first until a step fails, then halves the interval between the
//!   highest passing rate below the lowest failing one and that failing rate, until the two
//!   are within the precision; then one more step at the passing rate confirms it. A failed
//!   confirmation makes that rate a failing one and the bisection goes on below it.
//! - [`ERRORS_AT_MOST`]: a step with 1 % of its requests failing fails.
//! - [`KEPT_UP`], [`LATE_AT_MOST`]: requests in flight must not grow over a step. A server
//!   that cannot keep up serves fewer responses a second than offered; its queue grows by the
//!   difference while a short step's p99 may still look fine. So the responses of the step's
//!   last full second must be 95 % of the offered rate, and no more than 1 % of the requests
//!   may be sent late (every connection busy: the queue has reached the connection count).
//! - [`HARNESS_BUSY`]: a failing step during which harness used 90 % of its workers' cores
//!   says nothing about the server; nor does one during which harness itself was [`late`]:
//!   its workers woke for their own timers later, at p99, than a send may be before it
//!   counts late, and by half the step's p99 latency or more. On a machine other work
//!   crowds, harness waits for a core with CPU to spare, and its wait is in every latency it
//!   measures.
//! - [`CONNECTIONS_BUSY`]: a failing step whose requests were sent late while each took no
//!   more than twice as long (from its actual send) as at the lowest rate is capped by the
//!   connections: `c` connections at `L` per request carry `c / L` requests a second.
//! - The limit: the busiest loop at [`SATURATED_ELU`] or more at the first failing rate is the
//!   event loop (named by the CPU trace's hot code when one ran); under it, a loop at
//!   [`STARVED_ELU`] or more whose process got under [`CROWDED_CPU_SHARE`] of that in CPU on
//!   a machine at [`MACHINE_BUSY`] waited for a core (the machine is the limit); otherwise
//!   the requests were waiting (named by the I/O trace's top operation when one ran).

use super::capacity::SATURATED_ELU;
use super::generator::{late, MACHINE_BUSY};
use crate::result::{
    Capacity, CapacityLimit, CapacityStep, Evidence, LimitKind, ProcessSample, RunResult, SearchEnd,
};
use crate::units::short_millis as millis;

/// At most this many steps in a search.
pub(crate) const MAX_STEPS: usize = 20;
/// The lowest rate tried, requests per second.
pub(crate) const MIN_RATE: f64 = 1.0;
/// A step fails from this share of failed requests.
pub(crate) const ERRORS_AT_MOST: f64 = 0.01;
/// The last full second must serve this share of the offered rate.
pub(crate) const KEPT_UP: f64 = 0.95;
/// A step fails from this share of requests sent late.
pub(crate) const LATE_AT_MOST: f64 = 0.01;
/// harness's CPU, share of its workers' cores, from which it is the limit.
pub(crate) const HARNESS_BUSY: f64 = 0.9;
/// How much slower than at the lowest rate a request may be (from its actual send) for late
/// sends to be the connections' doing rather than the server's.
pub(crate) const CONNECTIONS_BUSY: f64 = 2.0;

/// The rules every step must meet besides the user's, as the result lists them.
pub(crate) const ALWAYS: [&str; 2] = ["errors < 1%", "requests in flight not growing"];

/// A rate rounded for display and for the next step: whole requests from 100 a second, a
/// tenth below.
pub(crate) fn round_rate(rate: f64) -> f64 {
    if rate >= 100.0 {
        rate.round()
    } else {
        (rate * 10.0).round() / 10.0
    }
}

/// The lowest failing rate, and the highest passing rate below it (or the highest passing
/// rate when none failed).
fn bounds(steps: &[CapacityStep]) -> (Option<f64>, Option<f64>) {
    let high = steps
        .iter()
        .filter(|s| !s.passed)
        .map(|s| s.rate)
        .min_by(f64::total_cmp);
    let low = steps
        .iter()
        .filter(|s| s.passed && high.is_none_or(|h| s.rate < h))
        .map(|s| s.rate)
        .max_by(f64::total_cmp);
    (low, high)
}

/// The highest rate that passed below every failing one: the answer so far.
pub(crate) fn answer(steps: &[CapacityStep]) -> Option<f64> {
    bounds(steps).0
}

/// The rate of the next step, or `None` when the search is done: the answer is within the
/// precision of the failing rate above it and two steps passed at it, or no rate down to
/// [`MIN_RATE`] passed.
pub(crate) fn next_rate(steps: &[CapacityStep], start: f64, precision: f64) -> Option<f64> {
    if steps.is_empty() {
        return Some(round_rate(start.max(MIN_RATE)));
    }
    match bounds(steps) {
        (Some(low), None) => Some(round_rate(low * 2.0)),
        (None, Some(high)) => {
            let half = round_rate(high / 2.0);
            (half >= MIN_RATE && half < high).then_some(half)
        }
        (Some(low), Some(high)) => {
            if (high - low) / low <= precision || round_rate((low + high) / 2.0) <= low {
                let passes = steps.iter().filter(|s| s.passed && s.rate == low).count();
                (passes < 2).then_some(low)
            } else {
                Some(round_rate((low + high) / 2.0))
            }
        }
        (None, None) => None,
    }
}

/// Whether the answer so far is confirmed: converged to the precision, and passed twice.
pub(crate) fn confirmed(steps: &[CapacityStep], precision: f64) -> bool {
    let (Some(low), Some(high)) = bounds(steps) else {
        return false;
    };
    let converged = (high - low) / low <= precision || round_rate((low + high) / 2.0) <= low;
    converged && steps.iter().filter(|s| s.passed && s.rate == low).count() >= 2
}

/// Judges a step by the rules always added, given the responses of its last full second
/// (`tail`, per second) and the user's rules it failed (`failed`, each with its value).
pub(crate) fn judge(step: &mut CapacityStep, tail: Option<f64>, failed: Vec<String>) {
    let mut why = failed;
    let answered = step.completed + step.errors;
    if answered > 0 && step.errors as f64 / answered as f64 >= ERRORS_AT_MOST {
        why.push(format!(
            "errors {:.1} % (at most 1 %)",
            100.0 * step.errors as f64 / answered as f64
        ));
    } else if answered == 0 {
        why.push("no response".to_string());
    }
    if let Some(tail) = tail {
        if tail < KEPT_UP * step.rate {
            why.push(format!(
                "requests in flight grew: the last second served {} of {} req/s",
                thousands(tail),
                thousands(step.rate)
            ));
        }
    }
    if step.sent > 0 && step.late as f64 / step.sent as f64 > LATE_AT_MOST {
        why.push(format!(
            "requests in flight grew to the connections: {:.0} % sent late",
            100.0 * step.late as f64 / step.sent as f64
        ));
    }
    step.passed = why.is_empty();
    step.why = why;
}

/// Whether harness, not the server, capped a failing step: its CPU at [`HARNESS_BUSY`] of
/// its `workers`' cores (at most the machine's), or [`delayed`].
pub(crate) fn harness_limited(step: &CapacityStep, workers: usize, cores: usize) -> bool {
    !step.passed && (busy(step, workers, cores) || delayed(step))
}

/// harness used [`HARNESS_BUSY`] of its `workers`' cores (at most the machine's).
fn busy(step: &CapacityStep, workers: usize, cores: usize) -> bool {
    let cores = workers.min(cores.max(1)).max(1) as f64;
    step.harness_cpu >= HARNESS_BUSY * 100.0 * cores
}

/// harness was late itself during the step ([`late`]).
fn delayed(step: &CapacityStep) -> bool {
    late(step.harness_delay_p99, step.latency_p99)
}

/// Whether the connections capped a failing step: sends late while each request, from its
/// actual send, took at most [`CONNECTIONS_BUSY`] times what it did at the lowest rate, and
/// the requests in flight (served rate × that time, Little's law) filled half the
/// `connections` or more (late sends with idle connections are something else: a burst).
pub(crate) fn connection_limited(
    step: &CapacityStep,
    connections: usize,
    service: (f64, f64),
) -> bool {
    let (lowest, now) = service;
    let in_flight = step.achieved * now / 1000.0;
    !step.passed
        && in_flight >= 0.5 * connections as f64
        && step.sent > 0
        && step.late as f64 / step.sent as f64 > LATE_AT_MOST
        && lowest > 0.0
        && now <= CONNECTIONS_BUSY * lowest
}

/// The sentence for a search capped by the connections.
pub(crate) fn connections_limit(
    connections: usize,
    per_request_ms: f64,
    rate: f64,
) -> CapacityLimit {
    let carry = if per_request_ms > 0.0 {
        connections as f64 * 1000.0 / per_request_ms
    } else {
        rate
    };
    CapacityLimit {
        kind: LimitKind::Connections,
        sentence: format!(
            "-c {connections}, not the server, is the limit: {connections} connections at {} per request carry at most {} req/s; raise -c",
            millis(per_request_ms),
            thousands(carry)
        ),
        evidence: vec![evidence("sent late at", format!("{} req/s", thousands(rate)))],
    }
}

/// The sentence for a search capped by harness at `step`.
pub(crate) fn harness_limit(step: &CapacityStep, workers: usize, cores: usize) -> CapacityLimit {
    let mut evidence = vec![evidence(
        "harness CPU",
        format!("{:.0} % of a core with {workers} workers", step.harness_cpu),
    )];
    if let Some(delay) = step.harness_delay_p99 {
        evidence.push(self::evidence("harness late by (p99)", millis(delay)));
    }
    if let Some(machine) = step.machine_cpu {
        evidence.push(self::evidence(
            "machine CPU",
            format!("{machine:.0} % of {cores} cores"),
        ));
    }
    let advice = match (busy(step, workers, cores), step.harness_delay_p99) {
        (false, Some(delay)) => format!(
            "its workers woke {} late at p99 (the step's p99 was {}) with {:.0} % of a core{}, so the step measured harness's wait, not the server's; run harness on cores of its own, give it more workers (-w), or shard",
            millis(delay),
            millis(step.latency_p99),
            step.harness_cpu,
            step.machine_cpu
                .map(|m| format!(", on a machine {m:.0} % busy"))
                .unwrap_or_default()
        ),
        _ => "give it more workers (-w) or shards".to_string(),
    };
    CapacityLimit {
        kind: LimitKind::Harness,
        sentence: format!(
            "harness is the limit at {} req/s on this machine: {advice}",
            thousands(step.rate)
        ),
        evidence,
    }
}

/// Fills each step's utilisation and CPU from the samples, and the limit of a search that
/// ended on the server's account (found, out of steps, interrupted, none passed). Run by
/// the analysis, so a saved result read again says the same.
pub(crate) fn annotate(result: &mut RunResult) {
    let Some(mut capacity) = result.capacity.take() else {
        return;
    };
    for step in &mut capacity.steps {
        step.utilisation = utilisation(result, step.start, step.end).map(round3);
        let (start, end) = (step.start, step.end);
        let mean = |value: fn(&ProcessSample) -> f64| mean_sample(result, start, end, value);
        step.cpu = mean(|p| p.cpu).map(round1);
        step.machine_cpu = mean(|p| p.system_cpu).map(round1);
    }
    if matches!(
        capacity.end,
        SearchEnd::Found | SearchEnd::OutOfSteps | SearchEnd::Interrupted | SearchEnd::NonePassed
    ) {
        capacity.limit = limit(result, &capacity);
    }
    result.capacity = Some(capacity);
}

/// The first failing step above the answer: where the server stopped keeping up.
pub(crate) fn knee(capacity: &Capacity) -> Option<&CapacityStep> {
    let above = capacity.max_rate.unwrap_or(0.0);
    capacity
        .steps
        .iter()
        .filter(|s| !s.passed && s.rate > above)
        .min_by(|a, b| a.rate.total_cmp(&b.rate))
}

/// What a trace at the knee should name: `Some(true)` the hot code (the loop was the
/// limit), `Some(false)` the awaited operation (it idled), `None` neither (no probe).
pub(crate) fn knee_wants_profile(result: &RunResult) -> Option<bool> {
    let capacity = result.capacity.as_ref()?;
    if !matches!(
        capacity.end,
        SearchEnd::Found | SearchEnd::OutOfSteps | SearchEnd::NonePassed
    ) {
        return None;
    }
    let knee = knee(capacity)?;
    let elu = utilisation(result, knee.start, knee.end)?;
    Some(elu >= SATURATED_ELU)
}

/// The search's answer in one sentence, with the limit: "Capacity: 780 req/s with p99<50ms
/// (p99 41 ms at 780 req/s; at 1,600 req/s p99 was 2.1 s). Limit: the event loop, 98 %
/// busy, most of the time in `renderInvoice` (app.js:12)."
pub(crate) fn sentence(capacity: &Capacity) -> String {
    let rules: Vec<&str> = capacity
        .rules
        .iter()
        .map(String::as_str)
        .filter(|r| !ALWAYS.contains(r))
        .collect();
    let with = if rules.is_empty() {
        String::new()
    } else {
        format!(" with {}", rules.join(", "))
    };
    let at_answer = capacity.max_rate.and_then(|rate| {
        capacity
            .steps
            .iter()
            .rev()
            .find(|s| s.passed && s.rate == rate)
    });
    let knee = knee(capacity);
    let mut figures = Vec::new();
    if let Some(step) = at_answer {
        figures.push(format!(
            "p99 {} at {} req/s",
            millis(step.latency_p99),
            thousands(step.rate)
        ));
    }
    if let Some(step) = knee {
        figures.push(format!(
            "at {} req/s p99 was {}",
            thousands(step.rate),
            millis(step.latency_p99)
        ));
    }
    let figures = if figures.is_empty() {
        String::new()
    } else {
        format!(" ({})", figures.join("; "))
    };
    let head = match (capacity.max_rate, capacity.partial) {
        (Some(rate), false) => format!("Capacity: {} req/s{with}{figures}.", thousands(rate)),
        (Some(rate), true) => format!(
            "Capacity: at least {} req/s{with}{figures}, not confirmed: {}.",
            thousands(rate),
            end_words(capacity.end)
        ),
        (None, _) => {
            let lowest = capacity
                .steps
                .iter()
                .map(|s| s.rate)
                .min_by(f64::total_cmp)
                .unwrap_or(0.0);
            format!(
                "Capacity: no rate passed{with}, down to {} req/s{figures} ({}).",
                thousands(lowest),
                end_words(capacity.end)
            )
        }
    };
    if capacity.limit.sentence.is_empty() {
        head
    } else {
        format!("{head} Limit: {}.", capacity.limit.sentence)
    }
}

fn end_words(end: SearchEnd) -> &'static str {
    match end {
        SearchEnd::Found => "found",
        SearchEnd::NonePassed => "even the lowest rate failed",
        SearchEnd::HarnessLimit => "harness was the limit",
        SearchEnd::ConnectionLimit => "the connections were the limit",
        SearchEnd::TargetExited => "the target exited",
        SearchEnd::OutOfSteps => "out of steps or time (20 steps, --max-duration)",
        SearchEnd::Interrupted => "interrupted",
    }
}

fn limit(result: &RunResult, capacity: &Capacity) -> CapacityLimit {
    let Some(knee) = knee(capacity) else {
        return CapacityLimit {
            kind: LimitKind::Unknown,
            sentence: "no step failed, so no limit was reached".to_string(),
            evidence: Vec::new(),
        };
    };
    let at = format!("at {} req/s", thousands(knee.rate));
    let mut evidence_ = vec![
        evidence(&format!("p99 {at}"), millis(knee.latency_p99)),
        evidence(
            &format!("served {at}"),
            format!("{} req/s", thousands(knee.achieved)),
        ),
    ];
    if let Some(cpu) = knee.cpu {
        evidence_.push(evidence("target CPU", format!("{cpu:.0} % of a core")));
    }
    if let Some(delay) = loop_delay(result, knee.start, knee.end) {
        evidence_.push(evidence("event-loop delay (worst)", millis(delay)));
    }
    match knee.utilisation {
        Some(elu) if elu >= SATURATED_ELU => {
            evidence_.push(evidence(
                "event-loop utilisation",
                format!("{:.0} %", elu * 100.0),
            ));
            let hot = result.profiles.first().and_then(super::hot_code);
            let sentence = match &hot {
                Some(hot) => format!(
                    "the event loop, {:.0} % busy, most of the time in {}",
                    elu * 100.0,
                    hot.code
                ),
                None => format!("the event loop, {:.0} % busy", elu * 100.0),
            };
            if let Some(hot) = hot {
                evidence_.push(evidence(
                    "hot code (CPU trace)",
                    format!("{}, {:.0} % of the busy time", hot.code, hot.share * 100.0),
                ));
            }
            CapacityLimit {
                kind: LimitKind::EventLoop,
                sentence,
                evidence: evidence_,
            }
        }
        Some(elu) if starved(knee, elu) => {
            evidence_.push(evidence(
                "event-loop utilisation",
                format!("{:.0} %", elu * 100.0),
            ));
            let machine = knee
                .machine_cpu
                .map(|m| {
                    let cores = match cores(result) {
                        Some(cores) => format!("{cores} cores"),
                        None => "cores".to_string(),
                    };
                    evidence_.push(evidence("machine CPU", format!("{m:.0} % of {cores}")));
                    format!(" (the machine's {cores} were {m:.0} % busy)")
                })
                .unwrap_or_default();
            CapacityLimit {
                kind: LimitKind::Machine,
                sentence: format!(
                    "the machine, not the server: the event loop was {:.0} % busy but its process got {:.0} % of a core, so it waited for a core much of that time{machine}; run the target where it has a core of its own",
                    elu * 100.0,
                    knee.cpu.unwrap_or(0.0)
                ),
                evidence: evidence_,
            }
        }
        Some(elu) => {
            evidence_.push(evidence(
                "event-loop utilisation",
                format!("{:.0} %", elu * 100.0),
            ));
            let awaited = super::io_wait::awaited(result);
            let sentence = match &awaited {
                Some(awaited) => format!(
                    "waiting, with the event loop {:.0} % busy: most of each request's time awaits {}",
                    elu * 100.0,
                    awaited.name
                ),
                None => format!(
                    "waiting, with the event loop {:.0} % busy: a downstream service, a database, a pool or a queue",
                    elu * 100.0
                ),
            };
            if let Some(awaited) = awaited {
                evidence_.push(evidence(
                    "awaited most (I/O trace)",
                    format!("{}: {:.0} % of the time", awaited.name, awaited.share * 100.0),
                ));
            }
            CapacityLimit {
                kind: LimitKind::Waiting,
                sentence,
                evidence: evidence_,
            }
        }
        None => match (knee.cpu, cores(result)) {
            (Some(cpu), Some(cores)) if cpu >= SATURATED_ELU * 100.0 * cores.min(processes(result)) => CapacityLimit {
                kind: LimitKind::Cpu,
                sentence: format!("the target's CPU, {cpu:.0} % of a core"),
                evidence: evidence_,
            },
            (Some(cpu), _) => CapacityLimit {
                kind: LimitKind::Waiting,
                sentence: format!(
                    "waiting, with the target at {cpu:.0} % of a core: a downstream service, a database, a pool or a queue"
                ),
                evidence: evidence_,
            },
            (None, _) => CapacityLimit {
                kind: LimitKind::Unknown,
                sentence: "not measured: start the server under harness (-- COMMAND) to see what limits it".to_string(),
                evidence: evidence_,
            },
        },
    }
}

/// The busiest Node process's mean utilisation over `[start, end]`, weighted by time.
fn utilisation(result: &RunResult, start: f64, end: f64) -> Option<f64> {
    result
        .node
        .iter()
        .filter_map(|process| {
            let mut previous = start;
            let (mut sum, mut covered) = (0.0, 0.0);
            for sample in process.samples.iter().filter(|s| s.t > start) {
                let length = sample.t.min(end) - previous.max(start);
                if length > 0.0 {
                    sum += length * sample.elu;
                    covered += length;
                }
                previous = sample.t;
                if sample.t >= end {
                    break;
                }
            }
            (covered > 0.0).then(|| sum / covered)
        })
        .max_by(f64::total_cmp)
}

/// The worst loop delay over `[start, end]`, ms.
fn loop_delay(result: &RunResult, start: f64, end: f64) -> Option<f64> {
    result
        .node
        .iter()
        .flat_map(|p| p.samples.iter())
        .filter(|s| s.t > start && s.t <= end)
        .map(|s| s.delay_max)
        .max_by(f64::total_cmp)
}

/// The target's mean CPU over `(start, end]`, percent of one core.
/// The mean of `value` over the process samples from `start` (exclusive) to `end`.
fn mean_sample(
    result: &RunResult,
    start: f64,
    end: f64,
    value: fn(&ProcessSample) -> f64,
) -> Option<f64> {
    let points: Vec<f64> = result
        .process
        .as_ref()?
        .points
        .iter()
        .filter(|p| p.t > start && p.t <= end)
        .map(value)
        .collect();
    (!points.is_empty()).then(|| points.iter().sum::<f64>() / points.len() as f64)
}

/// Event-loop utilisation from which a loop whose process got under [`CROWDED_CPU_SHARE`]
/// of it in CPU, on a machine at [`MACHINE_BUSY`], was waiting for a core, not for I/O
/// (below it the loop idles more than it runs, and its CPU says little).
const STARVED_ELU: f64 = 0.5;
/// The share of the CPU a busy loop implies under which its process, on a machine with no
/// core to spare, was waiting for one. A loop blocked by its own work uses a core all the
/// time it is busy, and its process's other threads add to that; beside other tests,
/// short-work.js's loop was 61 to 88 % busy while its process got 40 to 45 % of a core.
const CROWDED_CPU_SHARE: f64 = 0.75;

/// The step's busiest loop was [`STARVED_ELU`] busy or more (under [`SATURATED_ELU`]) while
/// its process got under [`CROWDED_CPU_SHARE`] of that in CPU and the machine was at
/// [`MACHINE_BUSY`]: its callbacks were under way while their thread waited for a core
/// (utilisation counts that time). Without the machine's CPU, a loop blocked in a
/// synchronous call (`execSync`, a sync read) looks the same, so it is not judged.
fn starved(step: &CapacityStep, elu: f64) -> bool {
    let (Some(cpu), Some(machine)) = (step.cpu, step.machine_cpu) else {
        return false;
    };
    elu >= STARVED_ELU && cpu < CROWDED_CPU_SHARE * elu * 100.0 && machine >= MACHINE_BUSY
}

fn cores(result: &RunResult) -> Option<f64> {
    result
        .process
        .as_ref()?
        .points
        .first()
        .map(|p| p.cores.max(1) as f64)
}

fn processes(result: &RunResult) -> f64 {
    result
        .process
        .as_ref()
        .and_then(|p| p.points.last())
        .map_or(1.0, |p| p.processes.max(1) as f64)
}

fn evidence(label: &str, value: String) -> Evidence {
    Evidence {
        label: label.to_string(),
        value,
    }
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// A rate with thousands separated: 1,600; a tenth below 100.
pub(crate) fn thousands(rate: f64) -> String {
    let rate = round_rate(rate);
    if rate < 100.0 {
        return format!("{rate}");
    }
    let digits = format!("{}", rate as u64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that keeps up to `capacity` requests a second.
    fn step(rate: f64, capacity: f64) -> CapacityStep {
        CapacityStep {
            rate,
            passed: rate <= capacity,
            ..CapacityStep::default()
        }
    }

    /// Runs the search to its end against a server of `capacity`; returns the rates tried.
    fn search(start: f64, capacity: f64) -> (Vec<f64>, Option<f64>, bool) {
        let mut steps = Vec::new();
        while let Some(rate) = next_rate(&steps, start, 0.05) {
            assert!(steps.len() < MAX_STEPS, "{steps:?}");
            steps.push(step(rate, capacity));
        }
        let rates = steps.iter().map(|s| s.rate).collect();
        (rates, answer(&steps), confirmed(&steps, 0.05))
    }

    #[test]
    fn the_search_doubles_then_bisects_then_confirms() {
        let (rates, answer, confirmed) = search(100.0, 780.0);
        assert_eq!(rates[..4], [100.0, 200.0, 400.0, 800.0]);
        let answer = answer.unwrap();
        assert!((780.0 * 0.95..=780.0).contains(&answer), "{rates:?}");
        assert!(confirmed);
        assert_eq!(*rates.last().unwrap(), answer, "the last step confirms");
        assert!(rates.len() <= 10, "{rates:?}");
    }

    #[test]
    fn a_first_step_that_fails_halves_until_one_passes() {
        let (rates, answer, confirmed) = search(1000.0, 130.0);
        assert_eq!(rates[..4], [1000.0, 500.0, 250.0, 125.0]);
        let answer = answer.unwrap();
        assert!((130.0 * 0.95..=130.0).contains(&answer), "{rates:?}");
        assert!(confirmed);
    }

    #[test]
    fn a_failed_confirmation_moves_the_answer_below_it() {
        let mut steps = vec![step(100.0, 150.0), step(200.0, 150.0)];
        while let Some(rate) = next_rate(&steps, 100.0, 0.05) {
            // The first confirmation fails (noise at the edge); later ones pass.
            let confirming = steps.iter().any(|s| s.rate == rate && s.passed);
            let mut next = step(rate, 150.0);
            if confirming && !steps.iter().any(|s| !s.passed && s.rate <= 150.0) {
                next.passed = false;
            }
            steps.push(next);
            assert!(steps.len() < MAX_STEPS);
        }
        let failed_at = steps
            .iter()
            .filter(|s| !s.passed)
            .map(|s| s.rate)
            .fold(f64::INFINITY, f64::min);
        let answer = answer(&steps).unwrap();
        assert!(answer < failed_at && confirmed(&steps, 0.05), "{steps:?}");
    }

    #[test]
    fn nothing_passes_down_to_the_lowest_rate() {
        let (rates, answer, confirmed) = search(10.0, 0.5);
        assert_eq!(answer, None);
        assert!(!confirmed);
        assert!(*rates.last().unwrap() >= MIN_RATE);
    }

    #[test]
    fn a_step_that_falls_behind_or_fails_requests_fails() {
        let mut ok = CapacityStep {
            rate: 100.0,
            sent: 500,
            completed: 500,
            ..CapacityStep::default()
        };
        judge(&mut ok, Some(99.0), Vec::new());
        assert!(ok.passed, "{:?}", ok.why);
        let mut behind = ok.clone();
        judge(&mut behind, Some(80.0), Vec::new());
        assert!(!behind.passed && behind.why[0].contains("in flight grew"));
        let mut failing = ok.clone();
        failing.errors = 10;
        judge(
            &mut failing,
            Some(100.0),
            vec!["p99 < 50ms: 61 ms".to_string()],
        );
        assert_eq!(failing.why.len(), 2, "{:?}", failing.why);
        let mut late = ok.clone();
        late.late = 50;
        judge(&mut late, Some(100.0), Vec::new());
        assert!(!late.passed && late.why[0].contains("sent late"));
    }

    #[test]
    fn harness_and_connections_are_told_apart_from_the_server() {
        let mut step = CapacityStep {
            rate: 5000.0,
            sent: 1000,
            late: 300,
            harness_cpu: 185.0,
            ..CapacityStep::default()
        };
        assert!(harness_limited(&step, 2, 2));
        assert!(
            !harness_limited(&step, 4, 8),
            "185 % of 4 cores is not busy"
        );
        let mut crowded = CapacityStep {
            rate: 60.0,
            latency_p99: 68.0,
            harness_cpu: 29.0,
            harness_delay_p99: Some(57.0),
            machine_cpu: Some(96.0),
            ..CapacityStep::default()
        };
        assert!(
            harness_limited(&crowded, 1, 2),
            "harness woke 57 ms late for a p99 of 68 ms"
        );
        let limit = harness_limit(&crowded, 1, 2);
        assert!(
            limit.sentence.contains("57 ms late") && limit.sentence.contains("96 % busy"),
            "{}",
            limit.sentence
        );
        assert_eq!(limit.evidence.len(), 3);
        crowded.latency_p99 = 400.0;
        assert!(
            !harness_limited(&crowded, 1, 2),
            "57 ms of a 400 ms p99 is the server's"
        );
        crowded.latency_p99 = 16.0;
        crowded.harness_delay_p99 = Some(8.0);
        assert!(!harness_limited(&crowded, 1, 2), "8 ms late is on time");
        crowded.harness_delay_p99 = None;
        crowded.harness_cpu = 95.0;
        assert!(harness_limit(&crowded, 1, 2).sentence.contains("-w"));
        step.harness_cpu = 20.0;
        step.achieved = 2500.0;
        assert!(connection_limited(&step, 10, (4.0, 5.0)));
        assert!(
            !connection_limited(&step, 10, (4.0, 40.0)),
            "the server slowed"
        );
        assert!(
            !connection_limited(&step, 1000, (4.0, 5.0)),
            "12 requests in flight do not fill 1,000 connections"
        );
        let limit = connections_limit(10, 4.0, 2500.0);
        assert!(
            limit.sentence.starts_with("-c 10, not the server"),
            "{}",
            limit.sentence
        );
        assert!(limit.sentence.contains("2,500 req/s"), "{}", limit.sentence);
    }

    #[test]
    fn a_busy_loop_short_of_cpu_on_a_full_machine_waited_for_a_core_not_for_io() {
        let result: RunResult = serde_json::from_str(include_str!("testdata/base.json")).unwrap();
        let mut capacity = Capacity {
            max_rate: Some(200.0),
            ..Capacity::before(Vec::new(), 0.05)
        };
        let knee = CapacityStep {
            rate: 214.0,
            achieved: 214.0,
            latency_p99: 59.0,
            utilisation: Some(0.7),
            cpu: Some(33.0),
            machine_cpu: Some(99.0),
            ..CapacityStep::default()
        };
        capacity.steps.push(knee.clone());
        let limit = limit(&result, &capacity);
        assert_eq!(limit.kind, LimitKind::Machine, "{}", limit.sentence);
        assert!(
            limit
                .sentence
                .contains("70 % busy but its process got 33 % of a core")
                && limit.sentence.contains("99 % busy"),
            "{}",
            limit.sentence
        );
        capacity.steps[0].cpu = Some(60.0);
        assert_eq!(limit_kind(&result, &capacity), LimitKind::Waiting);
        capacity.steps[0].cpu = Some(40.0);
        capacity.steps[0].machine_cpu = Some(70.0);
        assert_eq!(
            limit_kind(&result, &capacity),
            LimitKind::Waiting,
            "with cores to spare, a loop busy without CPU was in a synchronous call"
        );
        capacity.steps[0].machine_cpu = None;
        assert_eq!(limit_kind(&result, &capacity), LimitKind::Waiting);
        capacity.steps[0] = CapacityStep {
            utilisation: Some(0.3),
            cpu: Some(5.0),
            ..knee
        };
        assert_eq!(
            limit_kind(&result, &capacity),
            LimitKind::Waiting,
            "a loop 30 % busy idles more than it runs"
        );
    }

    fn limit_kind(result: &RunResult, capacity: &Capacity) -> LimitKind {
        limit(result, capacity).kind
    }

    #[test]
    fn rates_read_with_thousands() {
        assert_eq!(thousands(1600.4), "1,600");
        assert_eq!(thousands(1234567.0), "1,234,567");
        assert_eq!(thousands(42.26), "42.3");
    }
}
