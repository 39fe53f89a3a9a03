//! Memory: the target's RSS, and for Node the heap and external memory, with garbage
//! collections and the forced-GC floors marked.

use super::{main_node, Chart, Line, Marks};
use crate::result::{GcKind, RunResult};

const MB: f64 = 1e6;

pub(super) fn chart(result: &RunResult) -> Option<Chart> {
    let mut lines = Vec::new();
    if let Some(process) = &result.process {
        lines.push(Line {
            label: "RSS".to_string(),
            points: process
                .points
                .iter()
                .map(|p| (p.t, p.rss as f64 / MB))
                .collect(),
        });
    }
    let mut marks = Vec::new();
    if let Some(node) = main_node(result) {
        let line = |label: &str, value: fn(&crate::result::NodeSample) -> u64| Line {
            label: label.to_string(),
            points: node
                .samples
                .iter()
                .map(|s| (s.t, value(s) as f64 / MB))
                .collect(),
        };
        lines.push(line("heap total", |s| s.heap_total));
        lines.push(line("heap used", |s| s.heap_used));
        lines.push(line("external", |s| s.external));
        lines.push(line("array buffers", |s| s.array_buffers));
        marks.push(Marks {
            label: "major GC (heap after)".to_string(),
            points: node
                .gc
                .iter()
                .filter(|g| g.kind == GcKind::Major)
                .filter_map(|g| Some((g.t, g.heap_after? as f64 / MB)))
                .collect(),
            size: 3,
        });
        marks.push(Marks {
            label: "forced GC floor (heap used)".to_string(),
            points: node
                .floors
                .iter()
                .map(|f| (f.t, f.heap_used as f64 / MB))
                .collect(),
            size: 6,
        });
    }
    (!lines.is_empty()).then(|| Chart {
        id: "memory".into(),
        title: "Memory".to_string(),
        unit: "MB",
        lines,
        marks,
    })
}
