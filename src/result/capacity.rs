//! The capacity search's part of a result (`--find-max`): each step of the open-model load
//! with its own figures and judgement, the highest rate that met every rule, and what
//! limited the server just above it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Evidence, LimitKind, SearchEnd};

/// The capacity search.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Capacity {
    /// The highest offered rate (requests per second) at which every rule held, confirmed
    /// by a second step at it unless `partial`; absent when no rate passed.
    pub max_rate: Option<f64>,
    /// The rules every step had to meet: the user's (`--find-max`) and the two always
    /// added (errors under 1 %, requests in flight not growing).
    pub rules: Vec<String>,
    /// The precision of the answer: the search stops when the failing rate above it is
    /// within this share of it.
    pub precision: f64,
    /// How the search ended.
    pub end: SearchEnd,
    /// The answer is not confirmed to the precision (interrupted, out of steps or time, or
    /// stopped by a limit that is not the server's).
    pub partial: bool,
    /// What limited the server at the first failing rate above the answer.
    pub limit: CapacityLimit,
    /// The closed-model probe that chose the first rate, when `--start` was not given:
    /// its throughput, requests per second.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub probe_rate: Option<f64>,
    /// Every step, in the order they ran.
    pub steps: Vec<CapacityStep>,
}

impl Capacity {
    /// A search not yet run: these rules at this precision, no step, no limit.
    pub(crate) fn before(rules: Vec<String>, precision: f64) -> Capacity {
        Capacity {
            max_rate: None,
            rules,
            precision,
            end: SearchEnd::Found,
            partial: false,
            limit: CapacityLimit {
                kind: LimitKind::Unknown,
                sentence: String::new(),
                evidence: Vec::new(),
            },
            probe_rate: None,
            steps: Vec::new(),
        }
    }
}

/// What limited the server.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CapacityLimit {
    /// Its kind.
    pub kind: LimitKind,
    /// The sentence that says it, e.g. "the event loop, 98 % busy, most of the time in
    /// `renderInvoice` (app.js:12)".
    pub sentence: String,
    /// The figures it rests on.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
}

/// One step: a constant open-model rate for the step's duration, judged on its own.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct CapacityStep {
    /// Offered rate, requests per second.
    pub rate: f64,
    /// Responses per second over the step.
    pub achieved: f64,
    /// When it began and ended, on the run's clock, seconds.
    pub start: f64,
    /// When it ended.
    pub end: f64,
    /// Requests sent.
    pub sent: u64,
    /// Responses received.
    pub completed: u64,
    /// Latency from each request's planned send time, ms.
    pub latency_p50: f64,
    /// 99th percentile, ms.
    pub latency_p99: f64,
    /// Worst, ms.
    pub latency_max: f64,
    /// Median latency from each request's actual send, ms: the server's time alone, without
    /// the wait for a free connection.
    pub service_p50: f64,
    /// Requests that failed (errors and failed checks).
    pub errors: u64,
    /// Requests sent more than 10 ms after their planned time (every connection busy, or
    /// harness itself late).
    pub late: u64,
    /// Requests still in flight when the step ended.
    pub unfinished: u64,
    /// The busiest Node process's mean event-loop utilisation over the step, 0..1.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub utilisation: Option<f64>,
    /// The target's mean CPU over the step, percent of one core.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cpu: Option<f64>,
    /// harness's own CPU over the step, percent of one core.
    pub harness_cpu: f64,
    /// How late harness's workers woke for their own timers over the step, 99th
    /// percentile, ms: the wait harness's scheduling added to each send and read.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub harness_delay_p99: Option<f64>,
    /// The whole machine's mean CPU over the step, percent of all its cores (with a target
    /// harness watches).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub machine_cpu: Option<f64>,
    /// Every rule held.
    pub passed: bool,
    /// The rules it failed, each with its measured value.
    #[serde(default)]
    pub why: Vec<String>,
}
