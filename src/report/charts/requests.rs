//! Responses and errors per second.

use super::{second_x, Chart, Line};
use crate::result::RunResult;

pub(super) fn chart(result: &RunResult) -> Option<Chart> {
    let rate = |value: fn(&crate::result::SeriesEntry) -> u64| {
        result
            .series
            .iter()
            .filter(|e| e.covered > 0.0)
            .map(|e| (second_x(result, e), value(e) as f64 / e.covered))
            .collect()
    };
    let mut lines = vec![Line {
        label: "responses/s".to_string(),
        points: rate(|e| e.requests),
    }];
    if result.errors > 0 {
        lines.push(Line {
            label: "errors/s".to_string(),
            points: rate(|e| e.errors),
        });
    }
    Some(Chart {
        id: "requests".into(),
        title: "Requests per second".to_string(),
        unit: "per second",
        lines,
        marks: Vec::new(),
    })
}
