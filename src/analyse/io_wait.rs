//! A server that waits while its requests are slow: on a database, a downstream call, a
//! timer, a pool. What tells it is the share of each request's time spent waiting rather
//! than running or queued for the event loop: the loop's busy time per request `s`
//! (utilisation × the load's length ÷ responses) against the median latency `L`. A loop busy
//! a share `ρ` of the time also makes each ready callback of a request wait for the one
//! running; a request's callbacks are short, so that wait is at most about `ρ × s` in all,
//! and the time not explained by the loop is `1 − s × (1 + ρ) / L`: the waiting share.
//! (A single server's queue, `s × ρ / (1 − ρ)`, treats a request as one long job; the I/O
//! trace measured the queueing of I/O-bound requests at 0-3 % of their time where that
//! formula predicted 30-80 %, and on a shared machine, whose preemption counts as busy, it
//! called a server waiting on a downstream service healthy.)
//!
//! - [`IO_WAIT_LATENCY_MS`]: from a median of 10 ms, requests are slow enough for their wait
//!   to matter.
//! - [`IO_WAIT_SHARE`]: waiting 80 % of the time or more is I/O wait. Measured here: nine
//!   chained 10 ms timers at 1,000 requests/s (`io/nine-timers.js -c 100 -R 1000`, 93 ms
//!   median, 169 µs of loop time per request) wait 99.8 %; a 50 ms timer (`slow-io.js -c 10`)
//!   99.4 %. A server at capacity under a closed load (`short-work.js -c 100`, 76 ms median)
//!   and a blocked loop (`blocked-loop.js -c 10`, 204 ms) are left out by their utilisation
//!   (over [`SATURATED_ELU`](super::capacity::SATURATED_ELU)); 5 ms of work at 80 % busy with
//!   a 25 ms median waits 64 %; hello.js at 10 connections has a median under 1 ms. An
//!   express app fetching from a 40 ms service on a machine shared with another load (its
//!   loop 71 % busy, 2 ms per request, 51 ms median) waits 93 %.
//! - Without the loop's time per request (no probe, no samples), the old rule: the loop under
//!   [`IO_WAIT_ELU`] (or the CPU under [`IO_WAIT_CPU`]) with a slow median.
//! - A machine busy with other processes (a database on the same machine) is named in the
//!   finding: [`OTHERS_WORTH_NAMING`].

use super::capacity::{Busy, SATURATED_ELU};
use super::finding::{busy_evidence, pair, Detail};
use super::generator::MACHINE_BUSY;
use crate::result::{RunResult, Severity};
use crate::units::short_millis as millis;

/// Event-loop utilisation below which a Node target is mostly idle (without a waiting share).
pub const IO_WAIT_ELU: f64 = 0.3;
/// CPU (percent of one core) below which a target without the probe is mostly idle.
pub const IO_WAIT_CPU: f64 = 30.0;
/// Median latency from which waiting is worth a finding, ms.
pub const IO_WAIT_LATENCY_MS: f64 = 10.0;
/// Share of the median request's time spent waiting from which the server waits on I/O.
pub const IO_WAIT_SHARE: f64 = 0.8;
/// Other processes' CPU (percent of one core) worth naming in the finding: half a core.
pub const OTHERS_WORTH_NAMING: f64 = 50.0;

/// The server waits while requests are slow.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IoWait {
    /// Median latency, ms.
    pub latency_p50_ms: f64,
    /// Event-loop utilisation, for Node.
    pub elu: Option<f64>,
    /// CPU, percent of one core.
    pub cpu: f64,
    /// Share of the median request's time spent waiting, when the loop's time per request
    /// is known.
    pub waiting: Option<f64>,
    /// The loop's (or the CPU's) busy time per request, ms.
    pub per_request_ms: Option<f64>,
    /// The machine's CPU, percent of all cores.
    pub machine_cpu: f64,
    /// Other processes that used CPU during the load (name, percent of one core), when
    /// worth naming.
    pub others: Vec<(String, f64)>,
    /// What the I/O trace found the requests awaiting, when one ran.
    pub awaited: Option<Awaited>,
}

/// The operation that took most of the traced requests' time, from the I/O trace.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Awaited {
    /// The kind of request that awaited it (`GET /items/{{counter}}`).
    pub kind: String,
    /// Whether the trace saw more than one kind.
    pub several_kinds: bool,
    /// Its name: the call path that tells it apart, then the operation, functions quoted.
    pub name: String,
    /// The operation alone (`setTimeout 60 ms`, `pg query SELECT …`).
    pub detail: String,
    /// Share of the kind's request time charged to it.
    pub share: f64,
    /// Time charged to it per request, median and 90th percentile, ms.
    pub charged: (f64, f64),
    /// The kind's median latency in the process, ms.
    pub latency_p50_ms: f64,
    /// Traced requests of the kind.
    pub requests: u64,
}

