//! Per-worker measurements: latency histograms, counters by status and error kind, and the
//! per-second buckets sent to the control thread. One `Recorder` per worker thread, shared
//! by that worker's connections (`Rc<RefCell<_>>`), so recording takes no lock.

use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use crate::result::LATE_AFTER;

/// Highest latency the histograms track: one hour, in microseconds.
pub(crate) const MAX_LATENCY_US: u64 = 3_600_000_000;
/// Significant digits kept by the latency histograms (0.1 % precision).
pub(crate) const SIGNIFICANT_DIGITS: u8 = 3;
/// How often each worker checks how late it wakes (see [`Totals::stalls`]).
pub(crate) const STALL_PERIOD: Duration = Duration::from_millis(10);
/// Status codes are counted in a flat array indexed by code.
const STATUS_SLOTS: usize = 1000;

/// Why a request failed. Counted, never propagated: a failed request is data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ErrorKind {
    /// The server refused the TCP connection.
    ConnectRefused,
    /// The connection could not be opened for another reason (timeout, unreachable, ...).
    Connect,
    /// The TLS handshake failed or the server did not offer HTTP/2.
    Tls,
    /// The peer reset the connection.
    Reset,
    /// The server closed the connection before answering.
    Closed,
    /// No response within `--timeout`.
    Timeout,
    /// The response could not be parsed as HTTP.
    InvalidResponse,
    /// The response failed a check of its request entry (`expect`): it was a response, and
    /// counts in the responses too.
    Check,
    /// Any other I/O or protocol error.
    Other,
}

impl ErrorKind {
    /// Every kind, in the order they are reported.
    pub(crate) const ALL: [ErrorKind; 9] = [
        ErrorKind::ConnectRefused,
        ErrorKind::Connect,
        ErrorKind::Tls,
        ErrorKind::Reset,
        ErrorKind::Closed,
        ErrorKind::Timeout,
        ErrorKind::InvalidResponse,
        ErrorKind::Check,
        ErrorKind::Other,
    ];

    /// The key used in the JSON result and the terminal summary.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connectRefused",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Reset => "reset",
            ErrorKind::Closed => "closed",
            ErrorKind::Timeout => "timeout",
            ErrorKind::InvalidResponse => "invalidResponse",
            ErrorKind::Check => "check",
            ErrorKind::Other => "other",
        }
    }

    /// Classifies an I/O error from a socket read or write.
    pub(crate) fn of_io(err: &std::io::Error) -> ErrorKind {
        use std::io::ErrorKind as Io;
        match err.kind() {
            Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe => ErrorKind::Reset,
            Io::UnexpectedEof => ErrorKind::Closed,
            Io::InvalidData => ErrorKind::InvalidResponse,
            Io::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::Other,
        }
    }
}

/// A new latency histogram with the project's bounds.
pub(crate) fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid")
}

/// A latency histogram for one kind's one second (a chart's p50 and p99), allocated only for
/// a kind with a response in that second, or for a worker's stalls: two significant digits,
/// a seventh of the memory of [`latency_histogram`]'s.
fn second_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 2).expect("constant histogram bounds are valid")
}

/// Kinds with a per-second series of their own at most (the others have their totals).
pub(crate) const MAX_KIND_SERIES: usize = 20;

/// One check of a kind: responses that passed and failed it, and the first mismatch.
#[derive(Debug, Clone, Default)]
pub(crate) struct CheckCount {
    pub passed: u64,
    pub failed: u64,
    pub example: Option<String>,
}

