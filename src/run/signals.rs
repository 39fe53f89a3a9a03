//! Ctrl-C and SIGTERM: the first stops the run at its next step, with what ran still
//! reported (exit 130); a second one kills the target's process group and leaves at once.

use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::Context;
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::exit;

/// The target's process group, for the last-resort kill on a second Ctrl-C.
pub(super) static TARGET_GROUP: AtomicI32 = AtomicI32::new(0);

/// Ctrl-C and SIGTERM, as one stream.
pub(super) struct Signals {
    interrupt: Signal,
    terminate: Signal,
    pub received: bool,
}

impl Signals {
    pub fn new() -> anyhow::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("could not handle SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("could not handle SIGTERM")?,
            received: false,
        })
    }

    /// Resolves at the next signal. After the first, a second one kills the target's group
    /// and leaves at once.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        if self.received {
            let group = TARGET_GROUP.load(Ordering::Relaxed);
            if group > 0 {
                // SAFETY: kills the group harness created.
                unsafe { libc::killpg(group, libc::SIGKILL) };
            }
            std::process::exit(i32::from(exit::INTERRUPTED));
        }
        self.received = true;
    }
}
