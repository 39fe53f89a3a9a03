//! Charts of a run as inline SVG (plotters), all on the run's clock with its phases shaded, so
//! they line up when read top to bottom. Each chart kind has its own file and returns a
//! [`Chart`]; they share the drawing code and style constants here. Rendering never panics:
//! every plotters error becomes an `Err`.

mod cpu;
mod event_loop;
mod handles;
mod hover;
mod latency;
mod memory;
mod requests;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::result::{Phase, PhaseName, RunResult};

/// Size of every chart, in SVG pixels; a chart whose legend would not fit is made taller
/// (see [`size`]).
const SIZE: (u32, u32) = (900, 260);
/// Points kept per line: more would only make the file larger, not the chart clearer.
const MAX_POINTS: usize = 600;
/// Line colours, in order (colour-blind-safe palette).
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
];
/// Phase shading colours: load, warmup, the CPU trace, and the idle phases.
fn phase_colour(name: PhaseName) -> RGBAColor {
    match name {
        PhaseName::Load => RGBColor(0, 114, 178).mix(0.07),
        PhaseName::Warmup => RGBColor(230, 159, 0).mix(0.10),
        PhaseName::Search => RGBColor(0, 114, 178).mix(0.03),
        PhaseName::Profile | PhaseName::IoTrace => RGBColor(204, 121, 167).mix(0.10),
        PhaseName::Baseline | PhaseName::Cooldown | PhaseName::Trace | PhaseName::TraceCooldown => {
            RGBColor(120, 120, 120).mix(0.10)
        }
    }
}

/// One line of a chart.
pub(crate) struct Line {
    /// Legend label.
    pub label: String,
    /// (seconds on the run's clock, value).
    pub points: Vec<(f64, f64)>,
}

/// Points drawn as marks (GC events, floors).
pub(crate) struct Marks {
    /// Legend label.
    pub label: String,
    /// (seconds, value).
    pub points: Vec<(f64, f64)>,
    /// Radius in pixels.
    pub size: u32,
}

/// A chart ready to draw.
pub(crate) struct Chart {
    /// Stable id, also used as the HTML anchor.
    pub id: std::borrow::Cow<'static, str>,
    /// Title above the chart.
    pub title: String,
    /// Unit of the y axis.
    pub unit: &'static str,
    /// Lines.
    pub lines: Vec<Line>,
    /// Marks.
    pub marks: Vec<Marks>,
}

/// Every chart that has data for this result, in reading order, rendered as SVG.
pub(crate) fn render_all(result: &RunResult) -> anyhow::Result<Vec<(Chart, String)>> {
    let span = time_span(result);
    build_all(result)
        .into_iter()
        .map(|chart| {
            let svg = draw(&chart, &result.phases, span, Faded::NONE)?;
            Ok((chart, svg))
        })
        .collect()
}

/// BASE and NEW on one time axis, each on the clock of its own load (0 is where the load
/// began, the baseline is negative): NEW's lines solid, BASE's faded in the same colours, and
/// NEW's phases shaded. Labels end in "(BASE)" or "(NEW)".
pub(crate) fn render_overlay(
    base: &RunResult,
    new: &RunResult,
) -> anyhow::Result<Vec<(Chart, String)>> {
    let mut base_charts: Vec<Option<Chart>> = build_all(base).into_iter().map(Some).collect();
    let mut new_charts: Vec<Option<Chart>> = build_all(new).into_iter().map(Some).collect();
    let mut ids: Vec<std::borrow::Cow<'static, str>> = Vec::new();
    for chart in new_charts.iter().chain(&base_charts).flatten() {
        if !ids.contains(&chart.id) {
            ids.push(chart.id.clone());
        }
    }
    let phases: Vec<Phase> = new
        .phases
        .iter()
        .map(|p| Phase {
            start: p.start - new.measure_start,
            end: p.end - new.measure_start,
            ..p.clone()
        })
        .collect();
    let (b0, b1) = time_span(base);
    let (n0, n1) = time_span(new);
    let span = (
        (b0 - base.measure_start).min(n0 - new.measure_start),
        (b1 - base.measure_start).max(n1 - new.measure_start),
    );
    let mut out = Vec::new();
    for id in ids {
        let take = |charts: &mut Vec<Option<Chart>>| {
            charts
                .iter_mut()
                .find(|c| c.as_ref().is_some_and(|c| c.id == id))?
                .take()
        };
        let from_base = take(&mut base_charts).map(|c| shifted(c, base.measure_start, "BASE"));
        let from_new = take(&mut new_charts).map(|c| shifted(c, new.measure_start, "NEW"));
        let Some(template) = from_new.as_ref().or(from_base.as_ref()) else {
            continue;
        };
        let mut merged = Chart {
            id: template.id.clone(),
            title: template.title.clone(),
            unit: template.unit,
            lines: Vec::new(),
            marks: Vec::new(),
        };
        let faded = Faded {
            lines: from_base.as_ref().map_or(0, |c| c.lines.len()),
            marks: from_base.as_ref().map_or(0, |c| c.marks.len()),
        };
        for chart in [from_base, from_new].into_iter().flatten() {
            merged.lines.extend(chart.lines);
            merged.marks.extend(chart.marks);
        }
        let svg = draw(&merged, &phases, span, faded)?;
        out.push((merged, svg));
    }
    Ok(out)
}

