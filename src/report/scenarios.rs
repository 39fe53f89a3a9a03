//! `harness run FOLDER`'s summary: one row per scenario with its outcome, thresholds met,
//! requests per second, p99 and verdict.

use super::table::{columns, Align};
use crate::exit;

/// One line of the folder summary.
pub(crate) struct Row {
    pub name: String,
    pub code: u8,
    pub passed: usize,
    pub thresholds: usize,
    pub rps: Option<f64>,
    pub p99: Option<f64>,
    pub verdict: String,
    /// The HTML report's path, if one was written.
    pub report: Option<String>,
}

impl Row {
    fn outcome(&self) -> &'static str {
        match self.code {
            exit::OK => "passed",
            exit::FAILED => "FAILED",
            exit::TARGET => "TARGET FAILED",
            exit::INTERRUPTED => "interrupted",
            exit::USAGE => "usage error",
            _ => "error",
        }
    }
}

/// The folder summary as text.
pub(crate) fn summary(rows: &[Row]) -> String {
    let mut table = vec![[
        "scenario",
        "outcome",
        "thresholds",
        "req/s",
        "p99 ms",
        "verdict",
    ]
    .map(String::from)
    .to_vec()];
    for row in rows {
        let outcome = row.outcome();
        let number = |v: Option<f64>, digits: usize| {
            v.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
        };
        table.push(vec![
            row.name.clone(),
            outcome.to_string(),
            format!("{}/{}", row.passed, row.thresholds),
            number(row.rps, 0),
            number(row.p99, 2),
            row.verdict.clone(),
        ]);
    }
    use Align::{Left, Right};
    let align = [Left, Left, Right, Right, Right, Left];
    format!(
        "\nScenarios\n{}",
        columns(&table, &align, &[8, 14, 10, 10, 10], "  ", 2)
    )
}

/// The folder summary as Markdown for a CI job page: one row per scenario.
pub(crate) fn markdown(rows: &[Row]) -> String {
    let cell = super::escape::markdown;
    let mut out = format!(
        "### harness: {} scenarios\n\n| scenario | outcome | thresholds | req/s | p99 ms | verdict | report |\n| --- | --- | --- | ---: | ---: | --- | --- |\n",
        rows.len()
    );
    for row in rows {
        let mark = if row.code == exit::OK { "✅" } else { "❌" };
        let number = |v: Option<f64>, digits: usize| {
            v.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
        };
        out += &format!(
            "| {} | {mark} {} | {}/{} | {} | {} | {} | {} |\n",
            cell(&row.name),
            row.outcome(),
            row.passed,
            row.thresholds,
            number(row.rps, 0),
            number(row.p99, 2),
            cell(&row.verdict),
            row.report.as_deref().map_or_else(
                || "-".to_string(),
                |r| format!("`{}`", super::escape::markdown_code(r))
            )
        );
    }
    out.push('\n');
    out
}
