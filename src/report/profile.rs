//! `harness profile`'s text: the hot code of a CPU profile, then its top functions by self
//! and by total time.

use crate::analyse::profile::{place, CpuProfile, FunctionTime};
use crate::report::terminal::profile_heading;

/// The summary as text: the hot code, then the top functions by self and by total time.
pub(crate) fn render(summary: &CpuProfile) -> String {
    let mut out = format!(
        "{}\n\nHot code (share of the busy time):\n",
        profile_heading(summary)
    );
    for hot in summary.hot.iter().take(10) {
        let callee = hot.callee.as_ref().map_or(String::new(), |c| {
            format!(
                ", {:.0} % of it in `{}` ({})",
                c.share * 100.0,
                c.function,
                place(&c.url, c.line)
            )
        });
        let own = format!("`{}` ({})", hot.function, place(&hot.url, hot.line));
        let mark = if hot.app { "" } else { "  [not app code]" };
        out += &format!("  {:>5.1} %  {own}{callee}{mark}\n", hot.share * 100.0);
    }
    out += &table("By self time", &summary.by_self);
    out += &table("By total time", &summary.by_total);
    out
}

fn table(title: &str, rows: &[FunctionTime]) -> String {
    let mut out = format!("\n{title}:\n  {:>7} {:>7}  function\n", "self", "total");
    for row in rows {
        out += &format!(
            "  {:>6.1}% {:>6.1}%  {} ({})\n",
            row.self_share * 100.0,
            row.total_share * 100.0,
            row.function,
            place(&row.url, row.line)
        );
    }
    out
}
