//! Heap snapshots: where the memory goes. [`parse`] reads a V8 `.heapsnapshot` into flat
//! arrays, [`Graph`] checks and indexes it, and [`diff`] finds the objects that were added
//! during the load and are still alive after the cooldown (memlab's three-snapshot method),
//! groups them by class the way DevTools names them, and shows who holds them.

pub(crate) mod diff;
pub(crate) mod parse;

use std::ops::Range;
use std::path::Path;

pub(crate) use crate::result::{HeapAnalysis, RetainerKind};
pub(crate) use diff::{analyse, Summary};
pub(crate) use parse::Snapshot;

/// Reads and checks a snapshot file.
pub(crate) fn load(path: &Path) -> Result<Graph, String> {
    let file = std::fs::File::open(path)
        .map_err(|err| format!("could not open '{}': {err}", path.display()))?;
    let snapshot = parse::parse(file).map_err(|err| format!("'{}': {err}", path.display()))?;
    Graph::new(snapshot).map_err(|err| format!("'{}': {err}", path.display()))
}

/// Compares snapshot files of one process: before the load, after it (optional) and last.
/// Only one snapshot is held whole at a time.
pub(crate) fn analyse_files(
    first: &Path,
    middle: Option<&Path>,
    last: &Path,
) -> Result<HeapAnalysis, String> {
    let first = Summary::of(&load(first)?);
    let middle = match middle {
        Some(path) => Some(Summary::of(&load(path)?)),
        None => None,
    };
    let last = load(last)?;
    let mut sources = crate::analyse::source::Sources::default();
    Ok(analyse(&first, middle.as_ref(), &last, &mut sources))
}

/// The code that holds the biggest group: "`computeTerm` (app.js:18)", "variable
/// `sessions`", "the event emitter `connector` (EventEmitter)".
pub(crate) fn holder(analysis: &HeapAnalysis) -> Option<String> {
    let r = analysis.groups.first()?.retainer.as_ref()?;
    let at = r
        .location
        .as_ref()
        .map_or(String::new(), |l| format!(" ({l})"));
    Some(match r.kind {
        RetainerKind::Variable => format!("variable `{}`{at}", r.name),
        RetainerKind::Emitter => match &r.class {
            Some(class) if *class != r.name => {
                format!("the event emitter `{}` ({class})", r.name)
            }
            _ => format!("an event emitter ({})", r.name),
        },
        RetainerKind::Function => format!("`{}`{at}", r.name),
    })
}

/// One sentence for the biggest group, e.g. "`computeTerm` (app.js:18) retains 16,000
/// `system / JSArrayBufferData` objects (+16 MB)".
pub(crate) fn headline(analysis: &HeapAnalysis) -> Option<String> {
    let group = analysis.groups.first()?;
    let holder = holder(analysis).unwrap_or_else(|| "an unnamed holder".to_string());
    let total = group.holder_retains.map_or(String::new(), |b| {
        format!("; freeing it would free {}", crate::units::bytes(b as f64))
    });
    let function = group.function.as_ref().map_or(String::new(), |f| {
        let at = f
            .location
            .as_ref()
            .map_or(String::new(), |l| format!(" at {l}"));
        match &f.within {
            Some(within) => format!(" of {}{at}", crate::analyse::source::anonymous_in(within)),
            None => format!(" of `{}`{at}", f.name),
        }
    });
    let when = if group.after_load * 2 > group.count {
        "added after the load by what it started (timers, emitters)"
    } else {
        "added during the load"
    };
    Some(format!(
        "{holder} retains {} {} objects{function} (+{}) {when} and still alive after it{total}",
        crate::units::thousands(group.count),
        group.class,
        crate::units::bytes(group.bytes as f64)
    ))
}

