//! A finding: its kind, its evidence as data, how much it matters, and what it may cause or
//! be caused by. Its words (title, advice, evidence) are in [`super::text`].

use super::{capacity, event_loop, BLOCKED_CRITICAL_MS, ERROR_RATE_HIGH};

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

    pub(super) fn text(&self) -> String {
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

/// The kinds of finding: one list, named on the wire (`kind` in the result) and in
/// thresholds (`finding!=KIND`) by [`Kind::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `targetCrashed`
    TargetCrashed,
    /// `errors`
    Errors,
    /// `non2xx`
    Non2xx,
    /// `memoryLeak`
    MemoryLeak,
    /// `memoryPlateau`
    MemoryPlateau,
    /// `listenerLeak`
    ListenerLeak,
    /// `blockedEventLoop`
    BlockedEventLoop,
    /// `gcPressure`
    GcPressure,
    /// `ioWait`
    IoWait,
    /// `cpuSaturated`
    CpuSaturated,
    /// `generatorLimited`
    GeneratorLimited,
}

impl Kind {
    /// Every kind, in the order of the README's table.
    pub const ALL: [Kind; 11] = [
        Kind::TargetCrashed,
        Kind::Errors,
        Kind::Non2xx,
        Kind::MemoryLeak,
        Kind::MemoryPlateau,
        Kind::ListenerLeak,
        Kind::BlockedEventLoop,
        Kind::GcPressure,
        Kind::IoWait,
        Kind::CpuSaturated,
        Kind::GeneratorLimited,
    ];

    /// Its name on the wire: `memoryLeak`, `blockedEventLoop`, ...
    pub fn name(self) -> &'static str {
        match self {
            Kind::TargetCrashed => "targetCrashed",
            Kind::Errors => "errors",
            Kind::Non2xx => "non2xx",
            Kind::MemoryLeak => "memoryLeak",
            Kind::MemoryPlateau => "memoryPlateau",
            Kind::ListenerLeak => "listenerLeak",
            Kind::BlockedEventLoop => "blockedEventLoop",
            Kind::GcPressure => "gcPressure",
            Kind::IoWait => "ioWait",
            Kind::CpuSaturated => "cpuSaturated",
            Kind::GeneratorLimited => "generatorLimited",
        }
    }

    /// The kind with this name, in any case.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|kind| kind.name().eq_ignore_ascii_case(name))
    }
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
    pub(super) fn can_cause_errors(&self) -> bool {
        match self {
            Finding::TargetCrashed { .. } | Finding::BlockedEventLoop { .. } => true,
            Finding::GcPressure { share, .. } => *share >= event_loop::GC_SHARE_HIGH,
            Finding::CpuSaturated { queued_ms, .. } => queued_ms.is_some(),
            Finding::MemoryLeak(leak) => leak.confidence != Confidence::Low,
            _ => false,
        }
    }

    /// How the errors finding names this finding as their cause.
    pub(super) fn as_cause(&self) -> &'static str {
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
    /// (`capacity::PROFILE_CPU_PER_REQUEST_MS`).
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
    pub(super) fn rank(&self) -> u8 {
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

    /// The finding's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Finding::TargetCrashed { .. } => Kind::TargetCrashed,
            Finding::Errors { .. } => Kind::Errors,
            Finding::Non2xx { .. } => Kind::Non2xx,
            Finding::MemoryLeak(_) => Kind::MemoryLeak,
            Finding::MemoryPlateau(_) => Kind::MemoryPlateau,
            Finding::ListenerLeak { .. } => Kind::ListenerLeak,
            Finding::BlockedEventLoop { .. } => Kind::BlockedEventLoop,
            Finding::GcPressure { .. } => Kind::GcPressure,
            Finding::IoWait { .. } => Kind::IoWait,
            Finding::CpuSaturated { .. } => Kind::CpuSaturated,
            Finding::GeneratorLimited { .. } => Kind::GeneratorLimited,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_name_that_parses_back() {
        let names: std::collections::BTreeSet<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), Kind::ALL.len(), "two kinds share a name");
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.name()), Some(kind));
            assert_eq!(Kind::parse(&kind.name().to_ascii_uppercase()), Some(kind));
        }
        assert_eq!(Kind::parse("leak"), None);
    }

    #[test]
    fn the_readme_documents_every_kind() {
        let readme = include_str!("../../README.md");
        for kind in Kind::ALL {
            assert!(
                readme.contains(&format!("| `{}`", kind.name()))
                    || readme.contains(&format!("`{}`, `", kind.name())),
                "the README's findings table lacks {}",
                kind.name()
            );
        }
    }
}
