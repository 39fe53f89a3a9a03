//! Printing to stdout. A reader that goes away (`harness … | head`) is not a failure: the
//! first broken pipe stops all later printing quietly, and the run finishes its job (files,
//! exit code) as if it had been read. Any other write error is returned.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout's reader has gone.
static GONE: AtomicBool = AtomicBool::new(false);

/// Writes `text` to stdout and flushes it; nothing once the reader has gone.
pub fn print(text: &str) -> std::io::Result<()> {
    if GONE.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {
            GONE.store(true, Ordering::Relaxed);
            Ok(())
        }
        other => other,
    }
}

/// Like [`print()`], for text whose loss is no failure: errors are dropped.
pub fn say(text: &str) {
    let _ = print(text);
}
