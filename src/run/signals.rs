//! Ctrl-C, SIGTERM, SIGHUP and SIGQUIT: the first stops the run at its current phase, every
//! phase ending promptly with what ran still reported (exit 130); a second one kills the
//! target's process group and leaves at once, whatever harness is doing (it is handled in
//! the signal handler itself, not on the runtime, which may be busy). A signal within
//! [`REPEAT`] of the first is the same event delivered twice (to the process group and
//! again by a launcher such as `npx harness`), not a second request.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Notify;

use crate::exit;

/// The target's process group, for the last-resort kill on a second signal.
pub(super) static TARGET_GROUP: AtomicI32 = AtomicI32::new(0);
/// Signals received so far, counted in the signal handler.
static COUNT: AtomicU32 = AtomicU32::new(0);
/// When the first signal arrived, ms on the monotonic clock.
static FIRST_MS: AtomicU64 = AtomicU64::new(0);
/// A signal this soon after the first counts as the same one.
const REPEAT_MS: u64 = 300;

/// The signals that stop a run.
const STOPPING: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// Whether a stopping signal has arrived, shared by every phase of the run.
#[derive(Clone)]
pub(crate) struct Signals {
    inner: Arc<Inner>,
}

struct Inner {
    received: AtomicBool,
    notify: Notify,
}

impl Signals {
    /// Listens for the stopping signals (on the current runtime).
    pub(crate) fn new() -> anyhow::Result<Signals> {
        let inner = Arc::new(Inner {
            received: AtomicBool::new(false),
            notify: Notify::new(),
        });
        let mut streams = Vec::new();
        for kind in STOPPING {
            let stream = signal(SignalKind::from_raw(kind))
                .with_context(|| format!("could not handle signal {kind}"))?;
            streams.push(stream);
            // SAFETY: the action only uses atomics, killpg and _exit, which are
            // async-signal-safe.
            let registered = unsafe { signal_hook_registry::register(kind, second_kills) };
            registered.with_context(|| format!("could not handle signal {kind}"))?;
        }
        let listener = inner.clone();
        tokio::spawn(async move {
            let waits = streams.iter_mut().map(|s| Box::pin(s.recv()));
            futures_select_any(waits).await;
            listener.received.store(true, Ordering::SeqCst);
            listener.notify.notify_waiters();
        });
        Ok(Signals { inner })
    }

    /// Whether a stopping signal has arrived.
    pub(crate) fn received(&self) -> bool {
        self.inner.received.load(Ordering::SeqCst) || COUNT.load(Ordering::SeqCst) > 0
    }

    /// Resolves once a stopping signal has arrived (at once if one already has).
    pub(crate) async fn wait(&self) {
        loop {
            let notified = self.inner.notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.received() {
                return;
            }
            // The handler's count can run ahead of the listener task: look again soon.
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(std::time::Duration::from_millis(50)) => {}
            }
        }
    }

    /// How many stopping signals have arrived.
    pub(crate) fn count(&self) -> u32 {
        COUNT.load(Ordering::SeqCst)
    }
}

/// In the signal handler: counts the signal; from the second on, kills the target's group
/// and exits.
fn second_kills() {
    let now = monotonic_ms();
    if COUNT.load(Ordering::SeqCst) == 0 {
        FIRST_MS.store(now, Ordering::SeqCst);
    } else if now.saturating_sub(FIRST_MS.load(Ordering::SeqCst)) < REPEAT_MS {
        return;
    }
    if COUNT.fetch_add(1, Ordering::SeqCst) >= 1 {
        let group = TARGET_GROUP.load(Ordering::SeqCst);
        if group > 0 {
            // SAFETY: async-signal-safe; kills the group harness created.
            unsafe { libc::killpg(group, libc::SIGKILL) };
        }
        // SAFETY: async-signal-safe; leaves at once, as the user asked twice.
        unsafe { libc::_exit(i32::from(exit::INTERRUPTED)) };
    }
}

/// The monotonic clock in ms (clock_gettime is async-signal-safe).
fn monotonic_ms() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes only into the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1000 + now.tv_nsec as u64 / 1_000_000
}

/// Resolves when the first of `waits` does.
async fn futures_select_any<F: std::future::Future + Unpin>(waits: impl Iterator<Item = F>) {
    let mut waits: Vec<F> = waits.collect();
    std::future::poll_fn(move |cx| {
        for wait in &mut waits {
            if std::pin::Pin::new(wait).poll(cx).is_ready() {
                return std::task::Poll::Ready(());
            }
        }
        std::task::Poll::Pending
    })
    .await;
}
