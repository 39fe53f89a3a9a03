//! What probes say, as it arrives on the socket (newline-delimited JSON, tagged by `type`),
//! and how each message is recorded: samples, GC events, warnings and GC floors into the
//! process's entry; replies to snapshot, profile and allocation requests into their request.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{CpuProfileFile, Snapshot, State};
use crate::result::{
    AllocationSite, Floor, GcEvent, GcKind, IoProcess, NodeSample, PhaseName, Warning,
};

/// A message from a probe.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub(super) enum Message {
    Hello(Hello),
    Sample(Sample),
    Warning(WarningMessage),
    Floor(FloorReply),
    Allocations(AllocationsReply),
    Profile(ProfileReply),
    Snapshot(SnapshotReply),
    Iotrace(IoTraceReply),
}

/// The I/O trace's report, in reply to stopping it.
#[derive(Debug, Deserialize)]
pub(super) struct IoTraceReply {
    pid: u32,
    id: u64,
    #[serde(default)]
    report: Option<IoProcess>,
    #[serde(default)]
    error: Option<String>,
}

/// A process says who it is, once, when it connects.
#[derive(Debug, Deserialize)]
pub(super) struct Hello {
    pub pid: u32,
    #[serde(default)]
    ppid: u32,
    #[serde(default)]
    node: String,
    #[serde(default)]
    argv: Vec<String>,
    #[serde(default, rename = "heapSizeLimit")]
    heap_size_limit: u64,
}

/// One interval of a process: loop delay and utilisation, memory, GC events, handles.
#[derive(Debug, Deserialize)]
pub(super) struct Sample {
    pid: u32,
    #[serde(default)]
    delay: Delay,
    #[serde(default)]
    elu: f64,
    #[serde(default)]
    memory: Memory,
    #[serde(default)]
    gc: Vec<RawGc>,
    #[serde(default)]
    handles: BTreeMap<String, u64>,
    #[serde(default = "observed", rename = "gcObserved")]
    gc_observed: bool,
}

/// A warning the process emitted.
#[derive(Debug, Deserialize)]
pub(super) struct WarningMessage {
    pid: u32,
    #[serde(default)]
    name: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    stack: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    emitter: Option<String>,
}

/// The heap after a forced GC, in reply to a `gc` request.
#[derive(Debug, Deserialize)]
pub(super) struct FloorReply {
    pid: u32,
    id: u64,
    #[serde(flatten)]
    memory: Memory,
    #[serde(default)]
    ms: f64,
}

/// Allocation sites, in reply to stopping the sampling heap profiler.
#[derive(Debug, Deserialize)]
pub(super) struct AllocationsReply {
    pid: u32,
    id: u64,
    #[serde(default)]
    sites: Vec<AllocationSite>,
}

/// A CPU profile written, in reply to stopping the CPU profiler.
#[derive(Debug, Deserialize)]
pub(super) struct ProfileReply {
    pid: u32,
    id: u64,
    #[serde(default)]
    error: Option<String>,
}