/// `chart` moved to the clock of its load, its labels tagged.
fn shifted(mut chart: Chart, by: f64, tag: &str) -> Chart {
    for line in &mut chart.lines {
        line.label = format!("{} ({tag})", line.label);
        line.points.iter_mut().for_each(|p| p.0 -= by);
    }
    for marks in &mut chart.marks {
        marks.label = format!("{} ({tag})", marks.label);
        marks.points.iter_mut().for_each(|p| p.0 -= by);
    }
    chart
}

/// How many of a chart's first lines and marks are drawn faded (BASE in an overlay).
#[derive(Debug, Clone, Copy)]
struct Faded {
    lines: usize,
    marks: usize,
}

impl Faded {
    const NONE: Faded = Faded { lines: 0, marks: 0 };
}

/// Every chart that has data for this result, in reading order, not yet drawn.
fn build_all(result: &RunResult) -> Vec<Chart> {
    let charts = [latency::chart(result)]
        .into_iter()
        .chain(latency::per_kind(result).into_iter().map(Some))
        .chain([
            requests::chart(result),
            cpu::chart(result),
            memory::chart(result),
            event_loop::delay(result),
            event_loop::utilisation(result),
            handles::chart(result),
        ]);
    charts
        .into_iter()
        .flatten()
        .filter(|chart| chart.lines.iter().any(|l| !l.points.is_empty()))
        .collect()
}

/// The run's clock from 0 to the last phase's end.
fn time_span(result: &RunResult) -> (f64, f64) {
    let end = result
        .phases
        .iter()
        .map(|p| p.end)
        .fold(result.measure_start + result.duration, f64::max);
    (0.0, end.max(1.0))
}

