//! A load generator (or machine) that was itself the limit.
//!
//! - [`GENERATOR_BUSY`], [`MACHINE_BUSY`]: when harness's own CPU is at 90 % of its workers, or
//!   the machine at 95 % of all cores, harness and the target compete and the numbers are the
//!   floor of the server's capacity, not the capacity. On a two-core machine this is common.

use super::capacity::Busy;
use super::finding::{pair, Detail};
use crate::result::{RunResult, Severity};

/// harness's CPU, as a share of its worker threads, at which it is the limit.
pub(super) const GENERATOR_BUSY: f64 = 0.9;
/// The machine's CPU share at which harness and the target compete.
pub(super) const MACHINE_BUSY: f64 = 95.0;

/// harness or the machine was saturated.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Generator {
    /// harness's CPU, percent of one core.
    pub harness_cpu: f64,
    /// The machine's CPU, percent of all cores.
    pub machine_cpu: f64,
    /// Cores.
    pub cores: u64,
}

impl Detail for Generator {
    fn severity(&self) -> Severity {
        Severity::Info
    }

    fn title(&self) -> String {
        format!(
            "The load generator shared the machine: harness used {:.0} % of a core and the machine {:.0} % of its {} cores",
            self.harness_cpu, self.machine_cpu, self.cores
        )
    }

    fn advice(&self) -> String {
        "harness and the target competed for CPU, so these numbers are a floor, not the \
         server's capacity; run them on separate cores or machines."
            .to_string()
    }

    fn evidence(&self) -> Vec<(String, String)> {
        vec![
            pair(
                "harness CPU",
                format!("{:.0} % of a core", self.harness_cpu),
            ),
            pair(
                "machine CPU",
                format!("{:.0} % of {} cores", self.machine_cpu, self.cores),
            ),
        ]
    }
}

/// harness at [`GENERATOR_BUSY`] of its workers, or the machine at [`MACHINE_BUSY`].
pub(crate) fn finding(result: &RunResult, busy: &Busy) -> Option<Generator> {
    let workers = result.workers.max(1) as f64;
    let limited = busy.harness >= GENERATOR_BUSY * 100.0 * workers.min(busy.cores)
        || busy.machine >= MACHINE_BUSY;
    limited.then_some(Generator {
        harness_cpu: busy.harness,
        machine_cpu: busy.machine,
        cores: busy.cores as u64,
    })
}
