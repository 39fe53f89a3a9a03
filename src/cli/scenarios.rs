//! `harness run SCENARIO [FLAGS]`: runs a scenario file, or every file in a folder, and
//! combines their exit codes. Every file is read and resolved before the first one runs, so a
//! mistake in any of them stops everything with exit code 2 and nothing is sent.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};

use super::{resolve, Cli, Failure, Options, Outcome};
use crate::exit;
use crate::plan::{Plan, RequestSpec, Stage, TraceMode, UsageError};
use crate::report::junit::Suite;
use crate::report::scenarios::Row;
use crate::scenario::{self, Scenario};

/// This command's name, for its error messages.
const COMMAND: &str = "harness run";

/// `harness run`: scenario files. With a folder, `--report DIR` gets one sub-folder per
/// scenario.
#[derive(Debug, Parser)]
#[command(
    name = "harness run",
    about = "Run a scenario file, or every .toml file in a folder, and check its thresholds",
    long_about = "Run a scenario file, or every .toml file in a folder, and check its \
                  thresholds.\n\nA flag given here wins over the file, and the file wins over \
                  harness's defaults. Flags apply to every scenario of a folder.",
    max_term_width = 100
)]
pub(super) struct RunCli {
    /// A scenario file (TOML), or a folder of them.
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,

    #[command(flatten)]
    pub opts: Options,
}

/// Runs `harness run ARGS`.
pub(super) fn main(args: &[std::ffi::OsString]) -> Outcome {
    let argv = std::iter::once(COMMAND.into()).chain(args.iter().cloned());
    let matches = RunCli::command()
        .try_get_matches_from(argv)
        .map_err(|err| super::clap_failure(err, COMMAND))?;
    let cli =
        RunCli::from_arg_matches(&matches).map_err(|err| super::clap_failure(err, COMMAND))?;
    let plans = plans(&cli, &matches).map_err(Failure::usage)?;
    let many = plans.len() > 1;
    if many {
        if let Some(path) = super::resolve::summary_md(&cli.opts) {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            if dir.is_some_and(|d| !d.is_dir()) {
                return Err(Failure::usage(format!(
                    "--summary-md: the folder of '{}' does not exist; create it or write elsewhere",
                    path.display()
                )));
            }
        }
    }
    let mut rows = Vec::new();
    let mut suites = Vec::new();
    for (scenario, mut plan) in plans {
        if many {
            // One Markdown table for the folder, appended once at the end.
            plan.output.summary_md = None;
            crate::report::stdout::say(&format!(
                "\n=== {} ({})\n",
                scenario.name,
                scenario.path.display()
            ));
        }
        let thresholds = plan.thresholds.clone();
        let code = match crate::run::run(plan) {
            Ok(finished) => {
                match &finished.result {
                    Some(result) => suites.push(Suite::ran(&scenario.name, result)),
                    None => suites.push(Suite::failed(
                        &scenario.name,
                        &thresholds,
                        "the target failed before the load (see its stderr)",
                    )),
                }
                let mut line = row(&scenario, finished.code, finished.result.as_ref());
                line.report = finished.report.map(|r| r.display().to_string());
                rows.push(line);
                finished.code
            }
            Err(err) => {
                // One scenario's failure is told here, and the folder goes on.
                eprintln!(
                    "error: {}: {}",
                    scenario.path.display(),
                    crate::units::terminal_safe(&format!("{err:#}"))
                );
                let code = super::Failure::of_run(&err).code;
                suites.push(Suite::failed(
                    &scenario.name,
                    &thresholds,
                    &format!("{err:#}"),
                ));
                rows.push(row(&scenario, code, None));
                code
            }
        };
        if code == exit::INTERRUPTED {
            break;
        }
    }
    if let Some(path) = &cli.opts.junit {
        crate::report::junit::write(path, &suites)
            .map_err(|err| Failure::error(format!("--junit: {err:#}")))?;
    }
    if many {
        if let Some(path) = super::resolve::summary_md(&cli.opts) {
            let text = crate::report::scenarios::markdown(&rows);
            crate::report::files::append(&path, &text)
                .map_err(|err| Failure::error(format!("--summary-md: {err:#}")))?;
        }
        crate::report::stdout::say(&crate::report::scenarios::summary(&rows));
    }
    Ok(exit::combine(rows.iter().map(|r| r.code)))
}

/// Reads every scenario and resolves it with the flags into a plan.
fn plans(cli: &RunCli, matches: &ArgMatches) -> Result<Vec<(Scenario, Plan)>, UsageError> {
    let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    let mut plans = Vec::new();
    let files = scenario::files(&cli.scenario)?;
    let many = files.len() > 1;
    if many && cli.opts.start_at.is_some() {
        return Err(UsageError(format!(
            "--start-at with {} scenarios: only the first would begin at that instant; run one scenario per shard command (harness run FILE --start-at ...)",
            files.len()
        )));
    }
    for path in files {
        let scenario = scenario::load(&path)?;
        let mut opts = cli.opts.clone();
        if many {
            // One folder per scenario under --report DIR.
            opts.report = opts.report.map(|dir| dir.join(&scenario.name));
        }
        let plan = plan(&scenario, opts, &given)
            .map_err(|err| UsageError(format!("{}: {}", path.display(), err.0)))?;
        plans.push((scenario, plan));
    }
    Ok(plans)
}

