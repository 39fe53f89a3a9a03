//! `harness compare`'s table: each measure of BASE and NEW, the change, its p-value and
//! whether it is worse than the tolerance, noise, or a change within it; then the findings
//! that appeared or went away.

use std::path::Path;

use super::table::{columns, Align};
use crate::analyse::compare::{Comparison, Row, Tolerances};

/// A compared value with its unit.
pub(crate) fn value(row: &Row, v: f64) -> String {
    match row.unit {
        "B" => crate::units::bytes(v),
        "req/s" => format!("{v:.0}"),
        "%" => format!("{v:.3} %"),
        _ => format!("{v:.2} {}", row.unit),
    }
}

/// `WORSE` (beyond the tolerance and not noise), `changed`, `noise`, or nothing (no test).
pub(crate) fn label(row: &Row, t: &Tolerances) -> &'static str {
    match (row.failed, row.p) {
        (true, _) => "WORSE",
        (false, Some(p)) if p < t.alpha => "changed",
        (false, Some(_)) => "noise",
        (false, None) => "",
    }
}

/// The last line: whether NEW is worse beyond the tolerances.
pub(crate) fn conclusion(comparison: &Comparison) -> &'static str {
    if comparison.failed() {
        "NEW is worse than BASE beyond the tolerances."
    } else {
        "No significant regression beyond the tolerances."
    }
}

/// The comparison as text.
pub(crate) fn render(base: &Path, new: &Path, comparison: &Comparison, t: &Tolerances) -> String {
    let mut out = format!("BASE {}\nNEW  {}\n\n", base.display(), new.display());
    let mut rows = vec![["", "BASE", "NEW", "change", "p", "", "rule"]
        .map(String::from)
        .to_vec()];
    for row in &comparison.rows {
        rows.push(vec![
            row.name.clone(),
            value(row, row.base),
            value(row, row.new),
            row.change
                .map_or_else(|| "-".to_string(), |c| format!("{c:+.1} %")),
            row.p.map_or_else(|| "-".to_string(), |p| format!("{p:.3}")),
            label(row, t).to_string(),
            row.note.clone(),
        ]);
    }
    use Align::{Left, Right};
    out += &columns(
        &rows,
        &[Left, Right, Right, Right, Right, Left, Left],
        &[],
        "  ",
        2,
    );
    out.push('\n');
    for title in &comparison.new_findings {
        out += &format!("New problem: {title}\n");
    }
    for title in &comparison.resolved_findings {
        out += &format!("Resolved: {title}\n");
    }
    out += conclusion(comparison);
    out.push('\n');
    out
}
