//! CPU profiles: where the time goes. [`parse`] reads a V8 `.cpuprofile`; [`summarise`]
//! computes each function's self time (samples where it was running) and total time (samples
//! where it was on the stack), and names the hot code: the app's own functions, with the time
//! spent below them in V8, native code, Node's modules and `node_modules` credited to the
//! nearest app function that called it, and the callee that took it ("`pbkdf2Sync`
//! (node:crypto) called from `verifyPassword` (app.js:9)"). `(garbage collector)` samples are
//! GC time; `(idle)` and `(program)` (the VM outside JavaScript) are not busy time.

pub(crate) mod parse;

use std::collections::HashMap;
use std::path::Path;

use super::source::{anonymous_in, Sources};
use crate::result::AllocationSite;

pub(crate) use crate::result::{Callee, CpuProfile, FlameNode, FunctionTime, HotFunction};
pub(crate) use parse::{Frame, Profile};

/// Functions listed in each table.
pub(crate) const TOP: usize = 10;
/// Flame graph nodes with less of the busy time than this are left out (with their callees).
pub(crate) const FLAME_MIN_SHARE: f64 = 0.002;
/// Flame graph nodes at most, and its deepest level.
pub(crate) const FLAME_MAX_NODES: usize = 2_000;
/// Deepest flame graph level kept.
pub(crate) const FLAME_MAX_DEPTH: usize = 128;

/// `file:line`, `node:crypto` (Node's internal modules by the public module they serve:
/// `node:internal/crypto/pbkdf2` is `node:crypto`), or `native` for V8's builtins.
pub(crate) fn place(url: &str, line: u32) -> String {
    if url.is_empty() {
        return "native".to_string();
    }
    if let Some(internal) = url.strip_prefix("node:internal/") {
        let module = internal.split('/').next().unwrap_or(internal);
        let module = match module {
            "streams" => "stream",
            "perf" => "perf_hooks",
            other => other,
        };
        return format!("node:{module}");
    }
    if url.starts_with("node:") {
        return url.to_string();
    }
    let file = url.rsplit('/').next().unwrap_or(url);
    if line == 0 {
        file.to_string()
    } else {
        format!("{file}:{line}")
    }
}

/// "`busyWork` (blocked-loop.js:15)", or "`pbkdf2Sync` (node:crypto) called from
/// `verifyPassword` (app.js:9)" when one callee took most of its time.
pub(crate) fn describe(hot: &HotFunction) -> String {
    let own = match &hot.within {
        Some(within) => format!("{} ({})", anonymous_in(within), place(&hot.url, hot.line)),
        None => format!("`{}` ({})", hot.function, place(&hot.url, hot.line)),
    };
    match &hot.callee {
        Some(callee) if callee.share >= 0.5 => format!(
            "`{}` ({}) called from {own}",
            callee.function,
            place(&callee.url, callee.line)
        ),
        _ => own,
    }
}

/// "`createSession` (session-leak.js:16)" for an allocation site, or "an anonymous function
/// in `startAudit` (timer-feed.js:15)".
pub(crate) fn describe_site(site: &AllocationSite) -> String {
    let at = place(&site.url, site.line);
    match &site.within {
        Some(within) => format!("{} ({at})", anonymous_in(within)),
        None => format!("`{}` ({at})", site.function),
    }
}

/// Names the anonymous allocating functions by the named function around each.
pub(crate) fn name_anonymous_sites(sites: &mut [AllocationSite], sources: &mut Sources) {
    for site in sites {
        if site.function == "(anonymous)" {
            site.within = sources.enclosing(&site.url, site.line, site.column);
        }
    }
}

/// Names the anonymous functions of the hot code by the named function around each in its
/// script ("an anonymous function in `createLargeLinkStructure`"), where the script can be
/// read here.
pub(crate) fn name_anonymous(profile: &mut CpuProfile, sources: &mut Sources) {
    for hot in &mut profile.hot {
        if hot.function == "(anonymous)" && hot.app {
            hot.within = sources.enclosing(&hot.url, hot.line, hot.column);
        }
    }
    name_anonymous_sites(&mut profile.allocations, sources);
}

/// Reads and checks a profile file.
pub(crate) fn load(path: &Path) -> Result<Profile, String> {
    let file = std::fs::File::open(path)
        .map_err(|err| format!("could not open '{}': {err}", path.display()))?;
    // Refused by its size before a byte is read (parsing costs several times the file).
    if file
        .metadata()
        .is_ok_and(|m| m.is_file() && m.len() > parse::MAX_FILE_BYTES)
    {
        return Err(format!(
            "'{}': it is larger than {} MB; no CPU profile is that big",
            path.display(),
            parse::MAX_FILE_BYTES / 1024 / 1024
        ));
    }
    parse::parse(file).map_err(|err| format!("'{}': {err}", path.display()))
}

