//! The capacity search's section of the report: the answer and its limit, a chart of p50
//! and p99 and of the served rate against the offered rate, step by step with the knee
//! marked (inline SVG, no script), and the table of steps.

use std::fmt::Write;

use super::escape;
use crate::analyse::search;
use crate::result::{Capacity, CapacityStep, RunResult};
use crate::units::short_millis as millis;

/// Chart size, px.
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 36.0;

/// The section, or nothing without a search.
pub(super) fn section(result: &RunResult) -> String {
    let Some(capacity) = &result.capacity else {
        return String::new();
    };
    let mut out = String::from("<section id=\"capacity\"><h2>Capacity search</h2>");
    let _ = write!(
        out,
        "<p><strong>{}</strong></p>",
        escape(&search::sentence(capacity))
    );
    let mut steps: Vec<&CapacityStep> = capacity.steps.iter().collect();
    steps.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    if !steps.is_empty() {
        out += &latency_chart(capacity, &steps);
        out += &rate_chart(capacity, &steps);
    }
    out += "<table class=\"steps\"><tr><th>step</th><th>offered req/s</th><th>served req/s</th><th>p50</th><th>p99</th><th>max</th><th>errors</th><th>late</th><th>loop</th><th>CPU</th><th>result</th></tr>";
    for (i, step) in capacity.steps.iter().enumerate() {
        let _ = write!(
            out,
            "<tr class=\"{}\"><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            if step.passed { "pass" } else { "fail" },
            i + 1,
            search::thousands(step.rate),
            search::thousands(step.achieved),
            millis(step.latency_p50),
            millis(step.latency_p99),
            millis(step.latency_max),
            step.errors,
            step.late,
            step.utilisation
                .map_or_else(|| "-".to_string(), |u| format!("{:.0} %", u * 100.0)),
            step.cpu
                .map_or_else(|| "-".to_string(), |c| format!("{c:.0} %")),
            if step.passed {
                "pass".to_string()
            } else {
                format!("fail: {}", escape(&step.why.join("; ")))
            }
        );
    }
    out += "</table>";
    if !capacity.limit.evidence.is_empty() {
        out += "<dl class=\"numbers\">";
        for e in &capacity.limit.evidence {
            let _ = write!(
                out,
                "<div><dt>{}</dt><dd>{}</dd></div>",
                escape(&e.label),
                escape(&e.value)
            );
        }
        out += "</dl>";
    }
    out + "</section>"
}

/// Where a rate falls on the x axis.
fn x_of(rate: f64, max_rate: f64) -> f64 {
    LEFT + (WIDTH - LEFT - RIGHT) * rate / max_rate.max(1.0)
}

/// The open SVG element, axes and the knee and answer marks.
fn frame(capacity: &Capacity, max_rate: f64, max_y: f64, unit: &str, label: &str) -> String {
    let mut out = format!(
        "<figure id=\"capacity-{label}\"><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\">"
    );
    let bottom = HEIGHT - BOTTOM;
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\" stroke=\"currentColor\"/><line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{bottom}\" stroke=\"currentColor\"/>",
        WIDTH - RIGHT
    );
    for i in 0..=4 {
        let rate = max_rate * f64::from(i) / 4.0;
        let x = x_of(rate, max_rate);
        let _ = write!(
            out,
            "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"currentColor\">{}</text>",
            bottom + 14.0,
            search::thousands(rate)
        );
        let value = max_y * f64::from(i) / 4.0;
        let y = bottom - (bottom - TOP) * f64::from(i) / 4.0;
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"currentColor\">{}{unit}</text>",
            LEFT - 4.0,
            y + 4.0,
            trim(value)
        );
    }
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"currentColor\">offered rate, req/s</text>",
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 4.0
    );
    if let Some(knee) = search::knee(capacity) {
        let x = x_of(knee.rate, max_rate);
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{bottom}\" stroke=\"#d55e00\" stroke-dasharray=\"4 3\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#d55e00\">knee {}</text>",
            x + 3.0,
            TOP + 10.0,
            search::thousands(knee.rate)
        );
    }
    if let Some(answer) = capacity.max_rate {
        let x = x_of(answer, max_rate);
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{bottom}\" stroke=\"#009e73\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#009e73\">answer {}</text>",
            x - 3.0,
            TOP + 10.0,
            search::thousands(answer)
        );
    }
    out
}

/// A polyline through `points` (rate, value) with a dot at each, titled for hover.
fn series(points: &[(f64, f64)], max_rate: f64, max_y: f64, colour: &str, name: &str) -> String {
    let bottom = HEIGHT - BOTTOM;
    let y_of = |v: f64| bottom - (bottom - TOP) * (v / max_y.max(1e-9)).min(1.0);
    let path: Vec<String> = points
        .iter()
        .map(|(r, v)| format!("{:.1},{:.1}", x_of(*r, max_rate), y_of(*v)))
        .collect();
    let mut out = format!(
        "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
        path.join(" ")
    );
    for (r, v) in points {
        let _ = write!(
            out,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"><title>{name} at {} req/s: {}</title></circle>",
            x_of(*r, max_rate),
            y_of(*v),
            search::thousands(*r),
            trim(*v)
        );
    }
    out
}

fn latency_chart(capacity: &Capacity, steps: &[&CapacityStep]) -> String {
    let max_rate = steps.last().map_or(1.0, |s| s.rate) * 1.05;
    // p99 past ten times the answer's would flatten the rest: the axis stops there.
    let passing_p99 = steps
        .iter()
        .filter(|s| s.passed)
        .map(|s| s.latency_p99)
        .fold(0.0, f64::max);
    let worst = steps.iter().map(|s| s.latency_p99).fold(0.0, f64::max);
    let max_y = if passing_p99 > 0.0 {
        worst.min(passing_p99 * 10.0)
    } else {
        worst
    }
    .max(1.0);
    let mut out = frame(capacity, max_rate, max_y, " ms", "latency");
    let p50: Vec<(f64, f64)> = steps.iter().map(|s| (s.rate, s.latency_p50)).collect();
    let p99: Vec<(f64, f64)> = steps.iter().map(|s| (s.rate, s.latency_p99)).collect();
    out += &series(&p50, max_rate, max_y, "#0072b2", "p50 (ms)");
    out += &series(&p99, max_rate, max_y, "#e69f00", "p99 (ms)");
    out + "</svg><figcaption>Latency at each offered rate: p50 (blue) and p99 (orange), from each request's planned send time.</figcaption></figure>"
}

fn rate_chart(capacity: &Capacity, steps: &[&CapacityStep]) -> String {
    let max_rate = steps.last().map_or(1.0, |s| s.rate) * 1.05;
    let mut out = frame(capacity, max_rate, max_rate, "", "rate");
    let ideal = [(0.0, 0.0), (max_rate, max_rate)];
    let bottom = HEIGHT - BOTTOM;
    let _ = write!(
        out,
        "<line x1=\"{:.1}\" y1=\"{bottom}\" x2=\"{:.1}\" y2=\"{TOP}\" stroke=\"currentColor\" stroke-opacity=\"0.3\" stroke-dasharray=\"2 3\"/>",
        x_of(ideal[0].0, max_rate),
        x_of(ideal[1].0, max_rate)
    );
    let served: Vec<(f64, f64)> = steps.iter().map(|s| (s.rate, s.achieved)).collect();
    out += &series(&served, max_rate, max_rate, "#009e73", "served (req/s)");
    out + "</svg><figcaption>Served rate against offered rate (the dotted diagonal: every request served as offered).</figcaption></figure>"
}

fn trim(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}
