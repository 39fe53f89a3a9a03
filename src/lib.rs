//! harness: load-test an HTTP server and profile it at the same time.
//!
//! # Layout
//!
//! A run flows through one folder per stage:
//!
//! - [`cli`]: parses the command line (clap) and resolves it into a [`plan::Plan`]; the only
//!   place that knows about clap. Owns the process exit codes ([`exit`]).
//! - [`plan`]: the plain, validated description of a run that every later stage reads.
//! - [`load`]: the load generator. Worker threads, each with a single-threaded tokio runtime,
//!   drive connections (raw HTTP/1.1 with pipelining, or HTTP/2 through hyper), pace them
//!   (closed loop or fixed rate) and record latency into HdrHistograms. Hands a
//!   [`load::LoadOutcome`] to `report`.
//! - [`target`]: starts the command after `--` in its own process group, waits until it
//!   serves, stops the whole group at the end; injects the Node probe ([`target::probe`]) and
//!   collects what it reports.
//! - [`sample`]: samples the target's process tree (RSS, CPU, threads, descriptors) and
//!   harness's own and the machine's CPU.
//! - [`analyse`]: turns a saved result into findings with evidence and one verdict; reads
//!   heap snapshots ([`analyse::heap`]) and CPU profiles ([`analyse::profile`]).
//! - [`report`]: turns the outcome into the saved result ([`report::result::RunResult`], the
//!   JSON wire format with a committed schema) and renders it: terminal tables, JSON, the
//!   self-contained HTML report with SVG charts ([`report::html`], [`report::charts`]), the
//!   progress bar. Renderers are pure functions of the saved result.
//!
//! - [`scenario`]: scenario files and thresholds.
//!
//! `run` strings the stages together: target, baseline, load, cooldown, the CPU trace, the
//! analysis, the heap trace on a second copy of the target, outputs.

pub mod analyse;
pub mod cli;
pub mod exit;
#[cfg(test)]
mod layers;
pub mod load;
pub mod plan;
pub mod report;
pub mod result;
mod run;
pub mod sample;
pub mod scenario;
pub mod target;
pub mod units;

pub use run::run;
