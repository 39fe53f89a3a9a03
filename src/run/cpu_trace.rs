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
use crate::analyse::{self, profile};
use crate::load;
use crate::plan::{LoadPlan, Plan, Stop, TraceMode};
use crate::result::{FindingKind, Phase, PhaseName, RunResult};

/// Length of the CPU trace's load: a few thousand samples at the sampling interval.
pub(super) const CPU_TRACE: Duration = Duration::from_secs(3);
/// V8's sampling interval for the CPU trace (its default, and `node --cpu-prof`'s); see the
/// README for what it costs a busy server.
pub(super) const SAMPLING_INTERVAL: Duration = Duration::from_millis(1);
/// How long to wait for every process to write its profile.
const WRITE_TIMEOUT: Duration = Duration::from_secs(20);

/// Why the CPU trace runs, if it should: always with `--profile`; by default when the
/// analysis of the measured run found a blocked loop, GC pressure, or requests that cost
/// enough CPU at capacity for their code to matter.
pub(super) fn wanted(mode: TraceMode, measured: &RunResult) -> Option<Why> {
    let analysis = analyse::analyse(measured);
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

/// Runs the CPU trace against the measured target; its profiles, summarised, go into
/// `result` with the raw files saved in `report_dir`.
pub(super) async fn run(
    ctx: &Session<'_>,
    watched: &mut Watched,
    why: Why,
) -> Vec<profile::CpuProfile> {
    let plan = ctx.plan;
    let trace = trace_load(&plan.load);
    let prepared = match load::prepare(&trace) {
        Ok(prepared) => prepared,
        Err(err) => {
            eprintln!("warning: the CPU trace could not start: {err:#}");
            return Vec::new();
        }
    };
    eprintln!(
        "CPU trace ({}): {} s more of the load, not measured, with the CPU profiler",
        why.reason,
        CPU_TRACE.as_secs()
    );
    watched.start_profile(SAMPLING_INTERVAL, why.garbage).await;
    let start = ctx.now();
    let spec = LoadRun {
        plan: &trace,
        progress: false,
        during: "the CPU trace",
    };
    let outcome = drive_load(spec, prepared, Some(&mut *watched), &ctx.signals).await;
    watched
        .phases
        .push(Phase::new(PhaseName::Profile, start, ctx.now()));
    let responses = outcome.as_ref().map(|o| o.totals.completed).ok();
    if let Err(err) = &outcome {
        eprintln!("warning: the CPU trace's load failed: {err:#}");
    }
    let (files, garbage) = watched.stop_profile(WRITE_TIMEOUT, why.garbage).await;
    let mut profiles = Vec::new();
    for file in files {
        if let Some(error) = &file.error {
            eprintln!("warning: no CPU profile of pid {}: {error}", file.pid);
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
                profiles.push(summary);
            }
            Err(err) => eprintln!(
                "warning: the CPU profile of pid {} could not be read: {err}",
                file.pid
            ),
        }
    }
    // Busiest process first.
    profiles.sort_by(|a, b| b.busy_ms.total_cmp(&a.busy_ms));
    profiles
}

/// The measured load's requests, connections and pacing (a ramp's last rate) for
/// [`CPU_TRACE`], without warmup or bailout.
fn trace_load(measured: &LoadPlan) -> LoadPlan {
    let mut plan = measured.clone();
    plan.warmup = Duration::ZERO;
    if let Some(last) = plan.stages.last() {
        plan.rate = Some(last.rate);
    }
    plan.stages.clear();
    plan.stop = Stop::After(CPU_TRACE);
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
        let trace = trace_load(&measured);
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
        assert_eq!(trace_load(&measured).rate, Some(700.0));
    }
}
