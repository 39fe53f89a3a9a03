//! A load generator (or machine) that was itself the limit.
//!
//! - [`GENERATOR_BUSY`], [`MACHINE_BUSY`]: when harness's own CPU is at 90 % of its workers, or
//!   the machine at 95 % of all cores, harness and the target compete and the numbers are the
//!   floor of the server's capacity, not the capacity. On a two-core machine this is common.
//! - [`late`]: when harness's workers woke for their own timers more than [`LATE_AFTER`] late
//!   at p99, and by [`HARNESS_DELAYED`] of the p99 latency or more, harness's own wait is in
//!   the latencies as much as the server's (a busy harness, or one the machine gave no core).

use super::capacity::Busy;
use super::finding::{pair, Detail};
use crate::result::{RunResult, Severity, LATE_AFTER};
use crate::units::short_millis;

/// harness's CPU, as a share of its worker threads, at which it is the limit.
pub(super) const GENERATOR_BUSY: f64 = 0.9;
/// The machine's CPU share at which harness and the target compete.
pub(super) const MACHINE_BUSY: f64 = 95.0;
/// harness's own delay (how late its workers woke, p99), share of the p99 latency, from
/// which the latencies measured harness's wait rather than the server's.
pub(super) const HARNESS_DELAYED: f64 = 0.5;

/// harness's workers woke `delay_p99` ms late at p99 (over [`LATE_AFTER`]) against a p99
/// latency of `latency_p99` ms, [`HARNESS_DELAYED`] of it or more: the sends waited for
/// harness, and the latencies are as much harness's wait as the server's.
pub(super) fn late(delay_p99: Option<f64>, latency_p99: f64) -> bool {
    delay_p99.is_some_and(|delay| {
        delay > LATE_AFTER.as_secs_f64() * 1000.0 && delay >= HARNESS_DELAYED * latency_p99
    })
}

/// harness or the machine was saturated, or harness was late.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Generator {
    /// harness's and the machine's CPU, when a target was watched.
    pub cpu: Option<Cpu>,
    /// How late harness's workers woke at p99 and the p99 latency, ms, when harness was
    /// [`late`].
    pub late: Option<(f64, f64)>,
}

/// harness's and the machine's CPU during the load.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cpu {
    /// harness's CPU, percent of one core.
    pub harness: f64,
    /// The machine's CPU, percent of all cores.
    pub machine: f64,
    /// Cores.
    pub cores: u64,
}

impl Detail for Generator {
    fn severity(&self) -> Severity {
        Severity::Info
    }

    fn title(&self) -> String {
        match (&self.late, &self.cpu) {
            (Some((delay, p99)), _) => format!(
                "The load generator was late itself: its workers woke {} late at p99, against a p99 latency of {}",
                short_millis(*delay),
                short_millis(*p99)
            ),
            (None, Some(cpu)) => format!(
                "The load generator shared the machine: harness used {:.0} % of a core and the machine {:.0} % of its {} cores",
                cpu.harness, cpu.machine, cpu.cores
            ),
            (None, None) => "The load generator was the limit".to_string(),
        }
    }

    fn advice(&self) -> String {
        match self.late {
            Some(_) => "harness's own wait is in every latency measured, so the latencies are \
                        a ceiling and the rate a floor; run harness on cores of its own, give it \
                        more workers (-w), or shard."
                .to_string(),
            None => "harness and the target competed for CPU, so these numbers are a floor, \
                     not the server's capacity; run them on separate cores or machines."
                .to_string(),
        }
    }

    fn evidence(&self) -> Vec<(String, String)> {
        let mut evidence = Vec::new();
        if let Some(cpu) = &self.cpu {
            evidence.push(pair(
                "harness CPU",
                format!("{:.0} % of a core", cpu.harness),
            ));
            evidence.push(pair(
                "machine CPU",
                format!("{:.0} % of {} cores", cpu.machine, cpu.cores),
            ));
        }
        if let Some((delay, _)) = self.late {
            evidence.push(pair("harness late by (p99)", short_millis(delay)));
        }
        evidence
    }
}

/// harness at [`GENERATOR_BUSY`] of its workers or the machine at [`MACHINE_BUSY`] (with a
/// target watched, `busy`), or harness [`late`] (with or without one).
pub(crate) fn finding(result: &RunResult, busy: Option<&Busy>) -> Option<Generator> {
    let workers = result.workers.max(1) as f64;
    let p99 = result.latency.percentiles.p99;
    let late =
        late(result.harness_delay_p99, p99).then(|| (result.harness_delay_p99.unwrap_or(0.0), p99));
    let saturated = busy.is_some_and(|busy| {
        busy.harness >= GENERATOR_BUSY * 100.0 * workers.min(busy.cores)
            || busy.machine >= MACHINE_BUSY
    });
    (saturated || late.is_some()).then(|| Generator {
        cpu: busy.map(|busy| Cpu {
            harness: busy.harness,
            machine: busy.machine,
            cores: busy.cores as u64,
        }),
        late,
    })
}
