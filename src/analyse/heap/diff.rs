//! Which objects leaked and who holds them. Leak candidates are the objects of the last
//! snapshot (after the cooldown) whose ids were not in the first (before the load): added
//! during the load, or after it by what the load started (timers, emitters), and still alive. They are grouped by class; for the biggest groups, the shortest path from the GC
//! roots shows what holds them, and the nearest function or variable on that path is named.

use std::collections::HashMap;

use super::Graph;
use crate::analyse::source::Sources;
use crate::result::{ClassChange, Function, HeapAnalysis, LeakGroup, Retainer, RetainerKind};

/// A group must be this big to be named: a few thousand objects or a megabyte stay behind in
/// any Node process after a load (JIT feedback, caches that fill once, sockets' buffers).
const MIN_GROUP_OBJECTS: u64 = 10_000;
pub(super) const MIN_GROUP_BYTES: u64 = 1 << 20;
/// Event listeners added during the load and still attached after it are a leak in any
/// number past Node's own warning level (`MaxListenersExceededWarning` at 11).
const MIN_LISTENERS: usize = 10;
/// Largest groups whose paths are traced.
const MAX_CANDIDATES: usize = 40;
/// Groups named at most.
const MAX_GROUPS: usize = 5;
/// Classes listed in the comparison table at most.
const MAX_CLASSES: usize = 15;
/// Objects per group whose paths are traced (evenly spread), to find the common path.
const PATH_SAMPLES: usize = 500;
/// Steps of a path shown when no function or variable holds it, counted back from the
/// leaked object.
const PATH_STEPS: usize = 6;

/// What one snapshot contributes besides the last: its object ids and its classes' sizes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Summary {
    ids: Vec<u32>,
    classes: HashMap<String, (u64, u64)>,
}

impl Summary {
    /// Summarises a snapshot (which can then be dropped).
    pub(crate) fn of(graph: &Graph) -> Summary {
        let mut ids: Vec<u32> = (0..graph.node_count()).map(|n| graph.id(n)).collect();
        ids.sort_unstable();
        let mut classes: HashMap<String, (u64, u64)> = HashMap::new();
        for node in 0..graph.node_count() {
            let entry = classes.entry(graph.class_name(node)).or_default();
            entry.0 += 1;
            entry.1 += graph.self_size(node);
        }
        Summary { ids, classes }
    }

    fn contains(&self, id: u32) -> bool {
        self.ids.binary_search(&id).is_ok()
    }
}

/// Compares snapshots: `first` before the load, `middle` after it (optional: it tells what
/// was added during the load from what was added after it), `last` after the cooldown (or
/// simply the later snapshot).
pub(crate) fn analyse(
    first: &Summary,
    middle: Option<&Summary>,
    last: &Graph,
    sources: &mut Sources,
) -> HeapAnalysis {
    let parents = shortest_paths(last);
    let census = census(first, last, &parents);
    let mut is_leaked = vec![false; last.node_count()];
    for &node in census.leaked.values().flatten() {
        is_leaked[node] = true;
    }
    let leaked_objects = census.leaked.values().map(|v| v.len() as u64).sum();
    let leaked_bytes = census
        .leaked
        .values()
        .flatten()
        .map(|&n| last.self_size(n))
        .sum();
    let classes = comparison(first, &census);
    let size = |classes: &HashMap<String, (u64, u64)>| -> i64 {
        classes.values().map(|(_, bytes)| *bytes as i64).sum()
    };
    HeapAnalysis {
        leaked_objects,
        leaked_bytes,
        grown_bytes: size(&census.last_classes) - size(&first.classes),
        groups: named_groups(last, &parents, census.leaked, &is_leaked, middle, sources),
        classes,
    }
}

/// The last snapshot counted: each class's objects and size, the objects new since the first
/// snapshot by class, and the leak candidates by group key.
struct Census {
    last_classes: HashMap<String, (u64, u64)>,
    new_by_class: HashMap<String, u64>,
    leaked: HashMap<String, Vec<usize>>,
}

