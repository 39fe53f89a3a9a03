//! `harness compare BASE NEW --html OUT`: one self-contained page for a pull request's
//! reviewer: the conclusion, the comparison table with its significance labels, the findings
//! that appeared or were resolved, and both runs' charts overlaid on one time axis (each on
//! the clock of its own load; BASE faded, NEW solid). Same page rules as the report: no
//! network, no JavaScript, every string escaped.

use std::fmt::Write;
use std::path::Path;

use super::TEMPLATE;
use crate::analyse::compare::{Comparison, Tolerances};
use crate::report::charts;
use crate::report::compare::{conclusion, label, value};
use crate::report::escape::html as escape;
use crate::result::RunResult;

/// The page.
pub(crate) fn render(
    paths: (&Path, &Path),
    runs: (&RunResult, &RunResult),
    comparison: &Comparison,
    t: &Tolerances,
) -> anyhow::Result<String> {
    let (base, new) = runs;
    let mut annotated = (base.clone(), new.clone());
    crate::analyse::annotate(&mut annotated.0);
    crate::analyse::annotate(&mut annotated.1);
    let charts = charts::render_overlay(&annotated.0, &annotated.1)?;
    let mut figures = String::new();
    for (chart, svg) in &charts {
        let _ = writeln!(
            figures,
            "<figure id=\"{}\" aria-label=\"{}\">{svg}</figure>",
            chart.id,
            escape(&chart.title)
        );
    }
    let describe = |which: &str, path: &Path, run: &RunResult| {
        format!(
            "{which} {} ({} {}, {})",
            path.display(),
            run.method,
            run.url,
            run.start
        )
    };
    let meta = format!(
        "{} · {}",
        describe("BASE", paths.0, base),
        describe("NEW", paths.1, new)
    );
    Ok(TEMPLATE
        .replace("{{title}}", "harness compare")
        .replace("{{meta}}", &escape(&meta))
        .replace("{{version}}", &escape(&new.harness_version))
        .replace("{{summary}}", &summary(comparison, t))
        .replace("{{verdict}}", &verdicts(&annotated.0, &annotated.1))
        .replace("{{sections}}", "")
        .replace(
            "{{charts}}",
            &format!(
                "<p class=\"legend\"><span>Both runs on the clock of their load: 0 s is where each load began. Faded lines: BASE; solid: NEW; shading: NEW's phases.</span></p>{figures}"
            ),
        ))
}

/// The conclusion, the table and the findings that changed.
fn summary(comparison: &Comparison, t: &Tolerances) -> String {
    let class = if comparison.failed() {
        "critical"
    } else {
        "ok"
    };
    let heading = conclusion(comparison);
    let mut out = format!(
        "<section id=\"summary\" class=\"summary {class}\"><h2 id=\"verdict\">{}</h2>",
        escape(heading)
    );
    out += "<table id=\"comparison\"><tr><th></th><th>BASE</th><th>NEW</th><th>change</th><th>p</th><th></th><th>rule</th></tr>";
    for row in &comparison.rows {
        let verdict = label(row, t);
        let _ = write!(
            out,
            "<tr><th>{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            escape(&row.name),
            escape(&value(row, row.base)),
            escape(&value(row, row.new)),
            row.change.map_or_else(|| "-".to_string(), |c| format!("{c:+.1} %")),
            row.p.map_or_else(|| "-".to_string(), |p| format!("{p:.3}")),
            if verdict == "WORSE" { "fail" } else { "" },
            verdict,
            escape(&row.note)
        );
    }
    out += "</table>";
    if !comparison.new_findings.is_empty() || !comparison.resolved_findings.is_empty() {
        out += "<ul class=\"checks\" id=\"findings\">";
        for title in &comparison.new_findings {
            let _ = write!(
                out,
                "<li class=\"fail\">New problem: {}</li>",
                escape(title)
            );
        }
        for title in &comparison.resolved_findings {
            let _ = write!(out, "<li class=\"pass\">Resolved: {}</li>", escape(title));
        }
        out += "</ul>";
    }
    out += "</section>";
    out
}

/// Each run's own verdict.
fn verdicts(base: &RunResult, new: &RunResult) -> String {
    let mut out = String::from("<section class=\"verdict\" id=\"evidence\"><table>");
    for (which, run) in [("BASE", base), ("NEW", new)] {
        let _ = write!(
            out,
            "<tr><th>{which} verdict</th><td>{}</td></tr>",
            escape(&run.verdict)
        );
    }
    out += "</table></section>";
    out
}
