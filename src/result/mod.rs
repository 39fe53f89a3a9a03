//! The saved result of a run: the JSON wire format, in one place, with one naming convention
//! (camelCase, keeping autocannon's names where the meaning is the same). Its JSON Schema is
//! committed as `result.schema.json` beside this file and checked by a test. Every renderer
//! reads a [`RunResult`], so any saved run can be rendered again.
//!
//! The bottom layer of the crate: serde types only, split by section (`load`, `target`,
//! `node`, `heap`, `profile`, `finding`), importing nothing else from the crate. The
//! run builds a result (`run::outcome`), the analysis annotates it (`analyse::annotate`), and
//! every reader loads it with [`load`].

mod capacity;
mod finding;
mod heap;
mod io;
mod load;
mod names;
mod node;
mod profile;
mod shard;
mod target;

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use capacity::{Capacity, CapacityLimit, CapacityStep};
pub use finding::{Confirmation, Evidence, FindingEntry, ThresholdOutcome};
pub use heap::{
    AllocationSite, ClassChange, Function, HeapAnalysis, HeapProcess, HeapSnapshotInfo, HeapTrace,
    LeakGroup, Retainer,
};
pub use io::{
    IoCharged, IoFrame, IoKind, IoLatency, IoOperation, IoProcess, IoTrace, IoUnfinished,
    IoWaitingOn,
};
pub use load::{
    decode, encode, is_full_second, CheckResult, EncodedHistogram, ErrorCount, Header,
    KindRequests, KindResult, KindSecondEntry, LatencyStats, Percentiles, RequestEntry,
    RequestStats, SeriesEntry, StageEntry, StatusCount, ThroughputStats,
};
pub use names::{
    FindingKind, GcKind, LimitKind, PhaseName, RetainerKind, SearchEnd, Severity, StopReason,
    TrialOutcome,
};
pub use node::{Floor, GcEvent, NodeProcess, NodeSample, Warning};
pub use profile::{Callee, CpuProfile, CpuTrace, FlameNode, FunctionTime, HotFunction};
pub use shard::{MergedShard, ShardInfo};
pub use target::{Attached, OtherProcess, Phase, ProcessSample, Sampling, TargetInfo};

/// Bumped whenever a field changes meaning or is removed.
pub const SCHEMA_VERSION: u32 = 1;

/// A request sent more than this after its planned time counts as late (`lateRequests`, a
/// capacity step's `late`; open model only). tokio's timer has a 1 ms granularity and a busy
/// worker adds a few ms of scheduling delay; beyond 10 ms the generator or the connection
/// could not keep the schedule.
pub const LATE_AFTER: std::time::Duration = std::time::Duration::from_millis(10);

