//! The saved result of a run: the JSON wire format, in one place, with one naming convention
//! (camelCase, keeping autocannon's names where the meaning is the same). Its JSON Schema is
//! committed as `result.schema.json` beside this file and checked by a test. Every renderer
//! reads a [`RunResult`], so any saved run can be rendered again.

use std::collections::BTreeMap;

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::stats::{self, round2, round3, Summary};
use crate::load::recorder::ErrorKind;
use crate::load::{LoadOutcome, StopReason};
use crate::plan::{is_secret_header, Plan, Stop};

/// Bumped whenever a field changes meaning or is removed.
pub const SCHEMA_VERSION: u32 = 1;
/// Shown instead of secret header values.
pub const REDACTED: &str = "[redacted]";

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
    /// Why the load ended: `completed`, `interrupted` (Ctrl-C), `bailedOut` or `targetExited`.
    pub stop_reason: String,
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
    /// Requests still in flight when the load stopped; counted nowhere else.
    pub unfinished: u64,
    /// The merged latency histogram, to recompute any percentile later.
    pub histogram: EncodedHistogram,
    /// One entry per second of the measured window.
    pub series: Vec<SeriesEntry>,
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
    pub profiles: Vec<crate::analyse::profile::CpuProfile>,
    /// The heap trace on a second copy of the target, when one was wanted (a leak was found,
    /// or `--heap`): what ran, or why it did not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub heap_trace: Option<HeapTrace>,
}

/// The heap trace: after the measured target has been stopped, a second copy of it is
/// started the same way (its heap still small), warmed up, and loaded with the same requests
/// between heap snapshots. Nothing of it counts in the run's figures. Snapshots are never
/// taken of the measured process: a snapshot stalls a process for seconds per 100 MB of heap,
/// and after one V8 tracks every object its collector moves, which slows allocation.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeapTrace {
    /// Why it ran: `memory leak found`, `listener leak found` or `--heap`.
    pub reason: String,
    /// The second copy of the target it ran on; absent when none started.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pid: Option<u32>,
    /// Where its load went (another free port when harness chose the first one).
    #[serde(default)]
    pub url: String,
    /// Requests per second of its loads (open model): the measured rate.
    #[serde(default)]
    pub rate: f64,
    /// Connections of its loads: the measured number.
    #[serde(default)]
    pub connections: u64,
    /// Requests of the warm-up before the first snapshot.
    #[serde(default)]
    pub warmup_requests: u64,
    /// Requests sent between the first and second snapshot (the trace load).
    #[serde(default)]
    pub requests: u64,
    /// Responses to them.
    pub responses: u64,
    /// Errors among them, timeouts included.
    pub errors: u64,
    /// Length of the trace load, seconds.
    pub seconds: f64,
    /// When it began (the measured target stopped) on the run's clock, seconds.
    #[serde(default)]
    pub start: f64,
    /// When the second copy had stopped, on the run's clock, seconds.
    #[serde(default)]
    pub end: f64,
    /// Peak resident memory of the second copy's processes, bytes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub peak_rss: Option<u64>,
    /// Why it did not run or finish; the measured result stands either way.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub warning: Option<String>,
}

impl HeapTrace {
    /// A trace that did not run, and why.
    pub fn not_run(reason: &str, warning: &str) -> HeapTrace {
        HeapTrace {
            warning: Some(warning.to_string()),
            ..HeapTrace::new(reason)
        }
    }

    /// A trace about to run, for `reason`; the rest is filled in as it runs.
    pub fn new(reason: &str) -> HeapTrace {
        HeapTrace {
            reason: reason.to_string(),
            pid: None,
            url: String::new(),
            rate: 0.0,
            connections: 0,
            warmup_requests: 0,
            requests: 0,
            responses: 0,
            errors: 0,
            seconds: 0.0,
            start: 0.0,
            end: 0.0,
            peak_rss: None,
            warning: None,
        }
    }
}

/// One Node process's heap snapshots (taken in the heap trace's second copy of the target:
/// at the end of its warm-up, of its trace load and of its cooldown) and their analysis.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeapProcess {
    /// The process.
    pub pid: u32,
    /// Each snapshot asked for.
    pub snapshots: Vec<HeapSnapshotInfo>,
    /// What leaked and who holds it, when analysed.
    pub analysis: Option<crate::analyse::heap::HeapAnalysis>,
    /// Why there is no analysis, or why it names no code.
    pub note: Option<String>,
    /// Where the objects still alive after the trace's cooldown were allocated during the
    /// heap trace, from V8's sampling heap profiler, biggest first.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub allocations: Vec<AllocationSite>,
}

