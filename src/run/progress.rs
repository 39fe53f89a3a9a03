//! The progress bar shown on a terminal while the load runs (stderr, never with `-n`,
//! `--json`, or when stderr is not a terminal).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::load::series::SeriesPoint;
use crate::plan::{LoadPlan, Stop};

/// A progress bar over the run's seconds or requests.
pub struct Progress {
    bar: ProgressBar,
    by_amount: bool,
}

impl Progress {
    /// Starts a bar for `plan`, or returns `None` when none should be shown.
    pub fn start(plan: &LoadPlan, show: bool) -> Option<Progress> {
        if !show {
            return None;
        }
        let (length, by_amount) = match plan.stop {
            Stop::After(duration) => ((plan.warmup + duration).as_secs().max(1), false),
            Stop::Amount(amount) => (amount, true),
        };
        let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
        let template = "running [{bar:20}] {percent:>3}% {msg}";
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        if !by_amount {
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        Some(Progress { bar, by_amount })
    }

    /// Advances the bar by one completed second.
    pub fn second(&mut self, point: &SeriesPoint) {
        self.bar.inc(if self.by_amount {
            point.requests + point.errors
        } else {
            1
        });
        self.bar.set_message(format!("{} req/s", point.requests));
    }

    /// Removes the bar.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}