impl Detail for IoWait {
    fn severity(&self) -> Severity {
        Severity::Warning
    }

    fn title(&self) -> String {
        if let Some(awaited) = &self.awaited {
            let who = if awaited.several_kinds {
                format!("{} requests", awaited.kind)
            } else {
                "requests".to_string()
            };
            return format!(
                "I/O wait: {who} spend {:.0} % of their time (p50 {}) awaiting {}",
                awaited.share * 100.0,
                millis(awaited.latency_p50_ms),
                awaited.name
            );
        }
        let p50 = self.latency_p50_ms;
        let busy = match self.elu {
            Some(elu) => format!("the event loop was {:.0} % busy", elu * 100.0),
            None => format!("the target used {:.0} % of a core", self.cpu),
        };
        let head = match self.waiting {
            Some(waiting) => format!(
                "I/O wait: requests spent {:.1} % of their {p50:.1} ms (median) waiting while {busy}",
                waiting * 100.0
            ),
            None => format!("I/O wait: requests took {p50:.1} ms (median) while {busy}"),
        };
        match self.others.first() {
            Some((name, cpu)) => format!(
                "{head}; the machine was {:.0} % busy, mostly with {name} ({:.1} cores)",
                self.machine_cpu,
                cpu / 100.0
            ),
            None => head,
        }
    }

    fn advice(&self) -> String {
        if let Some(awaited) = &self.awaited {
            return format!(
                "Most of each request's time is the wait for {}: {} The report's I/O trace shows where every kind of request's time goes.",
                awaited.detail,
                hint(&awaited.detail)
            );
        }
        let others = match self.others.first() {
            Some((name, _)) => format!(
                " {name} kept the machine busy during the load: if the server waits on it, that \
                 is where the time goes."
            ),
            None => String::new(),
        };
        format!(
            "The server is waiting, not working: look at downstream calls (database, HTTP, \
             timers, locks, pools) and their latency; --io-trace names the awaited call.{others}"
        )
    }

    fn evidence(&self) -> Vec<(String, String)> {
        let mut out = busy_evidence(
            pair("median latency", format!("{:.1} ms", self.latency_p50_ms)),
            self.cpu,
            self.elu,
        );
        if let (Some(waiting), Some(per)) = (self.waiting, self.per_request_ms) {
            out.push(pair(
                "waiting share of the median request",
                format!(
                    "{:.1} % (busy {} per request)",
                    waiting * 100.0,
                    millis(per)
                ),
            ));
        }
        if let Some(awaited) = &self.awaited {
            out.push(pair(
                "awaited most (I/O trace)",
                format!(
                    "{}: {:.0} % of the {} requests' time, p50 {} and p90 {} per request ({} traced)",
                    awaited.name,
                    awaited.share * 100.0,
                    awaited.kind,
                    millis(awaited.charged.0),
                    millis(awaited.charged.1),
                    awaited.requests
                ),
            ));
        }
        if !self.others.is_empty() {
            let names: Vec<String> = self
                .others
                .iter()
                .map(|(name, cpu)| format!("{name} {:.1} cores", cpu / 100.0))
                .collect();
            out.push(pair(
                "other processes on the machine during the load",
                format!(
                    "{} (machine {:.0} % busy)",
                    names.join(", "),
                    self.machine_cpu
                ),
            ));
        }
        out
    }
}

/// I/O wait: slow requests that spend most of their time waiting (see the module docs);
/// `per_request` is the target's busy time per response, ms.
pub(crate) fn finding(result: &RunResult, busy: &Busy, per_request: Option<f64>) -> Option<IoWait> {
    let latency = result.latency.percentiles.p50;
    if latency < IO_WAIT_LATENCY_MS {
        return None;
    }
    let utilisation = busy.elu.unwrap_or_else(|| (busy.cpu / 100.0).min(1.0));
    let waiting = per_request.map(|per| waiting_share(per, utilisation, latency));
    let waits = match waiting {
        Some(waiting) => utilisation < SATURATED_ELU && waiting >= IO_WAIT_SHARE,
        None => match busy.elu {
            Some(elu) => elu < IO_WAIT_ELU,
            None => busy.cpu < IO_WAIT_CPU,
        },
    };
    let others: Vec<(String, f64)> = busy
        .others
        .iter()
        .filter(|(_, cpu)| *cpu >= OTHERS_WORTH_NAMING)
        .cloned()
        .collect();
    let named = busy.machine >= MACHINE_BUSY || others.iter().map(|o| o.1).sum::<f64>() >= 100.0;
    waits.then(|| IoWait {
        latency_p50_ms: latency,
        elu: busy.elu,
        cpu: busy.cpu,
        waiting,
        per_request_ms: per_request,
        machine_cpu: busy.machine,
        others: if named { others } else { Vec::new() },
        awaited: awaited(result),
    })
}