/// An allocating function, from the sampling heap profiler. Inlined functions are counted
/// in their caller; Buffer backing stores are not sampled (they are not on the JS heap).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllocationSite {
    /// The function's name, `(anonymous)` if it has none.
    pub function: String,
    /// Its script (a path or URL; empty for V8 internals).
    pub url: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// Sampled bytes still alive (an estimate: the profiler samples every 256 KiB on average).
    pub bytes: u64,
}

/// One heap snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeapSnapshotInfo {
    /// The phase of the heap trace it ended: `warmup`, `trace` or `trace-cooldown`.
    pub phase: String,
    /// How long it stalled the process, ms.
    pub ms: f64,
    /// Used heap when it was asked for, bytes.
    pub heap_used: u64,
    /// Why it was not taken (over `--heap-limit`, or writing failed).
    pub skipped: Option<String>,
}

/// One kind of request of a mix.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestEntry {
    /// Method.
    pub method: String,
    /// Path and query, placeholders unfilled.
    pub path: String,
    /// Relative share.
    pub weight: u64,
    /// Headers (secret values redacted), placeholders unfilled.
    pub headers: Vec<Header>,
    /// Body size in bytes before placeholders are filled.
    pub body_bytes: u64,
}

/// One stage of a ramp.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StageEntry {
    /// Seconds.
    pub duration: f64,
    /// Requests per second.
    pub rate: f64,
}

/// One threshold checked against the run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ThresholdOutcome {
    /// The threshold as written, e.g. `p99<50ms`.
    pub threshold: String,
    /// Whether the run met it. A threshold on something not measured is not met.
    pub passed: bool,
    /// The measured value with its unit, or why there is none (`not measured: ...`).
    pub actual: String,
}

/// A finding of the analysis.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FindingEntry {
    /// e.g. `memoryLeak`, `blockedEventLoop`, `errors`.
    pub kind: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// What was found.
    pub title: String,
    /// What to do next.
    pub advice: String,
    /// The numbers behind it.
    pub evidence: Vec<Evidence>,
}

/// One number behind a finding.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// What it is.
    pub label: String,
    /// Its value, with unit.
    pub value: String,
}

/// A phase of the run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// `baseline`, `warmup`, `load`, `cooldown` or `profile` (the CPU trace).
    pub name: String,
    /// Start, seconds on the run's clock.
    pub start: f64,
    /// End, seconds on the run's clock.
    pub end: f64,
}

/// The target process and how it ended.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetInfo {
    /// The command harness started (empty with `--pid`).
    pub command: Vec<String>,
    /// The process id (the group leader when harness started it).
    pub pid: u32,
    /// Whether harness started it (false with `--pid`).
    pub started: bool,
    /// Seconds from start until it accepted connections.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ready_after: Option<f64>,
    /// How it exited, e.g. `exit code 0`, `signal 9 (SIGKILL)`; absent if it was not seen to exit.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exit: Option<String>,
    /// The exit code, if it exited normally.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exit_code: Option<i32>,
    /// The signal that ended it, if one did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exit_signal: Option<i32>,
    /// Why the run failed because of the target (never ready, crashed during the load).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<String>,
    /// Signals harness had to send to stop it, in order (SIGINT, then SIGTERM, SIGKILL).
    pub stop_signals: Vec<String>,
    /// The last lines it wrote to stdout.
    pub stdout_tail: Vec<String>,
    /// The last lines it wrote to stderr.
    pub stderr_tail: Vec<String>,
}

/// Process samples.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sampling {
    /// Seconds between samples.
    pub interval: f64,
    /// The samples.
    pub points: Vec<ProcessSample>,
}

/// One sample of the target's process tree.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProcessSample {
    /// Seconds on the run's clock.
    pub t: f64,
    /// Resident memory of all the target's processes, bytes.
    pub rss: u64,
    /// CPU of all the target's processes since the last sample, percent of one core.
    pub cpu: f64,
    /// Threads.
    pub threads: u64,
    /// Open file descriptors.
    pub fds: u64,
    /// Processes in the tree.
    pub processes: u64,
    /// harness's own CPU, percent of one core.
    pub harness_cpu: f64,
    /// The whole machine's CPU, percent of all cores.
    pub system_cpu: f64,
    /// CPU cores of the machine.
    pub cores: u64,
}

