//! The analysis's part of a result: the findings with their evidence, and each threshold's
//! outcome.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{FindingKind, Severity};

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