/// The operation of the I/O trace that took the most time: its share of its kind's time,
/// times the kind's requests and their mean latency, over every process and kind.
pub(crate) fn awaited(result: &RunResult) -> Option<Awaited> {
    let trace = result.io_trace.as_ref()?;
    let kinds: Vec<&str> = trace
        .processes
        .iter()
        .flat_map(|p| &p.kinds)
        .filter(|k| k.requests > 0)
        .map(|k| k.kind.as_str())
        .collect();
    let (kind, operation) = trace
        .processes
        .iter()
        .flat_map(|p| &p.kinds)
        .flat_map(|k| k.operations.iter().map(move |o| (k, o)))
        .max_by(|a, b| time(a.0, a.1).total_cmp(&time(b.0, b.1)))?;
    let mut distinct = kinds.clone();
    distinct.sort_unstable();
    distinct.dedup();
    Some(Awaited {
        kind: kind.kind.clone(),
        several_kinds: distinct.len() > 1,
        name: quoted(&operation.name),
        detail: operation.detail.clone(),
        share: operation.share,
        charged: (operation.charged_ms.p50, operation.charged_ms.p90),
        latency_p50_ms: kind.latency_ms.p50,
        requests: kind.requests,
    })
}

/// The time charged to an operation over its kind's traced requests, ms.
fn time(kind: &crate::result::IoKind, operation: &crate::result::IoOperation) -> f64 {
    operation.share * kind.requests as f64 * kind.latency_ms.mean
}

/// "loadUser (app.js:9) → query (app.js:5) → setTimeout 60 ms" with the functions quoted:
/// "`loadUser` (app.js:9) → `query` (app.js:5) → setTimeout 60 ms".
pub(crate) fn quoted(name: &str) -> String {
    let steps: Vec<&str> = name.split(" → ").collect();
    let last = steps.len().saturating_sub(1);
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| match step.split_once(" (") {
            Some(("anonymous", rest)) if i < last => format!("an anonymous function ({rest}"),
            Some((function, rest)) if i < last && !function.contains(' ') => {
                format!("`{function}` ({rest}")
            }
            _ => step.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

/// What to do about a kind of wait.
fn hint(detail: &str) -> &'static str {
    match detail {
        d if d.contains("acquire") || d.contains("pool") => {
            "the requests wait for a connection from a pool that is too small for the load, or whose connections are held too long; make it larger or hold them for less time."
        }
        d if d.starts_with("pg ") || d.contains("query") => {
            "make the query faster (EXPLAIN it: an index, fewer rows), cache its result, or make it less often."
        }
        d if d.starts_with("fetch") || d.starts_with("http") => {
            "the downstream service is slow: make it faster, cache what it returns, or call it in parallel with the request's other work."
        }
        d if d.contains("setTimeout") || d.contains("Timeout") => {
            "a timer delays every request: is the wait needed, and could the waits run in parallel?"
        }
        _ => "make that operation faster, run it in parallel with the rest, or avoid it.",
    }
}

/// The share of a request of `latency` ms not explained by the loop: its own `per_request`
/// ms of work and the wait for a loop busy `utilisation` of the time.
fn waiting_share(per_request: f64, utilisation: f64, latency: f64) -> f64 {
    let explained = per_request * (1.0 + utilisation.min(1.0));
    (1.0 - explained / latency).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named_with_their_functions_quoted() {
        assert_eq!(
            quoted("loadUser (app.js:9) → query (app.js:5) → setTimeout 60 ms"),
            "`loadUser` (app.js:9) → `query` (app.js:5) → setTimeout 60 ms"
        );
        assert_eq!(quoted("5 × setTimeout 30 ms"), "5 × setTimeout 30 ms");
        assert_eq!(
            quoted("anonymous (app.js:18) → setTimeout 50 ms"),
            "an anonymous function (app.js:18) → setTimeout 50 ms"
        );
    }

    #[test]
    fn the_waiting_share_leaves_out_the_loops_work_and_its_queue() {
        // Nine 10 ms timers: 0.3 ms of loop time per request at 30 % busy, 98 ms median.
        assert!(waiting_share(0.3, 0.3, 98.0) > 0.99);
        // 5 ms of work at 80 % busy explains 9 of a 25 ms median: not I/O wait.
        assert!(waiting_share(5.0, 0.8, 25.0) < IO_WAIT_SHARE);
        // 2 ms per request at 71 % busy (a shared machine) of a 51 ms median: waiting.
        assert!(waiting_share(1.95, 0.71, 50.9) > 0.9);
    }
}
