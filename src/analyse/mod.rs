//! Turns a saved result into findings and one verdict. Each finding carries its evidence as
//! numbers and a sentence that says what to do next. Detectors live one concern per file, with
//! their thresholds as named constants and the reasoning beside them; the analysis is a pure
//! function of the [`RunResult`], so a saved run can be analysed again.

mod capacity;
pub mod compare;
mod event_loop;
pub mod fit;
pub mod heap;
mod memory;
pub mod profile;

use crate::report::result::RunResult;
use crate::report::terminal::bytes;

/// An error rate from which errors are a problem.
pub const ERROR_RATE: f64 = 0.01;
/// An error rate from which errors are the main problem.
pub const ERROR_RATE_HIGH: f64 = 0.10;
/// A share of non-2xx responses worth a finding.
pub const NON2XX_RATE: f64 = 0.01;
/// A blocked loop this bad (ms, 90th percentile of interval delays) is critical.
pub const BLOCKED_CRITICAL_MS: f64 = 200.0;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Context for reading the numbers.
    Info,
    /// A problem worth fixing.
    Warning,
    /// The run's main problem.
    Critical,
}

/// How sure a memory finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confidence {
    /// RSS only: allocators keep freed memory, so growth may not be a leak.
    Low,
    /// Forced-GC floors only.
    Medium,
    /// A clean trend over many collections, or off-heap growth measured after full GCs.
    High,
}

/// Evidence of memory growth.
#[derive(Debug, Clone, PartialEq)]
pub struct Leak {
    /// The Node process (None: the whole target's RSS).
    pub pid: Option<u32>,
    /// Heap (or RSS) retained after the cooldown compared with the baseline, bytes.
    pub heap_growth: f64,
    /// External memory retained, bytes.
    pub external_growth: f64,
    /// Heap (or RSS) bytes retained per request.
    pub heap_per_request: f64,
    /// External bytes retained per request.
    pub external_per_request: f64,
    /// How well growth follows the requests (1 = a straight line), when there were enough points.
    pub r2: Option<f64>,
    /// Requests served.
    pub requests: u64,
    /// Share of the load's growth that the cooldown gave back.
    pub returned: f64,
    /// Seconds until the heap limit at the load's rate.
    pub exhaustion_s: Option<f64>,
    /// How sure the finding is.
    pub confidence: Confidence,
    /// Active handle types that grew with the requests: (type, before the load, at the end).
    pub handles: Vec<(String, u64, u64)>,
    /// Requests that failed as a result.
    pub consequence: Option<Consequence>,
}

/// Requests that failed because of the problem they are attached to (a blocked loop, GC
/// pressure, a crash, a leak): that problem is the verdict, the failures its consequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Consequence {
    /// Errors, timeouts included.
    pub errors: u64,
    /// errors / (responses + errors).
    pub rate: f64,
    /// The most frequent kind.
    pub main_kind: String,
}

impl Consequence {
    fn severity(&self) -> Severity {
        if self.rate >= ERROR_RATE_HIGH {
            Severity::Critical
        } else {
            Severity::Warning
        }
    }

    fn text(&self) -> String {
        format!(
            "{:.1} % of requests failed as a result, mostly {}",
            self.rate * 100.0,
            self.main_kind
        )
    }
}

/// The hot code of a process, from its CPU profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Hot {
    /// "`busyWork` (blocked-loop.js:15)", or the Node function an app function called.
    pub code: String,
    /// Share of the profile's busy time.
    pub share: f64,
    /// Whether it is the app's own code (else no app function was on the stack).
    pub app: bool,
}

