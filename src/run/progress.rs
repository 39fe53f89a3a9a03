//! The progress bar shown on a terminal while the load runs (stderr, never with `-n`,
//! `--json`, or when stderr is not a terminal), with the live view under it: once a second,
//! the last second's requests per second, p99 latency and errors so far, and for a watched
//! target its RSS, heap used and event-loop delay. Built from the per-second points and the
//! samples that exist anyway, so it costs nothing per request.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::watch::{LiveTarget, TargetNow};
use crate::load::series::{SeriesPoint, SoFar};
use crate::plan::{LoadPlan, Stop};
use crate::units::{bytes, short_millis, thousands};

/// A progress bar over the run's seconds or requests.
pub(super) struct Progress {
    bar: ProgressBar,
    by_amount: bool,
    target: Option<LiveTarget>,
}

impl Progress {
    /// Starts a bar for `plan`, or returns `None` when none should be shown; `target` is the
    /// watched target, if any.
    pub(super) fn start(
        plan: &LoadPlan,
        show: bool,
        target: Option<LiveTarget>,
    ) -> Option<Progress> {
        if !show {
            return None;
        }
        let (length, by_amount) = match plan.stop {
            Stop::After(duration) => ((plan.warmup + duration).as_secs().max(1), false),
            Stop::Amount(amount) => (amount, true),
        };
        let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
        // The live line is cut to the terminal's width (see `second`) rather than wrapped:
        // indicatif's `wide_msg` measures the whole template, both lines.
        let width = terminal_width();
        if let Ok(style) = ProgressStyle::with_template(&template(width)) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(fit(
            if plan.warmup.is_zero() {
                "  waiting for the first second"
            } else {
                "  warming up (not measured)"
            },
            width,
        ));
        if !by_amount {
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        Some(Progress {
            bar,
            by_amount,
            target,
        })
    }

    /// Advances the bar by one completed second and updates the live line.
    pub(super) fn second(&mut self, point: &SeriesPoint, so_far: &SoFar) {
        self.bar.inc(if self.by_amount {
            point.requests + point.errors
        } else {
            1
        });
        let target = self.target.as_ref().map(LiveTarget::now);
        let line = live_line(point, so_far, target);
        self.bar.set_message(fit(&line, terminal_width()));
    }

    /// Removes the bar.
    pub(super) fn finish(self) {
        self.bar.finish_and_clear();
    }
}

/// The bar's template for a terminal `width` columns wide: `running [====>   ]  40%` in
/// 35 columns, the bar narrower (and without "running") on a narrower one, so that the
/// line never wraps and the redraw moves up the rows it drew.
fn template(width: Option<usize>) -> String {
    match width {
        Some(width) if width < 36 => {
            let bar = width.saturating_sub(9).clamp(3, 20);
            format!("[{{bar:{bar}}}]{{percent:>4}}%\n{{msg}}")
        }
        _ => "running [{bar:20}] {percent:>3}%\n{msg}".to_string(),
    }
}

/// `line` cut to one column less than the terminal, so that it never wraps.
fn fit(line: &str, width: Option<usize>) -> String {
    match width {
        Some(width) => line.chars().take(width.saturating_sub(1)).collect(),
        None => line.to_string(),
    }
}

/// Columns of the terminal on stderr, read each time so that a resize is followed.
fn terminal_width() -> Option<usize> {
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct it is given, which lives
    // for the call.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0).then_some(usize::from(size.ws_col))
}

/// `  41,200 req/s · p99 4.2 ms · 0 errors · target: RSS 182 MB · heap 95 MB · loop delay
/// 12 ms` (on one line): the last second's rate, the rest so far or latest.
fn live_line(point: &SeriesPoint, so_far: &SoFar, target: Option<TargetNow>) -> String {
    let covered = point.covered.as_secs_f64();
    let rate = if covered > 0.0 {
        (point.requests as f64 / covered).round() as u64
    } else {
        0
    };
    let mut parts = vec![format!("{} req/s", thousands(rate))];
    if so_far.requests > 0 {
        parts.push(format!(
            "p99 {}",
            short_millis(so_far.latency_p99 as f64 / 1000.0)
        ));
    }
    let sent = so_far.requests + so_far.errors;
    parts.push(match so_far.errors {
        0 => "0 errors".to_string(),
        errors => {
            let share = errors as f64 * 100.0 / sent.max(1) as f64;
            let digits = if share < 1.0 { 2 } else { 1 };
            format!("{} errors ({share:.digits$} %)", thousands(errors))
        }
    });
    let mut line = format!("  {}", parts.join(" · "));
    if let Some(target) = target {
        let mut watched = Vec::new();
        if let Some(rss) = target.rss {
            watched.push(format!("RSS {}", bytes(rss as f64)));
        }
        if let Some(heap) = target.heap_used {
            watched.push(format!("heap {}", bytes(heap as f64)));
        }
        if let Some(delay) = target.loop_delay {
            watched.push(format!("loop delay {}", short_millis(delay)));
        }
        if !watched.is_empty() {
            line += &format!(" · target: {}", watched.join(" · "));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a 20-column terminal neither line is wider than the terminal: the bar's line is
    /// `[` + bar + `]` + 4 + `%` (indicatif pads the bar to its width).
    #[test]
    fn every_live_line_fits_a_narrow_terminal() {
        for width in [12, 20, 35] {
            let template = template(Some(width));
            let bar: usize = template
                .split("{bar:")
                .nth(1)
                .and_then(|rest| rest.split('}').next())
                .and_then(|n| n.parse().ok())
                .unwrap();
            assert!(bar + 7 < width, "{width}: {template}");
            assert!(
                fit("  waiting for the first second", Some(width))
                    .chars()
                    .count()
                    < width
            );
        }
        assert!(template(Some(80)).starts_with("running [{bar:20}]"));
    }

    fn point(requests: u64, covered_ms: u64) -> SeriesPoint {
        SeriesPoint {
            second: 3,
            covered: Duration::from_millis(covered_ms),
            requests,
            bytes: 0,
            errors: 0,
            latency_p50: 0,
            latency_p90: 0,
            latency_p99: 0,
            latency_max: 0,
            histogram: None,
            kinds: Vec::new(),
        }
    }

    #[test]
    fn the_live_line_shows_the_load_and_the_target() {
        let so_far = SoFar {
            requests: 120_000,
            errors: 0,
            latency_p99: 4_210,
        };
        let target = TargetNow {
            rss: Some(182_000_000),
            heap_used: Some(95_400_000),
            loop_delay: Some(12.4),
        };
        assert_eq!(
            live_line(&point(41_200, 1000), &so_far, Some(target)),
            "  41,200 req/s · p99 4.2 ms · 0 errors · target: RSS 182 MB · heap 95.4 MB · loop delay 12 ms"
        );
    }

    #[test]
    fn a_short_last_second_counts_as_a_rate_and_errors_have_their_share() {
        let so_far = SoFar {
            requests: 900,
            errors: 100,
            latency_p99: 800,
        };
        let line = live_line(&point(250, 500), &so_far, Some(TargetNow::default()));
        assert_eq!(line, "  500 req/s · p99 800 µs · 100 errors (10.0 %)");
        let few = SoFar {
            errors: 62,
            requests: 999_938,
            ..so_far
        };
        assert!(live_line(&point(1, 1000), &few, None).ends_with(" · 62 errors (0.01 %)"));
    }
}
