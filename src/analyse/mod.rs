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
    /// The target's CPU was the limit.
    CpuSaturated {
        /// Event-loop utilisation, for Node.
        elu: Option<f64>,
        /// CPU, percent of one core.
        cpu: f64,
        /// Throughput at that point.
        requests_per_second: f64,
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
    let mut findings = Vec::new();
    findings.extend(crashed(result));
    findings.extend(errors(result));
    findings.extend(memory::findings(result, &window));
    findings.extend(event_loop::findings(result, &window));
    findings.extend(capacity::findings(result, &window));
    // Most severe first; within a severity, in the order of `rank`.
    findings.sort_by(|a, b| {
        b.severity()
            .cmp(&a.severity())
            .then(a.rank().cmp(&b.rank()))
    });
    Analysis { findings }
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
    /// How much it matters.
    pub fn severity(&self) -> Severity {
        match self {
            Finding::TargetCrashed { .. } => Severity::Critical,
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
            Finding::GcPressure { .. }
            | Finding::MemoryPlateau(_)
            | Finding::CpuSaturated { .. }
            | Finding::GeneratorLimited { .. } => Severity::Info,
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
            Finding::TargetCrashed { status, .. } => format!("The target crashed during the run ({status})"),
            Finding::Errors { errors, rate, main_kind, .. } => {
                format!("{errors} requests failed ({:.1} %), mostly {main_kind}", rate * 100.0)
            }
            Finding::Non2xx { count, rate, main_code } => {
                format!("{count} responses were not 2xx ({:.1} %), mostly {main_code}", rate * 100.0)
            }
            Finding::MemoryLeak(leak) => format!("Memory leak: {}", leak_summary(leak)),
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
            Finding::BlockedEventLoop { delay_p90_ms, delay_max_ms, .. } => format!(
                "Blocked event loop: callbacks waited {delay_p90_ms:.0} ms or more in 10 % of intervals (worst {delay_max_ms:.0} ms)"
            ),
            Finding::GcPressure { share, longest_ms, .. } => format!(
                "GC pressure: {:.0} % of the load's time in garbage collection, longest pause {longest_ms:.0} ms",
                share * 100.0
            ),
            Finding::IoWait { latency_p50_ms, elu, cpu } => match elu {
                Some(elu) => format!(
                    "I/O wait: requests took {latency_p50_ms:.1} ms (median) while the event loop was {:.0} % busy",
                    elu * 100.0
                ),
                None => format!("I/O wait: requests took {latency_p50_ms:.1} ms (median) while the target used {cpu:.0} % of a core"),
            },
            Finding::CpuSaturated { elu, cpu, requests_per_second } => match elu {
                Some(elu) => format!(
                    "CPU-bound: the event loop was {:.0} % busy at {requests_per_second:.0} requests/s",
                    elu * 100.0
                ),
                None => format!("CPU-bound: the target used {cpu:.0} % of a core at {requests_per_second:.0} requests/s"),
            },
            Finding::GeneratorLimited { harness_cpu, machine_cpu, cores } => format!(
                "The load generator shared the machine: harness used {harness_cpu:.0} % of a core and the machine {machine_cpu:.0} % of its {cores} cores"
            ),
        }
    }

    /// What to do next.
    pub fn advice(&self) -> &'static str {
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
                "Find the synchronous work in the request path (CPU-heavy loops, JSON of large objects, sync I/O, crypto) and move it off the event loop or make it smaller."
            }
            Finding::GcPressure { .. } => "Allocate less per request: reuse buffers, avoid building large temporary objects and strings.",
            Finding::IoWait { .. } => "The server is waiting, not working: look at downstream calls (database, HTTP, timers, locks) and their latency.",
            Finding::CpuSaturated { .. } => "This is the server's capacity on one core at this concurrency; profile the handler to go faster, or scale out.",
            Finding::GeneratorLimited { .. } => "harness and the target competed for CPU, so these numbers are a floor, not the server's capacity; run them on separate cores or machines.",
        }
    }

    /// The evidence as label and value pairs.
    pub fn evidence(&self) -> Vec<(String, String)> {
        let pair = |label: &str, value: String| (label.to_string(), value);
        match self {
            Finding::TargetCrashed { status, last_error } => {
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
            } => vec![
                pair("errors", errors.to_string()),
                pair("timeouts", timeouts.to_string()),
                pair("error rate", format!("{:.2} %", rate * 100.0)),
                pair("most frequent", main_kind.clone()),
            ],
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
            } => vec![
                pair("process", pid.to_string()),
                pair(
                    "delay, 90th percentile of intervals",
                    format!("{delay_p90_ms:.1} ms"),
                ),
                pair("worst delay", format!("{delay_max_ms:.1} ms")),
                pair("event-loop utilisation", format!("{:.0} %", elu * 100.0)),
            ],
            Finding::GcPressure {
                pid,
                share,
                worst_second,
                longest_ms,
                collections,
                observed,
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
            } => busy_evidence(
                pair("requests/s", format!("{requests_per_second:.0}")),
                *cpu,
                *elu,
            ),
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