/// One Node process as its probe saw it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeProcess {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Node version.
    pub node: String,
    /// `process.argv`.
    pub argv: Vec<String>,
    /// V8's heap size limit, bytes.
    pub heap_size_limit: u64,
    /// Samples, one per interval.
    pub samples: Vec<NodeSample>,
    /// Garbage collections.
    pub gc: Vec<GcEvent>,
    /// Heap after forced full collections ("GC floors").
    pub floors: Vec<Floor>,
    /// Warnings the process emitted.
    pub warnings: Vec<Warning>,
}

/// One interval of a Node process.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSample {
    /// Seconds on the run's clock.
    pub t: f64,
    /// Event-loop delay in this interval, median, ms.
    pub delay_p50: f64,
    /// 99th percentile, ms.
    pub delay_p99: f64,
    /// Maximum, ms.
    pub delay_max: f64,
    /// Event-loop utilisation in this interval (0 to 1).
    pub elu: f64,
    /// `process.memoryUsage()`, bytes.
    pub rss: u64,
    /// V8 heap reserved.
    pub heap_total: u64,
    /// V8 heap used.
    pub heap_used: u64,
    /// Memory of C++ objects bound to JavaScript (Buffers among them).
    pub external: u64,
    /// ArrayBuffer and Buffer backing stores (part of `external`).
    pub array_buffers: u64,
    /// Active handles and requests by type.
    pub handles: BTreeMap<String, u64>,
    /// Whether GC events were observed in this interval: a process collecting about 50 times
    /// a second or more is observed one interval in ten (watching every collection would
    /// cost it ~4 % of its CPU). Absent means true.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub gc_observed: bool,
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

/// A garbage collection.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcEvent {
    /// Seconds on the run's clock (when it was reported, within one interval).
    pub t: f64,
    /// `minor`, `major`, `incremental` or `weakcb`.
    pub kind: String,
    /// Duration, ms.
    pub ms: f64,
    /// Heap used after it, bytes, where the Node version reports it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub heap_after: Option<u64>,
}

/// Memory after a forced full garbage collection.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Floor {
    /// Seconds on the run's clock.
    pub t: f64,
    /// The phase it ended: `baseline`, `load` or `cooldown`.
    pub phase: String,
    /// V8 heap used, bytes.
    pub heap_used: u64,
    /// V8 heap reserved, bytes.
    pub heap_total: u64,
    /// External memory, bytes.
    pub external: u64,
    /// ArrayBuffer backing stores, bytes.
    pub array_buffers: u64,
    /// Resident memory, bytes.
    pub rss: u64,
    /// How long the collection took, ms.
    pub ms: f64,
}

/// A warning a Node process emitted (`process.on('warning')`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Warning {
    /// Seconds on the run's clock.
    pub t: f64,
    /// e.g. `MaxListenersExceededWarning`.
    pub name: String,
    /// The warning's message.
    pub message: String,
    /// Its stack.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stack: Option<String>,
    /// The first application frame of the stack (`file:line:column`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<String>,
    /// For a listener leak: the event name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub event: Option<String>,
    /// For a listener leak: how many listeners.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub count: Option<u64>,
    /// For a listener leak: the emitter's class.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub emitter: Option<String>,
}

/// A request header as sent (secret values redacted).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Header name.
    pub name: String,
    /// Header value, or `[redacted]`.
    pub value: String,
}

/// Latency statistics in milliseconds, microsecond precision.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LatencyStats {
    /// Mean (autocannon keeps both names).
    pub average: f64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub stddev: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    #[serde(flatten)]
    /// Percentiles.
    pub percentiles: Percentiles,
    /// Number of latencies recorded.
    pub total_count: u64,
}

/// Requests-per-second statistics.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestStats {
    /// Mean requests per second.
    pub average: f64,
    /// Mean requests per second.
    pub mean: f64,
    /// Standard deviation across seconds.
    pub stddev: f64,
    /// Slowest second (zero seconds included).
    pub min: f64,
    /// Fastest second.
    pub max: f64,
    /// Responses completed in the measured window.
    pub total: u64,
    /// Requests sent in the measured window.
    pub sent: u64,
    /// Completed responses divided by the window's length.
    pub overall: f64,
    #[serde(flatten)]
    /// Percentiles across seconds.
    pub percentiles: Percentiles,
}

