//! `harness merge`: one result from the results of a sharded run's shards (`--shard I/N`).
//!
//! Exact where it can be: the latency histograms are added (HdrHistogram, same bounds), and
//! so are each second's, so the merged percentiles are those of every request, not an
//! average of the shards' percentiles. Counts, errors by kind and status codes are summed.
//! The per-second series are aligned by wall-clock second (each shard's `start`), so shards
//! that did not start together still add up second by second. Each shard's target stays
//! under its own name in `merged`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use hdrhistogram::Histogram;

use super::stats::{self, round3};
use crate::result::{
    decode, encode, is_full_second, EncodedHistogram, ErrorCount, KindRequests, KindResult,
    KindSecondEntry, LatencyStats, MergedShard, Phase, PhaseName, RunResult, SeriesEntry,
    StatusCount, StopReason,
};

/// One shard's result and the file it came from.
pub(crate) struct Shard {
    /// As given on the command line.
    pub file: String,
    /// Its result.
    pub result: RunResult,
}

/// Merges the shards, or says in one line why they cannot be merged.
pub(crate) fn merge(mut shards: Vec<Shard>, allow_partial: bool) -> Result<RunResult, String> {
    check(&mut shards, allow_partial)?;
    counts_fit(&shards)?;
    let starts: Vec<SystemTime> = shards
        .iter()
        .map(|s| {
            humantime::parse_rfc3339_weak(&s.result.start)
                .map_err(|_| format!("{}: its start '{}' is not a time", s.file, s.result.start))
        })
        .collect::<Result<_, _>>()?;
    let t0 = starts
        .iter()
        .min()
        .copied()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let offsets: Vec<f64> = starts
        .iter()
        .map(|s| s.duration_since(t0).map_or(0.0, |d| d.as_secs_f64()))
        .collect();
    // Shards of one run load at the same time: a shard that began after the first one's
    // load had ended comes from another run (last week's file on a shared volume).
    let first = offsets.iter().position(|o| *o == 0.0).unwrap_or_default();
    let first_end = shards[first].result.duration;
    for (shard, offset) in shards.iter().zip(&offsets) {
        if *offset > first_end + 1.0 {
            return Err(format!(
                "{}: its load began {offset:.0} s after {}'s, which lasted {first_end:.0} s: results of different runs? Merge the shards of one run (--start-at makes them begin together)",
                shard.file, shards[first].file
            ));
        }
    }

    let mut latency: Option<Histogram<u64>> = None;
    // Each merged second's counts and the shards' encoded histograms for it, borrowed: a
    // second's histograms are decoded, added and let go one second at a time, so memory
    // stays flat in the run's length (a decoded histogram is ~190 kB).
    let mut seconds: BTreeMap<u64, Second> = BTreeMap::new();
    for (shard, offset) in shards.iter().zip(&offsets) {
        let histogram = decode(&shard.result.histogram).map_err(|e| {
            format!(
                "{}: its latency histogram cannot be read: {e:#}",
                shard.file
            )
        })?;
        if histogram.len() != shard.result.requests.total {
            return Err(format!(
                "{}: its histogram holds {} responses but requests.total says {}: was the file edited?",
                shard.file,
                histogram.len(),
                shard.result.requests.total
            ));
        }
        add(&mut latency, &histogram, &shard.file)?;
        let shift = offset.round() as u64;
        for entry in &shard.result.series {
            let encoded = entry.histogram.as_ref().ok_or_else(|| {
                format!(
                    "{}: second {} has no histogram (a result from an older harness?); run the shard again",
                    shard.file, entry.second
                )
            })?;
            let second = seconds.entry(entry.second + shift).or_default();
            second
                .parts
                .push((shard.file.as_str(), encoded, entry.second));
            second.requests += entry.requests;
            second.bytes += entry.bytes;
            second.errors += entry.errors;
            second.covered.push(entry.covered);
        }
    }
    let latency = latency.ok_or("no shard to merge")?;
    let count = shards.len();
    let mut full = Vec::new();
    let series: Vec<SeriesEntry> = seconds
        .into_iter()
        .map(|(second, s)| {
            if s.full(count) {
                full.push(second);
            }
            s.entry(second)
        })
        .collect::<Result<_, String>>()?;
    let mut out = assemble(&shards, &offsets, &latency, series, &full);
    out.kinds = merge_kinds(&shards, &offsets, &out)?;
    Ok(out)
}