/// One thing the analysis found, with its evidence.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// The target exited during the run.
    TargetCrashed {
        /// How it exited.
        status: String,
        /// The last line of its stderr.
        last_error: Option<String>,
        /// Requests that failed as a result.
        consequence: Option<Consequence>,
    },
    /// Requests failed.
    Errors {
        /// Errors, timeouts included.
        errors: u64,
        /// Timeouts.
        timeouts: u64,
        /// errors / (responses + errors).
        rate: f64,
        /// The most frequent kind.
        main_kind: String,
        /// The problem they are a consequence of ("the blocked event loop"), if harness
        /// saw one: that problem is then the verdict.
        cause: Option<&'static str>,
    },
    /// Responses outside 2xx.
    Non2xx {
        /// How many.
        count: u64,
        /// Share of responses.
        rate: f64,
        /// The most frequent code.
        main_code: String,
    },
    /// Memory grows with requests and is not given back.
    MemoryLeak(Leak),
    /// Memory grew, then levelled off.
    MemoryPlateau(Leak),
    /// Listeners pile up on an emitter.
    ListenerLeak {
        /// The process.
        pid: u32,
        /// The emitter's class.
        emitter: String,
        /// The event.
        event: String,
        /// Listeners when Node warned.
        count: u64,
        /// The `.on()` call.
        location: Option<String>,
        /// The warning repeated: listeners are removed again.
        repeated: bool,
    },
    /// Long synchronous work blocks the event loop.
    BlockedEventLoop {
        /// The process.
        pid: u32,
        /// 90th percentile of the intervals' maximum delay, ms.
        delay_p90_ms: f64,
        /// Worst delay, ms.
        delay_max_ms: f64,
        /// Mean utilisation during the load.
        elu: f64,
        /// Event-loop time per request, ms: how long one request's callbacks hold the loop.
        per_request_ms: Option<f64>,
        /// What the CPU profile says holds it.
        hot: Option<Hot>,
        /// Requests that failed as a result.
        consequence: Option<Consequence>,
    },
    /// Garbage collection takes a large share of the time.
    GcPressure {
        /// The process.
        pid: u32,
        /// Share of the load's time in GC pauses.
        share: f64,
        /// Share of the worst second of the load.
        worst_second: f64,
        /// Longest pause, ms.
        longest_ms: f64,
        /// Collections seen during the load.
        collections: usize,
        /// Share of the load's intervals whose GC events were observed (1 unless the process
        /// collected so often that the probe sampled them).
        observed: f64,
        /// Where the garbage is allocated (the sampling heap profiler during the CPU trace):
        /// the biggest allocating site, as `function (file:line)`, and its share.
        garbage: Option<(String, f64)>,
        /// Requests that failed as a result.
        consequence: Option<Consequence>,
    },
    /// The server waits while requests are slow.
    IoWait {
        /// Median latency, ms.
        latency_p50_ms: f64,
        /// Event-loop utilisation, for Node.
        elu: Option<f64>,
        /// CPU, percent of one core.
        cpu: f64,
    },
    /// The target's CPU was the limit: the server at capacity.
    CpuSaturated {
        /// Event-loop utilisation, for Node.
        elu: Option<f64>,
        /// CPU, percent of one core.
        cpu: f64,
        /// Throughput at that point.
        requests_per_second: f64,
        /// CPU (event-loop time, for Node) per request, ms.
        per_request_ms: Option<f64>,
        /// When requests queued behind many short callbacks long enough to show as loop
        /// delay: its 90th percentile over the intervals, ms.
        queued_ms: Option<f64>,
        /// What the CPU profile says the time goes to.
        hot: Option<Hot>,
        /// Requests that failed as a result.
        consequence: Option<Consequence>,
    },
    /// harness or the machine was saturated.
    GeneratorLimited {
        /// harness's CPU, percent of one core.
        harness_cpu: f64,
        /// The machine's CPU, percent of all cores.
        machine_cpu: f64,
        /// Cores.
        cores: u64,
    },
}

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
        code: hot.describe(),
        share: hot.share,
        app: hot.app,
    })
}

