//! The self-contained HTML report: one file, no network requests, readable with JavaScript
//! disabled (there is none), light and dark through CSS. A pure function of the saved result:
//! [`render`] is what `harness report` calls on an old `result.json`. Every string that comes
//! from the target, the user or the network is escaped here.

mod capacity;
pub(crate) mod compare;
mod flame;
mod heap;

use std::fmt::Write;

use super::charts;
use super::escape::html as escape;
use super::terminal::bytes;
use crate::analyse::stats::PERCENTILES;
use crate::result::RunResult;

/// The page: the report and the comparison page fill the same placeholders.
const TEMPLATE: &str = include_str!("report.html");

/// Renders the report for a result (its findings are computed again from the data).
pub(crate) fn render(result: &RunResult) -> anyhow::Result<String> {
    let mut result = result.clone();
    crate::analyse::annotate(&mut result);
    let charts = charts::render_all(&result)?;
    let title = match &result.target {
        Some(target) if !target.command.is_empty() => {
            format!("harness: {}", target.command.join(" "))
        }
        _ => format!("harness: {}", result.url),
    };
    let meta = format!(
        "{} {} · {} · {} connections · {}",
        result.method,
        result.url,
        result.start,
        result.connections,
        if result.rate.is_some() {
            "open model"
        } else {
            "closed model"
        }
    );
    let mut figures = String::new();
    for (chart, svg) in &charts {
        let _ = writeln!(
            figures,
            "<figure id=\"{}\" aria-label=\"{}\">{svg}</figure>",
            chart.id,
            escape(&chart.title)
        );
    }
    let page = TEMPLATE
        .replace("{{title}}", &escape(&title))
        .replace("{{meta}}", &escape(&meta))
        .replace("{{version}}", &escape(&result.harness_version))
        .replace("{{summary}}", &super::summary::Summary::of(&result).html())
        .replace("{{verdict}}", &verdict(&result))
        .replace("{{sections}}", &sections(&result))
        .replace("{{charts}}", &figures);
    Ok(page)
}

fn verdict(result: &RunResult) -> String {
    let main = result.main_finding();
    let mut out = String::new();
    match main {
        Some(finding) => {
            let _ = write!(
                out,
                "<section class=\"verdict {}\" id=\"evidence\"><h2>Evidence</h2>",
                finding.severity
            );
            out += "<table>";
            for evidence in &finding.evidence {
                let _ = write!(
                    out,
                    "<tr><th>{}</th><td>{}</td></tr>",
                    escape(&evidence.label),
                    escape(&evidence.value)
                );
            }
            out += "</table>";
        }
        None => {
            out += "<section class=\"verdict ok\" id=\"evidence\">";
            if result.target.is_none() {
                out += "<p>Only the responses were measured; run with <code>-- COMMAND</code> to profile the server as well.</p>";
            } else {
                out += "<p>No finding: the load, the target's resources and its event loop looked healthy.</p>";
            }
        }
    }
    let others: Vec<_> = result
        .findings
        .iter()
        .skip(usize::from(main.is_some()))
        .collect();
    if !others.is_empty() {
        out += "<ul class=\"others\">";
        for finding in others {
            let _ = write!(
                out,
                "<li><span class=\"sev\">{}</span> {}</li>",
                finding.severity,
                escape(&finding.title)
            );
        }
        out += "</ul>";
    }
    out += "</section>";
    out
}

fn sections(result: &RunResult) -> String {
    let mut out = String::new();
    out += &capacity::section(result);
    out += &flame::section(&result.profiles, result.cpu_trace.as_ref());
    out += &crate::report::io::section(result);
    out += &heap::section(result);
    out += &configuration(result);
    out += &latency_table(result);
    out += &responses(result);
    out += &warnings(result);
    out += &target_output(result);
    out
}

fn rows(out: &mut String, rows: &[(&str, String)]) {
    out.push_str("<table>");
    for (label, value) in rows {
        let _ = write!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(label),
            escape(value)
        );
    }
    out.push_str("</table>");
}

