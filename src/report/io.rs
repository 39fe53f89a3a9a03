//! "Where the requests wait": the I/O trace per kind of request, as terminal lines and as an
//! HTML section whose bars (running, queued, each awaited operation) read without JavaScript:
//! each segment is a `div` with its share as its width and a `title`, and the table below
//! gives the same numbers.

use std::fmt::Write;

use super::escape::html as escape;
use crate::analyse::io_wait::quoted;
use crate::result::{IoKind, IoTrace, RunResult};
use crate::units::{short_millis as millis, thousands};

/// Shares under this are left out of the lines and the bar.
const MIN_SHARE: f64 = 0.005;

/// The segments of one kind's time: running, queued, each operation, the rest.
fn segments(kind: &IoKind) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = kind
        .operations
        .iter()
        .map(|o| (quoted(&o.name), o.share))
        .collect();
    out.push((
        "running (its own callbacks on the loop)".to_string(),
        kind.running,
    ));
    out.push((
        "queued (ready, the loop busy elsewhere)".to_string(),
        kind.queued,
    ));
    out.push(("other operations".to_string(), kind.other_operations));
    out.retain(|(_, share)| *share >= MIN_SHARE);
    out
}

/// The heading of the trace.
fn heading(trace: &IoTrace) -> String {
    let traced: u64 = trace
        .processes
        .iter()
        .flat_map(|p| &p.kinds)
        .map(|k| k.requests)
        .sum();
    format!(
        "I/O trace ({}): {:.1} s more of the load, not counted above, {} traced requests",
        trace.reason,
        trace.end - trace.start,
        thousands(traced)
    )
}

/// The terminal's lines.
pub(crate) fn lines(result: &RunResult) -> String {
    let Some(trace) = &result.io_trace else {
        return String::new();
    };
    let mut out = format!("\nWhere the requests wait: {}\n", heading(trace));
    if let Some(warning) = &trace.warning {
        let _ = writeln!(out, "  {warning}");
    }
    for process in &trace.processes {
        for kind in process.kinds.iter().filter(|k| k.requests > 0) {
            let _ = writeln!(
                out,
                "  {} (pid {}): {} requests, p50 {}, p90 {}",
                kind.kind,
                process.pid,
                thousands(kind.requests),
                millis(kind.latency_ms.p50),
                millis(kind.latency_ms.p90)
            );
            for (name, share) in segments(kind) {
                let _ = writeln!(out, "    {:>5.1} %  {name}", share * 100.0);
            }
            for note in &kind.notes {
                let _ = writeln!(out, "    note: {note}");
            }
        }
        for unseen in &process.unseen {
            let _ = writeln!(out, "  not seen in pid {}: {unseen}", process.pid);
        }
    }
    out
}

/// The HTML section.
pub(crate) fn section(result: &RunResult) -> String {
    let Some(trace) = &result.io_trace else {
        return String::new();
    };
    let mut out = format!(
        "<section id=\"io\"><h2>Where the requests wait</h2><p class=\"meta\">{}. After the cooldown harness sent a few seconds more of the same load, marking each request with a header; the Node probe followed each marked request and charged every instant of it to the operation it was still waiting for, else to its own callbacks (running), else to the loop being busy elsewhere (queued).</p>",
        escape(&heading(trace))
    );
    if let Some(warning) = &trace.warning {
        let _ = write!(out, "<p class=\"warning\">{}</p>", escape(warning));
    }
    for process in &trace.processes {
        for kind in process.kinds.iter().filter(|k| k.requests > 0) {
            out += &kind_part(kind, process.pid);
        }
    }
    out += "</section>";
    out
}

/// Colours of the bar's segments, in order (operations, then running and queued greys).
const COLOURS: [&str; 6] = [
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9",
];

fn kind_part(kind: &IoKind, pid: u32) -> String {
    let mut out = format!(
        "<h3>{} <span class=\"meta\">(pid {pid}): {} requests, p50 {}, p90 {}</span></h3><div class=\"iobar\">",
        escape(&kind.kind),
        thousands(kind.requests),
        escape(&millis(kind.latency_ms.p50)),
        escape(&millis(kind.latency_ms.p90))
    );
    let parts = segments(kind);
    for (i, (name, share)) in parts.iter().enumerate() {
        let colour = match name.as_str() {
            n if n.starts_with("running") => "#8a8f98",
            n if n.starts_with("queued") => "#c2c6cc",
            _ => COLOURS[i % COLOURS.len()],
        };
        let _ = write!(
            out,
            "<div style=\"width:{:.2}%;background:{colour}\" title=\"{}: {:.1} %\"></div>",
            share * 100.0,
            escape(name),
            share * 100.0
        );
    }
    out += "</div><table><tr><th>share of the time</th><th>what</th><th>per request (p50, p90)</th></tr>";
    for operation in &kind.operations {
        let _ = write!(
            out,
            "<tr><td class=\"num\">{:.1} %</td><td>{}</td><td>{}, {}</td></tr>",
            operation.share * 100.0,
            code_spans(&quoted(&operation.name)),
            escape(&millis(operation.charged_ms.p50)),
            escape(&millis(operation.charged_ms.p90))
        );
    }
    for (label, share) in [("running", kind.running), ("queued", kind.queued)] {
        let _ = write!(
            out,
            "<tr><td class=\"num\">{:.1} %</td><td>{label}</td><td></td></tr>",
            share * 100.0
        );
    }
    out += "</table>";
    for note in &kind.notes {
        let _ = write!(out, "<p class=\"meta\">{}</p>", escape(note));
    }
    out
}

/// Backtick spans as `<code>`, the rest escaped.
fn code_spans(text: &str) -> String {
    text.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{}</code>", escape(part))
            } else {
                escape(part)
            }
        })
        .collect()
}
