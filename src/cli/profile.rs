//! `harness profile FILE.cpuprofile`: the hot code of a CPU profile taken elsewhere
//! (`node --cpu-prof`, Chrome DevTools, a profile harness saved beside a report), with the
//! same rules as a run's CPU trace.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::analyse::profile;
use crate::exit;

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
    if cli.json {
        match serde_json::to_string_pretty(&summary) {
            Ok(json) => crate::report::stdout::say_data(&(json + "\n")),
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::from(exit::ERROR);
            }
        }
    } else {
        crate::report::stdout::say(&crate::report::profile::render(&summary));
    }
    ExitCode::from(exit::OK)
}
