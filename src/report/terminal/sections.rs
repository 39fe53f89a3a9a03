//! The sections under the tables: the target, the verdict and the other findings, the hot
//! code, what the heap trace did and where the memory goes, and the thresholds.

use std::fmt::Write;

use super::Style;
use crate::result::{HeapSnapshotInfo, HeapTrace, PhaseName, RunResult};
use crate::units::{bytes, thousands, trim_float};

/// What the heap trace did, then where the memory goes from its snapshots: the biggest
/// leaked group with its path, the next groups in a line each.
pub(super) fn heap_lines(result: &RunResult) -> String {
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
            let _ = writeln!(
                out,
                "  most of the retained JS heap was allocated in {}, {} sampled",
                crate::analyse::profile::describe_site(site),
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
pub(super) fn profile_lines(result: &RunResult) -> String {
    let mut out = String::new();
    if let Some(trace) = &result.cpu_trace {
        if let Some(warning) = &trace.warning {
            let _ = writeln!(out, "\nCPU trace ({}): {warning}", trace.reason);
        }
    }
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
pub(crate) fn profile_heading(profile: &crate::analyse::profile::CpuProfile) -> String {
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
pub(crate) fn heap_trace_lines(trace: &HeapTrace, measured_peak_rss: Option<u64>) -> Vec<String> {
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
            "Heap trace ({}) on {} (pid {pid}), {:.1} s in all{peak}:",
            trace.reason,
            if trace.in_place {
                "the attached process itself"
            } else {
                "a second copy of the target"
            },
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
            let when = match s.phase {
                PhaseName::Warmup => "after the warm-up",
                PhaseName::Trace => "after the trace load",
                PhaseName::TraceCooldown => "after its cooldown",
                other => other.as_str(),
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
pub(super) fn threshold_lines(result: &RunResult, style: &Style) -> String {
    if let Some(shard) = result.shard.as_ref().filter(|s| !s.thresholds.is_empty()) {
        return format!(
            "\nThresholds ({}) are checked on the whole, by harness merge: shard {} of {} carries a part of the load.\n",
            shard.thresholds.join(", "),
            shard.index,
            shard.count
        );
    }
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
pub(super) fn verdict_lines(result: &RunResult, style: &Style) -> String {
    let mut out = String::from("\n");
    let main = result.main_finding();
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
pub(super) fn target_lines(result: &RunResult, style: &Style) -> String {
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
    if let Some(attached) = &target.attached {
        let _ = writeln!(
            out,
            "  attached through its inspector at {} ({}), Node {}{}",
            attached.inspector,
            if attached.opened {
                "opened with SIGUSR1 and closed after the run"
            } else {
                "already open, left open"
            },
            attached.node,
            if attached.probe {
                ""
            } else {
                "; the probe did not report"
            }
        );
    }
    if !target.left_group.is_empty() {
        let _ = writeln!(out, "  {}", crate::report::left_group(&target.left_group));
    }
    out += &footprint_line(result);
    out += &node_lines(result, style);
    if let Some(failure) = &target.failure {
        let _ = writeln!(out, "{}", style.warn(&format!("Target failed: {failure}")));
        for line in target.stderr_tail.iter().rev().take(10).rev() {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// The target's peak RSS and its (and harness's) CPU during the load.
fn footprint_line(result: &RunResult) -> String {
    let Some(process) = &result.process else {
        return String::new();
    };
    let points = &process.points;
    let peak_rss = points.iter().map(|p| p.rss).max().unwrap_or(0);
    let in_load: Vec<_> = points
        .iter()
        .filter(|p| p.t >= result.measure_start && p.t <= result.measure_start + result.duration)
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
    format!("  peak RSS {}{usage}\n", bytes(peak_rss as f64))
}

/// Each Node process's GC floors and warnings.
fn node_lines(result: &RunResult, style: &Style) -> String {
    let mut out = String::new();
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
            let times = if warning.occurrences > 1 {
                format!(" ({} times)", warning.occurrences)
            } else {
                String::new()
            };
            let line = format!("{}{at}{times}: {}", warning.name, warning.message);
            let _ = writeln!(out, "  {}", style.warn(&crate::units::printable(&line)));
        }
    }
    out
}