fn draw(
    chart: &Chart,
    phases: &[Phase],
    (x0, x1): (f64, f64),
    faded: Faded,
) -> anyhow::Result<String> {
    let all = chart
        .lines
        .iter()
        .flat_map(|l| &l.points)
        .chain(chart.marks.iter().flat_map(|m| &m.points));
    let top = all.map(|p| p.1).fold(0.0, f64::max);
    let y1 = if top > 0.0 { top * 1.1 } else { 1.0 };
    let mut svg = String::new();
    let columns: Vec<hover::Column>;
    {
        let root = SVGBackend::with_string(&mut svg, size(chart)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut plot = ChartBuilder::on(&root)
            .caption(&chart.title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(32)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, 0.0..y1)
            .map_err(plot_error)?;
        plot.configure_mesh()
            .x_desc("seconds")
            .y_desc(chart.unit)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(plot_error)?;
        for phase in phases {
            let shade = Rectangle::new(
                [(phase.start, 0.0), (phase.end, y1)],
                phase_colour(phase.name).filled(),
            );
            plot.draw_series(std::iter::once(shade))
                .map_err(plot_error)?;
            // The phase's name at the bottom of its band, where it is wide enough.
            let (left, bottom) = plot.backend_coord(&(phase.start, 0.0));
            let (right, _) = plot.backend_coord(&(phase.end, 0.0));
            if right - left >= 8 * phase.name.as_str().len() as i32 {
                let style = ("sans-serif", 11)
                    .into_font()
                    .color(&RGBColor(90, 90, 90))
                    .pos(Pos::new(HPos::Left, VPos::Bottom));
                root.draw_text(phase.name.as_str(), &style, (left + 3, bottom - 3))
                    .map_err(plot_error)?;
            }
        }
        // In an overlay, BASE's lines come first, faded, in the colours of NEW's.
        let new_lines = chart.lines.len() - faded.lines;
        for (i, line) in chart.lines.iter().enumerate() {
            let (index, alpha) = if i < faded.lines {
                (i, 0.4)
            } else {
                (i - faded.lines, 1.0)
            };
            let colour = PALETTE[index % PALETTE.len()].mix(alpha);
            plot.draw_series(LineSeries::new(thin(&line.points), colour.stroke_width(2)))
                .map_err(plot_error)?
                .label(line.label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                });
        }
        for (i, marks) in chart.marks.iter().enumerate() {
            let (index, alpha) = if i < faded.marks {
                (i, 0.4)
            } else {
                (i - faded.marks, 1.0)
            };
            let colour = PALETTE[(new_lines + index) % PALETTE.len()].mix(alpha);
            let size = marks.size;
            plot.draw_series(
                thin(&marks.points)
                    .into_iter()
                    .map(|p| Circle::new(p, size, colour.filled())),
            )
            .map_err(plot_error)?
            .label(marks.label.as_str())
            .legend(move |(x, y)| Circle::new((x + 8, y), size, colour.filled()));
        }
        columns = hover::spans((x0, x1))
            .into_iter()
            .map(|(from, to)| {
                let (left, top) = plot.backend_coord(&(from, y1));
                let (right, bottom) = plot.backend_coord(&(to, 0.0));
                hover::Column {
                    from,
                    to,
                    rect: (left, top, (right - left).max(1), bottom - top),
                }
            })
            .collect();
        plot.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    // Above everything else, so that the whole column answers the pointer.
    let layer = hover::layer(chart, phases, &columns);
    match svg.rfind("</svg>") {
        Some(end) => svg.insert_str(end, &layer),
        None => anyhow::bail!("could not draw a chart: plotters wrote no </svg>"),
    }
    Ok(svg)
}

/// [`SIZE`], taller when the legend (about 18 px an entry, drawn inside the plot) needs it,
/// as in an overlay of two runs' memory.
fn size(chart: &Chart) -> (u32, u32) {
    let entries = (chart.lines.len() + chart.marks.len()) as u32;
    (SIZE.0, SIZE.1.max(100 + 18 * entries))
}

fn plot_error<E: std::fmt::Debug>(err: E) -> anyhow::Error {
    anyhow::anyhow!("could not draw a chart: {err:?}")
}

/// Keeps at most [`MAX_POINTS`]: in each bucket of time, the lowest and highest value, so
/// spikes and dips survive.
pub(crate) fn thin(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points.to_vec();
    }
    let buckets = MAX_POINTS / 2;
    let per = points.len().div_ceil(buckets);
    points
        .chunks(per)
        .flat_map(|chunk| {
            let low = chunk.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1));
            let high = chunk.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1));
            match (low, high) {
                (Some(low), Some(high)) if low.0 <= high.0 => vec![low, high],
                (Some(low), Some(high)) => vec![high, low],
                _ => Vec::new(),
            }
        })
        .collect()
}

/// The Node process the charts follow: the target's own, else the first that reported.
fn main_node(result: &RunResult) -> Option<&crate::result::NodeProcess> {
    let pid = result.target.as_ref().map(|t| t.pid);
    result
        .node
        .iter()
        .find(|p| Some(p.pid) == pid)
        .or_else(|| result.node.first())
}

/// The x position of a per-second series entry: the middle of its second.
fn second_x(result: &RunResult, entry: &crate::result::SeriesEntry) -> f64 {
    result.measure_start + entry.second as f64 + entry.covered / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_extremes() {
        let mut points: Vec<(f64, f64)> = (0..10_000).map(|i| (f64::from(i), 1.0)).collect();
        points[5_000].1 = 99.0;
        points[7_000].1 = -5.0;
        let thinned = thin(&points);
        assert!(thinned.len() <= MAX_POINTS);
        assert!(thinned.iter().any(|p| p.1 == 99.0));
        assert!(thinned.iter().any(|p| p.1 == -5.0));
        assert!(thinned.windows(2).all(|w| w[0].0 <= w[1].0));
    }
}