/// Checks a heap trace's analysis against the measured run before any code is named, and
/// says why nothing is. Objects that are merely young (a cache filling up, warm-up, a pool)
/// are new and alive at the end of a trace too, so groups are named only when the measured
/// run found a leak or a suspect (`leak`); and, when it measured the bytes retained per
/// request, only when the trace confirmed it (`confirmed`, from what every process kept
/// against the prediction; see [`crate::analyse::trial`]). Listeners still attached to an
/// emitter are named whenever a leak was found.
pub(crate) fn confirm(
    analysis: &mut HeapAnalysis,
    leak: bool,
    confirmed: Option<bool>,
) -> Option<String> {
    use crate::units::{bytes, thousands};
    let kept = format!(
        "{} in {} objects",
        bytes(analysis.leaked_bytes as f64),
        thousands(analysis.leaked_objects)
    );
    if !leak {
        if analysis.groups.is_empty() {
            return None;
        }
        analysis.groups.clear();
        return Some(format!(
            "the measured run found no leak, so no code is named: the heap trace kept {kept}, which a cache filling up or warm-up also does; the comparison shows which classes grew"
        ));
    }
    if confirmed == Some(false) {
        analysis
            .groups
            .retain(crate::result::LeakGroup::is_listeners);
    }
    if !analysis.groups.is_empty() {
        return None;
    }
    Some(format!(
        "the heap trace kept too little to name the code ({kept}, far less than the measured run predicts)"
    ))
}

/// A checked snapshot with the field positions resolved and each node's first edge indexed.
pub(crate) struct Graph {
    snapshot: Snapshot,
    node_fields: usize,
    edge_fields: usize,
    f_type: usize,
    f_name: usize,
    f_id: usize,
    f_size: usize,
    e_type: usize,
    e_name: usize,
    e_to: usize,
    /// Index (in edges, not fields) of each node's first edge; one more entry at the end.
    first_edge: Vec<u32>,
    /// Edge type indices that matter.
    weak: Option<u32>,
    element: Option<u32>,
    hidden_edge: Option<u32>,
    context: Option<u32>,
    /// Node type indices that matter.
    closure: Option<u32>,
    /// Closure locations: (node, script id, line, column), sorted by node.
    locations: Vec<(u32, u32, u32, u32)>,
}

/// A snapshot that does not fit together (wrong counts, edges to nowhere, ...).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct GraphError(String);

impl Graph {
    /// Checks a parsed snapshot and indexes it.
    pub(crate) fn new(snapshot: Snapshot) -> Result<Graph, GraphError> {
        let field = |fields: &[String], name: &str, what: &str| {
            fields
                .iter()
                .position(|f| f == name)
                .ok_or_else(|| GraphError(format!("the snapshot's {what} have no '{name}' field")))
        };
        let nf = &snapshot.node_fields;
        let ef = &snapshot.edge_fields;
        let (f_type, f_name, f_id, f_size, f_edges) = (
            field(nf, "type", "nodes")?,
            field(nf, "name", "nodes")?,
            field(nf, "id", "nodes")?,
            field(nf, "self_size", "nodes")?,
            field(nf, "edge_count", "nodes")?,
        );
        let (e_type, e_name, e_to) = (
            field(ef, "type", "edges")?,
            field(ef, "name_or_index", "edges")?,
            field(ef, "to_node", "edges")?,
        );
        let (node_fields, edge_fields) = (nf.len(), ef.len());
        if snapshot.nodes.len() % node_fields != 0 || snapshot.edges.len() % edge_fields != 0 {
            return Err(GraphError(
                "the node or edge array is not a whole number of records (truncated?)".into(),
            ));
        }
        if snapshot.nodes.is_empty() {
            return Err(GraphError("the snapshot has no nodes".into()));
        }
        let first_edge = first_edges(&snapshot, node_fields, edge_fields, f_edges, f_name)?;
        let edge_type_index = |name: &str| {
            snapshot
                .edge_types
                .iter()
                .position(|t| t == name)
                .map(|i| i as u32)
        };
        let (element, hidden_edge) = (edge_type_index("element"), edge_type_index("hidden"));
        let by_index = [element, hidden_edge];
        check_edges(
            &snapshot,
            node_fields,
            edge_fields,
            (e_type, e_name, e_to),
            by_index,
        )?;
        let locations = locations(&snapshot, node_fields);
        Ok(Graph {
            weak: edge_type_index("weak"),
            context: edge_type_index("context"),
            closure: snapshot
                .node_types
                .iter()
                .position(|t| t == "closure")
                .map(|i| i as u32),
            snapshot,
            node_fields,
            edge_fields,
            f_type,
            f_name,
            f_id,
            f_size,
            e_type,
            e_name,
            e_to,
            first_edge,
            element,
            hidden_edge,
            locations,
        })
    }