/// Whether a frame is the app's own code.
pub(crate) fn is_app(frame: &Frame) -> bool {
    let url = frame.url.as_str();
    !url.is_empty()
        && !url.starts_with("node:")
        && !url.starts_with("internal/")
        && !url.contains("/node_modules/")
        && !is_harness(url)
}

/// harness's own probe, preloaded into the target: never the app's code.
fn is_harness(url: &str) -> bool {
    url.ends_with("/probe.cjs") && url.contains("/harness-")
}

/// What a sample's leaf means.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Idle,
    Program,
    Gc,
    Busy,
}

fn kind(frame: &Frame) -> Kind {
    if !frame.url.is_empty() {
        return Kind::Busy;
    }
    match frame.function.as_str() {
        "(idle)" => Kind::Idle,
        "(program)" | "(root)" => Kind::Program,
        "(garbage collector)" => Kind::Gc,
        _ => Kind::Busy,
    }
}

/// The name shown for a frame.
fn name(frame: &Frame) -> String {
    if frame.function.is_empty() {
        "(anonymous)".to_string()
    } else {
        frame.function.clone()
    }
}

/// Time per frame and per node, summed over a profile's samples (µs).
struct Times {
    /// Per frame: running at the sample.
    self_us: Vec<f64>,
    /// Per frame: on the stack (once per sample, however deep the recursion).
    total_us: Vec<f64>,
    /// Per node (call path): running at the sample.
    node_self: Vec<f64>,
    /// Per frame: its own time and what it called outside the app.
    credited: HashMap<u32, f64>,
    /// Per (app frame, the frame it called outside the app): time below that call.
    callees: HashMap<(u32, u32), f64>,
    busy: f64,
    gc: f64,
    idle: f64,
    program: f64,
}

/// Summarises a checked profile.
pub(crate) fn summarise(profile: &Profile) -> CpuProfile {
    let times = times(profile);
    let durations: f64 = profile.durations.iter().sum();
    let ms = |us: f64| round3(us / 1000.0);
    CpuProfile {
        pid: None,
        reason: String::new(),
        file: None,
        responses: None,
        seconds: round3(durations / 1e6),
        samples: profile.samples.len() as u64,
        interval_us: round3(parse::median(&profile.durations)),
        busy_ms: ms(times.busy),
        gc_ms: ms(times.gc),
        idle_ms: ms(times.idle),
        program_ms: ms(times.program),
        hot: hot(profile, &times),
        by_self: table(profile, &times, &times.self_us),
        by_total: table(profile, &times, &times.total_us),
        flame: flame(profile, &times.node_self, times.busy),
        allocations: Vec::new(),
    }
}

/// Walks every sample from its leaf to the root.
fn times(profile: &Profile) -> Times {
    let frames = &profile.frames;
    let mut t = Times {
        self_us: vec![0.0; frames.len()],
        total_us: vec![0.0; frames.len()],
        node_self: vec![0.0; profile.parent.len()],
        credited: HashMap::new(),
        callees: HashMap::new(),
        busy: 0.0,
        gc: 0.0,
        idle: 0.0,
        program: 0.0,
    };
    let mut stamp = vec![usize::MAX; frames.len()];
    for (i, (&node, &us)) in profile.samples.iter().zip(&profile.durations).enumerate() {
        let leaf = profile.node_frame[node as usize];
        match kind(&frames[leaf as usize]) {
            Kind::Idle => {
                t.idle += us;
                continue;
            }
            Kind::Program => {
                t.program += us;
                continue;
            }
            Kind::Gc => t.gc += us,
            Kind::Busy => {}
        }
        t.busy += us;
        t.self_us[leaf as usize] += us;
        t.node_self[node as usize] += us;
        // Walk to the root: total time once per frame, and the nearest app frame.
        let mut at = Some(node);
        let mut below: Option<u32> = None;
        let mut app: Option<(u32, Option<u32>)> = None;
        while let Some(n) = at {
            let frame = profile.node_frame[n as usize];
            if stamp[frame as usize] != i {
                stamp[frame as usize] = i;
                t.total_us[frame as usize] += us;
            }
            if app.is_none() && is_app(&frames[frame as usize]) {
                app = Some((frame, below));
            }
            below = Some(frame);
            at = profile.parent[n as usize];
        }
        let (owner, callee) = app.unwrap_or((leaf, None));
        *t.credited.entry(owner).or_default() += us;
        if let Some(callee) = callee {
            *t.callees.entry((owner, callee)).or_default() += us;
        }
    }
    t
}

