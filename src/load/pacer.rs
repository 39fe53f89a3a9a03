//! When a connection may send its next request ([`Pacer`]: closed loop or fixed rate) and
//! whether it may send at all ([`Budget`]: a request count or a deadline). The one connection
//! loop per protocol asks both; no mode has a loop of its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::plan::LoadPlan;

/// How one connection's requests are spaced in time.
#[derive(Debug, Clone)]
pub(super) enum Pacer {
    /// Closed model: send as soon as a slot is free.
    Closed,
    /// Open model: one request every `interval`, the next planned at `next`.
    Fixed {
        /// Planned send time of the next request.
        next: Instant,
        /// Time between planned sends on this connection.
        interval: Duration,
        /// Later stages of a ramp: from each instant on, its interval. Empty without stages.
        changes: Arc<[(Instant, Duration)]>,
        /// How many of `changes` are in effect.
        applied: usize,
    },
}

impl Pacer {
    /// The pacer of connection `index`, sharing the plan's rate (or stage rates) between
    /// all connections. Connections are staggered so that sends are spread evenly over time.
    pub(super) fn new(plan: &LoadPlan, index: usize, start: Instant) -> Pacer {
        let Some(rate) = plan.rate else {
            return Pacer::Closed;
        };
        let connections = plan.connections as f64;
        let mut at = start + plan.warmup;
        let mut changes = Vec::new();
        for (i, stage) in plan.stages.iter().enumerate() {
            if i > 0 {
                changes.push((at, Duration::from_secs_f64(connections / stage.rate)));
            }
            at += stage.duration;
        }
        Pacer::fixed(rate, index, plan.connections, start, changes.into())
    }

    fn fixed(
        rate: f64,
        index: usize,
        connections: usize,
        start: Instant,
        changes: Arc<[(Instant, Duration)]>,
    ) -> Pacer {
        Pacer::Fixed {
            next: start + Duration::from_secs_f64(index as f64 / rate),
            interval: Duration::from_secs_f64(connections as f64 / rate),
            changes,
            applied: 0,
        }
    }

    /// When the next request is planned (`None`: whenever a slot is free).
    pub(super) fn due(&self) -> Option<Instant> {
        match self {
            Pacer::Closed => None,
            Pacer::Fixed { next, .. } => Some(*next),
        }
    }

    /// Whether a request may be sent at `now`.
    pub(super) fn is_due(&self, now: Instant) -> bool {
        self.due().is_none_or(|due| due <= now)
    }

    /// Takes the next slot; returns its planned send time (`now` in the closed model).
    pub(super) fn take(&mut self, now: Instant) -> Instant {
        match self {
            Pacer::Closed => now,
            Pacer::Fixed {
                next,
                interval,
                changes,
                applied,
            } => {
                let planned = *next;
                *next += *interval;
                // Entering a new stage: its interval applies from there on.
                while let Some(&(from, new)) = changes.get(*applied) {
                    if *next < from {
                        break;
                    }
                    *interval = new;
                    *applied += 1;
                }
                planned
            }
        }
    }
}

/// Whether the run still wants requests: a count shared by all connections, or a deadline.
#[derive(Debug, Clone)]
pub(super) struct Budget {
    /// Requests left to send in `--amount` mode, shared by every worker.
    remaining: Option<Arc<AtomicU64>>,
    /// No request is sent at or after this instant (duration mode).
    deadline: Option<Instant>,
    /// Requests before this instant are warmup and do not use the count.
    measure_start: Instant,
}

impl Budget {
    /// A budget of `amount` requests, or until `deadline`.
    pub(super) fn new(
        remaining: Option<Arc<AtomicU64>>,
        deadline: Option<Instant>,
        measure_start: Instant,
    ) -> Budget {
        Budget {
            remaining,
            deadline,
            measure_start,
        }
    }

    /// Claims one request at `now`; false when the run wants no more.
    pub(super) fn claim(&self, now: Instant) -> bool {
        if self.deadline.is_some_and(|deadline| now >= deadline) {
            return false;
        }
        match &self.remaining {
            Some(_) if now < self.measure_start => true,
            Some(remaining) => remaining
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                    left.checked_sub(1)
                })
                .is_ok(),
            None => true,
        }
    }

    /// Whether no more requests will be wanted.
    pub(super) fn exhausted(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|deadline| now >= deadline)
            || self
                .remaining
                .as_ref()
                .is_some_and(|r| now >= self.measure_start && r.load(Ordering::Relaxed) == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn fixed_rate_connections_are_staggered_and_evenly_spaced() {
        let start = Instant::now();
        let mut planned = Vec::new();
        for index in 0..4 {
            let mut pacer = Pacer::fixed(1000.0, index, 4, start, Arc::new([]));
            for _ in 0..3 {
                planned.push(pacer.take(start).duration_since(start));
            }
        }
        planned.sort();
        let expected: Vec<_> = (0..12).map(Duration::from_millis).collect();
        assert_eq!(planned, expected);
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_connection_keeps_its_plan_instead_of_shifting_it() {
        let start = Instant::now();
        let mut pacer = Pacer::fixed(10.0, 0, 1, start, Arc::new([]));
        let late = start + Duration::from_millis(350);
        assert!(pacer.is_due(late));
        let plans: Vec<_> = (0..4)
            .map(|_| pacer.take(late).duration_since(start))
            .collect();
        assert_eq!(plans, [0, 100, 200, 300].map(Duration::from_millis));
        assert!(!pacer.is_due(late));
    }

    #[tokio::test(start_paused = true)]
    async fn closed_pacer_is_always_due_and_plans_now() {
        let now = Instant::now();
        let mut pacer = Pacer::new(&crate::plan::tests::load_plan(Vec::new()), 3, now);
        assert!(pacer.is_due(now));
        assert_eq!(pacer.take(now), now);
    }

    #[tokio::test(start_paused = true)]
    async fn stages_change_the_rate_at_their_boundaries() {
        let start = Instant::now();
        let mut plan = crate::plan::tests::load_plan(Vec::new());
        plan.rate = Some(10.0);
        plan.stages = vec![
            crate::plan::Stage {
                duration: Duration::from_secs(1),
                rate: 10.0,
            },
            crate::plan::Stage {
                duration: Duration::from_secs(1),
                rate: 100.0,
            },
        ];
        let mut pacer = Pacer::new(&plan, 0, start);
        let far = start + Duration::from_secs(5);
        let sent = std::iter::from_fn(|| Some(pacer.take(far)))
            .take_while(|t| *t < start + Duration::from_secs(2))
            .count();
        assert_eq!(sent, 10 + 100);
    }

    #[tokio::test(start_paused = true)]
    async fn amount_budget_is_exact_and_ignores_warmup() {
        let start = Instant::now();
        let measure = start + Duration::from_secs(1);
        let budget = Budget::new(Some(Arc::new(AtomicU64::new(3))), None, measure);
        assert!(budget.claim(start), "warmup requests are free");
        let claimed = (0..10).filter(|_| budget.claim(measure)).count();
        assert_eq!(claimed, 3);
        assert!(budget.exhausted(measure));
        assert!(!budget.exhausted(start));
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_budget_refuses_from_the_deadline_on() {
        let start = Instant::now();
        let deadline = start + Duration::from_secs(2);
        let budget = Budget::new(None, Some(deadline), start);
        assert!(budget.claim(deadline - Duration::from_nanos(1)));
        assert!(!budget.claim(deadline));
        assert!(budget.exhausted(deadline));
    }
}
