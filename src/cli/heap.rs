//! `harness heap-diff BASE AFTER [FINAL]`: the heap analysis of a run, on snapshots taken
//! elsewhere (DevTools, `node --heapsnapshot-signal`, `v8.writeHeapSnapshot`). With one file,
//! the classes of that snapshot by size (DevTools' Summary view).

use super::{Failure, Outcome};
use std::path::PathBuf;

use clap::Parser;

use crate::analyse::heap;
use crate::exit;
use crate::report::heap_diff;

/// This command's name, for its error messages.
const COMMAND: &str = "harness heap-diff";

/// `harness heap-diff`.
#[derive(Debug, Parser)]
#[command(
    name = "harness heap-diff",
    about = "Which objects leaked between heap snapshots of one process, and what holds them",
    long_about = "Which objects leaked between heap snapshots of one Node process, and what \
                  holds them. BASE is taken before the suspected leak, AFTER after it, and \
                  FINAL (optional) once things should have settled: leaked objects are those \
                  new in AFTER and, with FINAL, still alive in it. With one file, its classes \
                  by size.",
    max_term_width = 100
)]
pub(super) struct HeapCli {
    /// Snapshot files (.heapsnapshot), oldest first: BASE [AFTER [FINAL]].
    #[arg(value_name = "SNAPSHOT", num_args = 1..=3, required = true)]
    pub snapshots: Vec<PathBuf>,
    /// Print the analysis as JSON.
    #[arg(short, long)]
    pub json: bool,
}

/// Runs `harness heap-diff ARGS`.
pub(super) fn main(args: &[std::ffi::OsString]) -> Outcome {
    let cli: HeapCli = super::parse_sub(COMMAND, args)?;
    let text = run(&cli).map_err(Failure::usage)?;
    if cli.json {
        crate::report::stdout::say_data(&text);
    } else {
        crate::report::stdout::say(&text);
    }
    Ok(exit::OK)
}

fn run(cli: &HeapCli) -> Result<String, String> {
    let files = &cli.snapshots;
    if let [only] = files.as_slice() {
        let graph = heap::load(only)?;
        let summary = heap::diff::class_sizes(&graph);
        if cli.json {
            return pretty(&summary);
        }
        return Ok(heap_diff::classes(
            only,
            graph.node_count() as u64,
            &summary,
        ));
    }
    let (first, middle, last) = match files.as_slice() {
        [a, b] => (a, None, b),
        [a, b, c] => (a, Some(b), c),
        _ => unreachable!("clap allows 1 to 3 files"),
    };
    let analysis = heap::analyse_files(first, middle.map(|p| p.as_path()), last)?;
    if cli.json {
        return pretty(&analysis);
    }
    Ok(heap_diff::analysis(
        middle.unwrap_or(last),
        middle.map(|_| last.as_path()),
        &analysis,
    ))
}

/// Pretty JSON, newline-terminated, for `--json`.
fn pretty(value: &impl serde::Serialize) -> Result<String, String> {
    serde_json::to_string_pretty(value)
        .map(|s| s + "\n")
        .map_err(|e| e.to_string())
}
