//! Processes of the target that left its process group: a `detached` child (`setsid`), a
//! double-forked daemon, a server that daemonises at start. Signalling the group misses
//! them, so harness finds them in `/proc` and signals them by pid.
//!
//! Harness is a child subreaper (`PR_SET_CHILD_SUBREAPER`): a process whose parent exits is
//! re-parented to harness rather than to PID 1, so a double-forked daemon stays findable as
//! a child of harness that harness did not start. Those that exit are reaped here (tokio
//! reaps only the children it started).
//!
//! Linux only: without `/proc` and the subreaper flag (macOS), no process is found here, and
//! a target's process that left its group is not stopped by harness (the README says so).

use std::collections::HashSet;

/// One process, told apart from a later one with the same pid by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Proc {
    /// Its pid.
    pub pid: u32,
    /// Clock ticks after boot when it started.
    start: u64,
}

impl Proc {
    /// `PID START`, the form the watchdog reads.
    pub(crate) fn to_line(self) -> String {
        format!("{} {}\n", self.pid, self.start)
    }

    /// Reads [`Proc::to_line()`]'s form.
    pub(crate) fn from_line(line: &str) -> Option<Proc> {
        let (pid, start) = line.trim().split_once(' ')?;
        Some(Proc {
            pid: pid.parse().ok().filter(|pid| *pid > 1)?,
            start: start.parse().ok()?,
        })
    }
}

/// The fields of `/proc/PID/stat` this module needs.
#[derive(Debug, Clone, Copy)]
struct Entry {
    pid: u32,
    ppid: u32,
    pgrp: u32,
    zombie: bool,
    start: u64,
}

/// Makes orphaned descendants children of harness (see the module docs). Harmless to repeat.
/// Linux only: elsewhere an orphan goes to PID 1 and is found only while its parent lives.
pub(crate) fn become_subreaper() {
    // SAFETY: sets a flag of this process; it takes no pointers.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1);
    }
}

/// The live processes outside `group` that descend from `leader`, from a member of `group`,
/// or from a process re-parented to harness that is not one of `ours` (the processes harness
/// started itself). Reaps re-parented processes that have exited.
pub(crate) fn strays(leader: u32, group: u32, ours: &[u32]) -> Vec<Proc> {
    let me = std::process::id();
    let all: Vec<Entry> = proc_pids().filter_map(read).collect();
    let adopted = |e: &Entry| e.ppid == me && e.pid != leader && !ours.contains(&e.pid);
    for entry in all.iter().filter(|e| e.zombie && adopted(e)) {
        reap(entry.pid);
    }
    let seeds = all
        .iter()
        .filter(|e| e.pid == leader || e.pgrp == group || adopted(e))
        .map(|e| e.pid)
        .collect();
    let inside = with_descendants(seeds, all.iter().map(|e| (e.pid, e.ppid)));
    all.iter()
        .filter(|e| inside.contains(&e.pid) && e.pgrp != group && !e.zombie)
        .filter(|e| e.pid != me && !ours.contains(&e.pid))
        .map(|e| Proc {
            pid: e.pid,
            start: e.start,
        })
        .collect()
}

/// Every pid in `/proc` (none where there is no `/proc`).
pub(crate) fn proc_pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
}

/// `seeds` and every process descending from one of them, given each process's
/// `(pid, parent pid)`.
pub(crate) fn with_descendants(
    mut seeds: HashSet<u32>,
    parents: impl Iterator<Item = (u32, u32)>,
) -> HashSet<u32> {
    let parents: Vec<(u32, u32)> = parents.collect();
    // Repeat until no new child joins (trees are shallow).
    loop {
        let before = seeds.len();
        let children: Vec<u32> = parents
            .iter()
            .filter(|(_, ppid)| seeds.contains(ppid))
            .map(|(pid, _)| *pid)
            .collect();
        seeds.extend(children);
        if seeds.len() == before {
            return seeds;
        }
    }
}

/// Whether `process` is still running (not exited, not a zombie, its pid not reused).
pub(crate) fn alive(process: Proc) -> bool {
    match read(process.pid) {
        Some(entry) if entry.start == process.start => {
            if entry.zombie && entry.ppid == std::process::id() {
                reap(entry.pid);
            }
            !entry.zombie
        }
        _ => false,
    }
}

/// Sends `signal` to `process` unless its pid now names another process.
pub(crate) fn signal(process: Proc, signal: i32) {
    if alive(process) {
        // SAFETY: sends a signal to a process of the target, checked just before.
        unsafe {
            libc::kill(process.pid as i32, signal);
        }
    }
}

fn reap(pid: u32) {
    let mut status = 0;
    // SAFETY: waits without blocking for a child of harness that tokio did not start.
    unsafe {
        libc::waitpid(pid as i32, &mut status, libc::WNOHANG);
    }
}

fn read(pid: u32) -> Option<Entry> {
    parse(
        pid,
        &std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?,
    )
}

/// Parses `/proc/PID/stat`, counting fields from the last `)` (the name may hold any byte).
fn parse(pid: u32, text: &str) -> Option<Entry> {
    let rest = text.get(text.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    Some(Entry {
        pid,
        zombie: matches!(fields.first(), Some(&"Z" | &"X")),
        ppid: number(1)? as u32,
        pgrp: number(2)? as u32,
        start: number(19)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_with_parentheses_in_the_name_is_parsed() {
        let line = "42 (a (b) c) S 7 42 42 0 -1 4194304 1 0 0 0 3 4 0 0 20 0 1 0 12345 0 0";
        let entry = parse(42, line).unwrap();
        assert_eq!((entry.ppid, entry.pgrp, entry.start), (7, 42, 12345));
        assert!(!entry.zombie);
        assert!(parse(42, "42 (x) Z 1 1 1").is_none());
    }

    #[test]
    fn this_process_is_alive_and_a_changed_start_is_not() {
        let me = read(std::process::id()).unwrap();
        let proc = Proc {
            pid: me.pid,
            start: me.start,
        };
        assert!(alive(proc));
        assert!(!alive(Proc {
            start: me.start + 1,
            ..proc
        }));
        assert_eq!(Proc::from_line(&proc.to_line()), Some(proc));
        assert_eq!(Proc::from_line("1 5"), None);
    }
}
