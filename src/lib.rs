//! harness: load-test an HTTP server and profile it at the same time.
//!
//! # Layout
//!
//! The crate is layered, bottom to top; a module imports only from its own layer's
//! neighbours below it and from lower layers (a unit test, `layers`, fails on an import that
//! points up):
//!
//! 1. [`units`] (parsing and formatting durations, sizes, rates, percentages, counts),
//!    [`result`] (the saved result: serde types only, with its committed JSON Schema and
//!    [`result::load`]), [`exit`] (the process exit codes), [`redact`] (which values are
//!    secrets, and their redacted forms).
//! 2. [`analyse`]: a result's findings and verdict ([`analyse::annotate`]; each kind of finding
//!    one declaration beside its detector), thresholds, the measurements they share,
//!    statistics, `compare`, the merge of a sharded run's results, heap snapshots
//!    ([`analyse::heap`]) and CPU profiles ([`analyse::profile`]). A pure function of results.
//! 3. [`plan`]: the plain, validated description of a run that every later stage reads.
//! 4. [`scenario`] (scenario files), [`load`] (the load generator: worker threads with
//!    single-threaded tokio runtimes, raw HTTP/1.1 with pipelining or HTTP/2, closed or open
//!    model, HdrHistograms), [`target`] (the target process in its own group, and the Node
//!    probe, [`target::probe`]), [`sample`] (the process tree's RSS, CPU, threads and
//!    descriptors, and harness's and the machine's CPU).
//! 5. [`report`]: renderers of a saved result, each a pure function of it: terminal tables,
//!    JSON, the self-contained HTML report with SVG charts and a flame graph, JUnit XML, the
//!    `compare`, `heap-diff` and `profile` texts.
//! 6. `run`: one run from plan to output, phase by phase: signals, the watched target, the
//!    load and its progress line, the CPU trace, building the result, the heap trace.
//! 7. [`cli`]: the command line (clap), resolved into a [`plan::Plan`]; the subcommands, each
//!    returning its exit code, and the one place that prints a failure.
//!
//! Only [`cli`] (for the binary) and [`result`] (for the tests, which read saved results) are
//! public; everything else is crate-private, so rustc reports what nothing uses.

mod analyse;
pub mod cli;
mod exit;
#[cfg(test)]
mod layers;
mod load;
mod plan;
mod redact;
mod report;
pub mod result;
mod run;
mod sample;
mod scenario;
mod target;
#[cfg(test)]
mod testing;
mod units;
