//! The `sysinfo` sampler, for every platform that is not Linux (macOS above all). It is
//! compiled on Linux too, where a test runs it next to the `/proc` sampler on a real process,
//! so the portable path is not dead code.
//!
//! What it can and cannot see: RSS, CPU and the process tree (by parent pid, and by process
//! group through `getpgid`) everywhere; threads and open descriptors only where `sysinfo`
//! reads them (Linux), 0 elsewhere, which the README says.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use super::{own_cpu_seconds, round1, Sampler, Tree};
use crate::result::ProcessSample;

/// How often every process is listed to find the tree's members; in between only the known
/// members are refreshed.
const RESCAN: std::time::Duration = std::time::Duration::from_secs(1);

/// Samples a process tree through `sysinfo`.
pub struct SysinfoSampler {
    tree: Tree,
    system: System,
    cores: u64,
    last: Option<Instant>,
    /// Each member's CPU time at the last sample, ms.
    last_cpu: HashMap<u32, u64>,
    last_self: f64,
    known: Vec<u32>,
    scanned: Option<Instant>,
}

impl SysinfoSampler {
    pub fn new(tree: Tree) -> SysinfoSampler {
        SysinfoSampler {
            tree,
            system: System::new(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
            last: None,
            last_cpu: HashMap::new(),
            last_self: 0.0,
            known: Vec::new(),
            scanned: None,
        }
    }

    /// The root, its descendants by parent pid, and the members of the group.
    fn members(&mut self) -> Vec<u32> {
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing(),
        );
        // On Linux, sysinfo lists each thread as a process whose parent is its process.
        let processes: HashMap<&Pid, &sysinfo::Process> = self
            .system
            .processes()
            .iter()
            .filter(|(_, p)| p.thread_kind().is_none())
            .collect();
        let mut inside: HashSet<u32> = HashSet::from([self.tree.root]);
        if let Some(group) = self.tree.group {
            inside.extend(
                processes
                    .keys()
                    .map(|pid| pid.as_u32())
                    .filter(|pid| group_of(*pid) == Some(group)),
            );
        }
        loop {
            let before = inside.len();
            let children: Vec<u32> = processes
                .values()
                .filter(|p| p.parent().is_some_and(|pp| inside.contains(&pp.as_u32())))
                .map(|p| p.pid().as_u32())
                .collect();
            inside.extend(children);
            if inside.len() == before {
                break;
            }
        }
        inside
            .into_iter()
            .filter(|pid| processes.contains_key(&&Pid::from_u32(*pid)))
            .collect()
    }
}

/// The process group of `pid`, where the platform has them.
fn group_of(pid: u32) -> Option<u32> {
    #[cfg(unix)]
    {
        // SAFETY: getpgid only reads the kernel's record of another process.
        let group = unsafe { libc::getpgid(pid as libc::pid_t) };
        u32::try_from(group).ok()
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        None
    }
}

impl Sampler for SysinfoSampler {
    fn sample(&mut self, t: f64) -> Option<ProcessSample> {
        let now = Instant::now();
        if self
            .scanned
            .is_none_or(|at| now.duration_since(at) >= RESCAN)
        {
            self.known = self.members();
            self.scanned = Some(now);
        }
        let pids: Vec<Pid> = self.known.iter().map(|p| Pid::from_u32(*p)).collect();
        self.system.refresh_cpu_usage();
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&pids),
            true,
            ProcessRefreshKind::nothing()
                .with_memory()
                .with_cpu()
                .with_tasks(),
        );
        let members: Vec<_> = pids
            .iter()
            .filter_map(|pid| self.system.process(*pid))
            .collect();
        if members.is_empty() {
            // The known members went; a new scan decides whether the tree has gone.
            self.scanned = None;
            return None;
        }
        let elapsed = self.last.map(|last| now.duration_since(last).as_secs_f64());
        let percent = |used: f64| match elapsed {
            Some(seconds) if seconds > 0.0 => 100.0 * used / seconds,
            _ => 0.0,
        };
        let mut cpu = HashMap::with_capacity(members.len());
        let mut delta_ms = 0;
        for process in &members {
            let pid = process.pid().as_u32();
            let used = process.accumulated_cpu_time();
            // A process first seen now has no interval yet: it adds nothing this time.
            delta_ms += used.saturating_sub(self.last_cpu.get(&pid).copied().unwrap_or(used));
            cpu.insert(pid, used);
        }
        let own = own_cpu_seconds();
        let sample = ProcessSample {
            t: (t * 1000.0).round() / 1000.0,
            rss: members.iter().map(|p| p.memory()).sum(),
            cpu: round1(percent(delta_ms as f64 / 1000.0)),
            threads: members
                .iter()
                .map(|p| {
                    // The tasks may or may not list the main thread.
                    p.tasks().map_or(0, |tasks| {
                        (tasks.len() + usize::from(!tasks.contains(&p.pid()))) as u64
                    })
                })
                .sum(),
            fds: members
                .iter()
                .map(|p| p.open_files().unwrap_or(0) as u64)
                .sum(),
            processes: members.len() as u64,
            harness_cpu: round1(percent((own - self.last_self).max(0.0))),
            system_cpu: if self.last.is_some() {
                round1(f64::from(self.system.global_cpu_usage()))
            } else {
                0.0
            },
            cores: self.cores,
            others: Vec::new(),
        };
        self.last = Some(now);
        self.last_cpu = cpu;
        self.last_self = own;
        Some(sample)
    }
}
