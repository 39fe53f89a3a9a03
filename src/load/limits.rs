//! The open-file limit: raised as far as the system allows before a run, and checked against
//! the connections asked for so that a run that cannot open them says so before it starts.

use crate::plan::UsageError;

/// File descriptors needed besides the connections: stdio, each worker's epoll and wakers,
/// the control runtime, files written at the end.
fn overhead(workers: usize) -> u64 {
    64 + 8 * workers as u64
}

/// Raises the soft limit to the hard limit and checks that `connections` fit.
pub(super) fn ensure_open_files(connections: usize, workers: usize) -> Result<(), UsageError> {
    let needed = connections as u64 + overhead(workers);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Ok(());
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads a struct we own; failure leaves the old limit in place.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit.rlim_cur = limit.rlim_max;
        }
    }
    let available: u64 = limit.rlim_cur;
    if available < needed {
        return Err(UsageError(format!(
            "--connections {connections} needs about {needed} open files but the limit is {available}; \
             lower -c or raise the limit (ulimit -n)"
        )));
    }
    Ok(())
}
