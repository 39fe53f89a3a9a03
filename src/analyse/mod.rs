//! Turns a saved result into findings and one verdict. Each finding carries its evidence as
//! numbers and a sentence that says what to do next. Detectors live one concern per file, with
//! their thresholds as named constants and the reasoning beside them; the analysis is a pure
//! function of the [`RunResult`], so a saved run can be analysed again.

mod capacity;
pub mod compare;
mod event_loop;
mod finding;
pub mod fit;
pub mod heap;
pub mod measure;
mod memory;
pub mod profile;
pub mod stats;
mod text;
pub mod threshold;

use crate::result::RunResult;

/// An error rate from which errors are a problem.
pub const ERROR_RATE: f64 = 0.01;
/// An error rate from which errors are the main problem.
pub const ERROR_RATE_HIGH: f64 = 0.10;
/// A share of non-2xx responses worth a finding.
pub const NON2XX_RATE: f64 = 0.01;
/// A blocked loop this bad (ms, 90th percentile of interval delays) is critical.
pub const BLOCKED_CRITICAL_MS: f64 = 200.0;

pub use finding::{Confidence, Consequence, Finding, Hot, Kind, Leak, Severity};
pub use threshold::Threshold;

/// The findings of a run, most important first, and its verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Every finding, most important first.
    pub findings: Vec<Finding>,
}

impl Analysis {
    /// The verdict: the most important finding that is a problem, if any.
    pub fn verdict(&self) -> Option<&Finding> {
        self.findings
            .first()
            .filter(|f| f.severity() >= Severity::Warning)
    }
}

/// The measured window on the run's clock, and cumulative requests within it.
pub struct LoadWindow {
    start: f64,
    end: f64,
    cumulative: Vec<f64>,
}

impl LoadWindow {
    fn new(result: &RunResult) -> LoadWindow {
        let mut cumulative = vec![0.0];
        for entry in &result.series {
            cumulative.push(cumulative.last().copied().unwrap_or(0.0) + entry.requests as f64);
        }
        LoadWindow {
            start: result.measure_start,
            end: result.measure_start + result.duration,
            cumulative,
        }
    }

    /// Whether `t` (run clock) is inside the measured window.
    pub fn contains(&self, t: f64) -> bool {
        t > self.start && t <= self.end
    }

    /// Where the window opens on the run's clock.
    pub fn start(&self) -> f64 {
        self.start
    }

    /// Length of the window, seconds (at least a millisecond).
    pub fn length(&self) -> f64 {
        (self.end - self.start).max(0.001)
    }

    /// Requests completed by time `t`, interpolated within each second.
    pub fn requests_at(&self, t: f64) -> f64 {
        let s = (t - self.start).max(0.0);
        let whole = s.floor() as usize;
        let last = self.cumulative.len() - 1;
        if whole >= last {
            return self.cumulative[last];
        }
        let within = self.cumulative[whole + 1] - self.cumulative[whole];
        self.cumulative[whole] + within * s.fract()
    }
}

/// Analyses a result.
pub fn analyse(result: &RunResult) -> Analysis {
    let window = LoadWindow::new(result);
    let per_request = capacity::busy_per_request_ms(result, &window);
    let mut findings = Vec::new();
    findings.extend(crashed(result));
    findings.extend(errors(result));
    findings.extend(memory::findings(result, &window));
    findings.extend(event_loop::findings(result, &window, per_request));
    findings.extend(capacity::findings(result, &window, per_request));
    event_loop::queueing_at_capacity(&mut findings);
    attach_profiles(&mut findings, result);
    link_consequences(&mut findings);
    // Most severe first; within a severity, in the order of `rank`.
    findings.sort_by(|a, b| {
        b.severity()
            .cmp(&a.severity())
            .then(a.rank().cmp(&b.rank()))
    });
    Analysis { findings }
}

/// Analyses the result and stores its findings and verdict in it (as they are saved).
pub fn annotate(result: &mut RunResult) {
    let analysis = analyse(result);
    result.verdict = analysis
        .verdict()
        .map_or_else(|| "no problem found".to_string(), |f| f.title());
    result.findings = analysis
        .findings
        .iter()
        .map(|finding| crate::result::FindingEntry {
            kind: finding.kind().name().to_string(),
            severity: match finding.severity() {
                Severity::Info => "info",
                Severity::Warning => "warning",
                Severity::Critical => "critical",
            }
            .to_string(),
            title: finding.title(),
            advice: finding.advice(),
            evidence: finding
                .evidence()
                .into_iter()
                .map(|(label, value)| crate::result::Evidence { label, value })
                .collect(),
        })
        .collect();
}

