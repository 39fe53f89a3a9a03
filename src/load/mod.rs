//! The load generator. [`run`] starts one OS thread per worker, each with a single-threaded
//! tokio runtime driving its share of the connections, and merges what they record into a
//! [`LoadOutcome`]. The control thread aggregates per-second reports (for the progress bar and
//! the time series), handles Ctrl-C and bailout, and hands the outcome to `report`.

pub(crate) mod check;
mod connect;
mod http1;
mod http2;
mod limits;
mod pacer;
pub(crate) mod recorder;
pub(crate) mod response;
pub(crate) mod series;
pub(crate) mod template;

use std::cell::RefCell;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use tokio::sync::{mpsc, Notify};
use tokio::task::LocalSet;
use tokio::time::Instant;

use crate::plan::{LoadPlan, Stop};
use connect::Connector;
use http1::WireRequest;
use http2::H2Request;
use pacer::{Budget, Pacer};
use recorder::{ErrorKind, Recorder, Request, Totals, WorkerMessage};
use series::{SeriesBuilder, SeriesPoint, SoFar};
use template::Values;

/// Pause after a failed connection attempt, so a refusing server is not hammered in a loop.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(10);

pub(crate) use crate::result::StopReason;

/// Everything the load generator measured.
#[derive(Debug)]
pub(crate) struct LoadOutcome {
    /// Wall-clock time the measured window opened.
    pub started: SystemTime,
    /// The same moment on the monotonic clock, to line the load up with samples.
    pub measure_start: Instant,
    /// Length of the measured window.
    pub elapsed: Duration,
    /// All workers' totals merged.
    pub totals: Totals,
    /// Requests still in flight when the load stopped (not counted anywhere else).
    pub unfinished: u64,
    /// One point per second of the measured window.
    pub series: Vec<SeriesPoint>,
    /// Why the load ended.
    pub stop: StopReason,
}

/// A load ready to run: every check that can fail before sending has passed.
pub(crate) struct Prepared {
    seed: Seed,
}

/// Checks the system can carry the plan (open files, TLS set-up) and prepares the requests.
pub(crate) fn prepare(plan: &LoadPlan) -> anyhow::Result<Prepared> {
    limits::ensure_open_files(plan.connections, plan.workers)?;
    let seed = Seed {
        plan: Arc::new(plan.clone()),
        connector: Connector::new(plan)?,
        wire: Arc::new(
            WireRequest::new(plan)
                .map_err(|why| crate::plan::UsageError(format!("request template: {why}")))?,
        ),
        h2: if plan.http2 {
            Some(Arc::new(
                H2Request::new(plan).context("could not build the HTTP/2 request")?,
            ))
        } else {
            None
        },
        shared: Arc::new(Shared::new(plan.bailout)),
        remaining: match plan.stop {
            Stop::Amount(amount) => Some(Arc::new(AtomicU64::new(amount))),
            Stop::After(_) => None,
        },
        counter: Arc::new(AtomicU64::new(0)),
    };
    Ok(Prepared { seed })
}

/// Stops a running load from outside: Ctrl-C, or the target process dying.
#[derive(Clone)]
pub(crate) struct Stopper(Arc<Shared>);

impl Stopper {
    /// Stops the load; the outcome records `reason`.
    pub(crate) fn stop(&self, reason: StopReason) {
        self.0.stop.trigger(reason);
    }
}

impl Prepared {
    /// Makes this load's `{{counter}}` continue from `other`'s: the two share one counter,
    /// so a load run after `other` sends values of its own.
    pub(crate) fn share_counter(&mut self, other: &Prepared) {
        self.seed.counter = other.seed.counter.clone();
    }

    /// A handle that stops the load once it runs.
    pub(crate) fn stopper(&self) -> Stopper {
        Stopper(self.seed.shared.clone())
    }
}

