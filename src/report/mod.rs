//! Renders a saved [`RunResult`]: the terminal summary ([`terminal`]), the JSON document, the
//! self-contained HTML report ([`html`]) with its charts ([`charts`]), JUnit XML
//! ([`junit`]), and the files they go to ([`files`]). Every renderer is a pure function of
//! the result, so `harness report` re-renders any saved run.

pub mod charts;
pub mod compare;
pub mod files;
pub mod heap_diff;
pub mod html;
pub mod junit;
pub mod profile;
pub mod scenarios;
pub mod stdout;
pub mod summary;
pub mod table;
pub mod terminal;

use crate::result::RunResult;

/// The JSON document printed by `--json`, one line.
pub fn json(result: &RunResult) -> anyhow::Result<String> {
    Ok(serde_json::to_string(result)?)
}

/// The target's processes found outside its group, in words.
pub fn left_group(pids: &[u32]) -> String {
    let list: Vec<String> = pids.iter().map(u32::to_string).collect();
    let (noun, it) = if pids.len() == 1 {
        ("process", "it")
    } else {
        ("processes", "them")
    };
    format!(
        "{noun} {} had left the target's process group (detached or daemonised); harness stopped {it} by pid",
        list.join(", ")
    )
}
