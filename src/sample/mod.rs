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

use crate::result::ProcessSample;

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

/// A sampler running on its own thread; stops (and joins) when dropped.
pub struct Running {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// Samples every `interval` on a thread of its own until the returned handle is dropped; the
/// samples go into `out`.
///
/// The thread runs under `SCHED_IDLE`: it gets the CPU only when nothing else wants it. In a
/// closed-loop load every millisecond taken from a load worker leaves its connections idle, so
/// a sampler sharing the worker's core would lower the server's throughput (measured: 2-3 %
/// at 100 ms on the control thread, 1.2 % on this thread). Samples carry their own time, so a
/// late one is still right; when every core is saturated they thin out (measured: 35 instead
/// of 50 samples in 5 s, gaps up to 0.4 s) rather than slow the load.
pub fn spawn(
    mut sampler: Box<dyn Sampler + Send>,
    origin: Instant,
    interval: Duration,
    out: std::sync::Arc<std::sync::Mutex<Vec<ProcessSample>>>,
) -> std::io::Result<Running> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let origin = origin.into_std();
    let thread = std::thread::Builder::new()
        .name("harness-sampler".to_string())
        .spawn(move || {
            lower_priority();
            let mut next = std::time::Instant::now();
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                let t = origin.elapsed().as_secs_f64();
                if let Some(sample) = sampler.sample(t) {
                    if let Ok(mut out) = out.lock() {
                        out.push(sample);
                    }
                }
                next += interval;
                let now = std::time::Instant::now();
                if next < now {
                    next = now; // behind schedule: skip the missed ticks
                }
                // One wake-up per sample: dropping the handle unparks the thread early.
                while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                    let left = next.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    std::thread::park_timeout(left);
                }
            }
        })?;
    Ok(Running {
        stop,
        thread: Some(thread),
    })
}

/// Asks the scheduler to run this thread only when the CPU is otherwise idle.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: changes the scheduling policy of the calling thread only (pid 0).
        unsafe {
            libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
        }
    }
}
