//! The heap trace's part of a result: what ran, each Node process's snapshots, and their
//! analysis (which objects leaked and what holds them), as saved and drawn in the report.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
    /// The second copy of the target it ran on (or the attached process itself, with
    /// `inPlace`); absent when none started.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pid: Option<u32>,
    /// It ran on the measured process itself: a process harness attached to (`--pid`),
    /// of which it cannot start a second copy.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub in_place: bool,
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
    /// Bytes the measured run's leak predicts this trace retains (its bytes per request
    /// times the trace's responses), when it measured them.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub predicted: Option<u64>,
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
            in_place: false,
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
            predicted: None,
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
    pub analysis: Option<HeapAnalysis>,
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
    /// For an anonymous function, the named function around it in its script.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub within: Option<String>,
}

/// One heap snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeapSnapshotInfo {
    /// The phase of the heap trace it ended: `warmup`, `trace` or `trace-cooldown`.
    pub phase: super::PhaseName,
    /// How long it stalled the process, ms.
    pub ms: f64,
    /// Used heap when it was asked for, bytes.
    pub heap_used: u64,
    /// Why it was not taken (over `--heap-limit`, or writing failed).
    pub skipped: Option<String>,
}

/// The result, as saved in the JSON result and drawn in the report.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeapAnalysis {
    /// Objects added and still alive (leak candidates), in all classes.
    pub leaked_objects: u64,
    /// Their own size, bytes.
    pub leaked_bytes: u64,
    /// How much the heap grew from the first snapshot to the last, bytes (every object's own
    /// size; both snapshots follow a full GC). Unlike `leakedBytes` it does not count objects
    /// that only replaced others (a bounded table's new entries).
    #[serde(default)]
    pub grown_bytes: i64,
    /// The biggest groups of leaked objects, with who holds them.
    pub groups: Vec<LeakGroup>,
    /// DevTools' Comparison view between the first and the last snapshot, biggest growth first.
    pub classes: Vec<ClassChange>,
}

/// One class in the comparison of the first and last snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClassChange {
    /// Class, named as DevTools names it (`Buffer`, `(closure)`, `system / JSArrayBufferData`).
    pub class: String,
    /// Objects in the last snapshot that were not in the first.
    pub new: u64,
    /// Objects of the first snapshot gone from the last.
    pub deleted: u64,
    /// `new - deleted`.
    pub delta: i64,
    /// Change of the class's total own size, bytes.
    pub size_delta: i64,
}

/// A group of leaked objects of one class and what holds them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeakGroup {
    /// The objects' class.
    pub class: String,
    /// How many leaked.
    pub count: u64,
    /// Their own size, bytes.
    pub bytes: u64,
    /// The nearest function or variable holding them, if the path has one.
    pub retainer: Option<Retainer>,
    /// The most common shortest path from the GC roots, from its holder (or its last steps):
    /// node, edge, node, ..., the leaked object; edges as `.name` or `[index]`.
    pub path: Vec<String>,
    /// Share of the traced objects that have this path (0..1).
    pub path_share: f64,
    /// Retained size of the holder (the function, the variable's value or the emitter):
    /// what freeing it would free, bytes.
    pub holder_retains: Option<u64>,
    /// For a group of closures: the function they are instances of, with `file:line` where
    /// it is defined (for listeners, the `.on()` call's callback).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub function: Option<Function>,
    /// Of them, added after the load (not in the snapshot at its end): by timers or emitters
    /// the load started, with no request in flight.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub after_load: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl LeakGroup {
    /// Whether the group is event listeners still attached to an emitter.
    pub fn is_listeners(&self) -> bool {
        self.class == "(closure)" && self.path.iter().any(|step| step == "._events")
    }
}

/// A function in the app's code.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Function {
    /// Its name, `(anonymous)` if it has none.
    pub name: String,
    /// `file:line` where it is defined, when the snapshot records it.
    pub location: Option<String>,
    /// For an anonymous function, the named function around it in its script.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub within: Option<String>,
}

/// The code that holds a group.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retainer {
    /// What holds the group.
    pub kind: super::RetainerKind,
    /// Its name.
    pub name: String,
    /// `file:line` of the function, when the snapshot records it.
    pub location: Option<String>,
    /// For an emitter, its class (`EventEmitter`, `Socket`, ...); `name` is then the
    /// variable that holds it, or the class again when none does.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub class: Option<String>,
}
