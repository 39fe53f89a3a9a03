//! The terminal summary, laid out like autocannon's: a latency table, a Req/Sec and
//! Bytes/Sec table, then counts of requests, bytes, status classes and errors. Latency is in
//! milliseconds with microsecond precision. A pure function of the [`RunResult`].

use std::fmt::Write;

mod sections;

use crate::analyse::stats::PERCENTILES;
use crate::result::{Percentiles, RunResult, StopReason};
pub(crate) use crate::units::bytes;
use crate::units::trim_float;
pub(crate) use sections::{heap_trace_lines, profile_heading};

/// The line printed before the load starts.
pub(crate) fn header(
    result_url: &str,
    what: &str,
    connections: usize,
    pipelining: usize,
    workers: usize,
) -> String {
    let mut out = format!("Running {what} @ {result_url}\n{connections} connections");
    if pipelining > 1 {
        let _ = write!(out, " with {pipelining} pipelining factor");
    }
    let _ = write!(out, "\n{workers} workers\n");
    out
}

/// Renders the summary; `latency_table` adds the full percentile table, `color` uses ANSI.
pub(crate) fn render(result: &RunResult, latency_table: bool, color: bool) -> String {
    let style = Style { color };
    let mut out = String::from("\n");
    out += &summary_tables(result, &style);
    out += "\nReq/Bytes counts sampled once per second.\n";
    let _ = writeln!(out, "# of samples: {}\n", result.samples);
    if latency_table {
        out += &percentile_table(&result.latency.percentiles, &style);
        out += "\n";
    }
    out += &open_model_lines(result);
    out += &kind_lines(result, &style);
    out += &count_lines(result, &style);
    out += &capacity_lines(result, &style);
    out += &sections::target_lines(result, &style);
    out += &sections::verdict_lines(result, &style);
    out += &sections::profile_lines(result);
    out += &crate::report::io::lines(result);
    out += &sections::heap_lines(result);
    out += &sections::threshold_lines(result, &style);
    out
}

/// autocannon's two box tables: latency, then requests and bytes per second.
fn summary_tables(result: &RunResult, style: &Style) -> String {
    let l = &result.latency;
    let mut out = table(
        &[
            row(&["Stat", "2.5%", "50%", "97.5%", "99%", "Avg", "Stdev", "Max"]),
            [
                "Latency".to_string(),
                ms(l.percentiles.p2_5),
                ms(l.percentiles.p50),
                ms(l.percentiles.p97_5),
                ms(l.percentiles.p99),
                ms(l.average),
                ms(l.stddev),
                ms(l.max),
            ]
            .to_vec(),
        ],
        style,
    );
    let r = &result.requests;
    let t = &result.throughput;
    out += &table(
        &[
            row(&["Stat", "1%", "2.5%", "50%", "97.5%", "Avg", "Stdev", "Min"]),
            [
                "Req/Sec".to_string(),
                count(r.percentiles.p1),
                count(r.percentiles.p2_5),
                count(r.percentiles.p50),
                count(r.percentiles.p97_5),
                format!("{:.2}", r.average),
                format!("{:.2}", r.stddev),
                count(r.min),
            ]
            .to_vec(),
            [
                "Bytes/Sec".to_string(),
                bytes(t.percentiles.p1),
                bytes(t.percentiles.p2_5),
                bytes(t.percentiles.p50),
                bytes(t.percentiles.p97_5),
                bytes(t.average),
                bytes(t.stddev),
                bytes(t.min),
            ]
            .to_vec(),
        ],
        style,
    );
    out
}

/// With `-R`: the latency from the actual send, and how many requests went out late.
fn open_model_lines(result: &RunResult) -> String {
    let mut out = String::new();
    if let Some(uncorrected) = &result.latency_uncorrected {
        let _ = writeln!(
            out,
            "Latency counts from each request's planned send time ({} req/s). From the actual send: p50 {}, p99 {}, max {}.",
            result.rate.unwrap_or_default(),
            ms(uncorrected.percentiles.p50),
            ms(uncorrected.percentiles.p99),
            ms(uncorrected.max)
        );
        if let Some(late) = result.late_requests {
            let _ = writeln!(
                out,
                "{late} requests were sent more than 10 ms after their planned time."
            );
        }
    }
    out
}

