//! Heap analysis on synthetic snapshots written in V8's format.

use super::diff::Summary;
use super::{analyse, parse, Graph};
use crate::result::RetainerKind;

/// Builds a snapshot: nodes are (type, name, id, self size), edges (from, type, name, to).
#[derive(Default)]
pub struct Builder {
    nodes: Vec<(&'static str, String, u32, u32)>,
    edges: Vec<(usize, &'static str, String, usize)>,
    locations: Vec<(usize, u32, u32)>,
}

const NODE_TYPES: [&str; 15] = [
    "hidden",
    "array",
    "string",
    "object",
    "code",
    "closure",
    "regexp",
    "number",
    "native",
    "synthetic",
    "concatenated string",
    "sliced string",
    "symbol",
    "bigint",
    "object shape",
];
const EDGE_TYPES: [&str; 7] = [
    "context", "element", "property", "internal", "hidden", "shortcut", "weak",
];

impl Builder {
    pub fn node(&mut self, kind: &'static str, name: &str, id: u32, size: u32) -> usize {
        self.nodes.push((kind, name.to_string(), id, size));
        self.nodes.len() - 1
    }

    pub fn edge(&mut self, from: usize, kind: &'static str, name: &str, to: usize) {
        self.edges.push((from, kind, name.to_string(), to));
    }

    pub fn location(&mut self, closure: usize, line: u32, column: u32) {
        self.locations.push((closure, line, column));
    }

    pub fn json(&self) -> String {
        let mut strings: Vec<String> = vec!["<dummy>".to_string()];
        let mut known: std::collections::HashMap<String, usize> = Default::default();
        let mut index = |s: &str| -> usize {
            *known.entry(s.to_string()).or_insert_with(|| {
                strings.push(s.to_string());
                strings.len() - 1
            })
        };
        let mut by_node: Vec<Vec<&(usize, &'static str, String, usize)>> =
            vec![Vec::new(); self.nodes.len()];
        for edge in &self.edges {
            by_node[edge.0].push(edge);
        }
        let mut nodes = Vec::new();
        let mut edges = Vec::new();
        for (n, (kind, name, id, size)) in self.nodes.iter().enumerate() {
            let out = &by_node[n];
            let t = NODE_TYPES.iter().position(|t| t == kind).unwrap();
            nodes.extend([
                t,
                index(name),
                *id as usize,
                *size as usize,
                out.len(),
                0,
                0,
            ]);
            for (_, ekind, ename, to) in out.iter().copied() {
                let et = EDGE_TYPES.iter().position(|t| t == ekind).unwrap();
                let name = if *ekind == "element" || *ekind == "hidden" {
                    ename.parse().unwrap()
                } else {
                    index(ename)
                };
                edges.extend([et, name, to * 7]);
            }
        }
        let locations: Vec<usize> = self
            .locations
            .iter()
            .flat_map(|(n, line, col)| [n * 7, 1, *line as usize, *col as usize])
            .collect();
        let list = |v: &[usize]| {
            v.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            r#"{{"snapshot":{{"meta":{{"node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],"node_types":[{},"string","number","number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[{},"string_or_number","node"],"location_fields":["object_index","script_id","line","column"]}},"node_count":{},"edge_count":{}}},
"nodes":[{}],
"edges":[{}],
"locations":[{}],
"strings":{}}}"#,
            serde_json::to_string(&NODE_TYPES).unwrap(),
            serde_json::to_string(&EDGE_TYPES).unwrap(),
            self.nodes.len(),
            self.edges.len(),
            list(&nodes),
            list(&edges),
            list(&locations),
            serde_json::to_string(&strings).unwrap()
        )
    }

    pub fn graph(&self) -> Graph {
        Graph::new(parse::parse(self.json().as_bytes()).unwrap()).unwrap()
    }
}

/// The article's cache: `computeTerm[term] = Buffer`, with `leaked` terms added during the
/// load (ids from 1000) on top of `kept` from before.
fn cache_app(kept: u32, leaked: u32, freed: u32) -> Builder {
    let mut b = Builder::default();
    let root = b.node("synthetic", "", 1, 0);
    let gc = b.node("synthetic", "(GC roots)", 3, 0);
    b.edge(root, "element", "1", gc);
    let context = b.node("hidden", "system / Context", 5, 40);
    b.edge(gc, "element", "1", context);
    let compute = b.node("closure", "computeTerm", 7, 32);
    b.edge(context, "context", "computeTerm", compute);
    b.location(compute, 17, 2);
    let shared = b.node("code", "computeTerm", 9, 40);
    b.edge(compute, "internal", "shared", shared);
    let script = b.node("code", "/srv/app.js", 11, 40);
    b.edge(shared, "internal", "script_or_debug_info", script);
    let add = |b: &mut Builder, i: u32, id: u32| {
        let buffer = b.node("object", "Buffer", id, 80);
        b.edge(compute, "property", &format!("term-{i}"), buffer);
        let store = b.node("native", "system / JSArrayBufferData", id + 1, 1000);
        b.edge(buffer, "internal", "backing_store", store);
    };
    for i in 0..kept {
        add(&mut b, i, 100 + 2 * i);
    }
    for i in 0..leaked {
        add(&mut b, 10_000 + i, 100_000 + 2 * i);
    }
    // Garbage made during the load and weakly held only: not a leak.
    for i in 0..freed {
        let tmp = b.node("object", "Temp", 900_000 + i, 64);
        b.edge(gc, "weak", "w", tmp);
    }
    b
}

#[test]
fn the_cache_leak_is_named_with_its_holder_and_location() {
    let before = Summary::of(&cache_app(5, 0, 0).graph());
    let after = Summary::of(&cache_app(5, 20_000, 50).graph());
    let last = cache_app(5, 20_000, 50).graph();
    let analysis = analyse(&before, Some(&after), &last, &mut Default::default());
    let top = &analysis.groups[0];
    assert_eq!(top.class, "system / JSArrayBufferData");
    assert_eq!(top.count, 20_000);
    assert_eq!(top.bytes, 20_000_000);
    let retainer = top.retainer.as_ref().unwrap();
    assert_eq!(retainer.name, "computeTerm");
    assert_eq!(retainer.location.as_deref(), Some("app.js:18"));
    assert!((top.path_share - 1.0).abs() < 1e-9);
    // computeTerm, its code and script, and every Buffer with its data.
    assert_eq!(top.holder_retains, Some(32 + 40 + 40 + 20_005 * 1080));
    let path = top.path.join(" ");
    assert!(
        path.ends_with("computeTerm (closure, app.js:18) .term-10000 Buffer .backing_store system / JSArrayBufferData"),
        "{path}"
    );
    assert_eq!(analysis.groups[1].class, "Buffer");
    assert!(analysis.groups.iter().all(|g| g.class != "Temp"));
    let headline = crate::analyse::heap::headline(&analysis).unwrap();
    assert!(
        headline.starts_with(
            "`computeTerm` (app.js:18) retains 20,000 system / JSArrayBufferData objects"
        ),
        "{headline}"
    );
    let buffers = analysis
        .classes
        .iter()
        .find(|c| c.class == "Buffer")
        .unwrap();
    assert_eq!(
        (buffers.new, buffers.deleted, buffers.delta),
        (20_000, 0, 20_000)
    );
    assert_eq!(buffers.size_delta, 20_000 * 80);
}

#[test]
fn objects_freed_by_the_cooldown_or_present_before_are_not_leaks() {
    let before = Summary::of(&cache_app(30_000, 0, 0).graph());
    // During the load 20,000 were added, but the cooldown emptied the cache again.
    let after = Summary::of(&cache_app(30_000, 20_000, 0).graph());
    let last = cache_app(30_000, 0, 0).graph();
    let analysis = analyse(&before, Some(&after), &last, &mut Default::default());
    assert!(analysis.groups.is_empty(), "{:?}", analysis.groups);
    assert_eq!(analysis.leaked_objects, 0);
}

#[test]
fn a_context_variable_is_named_as_the_holder() {
    let mut b = Builder::default();
    let root = b.node("synthetic", "", 1, 0);
    let context = b.node("hidden", "system / Context", 3, 40);
    b.edge(root, "element", "1", context);
    let map = b.node("object", "Map", 5, 32);
    b.edge(context, "context", "sessions", map);
    let table = b.node("array", "", 7, 16);
    b.edge(map, "internal", "table", table);
    for i in 0..12_000 {
        let session = b.node("object", "Object", 1000 + i, 56);
        b.edge(table, "element", &i.to_string(), session);
    }
    let before = Summary::of(
        &Builder::default()
            .tap(|b| {
                b.node("synthetic", "", 1, 0);
            })
            .graph(),
    );
    let analysis = analyse(&before, None, &b.graph(), &mut Default::default());
    let top = &analysis.groups[0];
    assert_eq!(top.class, "Object");
    let retainer = top.retainer.as_ref().unwrap();
    assert_eq!(
        (retainer.kind, retainer.name.as_str()),
        (RetainerKind::Variable, "sessions")
    );
}

#[test]
fn inconsistent_snapshots_are_refused() {
    let snapshot = |nodes: &str, edges: &str| {
        format!(
            r#"{{"snapshot":{{"meta":{{"node_fields":["type","name","id","self_size","edge_count"],"node_types":[["synthetic","object"]],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["element","property"]]}}}},"nodes":[{nodes}],"edges":[{edges}],"strings":["","a"]}}"#
        )
    };
    let good = snapshot("0,0,1,0,1, 1,1,3,8,0", "0,1,5");
    assert!(Graph::new(parse::parse(good.as_bytes()).unwrap()).is_ok());
    for (nodes, edges, expect) in [
        ("0,0,1,0,1, 1,1,3,8,0", "0,1,10", "points to no node"),
        ("0,0,1,0,1, 1,1,3,8,0", "0,1,4", "points to no node"),
        ("0,0,1,0,2, 1,1,3,8,0", "0,1,5", "more edges"),
        ("0,0,1,0,0, 1,1,3,8,0", "0,1,5", "have 0 edges but"),
        ("0,0,1,0,1, 1,7,3,8,0", "0,1,5", "names string 7"),
        ("0,0,1,0,1, 1,1,3,8", "0,1,5", "whole number of records"),
        ("", "", "no nodes"),
    ] {
        let text = snapshot(nodes, edges);
        let err = Graph::new(parse::parse(text.as_bytes()).unwrap())
            .err()
            .unwrap_or_else(|| panic!("{nodes} / {edges} was accepted"));
        assert!(err.to_string().contains(expect), "{nodes} / {edges}: {err}");
    }
}

trait Tap: Sized {
    fn tap(self, f: impl FnOnce(&mut Self)) -> Self;
}

impl Tap for Builder {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}

/// A small fuzzer without dependencies: thousands of random byte edits of a valid snapshot
/// (flips, deletions, insertions of JSON punctuation and digits, truncations) must each be an
/// error or a snapshot that analyses, never a panic.
#[test]
fn mutated_snapshots_never_panic() {
    let base = cache_app(3, 40, 3).json().into_bytes();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b"0123456789[]{},:\"\\-ue ";
    let (mut parsed, mut analysed) = (0, 0);
    for _ in 0..3000 {
        let mut bytes = base.clone();
        for _ in 0..1 + next() % 4 {
            if bytes.is_empty() {
                break;
            }
            let at = (next() as usize) % bytes.len();
            match next() % 4 {
                0 => bytes[at] = alphabet[(next() as usize) % alphabet.len()],
                1 => {
                    bytes.remove(at);
                }
                2 => bytes.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                _ => bytes.truncate(at),
            }
        }
        let Ok(snapshot) = parse::parse(bytes.as_slice()) else {
            continue;
        };
        parsed += 1;
        let Ok(graph) = Graph::new(snapshot) else {
            continue;
        };
        analysed += 1;
        let summary = Summary::of(&graph);
        let _ = analyse(&summary, Some(&summary), &graph, &mut Default::default());
        let _ = analyse(&Summary::default(), None, &graph, &mut Default::default());
    }
    // The mutations must exercise the later stages too, not only the parser's errors.
    assert!(
        parsed > 100 && analysed > 50,
        "parsed {parsed}, analysed {analysed}"
    );
}
