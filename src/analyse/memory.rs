//! Memory leaks. For Node targets the evidence is the heap and external memory left after
//! forced full garbage collections (the GC floors at the end of the baseline, the load and the
//! cooldown) and after the natural major collections during the load, tracked against
//! cumulative requests. Heap (JS objects) and external memory (Buffer backing stores, off the
//! V8 heap) are tracked separately: most of a Buffer cache's leak is external.
//!
//! A leak is memory that (1) grows with the requests served, (2) is still held after a full
//! collection once the load is over and the cooldown has let in-flight work finish, and (3)
//! does not level off. Each threshold below guards one of those against a known non-leak:
//!
//! - [`MIN_REQUESTS`]: with few requests, per-request figures are dominated by one-off costs.
//! - [`MIN_RETAINED`]: a healthy Node server keeps 0.5-1 MB more after its first load than
//!   before it (compiled code, inline caches, pools); measured here on the hello, bounded-cache
//!   and heavy-garbage apps: +0.6 to +0.7 MB, whatever the number of requests.
//! - [`MIN_BYTES_PER_REQUEST`]: the smallest leak worth a finding keeps an object per request
//!   (tens of bytes); a non-leaking app measured 2-3 B/request over 300,000 requests.
//! - [`RETURNED`]: memory that the cooldown gives back was in-flight work (queued requests,
//!   sockets), not a leak.
//! - [`PLATEAU`]: a bounded cache grows fast and then stops; with enough natural major GCs
//!   during the load, growth in the second half of the requests below a quarter of the first
//!   half's is a plateau, not a leak.
//!
//! Active handles (timers, sockets) that grow by [`HANDLE_GROWTH`] and by one per
//! [`REQUESTS_PER_HANDLE`] requests or more are named in the evidence: a timer created per
//! request and never cleared keeps its closure alive.
//!
//! For targets without the probe, only RSS is known: allocators keep freed memory and RSS
//! includes everything, so an RSS trend is reported at low confidence and says so.

use super::finding::{pair, Confidence, Detail, Finding};
use super::{fit, LoadWindow};
use crate::result::{Floor, GcKind, NodeProcess, PhaseName, RunResult, Severity};
use crate::units::{bytes, signed_bytes};

/// Fewer requests than this give no memory verdict.
pub(super) const MIN_REQUESTS: u64 = 1000;
/// Growth retained after the cooldown below this is warm-up, not a leak (bytes).
pub(super) const MIN_RETAINED: f64 = 2.0 * 1024.0 * 1024.0;
/// Retained growth per request below this is not a leak (bytes).
pub(super) const MIN_BYTES_PER_REQUEST: f64 = 64.0;
/// If the cooldown floor gives back at least this share of the load's growth, it was
/// in-flight work.
pub(super) const RETURNED: f64 = 0.5;
/// Second-half growth rate below this share of the first half's is a plateau.
pub(super) const PLATEAU: f64 = 0.25;
/// Natural major GCs needed (with their heap-after) for a trend of their own.
pub(super) const MIN_NATURAL_POINTS: usize = 4;
/// For targets without the probe: RSS growth below this is not reported (bytes).
pub(super) const MIN_RSS_GROWTH: f64 = 16.0 * 1024.0 * 1024.0;
/// For targets without the probe: an RSS trend must fit a line this well.
pub(super) const MIN_RSS_R2: f64 = 0.8;
/// Handle growth worth naming, in handles.
pub(super) const HANDLE_GROWTH: u64 = 100;
/// ... and at least one handle per this many requests.
pub(super) const REQUESTS_PER_HANDLE: u64 = 100;
/// A forced floor runs two full GCs; natural majors this close before a floor are those.
const FORCED_GC_WINDOW: f64 = 0.5;

/// Evidence of memory growth.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Leak {
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

/// Memory that grew, then levelled off: a bounded cache or warm-up.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plateau(pub Leak);

