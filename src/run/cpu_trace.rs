//! The CPU trace: names the hot code. When the measured run finds a blocked event loop, GC
//! pressure or costly requests at capacity (or always, with `--profile`), harness runs a few
//! more seconds of the same load against the measured target after its cooldown, unmeasured,
//! with V8's CPU profiler running in every Node process (through the probe's in-process
//! inspector session), and with GC pressure also the sampling heap profiler keeping what the
//! collector freed (where the garbage comes from). Each profile is read here
//! ([`crate::analyse::profile`]), saved beside the report as `cpu-PID.cpuprofile`, and its
//! summary goes into the result, where the analysis names the hot function.
//!
//! It runs after the cooldown rather than during the measured load so that the measured
//! figures never carry the profiler's cost (see the README's figures from
//! `bench/side-by-side.sh`), and in the measured process rather than a fresh copy because a
//! blocked loop often depends on the state the load built up.

use std::path::Path;
use std::time::Duration;

use super::watch::Watched;
use super::{drive_load, LoadRun, Session};
use crate::analyse::{profile, Analysis};
use crate::load;
use crate::plan::{LoadPlan, Plan, Stop, TraceMode};
use crate::result::{CpuTrace, FindingKind, Phase, PhaseName};

/// Length of the CPU trace's load: a few thousand samples at the sampling interval.
pub(super) const CPU_TRACE: Duration = Duration::from_secs(3);
/// V8's sampling interval for the CPU trace (its default, and `node --cpu-prof`'s); see the
/// README for what it costs a busy server.
pub(super) const SAMPLING_INTERVAL: Duration = Duration::from_millis(1);
/// How long to wait for every process to write its profile.
const WRITE_TIMEOUT: Duration = Duration::from_secs(20);
/// How much longer than planned a trace's load may run before it is stopped (connections
/// opening, the last requests in flight).
pub(super) const LIMIT_SLACK: Duration = Duration::from_secs(2);

/// Why the CPU trace runs, if it should: always with `--profile`; by default when the
/// analysis of the measured run found a blocked loop, GC pressure, or requests that cost
/// enough CPU at capacity for their code to matter.
pub(super) fn wanted(mode: TraceMode, analysis: &Analysis) -> Option<Why> {
    let garbage = analysis
        .findings
        .iter()
        .any(|f| f.kind() == FindingKind::GcPressure);
    let reason = analysis.wants_profile();
    match (mode, reason) {
        (TraceMode::Off, _) | (TraceMode::Auto, None) => None,
        (TraceMode::Always, _) => Some(Why {
            reason: "--profile",
            garbage,
        }),
        (TraceMode::Auto, Some(reason)) => Some(Why { reason, garbage }),
    }
}

/// Why the CPU trace runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Why {
    /// The finding that asked for it, or `--profile`.
    pub reason: &'static str,
    /// GC pressure was found: also sample where the garbage is allocated.
    pub garbage: bool,
}

/// What the CPU trace produced: its record and the profiles it read.
pub(super) struct Traced {
    /// `cpuTrace`: why it ran, and why it gave no profile if it did not.
    pub record: CpuTrace,
    /// `profiles`: one per Node process that wrote one, busiest first.
    pub profiles: Vec<profile::CpuProfile>,
}

/// Runs the CPU trace against the measured target; its profiles, summarised, go into the
/// result with the raw files saved in the report's folder. Whatever stops it (the probe not
/// answering, a signal, a profile that cannot be read) is said once, in its record.
pub(super) async fn run(ctx: &Session<'_>, watched: &mut Watched, why: Why) -> Traced {
    let mut record = CpuTrace {
        reason: why.reason.to_string(),
        start: ctx.now(),
        end: ctx.now(),
        responses: 0,
        warning: None,
    };
    let mut traced = Traced {
        record: record.clone(),
        profiles: Vec::new(),
    };
    if let Some(silent) = watched.silent() {
        record.warning = Some(format!("the profile was not taken: {silent}"));
        traced.record = record;
        return traced;
    }
    let profiles = profile_load(ctx, watched, why, &mut record).await;
    record.end = ctx.now();
    if ctx.signals.received() && record.warning.is_none() {
        record.warning = Some("the profile was not taken: interrupted".to_string());
    }
    Traced { record, profiles }
}

