//! The command line: flags named after autocannon's, parsed with clap, resolved into a
//! [`Plan`](crate::plan::Plan), and the process entry point that maps outcomes to exit codes.

mod compare;
mod heap;
mod merge;
pub(crate) mod parse;
mod profile;
pub(crate) mod resolve;
mod scenarios;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser};

use crate::exit;

use crate::plan::UsageError;

/// Load-test an HTTP server: autocannon's flags, wrk2's latency rules.
#[derive(Debug, Parser)]
#[command(
    name = "harness",
    version,
    about,
    max_term_width = 100,
    after_help = "More commands:\n  harness run SCENARIO.toml|FOLDER [OPTIONS]   run scenario files and check their thresholds\n  harness compare BASE.json NEW.json           what changed between two results, beyond noise\n  harness report RESULT.json [-o OUT.html]     render a saved result again\n  harness heap-diff BASE AFTER [FINAL]         which objects leaked between heap snapshots\n  harness profile FILE.cpuprofile              the hot code of a CPU profile\n\nExit codes: 0 ok, 1 a threshold failed, 2 usage error, 3 the target failed, 4 harness failed."
)]
pub(crate) struct Cli {
    /// The URL to load: http:// or https://, e.g. http://localhost:3030/
    #[arg(value_name = "URL", help_heading = None)]
    pub url: String,

    #[command(flatten)]
    pub opts: Options,

    /// The target command: harness starts it, waits until it serves, watches it, stops it.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// The flags shared by `harness URL` and `harness run SCENARIO`.
#[derive(Debug, Clone, Args)]
pub(crate) struct Options {
    /// Number of concurrent connections.
    #[arg(short, long, default_value = "10", value_parser = parse::positive)]
    pub connections: u64,

    /// How long to measure: seconds, or with a unit (30, 30s, 500ms, 2m). Default 10 s.
    #[arg(short, long, value_parser = parse::duration, conflicts_with = "amount")]
    pub duration: Option<Duration>,

    /// Send this many requests in total instead of running for a duration.
    #[arg(short, long, value_name = "N", value_parser = parse::positive)]
    pub amount: Option<u64>,

    /// Requests in flight per connection (HTTP/1.1 pipelining, or HTTP/2 streams).
    #[arg(short, long, default_value = "1", value_parser = parse::positive)]
    pub pipelining: u64,

    /// Open model: total requests per second, each latency measured from its planned send time.
    #[arg(short = 'R', long, value_name = "REQ/S", value_parser = parse::rate)]
    pub rate: Option<f64>,

    /// Find the highest rate the server sustains with RULE holding ('p99<50ms'), in
    /// open-model steps that double the rate, then bisect; repeat for several rules. Errors
    /// under 1 % and no growth of requests in flight are always added.
    #[arg(long = "find-max", value_name = "RULE", value_parser = parse::threshold, help_heading = "Capacity")]
    pub find_max: Vec<crate::analyse::Threshold>,

    /// The capacity search's first rate. Default: half the throughput of a 2 s closed-model
    /// probe.
    #[arg(long = "start", value_name = "REQ/S", value_parser = parse::rate, help_heading = "Capacity")]
    pub start_rate: Option<f64>,

    /// Length of each step of the capacity search.
    #[arg(long, value_name = "TIME", default_value = "5s", value_parser = parse::duration, help_heading = "Capacity")]
    pub step_duration: Duration,

    /// The capacity search stops when the failing rate above its answer is within this
    /// share of it.
    #[arg(long, value_name = "PERCENT", default_value = "5%", value_parser = crate::units::percent, help_heading = "Capacity")]
    pub precision: f64,

    /// The capacity search's time limit (it also stops after 20 steps).
    #[arg(long, value_name = "TIME", default_value = "2m", value_parser = parse::duration, help_heading = "Capacity")]
    pub max_duration: Duration,

    /// HTTP method.
    #[arg(short, long, default_value = "GET", value_parser = parse::method)]
    pub method: String,

    /// Request header 'Name: value'; repeat for several.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = parse::header)]
    pub headers: Vec<(String, String)>,

    /// Request body.
    #[arg(short, long, conflicts_with = "input")]
    pub body: Option<String>,