/// One kind of request's totals: as [`Totals`], for the requests of one entry.
#[derive(Debug, Clone)]
pub(crate) struct KindTotals {
    /// Latency in µs, from the planned send time.
    pub latency: Histogram<u64>,
    /// Responses received.
    pub completed: u64,
    /// Requests written in the window.
    pub sent: u64,
    /// Requests sent in the window that ended in an error.
    pub failed: u64,
    /// Requests still in flight when the load stopped, or answered after.
    pub unfinished: u64,
    /// Bytes of responses read.
    pub bytes: u64,
    /// Responses by status code.
    pub status: std::collections::BTreeMap<u16, u64>,
    /// Errors by kind, indexed like [`ErrorKind::ALL`].
    pub errors: [u64; ErrorKind::ALL.len()],
    /// The first error message seen for each kind.
    pub error_samples: [Option<String>; ErrorKind::ALL.len()],
    /// Each check of the kind, in `Expect::names` order.
    pub checks: Vec<CheckCount>,
    in_flight: u64,
}

impl KindTotals {
    fn new(checks: usize) -> KindTotals {
        KindTotals {
            latency: latency_histogram(),
            completed: 0,
            sent: 0,
            failed: 0,
            unfinished: 0,
            bytes: 0,
            status: std::collections::BTreeMap::new(),
            errors: [0; ErrorKind::ALL.len()],
            error_samples: Default::default(),
            checks: vec![CheckCount::default(); checks],
            in_flight: 0,
        }
    }

    fn merge(&mut self, other: &KindTotals) {
        let _ = self.latency.add(&other.latency);
        self.completed += other.completed;
        self.sent += other.sent;
        self.failed += other.failed;
        self.unfinished += other.unfinished;
        self.bytes += other.bytes;
        for (code, count) in &other.status {
            *self.status.entry(*code).or_default() += count;
        }
        merge_errors(
            (&mut self.errors, &mut self.error_samples),
            (&other.errors, &other.error_samples),
        );
        for (mine, theirs) in self.checks.iter_mut().zip(&other.checks) {
            mine.passed += theirs.passed;
            mine.failed += theirs.failed;
            if mine.example.is_none() {
                mine.example.clone_from(&theirs.example);
            }
        }
    }
}

/// Adds another set of error counts and examples to these.
fn merge_errors(mine: (&mut [u64], &mut [Option<String>]), theirs: (&[u64], &[Option<String>])) {
    for (i, count) in theirs.0.iter().enumerate() {
        mine.0[i] += count;
        if mine.1[i].is_none() {
            mine.1[i].clone_from(&theirs.1[i]);
        }
    }
}

/// One kind's part of a second.
#[derive(Debug, Default)]
pub(crate) struct KindSecond {
    /// Responses completed in this second.
    pub requests: u64,
    /// Errors in this second (failed checks included).
    pub errors: u64,
    /// Their latencies (µs), once the kind had a response this second.
    pub latency: Option<Histogram<u64>>,
}

/// A request of the window: when it was planned and sent, and its kind (its entry's index).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request {
    pub planned: Instant,
    pub sent: Instant,
    pub kind: u16,
}

/// Totals of one worker, merged across workers at the end of the run.
#[derive(Debug, Clone)]
pub(crate) struct Totals {
    /// Latency in µs, counted from the planned send time (wrk2's rule; equal to the actual
    /// send time in the closed model).
    pub latency: Histogram<u64>,
    /// Latency in µs from the actual send time; only kept in the open model.
    pub uncorrected: Option<Histogram<u64>>,
    /// Responses received.
    pub completed: u64,
    /// Requests written.
    pub sent: u64,
    /// Bytes of responses read (HTTP/1.1: head and body; HTTP/2: body).
    pub bytes: u64,
    /// Requests sent more than [`LATE_AFTER`] after their planned time.
    pub late: u64,
    /// How late, in µs, the worker woke for a timer of its own in the window, checked every
    /// [`STALL_PERIOD`]: the wait its own scheduling added to each send and read, whether it
    /// was busy or the machine gave it no core.
    pub stalls: Histogram<u64>,
    /// Responses by status code.
    pub status: Vec<u64>,
    /// Errors by kind, indexed like [`ErrorKind::ALL`].
    pub errors: [u64; ErrorKind::ALL.len()],
    /// The first error message seen for each kind, to help explain the counts.
    pub error_samples: [Option<String>; ErrorKind::ALL.len()],
    /// Requests sent in the window that ended in an error (errors of connections that
    /// carried no request are not among them): `sent = completed + failed + unfinished`.
    pub failed: u64,
    /// Requests still in flight when the load stopped.
    pub unfinished: u64,
    /// Each kind of request's own totals, by entry index; empty when the run has one kind
    /// and no check (its totals are then these).
    pub kinds: Vec<KindTotals>,
}