/// One scenario's plan. Precedence, highest first: a flag given on the command line, the
/// scenario file, harness's default. A load shape on the command line (`-d`, `-a`, `-R`)
/// replaces the file's whole shape (duration, amount, rate, stages); a request flag (`-m`,
/// `-H`, `-b`, `-i`) replaces the file's requests; `--report` replaces `output.dir`. The
/// file's thresholds and `--threshold`s all apply.
fn plan(
    scenario: &Scenario,
    mut opts: Options,
    given: &dyn Fn(&str) -> bool,
) -> Result<Plan, UsageError> {
    let file = &scenario.file;
    let target = &file.target;
    target_and_load_flags(scenario, &mut opts, given);
    if !given("shard") {
        if let Some(text) = &file.load.shard {
            let shard = super::parse::shard(text)
                .map_err(|e| UsageError(format!("{}: [load] shard: {e}", scenario.name)))?;
            opts.shard = Some(shard);
        }
    }
    if !opts.find_max.is_empty() && (!file.load.stages.is_empty() || file.load.rate.is_some()) {
        return Err(UsageError(format!(
            "{}: [load] find_max chooses the rates itself: remove [load] rate and [[load.stages]]",
            scenario.name
        )));
    }
    let stages = load_shape(scenario, &mut opts, given);
    let cli_request = ["method", "headers", "body", "input"]
        .iter()
        .any(|id| given(id));
    if !given("report") {
        opts.report = file.output.dir.clone();
    }
    if !given("junit") {
        opts.junit = file.output.junit.clone();
    } else {
        opts.junit = None; // written once for all scenarios by `main`
    }
    let mut thresholds = file.check.thresholds.clone();
    thresholds.append(&mut opts.thresholds);
    opts.thresholds = thresholds;
    let command = if given("pid") {
        Vec::new()
    } else {
        target.command.clone().unwrap_or_default()
    };
    let cli = Cli {
        url: target.url.clone(),
        opts,
        command,
    };
    let mut plan = resolve::plan(cli)?;
    plan.scenario = Some(scenario.name.clone());
    plan.load.stages = stages;
    if let Some(shard) = plan.load.shard {
        for stage in &mut plan.load.stages {
            stage.rate /= shard.count as f64;
        }
    }
    if !cli_request && !file.requests.is_empty() {
        // The checks given as flags, on the request the flags alone would send.
        let flags = plan.load.requests[0].expect.clone();
        plan.load.requests = requests(scenario, &plan.load.target.path, &flags)?;
    }
    if let Some(watch) = &mut plan.watch {
        watch.cwd = target.cwd.clone();
        watch
            .env
            .extend(target.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        if target.env.contains_key("PORT") {
            watch.free_port = false;
            watch.env.retain(|(k, _)| k != "PORT");
            watch.env.push(("PORT".into(), target.env["PORT"].clone()));
        }
    }
    outputs(scenario, &mut plan, given)?;
    crate::plan::check_threshold_kinds(&plan)
        .map_err(|why| UsageError(format!("{}: {why}", scenario.path.display())))?;
    Ok(plan)
}

/// The file's `[target]` and `[load]` values for every flag not given on the command line.
fn target_and_load_flags(scenario: &Scenario, opts: &mut Options, given: &dyn Fn(&str) -> bool) {
    let (target, load) = (&scenario.file.target, &scenario.file.load);
    // The file's value, unless the flag was given.
    macro_rules! from_file {
        ($flag:ident, Some $value:expr) => {
            if !given(stringify!($flag)) && $value.is_some() {
                opts.$flag = $value.clone();
            }
        };
        ($flag:ident, $value:expr) => {
            if !given(stringify!($flag)) {
                if let Some(value) = $value.clone() {
                    opts.$flag = value;
                }
            }
        };
    }
    from_file!(connections, load.connections);
    from_file!(pipelining, load.pipelining);
    from_file!(timeout, load.timeout);
    from_file!(warmup, Some load.warmup);
    from_file!(workers, Some load.workers);
    from_file!(bailout, Some load.bailout);
    from_file!(http2, load.http2);
    from_file!(ready_timeout, target.ready_timeout);
    from_file!(baseline, Some target.baseline);
    from_file!(cooldown, Some target.cooldown);
    from_file!(grace, target.grace);
    from_file!(sample_interval, target.sample_interval);
    from_file!(heap_limit, target.heap_limit);
    from_file!(step_duration, load.step_duration);
    from_file!(max_duration, load.max_duration);
    if !given("find_max") && !load.find_max.is_empty() {
        opts.find_max = load.find_max.clone();
    }
    if !given("no_probe") {
        if let Some(probe) = target.probe {
            opts.no_probe = !probe;
        }
    }
    if !given("heap") && !given("no_heap") {
        match target.heap {
            Some(TraceMode::Always) => opts.heap = true,
            Some(TraceMode::Off) => opts.no_heap = true,
            Some(TraceMode::Auto) | None => {}
        }
    }
    if !given("profile") && !given("no_profile") {
        match target.profile {
            Some(TraceMode::Always) => opts.profile = true,
            Some(TraceMode::Off) => opts.no_profile = true,
            Some(TraceMode::Auto) | None => {}
        }
    }
    if !given("io_trace") && !given("no_io_trace") {
        match target.io_trace {
            Some(TraceMode::Always) => opts.io_trace = true,
            Some(TraceMode::Off) => opts.no_io_trace = true,
            Some(TraceMode::Auto) | None => {}
        }
    }
}

/// The file's load shape (duration, amount, rate, stages), unless the command line gives
/// one: a shape on the command line replaces the file's whole shape. Returns the stages.
fn load_shape(scenario: &Scenario, opts: &mut Options, given: &dyn Fn(&str) -> bool) -> Vec<Stage> {
    let load = &scenario.file.load;
    if given("duration") || given("amount") || given("rate") {
        return Vec::new();
    }
    opts.duration = load.duration;
    opts.amount = load.amount;
    opts.rate = load.rate;
    if load.stages.is_empty() {
        return Vec::new();
    }
    let stages: Vec<Stage> = load
        .stages
        .iter()
        .map(|s| Stage {
            duration: s.duration,
            rate: s.rate,
        })
        .collect();
    opts.rate = stages.first().map(|s| s.rate);
    opts.duration = Some(stages.iter().map(|s| s.duration).sum::<Duration>());
    stages
}

/// The file's `[output]`: the report folder (named after the scenario by default) and the
/// extra copies, whose folders are created now, before any load.
fn outputs(
    scenario: &Scenario,
    plan: &mut Plan,
    given: &dyn Fn(&str) -> bool,
) -> Result<(), UsageError> {
    let output = &scenario.file.output;
    if !given("report") && output.dir.is_none() && plan.output.report_dir.is_some() {
        plan.output.report_dir = Some(crate::report::files::named_dir(&scenario.name));
        plan.output.fresh_dir = true;
    }
    plan.output.html = output.html.clone();
    plan.output.json_file = output.json.clone();
    for path in [
        &plan.output.html,
        &plan.output.json_file,
        &plan.output.junit,
    ]
    .into_iter()
    .flatten()
    {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|err| {
                UsageError(format!(
                    "output: could not create '{}': {err}",
                    parent.display()
                ))
            })?;
        }
    }
    Ok(())
}

