//! The `/proc` sampler.
//!
//! The files read at every sample (each member's `/proc/PID/stat` and `/proc/stat`) stay open
//! and are read again from offset 0, and harness's own CPU comes from the process CPU clock:
//! opening `/proc/stat` and `/proc/self/stat` ten times a second cost a Node server loaded by
//! harness 1.4 % of its throughput, reading kept-open files nothing measurable (see README).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::os::unix::fs::FileExt;

use tokio::time::Instant;

use super::{own_cpu_seconds, round1, Sampler, Tree};
use crate::result::{OtherProcess, ProcessSample};
use crate::target::tree;

/// One process's figures from `/proc/PID/stat`.
struct Stat {
    pid: u32,
    ppid: u32,
    pgrp: u32,
    ticks: u64,
    threads: u64,
    rss_pages: u64,
    /// Its command name, between the parentheses.
    comm: String,
}

/// Other processes' CPU below this (percent of one core) is not worth a line.
const OTHERS_MIN_CPU: f64 = 5.0;
/// Other processes' names kept per entry.
const OTHERS_KEPT: usize = 3;

/// Samples a process tree from `/proc`.
pub(super) struct ProcSampler {
    tree: Tree,
    ticks_per_second: f64,
    page_size: u64,
    cores: f64,
    last: Option<Instant>,
    last_ticks: HashMap<u32, u64>,
    /// harness's own CPU time (process CPU clock) at the last sample, in seconds.
    last_self: f64,
    last_system: (u64, u64),
    /// `/proc/stat`, kept open, and the buffer every kept-open file is read into.
    system: Option<File>,
    buffer: Vec<u8>,
    /// The kept-open `/proc/PID/stat` of the known members.
    open: HashMap<u32, File>,
    /// The tree's pids from the last full scan of `/proc`, and when that was.
    known: Vec<u32>,
    scanned: Option<Instant>,
    /// Every other process's CPU ticks at the last full scan.
    others_ticks: HashMap<u32, u64>,
    /// The other processes' CPU since the scan before, for the next sample.
    others: Vec<OtherProcess>,
}

/// How often all of `/proc` is scanned for the tree's members; in between, only the known
/// members are read (one file each instead of one per process on the machine).
const RESCAN: std::time::Duration = std::time::Duration::from_secs(1);

