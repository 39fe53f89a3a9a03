//! Statistics over latency histograms and per-second samples, in the shape autocannon's
//! result uses: mean, standard deviation, min, max and a fixed list of percentiles.

use hdrhistogram::Histogram;

use crate::result::{LatencyStats, Percentiles, RequestStats, SeriesEntry, ThroughputStats};

/// The percentiles reported, as autocannon's (`p0_001` ... `p99_999`).
pub(crate) const PERCENTILES: [f64; 15] = [
    0.001, 0.01, 0.1, 1.0, 2.5, 10.0, 25.0, 50.0, 75.0, 90.0, 97.5, 99.0, 99.9, 99.99, 99.999,
];

/// Summary of a set of values.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Arithmetic mean.
    pub mean: f64,
    /// Population standard deviation.
    pub stddev: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Values at [`PERCENTILES`], in the same order.
    pub percentiles: [f64; 15],
    /// Number of values.
    pub count: u64,
}

/// Summarises a latency histogram recorded in µs, returning milliseconds.
pub(crate) fn latency_ms(histogram: &Histogram<u64>) -> Summary {
    let ms = |us: f64| us / 1000.0;
    if histogram.is_empty() {
        return empty();
    }
    Summary {
        mean: ms(histogram.mean()),
        stddev: ms(histogram.stdev()),
        min: ms(histogram.min() as f64),
        max: ms(histogram.max() as f64),
        percentiles: PERCENTILES.map(|p| ms(histogram.value_at_percentile(p) as f64)),
        count: histogram.len(),
    }
}

/// Summarises per-second samples exactly (there are few of them). Percentiles use the
/// nearest-rank rule, as HdrHistogram does.
pub(crate) fn samples(values: &[f64]) -> Summary {
    if values.is_empty() {
        return empty();
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let mean = sorted.iter().sum::<f64>() / n;
    let variance = sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let rank = |p: f64| {
        let index = ((p / 100.0) * n).ceil().max(1.0) as usize - 1;
        sorted[index.min(sorted.len() - 1)]
    };
    Summary {
        mean,
        stddev: variance.sqrt(),
        min: sorted[0],
        max: sorted[sorted.len() - 1],
        percentiles: PERCENTILES.map(rank),
        count: sorted.len() as u64,
    }
}

fn empty() -> Summary {
    Summary {
        mean: 0.0,
        stddev: 0.0,
        min: 0.0,
        max: 0.0,
        percentiles: [0.0; 15],
        count: 0,
    }
}

/// What a window's per-second statistics are computed from: its full seconds and its totals.
pub(crate) struct Window<'a> {
    /// The seconds the window covered whole.
    pub full: Vec<&'a SeriesEntry>,
    /// Its length, seconds.
    pub length: f64,
    /// Responses completed in it.
    pub responses: u64,
    /// Bytes read in it.
    pub bytes: u64,
    /// Requests sent in it.
    pub sent: u64,
    /// Requests sent in it that failed.
    pub failed: u64,
}

impl Window<'_> {
    /// Responses per second: statistics over the full seconds; a window with no full second
    /// has one sample, its rate over the window.
    pub(crate) fn requests(&self) -> (RequestStats, u64) {
        let summary = self.per_second(|s| s.requests as f64, self.responses);
        let stats = RequestStats {
            average: round2(summary.mean),
            mean: round2(summary.mean),
            stddev: round2(summary.stddev),
            min: round2(summary.min),
            max: round2(summary.max),
            total: self.responses,
            sent: self.sent,
            failed: self.failed,
            overall: if self.length > 0.0 {
                round2(self.responses as f64 / self.length)
            } else {
                0.0
            },
            percentiles: Percentiles::from(&summary.percentiles.map(round2)),
        };
        (stats, summary.count)
    }

    /// Bytes per second, as [`Window::requests`].
    pub(crate) fn throughput(&self) -> ThroughputStats {
        let summary = self.per_second(|s| s.bytes as f64, self.bytes);
        ThroughputStats {
            average: round2(summary.mean),
            mean: round2(summary.mean),
            stddev: round2(summary.stddev),
            min: round2(summary.min),
            max: round2(summary.max),
            total: self.bytes,
            percentiles: Percentiles::from(&summary.percentiles.map(round2)),
        }
    }

    fn per_second(&self, value: impl Fn(&SeriesEntry) -> f64, total: u64) -> Summary {
        if self.full.is_empty() && self.length > 0.0 {
            return samples(&[total as f64 / self.length]);
        }
        let values: Vec<f64> = self.full.iter().map(|s| value(s)).collect();
        samples(&values)
    }
}

impl From<&Summary> for LatencyStats {
    fn from(summary: &Summary) -> LatencyStats {
        LatencyStats {
            average: round3(summary.mean),
            mean: round3(summary.mean),
            stddev: round3(summary.stddev),
            min: round3(summary.min),
            max: round3(summary.max),
            percentiles: Percentiles::from(&summary.percentiles.map(round3)),
            total_count: summary.count,
        }
    }
}

/// Rounds to three decimals: latency in ms keeps microsecond precision.
pub(crate) fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Rounds to two decimals.
pub(crate) fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value at percentile `p` (which must be one of [`PERCENTILES`]).
    fn at(summary: &Summary, p: f64) -> f64 {
        PERCENTILES
            .iter()
            .position(|&q| q == p)
            .map_or(0.0, |i| summary.percentiles[i])
    }

    #[test]
    fn sample_percentiles_use_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let summary = samples(&values);
        assert_eq!(at(&summary, 50.0), 50.0);
        assert_eq!(at(&summary, 2.5), 3.0);
        assert_eq!(at(&summary, 97.5), 98.0);
        assert_eq!(at(&summary, 99.999), 100.0);
        assert_eq!(summary.min, 1.0);
        assert_eq!(summary.mean, 50.5);
    }

    #[test]
    fn sample_stddev_is_the_population_deviation() {
        let summary = samples(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(summary.stddev, 2.0);
    }

    #[test]
    fn latency_is_reported_in_ms_with_microsecond_precision() {
        let mut histogram = crate::load::recorder::latency_histogram();
        for us in [1_000, 2_000, 3_000, 50_000] {
            histogram.record(us).unwrap();
        }
        let summary = latency_ms(&histogram);
        assert_eq!(at(&summary, 50.0), 2.0);
        assert_eq!(summary.min, 1.0);
        assert!((summary.max - 50.0).abs() < 0.05, "{}", summary.max);
        assert_eq!(summary.count, 4);
    }

    #[test]
    fn empty_inputs_give_zeros_not_nan() {
        assert_eq!(samples(&[]).mean, 0.0);
        let empty = crate::load::recorder::latency_histogram();
        assert_eq!(latency_ms(&empty).max, 0.0);
    }
}