/// The allocation site with the most bytes, the app's own first, and its share.
fn garbage_site(sites: &[crate::report::result::AllocationSite]) -> Option<(String, f64)> {
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
        "targetCrashed",
        "blockedEventLoop",
        "gcPressure",
        "cpuSaturated",
        "memoryLeak",
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
    let attempts = (result.requests.total + result.errors) as f64;
    if result.errors > 0 && attempts > 0.0 && result.errors as f64 / attempts >= ERROR_RATE {
        let main_kind = result
            .errors_by_kind
            .iter()
            .max_by_key(|(_, e)| e.count)
            .map(|(kind, _)| kind.clone())
            .unwrap_or_default();
        out.push(Finding::Errors {
            errors: result.errors,
            timeouts: result.timeouts,
            rate: result.errors as f64 / attempts,
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

impl Finding {
    /// How much it matters: its own weight, or the failures it caused, whichever is more.
    pub fn severity(&self) -> Severity {
        let own = match self {
            Finding::TargetCrashed { .. } => Severity::Critical,
            Finding::Errors { cause: Some(_), .. } => Severity::Info,
            Finding::Errors { rate, .. } if *rate >= ERROR_RATE_HIGH => Severity::Critical,
            Finding::Errors { .. } | Finding::Non2xx { .. } => Severity::Warning,
            Finding::MemoryLeak(leak) if leak.confidence == Confidence::Low => Severity::Warning,
            Finding::MemoryLeak(_) => Severity::Critical,
            Finding::BlockedEventLoop { delay_p90_ms, .. }
                if *delay_p90_ms >= BLOCKED_CRITICAL_MS =>
            {
                Severity::Critical
            }
            Finding::BlockedEventLoop { .. } | Finding::IoWait { .. } => Severity::Warning,
            Finding::ListenerLeak { repeated, .. } => {
                if *repeated {
                    Severity::Info
                } else {
                    Severity::Warning
                }
            }
            Finding::GcPressure { share, .. } if *share >= event_loop::GC_SHARE_HIGH => {
                Severity::Warning
            }
            Finding::CpuSaturated {
                queued_ms: Some(_), ..
            } => Severity::Warning,
            Finding::GcPressure { .. }
            | Finding::MemoryPlateau(_)
            | Finding::CpuSaturated { .. }
            | Finding::GeneratorLimited { .. } => Severity::Info,
        };
        self.consequence().map_or(own, |c| own.max(c.severity()))
    }

    /// The failures this finding caused, if any.
    pub fn consequence(&self) -> Option<&Consequence> {
        match self {
            Finding::TargetCrashed { consequence, .. }
            | Finding::BlockedEventLoop { consequence, .. }
            | Finding::GcPressure { consequence, .. }
            | Finding::CpuSaturated { consequence, .. } => consequence.as_ref(),
            Finding::MemoryLeak(leak) => leak.consequence.as_ref(),
            _ => None,
        }
    }

    /// Whether failed requests can be this finding's consequence.
    fn can_cause_errors(&self) -> bool {
        match self {
            Finding::TargetCrashed { .. } | Finding::BlockedEventLoop { .. } => true,
            Finding::GcPressure { share, .. } => *share >= event_loop::GC_SHARE_HIGH,
            Finding::CpuSaturated { queued_ms, .. } => queued_ms.is_some(),
            Finding::MemoryLeak(leak) => leak.confidence != Confidence::Low,
            _ => false,
        }
    }

    /// How the errors finding names this finding as their cause.
    fn as_cause(&self) -> &'static str {
        match self {
            Finding::TargetCrashed { .. } => "the crash",
            Finding::BlockedEventLoop { .. } => "the blocked event loop",
            Finding::GcPressure { .. } => "GC pressure",
            Finding::CpuSaturated { .. } => "the server at capacity",
            _ => "the memory leak",
        }
    }

    /// Whether a CPU profile would name code worth looking at: a blocked loop, GC pressure,
    /// or a server at capacity whose requests queue or cost enough CPU each
    /// ([`capacity::PROFILE_CPU_PER_REQUEST_MS`]).
    pub fn wants_profile(&self) -> bool {
        match self {
            Finding::BlockedEventLoop { .. } | Finding::GcPressure { .. } => true,
            Finding::CpuSaturated {
                queued_ms,
                per_request_ms,
                ..
            } => {
                queued_ms.is_some()
                    || per_request_ms.is_some_and(|ms| ms >= capacity::PROFILE_CPU_PER_REQUEST_MS)
            }
            _ => false,
        }
    }

    /// Order among findings of the same severity.
    fn rank(&self) -> u8 {
        match self {
            Finding::TargetCrashed { .. } => 0,
            Finding::MemoryLeak(_) => 1,
            Finding::Errors { .. } => 2,
            Finding::BlockedEventLoop { .. } => 3,
            Finding::ListenerLeak { .. } => 4,
            Finding::GcPressure { .. } => 5,
            Finding::IoWait { .. } => 6,
            Finding::Non2xx { .. } => 7,
            Finding::MemoryPlateau(_) => 8,
            Finding::CpuSaturated { .. } => 9,
            Finding::GeneratorLimited { .. } => 10,
        }
    }

    /// A stable name for the kind, used in JSON and thresholds.
    pub fn kind(&self) -> &'static str {
        match self {
            Finding::TargetCrashed { .. } => "targetCrashed",
            Finding::Errors { .. } => "errors",
            Finding::Non2xx { .. } => "non2xx",
            Finding::MemoryLeak(_) => "memoryLeak",
            Finding::MemoryPlateau(_) => "memoryPlateau",
            Finding::ListenerLeak { .. } => "listenerLeak",
            Finding::BlockedEventLoop { .. } => "blockedEventLoop",
            Finding::GcPressure { .. } => "gcPressure",
            Finding::IoWait { .. } => "ioWait",
            Finding::CpuSaturated { .. } => "cpuSaturated",
            Finding::GeneratorLimited { .. } => "generatorLimited",
        }
    }

    /// One line that says what was found.
    pub fn title(&self) -> String {
        match self {
            Finding::TargetCrashed { status, .. } => format!("The target crashed during the run ({status}){}", self.consequence_text()),
            Finding::Errors { errors, rate, main_kind, cause, .. } => {
                let cause = cause.map_or(String::new(), |c| format!(", as a result of {c}"));
                format!("{errors} requests failed ({:.1} %), mostly {main_kind}{cause}", rate * 100.0)
            }
            Finding::Non2xx { count, rate, main_code } => {
                format!("{count} responses were not 2xx ({:.1} %), mostly {main_code}", rate * 100.0)
            }
            Finding::MemoryLeak(leak) => format!("Memory leak: {}{}", leak_summary(leak), self.consequence_text()),
            Finding::MemoryPlateau(leak) => format!(
                "Memory grew by {} and then levelled off (bounded cache or warm-up, not a leak)",
                bytes(leak.heap_growth.max(0.0) + leak.external_growth.max(0.0))
            ),
            Finding::ListenerLeak { emitter, event, count, location, repeated, .. } => {
                let at = location.as_deref().map(|l| format!(" at {l}")).unwrap_or_default();
                if *repeated {
                    format!("{count} '{event}' listeners on one {emitter} at once{at}, removed again after each event")
                } else {
                    format!("Listener leak: {count}+ '{event}' listeners on one {emitter}, added{at}")
                }
            }
            Finding::BlockedEventLoop { delay_p90_ms, delay_max_ms, per_request_ms, hot, .. } => {
                let holder = match (hot, per_request_ms) {
                    (Some(hot), Some(per)) if hot.app => format!(
                        "{} holds it for about {} per request ({:.0} % of the busy time); ",
                        hot.code, millis(*per), hot.share * 100.0
                    ),
                    (_, Some(per)) => format!("each request holds it for about {}; ", millis(*per)),
                    _ => String::new(),
                };
                format!(
                    "Blocked event loop: {holder}callbacks waited {delay_p90_ms:.0} ms or more in 10 % of intervals (worst {delay_max_ms:.0} ms){}",
                    self.consequence_text()
                )
            }
            Finding::GcPressure { share, longest_ms, garbage, .. } => {
                let site = garbage.as_ref().map_or(String::new(), |(code, share)| {
                    format!("; most garbage from {code} ({:.0} % of the sampled bytes)", share * 100.0)
                });
                format!(
                    "GC pressure: {:.0} % of the load's time in garbage collection, longest pause {longest_ms:.0} ms{site}{}",
                    share * 100.0,
                    self.consequence_text()
                )
            }
            Finding::IoWait { latency_p50_ms, elu, cpu } => match elu {
                Some(elu) => format!(
                    "I/O wait: requests took {latency_p50_ms:.1} ms (median) while the event loop was {:.0} % busy",
                    elu * 100.0
                ),
                None => format!("I/O wait: requests took {latency_p50_ms:.1} ms (median) while the target used {cpu:.0} % of a core"),
            },
            Finding::CpuSaturated { elu, cpu, requests_per_second, per_request_ms, queued_ms, hot, .. } => {
                let busy = match elu {
                    Some(elu) => format!("the event loop was {:.0} % busy", elu * 100.0),
                    None => format!("the target used {cpu:.0} % of a core"),
                };
                let cost = per_request_ms.map_or(String::new(), |per| format!("{} of CPU per request at ", millis(per)));
                let hot = hot.as_ref().map_or(String::new(), |hot| {
                    format!("; most of the time in {} ({:.0} %)", hot.code, hot.share * 100.0)
                });
                match queued_ms {
                    Some(queued) => format!(
                        "At capacity: {busy} with short callbacks ({cost}{requests_per_second:.0} requests/s), and requests queued {queued:.0} ms or more in 10 % of intervals{hot}{}",
                        self.consequence_text()
                    ),
                    None => format!("CPU-bound: {busy} at {requests_per_second:.0} requests/s{}{hot}",
                        per_request_ms.map_or(String::new(), |per| format!(" ({} of CPU per request)", millis(per)))),
                }
            }
            Finding::GeneratorLimited { harness_cpu, machine_cpu, cores } => format!(
                "The load generator shared the machine: harness used {harness_cpu:.0} % of a core and the machine {machine_cpu:.0} % of its {cores} cores"
            ),
        }
    }

    /// What to do next.
    pub fn advice(&self) -> String {
        match self {
            Finding::BlockedEventLoop { hot: Some(hot), .. } if hot.app => format!(
                "Move the synchronous work in {} off the event loop (a worker thread, an async API, or smaller pieces with the loop running between them), or make it cheaper; the report's flame graph shows what it calls.",
                hot.code
            ),
            Finding::CpuSaturated { queued_ms: Some(_), hot, .. } => format!(
                "Each request is short, but more arrive than one core can serve, so they wait in line: make the hot code cheaper{}, or run more processes (cluster, more instances).",
                hot.as_ref().map_or(String::new(), |h| format!(" ({})", h.code))
            ),
            Finding::CpuSaturated { hot: Some(hot), .. } => format!(
                "This is the server's capacity on one core at this concurrency; to go faster, make {} cheaper, or scale out.",
                hot.code
            ),
            Finding::GcPressure { garbage: Some((code, _)), .. } => format!(
                "Allocate less per request in {code}: reuse buffers, avoid building large temporary objects and strings."
            ),
            Finding::Errors { cause: Some(cause), .. } => {
                format!("These follow from {cause}: fix that first.")
            }
            other => other.generic_advice().to_string(),
        }
    }

    /// Advice that needs no profile.
    fn generic_advice(&self) -> &'static str {
        match self {
            Finding::TargetCrashed { .. } => "Read the stderr tail below: the crash ended the run, so later numbers are missing.",
            Finding::Errors { .. } => "See the errors by kind: connection errors and timeouts usually mean the server is overloaded or crashing.",
            Finding::Non2xx { .. } => "Check the status codes: 5xx are server errors; 4xx may mean the request itself is wrong.",
            Finding::MemoryLeak(leak) if leak.handles.iter().any(|h| h.0 == "Timeout") => {
                "Timers are created per request and never cleared, and each keeps what its callback uses alive: clearTimeout/clearInterval them when the request ends."
            }
            Finding::MemoryLeak(leak) if leak.pid.is_none() => {
                "RSS kept growing with requests; without the Node probe this may also be allocator caching. Take heap snapshots (or run under a memory profiler) before and after the load."
            }
            Finding::MemoryLeak(leak) if leak.external_per_request > leak.heap_per_request => {
                "Most of it is off the JS heap (Buffers/ArrayBuffers): look for Buffers kept in a cache, map or closure that is never pruned."
            }
            Finding::MemoryLeak(_) => {
                "Look for objects stored per request in something that lives forever: module-level maps and arrays, caches without a bound, listeners, closures."
            }
            Finding::MemoryPlateau(_) => "Nothing to fix if the size is expected; check the cache's bound if it is not.",
            Finding::ListenerLeak { repeated: false, .. } => {
                "A listener is added on every request and never removed: use once() or remove it when the request ends."
            }
            Finding::ListenerLeak { .. } => {
                "Many requests wait on the same event at once; consider setMaxListeners or a different design."
            }
            Finding::BlockedEventLoop { .. } => {
                "Find the synchronous work in the request path (CPU-heavy loops, JSON of large objects, sync I/O, crypto) and move it off the event loop or make it smaller; --profile names the function."
            }
            Finding::GcPressure { .. } => "Allocate less per request: reuse buffers, avoid building large temporary objects and strings.",
            Finding::IoWait { .. } => "The server is waiting, not working: look at downstream calls (database, HTTP, timers, locks) and their latency.",
            Finding::CpuSaturated { .. } => "This is the server's capacity on one core at this concurrency; profile the handler to go faster, or scale out.",
            Finding::GeneratorLimited { .. } => "harness and the target competed for CPU, so these numbers are a floor, not the server's capacity; run them on separate cores or machines.",
        }
    }

    /// "; 45 % of requests failed as a result, mostly timeout", when it caused failures.
    fn consequence_text(&self) -> String {
        self.consequence()
            .map_or(String::new(), |c| format!("; {}", c.text()))
    }

    /// The evidence as label and value pairs.
    pub fn evidence(&self) -> Vec<(String, String)> {
        let pair = |label: &str, value: String| (label.to_string(), value);
        match self {
            Finding::TargetCrashed {
                status, last_error, ..
            } => {
                let mut out = vec![pair("exit", status.clone())];
                if let Some(line) = last_error {
                    out.push(pair("last stderr line", line.clone()));
                }
                out
            }
            Finding::Errors {
                errors,
                timeouts,
                rate,
                main_kind,
                cause,
            } => {
                let mut out = vec![
                    pair("errors", errors.to_string()),
                    pair("timeouts", timeouts.to_string()),
                    pair("error rate", format!("{:.2} %", rate * 100.0)),
                    pair("most frequent", main_kind.clone()),
                ];
                if let Some(cause) = cause {
                    out.push(pair("caused by", (*cause).to_string()));
                }
                out
            }
            Finding::Non2xx {
                count,
                rate,
                main_code,
            } => vec![
                pair("non-2xx responses", count.to_string()),
                pair("share", format!("{:.2} %", rate * 100.0)),
                pair("most frequent", main_code.clone()),
            ],
            Finding::MemoryLeak(leak) | Finding::MemoryPlateau(leak) => leak_evidence(leak),
            Finding::ListenerLeak {
                pid,
                emitter,
                event,
                count,
                location,
                ..
            } => vec![
                pair("process", pid.to_string()),
                pair("emitter", emitter.clone()),
                pair("event", event.clone()),
                pair("listeners", count.to_string()),
                pair(
                    "added at",
                    location.clone().unwrap_or_else(|| "unknown".to_string()),
                ),
            ],
            Finding::BlockedEventLoop {
                pid,
                delay_p90_ms,
                delay_max_ms,
                elu,
                per_request_ms,
                hot,
                ..
            } => {
                let mut out = vec![
                    pair("process", pid.to_string()),
                    pair(
                        "delay, 90th percentile of intervals",
                        format!("{delay_p90_ms:.1} ms"),
                    ),
                    pair("worst delay", format!("{delay_max_ms:.1} ms")),
                    pair("event-loop utilisation", format!("{:.0} %", elu * 100.0)),
                ];
                if let Some(per) = per_request_ms {
                    out.push(pair("event-loop time per request", millis(*per)));
                }
                out.extend(hot_evidence(hot.as_ref()));
                out
            }
            Finding::GcPressure {
                pid,
                share,
                worst_second,
                longest_ms,
                collections,
                observed,
                garbage,
                ..
            } => {
                let mut evidence = vec![
                    pair("process", pid.to_string()),
                    pair("time in GC", format!("{:.1} %", share * 100.0)),
                    pair(
                        "worst second",
                        format!("{:.1} % in GC", worst_second * 100.0),
                    ),
                    pair("longest pause", format!("{longest_ms:.1} ms")),
                    pair("collections", collections.to_string()),
                ];
                if *observed < 1.0 {
                    evidence.push(pair(
                        "GC events observed",
                        format!(
                            "{:.0} % of the load (sampled: the process collected 50+ times a second)",
                            observed * 100.0
                        ),
                    ));
                }
                if let Some((code, share)) = garbage {
                    evidence.push(pair(
                        "most allocated by",
                        format!("{code}, {:.0} % of the sampled bytes", share * 100.0),
                    ));
                }
                evidence
            }
            Finding::IoWait {
                latency_p50_ms,
                elu,
                cpu,
            } => busy_evidence(
                pair("median latency", format!("{latency_p50_ms:.1} ms")),
                *cpu,
                *elu,
            ),
            Finding::CpuSaturated {
                elu,
                cpu,
                requests_per_second,
                per_request_ms,
                queued_ms,
                hot,
                ..
            } => {
                let mut out = busy_evidence(
                    pair("requests/s", format!("{requests_per_second:.0}")),
                    *cpu,
                    *elu,
                );
                if let Some(per) = per_request_ms {
                    out.push(pair("CPU per request", millis(*per)));
                }
                if let Some(queued) = queued_ms {
                    out.push(pair(
                        "queueing delay, 90th percentile of intervals",
                        format!("{queued:.1} ms"),
                    ));
                }
                out.extend(hot_evidence(hot.as_ref()));
                out
            }
            Finding::GeneratorLimited {
                harness_cpu,
                machine_cpu,
                cores,
            } => vec![
                pair("harness CPU", format!("{harness_cpu:.0} % of a core")),
                pair(
                    "machine CPU",
                    format!("{machine_cpu:.0} % of {cores} cores"),
                ),
            ],
        }
    }
}

/// The hot code and its share, when a CPU profile named it.
fn hot_evidence(hot: Option<&Hot>) -> Vec<(String, String)> {
    hot.map(|hot| {
        vec![(
            "hot code (CPU profile)".to_string(),
            format!("{}, {:.0} % of the busy time", hot.code, hot.share * 100.0),
        )]
    })
    .unwrap_or_default()
}

/// A duration in ms, µs below a millisecond.
fn millis(ms: f64) -> String {
    if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.0} µs", ms * 1000.0)
    }
}