impl Totals {
    fn new(open_model: bool) -> Totals {
        Totals {
            latency: latency_histogram(),
            uncorrected: open_model.then(latency_histogram),
            completed: 0,
            sent: 0,
            bytes: 0,
            late: 0,
            stalls: second_histogram(),
            status: vec![0; STATUS_SLOTS],
            errors: [0; ErrorKind::ALL.len()],
            error_samples: Default::default(),
            failed: 0,
            unfinished: 0,
            kinds: Vec::new(),
        }
    }

    /// Adds another worker's totals to these.
    pub(crate) fn merge(&mut self, other: &Totals) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        if let (Some(mine), Some(theirs)) = (&mut self.uncorrected, &other.uncorrected) {
            let _ = mine.add(theirs);
        }
        self.completed += other.completed;
        self.sent += other.sent;
        self.bytes += other.bytes;
        self.late += other.late;
        let _ = self.stalls.add(&other.stalls);
        self.failed += other.failed;
        self.unfinished += other.unfinished;
        for (mine, theirs) in self.status.iter_mut().zip(&other.status) {
            *mine += theirs;
        }
        merge_errors(
            (&mut self.errors, &mut self.error_samples),
            (&other.errors, &other.error_samples),
        );
        if self.kinds.is_empty() {
            self.kinds.clone_from(&other.kinds);
        } else {
            for (mine, theirs) in self.kinds.iter_mut().zip(&other.kinds) {
                mine.merge(theirs);
            }
        }
    }

    /// How late the workers woke at p99, ms ([`Totals::stalls`]); `None` before the window.
    pub(crate) fn delay_p99_ms(&self) -> Option<f64> {
        (!self.stalls.is_empty()).then(|| self.stalls.value_at_quantile(0.99) as f64 / 1000.0)
    }

    /// All errors, timeouts included.
    pub(crate) fn error_count(&self) -> u64 {
        self.errors.iter().sum()
    }
}

/// One worker's measurements for one second of the measured window.
#[derive(Debug)]
pub(crate) struct SecondReport {
    /// Seconds since the measured window opened.
    pub index: u64,
    /// How much of the second the worker covered (less than 1 s for the last one).
    pub covered: Duration,
    /// Responses completed in this second.
    pub requests: u64,
    /// Bytes read in this second.
    pub bytes: u64,
    /// Errors in this second.
    pub errors: u64,
    /// Latencies (µs) of the responses completed in this second.
    pub latency: Histogram<u64>,
    /// Each kind's part, for the first [`MAX_KIND_SERIES`] kinds (when kinds are counted).
    pub kinds: Vec<KindSecond>,
}

/// What a worker sends to the control thread.
#[derive(Debug)]
pub(crate) enum WorkerMessage {
    /// A second has passed.
    Second(SecondReport),
    /// The worker has stopped; these are its totals.
    Done(Box<Totals>),
}

/// Records one worker's requests.
pub(crate) struct Recorder {
    measure_start: Instant,
    measure_end: Option<Instant>,
    after_end: u64,
    totals: Totals,
    second: SecondReport,
    second_start: Instant,
    in_flight: u64,
    tx: UnboundedSender<WorkerMessage>,
    /// How many kinds have a per-second series (0 when kinds are not counted apart).
    series_kinds: usize,
    /// Kinds are counted apart (several kinds): each its own histogram, counts and codes.
    /// With one kind that has checks, only its checks are counted here; the rest is the
    /// run's.
    apart: bool,
}