/// A heap snapshot written (or skipped), in reply to a `snapshot` request.
#[derive(Debug, Deserialize)]
pub(super) struct SnapshotReply {
    pid: u32,
    id: u64,
    #[serde(default)]
    ms: f64,
    #[serde(default, rename = "heapUsed")]
    heap_used: u64,
    #[serde(default)]
    skipped: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

fn observed() -> bool {
    true
}

#[derive(Debug, Default, Deserialize)]
struct Delay {
    #[serde(default)]
    p50: f64,
    #[serde(default)]
    p99: f64,
    #[serde(default)]
    max: f64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Memory {
    #[serde(default)]
    rss: u64,
    #[serde(default)]
    heap_total: u64,
    #[serde(default)]
    heap_used: u64,
    #[serde(default)]
    external: u64,
    #[serde(default)]
    array_buffers: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawGc {
    kind: String,
    #[serde(default)]
    ms: f64,
    #[serde(default)]
    heap_after: Option<u64>,
}

impl Message {
    /// Records the message, which arrived at `t` on the run's clock.
    pub(super) fn record(self, state: &mut State, t: f64) {
        match self {
            Message::Hello(hello) => hello.record(state),
            Message::Sample(sample) => sample.record(state, t),
            Message::Warning(warning) => warning.record(state, t),
            Message::Floor(floor) => floor.record(state, t),
            Message::Allocations(reply) => {
                if let Some(list) = state.allocations.get_mut(&reply.id) {
                    list.push((reply.pid, reply.sites));
                }
            }
            Message::Profile(reply) => {
                if let Some(list) = state.profiles.get_mut(&reply.id) {
                    list.push(CpuProfileFile {
                        pid: reply.pid,
                        path: PathBuf::new(),
                        error: reply.error,
                    });
                }
            }
            Message::Iotrace(reply) => {
                if let Some(list) = state.io_traces.get_mut(&reply.id) {
                    let mut process = reply.report.unwrap_or_default();
                    process.pid = reply.pid;
                    if let Some(error) = reply.error {
                        process.error = Some(error);
                    }
                    list.push(process);
                }
            }
            Message::Snapshot(reply) => {
                if let Some(list) = state.snapshots.get_mut(&reply.id) {
                    let failed = reply.error.map(|e| format!("writing it failed: {e}"));
                    list.push(Snapshot {
                        pid: reply.pid,
                        path: PathBuf::new(),
                        ms: reply.ms,
                        heap_used: reply.heap_used,
                        skipped: reply.skipped.or(failed),
                    });
                }
            }
        }
    }
}

impl Hello {
    fn record(self, state: &mut State) {
        let process = state.processes.entry(self.pid).or_default();
        process.pid = self.pid;
        process.ppid = self.ppid;
        process.node = self.node;
        // Its own command line, as every output shows it: secrets redacted.
        process.argv = crate::redact::args(&self.argv);
        process.heap_size_limit = self.heap_size_limit;
    }
}

impl Sample {
    fn record(self, state: &mut State, t: f64) {
        let process = state.processes.entry(self.pid).or_default();
        process.pid = self.pid;
        let (delay, memory) = (self.delay, self.memory);
        process.samples.push(NodeSample {
            t,
            delay_p50: delay.p50,
            delay_p99: delay.p99,
            delay_max: delay.max,
            elu: self.elu,
            rss: memory.rss,
            heap_total: memory.heap_total,
            heap_used: memory.heap_used,
            external: memory.external,
            array_buffers: memory.array_buffers,
            handles: self.handles,
            gc_observed: self.gc_observed,
        });
        process.gc.extend(self.gc.into_iter().map(|g| GcEvent {
            t,
            // The probe sends only these; anything else is what it calls a major one.
            kind: GcKind::parse(&g.kind).unwrap_or(GcKind::Major),
            ms: g.ms,
            heap_after: g.heap_after,
        }));
    }
}

/// Kinds of warning kept per process; a server that warns on every request must not grow
/// harness's memory or its result (once 43 MB for 5 s of load).
const MAX_WARNINGS: usize = 100;

impl WarningMessage {
    fn record(self, state: &mut State, t: f64) {
        let process = state.processes.entry(self.pid).or_default();
        let same = |w: &&mut Warning| {
            w.name == self.name
                && w.location == self.location
                && w.event == self.event
                && w.emitter == self.emitter
        };
        if let Some(seen) = process.warnings.iter_mut().find(same) {
            seen.occurrences += 1;
            return;
        }
        if process.warnings.len() >= MAX_WARNINGS {
            process.warnings_dropped += 1;
            return;
        }
        process.warnings.push(Warning {
            t,
            name: self.name,
            message: self.message,
            stack: self.stack,
            location: self.location,
            event: self.event,
            count: self.count,
            emitter: self.emitter,
            occurrences: 1,
        });
    }
}

impl FloorReply {
    fn record(self, state: &mut State, t: f64) {
        *state.floors_answered.entry(self.id).or_default() += 1;
        let phase = state
            .floor_phases
            .get(&self.id)
            .copied()
            .unwrap_or(PhaseName::Load);
        let process = state.processes.entry(self.pid).or_default();
        let memory = self.memory;
        process.floors.push(Floor {
            t,
            phase,
            heap_used: memory.heap_used,
            heap_total: memory.heap_total,
            external: memory.external,
            array_buffers: memory.array_buffers,
            rss: memory.rss,
            ms: self.ms,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_message_parses_and_junk_does_not() {
        let lines = [
            r#"{"type":"hello","pid":7,"node":"v20"}"#,
            r#"{"type":"sample","pid":7,"elu":0.5,"memory":{"heapUsed":10},"gc":[{"kind":"minor","ms":1}]}"#,
            r#"{"type":"warning","pid":7,"name":"W","message":"m"}"#,
            r#"{"type":"floor","pid":7,"id":1,"heapUsed":5,"external":2,"ms":3}"#,
            r#"{"type":"allocations","pid":7,"id":2,"sites":[]}"#,
            r#"{"type":"profile","pid":7,"id":3,"samples":10}"#,
            r#"{"type":"snapshot","pid":7,"id":4,"ms":1,"heapUsed":9}"#,
        ];
        let mut state = State::default();
        state.floors_answered.insert(1, 0);
        state.floor_phases.insert(1, PhaseName::Load);
        for line in lines {
            let message: Message =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            message.record(&mut state, 1.5);
        }
        let process = &state.processes[&7];
        assert_eq!(process.node, "v20");
        assert_eq!((process.samples.len(), process.gc.len()), (1, 1));
        assert_eq!(process.floors[0].phase, PhaseName::Load);
        assert_eq!(process.floors[0].heap_used, 5);
        assert_eq!(state.floors_answered[&1], 1);
        for junk in [r#"{"type":"nope"}"#, "[1]", r#"{"pid":7}"#] {
            assert!(serde_json::from_str::<Message>(junk).is_err(), "{junk}");
        }
    }
}
