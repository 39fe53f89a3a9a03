//! `harness profile FILE.cpuprofile`: the hot code of a CPU profile taken elsewhere
//! (`node --cpu-prof`, Chrome DevTools, a profile harness saved beside a report), with the
//! same rules as a run's CPU trace.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::analyse::profile::{self, place, CpuProfile, FunctionTime};
use crate::exit;
use crate::report::terminal::profile_heading;

/// This command's name, for its error messages.
const COMMAND: &str = "harness profile";

/// `harness profile`.
#[derive(Debug, Parser)]
#[command(
    name = "harness profile",
    about = "The hot code of a V8 CPU profile (.cpuprofile)",
    long_about = "The hot code of a V8 CPU profile (.cpuprofile, as node --cpu-prof and Chrome \
                  DevTools write it): the app's functions with the most time, time in Node, V8 \
                  and node_modules credited to the app function that called it, and the top \
                  functions by self and total time.",
    max_term_width = 100
)]
pub struct ProfileCli {
    /// The profile file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print the summary as JSON.
    #[arg(short, long)]
    pub json: bool,
}

/// Runs `harness profile ARGS`.
pub fn main(args: &[std::ffi::OsString]) -> ExitCode {
    let argv = std::iter::once(COMMAND.into()).chain(args.iter().cloned());
    let cli = match ProfileCli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(err) => return ExitCode::from(super::clap_exit(err, COMMAND)),
    };
    let summary = match profile::load(&cli.file) {
        Ok(parsed) => profile::summarise(&parsed),
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let text = if cli.json {
        match serde_json::to_string_pretty(&summary) {
            Ok(json) => json + "\n",
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::from(exit::ERROR);
            }
        }
    } else {
        render(&summary)
    };
    print!("{text}");
    ExitCode::from(exit::OK)
}

/// The summary as text: the hot code, then the top functions by self and by total time.
fn render(summary: &CpuProfile) -> String {
    let mut out = format!(
        "{}\n\nHot code (share of the busy time):\n",
        profile_heading(summary)
    );
    for hot in summary.hot.iter().take(10) {
        let callee = hot.callee.as_ref().map_or(String::new(), |c| {
            format!(
                ", {:.0} % of it in `{}` ({})",
                c.share * 100.0,
                c.function,
                place(&c.url, c.line)
            )
        });
        let own = format!("`{}` ({})", hot.function, place(&hot.url, hot.line));
        let mark = if hot.app { "" } else { "  [not app code]" };
        out += &format!("  {:>5.1} %  {own}{callee}{mark}\n", hot.share * 100.0);
    }
    out += &table("By self time", &summary.by_self);
    out += &table("By total time", &summary.by_total);
    out
}

fn table(title: &str, rows: &[FunctionTime]) -> String {
    let mut out = format!("\n{title}:\n  {:>7} {:>7}  function\n", "self", "total");
    for row in rows {
        out += &format!(
            "  {:>6.1}% {:>6.1}%  {} ({})\n",
            row.self_share * 100.0,
            row.total_share * 100.0,
            row.function,
            place(&row.url, row.line)
        );
    }
    out
}
