//! `harness profile FILE.cpuprofile`: the hot code of a CPU profile taken elsewhere
//! (`node --cpu-prof`, Chrome DevTools, a profile harness saved beside a report), with the
//! same rules as a run's CPU trace.

use super::{Failure, Outcome};
use std::path::PathBuf;

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
pub(super) struct ProfileCli {
    /// The profile file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print the summary as JSON.
    #[arg(short, long)]
    pub json: bool,
}

/// Runs `harness profile ARGS`.
pub(super) fn main(args: &[std::ffi::OsString]) -> Outcome {
    let cli: ProfileCli = super::parse_sub(COMMAND, args)?;
    let mut summary = profile::summarise(&profile::load(&cli.file).map_err(Failure::usage)?);
    profile::name_anonymous(
        &mut summary,
        &mut crate::analyse::source::Sources::default(),
    );
    if cli.json {
        let json = serde_json::to_string_pretty(&summary).map_err(Failure::error)?;
        crate::report::stdout::say_data(&(json + "\n"));
    } else {
        crate::report::stdout::say(&crate::report::profile::render(&summary));
    }
    Ok(exit::OK)
}
