//! Garbage collection that takes a large share of the time.
//!
//! - [`GC_SHARE`], [`GC_SHARE_HIGH`]: share of the load's wall time spent in GC pauses. A
//!   hello server at 35,000 requests/s spent 8 % (young-generation scavenges of request
//!   garbage, which is normal); 1 MB of garbage per request, 10 %. From 15 % the collector
//!   takes a share worth reporting; from 30 %, it dominates and is worth fixing. Single pauses
//!   are shown but not judged alone: on a shared machine a pause's wall time includes
//!   preemption (a 110 ms pause was seen here in a 5 MB heap).
//! - A busy process's GC events are observed one interval in ten (see the probe), so shares
//!   are of the observed time.

use super::finding::{pair, Detail};
use super::LoadWindow;
use crate::result::{NodeProcess, Severity};

/// Share of time in GC pauses worth reporting.
pub(super) const GC_SHARE: f64 = 0.15;
/// Share of time in GC pauses that dominates.
pub(super) const GC_SHARE_HIGH: f64 = 0.30;

/// Garbage collection takes a large share of the time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GcPressure {
    /// The process.
    pub pid: u32,
    /// Share of the load's time in GC pauses.
    pub share: f64,
    /// Share of the worst second of the load.
    pub worst_second: f64,
    /// Longest pause, ms.
    pub longest_ms: f64,
    /// Collections seen during the load.
    pub collections: usize,
    /// Share of the load's intervals whose GC events were observed (1 unless the process
    /// collected so often that the probe sampled them).
    pub observed: f64,
    /// Where the garbage is allocated (the sampling heap profiler during the CPU trace): the
    /// biggest allocating site, as `function (file:line)`, and its share.
    pub garbage: Option<(String, f64)>,
}

impl Detail for GcPressure {
    fn severity(&self) -> Severity {
        if self.share >= GC_SHARE_HIGH {
            Severity::Warning
        } else {
            Severity::Info
        }
    }

    fn title(&self) -> String {
        let site = self
            .garbage
            .as_ref()
            .map_or(String::new(), |(code, share)| {
                format!(
                    "; most garbage from {code} ({:.0} % of the sampled bytes)",
                    share * 100.0
                )
            });
        format!(
            "GC pressure: {:.0} % of the load's time in garbage collection, longest pause {:.0} ms{site}",
            self.share * 100.0,
            self.longest_ms
        )
    }

    fn advice(&self) -> String {
        match &self.garbage {
            Some((code, _)) => format!(
                "Allocate less per request in {code}: reuse buffers, avoid building large \
                 temporary objects and strings."
            ),
            None => "Allocate less per request: reuse buffers, avoid building large temporary \
                     objects and strings."
                .to_string(),
        }
    }

    fn evidence(&self) -> Vec<(String, String)> {
        let mut out = vec![
            pair("process", self.pid.to_string()),
            pair("time in GC", format!("{:.1} %", self.share * 100.0)),
            pair(
                "worst second",
                format!("{:.1} % in GC", self.worst_second * 100.0),
            ),
            pair("longest pause", format!("{:.1} ms", self.longest_ms)),
            pair("collections", self.collections.to_string()),
        ];
        if self.observed < 1.0 {
            out.push(pair(
                "GC events observed",
                format!(
                    "{:.0} % of the load (sampled: the process collected 50+ times a second)",
                    self.observed * 100.0
                ),
            ));
        }
        if let Some((code, share)) = &self.garbage {
            out.push(pair(
                "most allocated by",
                format!("{code}, {:.0} % of the sampled bytes", share * 100.0),
            ));
        }
        out
    }

    fn cause(&self) -> Option<&'static str> {
        (self.share >= GC_SHARE_HIGH).then_some("GC pressure")
    }

    fn wants_profile(&self) -> Option<&'static str> {
        Some("GC pressure")
    }
}

pub(crate) fn pressure(process: &NodeProcess, window: &LoadWindow) -> Option<GcPressure> {
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
    (share >= GC_SHARE).then(|| GcPressure {
        pid: process.pid,
        share,
        worst_second,
        longest_ms: longest,
        collections: in_load().count(),
        observed,
        garbage: None,
    })
}
