//! Active handles and requests of the Node process, by type (the five most common).

use std::collections::BTreeMap;

use super::{main_node, Chart, Line};
use crate::result::RunResult;

/// Handle types drawn; the rest would crowd the legend.
const MAX_TYPES: usize = 5;

pub(super) fn chart(result: &RunResult) -> Option<Chart> {
    let node = main_node(result)?;
    let mut peaks: BTreeMap<&str, u64> = BTreeMap::new();
    for sample in &node.samples {
        for (kind, count) in &sample.handles {
            let peak = peaks.entry(kind.as_str()).or_default();
            *peak = (*peak).max(*count);
        }
    }
    let mut kinds: Vec<(&str, u64)> = peaks.into_iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let lines = kinds
        .into_iter()
        .take(MAX_TYPES)
        .map(|(kind, _)| Line {
            label: kind.to_string(),
            points: node
                .samples
                .iter()
                .map(|s| (s.t, s.handles.get(kind).copied().unwrap_or(0) as f64))
                .collect(),
        })
        .collect();
    Some(Chart {
        id: "handles".into(),
        title: "Active handles".to_string(),
        unit: "count",
        lines,
        marks: Vec::new(),
    })
}