impl Recorder {
    /// A recorder whose measured window opens at `measure_start` and, in duration mode,
    /// closes at `measure_end`. `kinds` holds each kind's number of checks; with one kind,
    /// kinds are not counted apart (its totals are the run's, and only its checks, if it has
    /// any, are counted in `Totals::kinds`).
    pub(crate) fn new(
        measure_start: Instant,
        measure_end: Option<Instant>,
        open_model: bool,
        kinds: &[usize],
        tx: UnboundedSender<WorkerMessage>,
    ) -> Recorder {
        let mut totals = Totals::new(open_model);
        if kinds.len() > 1 || kinds.iter().any(|checks| *checks > 0) {
            totals.kinds = kinds
                .iter()
                .map(|checks| KindTotals::new(*checks))
                .collect();
        }
        let apart = kinds.len() > 1;
        let series_kinds = if apart {
            totals.kinds.len().min(MAX_KIND_SERIES)
        } else {
            0
        };
        Recorder {
            measure_start,
            measure_end,
            after_end: 0,
            totals,
            second: empty_second(0, series_kinds),
            second_start: measure_start,
            in_flight: 0,
            tx,
            series_kinds,
            apart,
        }
    }

    /// A request written at `at` belongs to the measured window: it is counted in `sent`
    /// and ends as a response, an error or unfinished.
    fn in_window(&self, at: Instant) -> bool {
        at >= self.measure_start && self.measure_end.is_none_or(|end| at < end)
    }

    /// Requests of these kinds were written at `now`.
    pub(crate) fn sent(&mut self, kinds: impl ExactSizeIterator<Item = u16>, now: Instant) {
        if !self.in_window(now) {
            return;
        }
        let count = kinds.len() as u64;
        self.in_flight += count;
        self.totals.sent += count;
        if self.apart {
            for kind in kinds {
                if let Some(totals) = self.totals.kinds.get_mut(usize::from(kind)) {
                    totals.sent += 1;
                    totals.in_flight += 1;
                }
            }
        }
    }

    /// The worker, due to wake at `due`, woke at `now`. A stall longer than
    /// [`STALL_PERIOD`] also counts the wake-ups it swallowed (each later by a period less),
    /// so the figures weigh a stall by its length, as the requests sent in it are.
    pub(crate) fn note_stall(&mut self, due: Instant, now: Instant) {
        if self.in_window(due) {
            let late = micros(now.saturating_duration_since(due));
            let _ = self
                .totals
                .stalls
                .record_correct(late, micros(STALL_PERIOD));
        }
    }

    /// A request planned at `planned` was sent at `sent`; `late` says if that missed the plan.
    pub(crate) fn note_lateness(&mut self, planned: Instant, sent: Instant) {
        if planned >= self.measure_start && sent.saturating_duration_since(planned) > LATE_AFTER {
            self.totals.late += 1;
        }
    }

