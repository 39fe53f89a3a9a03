//! `harness compare BASE NEW`: a table of what changed between two saved results, and exit
//! code 1 when NEW is significantly worse than the tolerances allow.

use super::{Failure, Outcome};
use std::path::PathBuf;

use clap::Parser;

use crate::analyse::compare::{compare, Tolerances};
use crate::exit;

/// This command's name, for its error messages.
const COMMAND: &str = "harness compare";

/// `harness compare`.
#[derive(Debug, Parser)]
#[command(
    name = "harness compare",
    about = "Compare two saved results: what changed, and whether it is more than noise",
    long_about = "Compare two saved results (result.json or --json output): what changed, and \
                  whether it is more than noise (Welch's t-test over the per-second samples). \
                  Exits 1 when NEW is significantly worse than a tolerance allows or has a new \
                  problem finding.\n\nTolerances: a flag wins over the scenario's \
                  [check.compare], which wins over the defaults.",
    max_term_width = 100
)]
pub(super) struct CompareCli {
    /// The baseline result.
    #[arg(value_name = "BASE")]
    pub base: PathBuf,
    /// The result to judge.
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// Largest allowed drop in requests/s [default: 5%].
    #[arg(long, value_name = "PERCENT", value_parser = crate::units::percent)]
    pub max_rps_drop: Option<f64>,
    /// Largest allowed rise of latency p50, p90 or p99 [default: 10%].
    #[arg(long, value_name = "PERCENT", value_parser = crate::units::percent)]
    pub max_latency_rise: Option<f64>,
    /// Largest allowed rise of the error rate, in percentage points [default: 1%].
    #[arg(long, value_name = "PERCENT", value_parser = crate::units::percent)]
    pub max_error_rise: Option<f64>,
    /// Significance level: a difference with a larger p-value is noise.
    #[arg(long, default_value = "0.05", value_parser = alpha)]
    pub alpha: f64,
    /// Take tolerances from this scenario file's [check.compare].
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Also write one self-contained HTML page: the table, the findings that changed, and
    /// both runs' charts overlaid.
    #[arg(long, value_name = "OUT.html")]
    pub html: Option<PathBuf>,
}

fn alpha(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v > 0.0 && v < 1.0 => Ok(v),
        _ => Err(format!(
            "'{text}' is not a probability between 0 and 1; e.g. 0.05"
        )),
    }
}

/// Runs `harness compare ARGS`.
pub(super) fn main(args: &[std::ffi::OsString]) -> Outcome {
    let cli: CompareCli = super::parse_sub(COMMAND, args)?;
    let tolerances = tolerances(&cli).map_err(Failure::usage)?;
    let base = crate::result::load(&cli.base).map_err(Failure::usage)?;
    let new = crate::result::load(&cli.new).map_err(Failure::usage)?;
    let comparison = compare(&base, &new, &tolerances);
    if let Some(out) = &cli.html {
        let page = crate::report::html::compare::render(
            (&cli.base, &cli.new),
            (&base, &new),
            &comparison,
            &tolerances,
        );
        page.and_then(|page| crate::report::files::write_whole(out, page.as_bytes()))
            .map_err(|err| Failure::error(format!("--html: {err:#}")))?;
    }
    crate::report::stdout::say(&crate::report::compare::render(
        &cli.base,
        &cli.new,
        &comparison,
        &tolerances,
    ));
    Ok(if comparison.failed() {
        exit::FAILED
    } else {
        exit::OK
    })
}

/// Flags, then the scenario's `[check.compare]`, then the defaults.
fn tolerances(cli: &CompareCli) -> Result<Tolerances, String> {
    let mut t = Tolerances {
        alpha: cli.alpha,
        ..Tolerances::default()
    };
    if let Some(path) = &cli.scenario {
        let file = crate::scenario::load(path).map_err(|e| e.0)?.file;
        let c = &file.check.compare;
        t.rps_drop = c.max_rps_drop.unwrap_or(t.rps_drop);
        t.latency_rise = c.max_latency_rise.unwrap_or(t.latency_rise);
        t.error_rise = c.max_error_rise.unwrap_or(t.error_rise);
    }
    t.rps_drop = cli.max_rps_drop.unwrap_or(t.rps_drop);
    t.latency_rise = cli.max_latency_rise.unwrap_or(t.latency_rise);
    t.error_rise = cli.max_error_rise.unwrap_or(t.error_rise);
    Ok(t)
}