/// Leak candidates are new since `first`, reachable, and of a kind that is the app's (not
/// V8's code, shapes or internals). They need not be in `middle`: what timers or emitters
/// started during the load add after it (the heap trace's idle cooldown) is kept by the app
/// as surely as what the requests added (a `setInterval` per request that pushes into a
/// module-level array adds most of it then).
fn census(first: &Summary, last: &Graph, parents: &[u32]) -> Census {
    let kept_type = |node: usize| {
        !matches!(
            last.node_type(node),
            "hidden" | "code" | "object shape" | "synthetic" | "unknown"
        )
    };
    let mut census = Census {
        last_classes: HashMap::new(),
        new_by_class: HashMap::new(),
        leaked: HashMap::new(),
    };
    for (node, &parent) in parents.iter().enumerate() {
        let class = last.class_name(node);
        let entry = census.last_classes.entry(class.clone()).or_default();
        entry.0 += 1;
        entry.1 += last.self_size(node);
        let id = last.id(node);
        if first.contains(id) {
            continue;
        }
        *census.new_by_class.entry(class.clone()).or_default() += 1;
        let reachable = parent != UNREACHED;
        if reachable && kept_type(node) && node != 0 {
            census
                .leaked
                .entry(group_key(last, node, class))
                .or_default()
                .push(node);
        }
    }
    census
}

/// The groups big enough to name (or listeners on an emitter), with their paths and
/// holders, holders first.
fn named_groups(
    last: &Graph,
    parents: &[u32],
    leaked: HashMap<String, Vec<usize>>,
    is_leaked: &[bool],
    middle: Option<&Summary>,
    sources: &mut Sources,
) -> Vec<LeakGroup> {
    let mut groups: Vec<(String, Vec<usize>, u64)> = leaked
        .into_iter()
        .filter(|(_, nodes)| nodes.len() >= MIN_LISTENERS)
        .map(|(_, nodes)| {
            let bytes = nodes.iter().map(|&n| last.self_size(n)).sum();
            (last.class_name(nodes[0]), nodes, bytes)
        })
        .collect();
    groups.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    groups.truncate(MAX_CANDIDATES);
    let mut groups: Vec<(LeakGroup, Option<usize>)> = groups
        .into_iter()
        .map(|(class, nodes, bytes)| {
            let (mut group, holder) = group(last, parents, class, &nodes, bytes, sources);
            group.after_load = middle.map_or(0, |m| {
                nodes.iter().filter(|&&n| !m.contains(last.id(n))).count() as u64
            });
            (group, holder)
        })
        .filter(|(g, _)| {
            g.count >= MIN_GROUP_OBJECTS || g.bytes >= MIN_GROUP_BYTES || g.is_listeners()
        })
        .collect();
    // What holds the leak comes before what it holds: a group whose holder is itself a
    // leaked object (strings in a leaked session object, the context of a leaked closure)
    // is held by another group, so it goes after the groups held by long-lived code; and
    // listeners still attached to an emitter hold whatever their closures use.
    groups.sort_by_key(|(g, holder)| {
        let held_by_leak = holder.is_some_and(|h| is_leaked[h]);
        (held_by_leak, !g.is_listeners())
    });
    groups.truncate(MAX_GROUPS);
    let mut retained: HashMap<usize, u64> = HashMap::new();
    groups
        .into_iter()
        .map(|(mut group, holder)| {
            group.holder_retains =
                holder.map(|h| *retained.entry(h).or_insert_with(|| retained_size(last, h)));
            group
        })
        .collect()
}