/// The file's requests, with bodies read and placeholders checked.
fn requests(
    scenario: &Scenario,
    url_path: &str,
    flags: &crate::plan::Expect,
) -> Result<Vec<RequestSpec>, UsageError> {
    use crate::load::template::Template;
    scenario
        .file
        .requests
        .iter()
        .enumerate()
        .map(|(i, request)| {
            let body = match (&request.body, &request.body_file) {
                (Some(body), _) => Bytes::from(body.clone().into_bytes()),
                (None, Some(path)) => std::fs::read(path).map(Bytes::from).map_err(|err| {
                    UsageError(format!(
                        "requests[{i}].body_file: could not read '{}': {err}",
                        path.display()
                    ))
                })?,
                (None, None) => Bytes::new(),
            };
            let path = request.path.clone().unwrap_or_else(|| url_path.to_string());
            let check = |key: &str, text: &[u8]| {
                Template::parse(text)
                    .map(drop)
                    .map_err(|why| UsageError(format!("requests[{i}].{key}: {why}")))
            };
            check("path", path.as_bytes())?;
            check("body", &body)?;
            for value in request.headers.values() {
                check("headers", value.as_bytes())?;
            }
            let mut expect = request
                .expect
                .as_ref()
                .map(crate::scenario::ExpectSection::to_plan)
                .unwrap_or_default();
            if let Some(status) = &flags.status {
                expect.status = Some(status.clone());
            }
            if let Some(text) = &flags.body_contains {
                expect.body_contains = Some(text.clone());
            }
            Ok(RequestSpec {
                name: request.kind_name(url_path),
                expect,
                method: request.method.clone(),
                path,
                headers: request
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                body,
                weight: request.weight,
                placeholders: true,
            })
        })
        .collect()
}

/// The summary row of a scenario that ran (or failed to).
fn row(scenario: &Scenario, code: u8, result: Option<&crate::result::RunResult>) -> Row {
    Row {
        name: scenario.name.clone(),
        code,
        passed: result.map_or(0, |r| r.thresholds.iter().filter(|t| t.passed).count()),
        thresholds: result.map_or(scenario.file.check.thresholds.len(), |r| r.thresholds.len()),
        rps: result.map(|r| r.requests.overall),
        p99: result.map(|r| r.latency.percentiles.p99),
        verdict: result.map_or_else(String::new, |r| r.verdict.clone()),
        report: None,
    }
}