/// The kinds of request, each added across shards: histograms exactly, counts, checks and
/// codes summed, series aligned like the run's. A run of one kind takes the merged whole.
fn merge_kinds(
    shards: &[Shard],
    offsets: &[f64],
    whole: &RunResult,
) -> Result<Vec<KindResult>, String> {
    let first = &shards[0];
    let names: Vec<&str> = first.result.kinds.iter().map(|k| k.name.as_str()).collect();
    for shard in &shards[1..] {
        let theirs: Vec<&str> = shard.result.kinds.iter().map(|k| k.name.as_str()).collect();
        if theirs != names {
            return Err(format!(
                "{}: its kinds of request ({}) differ from {}'s ({}); only the shards of one run can be merged",
                shard.file,
                theirs.join(", "),
                first.file,
                names.join(", ")
            ));
        }
    }
    if names.len() <= 1 && first.result.kinds.iter().all(|k| k.histogram.is_none()) {
        return Ok(first
            .result
            .kinds
            .first()
            .map(|kind| vec![whole_kind(kind, whole)])
            .unwrap_or_default());
    }
    let window = whole.duration;
    (0..names.len())
        .map(|index| {
            let mut latency = None;
            let mut seconds: BTreeMap<u64, KindSecond> = BTreeMap::new();
            let mut out = first.result.kinds[index].clone();
            out.requests = KindRequests {
                total: 0,
                sent: 0,
                failed: 0,
                unfinished: 0,
                overall: 0.0,
            };
            out.errors = 0;
            out.errors_by_kind = BTreeMap::new();
            out.status_codes = BTreeMap::new();
            for check in &mut out.checks {
                (check.passed, check.failed, check.example) = (0, 0, None);
            }
            for (shard, offset) in shards.iter().zip(offsets) {
                let kind = &shard.result.kinds[index];
                let unreadable = |e: String| format!("{}: kind {:?}: {e}", shard.file, kind.name);
                let encoded = kind
                    .histogram
                    .as_ref()
                    .ok_or_else(|| unreadable("it has no histogram".into()))?;
                let histogram = decode(encoded)
                    .map_err(|e| unreadable(format!("its histogram cannot be read: {e:#}")))?;
                add(&mut latency, &histogram, &shard.file)?;
                out.requests.total += kind.requests.total;
                out.requests.sent += kind.requests.sent;
                out.requests.failed += kind.requests.failed;
                out.requests.unfinished += kind.requests.unfinished;
                out.errors += kind.errors;
                sum_errors(&mut out.errors_by_kind, &kind.errors_by_kind);
                sum_codes(&mut out.status_codes, &kind.status_codes);
                if kind.checks.len() != out.checks.len() {
                    return Err(unreadable(format!(
                        "{} checks, where {} has {}",
                        kind.checks.len(),
                        first.file,
                        out.checks.len()
                    )));
                }
                for (mine, theirs) in out.checks.iter_mut().zip(&kind.checks) {
                    mine.passed += theirs.passed;
                    mine.failed += theirs.failed;
                    if mine.example.is_none() {
                        mine.example.clone_from(&theirs.example);
                    }
                }
                let shift = offset.round() as u64;
                for entry in &kind.series {
                    let second = seconds.entry(entry.second + shift).or_default();
                    second.requests += entry.requests;
                    second.errors += entry.errors;
                    if let Some(encoded) = &entry.histogram {
                        second
                            .parts
                            .push((shard.file.as_str(), encoded, entry.second));
                    }
                }
            }
            let latency = latency.ok_or("no shard to merge")?;
            out.latency = LatencyStats::from(&stats::latency_ms(&latency));
            out.histogram = Some(encode(&latency));
            out.requests.overall = if window > 0.0 {
                round3(out.requests.total as f64 / window)
            } else {
                0.0
            };
            out.series = seconds
                .into_iter()
                .map(|(second, s)| {
                    let latency =
                        sum_parts(&s.parts).map_err(|e| format!("kind {:?}: {e}", out.name))?;
                    let at = |q: f64| {
                        latency
                            .as_ref()
                            .filter(|h| !h.is_empty())
                            .map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0)
                    };
                    Ok(KindSecondEntry {
                        second,
                        requests: s.requests,
                        errors: s.errors,
                        latency_p50: at(0.5),
                        latency_p99: at(0.99),
                        histogram: latency.as_ref().map(encode),
                    })
                })
                .collect::<Result<_, String>>()?;
            Ok(out)
        })
        .collect()
}

