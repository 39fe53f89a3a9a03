//! CPU of the target and of harness, percent of one core.

use super::{Chart, Line};
use crate::result::RunResult;

pub(super) fn chart(result: &RunResult) -> Option<Chart> {
    let points = &result.process.as_ref()?.points;
    let line = |label: &str, value: fn(&crate::result::ProcessSample) -> f64| Line {
        label: label.to_string(),
        points: points.iter().skip(1).map(|p| (p.t, value(p))).collect(),
    };
    Some(Chart {
        id: "cpu".into(),
        title: "CPU".to_string(),
        unit: "% of one core",
        lines: vec![
            line("target", |p| p.cpu),
            line("harness", |p| p.harness_cpu),
        ],
        marks: Vec::new(),
    })
}