/// Runs a prepared load on worker threads, calling `on_second` as each second completes,
/// with that second and the completed seconds together.
/// Awaited on the caller's (single-threaded) control runtime.
pub(crate) async fn run(
    prepared: Prepared,
    mut on_second: impl FnMut(&SeriesPoint, &SoFar),
) -> anyhow::Result<LoadOutcome> {
    let seed = prepared.seed;
    let plan = &*seed.plan.clone();
    let start = Instant::now();
    let started = SystemTime::now() + plan.warmup;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut threads = Vec::with_capacity(plan.workers);
    for id in 0..plan.workers {
        let worker_seed = seed.clone();
        let tx = tx.clone();
        let thread = std::thread::Builder::new()
            .name(format!("harness-worker-{id}"))
            .spawn(move || worker_thread(id, worker_seed, start, tx));
        match thread {
            Ok(thread) => threads.push(thread),
            Err(err) => {
                seed.shared.stop.trigger(StopReason::Interrupted);
                return Err(err).context("could not start a worker thread");
            }
        }
    }
    drop(tx);
    let mut series = SeriesBuilder::new(plan.workers, plan.shard.is_some());
    let mut totals: Option<Totals> = None;
    while let Some(message) = rx.recv().await {
        match message {
            WorkerMessage::Second(report) => {
                if let Some(point) = series.add(report).cloned() {
                    on_second(&point, &series.so_far());
                }
            }
            WorkerMessage::Done(worker_totals) => match &mut totals {
                Some(totals) => totals.merge(&worker_totals),
                None => totals = Some(*worker_totals),
            },
        }
    }
    // Every worker has sent its totals, so the threads are ending.
    for thread in threads {
        if thread.join().is_err() {
            anyhow::bail!("a worker thread panicked");
        }
    }
    if seed.shared.panicked.load(Ordering::Relaxed) {
        anyhow::bail!("a load worker failed (a bug in harness; please report it)");
    }
    let totals = totals.context("no worker reported its totals")?;
    let series = series.finish();
    let elapsed = series.iter().map(|p| p.covered).sum();
    Ok(LoadOutcome {
        started,
        measure_start: start + plan.warmup,
        elapsed,
        unfinished: totals.unfinished,
        totals,
        series,
        stop: seed.shared.stop.reason().unwrap_or(StopReason::Completed),
    })
}

/// What every worker thread starts from.
#[derive(Clone)]
struct Seed {
    plan: Arc<LoadPlan>,
    connector: Connector,
    wire: Arc<WireRequest>,
    h2: Option<Arc<H2Request>>,
    shared: Arc<Shared>,
    remaining: Option<Arc<AtomicU64>>,
    /// The `{{counter}}` placeholder's value, shared by all workers.
    counter: Arc<AtomicU64>,
}

/// State shared by all workers: the stop signal and the error count for `--bailout`.
struct Shared {
    stop: StopSignal,
    errors: AtomicU64,
    bailout: Option<u64>,
    /// A connection task panicked.
    panicked: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn new(bailout: Option<u64>) -> Shared {
        Shared {
            stop: StopSignal::default(),
            errors: AtomicU64::new(0),
            bailout,
            panicked: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn count_error(&self) {
        if let Some(bailout) = self.bailout {
            if self.errors.fetch_add(1, Ordering::Relaxed) + 1 >= bailout {
                self.stop.trigger(StopReason::BailedOut);
            }
        }
    }
}

/// A one-shot stop that any thread can trigger and every worker runtime can await.
#[derive(Default)]
struct StopSignal {
    reason: AtomicU8,
    notify: Notify,
}

impl StopSignal {
    /// Stops the load for `reason`; `Completed` stops it too (its time is up before it was
    /// sized to end: a trace's load at its time limit) and is then what the outcome says.
    fn trigger(&self, reason: StopReason) {
        let code = match reason {
            StopReason::Interrupted => 1,
            StopReason::BailedOut => 2,
            StopReason::TargetExited => 3,
            StopReason::Completed => 4,
        };
        if self
            .reason
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.notify.notify_waiters();
        }
    }

    fn reason(&self) -> Option<StopReason> {
        match self.reason.load(Ordering::Acquire) {
            1 => Some(StopReason::Interrupted),
            2 => Some(StopReason::BailedOut),
            3 => Some(StopReason::TargetExited),
            4 => Some(StopReason::Completed),
            _ => None,
        }
    }

    async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            let mut notified = pin!(notified);
            notified.as_mut().enable();
            if self.reason().is_some() {
                return;
            }
            notified.await;
        }
    }
}

/// One worker thread's state, shared by its connections.
pub(crate) struct Worker {
    plan: Arc<LoadPlan>,
    rec: RefCell<Recorder>,
    budget: Budget,
    connector: Connector,
    wire: Arc<WireRequest>,
    h2: Option<Arc<H2Request>>,
    shared: Arc<Shared>,
    start: Instant,
    /// Placeholder values for templated requests.
    values: Values,
    /// What each kind's responses are to be kept for their checks (`None`: nothing).
    captures: Vec<Option<check::Capture>>,
}

impl Worker {
    /// Counts a failed request (or connection attempt) and applies `--bailout`.
    fn fail(
        &self,
        kind: ErrorKind,
        request: Option<Request>,
        now: Instant,
        detail: impl FnOnce() -> String,
    ) {
        if self.rec.borrow_mut().error(kind, request, now, detail) {
            self.shared.count_error();
        }
    }

