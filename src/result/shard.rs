//! Sharded runs (`--shard I/N`) and their merge (`harness merge`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::TargetInfo;

/// Which part of a sharded load this run was.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShardInfo {
    /// From 1 to `count`.
    pub index: u64,
    /// How many shards shared the load.
    pub count: u64,
    /// `--start-at`, RFC 3339, when given.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub start_at: Option<String>,
    /// Seconds after `startAt` that this shard's load began (0 when on time, or without
    /// `--start-at`): a late shard's seconds do not line up with the others'.
    #[serde(default)]
    pub late_by: f64,
    /// The run's thresholds, not checked on this part of the load: `harness merge` checks
    /// them on the whole.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub thresholds: Vec<String>,
}

/// One shard of a merged result (`harness merge`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MergedShard {
    /// The shard's file as given to `harness merge`.
    pub file: String,
    /// Its index, from 1.
    pub index: u64,
    /// When its measured window opened, RFC 3339.
    pub start: String,
    /// Seconds after `--start-at` its load began.
    pub late_by: f64,
    /// Seconds its measured window opened after the earliest shard's.
    pub behind: f64,
    /// Responses it completed.
    pub requests: u64,
    /// Its errors.
    pub errors: u64,
    /// Its connections.
    pub connections: u64,
    /// The target it started or watched, if any, under this shard's name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub target: Option<TargetInfo>,
}
