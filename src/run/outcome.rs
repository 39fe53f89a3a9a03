//! Building the saved result from a finished run: the plan, what the load generator
//! measured and the run's clock. The statistics come from [`crate::analyse::stats`].

use crate::analyse::stats::{self, round2, round3, Summary};
use crate::load::recorder::ErrorKind;
use crate::load::{LoadOutcome, StopReason};
use crate::plan::{is_secret_header, Plan, Stop};
use crate::result::{
    encode, ErrorCount, Header, LatencyStats, Percentiles, Phase, PhaseName, RequestEntry,
    RequestStats, RunResult, SeriesEntry, ShardInfo, StageEntry, StatusCount, ThroughputStats,
    REDACTED, SCHEMA_VERSION,
};

/// Builds the result of a run from its plan and what the load generator measured; `origin`
/// is the start of the run's clock. Findings, the target and the traces are added later.
/// It is one piece: one struct literal, a field per line of the wire format.
pub fn build(plan: &Plan, outcome: &LoadOutcome, origin: tokio::time::Instant) -> RunResult {
    let measure_start = outcome
        .measure_start
        .saturating_duration_since(origin)
        .as_secs_f64();
    let load = &plan.load;
    let totals = &outcome.totals;
    let window = outcome.elapsed.as_secs_f64();
    let (requests, throughput) = per_second(outcome);
    let class = |range: std::ops::Range<usize>| totals.status[range].iter().sum::<u64>();
    let finish = outcome.started + outcome.elapsed;
    RunResult {
        schema_version: SCHEMA_VERSION,
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
        url: load.url.clone(),
        socket_path: load
            .target
            .socket_path
            .as_ref()
            .map(|p| p.display().to_string()),
        method: load.requests[0].method.clone(),
        headers: redacted(&load.requests[0].headers),
        body_bytes: load.requests[0].body.len() as u64,
        requests_sent: request_mix(plan),
        stages: load
            .stages
            .iter()
            .map(|s| StageEntry {
                duration: s.duration.as_secs_f64(),
                rate: s.rate,
            })
            .collect(),
        connections: load.connections as u64,
        pipelining: load.pipelining as u64,
        workers: load.workers as u64,
        http2: load.http2,
        rate: load.rate,
        amount: match load.stop {
            Stop::Amount(amount) => Some(amount),
            Stop::After(_) => None,
        },
        warmup: load.warmup.as_secs_f64(),
        timeout: load.timeout.as_secs_f64(),
        start: humantime::format_rfc3339_millis(outcome.started).to_string(),
        finish: humantime::format_rfc3339_millis(finish).to_string(),
        duration: round3(window),
        stop_reason: stop_reason(outcome.stop).to_string(),
        latency: LatencyStats::from(&stats::latency_ms(&totals.latency)),
        latency_uncorrected: totals
            .uncorrected
            .as_ref()
            .map(|h| LatencyStats::from(&stats::latency_ms(h))),
        samples: requests.count,
        requests: request_stats(&requests, outcome),
        throughput: throughput_stats(&throughput, totals.bytes),
        errors: totals.error_count(),
        timeouts: totals.errors[ErrorKind::Timeout as usize],
        errors_by_kind: errors_by_kind(outcome),
        non2xx: class(100..200) + class(300..1000),
        status_1xx: class(100..200),
        status_2xx: class(200..300),
        status_3xx: class(300..400),
        status_4xx: class(400..500),
        status_5xx: class(500..600),
        status_code_stats: totals
            .status
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(code, count)| (code.to_string(), StatusCount { count: *count }))
            .collect(),
        late_requests: load.rate.map(|_| totals.late),
        unfinished: outcome.unfinished,
        histogram: encode(&totals.latency),
        series: series(outcome),
        measure_start: round3(measure_start),
        phases: load_phases(load.warmup.as_secs_f64(), measure_start, window),
        target: None,
        process: None,
        node: Vec::new(),
        findings: Vec::new(),
        verdict: String::new(),
        scenario: None,
        thresholds: Vec::new(),
        heap: Vec::new(),
        profiles: Vec::new(),
        heap_trace: None,
        shard: load.shard.map(|shard| ShardInfo {
            index: shard.index,
            count: shard.count,
            start_at: plan
                .start_at
                .map(|at| humantime::format_rfc3339_millis(at).to_string()),
            late_by: 0.0,
            thresholds: Vec::new(),
        }),
        merged: Vec::new(),
    }
}