fn configuration(result: &RunResult) -> String {
    let mut out = String::from("<h2 id=\"configuration\">Configuration</h2>");
    let headers: Vec<String> = result
        .headers
        .iter()
        .map(|h| format!("{}: {}", h.name, h.value))
        .collect();
    let mut list = vec![
        ("URL", result.url.clone()),
        ("method", result.method.clone()),
        (
            "headers",
            if headers.is_empty() {
                "none".to_string()
            } else {
                headers.join("; ")
            },
        ),
        ("body", format!("{} bytes", result.body_bytes)),
        ("connections", result.connections.to_string()),
        ("pipelining", result.pipelining.to_string()),
        ("workers", result.workers.to_string()),
        (
            "model",
            result.rate.map_or(
                "closed (each connection waits for its response)".to_string(),
                |r| format!("open, {r} requests/s"),
            ),
        ),
        (
            "protocol",
            if result.http2 { "HTTP/2" } else { "HTTP/1.1" }.to_string(),
        ),
        (
            "measured",
            format!("{} s from {}", result.duration, result.start),
        ),
        ("timeout", format!("{} s", result.timeout)),
    ];
    if let Some(socket) = &result.socket_path {
        list.push(("Unix socket", socket.clone()));
    }
    if let Some(target) = &result.target {
        let command = if target.command.is_empty() {
            format!("pid {}", target.pid)
        } else {
            target.command.join(" ")
        };
        list.push(("target", command));
        if let Some(attached) = &target.attached {
            list.push((
                "attached",
                format!(
                    "through its inspector at {} ({}), Node {}, probe {}",
                    attached.inspector,
                    if attached.opened {
                        "opened with SIGUSR1, closed after"
                    } else {
                        "already open"
                    },
                    attached.node,
                    if attached.probe {
                        "reporting"
                    } else {
                        "silent"
                    }
                ),
            ));
        }
        if let Some(exit) = &target.exit {
            list.push((
                "target exit",
                format!(
                    "{exit} (signals sent: {})",
                    if target.stop_signals.is_empty() {
                        "none".to_string()
                    } else {
                        target.stop_signals.join(", ")
                    }
                ),
            ));
        }
        if !target.left_group.is_empty() {
            list.push(("left its group", super::left_group(&target.left_group)));
        }
    }
    let phases: Vec<String> = result
        .phases
        .iter()
        .map(|p| format!("{} {:.1}-{:.1} s", p.name, p.start, p.end))
        .collect();
    list.push(("phases", phases.join(", ")));
    rows(&mut out, &list);
    out
}

fn latency_table(result: &RunResult) -> String {
    let mut out = String::from("<h2 id=\"latency-table\">Latency percentiles</h2><table><tr><th>percentile</th><th>latency (ms)</th></tr>");
    for (p, value) in PERCENTILES.iter().zip(result.latency.percentiles.values()) {
        let _ = write!(
            out,
            "<tr><td>{p}</td><td class=\"num\">{value:.3}</td></tr>"
        );
    }
    let _ = write!(
        out,
        "<tr><td>mean</td><td class=\"num\">{:.3}</td></tr><tr><td>max</td><td class=\"num\">{:.3}</td></tr></table>",
        result.latency.mean, result.latency.max
    );
    let _ = write!(
        out,
        "<p>{} responses in {} s ({:.0}/s), {} read.</p>",
        result.requests.total,
        result.duration,
        result.requests.overall,
        bytes(result.throughput.total as f64)
    );
    out
}

fn responses(result: &RunResult) -> String {
    let mut out = String::from("<h2 id=\"status\">Status codes and errors</h2><table><tr><th>status</th><th>count</th></tr>");
    for (code, stat) in &result.status_code_stats {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
            escape(code),
            stat.count
        );
    }
    out += "</table>";
    if result.errors_by_kind.is_empty() {
        out += "<p>No errors.</p>";
    } else {
        out += "<table><tr><th>error</th><th>count</th><th>first message</th></tr>";
        for (kind, error) in &result.errors_by_kind {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                escape(kind),
                error.count,
                escape(error.example.as_deref().unwrap_or(""))
            );
        }
        out += "</table>";
    }
    out
}

