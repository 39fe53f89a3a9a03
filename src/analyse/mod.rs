//! Turns a saved result into findings and one verdict. Each finding carries its evidence as
//! numbers and a sentence that says what to do next. Detectors live one concern per file, with
//! their thresholds as named constants and the reasoning beside them; the analysis is a pure
//! function of the [`RunResult`], so a saved run can be analysed again.

mod capacity;
pub(crate) mod compare;
mod errors;
mod event_loop;
mod finding;
mod fit;
mod gc;
mod generator;
pub(crate) mod heap;
pub(crate) mod io_wait;
mod listeners;
pub(crate) mod measure;
pub(crate) mod memory;
pub(crate) mod merge;
pub(crate) mod profile;
pub(crate) mod search;
pub(crate) mod source;
pub(crate) mod stats;
pub(crate) mod threshold;
pub(crate) mod trial;

use crate::result::{Evidence, FindingEntry, RunResult, Severity};
use finding::findings;
pub(crate) use finding::Finding;
pub(crate) use threshold::Threshold;

findings! {
    /// The target exited during the run.
    TargetCrashed(errors::Crashed),
    /// Memory grows with requests and is not given back.
    MemoryLeak(memory::Leak),
    /// Requests failed.
    Errors(errors::Errors),
    /// Long synchronous work blocks the event loop.
    BlockedEventLoop(event_loop::Blocked),
    /// Listeners pile up on an emitter.
    ListenerLeak(listeners::Listeners),
    /// Garbage collection takes a large share of the time.
    GcPressure(gc::GcPressure),
    /// The server waits while requests are slow.
    IoWait(io_wait::IoWait),
    /// Responses outside 2xx.
    Non2xx(errors::Non2xx),
    /// Memory grew, then levelled off.
    MemoryPlateau(memory::Plateau),
    /// The target's CPU was the limit: the server at capacity.
    CpuSaturated(capacity::Saturated),
    /// harness or the machine was saturated.
    GeneratorLimited(generator::Generator),
    /// Memory kept that may be a leak, which no heap trace decided.
    LeakSuspect(memory::Suspect),
    /// Memory kept in the run that a fresh copy of the target did not keep.
    LeakRefuted(memory::Refuted),
}

/// The findings of a run, most important first, and its verdict.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Analysis {
    /// Every finding, most important first.
    pub findings: Vec<Finding>,
}

impl Analysis {
    /// The verdict: the most important finding that is a problem, if any.
    pub(crate) fn verdict(&self) -> Option<&Finding> {
        self.findings
            .first()
            .filter(|f| f.severity() >= Severity::Warning)
    }

    /// Why a CPU profile would name code worth looking at, from the first finding that
    /// wants one.
    pub(crate) fn wants_profile(&self) -> Option<&'static str> {
        self.findings
            .iter()
            .find_map(|f| f.found.detail().wants_profile())
    }

    /// The findings as saved in the result.
    fn entries(&self) -> Vec<FindingEntry> {
        self.findings
            .iter()
            .map(|finding| FindingEntry {
                kind: finding.kind(),
                severity: finding.severity(),
                title: finding.title(),
                advice: finding.advice(),
                evidence: finding
                    .evidence()
                    .into_iter()
                    .map(|(label, value)| Evidence { label, value })
                    .collect(),
                confirmation: finding.found.detail().confirmation(),
            })
            .collect()
    }
}

/// The measured window on the run's clock, and cumulative requests within it.
pub(crate) struct LoadWindow {
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
    pub(crate) fn contains(&self, t: f64) -> bool {
        t > self.start && t <= self.end
    }

    /// Where the window opens on the run's clock.
    pub(crate) fn start(&self) -> f64 {
        self.start
    }

    /// Length of the window, seconds (at least a millisecond).
    pub(crate) fn length(&self) -> f64 {
        (self.end - self.start).max(0.001)
    }

    /// Requests completed by time `t`, interpolated within each second.
    pub(crate) fn requests_at(&self, t: f64) -> f64 {
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
pub(crate) fn analyse(result: &RunResult) -> Analysis {
    let window = LoadWindow::new(result);
    let per_request = capacity::busy_per_request_ms(result, &window);
    let mut findings = errors::findings(result);
    findings.extend(memory::findings(result, &window));
    findings.extend(event_loop::findings(result, &window, per_request));
    let busy = capacity::Busy::during_load(result, &window);
    if let Some(busy) = &busy {
        findings.extend(io_wait::finding(result, busy, per_request).map(Finding::from));
        findings.extend(capacity::saturated(result, busy, per_request).map(Finding::from));
        event_loop::starved_not_blocked(&mut findings, busy);
    }
    findings.extend(generator::finding(result, busy.as_ref()).map(Finding::from));
    event_loop::queueing_at_capacity(&mut findings);
    attach_profiles(&mut findings, result);
    errors::link_consequences(&mut findings);
    findings.sort_by(Finding::order);
    Analysis { findings }
}

/// Analyses the result and stores its findings and verdict in it (as they are saved);
/// returns the analysis.
pub(crate) fn annotate(result: &mut RunResult) -> Analysis {
    search::annotate(result);
    let analysis = analyse(result);
    result.verdict = analysis
        .verdict()
        .map_or_else(|| "no problem found".to_string(), Finding::title);
    result.findings = analysis.entries();
    analysis
}

/// Names the code in the findings that a trace explains: a blocked loop (the CPU profile of
/// its process), a server at capacity (the busiest process's), GC pressure (where its
/// process allocated during the CPU trace), listeners piling up (the emitter the heap trace
/// found holding them).
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
        .any(|f| matches!(f.found, Found::BlockedEventLoop(_)));
    for finding in findings.iter_mut() {
        match &mut finding.found {
            Found::BlockedEventLoop(loop_) => loop_.hot = profile_of(loop_.pid).and_then(hot_code),
            Found::CpuSaturated(saturated) if !blocked => {
                saturated.hot = result.profiles.first().and_then(hot_code);
            }
            Found::GcPressure(gc) => {
                gc.garbage = profile_of(gc.pid).and_then(|p| garbage_site(&p.allocations));
            }
            Found::ListenerLeak(listeners) if !listeners.repeated => {
                listeners.holder = emitter_holding_listeners(result);
            }
            _ => {}
        }
    }
}

/// The emitter the heap trace found still holding the listeners a request added, as its
/// analysis names it.
fn emitter_holding_listeners(result: &RunResult) -> Option<String> {
    result
        .heap
        .iter()
        .filter_map(|p| p.analysis.as_ref())
        .find(|a| {
            a.groups
                .first()
                .is_some_and(crate::result::LeakGroup::is_listeners)
        })
        .and_then(heap::holder)
}

/// The hot code of a profile: its first app function, or its first function when no app
/// function was on the stack.
fn hot_code(profile: &profile::CpuProfile) -> Option<finding::Hot> {
    let hot = profile.hot.iter().find(|h| h.app).or(profile.hot.first())?;
    Some(finding::Hot {
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
    let code = profile::describe_site(site);
    Some((code, site.bytes as f64 / total.max(1) as f64))
}

#[cfg(test)]
mod tests;
