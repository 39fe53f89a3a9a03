//! The heap trace as the judge of a leak. The measured run sees memory kept after the load;
//! warm-up, caches filling up, lazily loaded modules and compiled code are kept too. The heap
//! trace runs the same requests against a fresh copy of the target that was warmed up first,
//! and compares what that copy keeps with what the measured run predicts for as many requests
//! (its bytes per request times the trace's responses, [`HeapTrace::predicted`]):
//!
//! - What the copy kept is how much its heap grew from the snapshot after its warm-up to the
//!   one after its cooldown ([`crate::result::HeapAnalysis::grown_bytes`]), not the size of
//!   the objects that are new and alive: a bounded table's replaced entries are new (8.1 MB
//!   of them) but the heap did not grow (0 bytes).
//! - [`CONFIRMED_SHARE`]: the copy keeps at least a quarter of the prediction: the leak is
//!   real. A quarter, not all of it: a few requests may still be in flight and the measured
//!   figure is a fit. Measured here (`-c 50 -d 10` unless said): the article's cache leak
//!   kept 103 % of its prediction, the session map 102 %, the closure leak 99 %, the quiet
//!   listener leak 71 %, the timer-fed array (`-c 100 -d 15`) 138 % of a prediction scaled
//!   by how long its timers ran; the lazily loaded `fetch` (`-c 10 -d 10`) kept 9 %, the
//!   bounded table (`-c 10 -d 10`) 0 %.
//! - [`MIN_CONFIRMED_BYTES`]: and at least 512 KiB, so that a small prediction is not
//!   confirmed by noise: over a 10,000-request trace a warmed-up hello server's heap grew by
//!   250 kB, an express app's by 68 kB.
//!
//! Where no trace ran or it could not finish, nothing is decided and the finding says why.

use crate::result::{HeapAnalysis, HeapTrace, RunResult};

/// Share of the predicted bytes the fresh copy must keep for the leak to be confirmed.
pub(crate) const CONFIRMED_SHARE: f64 = 0.25;
/// Bytes the fresh copy must keep at least for the leak to be confirmed.
pub(crate) const MIN_CONFIRMED_BYTES: u64 = 512 * 1024;

/// What the heap trace says of the measured run's leak.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Trial {
    /// No trace has run yet: the run is deciding whether to run one.
    Pending,
    /// The fresh copy kept enough of the prediction.
    Confirmed(Kept),
    /// The fresh copy kept far less than predicted.
    Refuted(Kept),
    /// No trace decided; why.
    Undecided(String),
}

/// What the fresh copy kept against what was predicted, and who holds it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Kept {
    /// Bytes the copy's heap grew by over the trace (all processes).
    pub retained: u64,
    /// Bytes the measured run predicted for the trace's responses.
    pub predicted: u64,
    /// The code holding the biggest group, as the heap analysis names it.
    pub holder: Option<String>,
}

/// What the fresh copy kept: how much its heap grew over the trace, every process together
/// (new objects that only replaced others, as in a bounded table, are not growth).
pub(crate) fn kept(analyses: &[&HeapAnalysis]) -> u64 {
    analyses.iter().map(|a| a.grown_bytes.max(0) as u64).sum()
}

/// Whether `retained` confirms a prediction of `predicted` bytes.
pub(crate) fn confirms(retained: u64, predicted: u64) -> bool {
    retained >= MIN_CONFIRMED_BYTES && retained as f64 >= CONFIRMED_SHARE * predicted as f64
}

/// The heap trace's verdict on the run's leak, from what the result holds.
pub(crate) fn of(result: &RunResult) -> Trial {
    let Some(trace) = &result.heap_trace else {
        return Trial::Pending;
    };
    let analyses: Vec<_> = result
        .heap
        .iter()
        .filter_map(|p| p.analysis.as_ref())
        .collect();
    if analyses.is_empty() {
        return Trial::Undecided(why_undecided(trace, result));
    }
    let Some(predicted) = trace.predicted else {
        return Trial::Undecided(
            "the measured run gave no bytes per request to compare the heap trace with".to_string(),
        );
    };
    let kept = Kept {
        retained: kept(&analyses),
        predicted,
        holder: analyses
            .iter()
            .find_map(|a| crate::analyse::heap::holder(a)),
    };
    if confirms(kept.retained, kept.predicted) {
        Trial::Confirmed(kept)
    } else {
        Trial::Refuted(kept)
    }
}

/// Why the trace decided nothing: its warning, or the first process's note.
fn why_undecided(trace: &HeapTrace, result: &RunResult) -> String {
    let warning = trace.warning.clone();
    let note = result.heap.iter().find_map(|p| p.note.clone());
    let why = warning
        .or(note)
        .unwrap_or_else(|| "no snapshots were analysed".to_string());
    format!("the heap trace did not decide: {why}")
}