    /// A response arrived at `done` for `request`; `failed` has a bit for each of its
    /// kind's checks it failed, and `mismatch` describes a failed check by its index.
    pub(crate) fn response(
        &mut self,
        request: Request,
        done: Instant,
        status: u16,
        bytes: u64,
        failed: u32,
        mismatch: impl Fn(usize) -> String,
    ) {
        if !self.in_window(request.sent) {
            return;
        }
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.measure_end.is_some_and(|end| done >= end) {
            // Answered after the window closed: like a request still in flight at the end.
            self.after_end += 1;
            if let Some(kind) = self.kind_apart(request.kind) {
                kind.in_flight = kind.in_flight.saturating_sub(1);
                kind.unfinished += 1;
            }
            return;
        }
        self.roll(done);
        let latency = micros(done.saturating_duration_since(request.planned));
        self.totals.latency.saturating_record(latency);
        if let Some(uncorrected) = &mut self.totals.uncorrected {
            uncorrected.saturating_record(micros(done.saturating_duration_since(request.sent)));
        }
        self.second.latency.saturating_record(latency);
        self.totals.completed += 1;
        self.totals.bytes += bytes;
        self.second.requests += 1;
        self.second.bytes += bytes;
        if let Some(slot) = self.totals.status.get_mut(usize::from(status)) {
            *slot += 1;
        }
        let check = ErrorKind::Check as usize;
        if failed != 0 {
            self.totals.errors[check] += 1;
            self.second.errors += 1;
            if self.totals.error_samples[check].is_none() {
                self.totals.error_samples[check] = Some(mismatch(failed.trailing_zeros() as usize));
            }
        }
        let index = usize::from(request.kind);
        if let Some(second) = self.second.kinds.get_mut(index) {
            second.requests += 1;
            second.errors += u64::from(failed != 0);
            second
                .latency
                .get_or_insert_with(second_histogram)
                .saturating_record(latency);
        }
        let apart = self.apart;
        let Some(kind) = self.totals.kinds.get_mut(index) else {
            return;
        };
        if apart {
            kind.in_flight = kind.in_flight.saturating_sub(1);
            kind.latency.saturating_record(latency);
            kind.completed += 1;
            kind.bytes += bytes;
            *kind.status.entry(status).or_default() += 1;
        }
        for (i, count) in kind.checks.iter_mut().enumerate() {
            if failed & (1 << i) == 0 {
                count.passed += 1;
            } else {
                count.failed += 1;
                if count.example.is_none() {
                    count.example = Some(mismatch(i));
                }
            }
        }
        if failed != 0 {
            kind.errors[check] += 1;
            if kind.error_samples[check].is_none() {
                kind.error_samples[check].clone_from(&self.totals.error_samples[check]);
            }
        }
    }

    /// A request (or, with `request` None, a connection attempt) failed at `now`.
    /// Returns true when the error was counted (it was in the measured window).
    pub(crate) fn error(
        &mut self,
        error: ErrorKind,
        request: Option<Request>,
        now: Instant,
        detail: impl FnOnce() -> String,
    ) -> bool {
        let kind = match request {
            Some(request) if !self.in_window(request.sent) => return false,
            Some(request) => {
                self.in_flight = self.in_flight.saturating_sub(1);
                if let Some(kind) = self.kind_apart(request.kind) {
                    kind.in_flight = kind.in_flight.saturating_sub(1);
                }
                if self.measure_end.is_some_and(|end| now >= end) {
                    // Failed after the window closed: unfinished, like a late response.
                    self.after_end += 1;
                    if let Some(kind) = self.kind_apart(request.kind) {
                        kind.unfinished += 1;
                    }
                    return false;
                }
                self.totals.failed += 1;
                Some(usize::from(request.kind))
            }
            None if !self.in_window(now) => return false,
            None => None,
        };
        self.roll(now);
        let slot = error as usize;
        self.totals.errors[slot] += 1;
        if self.totals.error_samples[slot].is_none() {
            self.totals.error_samples[slot] = Some(detail());
        }
        self.second.errors += 1;
        if let Some(index) = kind {
            if let Some(second) = self.second.kinds.get_mut(index) {
                second.errors += 1;
            }
            let samples = &self.totals.error_samples;
            if let Some(kind) = self.totals.kinds.get_mut(index).filter(|_| self.apart) {
                kind.failed += 1;
                kind.errors[slot] += 1;
                if kind.error_samples[slot].is_none() {
                    kind.error_samples[slot].clone_from(&samples[slot]);
                }
            }
        }
        true
    }

    /// The totals of kind `kind`, when kinds are counted apart.
    fn kind_apart(&mut self, kind: u16) -> Option<&mut KindTotals> {
        if !self.apart {
            return None;
        }
        self.totals.kinds.get_mut(usize::from(kind))
    }

