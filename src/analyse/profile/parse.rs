//! Reads a V8 CPU profile (`.cpuprofile`, as written by the inspector's `Profiler.stop`,
//! `node --cpu-prof` and Chrome DevTools): a tree of call-path nodes, each with its call
//! frame, and the sampled node of each tick with the time since the previous one. Everything
//! is checked before use (one tree, ids that exist, as many time deltas as samples), so that a
//! malformed or hostile file is a one-line error, never a panic; memory is bounded by the
//! file's size, which is itself capped.

use std::collections::HashMap;
use std::io::Read;

use serde::Deserialize;

/// The longest time one sample may stand for, µs (a day).
const MAX_TICK_US: f64 = 86_400e6;

/// Largest profile file read (a 10-minute profile at 1 ms is ~30 MB).
pub(crate) const MAX_FILE_BYTES: u64 = 128 * 1024 * 1024;

/// Why a profile could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ProfileError(String);

/// A function as the profiler names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Frame {
    /// The function's name; V8 names its own entries `(root)`, `(program)`, `(idle)` and
    /// `(garbage collector)`; an unnamed function is empty.
    pub function: String,
    /// Its script: a path, a `file://` or `node:` URL; empty for V8 builtins and native code.
    pub url: String,
    /// 1-based line (0 when unknown).
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub column: u32,
}

/// A checked profile.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    /// Distinct frames.
    pub frames: Vec<Frame>,
    /// For each node (call path): its frame.
    pub node_frame: Vec<u32>,
    /// For each node: its parent node, `None` for the root.
    pub parent: Vec<Option<u32>>,
    /// The root node.
    pub root: u32,
    /// The node sampled at each tick.
    pub samples: Vec<u32>,
    /// The time each tick stands for, µs: until the next tick (the last one until the end).
    pub durations: Vec<f64>,
}

#[derive(Deserialize)]
struct RawProfile {
    nodes: Vec<RawNode>,
    #[serde(default, rename = "startTime")]
    start_time: f64,
    #[serde(default, rename = "endTime")]
    end_time: f64,
    #[serde(default)]
    samples: Vec<u64>,
    #[serde(default, rename = "timeDeltas")]
    time_deltas: Vec<f64>,
}

#[derive(Deserialize)]
struct RawNode {
    id: u64,
    #[serde(rename = "callFrame")]
    call_frame: RawFrame,
    #[serde(default)]
    children: Vec<u64>,
    #[serde(default, rename = "hitCount")]
    hit_count: u64,
}

#[derive(Deserialize)]
struct RawFrame {
    #[serde(default, rename = "functionName")]
    function_name: String,
    #[serde(default)]
    url: String,
    #[serde(default = "unknown", rename = "lineNumber")]
    line_number: i64,
    #[serde(default = "unknown", rename = "columnNumber")]
    column_number: i64,
}

fn unknown() -> i64 {
    -1
}

/// Reads and checks a profile from `reader` (at most [`MAX_FILE_BYTES`]).
pub(crate) fn parse(reader: impl Read) -> Result<Profile, ProfileError> {
    let mut text = Vec::new();
    reader
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|err| ProfileError(format!("could not read it: {err}")))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(ProfileError(format!(
            "it is larger than {} MB; no CPU profile is that big",
            MAX_FILE_BYTES / 1024 / 1024
        )));
    }
    let raw: RawProfile = serde_json::from_slice(&text).map_err(|err| {
        let what = if err.is_eof() {
            "truncated"
        } else {
            "malformed"
        };
        ProfileError(format!("not a CPU profile ({what} JSON: {err})"))
    })?;
    drop(text);
    check(raw)
}

