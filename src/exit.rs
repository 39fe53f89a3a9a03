//! Process exit codes, documented in the README. Kept in one place so that tests and docs
//! agree with the code.

/// The run completed (errors counted in the result do not change this).
pub const OK: u8 = 0;
/// The run could not be carried out (for example a worker thread could not start).
pub const FAILURE: u8 = 1;
/// Bad command line or input file: nothing was sent.
pub const USAGE: u8 = 2;
/// The target failed: it never became ready, or it exited during the run. Outputs of what
/// ran are still written.
pub const TARGET: u8 = 3;
/// Interrupted by Ctrl-C (SIGINT); the result of what ran was still printed.
pub const INTERRUPTED: u8 = 130;