    /// Number of nodes.
    pub(crate) fn node_count(&self) -> usize {
        self.first_edge.len() - 1
    }

    fn node_field(&self, node: usize, field: usize) -> u32 {
        self.snapshot.nodes[node * self.node_fields + field]
    }

    /// The node's type name (`object`, `closure`, `native`, ...).
    pub(crate) fn node_type(&self, node: usize) -> &str {
        let t = self.node_field(node, self.f_type) as usize;
        self.snapshot
            .node_types
            .get(t)
            .map_or("unknown", String::as_str)
    }

    /// The node's name (a constructor, a function, a string's text, ...).
    pub(crate) fn name(&self, node: usize) -> &str {
        self.snapshot.string(self.node_field(node, self.f_name))
    }

    /// The node's id, stable across snapshots of one process.
    pub(crate) fn id(&self, node: usize) -> u32 {
        self.node_field(node, self.f_id)
    }

    /// The node's own size in bytes.
    pub(crate) fn self_size(&self, node: usize) -> u64 {
        u64::from(self.node_field(node, self.f_size))
    }

    /// Whether the node is a function.
    pub(crate) fn is_closure(&self, node: usize) -> bool {
        Some(self.node_field(node, self.f_type)) == self.closure
    }

    /// The node's outgoing edges, as edge indices.
    pub(crate) fn edges(&self, node: usize) -> Range<usize> {
        self.first_edge[node] as usize..self.first_edge[node + 1] as usize
    }

    /// The node an edge points to.
    pub(crate) fn edge_to(&self, edge: usize) -> usize {
        self.snapshot.edges[edge * self.edge_fields + self.e_to] as usize / self.node_fields
    }

    /// Whether an edge is weak (does not keep its target alive).
    pub(crate) fn is_weak(&self, edge: usize) -> bool {
        Some(self.snapshot.edges[edge * self.edge_fields + self.e_type]) == self.weak
    }

    /// Whether an edge is a closure's context variable.
    pub(crate) fn is_context(&self, edge: usize) -> bool {
        Some(self.snapshot.edges[edge * self.edge_fields + self.e_type]) == self.context
    }

    /// The edge's name as DevTools shows it: `[3]` for elements, the property or variable
    /// name otherwise.
    pub(crate) fn edge_name(&self, edge: usize) -> String {
        let at = edge * self.edge_fields;
        let kind = Some(self.snapshot.edges[at + self.e_type]);
        let value = self.snapshot.edges[at + self.e_name];
        if kind == self.element || kind == self.hidden_edge {
            format!("[{value}]")
        } else {
            self.snapshot.string(value).to_string()
        }
    }

    /// The class DevTools' Summary and Comparison views group a node under.
    pub(crate) fn class_name(&self, node: usize) -> String {
        match self.node_type(node) {
            "object" | "native" => {
                let name = self.name(node);
                // Objects are named "Foo" or, for some, "Foo / detail"; the class is "Foo".
                if self.node_type(node) == "object" {
                    name.split(" / ").next().unwrap_or(name).to_string()
                } else {
                    name.to_string()
                }
            }
            "hidden" => "(system)".to_string(),
            "code" => "(compiled code)".to_string(),
            "closure" => "(closure)".to_string(),
            "string" | "concatenated string" | "sliced string" => "(string)".to_string(),
            "regexp" => "(regexp)".to_string(),
            "number" => "(number)".to_string(),
            "array" => "(array)".to_string(),
            other => format!("({other})"),
        }
    }

    /// `(line, column)`, 1-based, of a closure's source, when the snapshot records it.
    pub(crate) fn location(&self, node: usize) -> Option<(u32, u32)> {
        let at = self
            .locations
            .binary_search_by_key(&(node as u32), |l| l.0)
            .ok()?;
        let (_, _, line, column) = self.locations[at];
        Some((line + 1, column + 1))
    }