/// DevTools' Comparison view: per class, objects new and deleted and the size's change
/// between the first and the last snapshot, biggest growth first.
fn comparison(first: &Summary, census: &Census) -> Vec<ClassChange> {
    let mut classes: Vec<ClassChange> = census
        .last_classes
        .iter()
        .map(|(class, &(count, size))| {
            let (before_count, before_size) = first.classes.get(class).copied().unwrap_or_default();
            let new = census.new_by_class.get(class).copied().unwrap_or(0);
            let survivors = count - new;
            let deleted = before_count.saturating_sub(survivors);
            ClassChange {
                class: class.clone(),
                new,
                deleted,
                delta: new as i64 - deleted as i64,
                size_delta: size as i64 - before_size as i64,
            }
        })
        .collect();
    for (class, &(count, size)) in &first.classes {
        if !census.last_classes.contains_key(class) {
            classes.push(ClassChange {
                class: class.clone(),
                new: 0,
                deleted: count,
                delta: -(count as i64),
                size_delta: -(size as i64),
            });
        }
    }
    classes.retain(|c| c.delta != 0 || c.size_delta != 0);
    classes.sort_by(|a, b| {
        b.size_delta
            .cmp(&a.size_delta)
            .then_with(|| a.class.cmp(&b.class))
    });
    classes.truncate(MAX_CLASSES);
    classes
}

/// What leaked objects are grouped by: their class, and for closures also their function
/// (its name and where it is defined), so that the listeners of one `.on()` call are not
/// lumped together with every other closure that a request leaves behind.
fn group_key(graph: &Graph, node: usize, class: String) -> String {
    if !graph.is_closure(node) {
        return class;
    }
    let (line, column) = graph.location(node).unwrap_or((0, 0));
    format!("{class}\u{0}{}\u{0}{line}:{column}", graph.name(node))
}

/// Each class of a snapshot with its object count and total own size, biggest first.
pub(crate) fn class_sizes(graph: &Graph) -> Vec<(String, u64, u64)> {
    let summary = Summary::of(graph);
    let mut classes: Vec<(String, u64, u64)> = summary
        .classes
        .into_iter()
        .map(|(class, (count, size))| (class, count, size))
        .collect();
    classes.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    classes
}

const UNREACHED: u32 = u32::MAX;
const ROOT: u32 = u32::MAX - 1;

/// Breadth-first from the root over strong edges: for each node, the edge it was first
/// reached by (so following them back gives a shortest path), `ROOT` for the root and
/// `UNREACHED` for nodes only weakly held.
fn shortest_paths(graph: &Graph) -> Vec<u32> {
    let mut parent = vec![UNREACHED; graph.node_count()];
    parent[0] = ROOT;
    let mut queue = std::collections::VecDeque::new();
    let search = |queue: &mut std::collections::VecDeque<usize>, parent: &mut Vec<u32>| {
        while let Some(node) = queue.pop_front() {
            for edge in graph.edges(node) {
                if graph.is_weak(edge) {
                    continue;
                }
                let to = graph.edge_to(edge);
                if parent[to] == UNREACHED {
                    parent[to] = edge as u32;
                    queue.push_back(to);
                }
            }
        }
    };
    // User roots first (the global object), as DevTools measures distance from them; then
    // what only the GC roots hold.
    for edge in graph.edges(0) {
        let to = graph.edge_to(edge);
        if !graph.is_weak(edge) && graph.node_type(to) != "synthetic" && parent[to] == UNREACHED {
            parent[to] = edge as u32;
            queue.push_back(to);
        }
    }
    search(&mut queue, &mut parent);
    queue.push_back(0);
    search(&mut queue, &mut parent);
    parent
}

