//! The target's part of a result: the process, the run's phases, and the process samples.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::PhaseName;

impl Phase {
    /// A phase of the run on its clock.
    pub fn new(name: PhaseName, start: f64, end: f64) -> Phase {
        Phase { name, start, end }
    }

    /// Whether this is the phase `name`.
    pub fn is(&self, name: PhaseName) -> bool {
        self.name == name
    }
}

/// A phase of the run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Which phase.
    pub name: PhaseName,
    /// Start, seconds on the run's clock.
    pub start: f64,
    /// End, seconds on the run's clock.
    pub end: f64,
}

/// An attachment through the process's inspector.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Attached {
    /// Where the inspector listened, `HOST:PORT`.
    pub inspector: String,
    /// harness opened it (SIGUSR1) and closed it after the run; false when it was open.
    pub opened: bool,
    /// The process's Node version.
    pub node: String,
    /// The probe was loaded into the process and reported.
    pub probe: bool,
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
    /// Processes of the target found outside its process group (a detached child, a
    /// daemon), stopped by pid with the same signals.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_group: Vec<u32>,
    /// How harness attached to a Node process it did not start (`--pid`), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached: Option<Attached>,
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
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
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
    /// The other processes that used the most CPU since the last such entry (once a second,
    /// on Linux): neither the target's nor harness's. A database or service on the same
    /// machine is often what the target waits on.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub others: Vec<OtherProcess>,
}

/// A process outside the target and harness, and the CPU it used.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OtherProcess {
    /// Its command name (`/proc/PID/comm`), the processes of one name together.
    pub name: String,
    /// Their CPU, percent of one core.
    pub cpu: f64,
}
