//! Samples the target's process tree at a fixed interval: RSS, CPU (percent of one core),
//! threads, open file descriptors and process count; and harness's own CPU and the machine's,
//! because when harness and the target share few cores the results must say so.
//!
//! On Linux, read straight from `/proc`: one pass over `/proc/*/stat` finds the tree and its
//! figures at once, with process groups and descriptor counts. Elsewhere (macOS), through
//! `sysinfo` ([`portable`]): RSS, CPU and the tree, without threads and descriptors.

#[cfg(target_os = "linux")]
mod linux;
// Elsewhere the sampler; on Linux only tested against the `/proc` one.
#[cfg(any(not(target_os = "linux"), test))]
mod portable;

use std::time::Duration;

use tokio::time::Instant;

use crate::result::ProcessSample;

/// Which processes make up the target.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tree {
    /// The root process; its descendants are included.
    pub root: u32,
    /// Also include every process in this group (the target's own group when harness
    /// started it), so that re-parented children still count.
    pub group: Option<u32>,
}

/// Something that can take one sample (the `/proc` sampler, or recorded data in tests).
pub(crate) trait Sampler {
    /// A sample at `t` seconds on the run's clock, `None` once the tree has gone.
    fn sample(&mut self, t: f64) -> Option<ProcessSample>;
}

/// The sampler for this platform.
pub(crate) fn system_sampler(tree: Tree) -> Box<dyn Sampler + Send> {
    #[cfg(target_os = "linux")]
    {
        Box::new(linux::ProcSampler::new(tree))
    }
    #[cfg(not(target_os = "linux"))]
    {
        Box::new(portable::SysinfoSampler::new(tree))
    }
}

/// harness's own CPU time so far (all its threads), in seconds.
pub(crate) fn own_cpu_seconds() -> f64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only into the timespec it is given.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) } != 0 {
        return 0.0;
    }
    now.tv_sec as f64 + now.tv_nsec as f64 / 1e9
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// A sampler running on its own thread; stops (and joins) when dropped.
pub(crate) struct Running {
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
/// The thread runs at a low priority ([`SAMPLER_NICE`]): in a closed-loop load every
/// millisecond taken from a load worker leaves its connections idle, so a sampler sharing the
/// worker's core would lower the server's throughput (measured: 2-3 % at 100 ms on the
/// control thread, 1.2 % on this thread at normal priority). Samples carry their own time, so
/// a late one is still right; when every core is saturated they thin out rather than slow the
/// load.
pub(crate) fn spawn(
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

/// Lowers this thread's priority to nice 10 (Linux, where nice is per thread; elsewhere it
/// keeps its normal priority). `SCHED_IDLE` starved it on a machine saturated by other
/// processes: with two busy processes per core a sample came every 4 s, and the run had too
/// few to judge the load by.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority act on the calling thread only.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, SAMPLER_NICE);
        }
    }
}

/// The sampler thread's nice value: a tenth of a normal thread's share of a contended core,
/// ample for a sample's fraction of a millisecond.
#[cfg(target_os = "linux")]
const SAMPLER_NICE: libc::c_int = 10;

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The portable sampler must measure what the `/proc` one does. A real Node process that
    /// burns about half a core and holds about 100 MB is sampled by both, interleaved, for
    /// 1.5 s: RSS within 10 %, CPU over the window within 15 points of a core.
    #[test]
    fn the_sysinfo_sampler_agrees_with_the_proc_sampler_on_a_real_process() {
        let script = "const keep = Buffer.alloc(100e6, 1); \
            setInterval(() => { const end = Date.now() + 5; while (Date.now() < end); }, 10); \
            setTimeout(() => process.exit(0), 10000); console.log(keep.length);";
        let mut node = std::process::Command::new("node")
            .args(["-e", script])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("this test needs node");
        std::thread::sleep(Duration::from_millis(700));
        let tree = Tree {
            root: node.id(),
            group: None,
        };
        let mut proc = linux::ProcSampler::new(tree);
        let mut portable = portable::SysinfoSampler::new(tree);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for i in 0..16 {
            let t = f64::from(i) * 0.1;
            a.push(proc.sample(t).expect("the /proc sampler lost the process"));
            b.push(
                portable
                    .sample(t)
                    .expect("the sysinfo sampler lost the process"),
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        node.kill().unwrap();
        node.wait().unwrap();
        let mean = |samples: &[ProcessSample], f: fn(&ProcessSample) -> f64| {
            samples[1..].iter().map(f).sum::<f64>() / (samples.len() - 1) as f64
        };
        let (rss_a, rss_b) = (mean(&a, |s| s.rss as f64), mean(&b, |s| s.rss as f64));
        let (cpu_a, cpu_b) = (mean(&a, |s| s.cpu), mean(&b, |s| s.cpu));
        assert!(rss_a > 100e6, "the process holds 100 MB: {rss_a}");
        assert!(
            (rss_b / rss_a - 1.0).abs() < 0.10,
            "RSS: /proc {rss_a:.0}, sysinfo {rss_b:.0}"
        );
        assert!(cpu_a > 20.0, "the process is busy: {cpu_a}");
        assert!(
            (cpu_b - cpu_a).abs() < 15.0,
            "CPU: /proc {cpu_a:.1} %, sysinfo {cpu_b:.1} %"
        );
        assert!(b.iter().all(|s| s.processes == 1 && s.cores >= 1), "{b:?}");
        let (last_a, last_b) = (a.last().unwrap(), b.last().unwrap());
        assert_eq!(last_a.threads, last_b.threads, "{last_a:?} {last_b:?}");
    }
}