/// One kind's merged second: its counts and the shards' encoded histograms.
#[derive(Default)]
struct KindSecond<'a> {
    parts: Vec<(&'a str, &'a EncodedHistogram, u64)>,
    requests: u64,
    errors: u64,
}

/// The one kind of a run that counted none apart: the merged run's whole.
fn whole_kind(kind: &KindResult, whole: &RunResult) -> KindResult {
    KindResult {
        name: kind.name.clone(),
        requests: KindRequests {
            total: whole.requests.total,
            sent: whole.requests.sent,
            failed: whole.requests.failed,
            unfinished: whole.unfinished,
            overall: whole.requests.overall,
        },
        latency: whole.latency.clone(),
        errors: whole.errors,
        errors_by_kind: whole.errors_by_kind.clone(),
        status_codes: whole.status_code_stats.clone(),
        checks: Vec::new(),
        histogram: None,
        series: whole
            .series
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
    }
}

/// Adds error counts by kind, keeping the first example.
fn sum_errors(into: &mut BTreeMap<String, ErrorCount>, from: &BTreeMap<String, ErrorCount>) {
    for (kind, count) in from {
        let merged = into.entry(kind.clone()).or_insert_with(|| ErrorCount {
            count: 0,
            example: count.example.clone(),
        });
        merged.count += count.count;
    }
}

/// Adds counts by status code.
fn sum_codes(into: &mut BTreeMap<String, StatusCount>, from: &BTreeMap<String, StatusCount>) {
    for (code, count) in from {
        into.entry(code.clone())
            .or_insert(StatusCount { count: 0 })
            .count += count.count;
    }
}

