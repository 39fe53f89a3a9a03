//! Statistics over latency histograms and per-second samples, in the shape autocannon's
//! result uses: mean, standard deviation, min, max and a fixed list of percentiles.

use hdrhistogram::Histogram;

/// The percentiles reported, as autocannon's (`p0_001` ... `p99_999`).
pub const PERCENTILES: [f64; 15] = [
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
pub fn latency_ms(histogram: &Histogram<u64>) -> Summary {
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
pub fn samples(values: &[f64]) -> Summary {
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

/// The value at percentile `p` (which must be one of [`PERCENTILES`]).
pub fn at(summary: &Summary, p: f64) -> f64 {
    PERCENTILES
        .iter()
        .position(|&q| q == p)
        .map_or(0.0, |i| summary.percentiles[i])
}

/// Rounds to three decimals: latency in ms keeps microsecond precision.
pub fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Rounds to two decimals.
pub fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

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
