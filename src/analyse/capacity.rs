//! How busy the target was, and a target whose CPU was the limit: the server at capacity.
//!
//! - [`SATURATED_ELU`], [`SATURATED_CPU`]: a Node event loop busy 90 % of each interval, or any
//!   target at 90 % of its cores, cannot go faster; under a closed-loop load that is the
//!   server's capacity, so it is information, not a fault.
//! - [`PROFILE_CPU_PER_REQUEST_MS`]: a Node hello-world server costs ~25 µs of CPU per
//!   request here and a typical framework route 50-100 µs; from 250 µs per request the app's
//!   own code is most of the cost, so a server at capacity is worth a CPU profile.

use super::finding::{busy_evidence, hot_evidence, pair, Detail, Hot};
use super::LoadWindow;
use crate::result::{RunResult, Severity};
use crate::units::short_millis as millis;

/// Event-loop utilisation at which a Node target is CPU-bound.
pub(super) const SATURATED_ELU: f64 = 0.9;
/// CPU share of its cores at which any target is CPU-bound.
pub(super) const SATURATED_CPU: f64 = 0.9;
/// CPU per request (ms) from which a server at capacity gets a CPU profile by default.
pub(super) const PROFILE_CPU_PER_REQUEST_MS: f64 = 0.25;

/// The target's busy time per response during the load, ms: the event loops' (summed over
/// Node processes: utilisation × the load's length), or the process tree's CPU without the
/// probe.
pub(super) fn busy_per_request_ms(result: &RunResult, window: &LoadWindow) -> Option<f64> {
    let responses = result.requests.total;
    if responses == 0 {
        return None;
    }
    let busy = if result.node.is_empty() {
        let points: Vec<f64> = result
            .process
            .as_ref()?
            .points
            .iter()
            .filter(|p| window.contains(p.t))
            .map(|p| p.cpu / 100.0)
            .collect();
        mean(&points)?
    } else {
        result
            .node
            .iter()
            .filter_map(|process| {
                let elu: Vec<f64> = process
                    .samples
                    .iter()
                    .filter(|s| window.contains(s.t))
                    .map(|s| s.elu)
                    .collect();
                mean(&elu)
            })
            .sum()
    };
    Some(busy * window.length() * 1000.0 / responses as f64)
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// How busy the target, harness and the machine were during the load.
#[derive(Debug, Clone)]
pub(crate) struct Busy {
    /// The target's CPU, percent of one core.
    pub cpu: f64,
    /// harness's CPU, percent of one core.
    pub harness: f64,
    /// The machine's CPU, percent of all cores.
    pub machine: f64,
    /// The machine's cores.
    pub cores: f64,
    /// The busiest Node process's event-loop utilisation.
    pub elu: Option<f64>,
    /// The other processes on the machine that used the most CPU during the load: name and
    /// percent of one core, busiest first.
    pub others: Vec<(String, f64)>,
}

impl Busy {
    /// Means over the process samples inside the load; `None` with fewer than three.
    pub(crate) fn during_load(result: &RunResult, window: &LoadWindow) -> Option<Busy> {
        let during: Vec<_> = result
            .process
            .as_ref()?
            .points
            .iter()
            .filter(|p| window.contains(p.t))
            .collect();
        if during.len() < 3 {
            return None;
        }
        let mean = |f: &dyn Fn(&crate::result::ProcessSample) -> f64| {
            during.iter().map(|p| f(p)).sum::<f64>() / during.len() as f64
        };
        Some(Busy {
            cpu: mean(&|p| p.cpu),
            harness: mean(&|p| p.harness_cpu),
            machine: mean(&|p| p.system_cpu),
            cores: during[0].cores.max(1) as f64,
            elu: node_elu(result, window),
            others: others(&during),
        })
    }
}

/// Other processes' CPU over the samples that carry it (one a second), each name's mean.
fn others(during: &[&crate::result::ProcessSample]) -> Vec<(String, f64)> {
    let scans: Vec<_> = during.iter().filter(|p| !p.others.is_empty()).collect();
    let mut by_name: std::collections::BTreeMap<&str, f64> = std::collections::BTreeMap::new();
    for scan in &scans {
        for other in &scan.others {
            *by_name.entry(&other.name).or_default() += other.cpu;
        }
    }
    let mut out: Vec<(String, f64)> = by_name
        .into_iter()
        .map(|(name, cpu)| (name.to_string(), cpu / scans.len().max(1) as f64))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// The target's CPU was the limit: the server at capacity.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Saturated {
    /// Event-loop utilisation, for Node.
    pub elu: Option<f64>,
    /// CPU, percent of one core.
    pub cpu: f64,
    /// Throughput at that point.
    pub requests_per_second: f64,
    /// CPU (event-loop time, for Node) per request, ms.
    pub per_request_ms: Option<f64>,
    /// When requests queued behind many short callbacks long enough to show as loop delay:
    /// its 90th percentile over the intervals, ms.
    pub queued_ms: Option<f64>,
    /// What the CPU profile says the time goes to.
    pub hot: Option<Hot>,
}

impl Detail for Saturated {
    fn severity(&self) -> Severity {
        match self.queued_ms {
            Some(_) => Severity::Warning,
            None => Severity::Info,
        }
    }

    fn title(&self) -> String {
        let busy = match self.elu {
            Some(elu) => format!("the event loop was {:.0} % busy", elu * 100.0),
            None => format!("the target used {:.0} % of a core", self.cpu),
        };
        let rps = self.requests_per_second;
        let hot = self.hot.as_ref().map_or(String::new(), |hot| {
            format!(
                "; most of the time in {} ({:.0} %)",
                hot.code,
                hot.share * 100.0
            )
        });
        match (self.queued_ms, self.per_request_ms) {
            (Some(queued), per) => {
                let cost = per.map_or(String::new(), |per| {
                    format!("{} of CPU per request at ", millis(per))
                });
                format!(
                    "At capacity: {busy} with short callbacks ({cost}{rps:.0} requests/s), and requests queued {queued:.0} ms or more for 10 % of the load{hot}"
                )
            }
            (None, per) => {
                let cost = per.map_or(String::new(), |per| {
                    format!(" ({} of CPU per request)", millis(per))
                });
                format!("CPU-bound: {busy} at {rps:.0} requests/s{cost}{hot}")
            }
        }
    }

    fn advice(&self) -> String {
        match (&self.queued_ms, &self.hot) {
            (Some(_), hot) => format!(
                "Each request is short, but more arrive than one core can serve, so they wait in \
                 line: make the hot code cheaper{}, or run more processes (cluster, more \
                 instances).",
                hot.as_ref()
                    .map_or(String::new(), |h| format!(" ({})", h.code))
            ),
            (None, Some(hot)) => format!(
                "This is the server's capacity on one core at this concurrency; to go faster, \
                 make {} cheaper, or scale out.",
                hot.code
            ),
            (None, None) => "This is the server's capacity on one core at this concurrency; \
                             profile the handler to go faster, or scale out."
                .to_string(),
        }
    }

    fn evidence(&self) -> Vec<(String, String)> {
        let mut out = busy_evidence(
            pair("requests/s", format!("{:.0}", self.requests_per_second)),
            self.cpu,
            self.elu,
        );
        if let Some(per) = self.per_request_ms {
            out.push(pair("CPU per request", millis(per)));
        }
        if let Some(queued) = self.queued_ms {
            out.push(pair(
                "queueing delay, 90th percentile over the load's time",
                format!("{queued:.1} ms"),
            ));
        }
        out.extend(hot_evidence(self.hot.as_ref()));
        out
    }

    fn cause(&self) -> Option<&'static str> {
        // Requests that time out or cannot connect while the loop is saturated waited in
        // line: whether or not the wait showed as loop delay, capacity is the problem.
        Some("the server at capacity")
    }

    fn wants_profile(&self) -> Option<&'static str> {
        let costly = self
            .per_request_ms
            .is_some_and(|ms| ms >= PROFILE_CPU_PER_REQUEST_MS);
        (self.queued_ms.is_some() || costly).then_some("costly requests at capacity")
    }
}

/// A target whose CPU (or event loop) was the limit; `per_request` is its busy time per
/// response, ms.
pub(crate) fn saturated(
    result: &RunResult,
    busy: &Busy,
    per_request: Option<f64>,
) -> Option<Saturated> {
    let saturated = match busy.elu {
        Some(elu) => elu >= SATURATED_ELU,
        None => busy.cpu >= SATURATED_CPU * 100.0 * busy.cores,
    };
    saturated.then_some(Saturated {
        elu: busy.elu,
        cpu: busy.cpu,
        requests_per_second: result.requests.overall,
        per_request_ms: per_request,
        queued_ms: None,
        hot: None,
    })
}

/// Mean event-loop utilisation of the busiest Node process during the load.
fn node_elu(result: &RunResult, window: &LoadWindow) -> Option<f64> {
    result
        .node
        .iter()
        .filter_map(|process| {
            let values: Vec<f64> = process
                .samples
                .iter()
                .filter(|s| window.contains(s.t))
                .map(|s| s.elu)
                .collect();
            (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        })
        .reduce(f64::max)
}
