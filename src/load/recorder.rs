//! Per-worker measurements: latency histograms, counters by status and error kind, and the
//! per-second buckets sent to the control thread. One `Recorder` per worker thread, shared
//! by that worker's connections (`Rc<RefCell<_>>`), so recording takes no lock.

use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

/// Highest latency the histograms track: one hour, in microseconds.
pub(crate) const MAX_LATENCY_US: u64 = 3_600_000_000;
/// Significant digits kept by the latency histograms (0.1 % precision).
pub(crate) const SIGNIFICANT_DIGITS: u8 = 3;
/// A request sent more than this after its planned time counts as late (open model only).
/// tokio's timer has a 1 ms granularity and a busy worker adds a few ms of scheduling delay;
/// beyond 10 ms the generator or the connection could not keep the schedule.
pub(crate) const LATE_THRESHOLD: Duration = Duration::from_millis(10);
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
    /// Any other I/O or protocol error.
    Other,
}

impl ErrorKind {
    /// Every kind, in the order they are reported.
    pub(crate) const ALL: [ErrorKind; 8] = [
        ErrorKind::ConnectRefused,
        ErrorKind::Connect,
        ErrorKind::Tls,
        ErrorKind::Reset,
        ErrorKind::Closed,
        ErrorKind::Timeout,
        ErrorKind::InvalidResponse,
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
    /// Requests sent more than [`LATE_THRESHOLD`] after their planned time.
    pub late: u64,
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
            status: vec![0; STATUS_SLOTS],
            errors: [0; ErrorKind::ALL.len()],
            error_samples: Default::default(),
            failed: 0,
            unfinished: 0,
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
        self.failed += other.failed;
        self.unfinished += other.unfinished;
        for (mine, theirs) in self.status.iter_mut().zip(&other.status) {
            *mine += theirs;
        }
        for (i, count) in other.errors.iter().enumerate() {
            self.errors[i] += count;
            if self.error_samples[i].is_none() {
                self.error_samples[i].clone_from(&other.error_samples[i]);
            }
        }
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
}

impl Recorder {
    /// A recorder whose measured window opens at `measure_start` and, in duration mode,
    /// closes at `measure_end`.
    pub(crate) fn new(
        measure_start: Instant,
        measure_end: Option<Instant>,
        open_model: bool,
        tx: UnboundedSender<WorkerMessage>,
    ) -> Recorder {
        Recorder {
            measure_start,
            measure_end,
            after_end: 0,
            totals: Totals::new(open_model),
            second: empty_second(0),
            second_start: measure_start,
            in_flight: 0,
            tx,
        }
    }

    /// A request written at `at` belongs to the measured window: it is counted in `sent`
    /// and ends as a response, an error or unfinished.
    fn in_window(&self, at: Instant) -> bool {
        at >= self.measure_start && self.measure_end.is_none_or(|end| at < end)
    }

    /// `count` requests were written at `now`.
    pub(crate) fn sent(&mut self, count: u64, now: Instant) {
        if self.in_window(now) {
            self.in_flight += count;
            self.totals.sent += count;
        }
    }

    /// A request planned at `planned` was sent at `sent`; `late` says if that missed the plan.
    pub(crate) fn note_lateness(&mut self, planned: Instant, sent: Instant) {
        if planned >= self.measure_start && sent.saturating_duration_since(planned) > LATE_THRESHOLD
        {
            self.totals.late += 1;
        }
    }

    /// A response arrived at `done` for a request planned at `planned` and sent at `sent`.
    pub(crate) fn response(
        &mut self,
        planned: Instant,
        sent: Instant,
        done: Instant,
        status: u16,
        bytes: u64,
    ) {
        if !self.in_window(sent) {
            return;
        }
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.measure_end.is_some_and(|end| done >= end) {
            // Answered after the window closed: like a request still in flight at the end.
            self.after_end += 1;
            return;
        }
        self.roll(done);
        let latency = micros(done.saturating_duration_since(planned));
        self.totals.latency.saturating_record(latency);
        if let Some(uncorrected) = &mut self.totals.uncorrected {
            uncorrected.saturating_record(micros(done.saturating_duration_since(sent)));
        }
        self.second.latency.saturating_record(latency);
        self.totals.completed += 1;
        self.totals.bytes += bytes;
        self.second.requests += 1;
        self.second.bytes += bytes;
        if let Some(slot) = self.totals.status.get_mut(usize::from(status)) {
            *slot += 1;
        }
    }