/// Names the hot code in the findings that a CPU profile explains: a blocked loop (the
/// profile of its process), a server at capacity (the busiest process's), GC pressure (where
/// its process allocated during the CPU trace).
fn attach_profiles(findings: &mut [Finding], result: &RunResult) {
    let profile_of = |pid: u32| {
        result
            .profiles
            .iter()
            .find(|p| p.pid == Some(pid))
            .or(result.profiles.first())
    };
    // With a blocked loop, the capacity finding would only repeat its hot code.
    let blocked = findings
        .iter()
        .any(|f| matches!(f, Finding::BlockedEventLoop { .. }));
    for finding in findings.iter_mut() {
        match finding {
            Finding::BlockedEventLoop { pid, hot, .. } => {
                *hot = profile_of(*pid).and_then(hot_code)
            }
            Finding::CpuSaturated { hot, .. } if !blocked => {
                *hot = result.profiles.first().and_then(hot_code);
            }
            Finding::GcPressure { pid, garbage, .. } => {
                *garbage = profile_of(*pid).and_then(|p| garbage_site(&p.allocations));
            }
            _ => {}
        }
    }
}

/// The hot code of a profile: its first app function, or its first function when no app
/// function was on the stack.
fn hot_code(profile: &profile::CpuProfile) -> Option<Hot> {
    let hot = profile.hot.iter().find(|h| h.app).or(profile.hot.first())?;
    Some(Hot {
        code: profile::describe(hot),
        share: hot.share,
        app: hot.app,
    })
}

/// The allocation site with the most bytes, the app's own first, and its share.
fn garbage_site(sites: &[crate::result::AllocationSite]) -> Option<(String, f64)> {
    let total: u64 = sites.iter().map(|s| s.bytes).sum();
    let site = sites
        .iter()
        .find(|s| !s.url.is_empty() && !s.url.starts_with("node:"))
        .or(sites.first())?;
    let code = format!(
        "`{}` ({})",
        site.function,
        profile::place(&site.url, site.line)
    );
    Some((code, site.bytes as f64 / total.max(1) as f64))
}

/// Errors that come with a crash, a blocked loop, GC pressure, a server at capacity that
/// queues requests, or a leak are that problem's consequence: the problem is the verdict and
/// says how many requests failed as a result; the errors finding stays (for thresholds),
/// named as the consequence.
fn link_consequences(findings: &mut [Finding]) {
    let Some(errors) = findings
        .iter()
        .position(|f| matches!(f, Finding::Errors { .. }))
    else {
        return;
    };
    let causes = [
        Kind::TargetCrashed,
        Kind::BlockedEventLoop,
        Kind::GcPressure,
        Kind::CpuSaturated,
        Kind::MemoryLeak,
    ];
    let Some(cause) = causes.iter().find_map(|kind| {
        findings
            .iter()
            .position(|f| f.kind() == *kind && f.can_cause_errors())
    }) else {
        return;
    };
    let name = findings[cause].as_cause();
    let Finding::Errors {
        errors: count,
        rate,
        main_kind,
        cause: linked,
        ..
    } = &mut findings[errors]
    else {
        return;
    };
    *linked = Some(name);
    let consequence = Consequence {
        errors: *count,
        rate: *rate,
        main_kind: main_kind.clone(),
    };
    match &mut findings[cause] {
        Finding::TargetCrashed { consequence: c, .. }
        | Finding::BlockedEventLoop { consequence: c, .. }
        | Finding::GcPressure { consequence: c, .. }
        | Finding::CpuSaturated { consequence: c, .. } => *c = Some(consequence),
        Finding::MemoryLeak(leak) => leak.consequence = Some(consequence),
        _ => {}
    }
}

fn crashed(result: &RunResult) -> Option<Finding> {
    let target = result.target.as_ref()?;
    target.failure.as_ref()?;
    Some(Finding::TargetCrashed {
        status: target
            .exit
            .clone()
            .unwrap_or_else(|| "unknown status".to_string()),
        last_error: target
            .stderr_tail
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .cloned(),
        consequence: None,
    })
}

fn errors(result: &RunResult) -> Vec<Finding> {
    let mut out = Vec::new();
    let rate = measure::error_rate(result).unwrap_or(0.0);
    if result.errors > 0 && rate >= ERROR_RATE {
        let main_kind = result
            .errors_by_kind
            .iter()
            .max_by_key(|(_, e)| e.count)
            .map(|(kind, _)| kind.clone())
            .unwrap_or_default();
        out.push(Finding::Errors {
            errors: result.errors,
            timeouts: result.timeouts,
            rate,
            main_kind,
            cause: None,
        });
    }
    let responses = result.requests.total as f64;
    if result.non2xx > 0 && responses > 0.0 && result.non2xx as f64 / responses >= NON2XX_RATE {
        let main_code = result
            .status_code_stats
            .iter()
            .filter(|(code, _)| !code.starts_with('2'))
            .max_by_key(|(_, s)| s.count)
            .map(|(code, _)| code.clone())
            .unwrap_or_default();
        out.push(Finding::Non2xx {
            count: result.non2xx,
            rate: result.non2xx as f64 / responses,
            main_code,
        });
    }
    out
}

#[cfg(test)]
mod tests;
