//! Process exit codes, documented in the README. Kept in one place so that tests and docs
//! agree with the code. When several apply (a folder of scenarios), the highest-priority one
//! wins: [`USAGE`], then [`TARGET`], then [`FAILED`].

/// The run completed and met every threshold (errors counted in the result do not change
/// this unless a threshold says so).
pub(crate) const OK: u8 = 0;
/// A threshold was not met (`--threshold` or a scenario's `check.thresholds`).
pub(crate) const FAILED: u8 = 1;
/// Bad command line, scenario file or input file: nothing was sent.
pub(crate) const USAGE: u8 = 2;
/// The target failed: it never became ready, or it exited during the run. Outputs of what
/// ran are still written.
pub(crate) const TARGET: u8 = 3;
/// harness itself could not carry out the run (a worker thread could not start, a report
/// could not be written).
pub(crate) const ERROR: u8 = 4;
/// Interrupted by Ctrl-C (SIGINT); the result of what ran was still printed.
pub(crate) const INTERRUPTED: u8 = 130;

/// The code for several runs: the highest-priority code among them.
pub(crate) fn combine(codes: impl IntoIterator<Item = u8>) -> u8 {
    let rank = |code: u8| match code {
        INTERRUPTED => 5,
        USAGE => 4,
        TARGET => 3,
        ERROR => 2,
        FAILED => 1,
        _ => 0,
    };
    codes.into_iter().max_by_key(|c| rank(*c)).unwrap_or(OK)
}
