//! The CPU trace's part of a result: each profile's summary, its hot code, its top functions
//! and the pruned call tree the report draws as a flame graph.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::heap::AllocationSite;

/// The CPU trace: a few seconds more of the measured load after the cooldown, unmeasured,
/// with V8's CPU profiler running in every Node process. Its profiles are `profiles`; this
/// says why it ran and, when it gave none, why not.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CpuTrace {
    /// Why it ran: the finding that asked for it, or `--profile`.
    pub reason: String,
    /// When it began, on the run's clock, seconds.
    pub start: f64,
    /// When it ended, on the run's clock, seconds.
    pub end: f64,
    /// Responses to its load.
    pub responses: u64,
    /// Why no profile came of it (or not of every process); absent when all went well.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub warning: Option<String>,
}

/// What a CPU profile says, as saved in the result and printed by `harness profile`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CpuProfile {
    /// The Node process it was taken of (absent for a file taken elsewhere).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pid: Option<u32>,
    /// Why it was taken: the finding that asked for it, or `--profile`.
    #[serde(default)]
    pub reason: String,
    /// The raw profile, saved beside the report (opens in Chrome DevTools and speedscope).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<String>,
    /// Responses the target sent while it was taken (the CPU trace's load).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub responses: Option<u64>,
    /// Its length, seconds.
    pub seconds: f64,
    /// Samples taken.
    pub samples: u64,
    /// Median time between samples, µs.
    pub interval_us: f64,
    /// Time running JavaScript, native code or the garbage collector, ms.
    pub busy_ms: f64,
    /// Of it, in the garbage collector, ms.
    pub gc_ms: f64,
    /// Time idle (the event loop waiting), ms.
    pub idle_ms: f64,
    /// Time in the VM outside any function (`(program)`), ms.
    pub program_ms: f64,
    /// The hot code, most time first: the app's functions with the time spent below them in
    /// Node, V8 and `node_modules` credited to them (samples with no app function on the
    /// stack are credited to their own function).
    pub hot: Vec<HotFunction>,
    /// Functions by self time (running at the sample), most first.
    pub by_self: Vec<FunctionTime>,
    /// Functions by total time (anywhere on the stack), most first.
    pub by_total: Vec<FunctionTime>,
    /// The busy call tree for a flame graph, parents before children, small branches left
    /// out.
    pub flame: Vec<FlameNode>,
    /// Where the process allocated while it was taken, garbage included (from the sampling
    /// heap profiler; only when the run found GC pressure), biggest first.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub allocations: Vec<AllocationSite>,
}

/// A function of the hot code.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HotFunction {
    /// Its name (`(anonymous)` when it has none).
    pub function: String,
    /// Its script.
    pub url: String,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub column: u32,
    /// Whether it is the app's own code (not Node's, V8's or a package's in `node_modules`).
    pub app: bool,
    /// Its time, callees outside the app included, ms.
    pub ms: f64,
    /// Share of the busy time.
    pub share: f64,
    /// The callee outside the app that took most of that time, if one took a fifth or more.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub callee: Option<Callee>,
    /// For an anonymous function, the named function around it in its script.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub within: Option<String>,
}

/// A function outside the app that a hot app function called.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Callee {
    /// Its name.
    pub function: String,
    /// Its script (`node:crypto`, a path in `node_modules`, empty for V8's builtins).
    pub url: String,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// Time below it, ms.
    pub ms: f64,
    /// Share of the calling function's time.
    pub share: f64,
}

/// One function's time.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FunctionTime {
    /// Its name.
    pub function: String,
    /// Its script.
    pub url: String,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// Time running it, ms.
    pub self_ms: f64,
    /// Time with it on the stack, ms.
    pub total_ms: f64,
    /// `self_ms` as a share of the busy time.
    pub self_share: f64,
    /// `total_ms` as a share of the busy time.
    pub total_share: f64,
}

/// One node of the flame graph: a call path.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlameNode {
    /// The function.
    pub function: String,
    /// Its script.
    pub url: String,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// The caller's index in the list; `None` for the top level.
    pub parent: Option<u32>,
    /// Busy time with this path on the stack, ms.
    pub total_ms: f64,
    /// Busy time running it at this path, ms.
    pub self_ms: f64,
}