/// One run, as saved and printed with `--json`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunResult {
    /// Version of this document's schema.
    pub schema_version: u32,
    /// The harness version that wrote it.
    pub harness_version: String,
    /// The URL loaded (credentials removed).
    pub url: String,
    /// The Unix socket connected to, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub socket_path: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Request headers given with -H; secret values (Authorization, Cookie, ...) are redacted.
    pub headers: Vec<Header>,
    /// Size of the request body in bytes.
    pub body_bytes: u64,
    /// Every kind of request sent, when there were several or they had placeholders
    /// (`method`, `headers` and `bodyBytes` above describe the first).
    #[serde(skip_serializing_if = "Vec::is_empty", default, rename = "requestMix")]
    pub requests_sent: Vec<RequestEntry>,
    /// The open-model stages of a ramp, in order (`rate` below is the first stage's).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub stages: Vec<StageEntry>,
    /// Concurrent connections.
    pub connections: u64,
    /// Requests in flight per connection.
    pub pipelining: u64,
    /// Worker threads.
    pub workers: u64,
    /// Whether HTTP/2 was used.
    pub http2: bool,
    /// Requested total rate (open model), requests per second; absent in the closed model.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rate: Option<f64>,
    /// Requested amount of requests, if the run was bounded by count.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub amount: Option<u64>,
    /// Requested warmup, seconds.
    pub warmup: f64,
    /// Per-request timeout, seconds.
    pub timeout: f64,
    /// When the measured window opened (RFC 3339).
    pub start: String,
    /// When it closed (RFC 3339).
    pub finish: String,
    /// Length of the measured window, seconds.
    pub duration: f64,
    /// Why the load ended.
    pub stop_reason: StopReason,
    /// Latency in ms, from each request's planned send time (wrk2's rule with --rate;
    /// the actual send time otherwise).
    pub latency: LatencyStats,
    /// Latency in ms from the actual send time; only with --rate, to show what coordinated
    /// omission would have hidden.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub latency_uncorrected: Option<LatencyStats>,
    /// Completed responses per second: statistics over the full seconds of the run.
    pub requests: RequestStats,
    /// Bytes read per second: statistics over the full seconds of the run.
    pub throughput: ThroughputStats,
    /// Number of per-second samples behind `requests` and `throughput`.
    pub samples: u64,
    /// All errors, timeouts included.
    pub errors: u64,
    /// Requests that got no response within the timeout.
    pub timeouts: u64,
    /// Errors by kind, with the first message seen for each.
    pub errors_by_kind: BTreeMap<String, ErrorCount>,
    /// Responses whose status is not 2xx.
    pub non2xx: u64,
    /// Responses with a 1xx status (other than interim ones).
    #[serde(rename = "1xx")]
    pub status_1xx: u64,
    /// Responses with a 2xx status.
    #[serde(rename = "2xx")]
    pub status_2xx: u64,
    /// Responses with a 3xx status.
    #[serde(rename = "3xx")]
    pub status_3xx: u64,
    /// Responses with a 4xx status.
    #[serde(rename = "4xx")]
    pub status_4xx: u64,
    /// Responses with a 5xx status.
    #[serde(rename = "5xx")]
    pub status_5xx: u64,
    /// Responses by status code.
    pub status_code_stats: BTreeMap<String, StatusCount>,
    /// Requests sent more than 10 ms after their planned time (with --rate).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub late_requests: Option<u64>,
    /// How late harness's workers woke for their own timers in the measured window, 99th
    /// percentile, ms (each checks every 10 ms): the wait harness's own scheduling added to
    /// each send and read. Over 10 ms, and half the p99 latency or more, harness was a limit.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub harness_delay_p99: Option<f64>,
    /// Requests still in flight when the load stopped; counted nowhere else.
    pub unfinished: u64,
    /// The merged latency histogram, to recompute any percentile later.
    pub histogram: EncodedHistogram,
    /// One entry per second of the measured window.
    pub series: Vec<SeriesEntry>,
    /// Each kind of request's own figures, in the order of the mix (one for a single
    /// request).
    #[serde(default)]
    pub kinds: Vec<KindResult>,
    /// Seconds on the run's clock (see `phases`) at which the measured window opened: add it
    /// to `series[].second` to line the load up with `process` and `node` samples.
    pub measure_start: f64,
    /// The run's phases on its clock (seconds since harness started the target, or since
    /// the load started when there is no target): `baseline`, `warmup`, `load`, `cooldown`,
    /// and `profile` when a CPU trace ran.
    pub phases: Vec<Phase>,
    /// The target process, when harness started or watched one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub target: Option<TargetInfo>,
    /// Samples of the target's process tree (and of harness and the machine).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub process: Option<Sampling>,
    /// What the Node probe reported, one entry per Node process of the target.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub node: Vec<NodeProcess>,
    /// The findings, most important first, as computed when the result was written
    /// (`harness report` computes them again from the data).
    #[serde(default)]
    pub findings: Vec<FindingEntry>,
    /// The main problem's title, or `no problem found`.
    #[serde(default)]
    pub verdict: String,
    /// The scenario file's name, when the run came from one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scenario: Option<String>,
    /// Each threshold (`--threshold` or the scenario's) and whether the run met it.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub thresholds: Vec<ThresholdOutcome>,
    /// Heap snapshots of each Node process and, when analysed, where the memory goes.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub heap: Vec<HeapProcess>,
    /// CPU profiles from the CPU trace (a few seconds more of the load after the cooldown,
    /// unmeasured), busiest process first: when the run found a blocked loop, GC pressure
    /// or costly requests at capacity, or with `--profile`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub profiles: Vec<CpuProfile>,
    /// The CPU trace, when one was wanted: why, and why it gave no profile if it did not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cpu_trace: Option<CpuTrace>,
    /// The I/O trace (a few seconds more of the load after the cooldown, unmeasured, with the
    /// probe telling what each traced request waited on), when the run found I/O wait or
    /// with `--io-trace`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub io_trace: Option<IoTrace>,
    /// The heap trace on a second copy of the target, when one was wanted (a leak was found,
    /// or `--heap`): what ran, or why it did not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub heap_trace: Option<HeapTrace>,
    /// The capacity search (`--find-max`): its steps, its answer and what limited the
    /// server. The run's other figures are those of the step at the answer.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub capacity: Option<Capacity>,
    /// This run's part of a sharded load (`--shard I/N`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub shard: Option<ShardInfo>,
    /// The shards a merged result was made of (`harness merge`), in index order.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub merged: Vec<MergedShard>,
}