/// Checks the tree and the samples, and turns ids into indices.
fn check(raw: RawProfile) -> Result<Profile, ProfileError> {
    if raw.nodes.is_empty() {
        return Err(ProfileError("the profile has no nodes".into()));
    }
    if raw.nodes.len() > u32::MAX as usize / 2 {
        return Err(ProfileError("the profile has too many nodes".into()));
    }
    let mut index: HashMap<u64, u32> = HashMap::with_capacity(raw.nodes.len());
    for (i, node) in raw.nodes.iter().enumerate() {
        if index.insert(node.id, i as u32).is_some() {
            return Err(ProfileError(format!("node id {} appears twice", node.id)));
        }
    }
    let mut parent: Vec<Option<u32>> = vec![None; raw.nodes.len()];
    for (i, node) in raw.nodes.iter().enumerate() {
        for child in &node.children {
            let &c = index.get(child).ok_or_else(|| {
                ProfileError(format!(
                    "node {} has a child {child} that is not there",
                    node.id
                ))
            })?;
            if c as usize == i || parent[c as usize].is_some() {
                return Err(ProfileError(format!(
                    "node {child} has more than one parent: the nodes are not a tree"
                )));
            }
            parent[c as usize] = Some(i as u32);
        }
    }
    let roots: Vec<usize> = (0..parent.len()).filter(|&i| parent[i].is_none()).collect();
    let [root] = roots[..] else {
        return Err(ProfileError(format!(
            "the profile has {} roots (one is the (root) node): the nodes are not a tree",
            roots.len()
        )));
    };
    // Every node must be reachable from the root (a cycle elsewhere would not be).
    let mut seen = vec![false; raw.nodes.len()];
    let mut stack = vec![root];
    let mut reached = 0;
    while let Some(node) = stack.pop() {
        if std::mem::replace(&mut seen[node], true) {
            continue;
        }
        reached += 1;
        stack.extend(raw.nodes[node].children.iter().map(|c| index[c] as usize));
    }
    if reached != raw.nodes.len() {
        return Err(ProfileError(
            "some nodes are not reachable from the root: the nodes are not a tree".into(),
        ));
    }
    let mut frames: Vec<Frame> = Vec::new();
    let mut frame_index: HashMap<Frame, u32> = HashMap::new();
    let node_frame = raw
        .nodes
        .iter()
        .map(|node| {
            let frame = Frame {
                function: bounded(&node.call_frame.function_name),
                url: bounded(&node.call_frame.url),
                line: one_based(node.call_frame.line_number),
                column: one_based(node.call_frame.column_number),
            };
            *frame_index.entry(frame.clone()).or_insert_with(|| {
                frames.push(frame);
                (frames.len() - 1) as u32
            })
        })
        .collect();
    let (samples, durations) = ticks(&raw, &index)?;
    Ok(Profile {
        frames,
        node_frame,
        parent,
        root: root as u32,
        samples,
        durations,
    })
}

/// V8's 0-based positions (-1 when unknown) as 1-based (0 when unknown).
fn one_based(position: i64) -> u32 {
    u32::try_from(position.saturating_add(1)).unwrap_or(0)
}

/// The sampled nodes and what each tick stands for. Without samples (older formats), each
/// node's hit count, spread evenly over the profile's length.
fn ticks(
    raw: &RawProfile,
    index: &HashMap<u64, u32>,
) -> Result<(Vec<u32>, Vec<f64>), ProfileError> {
    if raw.samples.is_empty() {
        let hits: u64 = raw.nodes.iter().map(|n| n.hit_count.min(1 << 32)).sum();
        if hits == 0 {
            return Err(ProfileError("the profile has no samples".into()));
        }
        if hits > 100_000_000 {
            return Err(ProfileError("the profile claims too many hits".into()));
        }
        let each = ((raw.end_time - raw.start_time) / hits as f64).max(0.0);
        let each = if each.is_finite() && each <= MAX_TICK_US {
            each
        } else {
            0.0
        };
        let mut samples = Vec::with_capacity(hits as usize);
        for (i, node) in raw.nodes.iter().enumerate() {
            samples.extend(std::iter::repeat_n(
                i as u32,
                node.hit_count.min(1 << 32) as usize,
            ));
        }
        let durations = vec![each; samples.len()];
        return Ok((samples, durations));
    }
    if raw.time_deltas.len() != raw.samples.len() {
        return Err(ProfileError(format!(
            "the profile has {} samples but {} time deltas",
            raw.samples.len(),
            raw.time_deltas.len()
        )));
    }
    let samples = raw
        .samples
        .iter()
        .map(|id| {
            index.get(id).copied().ok_or_else(|| {
                ProfileError(format!("a sample names node {id}, which is not there"))
            })
        })
        .collect::<Result<Vec<u32>, _>>()?;
    // A tick longer than a day is no sample of a process: counted as none, so no absurd
    // time (a 295-digit duration) is printed.
    let clean = |d: f64| {
        if d.is_finite() && d <= MAX_TICK_US {
            d.max(0.0)
        } else {
            0.0
        }
    };
    let mut durations: Vec<f64> = raw.time_deltas.iter().skip(1).map(|&d| clean(d)).collect();
    let elapsed: f64 = raw.time_deltas.iter().map(|&d| clean(d)).sum();
    let last = clean(raw.end_time - raw.start_time - elapsed);
    let typical = median(&durations);
    durations.push(if last > 0.0 && last < 10.0 * typical.max(1.0) {
        last
    } else {
        typical
    });
    Ok((samples, durations))
}

/// The median of `values` (0 when empty).
pub(crate) fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// The longest function name or script URL kept from a profile, in characters: real ones are
/// far shorter, and a 50 MB name would be printed whole in every output.
const MAX_NAME: usize = 200;

/// `text` cut to [`MAX_NAME`] characters, with an ellipsis when cut.
fn bounded(text: &str) -> String {
    if text.len() <= MAX_NAME {
        return text.to_string();
    }
    let mut out: String = text.chars().take(MAX_NAME - 1).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}