    /// A request (or, with `sent` None, a connection attempt) failed at `now`.
    /// Returns true when the error was counted (it was in the measured window).
    pub(crate) fn error(
        &mut self,
        kind: ErrorKind,
        sent: Option<Instant>,
        now: Instant,
        detail: impl FnOnce() -> String,
    ) -> bool {
        match sent {
            Some(sent) if !self.in_window(sent) => return false,
            Some(_) => {
                self.in_flight = self.in_flight.saturating_sub(1);
                if self.measure_end.is_some_and(|end| now >= end) {
                    // Failed after the window closed: unfinished, like a late response.
                    self.after_end += 1;
                    return false;
                }
                self.totals.failed += 1;
            }
            None if !self.in_window(now) => return false,
            None => {}
        }
        self.roll(now);
        let slot = kind as usize;
        self.totals.errors[slot] += 1;
        if self.totals.error_samples[slot].is_none() {
            self.totals.error_samples[slot] = Some(detail());
        }
        self.second.errors += 1;
        true
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
        let _ = self.tx.send(WorkerMessage::Done(Box::new(totals)));
    }

    fn flush_second(&mut self) {
        let next = empty_second(self.second.index + 1);
        let done = std::mem::replace(&mut self.second, next);
        // The control thread only goes away after every worker has finished.
        let _ = self.tx.send(WorkerMessage::Second(done));
    }
}

fn empty_second(index: u64) -> SecondReport {
    SecondReport {
        index,
        covered: Duration::ZERO,
        requests: 0,
        bytes: 0,
        errors: 0,
        latency: latency_histogram(),
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
        let mut rec = Recorder::new(start + Duration::from_secs(1), None, false, tx);
        rec.sent(1, start);
        rec.response(start, start, start + Duration::from_millis(1500), 200, 10);
        let t = start + Duration::from_millis(1100);
        rec.sent(1, t);
        rec.response(t, t, t + Duration::from_millis(5), 200, 10);
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
        let mut rec = Recorder::new(start + ms(100), Some(end), false, tx);
        let closed = || "closed".to_string();
        // Warm-up: sent before the window, ended inside and after it.
        rec.sent(2, start);
        rec.response(start, start, start + ms(200), 200, 1);
        rec.error(ErrorKind::Closed, Some(start), start + ms(300), closed);
        // Planned in the warm-up, sent in the window (a backlog): it belongs to the window.
        let late = start + ms(150);
        rec.sent(1, late);
        rec.response(start, late, late + ms(5), 200, 1);
        // In the window: answered, failed inside, failed after, answered after, never ended.
        let t = start + ms(500);
        rec.sent(5, t);
        rec.response(t, t, t + ms(5), 200, 1);
        rec.error(ErrorKind::Reset, Some(t), t + ms(10), closed);
        rec.error(ErrorKind::Timeout, Some(t), end + ms(1), closed);
        rec.response(t, t, end + ms(2), 200, 1);
        // A failed connection carries no request; one after the window is not counted.
        rec.error(ErrorKind::ConnectRefused, None, t, closed);
        rec.error(ErrorKind::ConnectRefused, None, end + ms(5), closed);
        // Sent after the window closed (the loop had not yet seen the deadline).
        rec.sent(1, end + ms(3));
        rec.error(ErrorKind::Closed, Some(end + ms(3)), end + ms(4), closed);
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
        let mut rec = Recorder::new(start, Some(end), false, tx);
        rec.sent(2, start);
        rec.response(start, start, end - Duration::from_millis(1), 200, 1);
        rec.response(start, start, end + Duration::from_millis(1), 200, 1);
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
        let mut rec = Recorder::new(start, None, true, tx);
        let at = |ms| start + Duration::from_millis(ms);
        rec.response(at(0), at(0), at(100), 200, 1);
        rec.response(at(900), at(950), at(3200), 503, 1);
        rec.error(ErrorKind::Reset, Some(at(3000)), at(3300), || {
            "reset".into()
        });
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
}
