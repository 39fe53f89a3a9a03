//! Merges the workers' per-second reports into one time series, as soon as every worker has
//! reported a second, so memory stays flat however long the run is.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::recorder::{latency_histogram, KindSecond, SecondReport};

/// One second of the measured window, all workers merged.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SeriesPoint {
    /// Seconds since the measured window opened.
    pub second: u64,
    /// How much of this second the run covered (1 s but for the last).
    pub covered: Duration,
    /// Responses completed.
    pub requests: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Errors, timeouts included.
    pub errors: u64,
    /// Latency percentiles of the responses completed in this second, µs (0 when none).
    pub latency_p50: u64,
    /// 90th percentile, µs.
    pub latency_p90: u64,
    /// 99th percentile, µs.
    pub latency_p99: u64,
    /// Maximum, µs.
    pub latency_max: u64,
    /// The second's latencies, encoded, when the builder keeps them (sharded runs).
    pub histogram: Option<crate::result::EncodedHistogram>,
    /// Each kind's part, for the first kinds (`MAX_KIND_SERIES`) when kinds are counted.
    pub kinds: Vec<KindPoint>,
}

/// One kind's part of a second, all workers merged.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KindPoint {
    /// Responses completed.
    pub requests: u64,
    /// Errors, failed checks included.
    pub errors: u64,
    /// Median latency of its responses in this second, µs (0 when none).
    pub latency_p50: u64,
    /// 99th percentile, µs.
    pub latency_p99: u64,
    /// Its latencies, encoded, when the builder keeps them (sharded runs).
    pub histogram: Option<crate::result::EncodedHistogram>,
}

struct Pending {
    reports: usize,
    covered: Duration,
    requests: u64,
    bytes: u64,
    errors: u64,
    latency: Histogram<u64>,
    kinds: Vec<KindSecond>,
}

/// The measured window so far, over every completed second: what the live view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SoFar {
    /// Responses completed.
    pub requests: u64,
    /// Errors, timeouts included.
    pub errors: u64,
    /// 99th percentile latency, µs (0 before the first response).
    pub latency_p99: u64,
}

/// Collects reports from `workers` workers.
pub(crate) struct SeriesBuilder {
    workers: usize,
    pending: BTreeMap<u64, Pending>,
    points: Vec<SeriesPoint>,
    /// Every completed second's latencies together, merged once a second.
    latency_so_far: Histogram<u64>,
    /// Keep each second's histogram, encoded, in its point.
    keep_histograms: bool,
}

impl SeriesBuilder {
    /// A builder expecting one report per second from each of `workers` workers.
    /// With `keep_histograms`, each point carries its second's histogram.
    pub(crate) fn new(workers: usize, keep_histograms: bool) -> SeriesBuilder {
        SeriesBuilder {
            workers,
            pending: BTreeMap::new(),
            points: Vec::new(),
            latency_so_far: latency_histogram(),
            keep_histograms,
        }
    }

    /// The completed seconds together.
    pub(crate) fn so_far(&self) -> SoFar {
        SoFar {
            requests: self.points.iter().map(|p| p.requests).sum(),
            errors: self.points.iter().map(|p| p.errors).sum(),
            latency_p99: if self.latency_so_far.is_empty() {
                0
            } else {
                self.latency_so_far.value_at_quantile(0.99)
            },
        }
    }

    /// Adds one report; returns the point it completed, if every worker has now reported it.
    pub(crate) fn add(&mut self, report: SecondReport) -> Option<&SeriesPoint> {
        let pending = self.pending.entry(report.index).or_insert_with(|| Pending {
            reports: 0,
            covered: Duration::ZERO,
            requests: 0,
            bytes: 0,
            errors: 0,
            latency: latency_histogram(),
            kinds: Vec::new(),
        });
        pending.reports += 1;
        pending.covered = pending.covered.max(report.covered);
        pending.requests += report.requests;
        pending.bytes += report.bytes;
        pending.errors += report.errors;
        let _ = pending.latency.add(&report.latency);
        if pending.kinds.len() < report.kinds.len() {
            pending
                .kinds
                .resize_with(report.kinds.len(), KindSecond::default);
        }
        for (mine, theirs) in pending.kinds.iter_mut().zip(report.kinds) {
            mine.requests += theirs.requests;
            mine.errors += theirs.errors;
            if let Some(theirs) = theirs.latency {
                match &mut mine.latency {
                    Some(latency) => {
                        let _ = latency.add(&theirs);
                    }
                    None => mine.latency = Some(theirs),
                }
            }
        }
        if pending.reports < self.workers {
            return None;
        }
        let pending = self.pending.remove(&report.index)?;
        let _ = self.latency_so_far.add(&pending.latency);
        self.points
            .push(point(report.index, pending, self.keep_histograms));
        self.points.last()
    }