/// Bytes-per-second statistics.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThroughputStats {
    /// Mean bytes per second.
    pub average: f64,
    /// Mean bytes per second.
    pub mean: f64,
    /// Standard deviation across seconds.
    pub stddev: f64,
    /// Slowest second.
    pub min: f64,
    /// Fastest second.
    pub max: f64,
    /// Bytes read in the measured window.
    pub total: u64,
    #[serde(flatten)]
    /// Percentiles across seconds.
    pub percentiles: Percentiles,
}

/// autocannon's percentile keys.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[allow(missing_docs)]
pub struct Percentiles {
    pub p0_001: f64,
    pub p0_01: f64,
    pub p0_1: f64,
    pub p1: f64,
    pub p2_5: f64,
    pub p10: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p97_5: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub p99_99: f64,
    pub p99_999: f64,
}

/// A count of errors of one kind.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ErrorCount {
    /// How many.
    pub count: u64,
    /// The first message seen.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub example: Option<String>,
}

/// A count of responses with one status code.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StatusCount {
    /// How many.
    pub count: u64,
}

/// A serialised HdrHistogram.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EncodedHistogram {
    /// Always `hdr-v2-deflate-base64`: HdrHistogram's V2 compressed format, base64.
    pub encoding: String,
    /// Unit of the recorded values: `us`.
    pub unit: String,
    /// The data.
    pub data: String,
}

/// One second of the run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeriesEntry {
    /// Seconds since the measured window opened.
    pub second: u64,
    /// Seconds of this entry the run covered (1 but for the last).
    pub covered: f64,
    /// Responses completed.
    pub requests: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Errors.
    pub errors: u64,
    /// Median latency of this second's responses, ms.
    pub latency_p50: f64,
    /// 90th percentile, ms.
    pub latency_p90: f64,
    /// 99th percentile, ms.
    pub latency_p99: f64,
    /// Maximum, ms.
    pub latency_max: f64,
}

const HISTOGRAM_ENCODING: &str = "hdr-v2-deflate-base64";

impl RunResult {
    /// Builds the result of a run from its plan and what the load generator measured;
    /// `origin` is the start of the run's clock.
    pub fn new(plan: &Plan, outcome: &LoadOutcome, origin: tokio::time::Instant) -> RunResult {
        let measure_start = outcome
            .measure_start
            .saturating_duration_since(origin)
            .as_secs_f64();
        let load = &plan.load;
        let totals = &outcome.totals;
        let full: Vec<_> = outcome
            .series
            .iter()
            .filter(|p| p.covered.as_secs_f64() >= 0.999)
            .collect();
        let window = outcome.elapsed.as_secs_f64();
        // A run shorter than a second still has one sample: its rate over the window.
        let (per_second, bytes_per_second): (Vec<f64>, Vec<f64>) =
            if full.is_empty() && window > 0.0 {
                (
                    vec![totals.completed as f64 / window],
                    vec![totals.bytes as f64 / window],
                )
            } else {
                full.iter()
                    .map(|p| (p.requests as f64, p.bytes as f64))
                    .unzip()
            };
        let requests = stats::samples(&per_second);
        let throughput = stats::samples(&bytes_per_second);
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
            requests_sent: if load.requests.len() > 1 || load.requests[0].placeholders {
                load.requests
                    .iter()
                    .map(|r| RequestEntry {
                        method: r.method.clone(),
                        path: r.path.clone(),
                        weight: r.weight,
                        headers: redacted(&r.headers),
                        body_bytes: r.body.len() as u64,
                    })
                    .collect()
            } else {
                Vec::new()
            },
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
            stop_reason: match outcome.stop {
                StopReason::Completed => "completed",
                StopReason::Interrupted => "interrupted",
                StopReason::BailedOut => "bailedOut",
                StopReason::TargetExited => "targetExited",
            }
            .to_string(),
            latency: LatencyStats::from(&stats::latency_ms(&totals.latency)),
            latency_uncorrected: totals
                .uncorrected
                .as_ref()
                .map(|h| LatencyStats::from(&stats::latency_ms(h))),
            requests: RequestStats {
                average: round2(requests.mean),
                mean: round2(requests.mean),
                stddev: round2(requests.stddev),
                min: round2(requests.min),
                max: round2(requests.max),
                total: totals.completed,
                sent: totals.sent,
                overall: if window > 0.0 {
                    round2(totals.completed as f64 / window)
                } else {
                    0.0
                },
                percentiles: Percentiles::from(&requests.percentiles.map(round2)),
            },
            throughput: ThroughputStats {
                average: round2(throughput.mean),
                mean: round2(throughput.mean),
                stddev: round2(throughput.stddev),
                min: round2(throughput.min),
                max: round2(throughput.max),
                total: totals.bytes,
                percentiles: Percentiles::from(&throughput.percentiles.map(round2)),
            },
            samples: requests.count,
            errors: totals.error_count(),
            timeouts: totals.errors[ErrorKind::Timeout as usize],
            errors_by_kind: ErrorKind::ALL
                .iter()
                .filter(|kind| totals.errors[**kind as usize] > 0)
                .map(|kind| {
                    let count = ErrorCount {
                        count: totals.errors[*kind as usize],
                        example: totals.error_samples[*kind as usize].clone(),
                    };
                    (kind.name().to_string(), count)
                })
                .collect(),
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
            series: outcome
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
                })
                .collect(),
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
        }
    }
}