    /// Records a response of `request`, checking it against its kind's checks first.
    fn answered(
        &self,
        request: Request,
        done: Instant,
        status: u16,
        bytes: u64,
        captured: &check::Captured,
    ) {
        let expect =
            &self.plan.requests[usize::from(request.kind).min(self.plan.requests.len() - 1)].expect;
        let seen = check::Seen {
            status,
            bytes,
            captured,
        };
        let failed = if expect.is_empty() {
            0
        } else {
            check::judge(expect, &seen)
        };
        self.rec
            .borrow_mut()
            .response(request, done, status, bytes, failed, |i| {
                check::mismatch(expect, i, &seen)
            });
        if failed != 0 {
            self.shared.count_error();
        }
    }
}

/// How a connection's session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionEnd {
    /// The run wants no more requests from this connection.
    Done,
    /// The connection failed or was closed; open a new one.
    Reconnect,
}

fn worker_thread(id: usize, seed: Seed, start: Instant, tx: mpsc::UnboundedSender<WorkerMessage>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: worker {id} could not start its runtime: {err}");
            return;
        }
    };
    let plan = seed.plan.clone();
    let measure_start = start + plan.warmup;
    let deadline = match plan.stop {
        Stop::After(duration) => Some(measure_start + duration),
        Stop::Amount(_) => None,
    };
    let worker = Rc::new(Worker {
        rec: RefCell::new(Recorder::new(
            measure_start,
            deadline,
            plan.rate.is_some(),
            &plan
                .requests
                .iter()
                .map(|r| r.expect.count())
                .collect::<Vec<_>>(),
            tx,
        )),
        captures: plan
            .requests
            .iter()
            .map(|r| check::Capture::of(&r.expect))
            .collect(),
        budget: Budget::new(seed.remaining, deadline, measure_start),
        connector: seed.connector,
        wire: seed.wire,
        h2: seed.h2,
        shared: seed.shared.clone(),
        plan: plan.clone(),
        start,
        values: Values::new(seed.counter.clone(), random_seed(id)).sharded(plan.shard),
    });
    let local = LocalSet::new();
    local.block_on(&runtime, async {
        let connections: Vec<_> = (id..plan.connections)
            .step_by(plan.workers)
            .map(|index| tokio::task::spawn_local(connection(worker.clone(), index)))
            .collect();
        let ticker = tokio::task::spawn_local(tick(worker.clone(), measure_start));
        let stalls = tokio::task::spawn_local(watch_stalls(worker.clone(), measure_start));
        let all_done = async {
            for connection in connections {
                if connection.await.is_err_and(|err| err.is_panic()) {
                    // A bug of harness's own: the run fails rather than report what is left.
                    seed.shared.panicked.store(true, Ordering::Relaxed);
                    seed.shared.stop.trigger(StopReason::Interrupted);
                }
            }
        };
        let until_deadline = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = all_done => {}
            () = until_deadline => {}
            () = seed.shared.stop.wait() => {}
        }
        ticker.abort();
        stalls.abort();
        worker.rec.borrow_mut().finish(Instant::now());
    });
    // Dropping the LocalSet drops the connections still open.
    drop(local);
}

/// A different seed for each worker and run.
fn random_seed(worker: usize) -> u64 {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    now ^ (worker as u64).wrapping_mul(0x2545_f491_4f6c_dd1d) ^ u64::from(std::process::id())
}

/// Closes each second on time even when no response arrives (a stalled server).
async fn tick(worker: Rc<Worker>, measure_start: Instant) {
    let second = Duration::from_secs(1);
    let mut interval = tokio::time::interval_at(measure_start + second, second);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        worker.rec.borrow_mut().roll(Instant::now());
    }
}

/// Wakes every [`recorder::STALL_PERIOD`] from `measure_start` and records how late it woke.
async fn watch_stalls(worker: Rc<Worker>, measure_start: Instant) {
    let mut due = measure_start;
    loop {
        tokio::time::sleep_until(due).await;
        let now = Instant::now();
        worker.rec.borrow_mut().note_stall(due, now);
        due = now.max(due) + recorder::STALL_PERIOD;
    }
}

/// One connection slot: connects, runs sessions, reconnects after failures.
async fn connection(worker: Rc<Worker>, index: usize) {
    let mut pacer = Pacer::new(&worker.plan, index, worker.start);
    loop {
        if worker.budget.exhausted(Instant::now()) {
            return;
        }
        let stream = match worker.connector.connect().await {
            Ok(stream) => stream,
            Err(err) => {
                let now = Instant::now();
                if !worker.budget.claim(now) {
                    return;
                }
                worker.fail(err.kind, None, now, || err.detail.clone());
                tokio::time::sleep(RECONNECT_BACKOFF).await;
                continue;
            }
        };
        let end = match &worker.h2 {
            Some(request) => http2::session(&worker, request, stream, &mut pacer).await,
            None => http1::session(&worker, stream, &mut pacer).await,
        };
        if end == SessionEnd::Done {
            return;
        }
    }
}