/// Statistics of the responses and of the bytes per second, over the full seconds of the
/// window; a run shorter than a second still has one sample: its rate over the window.
fn per_second(outcome: &LoadOutcome) -> (Summary, Summary) {
    let totals = &outcome.totals;
    let window = outcome.elapsed.as_secs_f64();
    let full: Vec<_> = outcome
        .series
        .iter()
        .filter(|p| p.covered.as_secs_f64() >= 0.999)
        .collect();
    let (per_second, bytes_per_second): (Vec<f64>, Vec<f64>) = if full.is_empty() && window > 0.0 {
        (
            vec![totals.completed as f64 / window],
            vec![totals.bytes as f64 / window],
        )
    } else {
        full.iter()
            .map(|p| (p.requests as f64, p.bytes as f64))
            .unzip()
    };
    (
        stats::samples(&per_second),
        stats::samples(&bytes_per_second),
    )
}

fn request_stats(requests: &Summary, outcome: &LoadOutcome) -> RequestStats {
    let totals = &outcome.totals;
    let window = outcome.elapsed.as_secs_f64();
    RequestStats {
        average: round2(requests.mean),
        mean: round2(requests.mean),
        stddev: round2(requests.stddev),
        min: round2(requests.min),
        max: round2(requests.max),
        total: totals.completed,
        sent: totals.sent,
        failed: totals.failed,
        overall: if window > 0.0 {
            round2(totals.completed as f64 / window)
        } else {
            0.0
        },
        percentiles: Percentiles::from(&requests.percentiles.map(round2)),
    }
}

fn throughput_stats(throughput: &Summary, total: u64) -> ThroughputStats {
    ThroughputStats {
        average: round2(throughput.mean),
        mean: round2(throughput.mean),
        stddev: round2(throughput.stddev),
        min: round2(throughput.min),
        max: round2(throughput.max),
        total,
        percentiles: Percentiles::from(&throughput.percentiles.map(round2)),
    }
}

/// Every kind of request of a mix, when there were several or they had placeholders.
fn request_mix(plan: &Plan) -> Vec<RequestEntry> {
    let requests = &plan.load.requests;
    if requests.len() == 1 && !requests[0].placeholders {
        return Vec::new();
    }
    requests
        .iter()
        .map(|r| RequestEntry {
            method: r.method.clone(),
            path: crate::plan::redact_query(&r.path),
            weight: r.weight,
            headers: redacted(&r.headers),
            body_bytes: r.body.len() as u64,
        })
        .collect()
}

fn stop_reason(stop: StopReason) -> &'static str {
    match stop {
        StopReason::Completed => "completed",
        StopReason::Interrupted => "interrupted",
        StopReason::BailedOut => "bailedOut",
        StopReason::TargetExited => "targetExited",
    }
}

fn errors_by_kind(outcome: &LoadOutcome) -> std::collections::BTreeMap<String, ErrorCount> {
    let totals = &outcome.totals;
    ErrorKind::ALL
        .iter()
        .filter(|kind| totals.errors[**kind as usize] > 0)
        .map(|kind| {
            let count = ErrorCount {
                count: totals.errors[*kind as usize],
                example: totals.error_samples[*kind as usize].clone(),
            };
            (kind.name().to_string(), count)
        })
        .collect()
}

/// One entry per second of the window, latencies in ms.
fn series(outcome: &LoadOutcome) -> Vec<SeriesEntry> {
    outcome
        .series
        .iter()
        .map(|p| SeriesEntry {
            second: p.second,
            covered: round3(p.covered.as_secs_f64()),
            requests: p.requests,
            bytes: p.bytes,
            errors: p.errors,
            latency_p50: p.latency_p50 as f64 / 1000.0,
            latency_p90: p.latency_p90 as f64 / 1000.0,
            latency_p99: p.latency_p99 as f64 / 1000.0,
            latency_max: p.latency_max as f64 / 1000.0,
            histogram: p.histogram.clone(),
        })
        .collect()
}

/// Headers for saving, secret values redacted.
fn redacted(headers: &[(String, String)]) -> Vec<Header> {
    headers
        .iter()
        .map(|(name, value)| Header {
            name: name.clone(),
            value: if is_secret_header(name) {
                REDACTED.to_string()
            } else {
                value.clone()
            },
        })
        .collect()
}

/// The warmup (if any) and load phases, on the run's clock.
fn load_phases(warmup: f64, measure_start: f64, window: f64) -> Vec<Phase> {
    let mut phases = Vec::new();
    if warmup > 0.0 {
        phases.push(Phase::new(
            PhaseName::Warmup,
            round3(measure_start - warmup),
            round3(measure_start),
        ));
    }
    phases.push(Phase::new(
        PhaseName::Load,
        round3(measure_start),
        round3(measure_start + window),
    ));
    phases
}

impl From<&Summary> for LatencyStats {
    fn from(summary: &Summary) -> LatencyStats {
        LatencyStats {
            average: round3(summary.mean),
            mean: round3(summary.mean),
            stddev: round3(summary.stddev),
            min: round3(summary.min),
            max: round3(summary.max),
            percentiles: Percentiles::from(&summary.percentiles.map(round3)),
            total_count: summary.count,
        }
    }
}
