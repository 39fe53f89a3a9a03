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

mod words;

use super::finding::{Confidence, Finding};
use super::trial::{self, Kept, Trial};
use super::{fit, LoadWindow};
use crate::result::{Floor, GcKind, NodeProcess, PhaseName, RunResult};

/// Fewer requests than this give no leak from the measured evidence alone.
pub(super) const MIN_REQUESTS: u64 = 1000;
/// Fewer requests than this give not even a suspect.
pub(super) const MIN_SUSPECT_REQUESTS: u64 = 200;
/// Growth retained below this is not even a suspect: healthy servers keep 0.6-0.9 MB after
/// their first load (hello 0.75 MB, an express app 0.9 MB at `-c 10 -d 5` and `-d 10`).
pub(super) const MIN_SUSPECT_RETAINED: f64 = 1.5 * 1024.0 * 1024.0;
/// Growth per request below this is not a suspect either: that express app kept 14-33 B per
/// request; the article's quiet listener leak, 4.2 kB at `-c 50 -d 10`.
pub(super) const MIN_SUSPECT_PER_REQUEST: f64 = 256.0;
/// A fit against the requests weaker than this (with enough natural collections to fit)
/// makes growth past the floor only a suspect: the bounded table's 8 MB fitted with r² 0.39,
/// a leak's growth 0.95 or more.
pub(super) const STRONG_FIT: f64 = 0.8;
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
    /// What the heap trace on a fresh copy said.
    pub trial: Trial,
    /// Why the growth is only a suspect (under the floor, a weak fit), if it is one.
    pub suspect: Option<String>,
}

/// Memory that grew, then levelled off: a bounded cache or warm-up.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plateau(pub Leak);

/// Growth that is kept and follows the requests but is under the floor or fits them
/// loosely, which no heap trace has decided: a suspect, not a finding to act on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Suspect(pub Leak);

/// Growth the measured run kept that the heap trace's fresh copy did not keep: warm-up,
/// caches or compiled code, not a leak.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refuted {
    /// The measured growth.
    pub leak: Leak,
    /// What the fresh copy kept, against the prediction.
    pub kept: Kept,
}

/// Leak findings for each Node process, or from RSS when there is no probe data.
pub(super) fn findings(result: &RunResult, window: &LoadWindow) -> Vec<Finding> {
    if result.requests.total < MIN_SUSPECT_REQUESTS {
        return Vec::new();
    }
    if result.node.is_empty() {
        if result.requests.total < MIN_REQUESTS {
            return Vec::new();
        }
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
    let natural = natural_majors(process, window);
    let trend = (natural.len() >= MIN_NATURAL_POINTS).then(|| {
        let mut points = natural.clone();
        points.push((requests, after.heap_used as f64));
        fit::line(&points)
    });
    let trend = trend.flatten();
    // The baseline's floor is where the growth starts: growth that stopped within the first
    // second is a plateau too, seen from the first collection of the load on.
    let plateau = natural.len() >= MIN_NATURAL_POINTS && {
        let mut points = vec![(0.0, baseline.heap_used as f64)];
        points.extend(natural.iter().copied());
        levels_off(&points, requests)
    };
    let heap_per_request = match trend {
        Some(line) if line.r2 >= STRONG_FIT => line.slope.max(0.0),
        _ => heap_growth.max(0.0) / requests,
    };
    let external_per_request = external_growth.max(0.0) / requests;
    let r2 = trend.map(|line| line.r2).filter(|r2| r2.is_finite());
    let leak = Leak {
        pid: Some(process.pid),
        heap_growth,
        external_growth,
        heap_per_request,
        external_per_request,
        r2,
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
        trial: trial::of(result),
        suspect: None,
    };
    if returned >= RETURNED {
        return None;
    }
    if plateau {
        let grows = total >= MIN_RETAINED && total / requests >= MIN_BYTES_PER_REQUEST;
        return (grows && result.requests.total >= MIN_REQUESTS).then(|| Plateau(leak).into());
    }
    let shape = shape(total, requests, result.requests.total, r2)?;
    Some(judged(Leak {
        suspect: shape,
        ..leak
    }))
}

/// Whether kept growth is a leak on the measured evidence (`Some(None)`), only a suspect
/// (`Some(Some(why))`), or nothing.
fn shape(total: f64, requests: f64, count: u64, r2: Option<f64>) -> Option<Option<String>> {
    use crate::units::bytes;
    let strong =
        count >= MIN_REQUESTS && total >= MIN_RETAINED && total / requests >= MIN_BYTES_PER_REQUEST;
    match r2 {
        _ if !strong => {}
        Some(r2) if r2 < STRONG_FIT => {
            return Some(Some(format!(
                "its growth fits the requests loosely, r² {r2:.2}"
            )))
        }
        _ => return Some(None),
    }
    let suspect = count >= MIN_SUSPECT_REQUESTS
        && total >= MIN_SUSPECT_RETAINED
        && total / requests >= MIN_SUSPECT_PER_REQUEST;
    suspect.then(|| {
        Some(if total < MIN_RETAINED {
            format!("under the {} a finding needs", bytes(MIN_RETAINED))
        } else {
            format!("after only {count} requests")
        })
    })
}

/// The heap trace's say on a leak or a suspect: confirmed, a leak; refuted, not one; not
/// decided, a leak on strong evidence and a suspect otherwise.
fn judged(leak: Leak) -> Finding {
    match leak.trial.clone() {
        Trial::Confirmed(_) => Leak {
            suspect: None,
            ..leak
        }
        .into(),
        Trial::Refuted(kept) => Refuted { leak, kept }.into(),
        Trial::Pending | Trial::Undecided(_) if leak.suspect.is_some() => Suspect(leak).into(),
        Trial::Pending | Trial::Undecided(_) => leak.into(),
    }
}

/// Natural major collections during the load, away from the forced ones, as (requests so
/// far, heap after).
fn natural_majors(process: &NodeProcess, window: &LoadWindow) -> Vec<(f64, f64)> {
    process
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
        .collect()
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
            trial: Trial::Undecided("harness had no Node probe in the target".to_string()),
            suspect: None,
        })
    })
}
