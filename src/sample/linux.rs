//! The `/proc` sampler.

use std::collections::{HashMap, HashSet};
use std::fs;

use tokio::time::Instant;

use super::{Sampler, Tree};
use crate::report::result::ProcessSample;

/// One process's figures from `/proc/PID/stat`.
struct Stat {
    pid: u32,
    ppid: u32,
    pgrp: u32,
    ticks: u64,
    threads: u64,
    rss_pages: u64,
}

/// Samples a process tree from `/proc`.
pub struct ProcSampler {
    tree: Tree,
    ticks_per_second: f64,
    page_size: u64,
    cores: f64,
    last: Option<Instant>,
    last_ticks: HashMap<u32, u64>,
    last_self: u64,
    last_system: (u64, u64),
    /// The tree's pids from the last full scan of `/proc`, and when that was.
    known: Vec<u32>,
    scanned: Option<Instant>,
}

/// How often all of `/proc` is scanned for the tree's members; in between, only the known
/// members are read (one file each instead of one per process on the machine).
const RESCAN: std::time::Duration = std::time::Duration::from_secs(1);

impl ProcSampler {
    pub fn new(tree: Tree) -> ProcSampler {
        // SAFETY: sysconf only reads configuration values.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        ProcSampler {
            tree,
            ticks_per_second: if ticks > 0 { ticks as f64 } else { 100.0 },
            page_size: if page > 0 { page as u64 } else { 4096 },
            cores: std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64),
            last: None,
            last_ticks: HashMap::new(),
            last_self: 0,
            last_system: (0, 0),
            known: Vec::new(),
            scanned: None,
        }
    }

    /// The tree's processes: from the known pids, or a full scan once a second, or when one
    /// of them has gone (new children are picked up by the next scan).
    fn current(&mut self, now: Instant) -> Vec<Stat> {
        let due = self
            .scanned
            .is_none_or(|at| now.duration_since(at) >= RESCAN);
        if !due {
            let stats: Vec<Stat> = self
                .known
                .iter()
                .filter_map(|pid| read_stat(*pid))
                .collect();
            if stats.len() == self.known.len() {
                return stats;
            }
        }
        let stats = self.members();
        self.known = stats.iter().map(|s| s.pid).collect();
        self.scanned = Some(now);
        stats
    }

    /// The processes of the tree: the root, its descendants, and members of the group.
    fn members(&self) -> Vec<Stat> {
        let all: Vec<Stat> = fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(read_stat)
            .collect();
        let mut inside: HashSet<u32> = HashSet::from([self.tree.root]);
        if let Some(group) = self.tree.group {
            inside.extend(all.iter().filter(|s| s.pgrp == group).map(|s| s.pid));
        }
        // Descendants: repeat until no new child joins (trees are shallow).
        loop {
            let before = inside.len();
            let children: Vec<u32> = all
                .iter()
                .filter(|s| inside.contains(&s.ppid))
                .map(|s| s.pid)
                .collect();
            inside.extend(children);
            if inside.len() == before {
                break;
            }
        }
        all.into_iter()
            .filter(|s| inside.contains(&s.pid))
            .collect()
    }
}

impl Sampler for ProcSampler {
    fn sample(&mut self, t: f64) -> Option<ProcessSample> {
        let now = Instant::now();
        let members = self.current(now);
        if members.is_empty() {
            return None;
        }
        let elapsed = self.last.map(|last| now.duration_since(last).as_secs_f64());
        let mut ticks = HashMap::with_capacity(members.len());
        let mut delta = 0;
        for stat in &members {
            // A process first seen now has no interval yet: it adds nothing this time.
            let before = self
                .last_ticks
                .get(&stat.pid)
                .copied()
                .unwrap_or(stat.ticks);
            delta += stat.ticks.saturating_sub(before);
            ticks.insert(stat.pid, stat.ticks);
        }
        let own = read_stat(std::process::id()).map_or(0, |s| s.ticks);
        let system = read_system();
        let percent = |ticks: u64| match elapsed {
            Some(seconds) if seconds > 0.0 => {
                100.0 * ticks as f64 / self.ticks_per_second / seconds
            }
            _ => 0.0,
        };
        let system_cpu = match (self.last.is_some(), system) {
            (true, Some((busy, total))) if total > self.last_system.1 => {
                100.0 * busy.saturating_sub(self.last_system.0) as f64
                    / (total - self.last_system.1) as f64
            }
            _ => 0.0,
        };
        let sample = ProcessSample {
            t: (t * 1000.0).round() / 1000.0,
            rss: members.iter().map(|s| s.rss_pages * self.page_size).sum(),
            cpu: round1(percent(delta)),
            threads: members.iter().map(|s| s.threads).sum(),
            fds: members.iter().map(|s| count_fds(s.pid)).sum(),
            processes: members.len() as u64,
            harness_cpu: round1(percent(own.saturating_sub(self.last_self))),
            system_cpu: round1(system_cpu),
            cores: self.cores as u64,
        };
        self.last = Some(now);
        self.last_ticks = ticks;
        self.last_self = own;
        if let Some(system) = system {
            self.last_system = system;
        }
        Some(sample)
    }
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// Parses `/proc/PID/stat`. The command name may hold spaces and parentheses, so fields are
/// counted from the last `)`.
fn read_stat(pid: u32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    Some(Stat {
        pid,
        ppid: field(1)? as u32,
        pgrp: field(2)? as u32,
        ticks: field(11)? + field(12)?,
        threads: field(17)?,
        rss_pages: field(21)?,
    })
}

/// Busy and total jiffies of the whole machine, from `/proc/stat`.
fn read_system() -> Option<(u64, u64)> {
    let text = fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3)? + values.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

fn count_fds(pid: u32) -> u64 {
    fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| dir.count() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_of_this_process_is_parsed() {
        let stat = read_stat(std::process::id()).unwrap();
        assert_eq!(stat.pid, std::process::id());
        assert!(stat.threads >= 1);
        assert!(stat.rss_pages > 0);
    }

    #[tokio::test]
    async fn sampling_this_process_sees_its_memory_and_cpu() {
        let mut sampler = ProcSampler::new(Tree {
            root: std::process::id(),
            group: None,
        });
        assert!(sampler.sample(0.0).is_some());
        let spin = std::time::Instant::now();
        while spin.elapsed() < std::time::Duration::from_millis(200) {
            std::hint::black_box(0u64);
        }
        let sample = sampler.sample(0.2).unwrap();
        assert!(sample.rss > 1_000_000, "{sample:?}");
        assert!(sample.cpu > 30.0, "a busy thread should show: {sample:?}");
        assert!(sample.fds >= 3);
        assert!(sample.processes >= 1);
    }
}