    /// Check every response's status: a code, a class, or a list (200, 2xx, 200,204). A
    /// response that fails counts as an error of kind 'check'.
    #[arg(long, value_name = "STATUS", value_parser = parse::status, help_heading = "Checks")]
    pub expect_status: Option<crate::plan::StatusRule>,

    /// Check that every response's body contains TEXT (the first 1 MiB of it).
    #[arg(long, value_name = "TEXT", help_heading = "Checks")]
    pub expect_body: Option<String>,

    /// Read the request body from this file.
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Per-request timeout: seconds or with a unit. A timed-out request's connection reconnects.
    #[arg(short, long, default_value = "10", value_parser = parse::duration)]
    pub timeout: Duration,

    /// Worker threads [default: the number of CPU cores].
    #[arg(short, long, value_parser = parse::positive)]
    pub workers: Option<u64>,

    /// Stop the run after this many errors.
    #[arg(short = 'B', long, value_name = "N", value_parser = parse::positive)]
    pub bailout: Option<u64>,

    /// Print the result as one JSON document on stdout (no tables, no progress bar).
    #[arg(short, long)]
    pub json: bool,

    /// Print the full latency percentile table.
    #[arg(short, long)]
    pub latency: bool,

    /// Do not show the progress bar.
    #[arg(short, long)]
    pub no_progress: bool,

    /// Send load for this long before measuring (not recorded).
    #[arg(long, value_name = "DURATION", value_parser = parse::duration)]
    pub warmup: Option<Duration>,

    /// Use HTTP/2 (ALPN over https, prior knowledge over http).
    #[arg(long)]
    pub http2: bool,

    /// Accept any TLS certificate.
    #[arg(long, conflicts_with = "cacert")]
    pub insecure: bool,

    /// Trust the CA certificates in this PEM file, besides the system's.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Connect to this Unix socket; the URL still gives the Host header and path.
    #[arg(short = 'S', long, value_name = "PATH")]
    pub socket_path: Option<PathBuf>,

    /// Write result.json and report.html to this directory [default with a target:
    /// reports/<name>-<time>/].
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,

    /// Watch this already running process instead of starting one; a Node process gets the
    /// probe through its inspector (opened with SIGUSR1 on 127.0.0.1:9229, closed after).
    #[arg(long, value_name = "PID", help_heading = "Target")]
    pub pid: Option<u32>,