impl Detail for Leak {
    fn severity(&self) -> Severity {
        match self.confidence {
            Confidence::Low => Severity::Warning,
            _ => Severity::Critical,
        }
    }

    fn title(&self) -> String {
        format!("Memory leak: {}", self.summary())
    }

    fn advice(&self) -> String {
        let advice = if self.handles.iter().any(|h| h.0 == "Timeout") {
            "Timers are created per request and never cleared, and each keeps what its callback \
             uses alive: clearTimeout/clearInterval them when the request ends."
        } else if self.pid.is_none() {
            "RSS kept growing with requests; without the Node probe this may also be allocator \
             caching. Take heap snapshots (or run under a memory profiler) before and after the \
             load."
        } else if self.external_per_request > self.heap_per_request {
            "Most of it is off the JS heap (Buffers/ArrayBuffers): look for Buffers kept in a \
             cache, map or closure that is never pruned."
        } else {
            "Look for objects stored per request in something that lives forever: module-level \
             maps and arrays, caches without a bound, listeners, closures."
        };
        advice.to_string()
    }

    fn evidence(&self) -> Vec<(String, String)> {
        self.evidence_lines()
    }

    fn cause(&self) -> Option<&'static str> {
        (self.confidence != Confidence::Low).then_some("the memory leak")
    }
}

impl Detail for Plateau {
    fn severity(&self) -> Severity {
        Severity::Info
    }

    fn title(&self) -> String {
        format!(
            "Memory grew by {} and then levelled off (bounded cache or warm-up, not a leak)",
            bytes(self.0.heap_growth.max(0.0) + self.0.external_growth.max(0.0))
        )
    }

    fn advice(&self) -> String {
        "Nothing to fix if the size is expected; check the cache's bound if it is not.".to_string()
    }

    fn evidence(&self) -> Vec<(String, String)> {
        self.0.evidence_lines()
    }
}

impl Leak {
    /// "1.2 kB of memory retained per request (…), 12 MB in all after 10000 requests, …"
    fn summary(&self) -> String {
        let per_request = self.heap_per_request + self.external_per_request;
        let what = if self.pid.is_none() { "RSS" } else { "memory" };
        let split = if self.pid.is_some() && self.external_per_request >= 1.0 {
            format!(
                " ({} heap + {} external)",
                bytes(self.heap_per_request),
                bytes(self.external_per_request)
            )
        } else {
            String::new()
        };
        format!(
            "{} of {what} retained per request{split}, {} in all after {} requests, still held after the cooldown",
            bytes(per_request),
            bytes(self.heap_growth.max(0.0) + self.external_growth.max(0.0)),
            self.requests
        )
    }

    fn evidence_lines(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(pid) = self.pid {
            out.push(pair("process", pid.to_string()));
            out.push(pair(
                "heap retained after full GC",
                signed_bytes(self.heap_growth),
            ));
            out.push(pair(
                "external retained after full GC",
                signed_bytes(self.external_growth),
            ));
        } else {
            out.push(pair("RSS growth", signed_bytes(self.heap_growth)));
        }
        out.push(pair(
            "per request",
            format!(
                "{} heap, {} external",
                bytes(self.heap_per_request),
                bytes(self.external_per_request)
            ),
        ));
        if let Some(r2) = self.r2 {
            out.push(pair("fit against requests (r²)", format!("{r2:.3}")));
        }
        for (kind, before, after) in &self.handles {
            out.push((
                format!("{kind} handles"),
                format!("{before} before the load, {after} at the end"),
            ));
        }
        out.push(pair(
            "given back by the cooldown",
            format!("{:.0} %", self.returned.max(0.0) * 100.0),
        ));
        if let Some(seconds) = self.exhaustion_s {
            out.push(pair("heap limit reached in", duration(seconds)));
        }
        let confidence = match self.confidence {
            Confidence::Low => "low (RSS only)",
            Confidence::Medium => "medium (GC floors)",
            Confidence::High => "high",
        };
        out.push(pair("confidence", confidence.to_string()));
        out
    }
}

fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 120.0 => format!("about {s:.0} s at the load's rate"),
        s if s < 7200.0 => format!("about {:.0} min at the load's rate", s / 60.0),
        s => format!("about {:.1} h at the load's rate", s / 3600.0),
    }
}

/// Leak findings for each Node process, or from RSS when there is no probe data.
pub(super) fn findings(result: &RunResult, window: &LoadWindow) -> Vec<Finding> {
    if result.requests.total < MIN_REQUESTS {
        return Vec::new();
    }
    if result.node.is_empty() {
        return rss_leak(result, window).into_iter().collect();
    }
    result
        .node
        .iter()
        .filter_map(|process| node_leak(result, window, process))
        .collect()
}

fn floor(process: &NodeProcess, phase: PhaseName) -> Option<&Floor> {
    process.floors.iter().find(|f| f.is(phase))
}

fn retained(floor: &Floor) -> f64 {
    floor.heap_used as f64 + floor.external as f64
}

fn node_leak(result: &RunResult, window: &LoadWindow, process: &NodeProcess) -> Option<Finding> {
    let baseline = floor(process, PhaseName::Baseline)?;
    let load_end = floor(process, PhaseName::Load);
    let after = floor(process, PhaseName::Cooldown).or(load_end)?;
    let requests = result.requests.total as f64;
    let heap_growth = after.heap_used as f64 - baseline.heap_used as f64;
    let external_growth = after.external as f64 - baseline.external as f64;
    let total = heap_growth.max(0.0) + external_growth.max(0.0);
    let returned = match load_end {
        Some(load_end) if retained(load_end) > retained(baseline) => {
            (retained(load_end) - retained(after)) / (retained(load_end) - retained(baseline))
        }
        _ => 0.0,
    };
    // Natural major collections during the load, away from the forced ones.
    let natural: Vec<(f64, f64)> = process
        .gc
        .iter()
        .filter(|gc| gc.kind == GcKind::Major && window.contains(gc.t))
        .filter(|gc| {
            !process
                .floors
                .iter()
                .any(|f| (f.t - gc.t) >= -0.05 && (f.t - gc.t) < FORCED_GC_WINDOW)
        })
        .filter_map(|gc| Some((window.requests_at(gc.t), gc.heap_after? as f64)))
        .collect();
    let trend = (natural.len() >= MIN_NATURAL_POINTS).then(|| {
        let mut points = natural.clone();
        points.push((requests, after.heap_used as f64));
        fit::line(&points)
    });
    let trend = trend.flatten();
    let plateau = natural.len() >= MIN_NATURAL_POINTS && levels_off(&natural, requests);
    let heap_per_request = match trend {
        Some(line) if line.r2 >= 0.8 => line.slope.max(0.0),
        _ => heap_growth.max(0.0) / requests,
    };
    let external_per_request = external_growth.max(0.0) / requests;
    let leak = Leak {
        pid: Some(process.pid),
        heap_growth,
        external_growth,
        heap_per_request,
        external_per_request,
        r2: trend.map(|line| line.r2).filter(|r2| r2.is_finite()),
        requests: result.requests.total,
        returned,
        exhaustion_s: exhaustion(process, after, heap_per_request, result.requests.overall),
        handles: handle_growth(result, process, window),
        confidence: if trend.is_some_and(|l| l.r2 >= 0.9)
            || external_per_request >= MIN_BYTES_PER_REQUEST
        {
            Confidence::High
        } else {
            Confidence::Medium
        },
    };
    let grows = total >= MIN_RETAINED && total / requests >= MIN_BYTES_PER_REQUEST;
    match (grows, returned >= RETURNED, plateau) {
        (true, false, false) => Some(leak.into()),
        (true, false, true) => Some(Plateau(leak).into()),
        _ => None,
    }
}

