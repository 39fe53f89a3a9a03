//! "Where the memory goes": what the heap trace did, and per Node process its snapshots, the
//! leaked groups with their holders and paths, the allocation sites, and DevTools'
//! Comparison view of the classes that changed.

use std::fmt::Write;

use crate::report::escape::html as escape;
use crate::result::{HeapAnalysis, HeapProcess, RunResult};
use crate::units::{bytes, thousands};

/// The section, when a heap trace was wanted.
pub(super) fn section(result: &RunResult) -> String {
    if result.heap.is_empty() && result.heap_trace.is_none() {
        return String::new();
    }
    let mut out = String::from("<section id=\"heap\"><h2>Where the memory goes</h2>");
    if let Some(trace) = &result.heap_trace {
        let peak = result
            .process
            .as_ref()
            .and_then(|p| p.points.iter().map(|p| p.rss).max());
        let lines = crate::report::terminal::heap_trace_lines(trace, peak);
        let _ = write!(
            out,
            "<p class=\"meta\">{}</p><p class=\"meta\">A heap snapshot stalls a process for seconds per 100 MB of heap, and after one V8 tracks every object its collector moves, which slows allocation: so no snapshot is taken of the measured process. The heap trace starts a second copy of the target once the measured one has stopped, warms it up, and loads it with the same requests between snapshots while its heap is still small.</p>",
            lines.iter().map(|l| escape(l.trim())).collect::<Vec<_>>().join("<br>")
        );
    }
    for process in &result.heap {
        out += &process_part(process);
    }
    out += "</section>";
    out
}

/// One Node process: its snapshots, the note, the headline and the tables.
fn process_part(process: &HeapProcess) -> String {
    let mut out = String::new();
    let stalls: Vec<String> = process
        .snapshots
        .iter()
        .map(|s| match &s.skipped {
            Some(why) => format!("{}: skipped ({why})", s.phase),
            None => format!(
                "{}: {:.1} s at {} of heap",
                s.phase,
                s.ms / 1000.0,
                bytes(s.heap_used as f64)
            ),
        })
        .collect();
    if stalls.is_empty() {
        let _ = write!(out, "<p class=\"meta\">pid {}</p>", process.pid);
    } else {
        let _ = write!(
            out,
            "<p class=\"meta\">pid {}: heap snapshots at the end of the warm-up, of the trace load and of its cooldown (each stalls the process: {}).</p>",
            process.pid,
            escape(&stalls.join(", "))
        );
    }
    if let Some(note) = &process.note {
        let _ = write!(out, "<p>{}</p>", escape(note));
    }
    let Some(analysis) = &process.analysis else {
        return out;
    };
    match crate::analyse::heap::headline(analysis) {
        Some(headline) => {
            let _ = write!(out, "<p class=\"advice\">{}</p>", escape(&headline));
        }
        None if process.note.is_some() => {}
        None => {
            let _ = write!(
                out,
                "<p>No group of objects added during the heap trace and still alive after it is large enough to name ({} objects, {}).</p>",
                thousands(analysis.leaked_objects),
                bytes(analysis.leaked_bytes as f64)
            );
        }
    }
    out += &groups(analysis);
    out += &allocations(process);
    out += &classes(analysis);
    out
}

/// The named groups: class, count, size, holder and path.
fn groups(analysis: &HeapAnalysis) -> String {
    if analysis.groups.is_empty() {
        return String::new();
    }
    let mut out = String::from("<table><tr><th>class</th><th>objects</th><th>size</th><th>held by</th><th>shortest path from the GC roots (share of the objects on it)</th></tr>");
    for group in &analysis.groups {
        let holder = group.retainer.as_ref().map_or(String::new(), |r| {
            let at = r
                .location
                .as_ref()
                .map_or(String::new(), |l| format!(" ({l})"));
            let retains = group
                .holder_retains
                .map_or(String::new(), |b| format!(", retains {}", bytes(b as f64)));
            format!("{} {}{at}{retains}", r.kind, r.name)
        });
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td><code>{}</code> ({:.0} %)</td></tr>",
            escape(&group.class),
            thousands(group.count),
            bytes(group.bytes as f64),
            escape(&holder),
            escape(&group.path.join(" → ")),
            group.path_share * 100.0
        );
    }
    out += "</table>";
    out
}

/// Where what is still alive was allocated, from the sampling heap profiler.
fn allocations(process: &HeapProcess) -> String {
    if process.allocations.is_empty() {
        return String::new();
    }
    let mut out = String::from("<h3>Allocation sites of the memory still alive after the heap trace</h3><p class=\"meta\">From V8's sampling heap profiler during the heap trace: the innermost frame in the app's own code. Inlined functions are counted in their caller, and Buffer backing stores (off the JS heap) are not sampled.</p><table><tr><th>function</th><th>where</th><th>sampled bytes</th></tr>");
    for site in process.allocations.iter().take(10) {
        let _ = write!(
            out,
            "<tr><td><code>{}</code>{}</td><td>{}:{}:{}</td><td class=\"num\">{}</td></tr>",
            escape(&site.function),
            site.within
                .as_ref()
                .map_or(String::new(), |w| format!(" in <code>{}</code>", escape(w))),
            escape(&site.url),
            site.line,
            site.column,
            bytes(site.bytes as f64)
        );
    }
    out += "</table>";
    out
}

/// DevTools' Comparison view between the first and the last snapshot.
fn classes(analysis: &HeapAnalysis) -> String {
    let mut out = String::from("<h3>Classes that changed (first and last snapshot, as DevTools' Comparison view)</h3><table><tr><th>class</th><th># new</th><th># deleted</th><th># delta</th><th>size delta</th></tr>");
    for class in &analysis.classes {
        let sign = if class.size_delta < 0 { "−" } else { "+" };
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:+}</td><td class=\"num\">{sign}{}</td></tr>",
            escape(&class.class),
            thousands(class.new),
            thousands(class.deleted),
            class.delta,
            bytes(class.size_delta.unsigned_abs() as f64)
        );
    }
    out += "</table>";
    out
}
