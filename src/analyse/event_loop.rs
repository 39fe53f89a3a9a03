//! The Node event loop: blocked by long synchronous work, slowed by garbage collection, and
//! listeners piling up on an emitter.
//!
//! - [`BLOCKED_DELAY_MS`]: the event-loop delay of each interval says how long callbacks waited
//!   for the loop (weighted by the time each interval covers: a blocked loop reports late). A healthy server under full load measured 0.6-1.2 ms median and under 7 ms
//!   in 90 % of intervals here (hello, bounded cache); one that allocates 1 MB per request,
//!   10-15 ms (GC pauses); one that computes 20 ms per request, ~200 ms, since the loop runs all
//!   the queued handlers back to back. When 10 % of intervals see a delay of 50 ms or more,
//!   every request queued behind that work waits that long: the loop is blocked.
//! - [`GC_SHARE`], [`GC_SHARE_HIGH`], [`GC_PAUSE_MS`]: share of the load's wall time spent in
//!   GC pauses. A hello server at 35,000 requests/s spent 8 % (young-generation scavenges of
//!   request garbage, which is normal); 1 MB of garbage per request, 10 %. From 15 % the
//!   collector takes a share worth reporting; from 30 %, it dominates and is worth fixing.
//!   Single pauses are shown but not judged alone: on a shared machine a pause's wall time
//!   includes preemption (a 110 ms pause was seen here in a 5 MB heap).
//! - [`LONG_CALLBACK_MS`]: a loop delayed that long is blocked when single callbacks are long,
//!   and is only busy when many short ones queue up: a server at capacity with 1 ms of work
//!   per request and 100 requests in flight delays its loop by ~100 ms too, but no callback
//!   holds it long and the fix is capacity, not moving work off the loop. So the delay is
//!   read with the loop's time per request (utilisation × load time / responses): from 10 ms
//!   a request's own callbacks hold every other request and timer back noticeably (the
//!   20 ms handler of `blocked-loop.js`); below it, with the loop saturated, the delay is
//!   queueing ([`queueing_at_capacity`]). A delayed loop that is not saturated is blocked by
//!   something long whatever the requests cost (a timer's synchronous work, a GC pause).
//! - Listener leaks come from `MaxListenersExceededWarning`. Node marks the event's listener
//!   array as warned and creates a new, unmarked array only once every listener is removed: a
//!   second warning for the same emitter and event proves the listeners were removed in
//!   between (they pile up under concurrency but do not leak); a leak warns exactly once.

use super::capacity::SATURATED_ELU;
use super::{Finding, LoadWindow};
use crate::result::{NodeProcess, RunResult};

/// Event-loop delay (ms) that, for at least 10 % of the load's time, means a blocked loop.
pub const BLOCKED_DELAY_MS: f64 = 50.0;
/// Share of time in GC pauses worth reporting.
pub const GC_SHARE: f64 = 0.15;
/// Share of time in GC pauses that dominates.
pub const GC_SHARE_HIGH: f64 = 0.30;
/// Event-loop time per request (ms) from which a delayed loop is blocked by long callbacks,
/// not queueing behind short ones.
pub const LONG_CALLBACK_MS: f64 = 10.0;
/// Warnings for the same emitter and event at least this often mean listeners are removed.
const REPEATED: usize = 2;

/// The event-loop findings of every Node process; `per_request` is the loop's time per
/// request, ms.
pub fn findings(result: &RunResult, window: &LoadWindow, per_request: Option<f64>) -> Vec<Finding> {
    let mut out = Vec::new();
    for process in &result.node {
        out.extend(blocked(process, window, per_request));
        out.extend(gc_pressure(process, window));
        out.extend(listener_leaks(process));
    }
    out
}

/// A delayed loop whose requests are short and whose loop was saturated was queueing at
/// capacity, not blocked: the capacity finding takes the delay, and the blocked-loop finding
/// goes (see [`LONG_CALLBACK_MS`]).
pub fn queueing_at_capacity(findings: &mut Vec<Finding>) {
    let Some(at) = findings.iter().position(|f| {
        matches!(f, Finding::BlockedEventLoop { per_request_ms: Some(per), elu, .. }
            if *per < LONG_CALLBACK_MS && *elu >= SATURATED_ELU)
    }) else {
        return;
    };
    let Finding::BlockedEventLoop { delay_p90_ms, .. } = &findings[at] else {
        return;
    };
    let delay = *delay_p90_ms;
    let Some(Finding::CpuSaturated { queued_ms, .. }) = findings
        .iter_mut()
        .find(|f| matches!(f, Finding::CpuSaturated { .. }))
    else {
        return;
    };
    *queued_ms = Some(delay);
    findings.remove(at);
}

