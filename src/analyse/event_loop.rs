//! The Node event loop blocked by long synchronous work.
//!
//! - [`BLOCKED_DELAY_MS`]: the event-loop delay of each interval says how long callbacks waited
//!   for the loop (weighted by the time each interval covers: a blocked loop reports late). A
//!   healthy server under full load measured 0.6-1.2 ms median and under 7 ms in 90 % of
//!   intervals here (hello, bounded cache); one that allocates 1 MB per request, 10-15 ms (GC
//!   pauses); one that computes 20 ms per request, ~200 ms, since the loop runs all the queued
//!   handlers back to back. When 10 % of intervals see a delay of 50 ms or more, every request
//!   queued behind that work waits that long: the loop is blocked.
//! - [`BLOCKED_CRITICAL_MS`]: from 200 ms (the 20 ms handler with ten requests queued) it is
//!   the run's main problem.
//! - [`LONG_CALLBACK_MS`]: a loop delayed that long is blocked when single callbacks are long,
//!   and is only busy when many short ones queue up: a server at capacity with 1 ms of work
//!   per request and 100 requests in flight delays its loop by ~100 ms too, but no callback
//!   holds it long and the fix is capacity, not moving work off the loop. So the delay is
//!   read with the loop's time per request (utilisation × load time / responses): from 10 ms
//!   a request's own callbacks hold every other request and timer back noticeably (the
//!   20 ms handler of `blocked-loop.js`); below it, with the loop saturated, the delay is
//!   queueing ([`queueing_at_capacity`]). A delayed loop that is not saturated is blocked by
//!   something long whatever the requests cost (a timer's synchronous work, a GC pause),
//!   unless the machine itself was saturated ([`starved_not_blocked`]): then short callbacks
//!   wait for a core, not for a long one (an express app with 2.6 ms per request showed
//!   68 ms of delay with the machine 98 % busy running other servers beside it).

use super::capacity::{Saturated, SATURATED_ELU};
use super::finding::{hot_evidence, pair, Detail, Finding, Hot};
use super::{gc, listeners, Found, LoadWindow};
use crate::result::{NodeProcess, RunResult, Severity};
use crate::units::short_millis as millis;

/// Event-loop delay (ms) that, for at least 10 % of the load's time, means a blocked loop.
pub(super) const BLOCKED_DELAY_MS: f64 = 50.0;
/// A blocked loop this bad (ms, 90th percentile of interval delays) is critical.
pub(super) const BLOCKED_CRITICAL_MS: f64 = 200.0;
/// Event-loop time per request (ms) from which a delayed loop is blocked by long callbacks,
/// not queueing behind short ones.
pub(super) const LONG_CALLBACK_MS: f64 = 10.0;

/// Long synchronous work blocks the event loop.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Blocked {
    /// The process.
    pub pid: u32,
    /// 90th percentile of the intervals' maximum delay, ms.
    pub delay_p90_ms: f64,
    /// Worst delay, ms.
    pub delay_max_ms: f64,
    /// Mean utilisation during the load.
    pub elu: f64,
    /// Event-loop time per request, ms: how long one request's callbacks hold the loop.
    pub per_request_ms: Option<f64>,
    /// What the CPU profile says holds it.
    pub hot: Option<Hot>,
}

impl Detail for Blocked {
    fn severity(&self) -> Severity {
        if self.delay_p90_ms >= BLOCKED_CRITICAL_MS {
            Severity::Critical
        } else {
            Severity::Warning
        }
    }

    fn title(&self) -> String {
        let holder = match (&self.hot, self.per_request_ms) {
            (Some(hot), Some(per)) if hot.app => format!(
                "{} holds it for about {} per request ({:.0} % of the busy time); ",
                hot.code,
                millis(per),
                hot.share * 100.0
            ),
            (_, Some(per)) => format!("each request holds it for about {}; ", millis(per)),
            _ => String::new(),
        };
        format!(
            "Blocked event loop: {holder}callbacks waited {:.0} ms or more for 10 % of the load (worst {:.0} ms)",
            self.delay_p90_ms, self.delay_max_ms
        )
    }

    fn advice(&self) -> String {
        match &self.hot {
            Some(hot) if hot.app => format!(
                "Move the synchronous work in {} off the event loop (a worker thread, an async \
                 API, or smaller pieces with the loop running between them), or make it \
                 cheaper; the report's flame graph shows what it calls.",
                hot.code
            ),
            _ => "Find the synchronous work in the request path (CPU-heavy loops, JSON of large \
                  objects, sync I/O, crypto) and move it off the event loop or make it smaller; \
                  --profile names the function."
                .to_string(),
        }
    }

