//! The I/O trace's part of a result: for each kind of request, where a traced request's time
//! went (running on the loop, queued for it, or awaiting an operation), and the operations it
//! awaited, named by the app's call path. The per-process reports come from the probe's
//! `iotrace.cjs` as it wrote them (times in ms, shares 0..1 of the kind's request time);
//! unknown fields from a newer probe are ignored.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The I/O trace: a few seconds more of the measured load after the cooldown, unmeasured,
/// with the probe attributing each traced request's time to what it waited on.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IoTrace {
    /// Why it ran: `I/O wait found` or `--io-trace`.
    pub reason: String,
    /// When it began, on the run's clock, seconds.
    pub start: f64,
    /// When it ended, on the run's clock, seconds.
    pub end: f64,
    /// Responses to its load.
    pub responses: u64,
    /// The request header that marked the traced requests (its value names their kind).
    pub header: String,
    /// Why it gave nothing (or not from every process); absent when all went well.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub warning: Option<String>,
    /// Each Node process's report.
    #[serde(default)]
    pub processes: Vec<IoProcess>,
}

/// One Node process's I/O trace.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct IoProcess {
    /// The process.
    pub pid: u32,
    /// Its Node version.
    #[serde(default)]
    pub node: String,
    /// How long the trace ran in it, ms.
    #[serde(default)]
    pub duration_ms: f64,
    /// Each kind of request it traced.
    #[serde(default)]
    pub kinds: Vec<IoKind>,
    /// What this process could not see, and why (no channel, an old Node).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unseen: Vec<String>,
    /// What went wrong or was capped, for the whole process.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Why the trace could not run in it at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where the time of one kind of request went.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct IoKind {
    /// The kind: the traced header's value (the request entry's name, or its method and path).
    pub kind: String,
    /// Traced requests that finished.
    pub requests: u64,
    /// Requests of the kind not traced (over the cap, or out of memory).
    #[serde(default)]
    pub dropped_requests: u64,
    /// Their latency in the process, from the request's start to its response's end, ms.
    pub latency_ms: IoLatency,
    /// Share of their time running their own callbacks on the loop.
    pub running: f64,
    /// Share of their time queued: their next callback ready, the loop busy elsewhere.
    pub queued: f64,
    /// The operations awaited, most time first (the top five).
    #[serde(default)]
    pub operations: Vec<IoOperation>,
    /// Share of their time awaiting the operations after the top five.
    #[serde(default)]
    pub other_operations: f64,
    /// Requests still open when the trace stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unfinished: Option<IoUnfinished>,
    /// What was odd about this kind (nothing awaited, caps reached).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Latency statistics of one kind's traced requests, ms.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct IoLatency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// Mean.
    pub mean: f64,
}

/// An operation the requests of a kind awaited.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct IoOperation {
    /// The call path that tells it from the kind's other operations, then the operation:
    /// "loadRecommendations (app.js:26) → query (app.js:16) → setTimeout 60 ms".
    pub name: String,
    /// The operation alone: "setTimeout 60 ms", "fetch GET 127.0.0.1:4000/items", "pg query
    /// SELECT * FROM items WHERE code = $1".
    pub detail: String,
    /// The app's frames where it was made, innermost first.
    #[serde(default)]
    pub path: Vec<IoFrame>,
    /// Requests that awaited it.
    pub count: u64,
    /// Waits of it started together (`Promise.all`): "5 ×".
    #[serde(default)]
    pub parallel: u64,
    /// Times awaited one after another per request, on average.
    #[serde(default)]
    pub per_request: f64,
    /// Time charged to it per request that awaited it, ms.
    pub charged_ms: IoCharged,
    /// Share of the kind's request time.
    pub share: f64,
}

/// An app frame of an operation's call path.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct IoFrame {
    /// The function; absent when it has no name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Its file, relative to the app's folder.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    #[serde(default)]
    pub column: u32,
}

/// Time charged to an operation per request, ms.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct IoCharged {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
}

/// Requests of a kind still open when the trace stopped.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct IoUnfinished {
    /// How many.
    pub count: u64,
    /// Of them, open far longer than the kind's requests take (stuck).
    #[serde(default)]
    pub stuck: u64,
    /// The oldest's age, ms.
    #[serde(default)]
    pub oldest_ms: f64,
    /// What the stuck ones were waiting on.
    #[serde(default)]
    pub waiting_on: Vec<IoWaitingOn>,
}

/// An operation open requests were waiting on.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct IoWaitingOn {
    /// Its name, as for an operation.
    pub name: String,
    /// Requests waiting on it.
    pub count: u64,
}
