//! A server that waits while its requests are slow: on a database, a downstream call, a
//! timer.
//!
//! - [`IO_WAIT_ELU`], [`IO_WAIT_LATENCY_MS`]: a server whose loop is mostly idle (under 30 %)
//!   while the median request takes 10 ms or more spends its time waiting. Measured here: a
//!   50 ms timer per request gave 3.5 % utilisation and a 50.7 ms median.
//! - [`IO_WAIT_CPU`]: the same for a target without the probe, from its CPU.

use super::capacity::Busy;
use super::finding::{busy_evidence, pair, Detail};
use crate::result::{RunResult, Severity};

/// Event-loop utilisation below which a Node target is mostly idle.
pub(super) const IO_WAIT_ELU: f64 = 0.3;
/// CPU (percent of one core) below which a target without the probe is mostly idle.
pub(super) const IO_WAIT_CPU: f64 = 30.0;
/// Median latency from which an idle server is waiting on something.
pub(super) const IO_WAIT_LATENCY_MS: f64 = 10.0;

/// The server waits while requests are slow.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IoWait {
    /// Median latency, ms.
    pub latency_p50_ms: f64,
    /// Event-loop utilisation, for Node.
    pub elu: Option<f64>,
    /// CPU, percent of one core.
    pub cpu: f64,
}

impl Detail for IoWait {
    fn severity(&self) -> Severity {
        Severity::Warning
    }

    fn title(&self) -> String {
        let p50 = self.latency_p50_ms;
        match self.elu {
            Some(elu) => format!(
                "I/O wait: requests took {p50:.1} ms (median) while the event loop was {:.0} % busy",
                elu * 100.0
            ),
            None => format!(
                "I/O wait: requests took {p50:.1} ms (median) while the target used {:.0} % of a core",
                self.cpu
            ),
        }
    }

    fn advice(&self) -> String {
        "The server is waiting, not working: look at downstream calls (database, HTTP, timers, \
         locks) and their latency."
            .to_string()
    }

    fn evidence(&self) -> Vec<(String, String)> {
        busy_evidence(
            pair("median latency", format!("{:.1} ms", self.latency_p50_ms)),
            self.cpu,
            self.elu,
        )
    }
}

/// I/O wait: the target mostly idle while the median request is slow.
pub(crate) fn finding(result: &RunResult, busy: &Busy) -> Option<IoWait> {
    let latency = result.latency.percentiles.p50;
    let idle = match busy.elu {
        Some(elu) => elu < IO_WAIT_ELU,
        None => busy.cpu < IO_WAIT_CPU,
    };
    (idle && latency >= IO_WAIT_LATENCY_MS).then_some(IoWait {
        latency_p50_ms: latency,
        elu: busy.elu,
        cpu: busy.cpu,
    })
}
