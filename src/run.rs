//! One run from plan to output: start the progress bar, drive the load, build the result,
//! print it. Returns the exit code.

use std::io::Write;

use crate::exit;
use crate::load::{self, StopReason};
use crate::plan::{Plan, Stop};
use crate::report::progress::Progress;
use crate::report::result::RunResult;
use crate::report::{self, terminal};

/// Runs the plan and prints its result; returns the process exit code.
pub fn run(plan: Plan) -> anyhow::Result<u8> {
    let load_plan = &plan.load;
    let prepared = load::prepare(load_plan)?;
    if !plan.output.json {
        let what = match load_plan.stop {
            Stop::After(duration) => format!("{}s test", duration.as_secs_f64()),
            Stop::Amount(amount) => format!("{amount} requests test"),
        };
        let mut header = terminal::header(
            &load_plan.url,
            &what,
            load_plan.connections,
            load_plan.pipelining,
            load_plan.workers,
        );
        if let Some(path) = &load_plan.target.socket_path {
            header = header.replacen(" @ ", &format!(" @ {} via ", path.display()), 1);
        }
        print!("{header}");
    }
    let mut progress = Progress::start(load_plan, plan.output.progress);
    let outcome = load::run(prepared, |point| {
        if let Some(progress) = &mut progress {
            progress.second(point);
        }
    });
    if let Some(progress) = progress {
        progress.finish();
    }
    let outcome = outcome?;
    let result = RunResult::new(&plan, &outcome);
    let mut stdout = std::io::stdout().lock();
    if plan.output.json {
        writeln!(stdout, "{}", report::json(&result)?)?;
    } else {
        write!(
            stdout,
            "{}",
            terminal::render(&result, plan.output.latency_table, plan.output.color)
        )?;
    }
    stdout.flush()?;
    Ok(match outcome.stop {
        StopReason::Interrupted => exit::INTERRUPTED,
        StopReason::Completed | StopReason::BailedOut => exit::OK,
    })
}