fn warnings(result: &RunResult) -> String {
    let all: Vec<_> = result
        .node
        .iter()
        .flat_map(|p| p.warnings.iter().map(move |w| (p.pid, w)))
        .collect();
    if all.is_empty() {
        return String::new();
    }
    let mut out = String::from("<h2 id=\"warnings\">Warnings from the target</h2>");
    for (pid, warning) in all {
        let _ = write!(
            out,
            "<p><strong>{}</strong> (pid {pid}, at {:.1} s{}){}: {}</p>",
            escape(&warning.name),
            warning.t,
            if warning.occurrences > 1 {
                format!(", {} times", warning.occurrences)
            } else {
                String::new()
            },
            warning
                .location
                .as_deref()
                .map(|l| format!(" at {}", escape(l)))
                .unwrap_or_default(),
            escape(&warning.message)
        );
        if let Some(stack) = &warning.stack {
            let _ = write!(out, "<pre>{}</pre>", escape(stack));
        }
    }
    out
}

fn target_output(result: &RunResult) -> String {
    let Some(target) = &result.target else {
        return String::new();
    };
    let mut out = String::new();
    for (id, title, lines) in [
        ("stderr", "Target stderr (last lines)", &target.stderr_tail),
        ("stdout", "Target stdout (last lines)", &target.stdout_tail),
    ] {
        if !lines.is_empty() {
            let _ = write!(
                out,
                "<h2 id=\"{id}\">{title}</h2><pre>{}</pre>",
                escape(&lines.join("\n"))
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> RunResult {
        serde_json::from_str(include_str!("../../analyse/testdata/base.json")).unwrap()
    }

    #[test]
    fn hostile_strings_are_escaped_everywhere() {
        let mut result = base();
        let evil = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>";
        result.url = format!("http://127.0.0.1/{evil}");
        result.headers.push(crate::result::Header {
            name: "X-Evil".to_string(),
            value: evil.to_string(),
        });
        let target = result.target.as_mut().unwrap();
        target.stderr_tail = vec![evil.to_string()];
        target.command = vec!["node".to_string(), evil.to_string()];
        result.errors_by_kind.insert(
            "reset".to_string(),
            crate::result::ErrorCount {
                count: 1,
                example: Some(evil.to_string()),
            },
        );
        let html = render(&result).unwrap();
        assert!(!html.contains("<script"), "unescaped script tag");
        assert!(!html.contains("<img"), "unescaped img tag");
        assert!(html.contains("&lt;script&gt;"));
    }

    /// The whole page for a recorded run, against `testdata/report.html`
    /// (regenerate with HARNESS_UPDATE_SNAPSHOTS=1 cargo test report_snapshot).
    #[test]
    fn report_snapshot() {
        let mut result = base();
        result.thresholds = vec![
            crate::result::ThresholdOutcome {
                threshold: "p99<50ms".to_string(),
                passed: true,
                actual: "12.30 ms".to_string(),
            },
            crate::result::ThresholdOutcome {
                threshold: "leak=none".to_string(),
                passed: false,
                actual: "found: Memory <leak>".to_string(),
            },
        ];
        let rendered = render(&result).unwrap();
        assert!(rendered.contains("<strong>Thresholds: 1 of 2 not met</strong>"));
        assert!(rendered.contains("found: Memory &lt;leak&gt;"));
        crate::testing::snapshot(
            "src/report/testdata/report.html",
            &rendered,
            "HARNESS_UPDATE_SNAPSHOTS",
        );
    }

    #[test]
    fn the_report_is_self_contained() {
        let html = render(&base()).unwrap();
        // (The SVG namespace URI is a name, not a request.)
        for forbidden in [
            "src=\"http",
            "href=\"http",
            "href=\"//",
            "<script",
            "<link",
            "@import",
            "url(",
        ] {
            assert!(!html.contains(forbidden), "report contains {forbidden}");
        }
        assert!(html.contains("id=\"verdict\""));
        assert!(html.matches("<svg").count() >= 4, "charts missing");
    }
}
