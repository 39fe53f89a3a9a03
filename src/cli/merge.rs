//! `harness merge A.json B.json ...`: one result from a sharded run's shards, with the
//! thresholds checked on the whole (see [`crate::analyse::merge`]).

use super::{Failure, Outcome};
use std::path::PathBuf;

use clap::Parser;

use crate::analyse::merge::{merge, Shard};
use crate::exit;

/// This command's name, for its error messages.
const COMMAND: &str = "harness merge";

/// `harness merge`.
#[derive(Debug, Parser)]
#[command(
    name = "harness merge",
    about = "Merge the results of a sharded run (--shard I/N) into one, and check thresholds on it",
    long_about = "Merge the results of a sharded run (--shard I/N) into one: the latency \
                  histograms are added exactly, counts, errors and status codes summed, the \
                  per-second series aligned by wall-clock second. Thresholds are checked on \
                  the merged result: exit 1 when one is not met, 2 when the files cannot be \
                  merged (different URLs or scenarios, a shard given twice or missing).",
    max_term_width = 100
)]
pub(super) struct MergeCli {
    /// The shards' results (result.json or --json output), one per shard.
    #[arg(value_name = "RESULT", required = true)]
    pub results: Vec<PathBuf>,
    /// Write the merged result (JSON) to this file.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write result.json and report.html of the merged result to this directory.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Fail (exit 1) unless the merged result meets this rule, e.g. 'p99<50ms'; repeat for
    /// several.
    #[arg(long = "threshold", value_name = "RULE", value_parser = super::parse::threshold)]
    pub thresholds: Vec<crate::analyse::Threshold>,
    /// Write the thresholds' outcomes as JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Merge the shards given even when some are missing.
    #[arg(long)]
    pub allow_partial: bool,
    /// Print the merged result as JSON on stdout instead of tables.
    #[arg(short = 'j', long)]
    pub json: bool,
}

/// Runs `harness merge ARGS`.
pub(super) fn main(args: &[std::ffi::OsString]) -> Outcome {
    let cli: MergeCli = super::parse_sub(COMMAND, args)?;
    let shards = cli
        .results
        .iter()
        .map(|path| {
            crate::result::load(path).map(|result| Shard {
                file: path.display().to_string(),
                result,
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(Failure::usage)?;
    let shard_rules: Vec<String> = shards
        .iter()
        .filter_map(|shard| shard.result.shard.as_ref())
        .flat_map(|info| info.thresholds.iter().cloned())
        .collect();
    let mut result = merge(shards, cli.allow_partial).map_err(Failure::usage)?;
    crate::analyse::annotate(&mut result);
    let rules = rules(&cli, &shard_rules).map_err(Failure::usage)?;
    result.thresholds = rules.iter().map(|t| t.evaluate(&result)).collect();
    write(&cli, &result).map_err(|err| Failure::error(format!("{err:#}")))?;
    if cli.json {
        let json =
            crate::report::json(&result).map_err(|err| Failure::error(format!("{err:#}")))?;
        crate::report::stdout::say(&format!("{json}\n"));
    } else {
        crate::report::stdout::say(&format!(
            "Merged {} shard(s):\n{}\n{}",
            result.merged.len(),
            shard_lines(&result),
            crate::report::terminal::render(&result, false, false)
        ));
    }
    Ok(if result.thresholds.iter().all(|t| t.passed) {
        exit::OK
    } else {
        exit::FAILED
    })
}

/// A line per merged shard.
fn shard_lines(result: &crate::result::RunResult) -> String {
    result
        .merged
        .iter()
        .map(|s| {
            format!(
                "  shard {}: {} ({} requests, {} errors, {} connections, started {} s after the first{})\n",
                s.index,
                s.file,
                crate::units::thousands(s.requests),
                crate::units::thousands(s.errors),
                s.connections,
                s.behind,
                if s.late_by > 0.0 {
                    format!(", {} s after --start-at", s.late_by)
                } else {
                    String::new()
                }
            )
        })
        .collect()
}

/// The shards' own thresholds (their scenario's and `--threshold`s, each once), then
/// `--threshold`s given here.
fn rules(cli: &MergeCli, from_shards: &[String]) -> Result<Vec<crate::analyse::Threshold>, String> {
    let mut rules: Vec<crate::analyse::Threshold> = Vec::new();
    for text in from_shards {
        let rule = crate::analyse::Threshold::parse(text)
            .map_err(|e| format!("a shard's threshold '{text}': {e}"))?;
        if !rules.iter().any(|r| r.text == rule.text) {
            rules.push(rule);
        }
    }
    for rule in &cli.thresholds {
        if !rules.iter().any(|r| r.text == rule.text) {
            rules.push(rule.clone());
        }
    }
    Ok(rules)
}

/// The merged result's files.
fn write(cli: &MergeCli, result: &crate::result::RunResult) -> anyhow::Result<()> {
    if let Some(dir) = &cli.report {
        std::fs::create_dir_all(dir)?;
        let path = crate::report::files::write(dir, result)?;
        eprintln!("report: {}", path.display());
    }
    if let Some(path) = &cli.output {
        let json = crate::report::json(result)?;
        crate::report::files::write_whole(path, json.as_bytes())?;
    }
    if let Some(path) = &cli.junit {
        let name = result.scenario.as_deref().unwrap_or("harness merge");
        crate::report::junit::write(path, &[crate::report::junit::Suite::ran(name, result)])?;
    }
    Ok(())
}
