//! Latency per second: p50, p90, p99 and max; with several kinds of request, p50 and p99
//! of each kind on a chart of its own.

use super::{second_x, Chart, Line};
use crate::result::RunResult;

pub(super) fn chart(result: &RunResult) -> Option<Chart> {
    let line = |label: &str, value: fn(&crate::result::SeriesEntry) -> f64| Line {
        label: label.to_string(),
        points: result
            .series
            .iter()
            .filter(|e| e.requests > 0)
            .map(|e| (second_x(result, e), value(e)))
            .collect(),
    };
    Some(Chart {
        id: "latency".into(),
        title: "Latency per second".to_string(),
        unit: "ms",
        lines: vec![
            line("p50", |e| e.latency_p50),
            line("p90", |e| e.latency_p90),
            line("p99", |e| e.latency_p99),
            line("max", |e| e.latency_max),
        ],
        marks: Vec::new(),
    })
}

/// A chart per kind of request (those with a series: the first 20), when there are several.
pub(super) fn per_kind(result: &RunResult) -> Vec<Chart> {
    if result.kinds.len() <= 1 {
        return Vec::new();
    }
    result
        .kinds
        .iter()
        .enumerate()
        .filter(|(_, kind)| !kind.series.is_empty())
        .map(|(index, kind)| {
            let line = |label: &str, value: fn(&crate::result::KindSecondEntry) -> f64| Line {
                label: label.to_string(),
                points: kind
                    .series
                    .iter()
                    .filter(|e| e.requests > 0)
                    .map(|e| (result.measure_start + e.second as f64 + 0.5, value(e)))
                    .collect(),
            };
            Chart {
                id: format!("latency-kind-{}", index + 1).into(),
                title: format!("Latency per second: {}", kind.name),
                unit: "ms",
                lines: vec![
                    line("p50", |e| e.latency_p50),
                    line("p99", |e| e.latency_p99),
                ],
                marks: Vec::new(),
            }
        })
        .collect()
}