/// Longest kind name shown in the table (characters); longer ones are cut.
const KIND_NAME_WIDTH: usize = 40;

/// A row per kind of request when there are several or any has checks: requests, p50, p99,
/// max, errors and the share that passed its checks; then each failed check's first mismatch.
fn kind_lines(result: &RunResult, style: &Style) -> String {
    let kinds = &result.kinds;
    if kinds.len() <= 1 && kinds.iter().all(|k| k.checks.is_empty()) {
        return String::new();
    }
    let mut rows = vec![row(&[
        "Kind", "Requests", "p50", "p99", "Max", "Errors", "Checks",
    ])];
    for kind in kinds {
        rows.push(vec![
            crate::report::escape::terminal(&cut(&kind.name, KIND_NAME_WIDTH)),
            kind.requests.total.to_string(),
            ms(kind.latency.percentiles.p50),
            ms(kind.latency.percentiles.p99),
            ms(kind.latency.max),
            kind.errors.to_string(),
            kind.checks_passed().map_or_else(
                || "-".to_string(),
                |share| format!("{:.2} %", 100.0 * share),
            ),
        ]);
    }
    let mut out = table(&rows, style);
    for kind in kinds {
        for check in kind.checks.iter().filter(|c| c.failed > 0) {
            let example = check
                .example
                .as_deref()
                .map(|e| format!(" ({})", crate::report::escape::terminal(e)))
                .unwrap_or_default();
            let line = format!(
                "{}: {} of {} responses failed {}{example}",
                crate::report::escape::terminal(&cut(&kind.name, KIND_NAME_WIDTH)),
                check.failed,
                check.passed + check.failed,
                check.check
            );
            let _ = writeln!(out, "{}", style.warn(&line));
        }
    }
    out + "\n"
}

/// The capacity search: a row per step, then the answer and the limit.
fn capacity_lines(result: &RunResult, style: &Style) -> String {
    let Some(capacity) = &result.capacity else {
        return String::new();
    };
    let mut rows = vec![row(&[
        "Step", "Offered", "Served", "p50", "p99", "Max", "Errors", "Late", "Loop", "Result",
    ])];
    for (i, step) in capacity.steps.iter().enumerate() {
        rows.push(vec![
            (i + 1).to_string(),
            crate::analyse::search::thousands(step.rate),
            crate::analyse::search::thousands(step.achieved),
            ms(step.latency_p50),
            ms(step.latency_p99),
            ms(step.latency_max),
            step.errors.to_string(),
            step.late.to_string(),
            step.utilisation
                .map_or_else(|| "-".to_string(), |u| format!("{:.0} %", u * 100.0)),
            if step.passed {
                "pass".to_string()
            } else {
                "fail".to_string()
            },
        ]);
    }
    let mut out = table(&rows, style);
    let sentence = crate::report::escape::terminal(&crate::analyse::search::sentence(capacity));
    let line = if capacity.max_rate.is_some() && !capacity.partial {
        style.ok(&sentence)
    } else {
        style.warn(&sentence)
    };
    let _ = writeln!(out, "{line}");
    if let Some(knee) = crate::analyse::search::knee(capacity) {
        let _ = writeln!(
            out,
            "  first failing step, {} req/s: {}",
            crate::analyse::search::thousands(knee.rate),
            crate::report::escape::terminal(&knee.why.join("; "))
        );
    }
    out + "\n"
}

