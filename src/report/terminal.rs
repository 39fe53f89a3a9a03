//! The terminal summary, laid out like autocannon's: a latency table, a Req/Sec and
//! Bytes/Sec table, then counts of requests, bytes, status classes and errors. Latency is in
//! milliseconds with microsecond precision. A pure function of the [`RunResult`].

use std::fmt::Write;

use crate::analyse::stats::PERCENTILES;
use crate::result::{HeapSnapshotInfo, HeapTrace, Percentiles, RunResult};

/// The line printed before the load starts.
pub fn header(
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
pub fn render(result: &RunResult, latency_table: bool, color: bool) -> String {
    let style = Style { color };
    let mut out = String::from("\n");
    let l = &result.latency;
    out += &table(
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
        &style,
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
        &style,
    );
    out += "\nReq/Bytes counts sampled once per second.\n";
    let _ = writeln!(out, "# of samples: {}\n", result.samples);
    if latency_table {
        out += &percentile_table(&l.percentiles, &style);
        out += "\n";
    }
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
    match result.stop_reason.as_str() {
        "interrupted" => {
            out += &style.warn("Interrupted: the results cover the load until Ctrl-C.\n")
        }
        "bailedOut" => out += &style.warn("Stopped early: --bailout errors were reached.\n"),
        "targetExited" => out += &style.warn("Stopped early: the target exited during the load.\n"),
        _ => {}
    }
    out += &target_lines(result, &style);
    out += &verdict_lines(result, &style);
    out += &profile_lines(result);
    out += &heap_lines(result);
    out += &threshold_lines(result, &style);
    out
}

/// What the heap trace did, then where the memory goes from its snapshots: the biggest
/// leaked group with its path, the next groups in a line each.
fn heap_lines(result: &RunResult) -> String {
    let mut out = String::new();
    let Some(trace) = &result.heap_trace else {
        return out;
    };
    out.push('\n');
    for line in heap_trace_lines(trace, peak_rss(result)) {
        let _ = writeln!(out, "{line}");
    }
    for process in &result.heap {
        if process.snapshots.is_empty() && process.analysis.is_none() {
            continue;
        }
        let _ = writeln!(
            out,
            "\nWhere the memory goes (pid {}, objects added during the heap trace and still alive after its cooldown):",
            process.pid
        );
        if !process.snapshots.is_empty() {
            let _ = writeln!(out, "  {}", snapshot_line(&process.snapshots));
        }
        if let Some(note) = &process.note {
            let _ = writeln!(out, "  {note}");
        }
        let Some(analysis) = &process.analysis else {
            continue;
        };
        if analysis.groups.is_empty() {
            if process.note.is_none() {
                let _ = writeln!(
                    out,
                    "  no group of leaked objects is large enough to name ({} objects, {} in all)",
                    thousands(analysis.leaked_objects),
                    bytes(analysis.leaked_bytes as f64)
                );
            }
            continue;
        }
        if let Some(headline) = crate::analyse::heap::headline(analysis) {
            let _ = writeln!(out, "  {headline}");
        }
        let _ = writeln!(out, "    {}", analysis.groups[0].path.join(" → "));
        let in_app = |site: &&crate::result::AllocationSite| {
            !site.url.is_empty() && !site.url.starts_with("node:")
        };
        if let Some(site) = process.allocations.iter().find(in_app) {
            let file = site.url.rsplit('/').next().unwrap_or(&site.url);
            let _ = writeln!(
                out,
                "  most of the retained JS heap was allocated in {} ({file}:{}), {} sampled",
                site.function,
                site.line,
                bytes(site.bytes as f64)
            );
        }
        for group in analysis.groups.iter().skip(1) {
            let holder = group
                .retainer
                .as_ref()
                .map_or(String::new(), |r| format!(", held by {}", r.name));
            let _ = writeln!(
                out,
                "  {} × {} (+{}){holder}",
                thousands(group.count),
                group.class,
                bytes(group.bytes as f64)
            );
        }
    }
    out
}

/// The hot code from each CPU profile: the app's functions with the most time, and what
/// they called.
fn profile_lines(result: &RunResult) -> String {
    let mut out = String::new();
    for profile in &result.profiles {
        let _ = writeln!(out, "\n{}:", profile_heading(profile));
        for hot in profile.hot.iter().filter(|h| h.share >= 0.01).take(5) {
            let callee = hot
                .callee
                .as_ref()
                .filter(|c| c.share < 0.5)
                .map_or(String::new(), |c| {
                    format!(
                        ", {:.0} % of it in `{}` ({})",
                        c.share * 100.0,
                        c.function,
                        crate::analyse::profile::place(&c.url, c.line)
                    )
                });
            let _ = writeln!(
                out,
                "  {:>5.1} %  {}{callee}",
                hot.share * 100.0,
                crate::analyse::profile::describe(hot)
            );
        }
        if let Some(file) = &profile.file {
            let _ = writeln!(
                out,
                "  the raw profile is {file} beside the report (it opens in Chrome DevTools and speedscope)"
            );
        }
    }
    out
}

/// "Hot code (CPU profile of pid 123 after the cooldown: 3.2 s, 2,856 samples, ...)".
pub fn profile_heading(profile: &crate::analyse::profile::CpuProfile) -> String {
    let pid = profile.pid.map_or(String::new(), |pid| {
        format!(" of pid {pid} after the cooldown")
    });
    let per_response = match profile.responses {
        Some(n) => format!(", {} responses", thousands(n)),
        None => String::new(),
    };
    let gc = if profile.busy_ms > 0.0 {
        profile.gc_ms / profile.busy_ms * 100.0
    } else {
        0.0
    };
    format!(
        "Hot code (CPU profile{pid}: {:.1} s, {} samples{per_response}; busy {:.2} s, {gc:.0} % of it in GC)",
        profile.seconds,
        thousands(profile.samples),
        profile.busy_ms / 1000.0
    )
}

/// The measured target's peak RSS, bytes.
fn peak_rss(result: &RunResult) -> Option<u64> {
    let process = result.process.as_ref()?;
    process.points.iter().map(|p| p.rss).max()
}

/// What the heap trace did, in a few lines: where it ran, its load, its cost. Shared by the
/// terminal and the HTML report.
pub fn heap_trace_lines(trace: &HeapTrace, measured_peak_rss: Option<u64>) -> Vec<String> {
    let Some(pid) = trace.pid else {
        let why = trace.warning.as_deref().unwrap_or("it did not run");
        return vec![format!("Heap trace ({}): not run: {why}", trace.reason)];
    };
    let peak = trace.peak_rss.map_or(String::new(), |rss| {
        let measured = measured_peak_rss.map_or(String::new(), |m| {
            format!(" (the measured one: {})", bytes(m as f64))
        });
        format!(", peak RSS {}{measured}", bytes(rss as f64))
    });
    let mut lines = vec![
        format!(
            "Heap trace ({}) on a second copy of the target (pid {pid}), {:.1} s in all{peak}:",
            trace.reason,
            trace.end - trace.start
        ),
        format!(
            "  {} warm-up requests, then {} requests at {}/s over {} connections ({} responses, {} errors in {:.1} s), not counted above",
            thousands(trace.warmup_requests),
            thousands(trace.requests),
            thousands(trace.rate.round() as u64),
            trace.connections,
            thousands(trace.responses),
            thousands(trace.errors),
            trace.seconds
        ),
    ];
    if let Some(warning) = &trace.warning {
        lines.push(format!("  did not finish: {warning}"));
    }
    lines
}

/// The snapshots of one process: where each was taken, how long it stalled the process, and
/// the used heap then.
fn snapshot_line(snapshots: &[HeapSnapshotInfo]) -> String {
    let each: Vec<String> = snapshots
        .iter()
        .map(|s| {
            let when = match s.phase.as_str() {
                "warmup" => "after the warm-up",
                "trace" => "after the trace load",
                "trace-cooldown" => "after its cooldown",
                other => other,
            };
            match &s.skipped {
                Some(why) => format!("{when}: skipped ({why})"),
                None => format!(
                    "{when} {:.1} s ({} heap)",
                    s.ms / 1000.0,
                    bytes(s.heap_used as f64)
                ),
            }
        })
        .collect();
    format!("snapshots: {}", each.join(", "))
}

/// Each threshold with its measured value, then the overall outcome.
fn threshold_lines(result: &RunResult, style: &Style) -> String {
    if result.thresholds.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nThresholds\n");
    let width = result
        .thresholds
        .iter()
        .map(|t| t.threshold.chars().count())
        .max()
        .unwrap_or(0);
    for t in &result.thresholds {
        let mark = if t.passed {
            style.ok("pass")
        } else {
            style.verdict("FAIL")
        };
        let _ = writeln!(out, "  {mark}  {:<width$}  {}", t.threshold, t.actual);
    }
    let failed = result.thresholds.iter().filter(|t| !t.passed).count();
    if failed == 0 {
        let _ = writeln!(out, "{}", style.ok("All thresholds met."));
    } else {
        let _ = writeln!(
            out,
            "{}",
            style.verdict(&format!(
                "{failed} of {} thresholds not met.",
                result.thresholds.len()
            ))
        );
    }
    out
}

/// The verdict and its evidence, then the other findings in a line each.
fn verdict_lines(result: &RunResult, style: &Style) -> String {
    let mut out = String::from("\n");
    let main = result.findings.first().filter(|f| f.severity != "info");
    match main {
        Some(finding) => {
            let _ = writeln!(
                out,
                "{}",
                style.verdict(&format!("Verdict: {}", finding.title))
            );
            for evidence in &finding.evidence {
                let _ = writeln!(out, "  {}: {}", evidence.label, evidence.value);
            }
            let _ = writeln!(out, "  → {}", finding.advice);
        }
        None if result.target.is_none() => {
            let _ = writeln!(
                out,
                "Verdict: no problem found in the responses (add -- COMMAND to start and profile the server too)"
            );
        }
        None => {
            let _ = writeln!(out, "{}", style.ok("Verdict: no problem found"));
        }
    }
    let rest = result.findings.iter().skip(usize::from(main.is_some()));
    for finding in rest {
        let _ = writeln!(out, "  [{}] {}", finding.severity, finding.title);
    }
    out
}

/// What happened to the target: how it started and ended, its footprint, the Node heap floors.
fn target_lines(result: &RunResult, style: &Style) -> String {
    let Some(target) = &result.target else {
        return String::new();
    };
    let mut out = String::from("\n");
    let name = if target.command.is_empty() {
        format!("pid {}", target.pid)
    } else {
        format!("{} (pid {})", target.command.join(" "), target.pid)
    };
    let ready = target
        .ready_after
        .map(|s| format!(", ready after {}s", trim_float(s, 2)))
        .unwrap_or_default();
    let ended = match (&target.exit, target.stop_signals.last()) {
        (Some(_), Some(signal)) if target.exit_signal.is_some() => {
            format!(", stopped with {signal}")
        }
        (Some(exit), Some(signal)) => format!(", stopped with {signal} ({exit})"),
        (Some(exit), None) => format!(", exited by itself ({exit})"),
        (None, _) => String::new(),
    };
    let _ = writeln!(out, "Target: {name}{ready}{ended}");
    if let Some(process) = &result.process {
        let points = &process.points;
        let peak_rss = points.iter().map(|p| p.rss).max().unwrap_or(0);
        let in_load: Vec<_> = points
            .iter()
            .filter(|p| {
                p.t >= result.measure_start && p.t <= result.measure_start + result.duration
            })
            .collect();
        let usage = if in_load.is_empty() {
            String::new()
        } else {
            let mean = |f: fn(&&crate::result::ProcessSample) -> f64| {
                in_load.iter().map(f).sum::<f64>() / in_load.len() as f64
            };
            format!(
                ", CPU during the load {:.0} % of a core (harness {:.0} %)",
                mean(|p| p.cpu),
                mean(|p| p.harness_cpu)
            )
        };
        let _ = writeln!(out, "  peak RSS {}{usage}", bytes(peak_rss as f64));
    }
    for node in &result.node {
        let floors: Vec<String> = node
            .floors
            .iter()
            .map(|f| {
                format!(
                    "{} {} (+{} external)",
                    f.phase,
                    bytes(f.heap_used as f64),
                    bytes(f.external as f64)
                )
            })
            .collect();
        if !floors.is_empty() {
            let _ = writeln!(
                out,
                "  node pid {}: heap after forced GC: {}",
                node.pid,
                floors.join(", ")
            );
        }
        for warning in &node.warnings {
            let at = warning
                .location
                .as_deref()
                .map(|l| format!(" at {l}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {}",
                style.warn(&format!("{}{at}: {}", warning.name, warning.message))
            );
        }
    }
    if let Some(failure) = &target.failure {
        let _ = writeln!(out, "{}", style.warn(&format!("Target failed: {failure}")));
        for line in target.stderr_tail.iter().rev().take(10).rev() {
            let _ = writeln!(out, "  {line}");
        }
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

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn warn(&self, text: &str) -> String {
        self.paint("33", text)
    }

    fn verdict(&self, text: &str) -> String {
        self.paint("1;31", text)
    }

    fn ok(&self, text: &str) -> String {
        self.paint("1;32", text)
    }
}

/// Draws a box table; the first row is the header, the first column the row labels.
fn table(rows: &[Vec<String>], style: &Style) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let rule = |left: &str, mid: &str, right: &str| {
        let parts: Vec<String> = widths.iter().map(|w| "─".repeat(w + 2)).collect();
        format!("{left}{}{right}\n", parts.join(mid))
    };
    let mut out = rule("┌", "┬", "┐");
    for (i, cells) in rows.iter().enumerate() {
        if i > 0 {
            out += &rule("├", "┼", "┤");
        }
        out += "│";
        for (c, width) in widths.iter().enumerate() {
            let text = cells.get(c).map_or("", String::as_str);
            let padded = format!(" {text:<width$} ");
            let painted = match (i, c) {
                (0, _) => style.paint("36", &padded),
                (_, 0) => style.paint("1", &padded),
                _ => padded,
            };
            out += &painted;
            out += "│";
        }
        out += "\n";
    }
    out += &rule("└", "┴", "┘");
    out
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

/// A whole number with thousands separators: 165,090.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in SI units with three significant digits, as autocannon (pretty-bytes) prints them.
pub fn bytes(value: f64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if value < 1.0 {
        return format!("{} B", trim_float(value, 2));
    }
    let exponent = ((value.log10() / 3.0).floor() as usize).min(UNITS.len() - 1);
    let scaled = value / 1000f64.powi(exponent as i32);
    let digits = 3usize.saturating_sub(scaled.log10().floor() as usize + 1);
    format!("{} {}", trim_float(scaled, digits), UNITS[exponent])
}

/// Formats with at most `decimals` decimals and no trailing zeros.
fn trim_float(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_match_pretty_bytes() {
        assert_eq!(bytes(0.0), "0 B");
        assert_eq!(bytes(999.0), "999 B");
        assert_eq!(bytes(2_290_000.0), "2.29 MB");
        assert_eq!(bytes(171_000.0), "171 kB");
        assert_eq!(bytes(27_912_345.0), "27.9 MB");
        assert_eq!(bytes(2_000_000.0), "2 MB");
        assert_eq!(bytes(1_500.0), "1.5 kB");
    }

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
            serde_json::from_str(include_str!("../analyse/testdata/base.json")).unwrap();
        crate::analyse::annotate(&mut result);
        let rendered = render(&result, true, false);
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/report/testdata/summary.txt"
        );
        if std::env::var_os("HARNESS_UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
            std::fs::write(path, &rendered).unwrap();
        }
        let expected = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            rendered == expected,
            "summary changed; if on purpose, regenerate the snapshot:\n{rendered}"
        );
    }

    #[test]
    fn no_escape_codes_without_color() {
        let rows = vec![row(&["Stat"]), row(&["x"])];
        assert!(!table(&rows, &Style { color: false }).contains('\x1b'));
        assert!(table(&rows, &Style { color: true }).contains('\x1b'));
    }
}