    /// With --pid: the process's inspector is already open at HOST:PORT (node
    /// --inspect=HOST:PORT); harness uses it and leaves it open.
    #[arg(
        long,
        value_name = "HOST:PORT",
        requires = "pid",
        help_heading = "Target"
    )]
    pub inspect: Option<std::net::SocketAddr>,

    /// How long the target may take to accept connections.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse::duration, help_heading = "Target")]
    pub ready_timeout: Duration,

    /// Idle time before the load, to see the target at rest. Default: until it is at rest
    /// (0.5 s to 3 s); a value given here is a fixed length.
    #[arg(long, value_name = "DURATION", value_parser = parse::duration, help_heading = "Target")]
    pub baseline: Option<Duration>,

    /// Idle time after the load, for sockets and in-flight work to end. Default: until the
    /// target is back at rest (0.5 s to 6 s); a value given here is a fixed length.
    #[arg(long, value_name = "DURATION", value_parser = parse::duration, help_heading = "Target")]
    pub cooldown: Option<Duration>,

    /// How often the target is sampled.
    #[arg(long, default_value = "100ms", value_name = "DURATION", value_parser = parse::duration, help_heading = "Target")]
    pub sample_interval: Duration,

    /// How long the target may take to exit after SIGINT before SIGTERM, then SIGKILL.
    #[arg(long, default_value = "5s", value_name = "DURATION", value_parser = parse::duration, help_heading = "Target")]
    pub grace: Duration,

    /// Do not inject the Node probe into the target.
    #[arg(long, help_heading = "Target")]
    pub no_probe: bool,

    /// Always run the heap trace after the cooldown: more load, unmeasured, between heap
    /// snapshots (by default only when a memory or listener leak is found).
    #[arg(long, conflicts_with = "no_heap", help_heading = "Target")]
    pub heap: bool,

    /// Take no heap snapshots and run no heap trace (each snapshot stalls the process:
    /// about 1 s per 10 MB of heap).
    #[arg(long, help_heading = "Target")]
    pub no_heap: bool,

    /// Always take a CPU profile of the target after the cooldown (a CPU trace: a few
    /// seconds more of the load, unmeasured); by default only when the run finds a blocked
    /// event loop, GC pressure or costly requests at capacity.
    #[arg(long, conflicts_with = "no_profile", help_heading = "Target")]
    pub profile: bool,

    /// Take no CPU profile.
    #[arg(long, help_heading = "Target")]
    pub no_profile: bool,

    /// Always run an I/O trace after the cooldown (a few seconds more of the load,
    /// unmeasured, in which the Node probe tells what each request waits on and where the app
    /// makes that call); by default only when the run finds I/O wait.
    #[arg(long, conflicts_with = "no_io_trace", help_heading = "Target")]
    pub io_trace: bool,

    /// Run no I/O trace.
    #[arg(long, help_heading = "Target")]
    pub no_io_trace: bool,

    /// Skip heap snapshots of processes whose used heap is over this size.
    #[arg(long, default_value = "64MB", value_name = "SIZE", value_parser = parse::size, help_heading = "Target")]
    pub heap_limit: u64,

    /// Fail the run (exit 1) unless this holds: 'p99<50ms', 'errors<1%', 'rps>5000',
    /// 'leak=none', 'memory-growth<20MB', 'loop-delay<100ms', 'finding!=gcPressure'. Repeat
    /// for several.
    #[arg(long = "threshold", value_name = "RULE", value_parser = parse::threshold, help_heading = "Checks")]
    pub thresholds: Vec<crate::analyse::Threshold>,

    /// Write the thresholds' outcomes as JUnit XML to this file (one test case each).
    #[arg(long, value_name = "FILE", help_heading = "Checks")]
    pub junit: Option<PathBuf>,

    /// Append a Markdown summary (verdict, key numbers, thresholds, report path) to this
    /// file. Default: the file in $GITHUB_STEP_SUMMARY, when set (GitHub Actions' job
    /// summary).
    #[arg(long, value_name = "FILE", help_heading = "Checks")]
    pub summary_md: Option<PathBuf>,

    /// Run the I-th of N equal parts of the load (connections, rate, request count; the
    /// remainder to the first shards). 'index/N' takes I from $JOB_COMPLETION_INDEX (from 0,
    /// as a Kubernetes Indexed Job sets it). Merge the shards' results with 'harness merge'.
    #[arg(long, value_name = "I/N", value_parser = parse::shard, help_heading = "Shards")]
    pub shard: Option<crate::plan::Shard>,

    /// Begin the load at this wall-clock instant (RFC 3339, e.g. 2026-12-02T10:00:00Z, or
    /// +30s from now), so that every shard's seconds line up; a shard that gets there late
    /// says so in its result.
    #[arg(long, value_name = "TIME", value_parser = parse::start_at, help_heading = "Shards")]
    pub start_at: Option<std::time::SystemTime>,
}

/// `harness report RESULT [-o OUT]`: renders a saved result again.
#[derive(Debug, Parser)]
#[command(
    name = "harness report",
    about = "Render the HTML report of a saved result.json again"
)]
pub(crate) struct ReportCli {
    /// A result.json written by harness (or its --json output).
    #[arg(value_name = "RESULT")]
    pub result: PathBuf,

    /// Where to write the HTML [default: report.html beside RESULT].
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Why a subcommand stopped early: its exit code and the one line [`main`] prints for it
/// (none when clap already printed its help or error).
#[derive(Debug)]
pub(crate) struct Failure {
    pub(super) code: u8,
    message: Option<String>,
}

impl Failure {
    /// Bad command line or input: nothing ran (exit 2).
    pub(crate) fn usage(message: impl std::fmt::Display) -> Failure {
        Failure::new(exit::USAGE, message)
    }

    /// harness itself failed (exit 4).
    pub(crate) fn error(message: impl std::fmt::Display) -> Failure {
        Failure::new(exit::ERROR, message)
    }