    /// Closes every second that ended before `now`, sending it to the control thread.
    pub(crate) fn roll(&mut self, now: Instant) {
        while now >= self.second_start + Duration::from_secs(1) {
            self.second.covered = Duration::from_secs(1);
            self.flush_second();
            self.second_start += Duration::from_secs(1);
        }
    }

    /// Ends the run at `now`: sends the last, partial second and the totals.
    pub(crate) fn finish(&mut self, now: Instant) {
        let now = self.measure_end.map_or(now, |end| now.min(end));
        if now > self.measure_start {
            self.roll(now);
            self.second.covered = now.saturating_duration_since(self.second_start);
            if !self.second.covered.is_zero() {
                self.flush_second();
            }
        }
        let mut totals = std::mem::replace(&mut self.totals, Totals::new(false));
        totals.unfinished = self.in_flight + self.after_end;
        for kind in &mut totals.kinds {
            kind.unfinished += kind.in_flight;
            kind.in_flight = 0;
        }
        let _ = self.tx.send(WorkerMessage::Done(Box::new(totals)));
    }

    fn flush_second(&mut self) {
        let next = empty_second(self.second.index + 1, self.series_kinds);
        let done = std::mem::replace(&mut self.second, next);
        // The control thread only goes away after every worker has finished.
        let _ = self.tx.send(WorkerMessage::Second(done));
    }
}

fn empty_second(index: u64, kinds: usize) -> SecondReport {
    SecondReport {
        index,
        covered: Duration::ZERO,
        requests: 0,
        bytes: 0,
        errors: 0,
        latency: latency_histogram(),
        kinds: (0..kinds).map(|_| KindSecond::default()).collect(),
    }
}

