//! The answer at a glance: the verdict, the one thing to do next (with the code harness
//! named, when it named some), and the numbers a reviewer looks for first. One model,
//! [`Summary`], rendered as the HTML report's first screen and as the Markdown that CI shows
//! on its job page, so the two never disagree.

use std::fmt::Write;

use super::escape::{html as escape, markdown as md, markdown_code};
use crate::result::{FindingKind, RunResult, Severity};
use crate::units::{bytes, thousands, trim_float};

/// What a reviewer reads first.
#[derive(Debug, Clone)]
pub(crate) struct Summary {
    /// The verdict's title, or "No problem found".
    pub verdict: String,
    /// The main finding's severity (`None`: no problem found).
    pub severity: Option<Severity>,
    /// What to do next: the main finding's advice.
    pub next: Option<String>,
    /// The code harness named, and the report section that shows it (`heap`, `profile`).
    pub code: Option<(String, &'static str)>,
    /// The numbers, each a label and a value, in reading order.
    pub numbers: Vec<(&'static str, String)>,
    /// Each threshold: as written, met or not, the measured value.
    pub thresholds: Vec<(String, bool, String)>,
    /// A row per kind of request, when there are several or any has checks.
    pub kinds: Vec<KindRow>,
    /// The capacity search's answer and limit, in one sentence.
    pub capacity: Option<String>,
}

/// One kind of request at a glance.
#[derive(Debug, Clone)]
pub(crate) struct KindRow {
    /// Its name.
    pub name: String,
    /// The numbers, formatted: requests, p50, p99, max, errors, checks passed.
    pub cells: [String; 6],
}

/// The headings of a kind's cells.
const KIND_HEADINGS: [&str; 7] = ["kind", "requests", "p50", "p99", "max", "errors", "checks"];

/// The kinds' rows, or none when the run has one kind without checks.
fn kind_rows(result: &RunResult) -> Vec<KindRow> {
    let kinds = &result.kinds;
    if kinds.len() <= 1 && kinds.iter().all(|k| k.checks.is_empty()) {
        return Vec::new();
    }
    let ms = |value: f64| format!("{} ms", trim_float(value, 2));
    kinds
        .iter()
        .map(|kind| {
            let rate = crate::analyse::measure::kind_error_rate(kind)
                .map(|r| format!(" ({} %)", trim_float(100.0 * r, 2)))
                .unwrap_or_default();
            KindRow {
                name: kind.name.clone(),
                cells: [
                    thousands(kind.requests.total),
                    ms(kind.latency.percentiles.p50),
                    ms(kind.latency.percentiles.p99),
                    ms(kind.latency.max),
                    format!("{}{rate}", thousands(kind.errors)),
                    kind.checks_passed().map_or_else(
                        || "-".to_string(),
                        |share| format!("{} %", trim_float(100.0 * share, 2)),
                    ),
                ],
            }
        })
        .collect()
}

impl Summary {
    /// The summary of a result whose findings are computed.
    pub(crate) fn of(result: &RunResult) -> Summary {
        let main = result.main_finding();
        Summary {
            verdict: main.map_or_else(|| "No problem found".to_string(), |f| f.title.clone()),
            severity: main.map(|f| f.severity),
            next: main.map(|f| f.advice.clone()),
            code: main.and_then(|f| named_code(result, f.kind)),
            numbers: numbers(result),
            thresholds: result
                .thresholds
                .iter()
                .map(|t| (t.threshold.clone(), t.passed, t.actual.clone()))
                .collect(),
            kinds: kind_rows(result),
            capacity: result
                .capacity
                .as_ref()
                .map(crate::analyse::search::sentence),
        }
    }

    /// The HTML block (`id="summary"`) at the top of the report; every string escaped.
    pub(crate) fn html(&self) -> String {
        let mut out = format!(
            "<section id=\"summary\" class=\"summary {}\"><h2 id=\"verdict\">{}</h2>",
            self.severity.map_or("ok", Severity::as_str),
            escape(&self.verdict)
        );
        if let Some((code, anchor)) = &self.code {
            let _ = write!(
                out,
                "<p class=\"code\"><strong>Code:</strong> {} <a href=\"#{anchor}\">(details)</a></p>",
                code_html(code)
            );
        }
        if let Some(next) = &self.next {
            let _ = write!(out, "<p class=\"next\">{}</p>", escape(next));
        }
        if let Some(capacity) = &self.capacity {
            let _ = write!(
                out,
                "<p class=\"capacity\" id=\"capacity-answer\"><strong>{}</strong> <a href=\"#capacity\">(steps)</a></p>",
                escape(capacity)
            );
        }
        out += "<dl class=\"numbers\">";
        for (label, value) in &self.numbers {
            let _ = write!(
                out,
                "<div><dt>{}</dt><dd>{}</dd></div>",
                escape(label),
                escape(value)
            );
        }
        out += "</dl>";
        if !self.kinds.is_empty() {
            out += "<table class=\"kinds\" id=\"kinds\"><tr>";
            for heading in KIND_HEADINGS {
                let _ = write!(out, "<th>{heading}</th>");
            }
            out += "</tr>";
            for kind in &self.kinds {
                let _ = write!(out, "<tr><td>{}</td>", escape(&kind.name));
                for cell in &kind.cells {
                    let _ = write!(out, "<td class=\"num\">{}</td>", escape(cell));
                }
                out += "</tr>";
            }
            out += "</table>";
        }
        if !self.thresholds.is_empty() {
            let _ = write!(
                out,
                "<p><strong>Thresholds: {}</strong></p><ul class=\"checks\" id=\"thresholds\">",
                self.thresholds_line()
            );
            for (threshold, passed, actual) in &self.thresholds {
                let _ = write!(
                    out,
                    "<li class=\"{}\">{} <code>{}</code> <span class=\"meta\">({})</span></li>",
                    if *passed { "pass" } else { "fail" },
                    if *passed { "pass" } else { "FAIL" },
                    escape(threshold),
                    escape(actual)
                );
            }
            out += "</ul>";
        }
        out += "</section>";
        out
    }

    /// "all met" or "1 of 2 not met".
    pub(crate) fn thresholds_line(&self) -> String {
        let failed = self.thresholds.iter().filter(|t| !t.1).count();
        if failed == 0 {
            "all met".to_string()
        } else {
            format!("{failed} of {} not met", self.thresholds.len())
        }
    }

    /// Markdown for a CI job page (GitHub's job summary), titled with `name`; `report` is
    /// where the HTML report was written.
    pub(crate) fn markdown(&self, name: &str, report: Option<&str>) -> String {
        let mut out = format!("### harness: {}\n\n", md(name));
        let mark = match self.severity {
            None => "✅",
            Some(Severity::Critical) => "❌",
            Some(Severity::Warning | Severity::Info) => "⚠️",
        };
        let _ = writeln!(out, "{mark} **{}**\n", md(&self.verdict));
        if let Some((code, _)) = &self.code {
            let _ = writeln!(out, "**Code:** {}\n", md(code));
        }
        if let Some(next) = &self.next {
            let _ = writeln!(out, "{}\n", md(next));
        }
        if let Some(capacity) = &self.capacity {
            let _ = writeln!(out, "**{}**\n", md(capacity));
        }
        out += "| ";
        out += &self
            .numbers
            .iter()
            .map(|(label, _)| *label)
            .collect::<Vec<_>>()
            .join(" | ");
        out += " |\n|";
        out += &" --- |".repeat(self.numbers.len());
        out += "\n| ";
        out += &self
            .numbers
            .iter()
            .map(|(_, value)| md(value))
            .collect::<Vec<_>>()
            .join(" | ");
        out += " |\n";
        if !self.kinds.is_empty() {
            let _ = write!(
                out,
                "\n| {} |\n|{}\n",
                KIND_HEADINGS.join(" | "),
                " --- |".repeat(KIND_HEADINGS.len())
            );
            for kind in &self.kinds {
                let cells: Vec<String> = kind.cells.iter().map(|c| md(c)).collect();
                let _ = writeln!(
                    out,
                    "| `{}` | {} |",
                    markdown_code(&kind.name),
                    cells.join(" | ")
                );
            }
        }
        if !self.thresholds.is_empty() {
            let _ = write!(
                out,
                "\nThresholds: {}\n\n| threshold | result | measured |\n| --- | --- | --- |\n",
                self.thresholds_line()
            );
            for (threshold, passed, actual) in &self.thresholds {
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} |",
                    markdown_code(threshold),
                    if *passed { "✅ pass" } else { "❌ FAIL" },
                    md(actual)
                );
            }
        }
        if let Some(report) = report {
            let _ = writeln!(out, "\nReport: `{}`", report.replace('`', "'"));
        }
        out.push('\n');
        out
    }
}