/// The CPU trace's load with the profiler running, and each process's profile read back.
async fn profile_load(
    ctx: &Session<'_>,
    watched: &mut Watched,
    why: Why,
    record: &mut CpuTrace,
) -> Vec<profile::CpuProfile> {
    let plan = ctx.plan;
    let trace = trace_load(&plan.load, CPU_TRACE);
    let prepared = match load::prepare(&trace) {
        Ok(prepared) => prepared,
        Err(err) => {
            record.warning = Some(format!(
                "the profile was not taken: its load could not start: {err:#}"
            ));
            return Vec::new();
        }
    };
    eprintln!(
        "CPU trace ({}): {} s more of the load, not measured, with the CPU profiler",
        why.reason,
        CPU_TRACE.as_secs()
    );
    watched.start_profile(SAMPLING_INTERVAL, why.garbage).await;
    let spec = LoadRun {
        plan: &trace,
        progress: false,
        during: "the CPU trace",
        limit: Some(CPU_TRACE + LIMIT_SLACK),
    };
    let outcome = drive_load(spec, prepared, Some(&mut *watched), &ctx.signals).await;
    watched
        .phases
        .push(Phase::new(PhaseName::Profile, record.start, ctx.now()));
    let responses = outcome.as_ref().map(|o| o.totals.completed).ok();
    record.responses = responses.unwrap_or(0);
    if let Err(err) = &outcome {
        eprintln!("warning: the CPU trace's load failed: {err:#}");
    }
    let (files, garbage) = watched.stop_profile(WRITE_TIMEOUT, why.garbage).await;
    let mut profiles = Vec::new();
    let mut missing = Vec::new();
    let mut sources = crate::analyse::source::Sources::default();
    for file in files {
        if let Some(error) = &file.error {
            missing.push(format!("pid {}: {error}", file.pid));
            continue;
        }
        match profile::load(&file.path) {
            Ok(parsed) => {
                let mut summary = profile::summarise(&parsed);
                summary.pid = Some(file.pid);
                summary.reason = why.reason.to_string();
                summary.responses = responses;
                summary.allocations = garbage
                    .iter()
                    .find(|(pid, _)| *pid == file.pid)
                    .map(|(_, sites)| sites.clone())
                    .unwrap_or_default();
                summary.file = save(&file.path, plan, file.pid);
                profile::name_anonymous(&mut summary, &mut sources);
                profiles.push(summary);
            }
            Err(err) => missing.push(format!("pid {}: it could not be read: {err}", file.pid)),
        }
    }
    if !missing.is_empty() {
        let what = if profiles.is_empty() {
            "the profile was not taken"
        } else {
            "not every process's profile was taken"
        };
        record.warning = Some(format!("{what}: {}", missing.join("; ")));
    }
    // Busiest process first.
    profiles.sort_by(|a, b| b.busy_ms.total_cmp(&a.busy_ms));
    profiles
}

/// The measured load's requests, connections and pacing (a ramp's last rate) for `length`,
/// without warmup or bailout: the load of a trace against the measured target.
pub(super) fn trace_load(measured: &LoadPlan, length: Duration) -> LoadPlan {
    let mut plan = measured.clone();
    plan.warmup = Duration::ZERO;
    if let Some(last) = plan.stages.last() {
        plan.rate = Some(last.rate);
    }
    plan.stages.clear();
    plan.stop = Stop::After(length);
    plan.bailout = None;
    plan
}

/// Copies the raw profile beside the report; returns its file name there.
fn save(profile: &Path, plan: &Plan, pid: u32) -> Option<String> {
    let dir = plan.output.report_dir.as_ref()?;
    let name = format!("cpu-{pid}.cpuprofile");
    let bytes = std::fs::read(profile).ok()?;
    match crate::report::files::write_whole(&dir.join(&name), &bytes) {
        Ok(()) => Some(name),
        Err(err) => {
            eprintln!("warning: the CPU profile could not be saved: {err:#}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_trace_repeats_the_measured_load_for_three_seconds() {
        let args = [
            "harness",
            "-c",
            "100",
            "-d",
            "30",
            "--warmup",
            "2s",
            "-B",
            "5",
            "http://127.0.0.1:1/",
        ];
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(args).unwrap();
        let mut measured = crate::cli::resolve::plan(cli).unwrap().load;
        let trace = trace_load(&measured, CPU_TRACE);
        assert_eq!(trace.stop, Stop::After(CPU_TRACE));
        assert_eq!(
            (trace.rate, trace.connections),
            (None, 100),
            "closed model stays closed"
        );
        assert_eq!((trace.warmup, trace.bailout), (Duration::ZERO, None));
        measured.stages = vec![crate::plan::Stage {
            duration: Duration::from_secs(30),
            rate: 700.0,
        }];
        assert_eq!(trace_load(&measured, CPU_TRACE).rate, Some(700.0));
    }
}
