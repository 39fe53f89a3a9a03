//! The I/O trace: names what a waiting server waits on. When the measured run finds I/O wait
//! (or with `--io-trace`), after the cooldown and any CPU trace harness sends a few seconds
//! more of the same load, unmeasured, marking each request with a header of its own whose
//! value is the request's kind; the probe (`iotrace.cjs`) attributes every marked request's
//! time to what it waited on and reports, per kind, the awaited operations with the app's
//! call path where each was made. Nothing is hooked during the measured load: the hooks cost
//! a busy server (see the README, `bench/io-trace.sh`), and only this window pays for them.

use std::time::Duration;

use super::cpu_trace::LIMIT_SLACK;
use super::watch::Watched;
use super::{drive_load, LoadRun, Session};
use crate::analyse::Analysis;
use crate::load;
use crate::plan::{LoadPlan, TraceMode};
use crate::result::{FindingKind, IoOperation, IoProcess, IoTrace, Phase, PhaseName};

/// Length of the I/O trace's load: enough requests of every kind (a 50 ms request over 10
/// connections is 1,000 of them), well inside the 10 s a trace may add to a run.
pub(super) const IO_TRACE: Duration = Duration::from_secs(4);
/// The header that marks a traced request; its value is the request entry's index.
pub(super) const HEADER: &str = "x-harness-trace";
/// How long each process may take to send its report.
const REPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the I/O trace runs, if it should: always with `--io-trace`; by default when the
/// analysis of the measured run found I/O wait.
pub(super) fn wanted(mode: TraceMode, analysis: &Analysis) -> Option<&'static str> {
    let waits = analysis
        .findings
        .iter()
        .any(|f| f.kind() == FindingKind::IoWait);
    match mode {
        TraceMode::Off => None,
        TraceMode::Always => Some("--io-trace"),
        TraceMode::Auto => waits.then_some("I/O wait found"),
    }
}

/// Runs the I/O trace against the measured target and returns its record, each process's
/// report with the kinds named.
pub(super) async fn run(ctx: &Session<'_>, watched: &mut Watched, reason: &str) -> IoTrace {
    let mut record = IoTrace {
        reason: reason.to_string(),
        start: ctx.now(),
        end: ctx.now(),
        responses: 0,
        header: HEADER.to_string(),
        warning: None,
        processes: Vec::new(),
    };
    if let Some(silent) = watched.silent() {
        record.warning = Some(format!("no I/O trace: {silent}"));
        return record;
    }
    let plan = traced_load(&ctx.plan.load);
    let prepared = match load::prepare(&plan) {
        Ok(prepared) => prepared,
        Err(err) => {
            record.warning = Some(format!("no I/O trace: its load could not start: {err:#}"));
            return record;
        }
    };
    eprintln!(
        "I/O trace ({reason}): {} s more of the load, not measured, telling what each request waits on",
        IO_TRACE.as_secs()
    );
    watched.start_io_trace(HEADER).await;
    let spec = LoadRun {
        plan: &plan,
        progress: false,
        during: "the I/O trace",
        limit: Some(IO_TRACE + LIMIT_SLACK),
    };
    let outcome = drive_load(spec, prepared, Some(&mut *watched), &ctx.signals).await;
    record.responses = outcome.as_ref().map_or(0, |o| o.totals.completed);
    let processes = watched.stop_io_trace(REPORT_TIMEOUT).await;
    record.end = ctx.now();
    watched
        .phases
        .push(Phase::new(PhaseName::IoTrace, record.start, record.end));
    let cwd = watched
        .plan
        .cwd
        .clone()
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default();
    record.processes = named(processes, &ctx.plan.load, &cwd);
    record.warning = warning(&record, outcome.err(), ctx.signals.received());
    if let Some(warning) = &record.warning {
        eprintln!("warning: I/O trace ({reason}): {warning}");
    }
    record
}

/// The measured load's requests, connections and pacing for [`IO_TRACE`], each request
/// marked with [`HEADER`] and its entry's index.
fn traced_load(measured: &LoadPlan) -> LoadPlan {
    let mut plan = super::cpu_trace::trace_load(measured, IO_TRACE);
    for (index, request) in plan.requests.iter_mut().enumerate() {
        request
            .headers
            .push((HEADER.to_string(), index.to_string()));
    }
    plan
}

/// The reports with each kind named by its request entry (the header carried its index),
/// and each anonymous function of an operation's path by the named function around it in
/// its script (files are relative to the target's folder, `cwd`).
fn named(mut processes: Vec<IoProcess>, load: &LoadPlan, cwd: &std::path::Path) -> Vec<IoProcess> {
    let mut sources = crate::analyse::source::Sources::default();
    for process in &mut processes {
        for kind in &mut process.kinds {
            if let Some(request) = kind
                .kind
                .parse::<usize>()
                .ok()
                .and_then(|i| load.requests.get(i))
            {
                kind.kind = request.name.clone();
            }
            for operation in &mut kind.operations {
                operation.name = name_anonymous(operation, cwd, &mut sources);
            }
        }
    }
    processes.sort_by_key(|p| std::cmp::Reverse(p.kinds.iter().map(|k| k.requests).sum::<u64>()));
    processes
}

/// An operation's name with each `anonymous (file:line)` step named by the function around
/// it: `an anonymous function in \`handle\` (app.js:29)`.
fn name_anonymous(
    operation: &IoOperation,
    cwd: &std::path::Path,
    sources: &mut crate::analyse::source::Sources,
) -> String {
    let steps: Vec<String> = operation
        .name
        .split(" → ")
        .map(|step| {
            let Some(place) = step
                .strip_prefix("anonymous (")
                .and_then(|p| p.strip_suffix(')'))
            else {
                return step.to_string();
            };
            let frame = operation.path.iter().find(|f| {
                f.function.is_none() && format!("{}:{}", basename(&f.file), f.line) == place
            });
            let within = frame.and_then(|f| {
                let file = cwd.join(&f.file);
                sources.enclosing(file.to_str()?, f.line, f.column)
            });
            match within {
                Some(within) => format!(
                    "{} ({place})",
                    crate::analyse::source::anonymous_in(&within)
                ),
                None => step.to_string(),
            }
        })
        .collect();
    steps.join(" → ")
}

fn basename(file: &str) -> &str {
    file.rsplit(['/', '\\']).next().unwrap_or(file)
}

/// Why the trace gave nothing, or not from every process.
fn warning(
    record: &IoTrace,
    load_failed: Option<anyhow::Error>,
    interrupted: bool,
) -> Option<String> {
    if interrupted {
        return Some("interrupted".to_string());
    }
    if let Some(err) = load_failed {
        return Some(format!("its load failed: {err:#}"));
    }
    let failed: Vec<String> = record
        .processes
        .iter()
        .filter_map(|p| p.error.as_ref().map(|e| format!("pid {}: {e}", p.pid)))
        .collect();
    let traced: u64 = record
        .processes
        .iter()
        .flat_map(|p| &p.kinds)
        .map(|k| k.requests)
        .sum();
    match (failed.is_empty(), traced) {
        (true, 0) => Some(
            "no traced request finished (did the requests reach a Node HTTP server?)".to_string(),
        ),
        (true, _) => None,
        (false, 0) => Some(format!("nothing was traced: {}", failed.join("; "))),
        (false, _) => Some(format!(
            "not every process was traced: {}",
            failed.join("; ")
        )),
    }
}