/// The numbers, in the order a reviewer reads them.
fn numbers(result: &RunResult) -> Vec<(&'static str, String)> {
    let rate = |count: u64, of: u64| {
        if of == 0 {
            String::new()
        } else {
            format!(" ({} %)", trim_float(count as f64 * 100.0 / of as f64, 2))
        }
    };
    let ms = |value: f64| format!("{} ms", trim_float(value, 2));
    let errors = crate::analyse::measure::error_rate(result)
        .map(|r| format!(" ({} %)", trim_float(100.0 * r, 2)))
        .unwrap_or_default();
    let mut out = vec![
        ("requests/s", thousands(result.requests.mean.round() as u64)),
        ("latency p50", ms(result.latency.percentiles.p50)),
        ("latency p99", ms(result.latency.percentiles.p99)),
        ("latency max", ms(result.latency.max)),
        ("requests", thousands(result.requests.total)),
        ("errors", format!("{}{errors}", thousands(result.errors))),
        (
            "non-2xx",
            format!(
                "{}{}",
                thousands(result.non2xx),
                rate(result.non2xx, result.requests.total)
            ),
        ),
    ];
    if let Some(peak) = result
        .process
        .as_ref()
        .and_then(|p| p.points.iter().map(|p| p.rss).max())
    {
        out.push(("peak RSS", bytes(peak as f64)));
    }
    if let Ok(kept) = crate::analyse::measure::memory_growth(result) {
        out.push(("retained after the load", bytes(kept as f64)));
    }
    out
}

