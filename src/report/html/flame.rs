//! "Where the time goes": a CPU profile's hot code, its flame graph and its top functions.
//! The flame graph is an icicle (callers above callees) drawn as inline SVG rectangles, each
//! with a `<title>` giving the function, its place and its share, so it is readable with
//! JavaScript disabled (a tooltip on hover, the text in the accessibility tree).

use std::fmt::Write;

use crate::analyse::profile::{place, CpuProfile, FlameNode, FunctionTime};
use crate::report::escape::html as escape;
use crate::report::terminal::profile_heading;
use crate::result::CpuTrace;

/// Width of the flame graph, in SVG units.
const WIDTH: f64 = 960.0;
/// Height of one level.
const ROW: f64 = 17.0;
/// Rectangles narrower than this are not drawn (their time is in their parent's width).
const MIN_WIDTH: f64 = 0.5;
/// Characters of a label per unit of width (about 6.5 units per character at 11 px).
const CHAR_WIDTH: f64 = 6.5;

/// The section for every profile of the run, and what went wrong with the CPU trace.
pub(super) fn section(profiles: &[CpuProfile], trace: Option<&CpuTrace>) -> String {
    let warning = trace.and_then(|t| Some((&t.reason, t.warning.as_ref()?)));
    if profiles.is_empty() && warning.is_none() {
        return String::new();
    }
    let mut out = String::from("<section id=\"profile\"><h2>Where the time goes</h2>");
    if let Some((reason, warning)) = warning {
        let _ = write!(
            out,
            "<p class=\"warning\">CPU trace ({}): {}</p>",
            escape(reason),
            escape(warning)
        );
    }
    for profile in profiles {
        let _ = write!(
            out,
            "<p class=\"meta\">{}. After the cooldown harness ran a few more seconds of the same load, not counted in the figures above, with V8's CPU profiler sampling every Node process; time in Node, V8 and <code>node_modules</code> is credited to the app function that called it.</p>",
            escape(&profile_heading(profile))
        );
        out += &hot(profile);
        out += &graph(&profile.flame, profile.busy_ms);
        out += "<div class=\"tables\">";
        out += &table("By self time", &profile.by_self);
        out += &table("By total time", &profile.by_total);
        out += "</div>";
        if let Some(file) = &profile.file {
            let _ = write!(
                out,
                "<p class=\"meta\">The raw profile is <code>{}</code> beside this report: it opens in Chrome DevTools (Performance) and speedscope.</p>",
                escape(file)
            );
        }
    }
    out += "</section>";
    out
}

/// The hot code as a table: share, function, and the callee that took most of its time.
fn hot(profile: &CpuProfile) -> String {
    let mut out = String::from(
        "<table class=\"hot\"><tr><th>share of busy time</th><th>hot code</th><th>called</th></tr>",
    );
    for hot in profile.hot.iter().filter(|h| h.share >= 0.01).take(5) {
        let callee = hot.callee.as_ref().map_or(String::new(), |c| {
            format!(
                "<code>{}</code> ({}), {:.0} % of it",
                escape(&c.function),
                escape(&place(&c.url, c.line)),
                c.share * 100.0
            )
        });
        let _ = write!(
            out,
            "<tr><td class=\"num\">{:.1} %</td><td><code>{}</code> ({}){}</td><td>{callee}</td></tr>",
            hot.share * 100.0,
            escape(&hot.function),
            escape(&place(&hot.url, hot.line)),
            if hot.app { "" } else { " <span class=\"sev\">not app code</span>" }
        );
    }
    out += "</table>";
    out
}

/// The icicle graph of the busy call tree.
fn graph(nodes: &[FlameNode], busy_ms: f64) -> String {
    if nodes.is_empty() || busy_ms <= 0.0 {
        return String::new();
    }
    // Each node's x and depth, from its parent's; siblings side by side in list order.
    let mut x = vec![0.0; nodes.len()];
    let mut depth = vec![0usize; nodes.len()];
    let mut next_child = vec![0.0; nodes.len()];
    let mut next_top = 0.0;
    for (i, node) in nodes.iter().enumerate() {
        let width = node.total_ms / busy_ms * WIDTH;
        match node.parent.map(|p| p as usize).filter(|&p| p < i) {
            Some(parent) => {
                x[i] = x[parent] + next_child[parent];
                next_child[parent] += width;
                depth[i] = depth[parent] + 1;
            }
            None => {
                x[i] = next_top;
                next_top += width;
            }
        }
    }
    let levels = depth.iter().max().map_or(1, |d| d + 1);
    let height = levels as f64 * ROW;
    let mut out = format!(
        "<figure id=\"flame\" aria-label=\"Flame graph of the busy time, callers above callees\"><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    for (i, node) in nodes.iter().enumerate() {
        let width = node.total_ms / busy_ms * WIDTH;
        if width < MIN_WIDTH {
            continue;
        }
        let y = depth[i] as f64 * ROW;
        let at = place(&node.url, node.line);
        let title = format!(
            "{} ({at}): {:.1} % of the busy time ({:.0} ms), {:.1} % running itself",
            node.function,
            node.total_ms / busy_ms * 100.0,
            node.total_ms,
            node.self_ms / busy_ms * 100.0
        );
        let _ = write!(
            out,
            "<g><title>{}</title><rect x=\"{:.2}\" y=\"{y:.1}\" width=\"{:.2}\" height=\"{:.1}\" fill=\"{}\" stroke=\"#fff\" stroke-width=\"0.5\"/>",
            escape(&title),
            x[i],
            width,
            ROW - 1.0,
            colour(node)
        );
        let fits = ((width - 4.0) / CHAR_WIDTH).floor() as usize;
        if fits >= 3 {
            let label: String = if node.function.chars().count() <= fits {
                node.function.clone()
            } else {
                node.function.chars().take(fits - 1).chain(['…']).collect()
            };
            let _ = write!(
                out,
                "<text x=\"{:.2}\" y=\"{:.1}\" fill=\"#111\">{}</text>",
                x[i] + 3.0,
                y + ROW - 5.0,
                escape(&label)
            );
        }
        out += "</g>";
    }
    out += "</svg><figcaption class=\"legend\"><span>Each bar is a function on the stack, as wide as its share of the busy time; callers above callees. Warm colours: the app's code; blue: Node's modules; green: packages in node_modules; grey: V8 and native code; purple: garbage collection. Hover a bar for its numbers.</span></figcaption></figure>";
    out
}

/// The bar colour: app code warm, Node blue, packages green, native grey, GC purple.
fn colour(node: &FlameNode) -> &'static str {
    let url = node.url.as_str();
    if node.function == "(garbage collector)" {
        "#b39ddb"
    } else if url.is_empty() {
        "#c7c7c7"
    } else if url.starts_with("node:") || url.starts_with("internal/") {
        "#90caf9"
    } else if url.contains("/node_modules/") {
        "#a5d6a7"
    } else if node.self_ms > node.total_ms * 0.5 {
        "#ef8a62"
    } else {
        "#fdcc8a"
    }
}

/// Top functions by self or total time.
fn table(caption: &str, rows: &[FunctionTime]) -> String {
    let mut out = format!(
        "<table><caption>{caption}</caption><tr><th>function</th><th>where</th><th>self</th><th>total</th></tr>"
    );
    for row in rows {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"num\">{:.1} %</td><td class=\"num\">{:.1} %</td></tr>",
            escape(&row.function),
            escape(&place(&row.url, row.line)),
            row.self_share * 100.0,
            row.total_share * 100.0
        );
    }
    out += "</table>";
    out
}