impl ProcSampler {
    pub(super) fn new(tree: Tree) -> ProcSampler {
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
            last_self: 0.0,
            last_system: (0, 0),
            system: File::open("/proc/stat").ok(),
            buffer: Vec::with_capacity(4096),
            open: HashMap::new(),
            known: Vec::new(),
            scanned: None,
            others_ticks: HashMap::new(),
            others: Vec::new(),
        }
    }

    /// The tree's processes: from the known pids, or a full scan once a second, or when one
    /// of them has gone (new children are picked up by the next scan).
    fn current(&mut self, now: Instant) -> Vec<Stat> {
        let due = self
            .scanned
            .is_none_or(|at| now.duration_since(at) >= RESCAN);
        if !due {
            let mut stats = Vec::with_capacity(self.known.len());
            for pid in &self.known {
                let Some(file) = self.open.get(pid) else {
                    break;
                };
                match reread(file, &mut self.buffer).and_then(|text| parse_stat(*pid, text)) {
                    Some(stat) => stats.push(stat),
                    None => break,
                }
            }
            if stats.len() == self.known.len() {
                return stats;
            }
        }
        let stats = self.members(now);
        self.known = stats.iter().map(|s| s.pid).collect();
        // Keep the members' files open; a pid that went is closed (it could be reused).
        let known = &self.known;
        self.open.retain(|pid, _| known.contains(pid));
        for pid in &self.known {
            if !self.open.contains_key(pid) {
                if let Ok(file) = File::open(format!("/proc/{pid}/stat")) {
                    self.open.insert(*pid, file);
                }
            }
        }
        self.scanned = Some(now);
        stats
    }

    /// The processes of the tree: the root, its descendants, and members of the group. The
    /// same scan notes what the other processes used since the last one.
    fn members(&mut self, now: Instant) -> Vec<Stat> {
        let all: Vec<Stat> = tree::proc_pids().filter_map(read_stat).collect();
        let mut seeds: HashSet<u32> = HashSet::from([self.tree.root]);
        if let Some(group) = self.tree.group {
            seeds.extend(all.iter().filter(|s| s.pgrp == group).map(|s| s.pid));
        }
        let inside = tree::with_descendants(seeds, all.iter().map(|s| (s.pid, s.ppid)));
        self.note_others(&all, &inside, now);
        all.into_iter()
            .filter(|s| inside.contains(&s.pid))
            .collect()
    }

    /// The CPU of the processes that are neither the target's nor harness's (its watchdogs
    /// are its children) since the last scan, by name, the busiest few.
    fn note_others(&mut self, all: &[Stat], inside: &HashSet<u32>, now: Instant) {
        let me = std::process::id();
        let elapsed = self.scanned.map(|at| now.duration_since(at).as_secs_f64());
        let mut by_name: HashMap<&str, u64> = HashMap::new();
        let mut ticks = HashMap::with_capacity(all.len());
        for stat in all {
            if inside.contains(&stat.pid) || stat.pid == me || stat.ppid == me {
                continue;
            }
            if let Some(before) = self.others_ticks.get(&stat.pid) {
                *by_name.entry(&stat.comm).or_default() += stat.ticks.saturating_sub(*before);
            }
            ticks.insert(stat.pid, stat.ticks);
        }
        self.others_ticks = ticks;
        let Some(seconds) = elapsed.filter(|s| *s > 0.0) else {
            return;
        };
        let mut others: Vec<OtherProcess> = by_name
            .into_iter()
            .map(|(name, used)| OtherProcess {
                name: name.to_string(),
                cpu: round1(100.0 * used as f64 / self.ticks_per_second / seconds),
            })
            .filter(|o| o.cpu >= OTHERS_MIN_CPU)
            .collect();
        others.sort_by(|a, b| b.cpu.total_cmp(&a.cpu).then_with(|| a.name.cmp(&b.name)));
        others.truncate(OTHERS_KEPT);
        self.others = others;
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
        let own = own_cpu_seconds();
        let system = self
            .system
            .as_ref()
            .and_then(|file| reread(file, &mut self.buffer))
            .and_then(parse_system);
        // CPU seconds used over the interval, as percent of one core.
        let percent = |used: f64| match elapsed {
            Some(seconds) if seconds > 0.0 => 100.0 * used / seconds,
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
            cpu: round1(percent(delta as f64 / self.ticks_per_second)),
            threads: members.iter().map(|s| s.threads).sum(),
            fds: members.iter().map(|s| count_fds(s.pid)).sum(),
            processes: members.len() as u64,
            harness_cpu: round1(percent((own - self.last_self).max(0.0))),
            system_cpu: round1(system_cpu),
            cores: self.cores as u64,
            others: std::mem::take(&mut self.others),
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

/// Reads a kept-open `/proc` file again from its start into `buffer`.
fn reread<'a>(file: &File, buffer: &'a mut Vec<u8>) -> Option<&'a str> {
    buffer.clear();
    loop {
        if buffer.len() == buffer.capacity() {
            buffer.reserve(4096);
        }
        let start = buffer.len();
        buffer.resize(buffer.capacity(), 0);
        match file.read_at(&mut buffer[start..], start as u64) {
            Ok(0) => {
                buffer.truncate(start);
                break;
            }
            Ok(read) => buffer.truncate(start + read),
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => buffer.truncate(start),
            Err(_) => return None,
        }
    }
    std::str::from_utf8(buffer).ok()
}

/// Reads `/proc/PID/stat` once (the full scan, which meets most pids only once).
fn read_stat(pid: u32) -> Option<Stat> {
    parse_stat(pid, &fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parses `/proc/PID/stat`. The command name may hold spaces and parentheses, so fields are
/// counted from the last `)`.
fn parse_stat(pid: u32, text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let comm = text[text.find('(')? + 1..text.rfind(')')?].to_string();
    Some(Stat {
        pid,
        comm,
        ppid: field(1)? as u32,
        pgrp: field(2)? as u32,
        ticks: field(11)? + field(12)?,
        threads: field(17)?,
        rss_pages: field(21)?,
    })
}

/// Busy and total jiffies of the whole machine, from `/proc/stat`.
fn parse_system(text: &str) -> Option<(u64, u64)> {
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
        // The tree is harness itself here, so its own CPU (from the process CPU clock) shows too.
        assert!(sample.harness_cpu > 30.0, "{sample:?}");
        assert!(sample.system_cpu > 0.0, "{sample:?}");
        assert!(sample.fds >= 3);
        assert!(sample.processes >= 1);
    }

    #[tokio::test]
    async fn a_member_that_exits_is_noticed_through_its_kept_open_file() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut sampler = ProcSampler::new(Tree {
            root: child.id(),
            group: None,
        });
        assert_eq!(sampler.sample(0.0).unwrap().processes, 1);
        // Within the rescan interval the member is read through its kept-open file.
        assert_eq!(sampler.sample(0.01).unwrap().processes, 1);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            sampler.sample(0.02).is_none(),
            "a gone tree gives no sample"
        );
    }

    #[test]
    fn a_kept_open_file_is_reread_whole_past_the_buffer() {
        let file = File::open("/proc/self/maps").unwrap();
        let mut buffer = Vec::with_capacity(16);
        let first = reread(&file, &mut buffer).unwrap().to_string();
        assert!(first.len() > 16 && first.ends_with('\n'), "{first}");
        let second = reread(&file, &mut buffer).unwrap();
        assert!(second.starts_with(first.lines().next().unwrap()));
    }
}