    fn evidence(&self) -> Vec<(String, String)> {
        let mut out = vec![
            pair("process", self.pid.to_string()),
            pair(
                "delay, 90th percentile over the load's time",
                format!("{:.1} ms", self.delay_p90_ms),
            ),
            pair("worst delay", format!("{:.1} ms", self.delay_max_ms)),
            pair(
                "event-loop utilisation",
                format!("{:.0} %", self.elu * 100.0),
            ),
        ];
        if let Some(per) = self.per_request_ms {
            out.push(pair("event-loop time per request", millis(per)));
        }
        out.extend(hot_evidence(self.hot.as_ref()));
        out
    }

    fn cause(&self) -> Option<&'static str> {
        Some("the blocked event loop")
    }

    fn wants_profile(&self) -> Option<&'static str> {
        Some("blocked event loop")
    }
}

/// The event-loop findings of every Node process; `per_request` is the loop's time per
/// request, ms.
pub(super) fn findings(
    result: &RunResult,
    window: &LoadWindow,
    per_request: Option<f64>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for process in &result.node {
        out.extend(blocked(process, window, per_request).map(Finding::from));
        out.extend(gc::pressure(process, window).map(Finding::from));
        out.extend(listeners::leaks(process).into_iter().map(Finding::from));
    }
    out
}

/// A delayed loop whose requests are short and whose loop was saturated was queueing at
/// capacity, not blocked: the capacity finding takes the delay, and the blocked-loop finding
/// goes (see [`LONG_CALLBACK_MS`]).
pub(crate) fn queueing_at_capacity(findings: &mut Vec<Finding>) {
    let Some((at, delay)) = findings
        .iter()
        .enumerate()
        .find_map(|(at, f)| match &f.found {
            Found::BlockedEventLoop(Blocked {
                per_request_ms: Some(per),
                elu,
                delay_p90_ms,
                ..
            }) if *per < LONG_CALLBACK_MS && *elu >= SATURATED_ELU => Some((at, *delay_p90_ms)),
            _ => None,
        })
    else {
        return;
    };
    let Some(Saturated { queued_ms, .. }) = findings.iter_mut().find_map(|f| match &mut f.found {
        Found::CpuSaturated(saturated) => Some(saturated),
        _ => None,
    }) else {
        return;
    };
    *queued_ms = Some(delay);
    findings.remove(at);
}

/// A delayed loop that was not saturated, whose requests are short, on a machine that was
/// saturated, waited for a core: the machine was shared (the generator finding says so), and
/// no callback blocked it. So did a loop whose process used under half the CPU its
/// utilisation implies ([`STARVED_CPU_SHARE`]): utilisation counts the time a callback was
/// under way, also while its thread waited for a core, and a loop that blocks by its own work
/// uses a core all that time (an express app waiting on a database showed 50 % utilisation,
/// 9 % of a core and 52 ms of delay beside two processes that kept both cores busy).
pub(crate) fn starved_not_blocked(findings: &mut Vec<Finding>, busy: &super::capacity::Busy) {
    let machine_busy = busy.machine >= super::generator::MACHINE_BUSY;
    findings.retain(|f| match &f.found {
        Found::BlockedEventLoop(Blocked {
            per_request_ms: Some(per),
            elu,
            ..
        }) if *per < LONG_CALLBACK_MS && *elu < SATURATED_ELU => {
            !(machine_busy || busy.cpu < STARVED_CPU_SHARE * elu * 100.0)
        }
        _ => true,
    });
}

/// The share of the CPU a busy loop implies under which its process was waiting for a core.
pub(super) const STARVED_CPU_SHARE: f64 = 0.5;

fn blocked(
    process: &NodeProcess,
    window: &LoadWindow,
    per_request: Option<f64>,
) -> Option<Blocked> {
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
    (p90 >= BLOCKED_DELAY_MS).then(|| Blocked {
        pid: process.pid,
        delay_p90_ms: p90,
        delay_max_ms: by_delay[by_delay.len() - 1].1,
        elu,
        per_request_ms: per_request,
        hot: None,
    })
}

/// The probe's intervals that overlap the load, as (seconds of the load they cover, maximum
/// loop delay, utilisation); the interval that ends just after the load is included, since
/// it reports on the load's last moments.
pub(crate) fn load_intervals(process: &NodeProcess, window: &LoadWindow) -> Vec<(f64, f64, f64)> {
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