/// `text` cut to `width` characters, with an ellipsis when cut.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// The counts: non-2xx responses, requests and bytes, errors by kind, requests in flight,
/// and why the load stopped early.
fn count_lines(result: &RunResult, style: &Style) -> String {
    let mut out = String::new();
    if result.non2xx > 0 {
        let codes: Vec<String> = result
            .status_code_stats
            .iter()
            .filter(|(code, _)| !code.starts_with('2'))
            .map(|(code, stat)| format!("{code}: {}", stat.count))
            .collect();
        let _ = writeln!(
            out,
            "{} 2xx responses, {} non 2xx responses ({})",
            result.status_2xx,
            result.non2xx,
            codes.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "{} requests in {}s, {} read",
        result.requests.total,
        trim_float(result.duration, 2),
        bytes(result.throughput.total as f64)
    );
    if result.errors > 0 {
        let line = format!("{} errors ({} timeouts)", result.errors, result.timeouts);
        let _ = writeln!(out, "{}", style.warn(&line));
        for (kind, error) in &result.errors_by_kind {
            let example = error
                .example
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            let _ = writeln!(out, "  {kind} {}{example}", error.count);
        }
    }
    if result.unfinished > 0 {
        let _ = writeln!(
            out,
            "{} requests were still in flight when the load stopped (not counted).",
            result.unfinished
        );
    }
    match result.stop_reason {
        StopReason::Interrupted => {
            out += &style.warn("Interrupted: the results cover the load until Ctrl-C.\n")
        }
        StopReason::BailedOut => {
            out += &style.warn("Stopped early: --bailout errors were reached.\n")
        }
        StopReason::TargetExited => {
            out += &style.warn("Stopped early: the target exited during the load.\n")
        }
        StopReason::Completed => {}
    }
    out
}

fn percentile_table(p: &Percentiles, style: &Style) -> String {
    let mut rows = vec![row(&["Percentile", "Latency (ms)"])];
    for (q, v) in PERCENTILES.iter().zip(p.values()) {
        rows.push(vec![trim_float(*q, 3), format!("{v:.3}")]);
    }
    table(&rows, style)
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

pub(super) struct Style {
    color: bool,
}

impl Style {
    pub(super) fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub(super) fn warn(&self, text: &str) -> String {
        self.paint("33", text)
    }

    pub(super) fn verdict(&self, text: &str) -> String {
        self.paint("1;31", text)
    }

    pub(super) fn ok(&self, text: &str) -> String {
        self.paint("1;32", text)
    }
}

/// Draws a box table; the first row is the header (cyan), the first column the row labels
/// (bold).
fn table(rows: &[Vec<String>], style: &Style) -> String {
    super::table::boxed(rows, |row, column, cell| match (row, column) {
        (0, _) => style.paint("36", &cell),
        (_, 0) => style.paint("1", &cell),
        _ => cell,
    })
}

/// Milliseconds with microsecond precision.
fn ms(value: f64) -> String {
    format!("{value:.3} ms")
}

/// A per-second count: whole numbers stay whole.
fn count(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_aligned_boxes() {
        let rows = vec![row(&["Stat", "50%"]), row(&["Latency", "1.000 ms"])];
        let drawn = table(&rows, &Style { color: false });
        let expected = "\
┌─────────┬──────────┐
│ Stat    │ 50%      │
├─────────┼──────────┤
│ Latency │ 1.000 ms │
└─────────┴──────────┘
";
        assert_eq!(drawn, expected);
    }

    /// The whole summary of a recorded run, against `testdata/summary.txt`
    /// (regenerate with HARNESS_UPDATE_SNAPSHOTS=1 cargo test summary_snapshot).
    #[test]
    fn summary_snapshot() {
        let mut result: RunResult =
            serde_json::from_str(include_str!("../../analyse/testdata/base.json")).unwrap();
        crate::analyse::annotate(&mut result);
        let rendered = render(&result, true, false);
        crate::testing::snapshot(
            "src/report/testdata/summary.txt",
            &rendered,
            "HARNESS_UPDATE_SNAPSHOTS",
        );
    }

    #[test]
    fn no_escape_codes_without_color() {
        let rows = vec![row(&["Stat"]), row(&["x"])];
        assert!(!table(&rows, &Style { color: false }).contains('\x1b'));
        assert!(table(&rows, &Style { color: true }).contains('\x1b'));
    }
}
