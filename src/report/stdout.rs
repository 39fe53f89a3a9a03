//! Printing to stdout. A reader that goes away (`harness … | head`) is not a failure: the
//! first broken pipe stops all later printing quietly, and the run finishes its job (files,
//! exit code) as if it had been read. Any other write error is returned. Control characters
//! other than harness's own colours are escaped: names and messages come from the target.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout's reader has gone.
static GONE: AtomicBool = AtomicBool::new(false);

/// Writes text meant for a person to stdout, control characters escaped (see the module
/// docs), and flushes it; nothing once the reader has gone.
pub(crate) fn print(text: &str) -> std::io::Result<()> {
    print_data(&crate::units::terminal_safe(text))
}

/// Like [`print()`] for data a program reads (JSON), written as it is.
pub(crate) fn print_data(text: &str) -> std::io::Result<()> {
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
pub(crate) fn say(text: &str) {
    let _ = print(text);
}

/// Like [`print_data()`], errors dropped.
pub(crate) fn say_data(text: &str) {
    let _ = print_data(text);
}