    /// The script a closure comes from: its `shared` function info's script (edge `script`
    /// from Node 22, `script_or_debug_info` before), a `code` node named by its path or URL.
    pub(crate) fn script_name(&self, closure: usize) -> Option<String> {
        let step = |node: usize, names: &[&str]| {
            self.edges(node)
                .find(|&e| names.contains(&self.edge_name(e).as_str()))
                .map(|e| self.edge_to(e))
        };
        let shared = step(closure, &["shared"])?;
        let script = step(shared, &["script", "script_or_debug_info"])?;
        let name = self.name(script);
        (!name.is_empty()).then(|| name.to_string())
    }
}

/// Index (in edges) of each node's first edge, one more entry at the end, after checking
/// that the nodes' edge counts add up to the edges there are and that their names exist.
fn first_edges(
    snapshot: &Snapshot,
    node_fields: usize,
    edge_fields: usize,
    f_edges: usize,
    f_name: usize,
) -> Result<Vec<u32>, GraphError> {
    let node_count = snapshot.nodes.len() / node_fields;
    let edge_count = snapshot.edges.len() / edge_fields;
    let strings = snapshot.string_count() as u64;
    let mut first_edge = Vec::with_capacity(node_count + 1);
    let mut total: u64 = 0;
    for n in 0..node_count {
        first_edge.push(total as u32);
        let at = n * node_fields;
        total += u64::from(snapshot.nodes[at + f_edges]);
        if total > edge_count as u64 {
            return Err(GraphError(
                "the nodes claim more edges than the snapshot has".into(),
            ));
        }
        if u64::from(snapshot.nodes[at + f_name]) >= strings {
            return Err(GraphError(format!(
                "node {n} names string {} of {strings}",
                snapshot.nodes[at + f_name]
            )));
        }
    }
    if total != edge_count as u64 {
        return Err(GraphError(format!(
            "the nodes have {total} edges but the snapshot lists {edge_count}"
        )));
    }
    first_edge.push(total as u32);
    Ok(first_edge)
}

/// Checks that every edge points to a node and that named edges name a string;
/// `(type, name, to)` are the edge fields' positions, `by_index` the edge types named by an
/// index (elements, hidden edges).
fn check_edges(
    snapshot: &Snapshot,
    node_fields: usize,
    edge_fields: usize,
    (e_type, e_name, e_to): (usize, usize, usize),
    by_index: [Option<u32>; 2],
) -> Result<(), GraphError> {
    let strings = snapshot.string_count() as u64;
    for e in 0..snapshot.edges.len() / edge_fields {
        let at = e * edge_fields;
        let to = snapshot.edges[at + e_to] as usize;
        if to % node_fields != 0 || to >= snapshot.nodes.len() {
            return Err(GraphError(format!("edge {e} points to no node ({to})")));
        }
        let kind = Some(snapshot.edges[at + e_type]);
        if !by_index.contains(&kind) && u64::from(snapshot.edges[at + e_name]) >= strings {
            return Err(GraphError(format!(
                "edge {e} names a string that is not there"
            )));
        }
    }
    Ok(())
}

/// Closure locations: (node, script id, line, column), sorted by node.
fn locations(snapshot: &Snapshot, node_fields: usize) -> Vec<(u32, u32, u32, u32)> {
    let lf = &snapshot.location_fields;
    let mut locations: Vec<(u32, u32, u32, u32)> = match (
        lf.iter().position(|f| f == "object_index"),
        lf.iter().position(|f| f == "script_id"),
        lf.iter().position(|f| f == "line"),
        lf.iter().position(|f| f == "column"),
    ) {
        (Some(o), Some(s), Some(l), Some(c)) if !lf.is_empty() => snapshot
            .locations
            .chunks_exact(lf.len())
            .map(|r| (r[o] / node_fields as u32, r[s], r[l], r[c]))
            .collect(),
        _ => Vec::new(),
    };
    locations.sort_unstable();
    locations
}

#[cfg(test)]
pub(crate) mod tests;
