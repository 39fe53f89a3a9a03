//! When the target is at rest, so that the baseline and the cooldown end then instead of on a
//! fixed clock (`Idle::UntilRest`).
//!
//! - **Baseline**: every Node process has reported (when there is a probe), and the last
//!   [`QUIET_SAMPLES`] process samples show the target idle ([`QUIET_CPU`]).
//! - **Cooldown**: idle the same way, and the load's work is over on the target's side: for
//!   Node, its active handles (sockets, timers, file requests) back to the baseline's count of
//!   each kind; without the probe, its open descriptors back to the baseline's. A server that
//!   keeps a timer per request, or sockets the load left half-closed, is not at rest until
//!   they end, so memory still held by in-flight work is given back before the cooldown's
//!   forced-GC floor, as with the fixed cooldown.
//!
//! Both last at least `Idle::MIN` and at most their maximum; a target that never rests (a
//! handle leak, a busy background task) gets the whole maximum, as before.

use std::collections::BTreeMap;

use crate::result::{NodeSample, ProcessSample};

/// The target's CPU (percent of one core, all its processes) at or below which it is idle.
pub(super) const QUIET_CPU: f64 = 10.0;
/// Process samples in a row that must be quiet.
pub(super) const QUIET_SAMPLES: usize = 2;
/// Descriptors above the baseline's that still count as back (files opened lazily once).
const FD_SLACK: u64 = 2;

/// The target at rest before the load, what the cooldown waits to return to.
#[derive(Debug, Clone, Default)]
pub(super) struct Reference {
    /// Open descriptors of the target's processes.
    pub fds: Option<u64>,
    /// Active handles by kind, summed over the Node processes.
    pub handles: Option<BTreeMap<String, u64>>,
}

impl Reference {
    /// The reference from the latest samples (taken at the baseline's end).
    pub(super) fn at(points: &[ProcessSample], node: &[Option<NodeSample>]) -> Reference {
        Reference {
            fds: points.last().map(|p| p.fds),
            handles: handle_totals(node, f64::NEG_INFINITY),
        }
    }
}

/// Whether the last [`QUIET_SAMPLES`] process samples taken after `since` (seconds on the
/// run's clock) are all idle. The sampler's very first sample has no interval to measure
/// CPU over, so it never counts.
pub(super) fn quiet(points: &[ProcessSample], since: f64) -> bool {
    let recent: Vec<&ProcessSample> = points
        .iter()
        .skip(1)
        .filter(|p| p.t > since)
        .rev()
        .take(QUIET_SAMPLES)
        .collect();
    recent.len() == QUIET_SAMPLES && recent.iter().all(|p| p.cpu <= QUIET_CPU)
}

/// Whether every Node process has sent a sample (true when there are none).
pub(super) fn reported(node: &[Option<NodeSample>]) -> bool {
    node.iter().all(Option::is_some)
}

/// Whether the load's work is over on the target's side: Node handles back to the
/// reference's count of each kind, or, without Node samples taken after `since`, open
/// descriptors back to the reference's.
pub(super) fn back(
    reference: &Reference,
    points: &[ProcessSample],
    node: &[Option<NodeSample>],
    since: f64,
) -> bool {
    if let (Some(before), Some(now)) = (&reference.handles, handle_totals(node, since)) {
        return now.iter().all(|(kind, &count)| {
            let was = before.get(kind).copied().unwrap_or(0);
            count <= was + (was / 10).max(1)
        });
    }
    match (reference.fds, points.last().filter(|p| p.t > since)) {
        (Some(before), Some(now)) => now.fds <= before + FD_SLACK,
        // Nothing sampled yet, or no reference: quiet CPU has to do.
        (None, Some(_)) => true,
        (_, None) => false,
    }
}

/// Active handles by kind summed over the Node processes whose last sample is after `since`;
/// `None` if there is no such process or one has not reported since.
fn handle_totals(node: &[Option<NodeSample>], since: f64) -> Option<BTreeMap<String, u64>> {
    if node.is_empty() {
        return None;
    }
    let mut totals = BTreeMap::new();
    for sample in node {
        let sample = sample.as_ref().filter(|s| s.t > since)?;
        for (kind, count) in &sample.handles {
            *totals.entry(kind.clone()).or_insert(0) += count;
        }
    }
    Some(totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: f64, cpu: f64, fds: u64) -> ProcessSample {
        ProcessSample {
            t,
            cpu,
            fds,
            ..ProcessSample::default()
        }
    }

    fn node(t: f64, handles: &[(&str, u64)]) -> Option<NodeSample> {
        Some(NodeSample {
            t,
            handles: handles.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            ..NodeSample::default()
        })
    }

    #[test]
    fn quiet_needs_two_idle_samples_after_the_start_and_ignores_the_first_sample() {
        let points = [
            point(0.1, 0.0, 20),
            point(0.2, 3.0, 20),
            point(0.3, 80.0, 20),
        ];
        assert!(!quiet(&points, 0.0), "the last sample is busy");
        let points = [point(0.1, 0.0, 20), point(0.2, 3.0, 20)];
        assert!(!quiet(&points, 0.0), "the first sample does not count");
        let points = [
            point(0.1, 0.0, 20),
            point(0.2, 3.0, 20),
            point(0.3, 5.0, 20),
        ];
        assert!(quiet(&points, 0.0));
        assert!(!quiet(&points, 0.25), "one sample since the start");
    }

    #[test]
    fn the_cooldown_waits_for_sockets_and_timers_to_return() {
        let reference = Reference {
            fds: Some(20),
            handles: handle_totals(&[node(1.0, &[("TCPServerWrap", 1), ("Timeout", 2)])], 0.0),
        };
        let points = [point(9.0, 1.0, 400)];
        let busy = [node(9.0, &[("TCPServerWrap", 1), ("TCPSocketWrap", 100)])];
        assert!(!back(&reference, &points, &busy, 8.0));
        let timers = [node(9.0, &[("TCPServerWrap", 1), ("Timeout", 50)])];
        assert!(!back(&reference, &points, &timers, 8.0));
        let done = [node(
            9.0,
            &[("TCPServerWrap", 1), ("Timeout", 3), ("TCPSocketWrap", 1)],
        )];
        assert!(back(&reference, &points, &done, 8.0), "one of slack");
        assert!(
            !back(&reference, &points, &done, 9.5),
            "a sample from before the cooldown says nothing"
        );
    }

    #[test]
    fn without_the_probe_descriptors_tell() {
        let reference = Reference {
            fds: Some(20),
            handles: None,
        };
        assert!(!back(&reference, &[point(9.0, 1.0, 120)], &[], 8.0));
        assert!(back(&reference, &[point(9.0, 1.0, 22)], &[], 8.0));
        assert!(!back(&reference, &[point(7.0, 1.0, 20)], &[], 8.0));
    }

    #[test]
    fn every_node_process_must_have_reported() {
        assert!(reported(&[]));
        assert!(!reported(&[node(1.0, &[]), None]));
        assert!(reported(&[node(1.0, &[])]));
    }
}
