//! The `harness` binary: parse the command line, run, print an error once, exit with a
//! documented code (see `harness::exit`).

use std::process::ExitCode;

fn main() -> ExitCode {
    harness::cli::main()
}
