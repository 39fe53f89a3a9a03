//! Latency per second: p50, p90, p99 and max.

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
        id: "latency",
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