/// The code the heap or CPU analysis named for the main finding, and its section.
fn named_code(result: &RunResult, kind: FindingKind) -> Option<(String, &'static str)> {
    let memory = matches!(
        kind,
        FindingKind::MemoryLeak | FindingKind::ListenerLeak | FindingKind::MemoryPlateau
    );
    if memory {
        let headline = result
            .heap
            .iter()
            .filter_map(|p| p.analysis.as_ref())
            .find_map(crate::analyse::heap::headline)?;
        return Some((headline, "heap"));
    }
    match kind {
        FindingKind::BlockedEventLoop | FindingKind::CpuSaturated | FindingKind::GcPressure => {
            let hot = result.profiles.first()?.hot.first()?;
            Some((crate::analyse::profile::describe(hot), "profile"))
        }
        // The awaited operation, not the code that ran: the loop was not the problem.
        FindingKind::IoWait => {
            let awaited = crate::analyse::io_wait::awaited(result)?;
            Some((awaited.name, "io"))
        }
        // Failed requests and responses are named by their kind and check, not by code.
        _ => None,
    }
}

/// Code spans (`name`) as `<code>`, the rest escaped.
fn code_html(text: &str) -> String {
    text.split('`')
        .enumerate()
        .map(|(i, part)| {
            let part = escape(part);
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        Summary {
            verdict: "Memory leak: 1 kB <per> request".to_string(),
            severity: Some(Severity::Critical),
            next: Some("Look for | Buffers".to_string()),
            code: Some(("`computeTerm` (app.js:17)".to_string(), "heap")),
            numbers: vec![
                ("requests/s", "1,000".to_string()),
                ("latency p99", "2 ms".to_string()),
            ],
            thresholds: vec![("p99<1ms".to_string(), false, "2 ms".to_string())],
            kinds: vec![KindRow {
                name: "GET /s?q=<b>|x`".to_string(),
                cells: ["10", "1 ms", "2 ms", "3 ms", "1 (10 %)", "90 %"].map(String::from),
            }],
            capacity: Some("Capacity: 780 req/s with p99<50ms | x".to_string()),
        }
    }

    #[test]
    fn html_escapes_and_links_the_named_code() {
        let html = summary().html();
        assert!(html.starts_with("<section id=\"summary\""));
        assert!(html.contains("&lt;per&gt;"));
        assert!(html.contains(
            "<strong>Code:</strong> <code>computeTerm</code> (app.js:17) <a href=\"#heap\">"
        ));
        assert!(html.contains("<li class=\"fail\">FAIL <code>p99&lt;1ms</code>"));
        assert!(html.contains("<tr><td>GET /s?q=&lt;b&gt;|x`</td><td class=\"num\">10</td>"));
    }

    #[test]
    fn markdown_is_a_table_that_a_message_cannot_break() {
        let md = summary().markdown("checkout", Some("reports/checkout/report.html"));
        assert!(md.contains("❌ **Memory leak: 1 kB &lt;per&gt; request**"));
        assert!(md.contains("Look for \\| Buffers"));
        assert!(md.contains("| requests/s | latency p99 |\n| --- | --- |\n| 1,000 | 2 ms |"));
        assert!(md.contains("| `p99<1ms` | ❌ FAIL | 2 ms |"));
        assert!(md.contains("Report: `reports/checkout/report.html`"));
        assert!(md.contains("| kind | requests | p50 | p99 | max | errors | checks |"));
        assert!(
            md.contains("| `GET /s?q=<b>\\|x'` | 10 | 1 ms | 2 ms | 3 ms | 1 (10 %) | 90 % |"),
            "{md}"
        );
    }
}
