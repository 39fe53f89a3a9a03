//! Building the saved result from a finished run: the plan, what the load generator
//! measured and the run's clock. The statistics come from [`crate::analyse::stats`].

use crate::analyse::stats::{self, round3};
use crate::load::recorder::ErrorKind;
use crate::load::LoadOutcome;
use crate::plan::{Plan, Stop};
use crate::redact::{self, is_secret_header, REDACTED};
use std::collections::BTreeMap;

use crate::result::{
    encode, CheckResult, ErrorCount, Header, KindRequests, KindResult, KindSecondEntry,
    LatencyStats, Phase, PhaseName, RequestEntry, RunResult, SeriesEntry, ShardInfo, StageEntry,
    StatusCount, SCHEMA_VERSION,
};

/// Builds the result of a run from its plan and what the load generator measured; `origin`
/// is the start of the run's clock. Findings, the target and the traces are added later.
/// It is one piece: one struct literal, a field per line of the wire format.
pub(super) fn build(plan: &Plan, outcome: &LoadOutcome, origin: tokio::time::Instant) -> RunResult {
    let measure_start = outcome
        .measure_start
        .saturating_duration_since(origin)
        .as_secs_f64();
    let load = &plan.load;
    let totals = &outcome.totals;
    let window = outcome.elapsed.as_secs_f64();
    let series = series(outcome);
    let stats = stats::Window {
        full: series.iter().filter(|s| s.is_full()).collect(),
        length: window,
        responses: totals.completed,
        bytes: totals.bytes,
        sent: totals.sent,
        failed: totals.failed,
    };
    let (requests, samples) = stats.requests();
    let throughput = stats.throughput();
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
        stop_reason: outcome.stop,
        latency: LatencyStats::from(&stats::latency_ms(&totals.latency)),
        latency_uncorrected: totals
            .uncorrected
            .as_ref()
            .map(|h| LatencyStats::from(&stats::latency_ms(h))),
        samples,
        requests,
        throughput,
        errors: totals.error_count(),
        timeouts: totals.errors[ErrorKind::Timeout as usize],
        errors_by_kind: errors_by_kind(outcome),
        non2xx: class(100..200) + class(300..1000),
        status_1xx: class(100..200),
        status_2xx: class(200..300),
        status_3xx: class(300..400),
        status_4xx: class(400..500),
        status_5xx: class(500..600),
        status_code_stats: status_codes(
            totals
                .status
                .iter()
                .enumerate()
                .map(|(code, count)| (code as u16, *count)),
        ),
        late_requests: load.rate.map(|_| totals.late),
        harness_delay_p99: totals.delay_p99_ms(),
        unfinished: outcome.unfinished,
        histogram: encode(&totals.latency),
        kinds: kinds(plan, outcome, &series),
        series,
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
        cpu_trace: None,
        io_trace: None,
        heap_trace: None,
        capacity: None,
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
            path: redact::query(&r.path),
            weight: r.weight,
            headers: redacted(&r.headers),
            body_bytes: r.body.len() as u64,
        })
        .collect()
}

fn errors_by_kind(outcome: &LoadOutcome) -> BTreeMap<String, ErrorCount> {
    let totals = &outcome.totals;
    error_counts(&totals.errors, &totals.error_samples)
}

/// Error counts by kind name, with their examples; kinds with none left out.
fn error_counts(counts: &[u64], samples: &[Option<String>]) -> BTreeMap<String, ErrorCount> {
    ErrorKind::ALL
        .iter()
        .filter(|kind| counts[**kind as usize] > 0)
        .map(|kind| {
            let count = ErrorCount {
                count: counts[*kind as usize],
                example: samples[*kind as usize].clone(),
            };
            (kind.name().to_string(), count)
        })
        .collect()
}

/// Each kind of request's figures. A run with one kind and no check counted none apart:
/// its one kind is the whole.
fn kinds(plan: &Plan, outcome: &LoadOutcome, series: &[SeriesEntry]) -> Vec<KindResult> {
    let totals = &outcome.totals;
    let window = outcome.elapsed.as_secs_f64();
    let overall = |total: u64| {
        if window > 0.0 {
            round3(total as f64 / window)
        } else {
            0.0
        }
    };
    let requests = &plan.load.requests;
    if totals.kinds.len() <= 1 {
        // One kind: the run's figures are its own; only its checks were counted apart.
        let Some(request) = requests.first() else {
            return Vec::new();
        };
        let checks = totals.kinds.first().map_or(&[][..], |k| &k.checks[..]);
        return vec![KindResult {
            name: request.name.clone(),
            requests: KindRequests {
                total: totals.completed,
                sent: totals.sent,
                failed: totals.failed,
                unfinished: outcome.unfinished,
                overall: overall(totals.completed),
            },
            latency: LatencyStats::from(&stats::latency_ms(&totals.latency)),
            errors: totals.error_count(),
            errors_by_kind: errors_by_kind(outcome),
            status_codes: status_codes(
                totals
                    .status
                    .iter()
                    .enumerate()
                    .map(|(code, count)| (code as u16, *count)),
            ),
            checks: check_results(request, checks),
            histogram: None,
            series: series
                .iter()
                .map(|s| KindSecondEntry {
                    second: s.second,
                    requests: s.requests,
                    errors: s.errors,
                    latency_p50: s.latency_p50,
                    latency_p99: s.latency_p99,
                    histogram: None,
                })
                .collect(),
        }];
    }
    let keep = plan.load.shard.is_some();
    requests
        .iter()
        .zip(&totals.kinds)
        .enumerate()
        .map(|(index, (request, kind))| KindResult {
            name: request.name.clone(),
            requests: KindRequests {
                total: kind.completed,
                sent: kind.sent,
                failed: kind.failed,
                unfinished: kind.unfinished,
                overall: overall(kind.completed),
            },
            latency: LatencyStats::from(&stats::latency_ms(&kind.latency)),
            errors: kind.errors.iter().sum(),
            errors_by_kind: error_counts(&kind.errors, &kind.error_samples),
            status_codes: status_codes(kind.status.iter().map(|(code, count)| (*code, *count))),
            checks: check_results(request, &kind.checks),
            histogram: Some(encode(&kind.latency)),
            series: outcome
                .series
                .iter()
                .filter_map(|point| {
                    let part = point.kinds.get(index)?;
                    Some(KindSecondEntry {
                        second: point.second,
                        requests: part.requests,
                        errors: part.errors,
                        latency_p50: part.latency_p50 as f64 / 1000.0,
                        latency_p99: part.latency_p99 as f64 / 1000.0,
                        histogram: part.histogram.clone().filter(|_| keep),
                    })
                })
                .collect(),
        })
        .collect()
}

/// Each check of `request` with its counts.
fn check_results(
    request: &crate::plan::RequestSpec,
    counts: &[crate::load::recorder::CheckCount],
) -> Vec<CheckResult> {
    request
        .expect
        .names()
        .into_iter()
        .zip(counts)
        .map(|(check, count)| CheckResult {
            check,
            passed: count.passed,
            failed: count.failed,
            example: count.example.clone(),
        })
        .collect()
}

/// Status counts keyed by code, codes with none left out.
fn status_codes(counts: impl Iterator<Item = (u16, u64)>) -> BTreeMap<String, StatusCount> {
    counts
        .filter(|(_, count)| *count > 0)
        .map(|(code, count)| (code.to_string(), StatusCount { count }))
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
