//! What the Node probe reported, one entry per Node process of the target.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

impl Floor {
    /// Whether this floor was taken at the end of the phase `name`.
    pub fn is(&self, name: super::PhaseName) -> bool {
        self.phase == name
    }
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
    /// Warnings the process emitted, each kind once with its count (at most 100 kinds).
    pub warnings: Vec<Warning>,
    /// Warnings of further kinds, beyond the 100 kept, counted only.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub warnings_dropped: u64,
}

/// One interval of a Node process.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
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
    /// Which kind of collection.
    pub kind: super::GcKind,
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
    pub phase: super::PhaseName,
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
    /// How often the process emitted it (the same name, place, event and emitter); `t`,
    /// `message` and `stack` are the first time's.
    #[serde(default = "once", skip_serializing_if = "is_once")]
    pub occurrences: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn once() -> u64 {
    1
}

fn is_once(n: &u64) -> bool {
    *n == 1
}
