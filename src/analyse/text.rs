//! What a finding says: its title (what was found), its advice (what to do next) and its
//! evidence (the numbers behind it), all from its data.

use super::finding::{Confidence, Finding, Hot, Leak};
use crate::units::{bytes, short_millis as millis, signed_bytes};

impl Finding {
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
                    "Blocked event loop: {holder}callbacks waited {delay_p90_ms:.0} ms or more for 10 % of the load (worst {delay_max_ms:.0} ms){}",
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
                        "At capacity: {busy} with short callbacks ({cost}{requests_per_second:.0} requests/s), and requests queued {queued:.0} ms or more for 10 % of the load{hot}{}",
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
            Finding::Errors { .. } => self.errors_evidence(),
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
            Finding::BlockedEventLoop { .. } => self.blocked_evidence(),
            Finding::GcPressure { .. } => self.gc_evidence(),
            Finding::IoWait {
                latency_p50_ms,
                elu,
                cpu,
            } => busy_evidence(
                pair("median latency", format!("{latency_p50_ms:.1} ms")),
                *cpu,
                *elu,
            ),
            Finding::CpuSaturated { .. } => self.capacity_evidence(),
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

    fn errors_evidence(&self) -> Vec<(String, String)> {
        let Finding::Errors {
            errors,
            timeouts,
            rate,
            main_kind,
            cause,
        } = self
        else {
            return Vec::new();
        };
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

    fn blocked_evidence(&self) -> Vec<(String, String)> {
        let Finding::BlockedEventLoop {
            pid,
            delay_p90_ms,
            delay_max_ms,
            elu,
            per_request_ms,
            hot,
            ..
        } = self
        else {
            return Vec::new();
        };
        let mut out = vec![
            pair("process", pid.to_string()),
            pair(
                "delay, 90th percentile over the load's time",
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

    fn gc_evidence(&self) -> Vec<(String, String)> {
        let Finding::GcPressure {
            pid,
            share,
            worst_second,
            longest_ms,
            collections,
            observed,
            garbage,
            ..
        } = self
        else {
            return Vec::new();
        };
        let mut out = vec![
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
            out.push(pair(
                "GC events observed",
                format!(
                    "{:.0} % of the load (sampled: the process collected 50+ times a second)",
                    observed * 100.0
                ),
            ));
        }
        if let Some((code, share)) = garbage {
            out.push(pair(
                "most allocated by",
                format!("{code}, {:.0} % of the sampled bytes", share * 100.0),
            ));
        }
        out
    }

    fn capacity_evidence(&self) -> Vec<(String, String)> {
        let Finding::CpuSaturated {
            elu,
            cpu,
            requests_per_second,
            per_request_ms,
            queued_ms,
            hot,
            ..
        } = self
        else {
            return Vec::new();
        };
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
                "queueing delay, 90th percentile over the load's time",
                format!("{queued:.1} ms"),
            ));
        }
        out.extend(hot_evidence(hot.as_ref()));
        out
    }
}

/// One line of evidence.
fn pair(label: &str, value: String) -> (String, String) {
    (label.to_string(), value)
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

fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 120.0 => format!("about {s:.0} s at the load's rate"),
        s if s < 7200.0 => format!("about {:.0} min at the load's rate", s / 60.0),
        s => format!("about {:.1} h at the load's rate", s / 3600.0),
    }
}
