//! `harness merge A.json B.json ...`: one result from a sharded run's shards, with the
//! thresholds checked on the whole (see [`crate::merge`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::exit;
use crate::merge::{merge, Shard};

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
pub struct MergeCli {
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
pub fn main(args: &[std::ffi::OsString]) -> ExitCode {
    let argv = std::iter::once(COMMAND.into()).chain(args.iter().cloned());
    let cli = match MergeCli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(err) => return ExitCode::from(super::clap_exit(err, COMMAND)),
    };
    let shards = cli.results.iter().map(|path| {
        crate::result::load(path).map(|result| Shard {
            file: path.display().to_string(),
            result,
        })
    });
    let mut shard_rules = Vec::new();
    let merged = shards
        .collect::<Result<Vec<_>, String>>()
        .and_then(|shards| {
            for shard in &shards {
                if let Some(info) = &shard.result.shard {
                    shard_rules.extend(info.thresholds.iter().cloned());
                }
            }
            merge(shards, cli.allow_partial)
        });
    let mut result = match merged {
        Ok(result) => result,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(exit::USAGE);
        }
    };
    crate::analyse::annotate(&mut result);
    let rules = match rules(&cli, &shard_rules) {
        Ok(rules) => rules,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(exit::USAGE);
        }
    };
    result.thresholds = rules.iter().map(|t| t.evaluate(&result)).collect();
    if let Err(err) = write(&cli, &result) {
        eprintln!("error: {err:#}");
        return ExitCode::from(exit::ERROR);
    }
    if cli.json {
        match crate::report::json(&result) {
            Ok(json) => crate::report::stdout::say(&format!("{json}\n")),
            Err(err) => {
                eprintln!("error: {err:#}");
                return ExitCode::from(exit::ERROR);
            }
        }
    } else {
        let shards: Vec<String> = result
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
            .collect();
        crate::report::stdout::say(&format!(
            "Merged {} shard(s):\n{}\n{}",
            result.merged.len(),
            shards.concat(),
            crate::report::terminal::render(&result, false, false)
        ));
    }
    ExitCode::from(if result.thresholds.iter().all(|t| t.passed) {
        exit::OK
    } else {
        exit::FAILED
    })
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
        let xml = crate::report::junit::render(&[crate::report::junit::Suite::ran(name, result)]);
        crate::report::files::write_whole(path, xml.as_bytes())?;
    }
    Ok(())
}
