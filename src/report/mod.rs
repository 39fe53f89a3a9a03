//! Turns what the load generator measured into the saved [`result::RunResult`] and renders
//! it: terminal tables ([`terminal`]), the JSON document, and a progress bar while it runs.

pub mod charts;
pub mod files;
pub mod html;
pub mod junit;
pub mod progress;
pub mod result;
pub mod stats;
pub mod terminal;

use result::RunResult;

/// The JSON document printed by `--json`, one line.
pub fn json(result: &RunResult) -> anyhow::Result<String> {
    Ok(serde_json::to_string(result)?)
}