/// The hot code: the frames with the most credited time, each with its biggest callee.
fn hot(profile: &Profile, times: &Times) -> Vec<HotFunction> {
    let frames = &profile.frames;
    let mut hot: Vec<(u32, f64)> = times.credited.iter().map(|(&f, &us)| (f, us)).collect();
    hot.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    hot.into_iter()
        .take(TOP)
        .map(|(f, us)| {
            let frame = &frames[f as usize];
            let callee = times
                .callees
                .iter()
                .filter(|((owner, _), _)| *owner == f)
                .max_by(|a, b| a.1.total_cmp(b.1).then(b.0 .1.cmp(&a.0 .1)))
                .filter(|(_, &c)| c >= 0.2 * us)
                .map(|((_, callee), &c)| {
                    let callee = &frames[*callee as usize];
                    Callee {
                        function: name(callee),
                        url: callee.url.clone(),
                        line: callee.line,
                        ms: round3(c / 1000.0),
                        share: round3(c / us),
                    }
                });
            HotFunction {
                function: name(frame),
                url: frame.url.clone(),
                line: frame.line,
                column: frame.column,
                app: is_app(frame),
                ms: round3(us / 1000.0),
                share: round3(share(us, times.busy)),
                callee,
                within: None,
            }
        })
        .collect()
}

/// The top frames by `by` (self or total time).
fn table(profile: &Profile, times: &Times, by: &[f64]) -> Vec<FunctionTime> {
    let frames = &profile.frames;
    let mut order: Vec<usize> = (0..frames.len())
        .filter(|&f| by[f] > 0.0 && frames[f].function != "(root)")
        .collect();
    order.sort_by(|&a, &b| by[b].total_cmp(&by[a]).then(a.cmp(&b)));
    order
        .into_iter()
        .take(TOP)
        .map(|f| FunctionTime {
            function: name(&frames[f]),
            url: frames[f].url.clone(),
            line: frames[f].line,
            self_ms: round3(times.self_us[f] / 1000.0),
            total_ms: round3(times.total_us[f] / 1000.0),
            self_share: round3(share(times.self_us[f], times.busy)),
            total_share: round3(share(times.total_us[f], times.busy)),
        })
        .collect()
}

/// `part` of `busy`, 0 when nothing was busy.
fn share(part: f64, busy: f64) -> f64 {
    if busy > 0.0 {
        part / busy
    } else {
        0.0
    }
}

/// The busy call tree, pruned: paths with less than [`FLAME_MIN_SHARE`] of the busy time go,
/// and at most [`FLAME_MAX_NODES`] nodes stay, biggest branches first.
fn flame(profile: &Profile, node_self: &[f64], busy: f64) -> Vec<FlameNode> {
    let count = profile.parent.len();
    let mut children: Vec<Vec<u32>> = vec![Vec::new(); count];
    for (node, parent) in profile.parent.iter().enumerate() {
        if let Some(parent) = parent {
            children[*parent as usize].push(node as u32);
        }
    }
    // Parents before children, then totals from the leaves up.
    let mut order = vec![profile.root];
    let mut i = 0;
    while i < order.len() {
        order.extend(children[order[i] as usize].iter().copied());
        i += 1;
    }
    let mut total = node_self.to_vec();
    for &node in order.iter().rev() {
        if let Some(parent) = profile.parent[node as usize] {
            total[parent as usize] += total[node as usize];
        }
    }
    let min = busy * FLAME_MIN_SHARE;
    let mut out: Vec<FlameNode> = Vec::new();
    // (node, index of its kept parent, depth), the root's children at the top level.
    let mut queue: std::collections::VecDeque<(u32, Option<u32>, usize)> = children
        [profile.root as usize]
        .iter()
        .map(|&c| (c, None, 0))
        .collect();
    while let Some((node, parent, depth)) = queue.pop_front() {
        if total[node as usize] <= 0.0 || total[node as usize] < min || out.len() >= FLAME_MAX_NODES
        {
            continue;
        }
        let frame = &profile.frames[profile.node_frame[node as usize] as usize];
        out.push(FlameNode {
            function: name(frame),
            url: frame.url.clone(),
            line: frame.line,
            parent,
            total_ms: round3(total[node as usize] / 1000.0),
            self_ms: round3(node_self[node as usize] / 1000.0),
        });
        if depth + 1 < FLAME_MAX_DEPTH {
            let me = (out.len() - 1) as u32;
            let mut kids = children[node as usize].clone();
            kids.sort_by(|a, b| total[*b as usize].total_cmp(&total[*a as usize]));
            queue.extend(kids.into_iter().map(|k| (k, Some(me), depth + 1)));
        }
    }
    out
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests;