    fn new(code: u8, message: impl std::fmt::Display) -> Failure {
        Failure {
            code,
            message: Some(message.to_string()),
        }
    }

    /// A failed run: a usage error found late (the open-file limit) or harness's own.
    pub(crate) fn of_run(err: &anyhow::Error) -> Failure {
        let code = if err.downcast_ref::<UsageError>().is_some() {
            exit::USAGE
        } else {
            exit::ERROR
        };
        Failure::new(code, format!("{err:#}"))
    }
}

/// What a subcommand returns: its exit code, or why it stopped.
pub(crate) type Outcome = Result<u8, Failure>;

/// Runs the program and returns its exit code; the one place that prints a failure.
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let rest = args.get(2..).unwrap_or_default();
    let outcome = match args.get(1).and_then(|a| a.to_str()) {
        Some("report") => report_main(rest),
        Some("run") => scenarios::main(rest),
        Some("compare") => compare::main(rest),
        Some("merge") => merge::main(rest),
        Some("heap-diff") => heap::main(rest),
        Some("profile") => profile::main(rest),
        Some(crate::target::watchdog::SUBCOMMAND) => {
            return crate::target::watchdog::main(rest);
        }
        _ => run_main(),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            if let Some(message) = &failure.message {
                // The message may quote the target (its messages, its stderr).
                eprintln!("error: {}", crate::units::terminal_safe(message));
            }
            ExitCode::from(failure.code)
        }
    }
}

/// `harness [OPTIONS] URL [-- COMMAND]`.
fn run_main() -> Outcome {
    let cli = parse_args::<Cli>("harness", std::env::args_os())?;
    let plan = resolve::plan(cli).map_err(|err| Failure::usage(format!("{err:#}")))?;
    crate::plan::check_threshold_kinds(&plan).map_err(Failure::usage)?;
    crate::run::run(plan)
        .map(|finished| finished.code)
        .map_err(|err| Failure::of_run(&err))
}

/// Parses a subcommand's arguments (`args` without the program and subcommand names).
fn parse_sub<T: Parser>(command: &str, args: &[std::ffi::OsString]) -> Result<T, Failure> {
    let argv = std::iter::once(std::ffi::OsString::from(command)).chain(args.iter().cloned());
    parse_args(command, argv)
}

fn parse_args<T: Parser>(
    command: &str,
    argv: impl IntoIterator<Item = std::ffi::OsString>,
) -> Result<T, Failure> {
    T::try_parse_from(argv).map_err(|err| clap_failure(err, command))
}

fn report_main(args: &[std::ffi::OsString]) -> Outcome {
    let cli: ReportCli = parse_sub("harness report", args)?;
    // A result that cannot be read is bad input (2); a report that cannot be written is
    // harness's own failure (4), as for a run.
    let result = crate::result::load(&cli.result).map_err(Failure::usage)?;
    let path = rerender(&cli, &result).map_err(|err| Failure::error(format!("{err:#}")))?;
    crate::report::stdout::say(&format!("{}\n", path.display()));
    Ok(exit::OK)
}

fn rerender(cli: &ReportCli, result: &crate::result::RunResult) -> anyhow::Result<PathBuf> {
    let output = cli
        .output
        .clone()
        .unwrap_or_else(|| cli.result.with_file_name("report.html"));
    let html = crate::report::html::render(result)?;
    crate::report::files::write_whole(&output, html.as_bytes())?;
    Ok(output)
}

/// Help and version are printed as clap prints them (exit 0); every other clap error is one
/// line (exit 2).
pub(super) fn clap_failure(err: clap::Error, command: &str) -> Failure {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = err.print();
            Failure {
                code: exit::OK,
                message: None,
            }
        }
        _ => {
            // clap's first paragraph, folded onto one line; its usage block is left out.
            let text = err.render().to_string();
            let first: Vec<&str> = text
                .lines()
                .take_while(|line| !line.trim().is_empty())
                .map(str::trim)
                .collect();
            let line = first.join(" ");
            let line = line.strip_prefix("error: ").unwrap_or(&line);
            Failure {
                code: exit::USAGE,
                message: Some(format!("{line} (see '{command} --help')")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
