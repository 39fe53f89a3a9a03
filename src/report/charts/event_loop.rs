//! The Node event loop: delay per interval (p50, p99, max) and utilisation.

use super::{main_node, Chart, Line};
use crate::result::RunResult;

pub(super) fn delay(result: &RunResult) -> Option<Chart> {
    let node = main_node(result)?;
    let line = |label: &str, value: fn(&crate::result::NodeSample) -> f64| Line {
        label: label.to_string(),
        points: node.samples.iter().map(|s| (s.t, value(s))).collect(),
    };
    Some(Chart {
        id: "event-loop-delay".into(),
        title: "Event-loop delay".to_string(),
        unit: "ms",
        lines: vec![
            line("p50", |s| s.delay_p50),
            line("p99", |s| s.delay_p99),
            line("max", |s| s.delay_max),
        ],
        marks: Vec::new(),
    })
}

pub(super) fn utilisation(result: &RunResult) -> Option<Chart> {
    let node = main_node(result)?;
    Some(Chart {
        id: "event-loop-utilisation".into(),
        title: "Event-loop utilisation".to_string(),
        unit: "%",
        lines: vec![Line {
            label: "utilisation".to_string(),
            points: node.samples.iter().map(|s| (s.t, s.elu * 100.0)).collect(),
        }],
        marks: Vec::new(),
    })
}