/// The checks before merging: every file is a shard of the same run, none twice, none
/// missing unless allowed. Sorts the shards by index.
fn check(shards: &mut [Shard], allow_partial: bool) -> Result<(), String> {
    let Some(first) = shards.first() else {
        return Err("give the shards' result files: harness merge A.json B.json ...".into());
    };
    let first_file = first.file.clone();
    let (url, method, scenario) = (
        first.result.url.clone(),
        first.result.method.clone(),
        first.result.scenario.clone(),
    );
    let first_target = first.result.target.is_some();
    let mut count = None;
    for shard in shards.iter() {
        let r = &shard.result;
        let info = r.shard.as_ref().ok_or_else(|| {
            format!(
                "{}: not a shard's result (it was not run with --shard I/N)",
                shard.file
            )
        })?;
        // Shards that started their own target each chose a free port: compare without it.
        let same_url = r.url == url
            || (r.target.is_some() && first_target && without_port(&r.url) == without_port(&url));
        if !same_url || r.method != method {
            return Err(format!(
                "{}: its load ({} {}) differs from {first_file}'s ({method} {url}); only the shards of one run can be merged",
                shard.file, r.method, r.url
            ));
        }
        if r.scenario != scenario {
            return Err(format!(
                "{}: its scenario ({}) differs from {first_file}'s ({}); only the shards of one run can be merged",
                shard.file,
                r.scenario.as_deref().unwrap_or("none"),
                scenario.as_deref().unwrap_or("none")
            ));
        }
        if info.count == 0 || info.index == 0 || info.index > info.count {
            return Err(format!(
                "{}: it says it is shard {} of {}, which cannot be (I runs from 1 to N); was the file edited?",
                shard.file, info.index, info.count
            ));
        }
        if !(0.0..=MAX_DURATION_S).contains(&r.duration) {
            return Err(format!(
                "{}: its duration ({:.3e} s) cannot be; was the file edited?",
                shard.file, r.duration
            ));
        }
        if r.histogram.unit != "us" {
            return Err(format!(
                "{}: its histogram is in unit '{}'; harness writes 'us': was the file edited?",
                shard.file, r.histogram.unit
            ));
        }
        match count {
            None => count = Some(info.count),
            Some(n) if n != info.count => {
                return Err(format!(
                    "{}: shard {}/{} of a run split {} ways, but {first_file} is of a run split {n} ways",
                    shard.file, info.index, info.count, info.count
                ))
            }
            Some(_) => {}
        }
    }
    shards.sort_by_key(|s| s.result.shard.as_ref().map_or(0, |i| i.index));
    for pair in shards.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let index = |s: &Shard| s.result.shard.as_ref().map_or(0, |i| i.index);
        if index(a) == index(b) {
            return Err(format!(
                "{} and {} are both shard {} of {}; give each shard once",
                a.file,
                b.file,
                index(a),
                count.unwrap_or(0)
            ));
        }
    }
    let count = count.unwrap_or(0);
    let have: Vec<u64> = shards
        .iter()
        .filter_map(|s| s.result.shard.as_ref().map(|i| i.index))
        .collect();
    let missing: Vec<String> = (1..=count)
        .filter(|i| !have.contains(i))
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() && !allow_partial {
        return Err(format!(
            "shard {} of {count} missing; give every shard's result, or --allow-partial to merge what there is",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// The longest shard a merge takes, seconds: a year.
const MAX_DURATION_S: f64 = 366.0 * 86_400.0;

/// How a count is read from a result.
type Count = fn(&RunResult) -> u64;

/// The counts the merge adds, each summed without wrapping: a sum past `u64` is a file that
/// no run wrote.
fn counts_fit(shards: &[Shard]) -> Result<(), String> {
    let counts: [(&str, Count); 14] = [
        ("requests.total", |r| r.requests.total),
        ("requests.sent", |r| r.requests.sent),
        ("requests.failed", |r| r.requests.failed),
        ("throughput.total", |r| r.throughput.total),
        ("errors", |r| r.errors),
        ("timeouts", |r| r.timeouts),
        ("non2xx", |r| r.non2xx),
        ("2xx", |r| r.status_2xx),
        ("4xx", |r| r.status_4xx),
        ("5xx", |r| r.status_5xx),
        ("unfinished", |r| r.unfinished),
        ("connections", |r| r.connections),
        ("workers", |r| r.workers),
        ("lateRequests", |r| r.late_requests.unwrap_or(0)),
    ];
    for (name, count) in counts {
        shards
            .iter()
            .try_fold(0u64, |sum, shard| sum.checked_add(count(&shard.result)))
            .ok_or_else(|| {
                format!("the shards' {name} add up past 2^64: a file that no run wrote (was one edited?)")
            })?;
    }
    Ok(())
}

/// `http://host:port/path` without `:port`.
fn without_port(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    };
    format!("{scheme}://{host}{path}")
}

/// Adds `histogram` into `into`, which starts as a copy of the first.
fn add(
    into: &mut Option<Histogram<u64>>,
    histogram: &Histogram<u64>,
    file: &str,
) -> Result<(), String> {
    match into {
        None => *into = Some(histogram.clone()),
        Some(sum) => sum.add(histogram).map_err(|e| {
            format!("{file}: its latency histogram cannot be added to the others' ({e:?}); were the shards run by different harness versions?")
        })?,
    }
    Ok(())
}

/// One wall-clock second of the merged run: its counts, and each shard's encoded
/// histogram for it (file, histogram, the shard's own second).
#[derive(Default)]
struct Second<'a> {
    parts: Vec<(&'a str, &'a EncodedHistogram, u64)>,
    requests: u64,
    bytes: u64,
    errors: u64,
    /// Each shard's coverage of this second.
    covered: Vec<f64>,
}

impl Second<'_> {
    /// Whether every one of `shards` filled this second: only those count in the
    /// per-second statistics (a shard that had not started, or had stopped, lowers it).
    fn full(&self, shards: usize) -> bool {
        self.covered.len() == shards && self.covered.iter().all(|c| is_full_second(*c))
    }

    /// The merged entry.
    fn entry(self, second: u64) -> Result<SeriesEntry, String> {
        // As long as the longest shard's part: the counts are the whole second's.
        let covered = self.covered.iter().copied().fold(0.0, f64::max);
        let latency = sum_parts(&self.parts)?;
        let at = |q: f64| {
            latency
                .as_ref()
                .filter(|h| !h.is_empty())
                .map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0)
        };
        Ok(SeriesEntry {
            second,
            covered: round3(covered),
            requests: self.requests,
            bytes: self.bytes,
            errors: self.errors,
            latency_p50: at(0.5),
            latency_p90: at(0.9),
            latency_p99: at(0.99),
            latency_max: latency.as_ref().map_or(0.0, |h| h.max() as f64 / 1000.0),
            histogram: latency.as_ref().map(encode),
        })
    }
}

/// The shards' histograms of one second, decoded one at a time and added.
fn sum_parts(parts: &[(&str, &EncodedHistogram, u64)]) -> Result<Option<Histogram<u64>>, String> {
    let mut sum = None;
    for (file, encoded, second) in parts {
        let histogram = decode(encoded)
            .map_err(|e| format!("{file}: second {second}'s histogram cannot be read: {e:#}"))?;
        add(&mut sum, &histogram, file)?;
    }
    Ok(sum)
}

