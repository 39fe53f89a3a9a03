//! The measurements that findings, thresholds and `harness compare` share, each defined
//! once: the error rate, the memory kept from the baseline to the cooldown, and the
//! event-loop delay during the load.

use crate::result::{KindResult, NodeProcess, NodeSample, PhaseName, RunResult};

/// Errors (timeouts and failed checks included) as a share of all attempts: errors /
/// (responses + errors that were not responses); `None` when nothing was attempted. A
/// response that failed a check is one attempt, counted once.
pub(crate) fn error_rate(result: &RunResult) -> Option<f64> {
    let checks = result.errors_by_kind.get("check").map_or(0, |e| e.count);
    let attempts = result.requests.total + result.errors.saturating_sub(checks);
    (attempts > 0).then(|| result.errors as f64 / attempts as f64)
}

/// As [`error_rate`], for one kind of request.
pub(crate) fn kind_error_rate(kind: &KindResult) -> Option<f64> {
    let checks = kind.errors_by_kind.get("check").map_or(0, |e| e.count);
    let attempts = kind.requests.total + kind.errors.saturating_sub(checks);
    (attempts > 0).then(|| kind.errors as f64 / attempts as f64)
}

/// Memory kept from the end of the baseline to the end of the cooldown: for Node targets the
/// heap used plus external memory after a forced GC (summed over the Node processes), for
/// others the resident set size. Negative growth counts as 0.
pub(crate) fn memory_growth(result: &RunResult) -> Result<i64, String> {
    let floors: Vec<(u64, u64)> = result.node.iter().filter_map(floor_pair).collect();
    if !floors.is_empty() {
        let grown: i64 = floors
            .iter()
            .map(|(before, after)| *after as i64 - *before as i64)
            .sum();
        return Ok(grown.max(0));
    }
    if !result.node.is_empty() {
        return Err("the Node probe took no floors after the baseline and the cooldown".into());
    }
    let phase = |name: PhaseName| result.phases.iter().find(|p| p.is(name));
    let (Some(baseline), Some(cooldown), Some(process)) = (
        phase(PhaseName::Baseline),
        phase(PhaseName::Cooldown),
        result.process.as_ref(),
    ) else {
        return Err("no target was watched (give a target command)".to_string());
    };
    let rss_at = |t: f64| {
        process
            .points
            .iter()
            .rfind(|p| p.t <= t + 1e-6)
            .map(|p| p.rss)
    };
    match (rss_at(baseline.end), rss_at(cooldown.end)) {
        (Some(before), Some(after)) => Ok((after as i64 - before as i64).max(0)),
        _ => Err("too few process samples".to_string()),
    }
}

fn floor_pair(node: &NodeProcess) -> Option<(u64, u64)> {
    let used = |phase: PhaseName| {
        node.floors
            .iter()
            .find(|f| f.is(phase))
            .map(|f| f.heap_used + f.external)
    };
    Some((used(PhaseName::Baseline)?, used(PhaseName::Cooldown)?))
}

/// The highest per-interval event-loop delay statistic during the load, over Node processes.
pub(crate) fn loop_delay(
    result: &RunResult,
    stat: impl Fn(&NodeSample) -> f64,
) -> Result<f64, String> {
    let load = result
        .phases
        .iter()
        .find(|p| p.is(PhaseName::Load))
        .ok_or("the run has no load phase")?;
    result
        .node
        .iter()
        .flat_map(|n| n.samples.iter())
        .filter(|s| s.t > load.start && s.t <= load.end + 1e-6)
        .map(stat)
        .reduce(f64::max)
        .ok_or_else(|| "no Node probe samples (a Node target is needed)".to_string())
}