/// The source node of each parent edge, found by searching the edge ranges.
fn edge_source(graph: &Graph, edge: usize) -> usize {
    // first_edge is sorted: the source is the last node whose first edge is <= edge.
    let nodes = graph.node_count();
    let (mut lo, mut hi) = (0usize, nodes);
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        if graph.edges(mid).start <= edge {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    // Nodes without edges share a start with the next one; step to the one that owns it.
    while graph.edges(lo).end <= edge && lo + 1 < nodes {
        lo += 1;
    }
    lo
}

/// Edges from the root to `node`, root side first (at most `limit` of the last ones).
fn path_edges(graph: &Graph, parents: &[u32], node: usize, limit: usize) -> (Vec<usize>, bool) {
    let mut edges = Vec::new();
    let mut at = node;
    let mut guard = 0;
    while parents[at] != ROOT && parents[at] != UNREACHED {
        let edge = parents[at] as usize;
        edges.push(edge);
        at = edge_source(graph, edge);
        guard += 1;
        if guard > graph.node_count() {
            break;
        }
    }
    let truncated = edges.len() > limit;
    edges.truncate(limit.max(1).min(edges.len()));
    edges.reverse();
    (edges, truncated)
}

/// How a node is shown in a path.
fn label(graph: &Graph, node: usize) -> String {
    if graph.is_closure(node) {
        let name = match graph.name(node) {
            "" => "(anonymous)",
            name => name,
        };
        return match where_defined(graph, node) {
            Some(at) => format!("{name} (closure, {at})"),
            None => format!("{name} (closure)"),
        };
    }
    match graph.node_type(node) {
        "object" | "native" | "hidden" => {
            let name = graph.name(node);
            if name.is_empty() {
                graph.class_name(node)
            } else {
                name.to_string()
            }
        }
        _ => graph.class_name(node),
    }
}

/// `file:line` of a closure.
fn where_defined(graph: &Graph, closure: usize) -> Option<String> {
    let (line, _) = graph.location(closure)?;
    let script = graph.script_name(closure)?;
    let file = script.rsplit('/').next().unwrap_or(&script);
    Some(format!("{file}:{line}"))
}

/// A path key that groups objects held the same way: classes and edge names with digits
/// folded, so `[term-1]` and `[term-2]` count as one path.
fn signature(graph: &Graph, edges: &[usize]) -> String {
    let mut key = String::new();
    for &edge in edges {
        let mut last_digit = false;
        for c in graph.edge_name(edge).chars() {
            let digit = c.is_ascii_digit();
            if !(digit && last_digit) {
                key.push(if digit { '#' } else { c });
            }
            last_digit = digit;
        }
        key.push('>');
        key.push_str(&graph.class_name(graph.edge_to(edge)));
        key.push('|');
    }
    key
}

/// The group and its holder's node.
fn group(
    graph: &Graph,
    parents: &[u32],
    class: String,
    nodes: &[usize],
    bytes: u64,
    sources: &mut Sources,
) -> (LeakGroup, Option<usize>) {
    // The path that holds the most bytes among the traced objects (for one big array among
    // many small ones, that is the big one's).
    let step = (nodes.len() / PATH_SAMPLES).max(1);
    let mut paths: HashMap<String, (u64, usize, usize)> = HashMap::new();
    let mut traced = 0;
    for &node in nodes.iter().step_by(step).take(PATH_SAMPLES) {
        let (edges, _) = path_edges(graph, parents, node, PATH_STEPS);
        let entry = paths
            .entry(signature(graph, &edges))
            .or_insert((0, 0, node));
        entry.0 += graph.self_size(node);
        entry.1 += 1;
        traced += 1;
    }
    let (_, count, example) = paths
        .values()
        .max_by_key(|(bytes, count, node)| (*bytes, *count, std::cmp::Reverse(*node)))
        .copied()
        .unwrap_or((0, 0, nodes[0]));
    let (full, _) = path_edges(graph, parents, example, usize::MAX);
    let (retainer, from, holder) = match retainer(graph, &full) {
        Some((retainer, at, holder)) => (Some(retainer), at, Some(holder)),
        None => (None, full.len().saturating_sub(PATH_STEPS), None),
    };
    let edges = &full[from..];
    let mut path = Vec::new();
    if from > 0 {
        path.push("…".to_string());
    }
    if let Some(&first) = edges.first() {
        path.push(label(graph, edge_source(graph, first)));
    }
    for &edge in edges {
        // Elements as `[3]`, named edges (properties, variables, internals) as `.name`.
        let name = graph.edge_name(edge);
        path.push(if name.starts_with('[') {
            name
        } else {
            format!(".{name}")
        });
        path.push(label(graph, graph.edge_to(edge)));
    }
    let function = graph.is_closure(example).then(|| {
        let anonymous = graph.name(example).is_empty();
        let within = anonymous
            .then(|| {
                let (line, column) = graph.location(example)?;
                sources.enclosing(&graph.script_name(example)?, line, column)
            })
            .flatten();
        Function {
            name: match graph.name(example) {
                "" => "(anonymous)".to_string(),
                name => name.to_string(),
            },
            location: where_defined(graph, example),
            within,
        }
    });
    let group = LeakGroup {
        class,
        count: nodes.len() as u64,
        bytes,
        retainer,
        path,
        path_share: if traced == 0 {
            0.0
        } else {
            count as f64 / traced as f64
        },
        holder_retains: None,
        function,
        after_load: 0,
    };
    (group, holder)
}

/// What `holder` retains: the own size of everything reachable from it that the root no
/// longer reaches once it is gone (two breadth-first searches over strong edges).
fn retained_size(graph: &Graph, holder: usize) -> u64 {
    if holder == 0 {
        return 0;
    }
    let strong_walk = |start: usize, skip: Option<usize>, seen: &mut Vec<bool>| {
        let mut queue = std::collections::VecDeque::from([start]);
        seen[start] = true;
        while let Some(node) = queue.pop_front() {
            for edge in graph.edges(node) {
                let to = graph.edge_to(edge);
                if graph.is_weak(edge) || seen[to] || Some(to) == skip {
                    continue;
                }
                seen[to] = true;
                queue.push_back(to);
            }
        }
    };
    let mut from_root = vec![false; graph.node_count()];
    strong_walk(0, Some(holder), &mut from_root);
    let mut from_holder = vec![false; graph.node_count()];
    strong_walk(holder, None, &mut from_holder);
    from_holder
        .iter()
        .zip(&from_root)
        .enumerate()
        .filter(|(_, (&held, &rooted))| held && !rooted)
        .map(|(node, _)| graph.self_size(node))
        .sum()
}

/// Whether a closure is the app's own code, not Node's (`node:` modules, bound and native
/// functions, which have no script of their own).
fn in_app(graph: &Graph, closure: usize) -> bool {
    graph
        .script_name(closure)
        .is_some_and(|script| !script.starts_with("node:") && !script.starts_with("internal/"))
}

/// The name of a closure variable that holds `node`, if one does (the first found): a
/// module's `const connector = ...` rather than the `exports` property the shortest path
/// may go through.
fn variable_holding(graph: &Graph, node: usize) -> Option<String> {
    (0..graph.node_count())
        .flat_map(|source| graph.edges(source))
        .find(|&edge| graph.is_context(edge) && graph.edge_to(edge) == node)
        .map(|edge| graph.edge_name(edge))
}

/// Walking back from the leaked object: the first closure (other than the object itself),
/// context variable or event emitter, whichever comes first; the index of the path's edge
/// where the path shown starts; and the holder's node (the function, the variable's value,
/// the emitter).
fn retainer(graph: &Graph, edges: &[usize]) -> Option<(Retainer, usize, usize)> {
    for (at, &edge) in edges.iter().enumerate().rev() {
        if graph.edge_name(edge) == "_events" {
            // Listeners: the emitter holds them, whoever holds the emitter. It is named by
            // the variable or property that holds it, when there is one.
            let node = edge_source(graph, edge);
            let emitter = label(graph, node);
            let held_as = variable_holding(graph, node).or_else(|| {
                at.checked_sub(1)
                    .map(|before| graph.edge_name(edges[before]))
                    .filter(|name| !name.starts_with('[') && !name.is_empty())
            });
            let retainer = Retainer {
                kind: RetainerKind::Emitter,
                name: held_as.unwrap_or_else(|| emitter.clone()),
                location: None,
                class: Some(emitter),
            };
            return Some((retainer, at.saturating_sub(1), node));
        }
        if graph.is_context(edge) {
            let retainer = Retainer {
                kind: RetainerKind::Variable,
                name: graph.edge_name(edge),
                location: None,
                class: None,
            };
            return Some((retainer, at, graph.edge_to(edge)));
        }
        let source = edge_source(graph, edge);
        if graph.is_closure(source) && !graph.name(source).is_empty() && in_app(graph, source) {
            let retainer = Retainer {
                kind: RetainerKind::Function,
                name: graph.name(source).to_string(),
                location: where_defined(graph, source),
                class: None,
            };
            return Some((retainer, at, source));
        }
    }
    None
}