/// Handle types with many more active handles at the end of the cooldown (before any CPU
/// trace loads the target again) than before the load.
fn handle_growth(
    result: &RunResult,
    process: &NodeProcess,
    window: &LoadWindow,
) -> Vec<(String, u64, u64)> {
    let requests = result.requests.total;
    let before = process
        .samples
        .iter()
        .rev()
        .find(|s| !window.contains(s.t) && s.t <= window.start());
    let rest_ends = result
        .phases
        .iter()
        .find(|p| p.is(PhaseName::Cooldown))
        .map_or(f64::INFINITY, |p| p.end);
    let after = process.samples.iter().rev().find(|s| s.t <= rest_ends);
    let (Some(before), Some(after)) = (before, after) else {
        return Vec::new();
    };
    after
        .handles
        .iter()
        .filter_map(|(kind, &end)| {
            let start = before.handles.get(kind).copied().unwrap_or(0);
            let grown = end.saturating_sub(start);
            (grown >= HANDLE_GROWTH && grown * REQUESTS_PER_HANDLE >= requests)
                .then(|| (kind.clone(), start, end))
        })
        .collect()
}

/// Whether growth in the second half of the requests is small next to the first half's.
fn levels_off(points: &[(f64, f64)], requests: f64) -> bool {
    let half = requests / 2.0;
    let first: Vec<_> = points.iter().copied().filter(|p| p.0 <= half).collect();
    let second: Vec<_> = points.iter().copied().filter(|p| p.0 > half).collect();
    match (fit::line(&first), fit::line(&second)) {
        (Some(a), Some(b)) if a.slope > 0.0 => b.slope < PLATEAU * a.slope,
        _ => false,
    }
}

/// Seconds until the heap limit at this rate of growth, if it grows and the limit is known.
fn exhaustion(process: &NodeProcess, after: &Floor, per_request: f64, rate: f64) -> Option<f64> {
    let left = process.heap_size_limit as f64 - after.heap_used as f64;
    (process.heap_size_limit > 0 && per_request > 0.0 && rate > 0.0 && left > 0.0)
        .then(|| left / (per_request * rate))
}

/// A leak judged from RSS alone, for targets without the Node probe.
fn rss_leak(result: &RunResult, window: &LoadWindow) -> Option<Finding> {
    let points = &result.process.as_ref()?.points;
    let at_rest = |phase: PhaseName| {
        let phase = result.phases.iter().find(|p| p.is(phase))?;
        let inside: Vec<f64> = points
            .iter()
            .filter(|p| p.t >= phase.start && p.t <= phase.end)
            .map(|p| p.rss as f64)
            .collect();
        (!inside.is_empty()).then(|| inside.iter().sum::<f64>() / inside.len() as f64)
    };
    let before = at_rest(PhaseName::Baseline)?;
    let after = points.last()?.rss as f64;
    let during: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| window.contains(p.t))
        .map(|p| (window.requests_at(p.t), p.rss as f64))
        .collect();
    let line = fit::line(&during)?;
    let peak = during.iter().map(|p| p.1).fold(after, f64::max);
    let growth = after - before;
    let requests = result.requests.total as f64;
    let returned = if peak > before {
        (peak - after) / (peak - before)
    } else {
        0.0
    };
    let leaks = growth >= MIN_RSS_GROWTH
        && growth / requests >= MIN_BYTES_PER_REQUEST
        && line.r2 >= MIN_RSS_R2
        && returned < RETURNED;
    leaks.then(|| {
        Finding::from(Leak {
            pid: None,
            heap_growth: growth,
            external_growth: 0.0,
            heap_per_request: line.slope.max(0.0),
            external_per_request: 0.0,
            r2: Some(line.r2),
            requests: result.requests.total,
            returned,
            exhaustion_s: None,
            confidence: Confidence::Low,
            handles: Vec::new(),
        })
    })
}
