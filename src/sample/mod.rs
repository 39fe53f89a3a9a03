//! Samples the target's process tree at a fixed interval: RSS, CPU (percent of one core),
//! threads, open file descriptors and process count; and harness's own CPU and the machine's,
//! because when harness and the target share few cores the results must say so.
//!
//! Read straight from `/proc` (Linux): one pass over `/proc/*/stat` finds the tree and its
//! figures at once, and sysinfo has neither process groups nor descriptor counts.

#[cfg(target_os = "linux")]
mod linux;

use std::time::Duration;

use tokio::time::Instant;

use crate::report::result::ProcessSample;

/// Which processes make up the target.
#[derive(Debug, Clone, Copy)]
pub struct Tree {
    /// The root process; its descendants are included.
    pub root: u32,
    /// Also include every process in this group (the target's own group when harness
    /// started it), so that re-parented children still count.
    pub group: Option<u32>,
}

/// Something that can take one sample (the `/proc` sampler, or recorded data in tests).
pub trait Sampler {
    /// A sample at `t` seconds on the run's clock, `None` once the tree has gone.
    fn sample(&mut self, t: f64) -> Option<ProcessSample>;
}

/// The sampler for this platform.
pub fn system_sampler(tree: Tree) -> Box<dyn Sampler + Send> {
    #[cfg(target_os = "linux")]
    {
        Box::new(linux::ProcSampler::new(tree))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = tree;
        Box::new(Unsupported)
    }
}

#[cfg(not(target_os = "linux"))]
struct Unsupported;

#[cfg(not(target_os = "linux"))]
impl Sampler for Unsupported {
    fn sample(&mut self, _t: f64) -> Option<ProcessSample> {
        None
    }
}

/// Samples every `interval` until dropped; the samples go into `out`.
pub async fn run(
    mut sampler: Box<dyn Sampler + Send>,
    origin: Instant,
    interval: Duration,
    out: std::sync::Arc<std::sync::Mutex<Vec<ProcessSample>>>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let t = origin.elapsed().as_secs_f64();
        if let Some(sample) = sampler.sample(t) {
            if let Ok(mut out) = out.lock() {
                out.push(sample);
            }
        }
    }
}