/// The merged result: the first shard's description of the load, every count summed, the
/// statistics computed again from the merged histogram and series.
fn assemble(
    shards: &[Shard],
    offsets: &[f64],
    latency: &Histogram<u64>,
    series: Vec<SeriesEntry>,
    full: &[u64],
) -> RunResult {
    let results: Vec<&RunResult> = shards.iter().map(|s| &s.result).collect();
    let sum = |f: fn(&RunResult) -> u64| results.iter().map(|r| f(r)).sum::<u64>();
    let mut out = results[0].clone();
    let window = results
        .iter()
        .zip(offsets)
        .map(|(r, offset)| offset + r.duration)
        .fold(0.0, f64::max);
    let earliest = offsets
        .iter()
        .zip(&results)
        .min_by(|a, b| a.0.total_cmp(b.0))
        .map(|(_, r)| r.start.clone());
    let latest_finish = results
        .iter()
        .filter_map(|r| humantime::parse_rfc3339_weak(&r.finish).ok())
        .max();

    out.start = earliest.unwrap_or(out.start);
    if let Some(finish) = latest_finish {
        out.finish = humantime::format_rfc3339_millis(finish).to_string();
    }
    out.duration = round3(window);
    out.stop_reason = results
        .iter()
        .map(|r| r.stop_reason)
        .find(|reason| *reason != StopReason::Completed)
        .unwrap_or(StopReason::Completed);
    out.connections = sum(|r| r.connections);
    out.workers = sum(|r| r.workers);
    out.rate = results.iter().map(|r| r.rate).sum();
    out.amount = results.iter().map(|r| r.amount).sum();
    for (i, stage) in out.stages.iter_mut().enumerate() {
        stage.rate = results
            .iter()
            .filter_map(|r| r.stages.get(i))
            .map(|s| s.rate)
            .sum();
    }

    out.latency = LatencyStats::from(&stats::latency_ms(latency));
    out.latency_uncorrected = None;
    out.histogram = encode(latency);
    let stats = stats::Window {
        full: series.iter().filter(|s| full.contains(&s.second)).collect(),
        length: window,
        responses: sum(|r| r.requests.total),
        bytes: sum(|r| r.throughput.total),
        sent: sum(|r| r.requests.sent),
        failed: sum(|r| r.requests.failed),
    };
    (out.requests, out.samples) = stats.requests();
    out.throughput = stats.throughput();

    out.errors = sum(|r| r.errors);
    out.timeouts = sum(|r| r.timeouts);
    out.non2xx = sum(|r| r.non2xx);
    out.status_1xx = sum(|r| r.status_1xx);
    out.status_2xx = sum(|r| r.status_2xx);
    out.status_3xx = sum(|r| r.status_3xx);
    out.status_4xx = sum(|r| r.status_4xx);
    out.status_5xx = sum(|r| r.status_5xx);
    out.unfinished = sum(|r| r.unfinished);
    out.late_requests = results.iter().map(|r| r.late_requests).sum();
    // Each shard's wait is in the merged latencies: the worst of them.
    out.harness_delay_p99 = results
        .iter()
        .filter_map(|r| r.harness_delay_p99)
        .reduce(f64::max);
    out.errors_by_kind = BTreeMap::new();
    out.status_code_stats = BTreeMap::new();
    for r in &results {
        sum_errors(&mut out.errors_by_kind, &r.errors_by_kind);
        sum_codes(&mut out.status_code_stats, &r.status_code_stats);
    }

    out.series = series;
    out.measure_start = 0.0;
    out.phases = vec![Phase::new(PhaseName::Load, 0.0, round3(window))];
    out.merged = shards
        .iter()
        .zip(offsets)
        .map(|(s, offset)| MergedShard {
            file: s.file.clone(),
            index: s.result.shard.as_ref().map_or(0, |i| i.index),
            start: s.result.start.clone(),
            late_by: s.result.shard.as_ref().map_or(0.0, |i| i.late_by),
            behind: round3(*offset),
            requests: s.result.requests.total,
            errors: s.result.errors,
            connections: s.result.connections,
            target: s.result.target.clone(),
        })
        .collect();
    out.shard = None;
    out.target = None;
    out.process = None;
    out.node = Vec::new();
    out.heap = Vec::new();
    out.profiles = Vec::new();
    out.cpu_trace = None;
    out.io_trace = None;
    out.heap_trace = None;
    out.findings = Vec::new();
    out.verdict = String::new();
    out.thresholds = Vec::new();
    out
}