fn blocked(
    process: &NodeProcess,
    window: &LoadWindow,
    per_request: Option<f64>,
) -> Option<Finding> {
    let intervals = load_intervals(process, window);
    let total: f64 = intervals.iter().map(|i| i.0).sum();
    if intervals.len() < 2 || total <= 0.0 {
        return None;
    }
    // Weighted by time: a blocked loop sends its samples late, so a few long intervals can
    // cover most of the load (a queue of 100 requests of 80 ms is one 8 s interval).
    let mut by_delay: Vec<(f64, f64, f64)> = intervals.clone();
    by_delay.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut covered = 0.0;
    let mut p90 = by_delay[by_delay.len() - 1].1;
    for &(length, delay, _) in &by_delay {
        covered += length;
        if covered >= 0.9 * total {
            p90 = delay;
            break;
        }
    }
    let elu = intervals.iter().map(|i| i.0 * i.2).sum::<f64>() / total;
    (p90 >= BLOCKED_DELAY_MS).then(|| Finding::BlockedEventLoop {
        pid: process.pid,
        delay_p90_ms: p90,
        delay_max_ms: by_delay[by_delay.len() - 1].1,
        elu,
        per_request_ms: per_request,
        hot: None,
        consequence: None,
    })
}

/// The probe's intervals that overlap the load, as (seconds of the load they cover, maximum
/// loop delay, utilisation); the interval that ends just after the load is included, since
/// it reports on the load's last moments.
fn load_intervals(process: &NodeProcess, window: &LoadWindow) -> Vec<(f64, f64, f64)> {
    let (start, end) = (window.start(), window.start() + window.length());
    let mut out = Vec::new();
    let mut previous = start;
    for sample in process.samples.iter().filter(|s| s.t > start) {
        let covered = sample.t.min(end) - previous.max(start);
        if covered > 0.0 {
            out.push((covered, sample.delay_max, sample.elu));
        }
        previous = sample.t;
        if sample.t >= end {
            break;
        }
    }
    out
}

fn gc_pressure(process: &NodeProcess, window: &LoadWindow) -> Option<Finding> {
    let in_load = || {
        process
            .gc
            .iter()
            .filter(|gc| window.contains(gc.t))
            .filter(|gc| !process.floors.iter().any(|f| (f.t - gc.t).abs() < 0.5))
    };
    // A busy process's GC events are observed in some intervals only: shares are of the
    // observed time, overall and per second.
    let mut seconds: std::collections::BTreeMap<i64, (f64, usize, usize)> =
        std::collections::BTreeMap::new();
    for sample in process.samples.iter().filter(|s| window.contains(s.t)) {
        let entry = seconds.entry(sample.t.floor() as i64).or_default();
        entry.2 += 1;
        entry.1 += usize::from(sample.gc_observed);
    }
    let (observed, total) = seconds
        .values()
        .fold((0, 0), |(o, t), &(_, so, st)| (o + so, t + st));
    let observed = if total == 0 {
        1.0
    } else {
        observed as f64 / total as f64
    };
    if observed == 0.0 {
        return None;
    }
    let share = in_load().map(|gc| gc.ms).sum::<f64>() / 1000.0 / (window.length() * observed);
    let longest = in_load().map(|gc| gc.ms).fold(0.0, f64::max);
    // Share of each second of the load spent in GC; the worst second is reported.
    for gc in in_load() {
        seconds.entry(gc.t.floor() as i64).or_default().0 += gc.ms / 1000.0;
    }
    let worst_second = seconds
        .values()
        .map(|&(gc, so, st)| match (so, st) {
            (0, 0) => gc,
            (0, _) => 0.0,
            _ => gc * st as f64 / so as f64,
        })
        .fold(0.0, f64::max)
        .min(1.0);
    (share >= GC_SHARE).then(|| Finding::GcPressure {
        pid: process.pid,
        share,
        worst_second,
        longest_ms: longest,
        collections: in_load().count(),
        observed,
        garbage: None,
        consequence: None,
    })
}

fn listener_leaks(process: &NodeProcess) -> Vec<Finding> {
    let mut seen: Vec<(String, String, usize, usize)> = Vec::new();
    for (i, warning) in process.warnings.iter().enumerate() {
        if warning.name != "MaxListenersExceededWarning" {
            continue;
        }
        let key = (
            warning.emitter.clone().unwrap_or_default(),
            warning.event.clone().unwrap_or_default(),
        );
        let times = warning.occurrences as usize;
        match seen.iter_mut().find(|s| s.0 == key.0 && s.1 == key.1) {
            Some(entry) => entry.3 += times,
            None => seen.push((key.0, key.1, i, times)),
        }
    }
    seen.into_iter()
        .map(|(emitter, event, first, times)| {
            let warning = &process.warnings[first];
            Finding::ListenerLeak {
                pid: process.pid,
                emitter,
                event,
                count: warning.count.unwrap_or(0),
                location: warning.location.clone(),
                repeated: times >= REPEATED,
            }
        })
        .collect()
}
