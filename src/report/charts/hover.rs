//! Values on hover without JavaScript: an invisible column per second (or per few seconds on
//! a long run) over each chart, with an SVG `<title>` that the browser shows as a tooltip:
//! the time, the phase and each line's value there.

use std::fmt::Write;

use super::Chart;
use crate::result::Phase;
use crate::units::trim_float;

/// At most this many columns per chart (a 30-minute run gets one per 6 s).
const MAX_COLUMNS: usize = 300;

/// One column: its time span, and its place in SVG pixels (left, top, width, height).
pub(super) struct Column {
    pub from: f64,
    pub to: f64,
    pub rect: (i32, i32, i32, i32),
}

/// The columns' time spans over `(x0, x1)`: whole seconds, or wider to stay under
/// [`MAX_COLUMNS`].
pub(super) fn spans((x0, x1): (f64, f64)) -> Vec<(f64, f64)> {
    let width = ((x1 - x0) / MAX_COLUMNS as f64).ceil().max(1.0);
    let mut out = Vec::new();
    let mut from = x0;
    while from < x1 {
        out.push((from, (from + width).min(x1)));
        from += width;
    }
    out
}

/// The `<g>` of hover columns for `chart`; columns where no line has a value are left out.
pub(super) fn layer(chart: &Chart, phases: &[Phase], columns: &[Column]) -> String {
    let mut out = String::from("<g class=\"hover\">");
    for column in columns {
        let mut values = Vec::new();
        let named = chart
            .lines
            .iter()
            .map(|l| (&l.label, &l.points))
            .chain(chart.marks.iter().map(|m| (&m.label, &m.points)));
        for (label, points) in named {
            if let Some(value) = nearest(points, column.from, column.to) {
                values.push(format!("{label} {} {}", number(value), chart.unit));
            }
        }
        if values.is_empty() {
            continue;
        }
        let middle = (column.from + column.to) / 2.0;
        let phase = phases
            .iter()
            .rfind(|p| p.start <= middle && middle < p.end)
            .map_or(String::new(), |p| format!(" ({})", p.name));
        let (left, top, width, height) = column.rect;
        let _ = write!(
            out,
            "<rect x=\"{left}\" y=\"{top}\" width=\"{width}\" height=\"{height}\" fill=\"#000\" fill-opacity=\"0\"><title>{}–{} s{}: {}</title></rect>",
            number(column.from),
            number(column.to),
            crate::report::escape::html(&phase),
            crate::report::escape::html(&values.join(", "))
        );
    }
    out += "</g>";
    out
}

/// The value of the point in `[from, to)` nearest the middle.
fn nearest(points: &[(f64, f64)], from: f64, to: f64) -> Option<f64> {
    let start = points.partition_point(|p| p.0 < from);
    let middle = (from + to) / 2.0;
    points[start..]
        .iter()
        .take_while(|p| p.0 < to)
        .min_by(|a, b| (a.0 - middle).abs().total_cmp(&(b.0 - middle).abs()))
        .map(|p| p.1)
}

/// A value with about three significant digits.
fn number(value: f64) -> String {
    let decimals = match value.abs() {
        v if v < 10.0 => 2,
        v if v < 100.0 => 1,
        _ => 0,
    };
    trim_float(value, decimals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_seconds_until_a_run_is_long() {
        assert_eq!(spans((0.0, 2.5)), vec![(0.0, 1.0), (1.0, 2.0), (2.0, 2.5)]);
        assert_eq!(spans((0.0, 1800.0)).len(), 300);
    }

    #[test]
    fn the_nearest_point_to_the_middle_of_the_column_is_shown() {
        let points = [(0.2, 1.0), (0.6, 2.0), (1.4, 3.0)];
        assert_eq!(nearest(&points, 0.0, 1.0), Some(2.0));
        assert_eq!(nearest(&points, 1.0, 2.0), Some(3.0));
        assert_eq!(nearest(&points, 2.0, 3.0), None);
        assert_eq!(number(1234.56), "1235");
        assert_eq!(number(4.256), "4.26");
    }
}
