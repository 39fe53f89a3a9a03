//! The analysis's part of a result: the findings with their evidence, and each threshold's
//! outcome.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{FindingKind, Severity, TrialOutcome};

/// A finding of the analysis.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FindingEntry {
    /// What kind of finding it is.
    pub kind: FindingKind,
    /// How much it matters.
    pub severity: Severity,
    /// What was found.
    pub title: String,
    /// What to do next.
    pub advice: String,
    /// The numbers behind it.
    pub evidence: Vec<Evidence>,
    /// For a memory finding: what the heap trace on a fresh copy of the target said.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub confirmation: Option<Confirmation>,
}

/// What the heap trace on a fresh copy of the target said of the measured run's leak.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Confirmation {
    /// Confirmed, refuted, or undecided.
    pub outcome: TrialOutcome,
    /// Bytes the copy kept (added during the trace and alive after its cooldown).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retained: Option<u64>,
    /// Bytes the measured run predicts for the trace's responses.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub predicted: Option<u64>,
    /// The code holding what the copy kept, as the heap analysis names it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub holder: Option<String>,
    /// Why nothing was decided.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub note: Option<String>,
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