/// A headline figure, then how busy the target was: CPU, and event-loop utilisation for Node.
fn busy_evidence(first: (String, String), cpu: f64, elu: Option<f64>) -> Vec<(String, String)> {
    let mut out = vec![
        first,
        ("target CPU".to_string(), format!("{cpu:.0} % of a core")),
    ];
    if let Some(elu) = elu {
        out.push((
            "event-loop utilisation".to_string(),
            format!("{:.0} %", elu * 100.0),
        ));
    }
    out
}

fn leak_summary(leak: &Leak) -> String {
    let per_request = leak.heap_per_request + leak.external_per_request;
    let what = if leak.pid.is_none() { "RSS" } else { "memory" };
    let split = if leak.pid.is_some() && leak.external_per_request >= 1.0 {
        format!(
            " ({} heap + {} external)",
            bytes(leak.heap_per_request),
            bytes(leak.external_per_request)
        )
    } else {
        String::new()
    };
    format!(
        "{} of {what} retained per request{split}, {} in all after {} requests, still held after the cooldown",
        bytes(per_request),
        bytes(leak.heap_growth.max(0.0) + leak.external_growth.max(0.0)),
        leak.requests
    )
}

fn leak_evidence(leak: &Leak) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(pid) = leak.pid {
        out.push(("process".to_string(), pid.to_string()));
        out.push((
            "heap retained after full GC".to_string(),
            signed_bytes(leak.heap_growth),
        ));
        out.push((
            "external retained after full GC".to_string(),
            signed_bytes(leak.external_growth),
        ));
    } else {
        out.push(("RSS growth".to_string(), signed_bytes(leak.heap_growth)));
    }
    out.push((
        "per request".to_string(),
        format!(
            "{} heap, {} external",
            bytes(leak.heap_per_request),
            bytes(leak.external_per_request)
        ),
    ));
    if let Some(r2) = leak.r2 {
        out.push(("fit against requests (r²)".to_string(), format!("{r2:.3}")));
    }
    for (kind, before, after) in &leak.handles {
        out.push((
            format!("{kind} handles"),
            format!("{before} before the load, {after} at the end"),
        ));
    }
    out.push((
        "given back by the cooldown".to_string(),
        format!("{:.0} %", leak.returned.max(0.0) * 100.0),
    ));
    if let Some(seconds) = leak.exhaustion_s {
        out.push(("heap limit reached in".to_string(), duration(seconds)));
    }
    let confidence = match leak.confidence {
        Confidence::Low => "low (RSS only)",
        Confidence::Medium => "medium (GC floors)",
        Confidence::High => "high",
    };
    out.push(("confidence".to_string(), confidence.to_string()));
    out
}

fn signed_bytes(value: f64) -> String {
    if value < 0.0 {
        format!("-{}", bytes(-value))
    } else {
        format!("+{}", bytes(value))
    }
}

fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 120.0 => format!("about {s:.0} s at the load's rate"),
        s if s < 7200.0 => format!("about {:.0} min at the load's rate", s / 60.0),
        s => format!("about {:.1} h at the load's rate", s / 3600.0),
    }
}

#[cfg(test)]
mod tests;