    /// All points in order, including seconds that not every worker reached (a worker that
    /// stopped early). A trailing sliver with nothing in it is dropped.
    pub(crate) fn finish(mut self) -> Vec<SeriesPoint> {
        for (index, pending) in std::mem::take(&mut self.pending) {
            self.points
                .push(point(index, pending, self.keep_histograms));
        }
        self.points.sort_by_key(|p| p.second);
        if let Some(last) = self.points.last() {
            if last.covered < Duration::from_millis(1) && last.requests == 0 && last.errors == 0 {
                self.points.pop();
            }
        }
        self.points
    }
}

/// The latency at quantile `q`, 0 for an empty histogram.
fn at(latency: &Histogram<u64>, q: f64) -> u64 {
    if latency.is_empty() {
        0
    } else {
        latency.value_at_quantile(q)
    }
}

fn point(second: u64, pending: Pending, keep_histogram: bool) -> SeriesPoint {
    let kinds = pending
        .kinds
        .iter()
        .map(|kind| KindPoint {
            requests: kind.requests,
            errors: kind.errors,
            latency_p50: kind.latency.as_ref().map_or(0, |h| at(h, 0.5)),
            latency_p99: kind.latency.as_ref().map_or(0, |h| at(h, 0.99)),
            histogram: keep_histogram
                .then(|| kind.latency.as_ref().map(crate::result::encode))
                .flatten(),
        })
        .collect();
    let at = |q: f64| at(&pending.latency, q);
    SeriesPoint {
        second,
        covered: pending.covered,
        requests: pending.requests,
        bytes: pending.bytes,
        errors: pending.errors,
        latency_p50: at(0.5),
        latency_p90: at(0.9),
        latency_p99: at(0.99),
        latency_max: pending.latency.max(),
        histogram: keep_histogram.then(|| crate::result::encode(&pending.latency)),
        kinds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(index: u64, requests: u64, latency_us: u64) -> SecondReport {
        let mut latency = latency_histogram();
        for _ in 0..requests {
            latency.record(latency_us).unwrap();
        }
        SecondReport {
            index,
            covered: Duration::from_secs(1),
            requests,
            bytes: requests * 10,
            errors: 0,
            latency,
            kinds: Vec::new(),
        }
    }

    #[test]
    fn a_second_completes_when_every_worker_reported_it() {
        let mut series = SeriesBuilder::new(2, false);
        assert!(series.add(report(0, 5, 1000)).is_none());
        let point = series.add(report(0, 5, 3000)).unwrap().clone();
        assert_eq!(point.requests, 10);
        assert_eq!(point.bytes, 100);
        assert_eq!(point.latency_p50, 1000);
        assert!(
            (3000..3004).contains(&point.latency_max),
            "{}",
            point.latency_max
        );
        let so_far = series.so_far();
        assert_eq!((so_far.requests, so_far.errors), (10, 0));
        assert!((3000..3004).contains(&so_far.latency_p99), "{so_far:?}");
        assert!(series.add(report(1, 1, 10)).is_none());
        assert_eq!(series.so_far(), so_far, "only completed seconds count");
        let points = series.finish();
        assert_eq!(points.len(), 2, "a second one worker reached is kept");
    }

    #[test]
    fn an_empty_trailing_sliver_is_dropped() {
        let mut series = SeriesBuilder::new(1, false);
        series.add(report(0, 3, 10));
        let mut sliver = report(1, 0, 0);
        sliver.covered = Duration::from_micros(20);
        series.add(sliver);
        assert_eq!(series.finish().len(), 1);
    }
}
