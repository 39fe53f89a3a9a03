//! Where the time went: CPU saturation of the target, waiting on I/O, and a generator (or
//! machine) that was itself the limit.
//!
//! - [`SATURATED_ELU`], [`SATURATED_CPU`]: a Node event loop busy 90 % of each interval, or any
//!   target at 90 % of its cores, cannot go faster; under a closed-loop load that is the
//!   server's capacity, so it is information, not a fault.
//! - [`IO_WAIT_ELU`], [`IO_WAIT_LATENCY_MS`]: a server whose loop is mostly idle (under 30 %)
//!   while the median request takes 10 ms or more spends its time waiting: on a database, a
//!   downstream call, a timer. Measured here: a 50 ms timer per request gave 3.5 % utilisation
//!   and a 50.7 ms median.
//! - [`PROFILE_CPU_PER_REQUEST_MS`]: a Node hello-world server costs ~25 µs of CPU per
//!   request here and a typical framework route 50-100 µs; from 250 µs per request the app's
//!   own code is most of the cost, so a server at capacity is worth a CPU profile.
//! - [`GENERATOR_BUSY`], [`MACHINE_BUSY`]: when harness's own CPU is at 90 % of its workers, or
//!   the machine at 95 % of all cores, harness and the target compete and the numbers are the
//!   floor of the server's capacity, not the capacity. On a two-core machine this is common.

use super::{Finding, LoadWindow};
use crate::result::RunResult;

/// Event-loop utilisation at which a Node target is CPU-bound.
pub const SATURATED_ELU: f64 = 0.9;
/// CPU share of its cores at which any target is CPU-bound.
pub const SATURATED_CPU: f64 = 0.9;
/// Event-loop utilisation below which a Node target is mostly idle.
pub const IO_WAIT_ELU: f64 = 0.3;
/// CPU (percent of one core) below which a target without the probe is mostly idle.
pub const IO_WAIT_CPU: f64 = 30.0;
/// Median latency from which an idle server is waiting on something.
pub const IO_WAIT_LATENCY_MS: f64 = 10.0;
/// CPU per request (ms) from which a server at capacity gets a CPU profile by default.
pub const PROFILE_CPU_PER_REQUEST_MS: f64 = 0.25;
/// harness's CPU, as a share of its worker threads, at which it is the limit.
pub const GENERATOR_BUSY: f64 = 0.9;
/// The machine's CPU share at which harness and the target compete.
pub const MACHINE_BUSY: f64 = 95.0;

/// The target's busy time per response during the load, ms: the event loops' (summed over
/// Node processes: utilisation × the load's length), or the process tree's CPU without the
/// probe.
pub fn busy_per_request_ms(result: &RunResult, window: &LoadWindow) -> Option<f64> {
    let responses = result.requests.total;
    if responses == 0 {
        return None;
    }
    let busy = if result.node.is_empty() {
        let points: Vec<f64> = result
            .process
            .as_ref()?
            .points
            .iter()
            .filter(|p| window.contains(p.t))
            .map(|p| p.cpu / 100.0)
            .collect();
        mean(&points)?
    } else {
        result
            .node
            .iter()
            .filter_map(|process| {
                let elu: Vec<f64> = process
                    .samples
                    .iter()
                    .filter(|s| window.contains(s.t))
                    .map(|s| s.elu)
                    .collect();
                mean(&elu)
            })
            .sum()
    };
    Some(busy * window.length() * 1000.0 / responses as f64)
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Capacity findings; `per_request` is the target's busy time per response, ms.
pub fn findings(result: &RunResult, window: &LoadWindow, per_request: Option<f64>) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(sampling) = &result.process else {
        return out;
    };
    let during: Vec<_> = sampling
        .points
        .iter()
        .filter(|p| window.contains(p.t))
        .collect();
    if during.len() < 3 {
        return out;
    }
    let mean = |f: &dyn Fn(&crate::result::ProcessSample) -> f64| {
        during.iter().map(|p| f(p)).sum::<f64>() / during.len() as f64
    };
    let cpu = mean(&|p| p.cpu);
    let harness = mean(&|p| p.harness_cpu);
    let machine = mean(&|p| p.system_cpu);
    let cores = during[0].cores.max(1) as f64;
    let elu = node_elu(result, window);
    let latency = result.latency.percentiles.p50;
    let idle = match elu {
        Some(elu) => elu < IO_WAIT_ELU,
        None => cpu < IO_WAIT_CPU,
    };
    if idle && latency >= IO_WAIT_LATENCY_MS {
        out.push(Finding::IoWait {
            latency_p50_ms: latency,
            elu,
            cpu,
        });
    }
    let saturated = match elu {
        Some(elu) => elu >= SATURATED_ELU,
        None => cpu >= SATURATED_CPU * 100.0 * cores,
    };
    if saturated {
        out.push(Finding::CpuSaturated {
            elu,
            cpu,
            requests_per_second: result.requests.overall,
            per_request_ms: per_request,
            queued_ms: None,
            hot: None,
            consequence: None,
        });
    }
    let workers = result.workers.max(1) as f64;
    if harness >= GENERATOR_BUSY * 100.0 * workers.min(cores) || machine >= MACHINE_BUSY {
        out.push(Finding::GeneratorLimited {
            harness_cpu: harness,
            machine_cpu: machine,
            cores: cores as u64,
        });
    }
    out
}

/// Mean event-loop utilisation of the busiest Node process during the load.
fn node_elu(result: &RunResult, window: &LoadWindow) -> Option<f64> {
    result
        .node
        .iter()
        .filter_map(|process| {
            let values: Vec<f64> = process
                .samples
                .iter()
                .filter(|s| window.contains(s.t))
                .map(|s| s.elu)
                .collect();
            (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        })
        .reduce(f64::max)
}