impl RunResult {
    /// Analyses the result and stores the findings and verdict in it.
    pub fn analyse(&mut self) {
        let analysis = crate::analyse::analyse(self);
        self.verdict = analysis
            .verdict()
            .map_or_else(|| "no problem found".to_string(), |f| f.title());
        self.findings = analysis
            .findings
            .iter()
            .map(|finding| FindingEntry {
                kind: finding.kind().to_string(),
                severity: match finding.severity() {
                    crate::analyse::Severity::Info => "info",
                    crate::analyse::Severity::Warning => "warning",
                    crate::analyse::Severity::Critical => "critical",
                }
                .to_string(),
                title: finding.title(),
                advice: finding.advice(),
                evidence: finding
                    .evidence()
                    .into_iter()
                    .map(|(label, value)| Evidence { label, value })
                    .collect(),
            })
            .collect();
    }
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
        phases.push(Phase {
            name: "warmup".to_string(),
            start: round3(measure_start - warmup),
            end: round3(measure_start),
        });
    }
    phases.push(Phase {
        name: "load".to_string(),
        start: round3(measure_start),
        end: round3(measure_start + window),
    });
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

impl From<&[f64; 15]> for Percentiles {
    fn from(v: &[f64; 15]) -> Percentiles {
        Percentiles {
            p0_001: v[0],
            p0_01: v[1],
            p0_1: v[2],
            p1: v[3],
            p2_5: v[4],
            p10: v[5],
            p25: v[6],
            p50: v[7],
            p75: v[8],
            p90: v[9],
            p97_5: v[10],
            p99: v[11],
            p99_9: v[12],
            p99_99: v[13],
            p99_999: v[14],
        }
    }
}

impl Percentiles {
    /// The values in [`stats::PERCENTILES`] order.
    pub fn values(&self) -> [f64; 15] {
        [
            self.p0_001,
            self.p0_01,
            self.p0_1,
            self.p1,
            self.p2_5,
            self.p10,
            self.p25,
            self.p50,
            self.p75,
            self.p90,
            self.p97_5,
            self.p99,
            self.p99_9,
            self.p99_99,
            self.p99_999,
        ]
    }
}

/// Serialises a histogram for the result.
pub fn encode(histogram: &Histogram<u64>) -> EncodedHistogram {
    let mut bytes = Vec::new();
    let data = match V2DeflateSerializer::new().serialize(histogram, &mut bytes) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(&bytes),
        Err(_) => String::new(),
    };
    EncodedHistogram {
        encoding: HISTOGRAM_ENCODING.to_string(),
        unit: "us".to_string(),
        data,
    }
}

/// Reads a histogram back from a saved result.
pub fn decode(encoded: &EncodedHistogram) -> anyhow::Result<Histogram<u64>> {
    anyhow::ensure!(
        encoded.encoding == HISTOGRAM_ENCODING,
        "unknown histogram encoding '{}'",
        encoded.encoding
    );
    let bytes = base64::engine::general_purpose::STANDARD.decode(&encoded.data)?;
    Ok(Deserializer::new().deserialize(&mut bytes.as_slice())?)
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
        let mut histogram = crate::load::recorder::latency_histogram();
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
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/report/result.schema.json");
        let generated = schema();
        if std::env::var_os("HARNESS_UPDATE_SCHEMA").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "src/report/result.schema.json is out of date: run HARNESS_UPDATE_SCHEMA=1 cargo test and commit it"
        );
    }
}
