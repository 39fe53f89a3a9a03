//! Renders a saved [`RunResult`]: the terminal summary ([`terminal`]), the JSON document, the
//! self-contained HTML report ([`html`]) with its charts ([`charts`]), JUnit XML
//! ([`junit`]), and the files they go to ([`files`]). Every renderer is a pure function of
//! the result, so `harness report` re-renders any saved run.

pub(crate) mod charts;
pub(crate) mod compare;
pub(crate) mod escape;
pub(crate) mod files;
pub(crate) mod heap_diff;
pub(crate) mod html;
pub(crate) mod io;
pub(crate) mod junit;
pub(crate) mod profile;
pub(crate) mod scenarios;
pub(crate) mod stdout;
pub(crate) mod summary;
pub(crate) mod table;
pub(crate) mod terminal;

use crate::result::RunResult;

/// The JSON document printed by `--json`, one line.
pub(crate) fn json(result: &RunResult) -> anyhow::Result<String> {
    Ok(serde_json::to_string(result)?)
}

/// The target's processes found outside its group, in words.
pub(crate) fn left_group(pids: &[u32]) -> String {
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
