//! Tables for the terminal: autocannon's box tables (the latency and throughput summary) and
//! plain aligned columns (`harness compare`, the scenario folder summary), each column as
//! wide as its widest cell.

/// How a column's cells are aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    /// Padded on the right.
    Left,
    /// Padded on the left (numbers).
    Right,
}

/// The width of each column: its widest cell, at least `min[column]` when given.
fn widths(rows: &[Vec<String>], min: &[usize]) -> Vec<usize> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
                .max(min.get(c).copied().unwrap_or(0))
        })
        .collect()
}

/// A box table; the first row is the header. `paint(row, column, cell)` styles each padded
/// cell (colour on a terminal).
pub(crate) fn boxed(
    rows: &[Vec<String>],
    paint: impl Fn(usize, usize, String) -> String,
) -> String {
    let widths = widths(rows, &[]);
    let rule = |left: &str, mid: &str, right: &str| {
        let parts: Vec<String> = widths.iter().map(|w| "─".repeat(w + 2)).collect();
        format!("{left}{}{right}\n", parts.join(mid))
    };
    let mut out = rule("┌", "┬", "┐");
    for (i, cells) in rows.iter().enumerate() {
        if i > 0 {
            out += &rule("├", "┼", "┤");
        }
        out += "│";
        for (c, width) in widths.iter().enumerate() {
            let text = cells.get(c).map_or("", String::as_str);
            out += &paint(i, c, format!(" {text:<width$} "));
            out += "│";
        }
        out += "\n";
    }
    out += &rule("└", "┴", "┘");
    out
}

/// Rows as aligned columns, each line starting with `indent`, columns `gap` spaces apart,
/// trailing spaces trimmed; `min` gives columns a least width.
pub(crate) fn columns(
    rows: &[Vec<String>],
    align: &[Align],
    min: &[usize],
    indent: &str,
    gap: usize,
) -> String {
    let widths = widths(rows, min);
    let mut out = String::new();
    for row in rows {
        let mut line = String::from(indent);
        for (c, cell) in row.iter().enumerate() {
            if c > 0 {
                line += &" ".repeat(gap);
            }
            let pad = " ".repeat(widths[c] - cell.chars().count());
            match align.get(c).copied().unwrap_or(Align::Left) {
                Align::Left => {
                    line += cell;
                    line += &pad;
                }
                Align::Right => {
                    line += &pad;
                    line += cell;
                }
            }
        }
        out += line.trim_end();
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(row: &[&str]) -> Vec<String> {
        row.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn boxes_fit_their_widest_cell() {
        let rows = vec![cells(&["Stat", "50%"]), cells(&["Latency", "1.000 ms"])];
        let drawn = boxed(&rows, |_, _, cell| cell);
        let expected = "\
┌─────────┬──────────┐
│ Stat    │ 50%      │
├─────────┼──────────┤
│ Latency │ 1.000 ms │
└─────────┴──────────┘
";
        assert_eq!(drawn, expected);
    }

    #[test]
    fn columns_align_numbers_right_and_words_left() {
        let rows = vec![
            cells(&["name", "req/s", "note"]),
            cells(&["a", "1200", "x"]),
        ];
        let text = columns(
            &rows,
            &[Align::Left, Align::Right, Align::Left],
            &[6],
            "  ",
            2,
        );
        assert_eq!(text, "  name    req/s  note\n  a        1200  x\n");
    }
}