impl RunResult {
    /// The main finding: the first (most important) one, unless it is only information.
    pub fn main_finding(&self) -> Option<&FindingEntry> {
        self.findings
            .first()
            .filter(|f| f.severity != Severity::Info)
    }
}

/// Reads a saved result: `harness report`, `compare` and every other reader. Errors name the
/// file and say what is wrong.
pub fn load(path: &Path) -> Result<RunResult, String> {
    let bytes = read_bounded(path, MAX_RESULT_BYTES)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        format!(
            "'{}' is not a harness result (it is not UTF-8 text); give a result.json written by harness",
            path.display()
        )
    })?;
    let result: RunResult = serde_json::from_str(&text).map_err(|err| {
        format!(
            "'{}' is not a harness result ({err}); give a result.json written by harness",
            path.display()
        )
    })?;
    if result.schema_version > SCHEMA_VERSION {
        return Err(format!(
            "'{}' was written by a newer harness (schema version {}; this one reads {SCHEMA_VERSION}): update harness",
            path.display(),
            result.schema_version
        ));
    }
    Ok(result)
}

/// The largest result file read: an 8 h run's is about 20 MB.
pub const MAX_RESULT_BYTES: u64 = 256 * 1024 * 1024;

/// Reads at most `limit` bytes of the file at `path`, refusing a bigger one before reading
/// it (by its size) or as soon as it passes the limit (a device or pipe such as /dev/zero).
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let too_big = || {
        format!(
            "'{}' is larger than {} MB, more than harness reads; give the file harness wrote",
            path.display(),
            limit / 1024 / 1024
        )
    };
    let file = std::fs::File::open(path)
        .map_err(|err| format!("could not read '{}': {err}", path.display()))?;
    if file
        .metadata()
        .is_ok_and(|m| m.is_file() && m.len() > limit)
    {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| format!("could not read '{}': {err}", path.display()))?;
    if bytes.len() as u64 > limit {
        return Err(too_big());
    }
    Ok(bytes)
}

/// The JSON Schema of [`RunResult`], as committed in `result.schema.json`.
pub fn schema() -> String {
    let schema = schemars::schema_for!(RunResult);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_survives_encoding() {
        let mut histogram =
            hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for v in [10, 200, 3_000, 40_000] {
            histogram.record(v).unwrap();
        }
        let back = decode(&encode(&histogram)).unwrap();
        assert_eq!(back.len(), 4);
        assert_eq!(back.max(), histogram.max());
        assert_eq!(
            back.value_at_quantile(0.5),
            histogram.value_at_quantile(0.5)
        );
    }

    #[test]
    fn committed_schema_matches_the_types() {
        crate::testing::snapshot(
            "src/result/result.schema.json",
            &schema(),
            "HARNESS_UPDATE_SCHEMA",
        );
    }
}