/// Whole microseconds, saturating.
pub(crate) fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    fn req(planned: Instant, sent: Instant) -> Request {
        Request {
            planned,
            sent,
            kind: 0,
        }
    }

    fn no_mismatch(_: usize) -> String {
        String::new()
    }

    fn drain(
        rx: &mut mpsc::UnboundedReceiver<WorkerMessage>,
    ) -> (Vec<SecondReport>, Option<Totals>) {
        let mut seconds = Vec::new();
        let mut totals = None;
        while let Ok(msg) = rx.try_recv() {
            match msg {
                WorkerMessage::Second(s) => seconds.push(s),
                WorkerMessage::Done(t) => totals = Some(*t),
            }
        }
        (seconds, totals)
    }

    #[tokio::test(start_paused = true)]
    async fn warmup_requests_are_not_recorded() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let start = Instant::now();
        let mut rec = Recorder::new(start + Duration::from_secs(1), None, false, &[0], tx);
        rec.sent(std::iter::repeat_n(0, 1), start);
        rec.response(
            req(start, start),
            start + Duration::from_millis(1500),
            200,
            10,
            0,
            no_mismatch,
        );
        let t = start + Duration::from_millis(1100);
        rec.sent(std::iter::repeat_n(0, 1), t);
        rec.response(
            req(t, t),
            t + Duration::from_millis(5),
            200,
            10,
            0,
            no_mismatch,
        );
        rec.finish(start + Duration::from_secs(2));
        let (seconds, totals) = drain(&mut rx);
        let totals = totals.unwrap();
        assert_eq!(totals.completed, 1);
        assert_eq!(totals.sent, 1);
        assert_eq!(
            totals.latency.max(),
            totals.latency.highest_equivalent(5000)
        );
        assert_eq!(seconds.len(), 1);
        assert_eq!(seconds[0].requests, 1);
    }

    /// An error after the window closed used to be counted nowhere: `sent` exceeded
    /// `completed + errors + unfinished`.
    #[tokio::test(start_paused = true)]
    async fn every_request_sent_in_the_window_is_answered_failed_or_unfinished() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let start = Instant::now();
        let ms = Duration::from_millis;
        let end = start + Duration::from_secs(1);
        let mut rec = Recorder::new(start + ms(100), Some(end), false, &[0], tx);
        let closed = || "closed".to_string();
        // Warm-up: sent before the window, ended inside and after it.
        rec.sent(std::iter::repeat_n(0, 2), start);
        rec.response(req(start, start), start + ms(200), 200, 1, 0, no_mismatch);
        rec.error(
            ErrorKind::Closed,
            Some(req(start, start)),
            start + ms(300),
            closed,
        );
        // Planned in the warm-up, sent in the window (a backlog): it belongs to the window.
        let late = start + ms(150);
        rec.sent(std::iter::repeat_n(0, 1), late);
        rec.response(req(start, late), late + ms(5), 200, 1, 0, no_mismatch);
        // In the window: answered, failed inside, failed after, answered after, never ended.
        let t = start + ms(500);
        rec.sent(std::iter::repeat_n(0, 5), t);
        rec.response(req(t, t), t + ms(5), 200, 1, 0, no_mismatch);
        rec.error(ErrorKind::Reset, Some(req(t, t)), t + ms(10), closed);
        rec.error(ErrorKind::Timeout, Some(req(t, t)), end + ms(1), closed);
        rec.response(req(t, t), end + ms(2), 200, 1, 0, no_mismatch);
        // A failed connection carries no request; one after the window is not counted.
        rec.error(ErrorKind::ConnectRefused, None, t, closed);
        rec.error(ErrorKind::ConnectRefused, None, end + ms(5), closed);
        // Sent after the window closed (the loop had not yet seen the deadline).
        rec.sent(std::iter::repeat_n(0, 1), end + ms(3));
        rec.error(
            ErrorKind::Closed,
            Some(req(end + ms(3), end + ms(3))),
            end + ms(4),
            closed,
        );
        rec.finish(end + ms(10));
        let totals = drain(&mut rx).1.unwrap();
        assert_eq!(totals.sent, 6);
        assert_eq!(
            (totals.completed, totals.failed, totals.unfinished),
            (2, 1, 3)
        );
        assert_eq!(
            totals.error_count(),
            2,
            "the reset and one refused connection"
        );
        assert_eq!(
            totals.sent,
            totals.completed + totals.failed + totals.unfinished
        );
    }

    #[tokio::test(start_paused = true)]
    async fn responses_after_the_window_count_as_unfinished() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let start = Instant::now();
        let end = start + Duration::from_secs(1);
        let mut rec = Recorder::new(start, Some(end), false, &[0], tx);
        rec.sent(std::iter::repeat_n(0, 2), start);
        rec.response(
            req(start, start),
            end - Duration::from_millis(1),
            200,
            1,
            0,
            no_mismatch,
        );
        rec.response(
            req(start, start),
            end + Duration::from_millis(1),
            200,
            1,
            0,
            no_mismatch,
        );
        rec.finish(end + Duration::from_millis(2));
        let (seconds, totals) = drain(&mut rx);
        let totals = totals.unwrap();
        assert_eq!((totals.completed, totals.unfinished), (1, 1));
        assert_eq!(seconds.len(), 1);
        assert_eq!(seconds[0].covered, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn responses_land_in_the_second_they_complete_and_idle_seconds_are_sent() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let start = Instant::now();
        let mut rec = Recorder::new(start, None, true, &[0], tx);
        let at = |ms| start + Duration::from_millis(ms);
        rec.response(req(at(0), at(0)), at(100), 200, 1, 0, no_mismatch);
        rec.response(req(at(900), at(950)), at(3200), 503, 1, 0, no_mismatch);
        rec.error(
            ErrorKind::Reset,
            Some(req(at(3000), at(3000))),
            at(3300),
            || "reset".into(),
        );
        rec.finish(at(3500));
        let (seconds, totals) = drain(&mut rx);
        let counts: Vec<_> = seconds
            .iter()
            .map(|s| (s.index, s.requests, s.errors))
            .collect();
        assert_eq!(counts, vec![(0, 1, 0), (1, 0, 0), (2, 0, 0), (3, 1, 1)]);
        assert_eq!(seconds[3].covered, Duration::from_millis(500));
        let totals = totals.unwrap();
        // Corrected latency counts from the plan (900 ms), uncorrected from the send (950 ms).
        assert_eq!(
            totals.latency.max(),
            totals.latency.highest_equivalent(2_300_000)
        );
        let uncorrected = totals.uncorrected.unwrap();
        assert_eq!(uncorrected.max(), uncorrected.highest_equivalent(2_250_000));
        assert_eq!(totals.status[503], 1);
        assert_eq!(totals.errors[ErrorKind::Reset as usize], 1);
        assert_eq!(
            totals.error_samples[ErrorKind::Reset as usize].as_deref(),
            Some("reset")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn each_kind_counts_its_own_requests_and_checks() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let start = Instant::now();
        let ms = Duration::from_millis;
        let mut rec = Recorder::new(start, None, false, &[0, 2], tx);
        let of = |kind| Request {
            planned: start,
            sent: start,
            kind,
        };
        rec.sent([0u16, 1, 1, 1].into_iter(), start);
        rec.response(of(0), start + ms(2), 200, 10, 0, no_mismatch);
        rec.response(of(1), start + ms(40), 200, 10, 0, no_mismatch);
        // Fails the second check of kind 1: an error, and a response all the same.
        rec.response(of(1), start + ms(41), 200, 10, 0b10, |i| {
            format!("check {i}")
        });
        rec.error(ErrorKind::Reset, Some(of(1)), start + ms(50), || {
            "reset".into()
        });
        rec.finish(start + ms(1500));
        let (seconds, totals) = drain(&mut rx);
        let totals = totals.unwrap();
        assert_eq!((totals.sent, totals.completed, totals.failed), (4, 3, 1));
        assert_eq!(totals.errors[ErrorKind::Check as usize], 1);
        let [fast, slow] = &totals.kinds[..] else {
            panic!("two kinds: {:?}", totals.kinds.len())
        };
        assert_eq!((fast.sent, fast.completed, fast.failed), (1, 1, 0));
        assert_eq!((slow.sent, slow.completed, slow.failed), (3, 2, 1));
        assert_eq!(
            fast.latency.len() + slow.latency.len(),
            totals.latency.len()
        );
        assert_eq!(slow.checks[0].failed, 0);
        assert_eq!((slow.checks[1].passed, slow.checks[1].failed), (1, 1));
        assert_eq!(slow.checks[1].example.as_deref(), Some("check 1"));
        assert_eq!(slow.errors[ErrorKind::Check as usize], 1);
        assert_eq!(slow.errors[ErrorKind::Reset as usize], 1);
        assert_eq!(seconds[0].kinds[1].requests, 2);
        assert_eq!(seconds[0].kinds[1].errors, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn one_kind_without_checks_is_not_counted_apart() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let rec = Recorder::new(Instant::now(), None, false, &[0], tx.clone());
        assert!(rec.totals.kinds.is_empty() && rec.series_kinds == 0);
        // With checks, only the checks are counted: the run's totals are the kind's.
        let start = Instant::now();
        let mut rec = Recorder::new(start, None, false, &[1], tx);
        let request = Request {
            planned: start,
            sent: start,
            kind: 0,
        };
        rec.sent(std::iter::once(0), start);
        rec.response(request, start, 200, 1, 1, |_| "no".into());
        let kind = &rec.totals.kinds[0];
        assert_eq!(
            (kind.checks[0].failed, kind.completed, kind.latency.len()),
            (1, 0, 0)
        );
        assert_eq!(rec.totals.errors[ErrorKind::Check as usize], 1);
    }
}
