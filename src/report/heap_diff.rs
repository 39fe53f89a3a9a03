//! `harness heap-diff`'s text: one snapshot's classes by size (DevTools' Summary view), or
//! which objects leaked between snapshots, what holds them, and which classes changed.

use std::path::Path;

use super::table::{columns, Align};
use crate::analyse::heap::headline;
use crate::result::HeapAnalysis;
use crate::units::{bytes, thousands};

/// A snapshot's classes by size: (class, objects, bytes), biggest first; 20 of them.
pub(crate) fn classes(path: &Path, objects: u64, classes: &[(String, u64, u64)]) -> String {
    let mut out = format!("{}: {} objects\n\n", path.display(), thousands(objects));
    for (class, count, size) in classes.iter().take(20) {
        out += &format!(
            "  {:>12}  {:>10}  {class}\n",
            bytes(*size as f64),
            thousands(*count)
        );
    }
    out
}

/// The analysis of snapshots: the leaked objects new in `after` (and still alive in
/// `last`, when there are three), their groups and paths, and the classes that changed.
pub(crate) fn analysis(after: &Path, last: Option<&Path>, analysis: &HeapAnalysis) -> String {
    let mut out = format!(
        "{} objects ({}) are new in {}{}\n",
        thousands(analysis.leaked_objects),
        bytes(analysis.leaked_bytes as f64),
        after.display(),
        last.map_or(String::new(), |last| format!(
            " and still alive in {}",
            last.display()
        ))
    );
    match headline(analysis) {
        Some(headline) => out += &format!("\n{headline}\n"),
        None => out += "\nNo group of them is large enough to name.\n",
    }
    for group in &analysis.groups {
        out += &format!(
            "\n  {} × {} (+{}), {:.0} % on this path:\n    {}\n",
            thousands(group.count),
            group.class,
            bytes(group.bytes as f64),
            group.path_share * 100.0,
            group.path.join(" → ")
        );
    }
    out += "\nClasses that changed (first and last snapshot):\n";
    let mut rows = vec![["class", "# new", "# deleted", "# delta", "size delta"]
        .map(String::from)
        .to_vec()];
    for c in &analysis.classes {
        let sign = |negative: bool| if negative { "-" } else { "+" };
        rows.push(vec![
            c.class.clone(),
            thousands(c.new),
            thousands(c.deleted),
            format!("{}{}", sign(c.delta < 0), thousands(c.delta.unsigned_abs())),
            format!(
                "{}{}",
                sign(c.size_delta < 0),
                bytes(c.size_delta.unsigned_abs() as f64)
            ),
        ]);
    }
    use Align::{Left, Right};
    out += &columns(
        &rows,
        &[Left, Right, Right, Right, Right],
        &[40, 10, 10, 10, 12],
        "  ",
        1,
    );
    out
}
