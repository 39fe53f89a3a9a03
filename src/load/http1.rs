//! The HTTP/1.1 hot path, written the way wrk works rather than through hyper (whose client
//! cannot pipeline): requests are serialised once and written as raw bytes, up to the
//! pipelining depth at a time; responses are framed in place by [`ResponseParser`] and matched
//! to requests in order. One session is one TCP (or TLS, or Unix) connection.

use std::collections::VecDeque;
use std::pin::pin;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::connect::Stream;
use super::pacer::Pacer;
use super::recorder::{ErrorKind, Request};
use super::response::ResponseParser;
use super::template::{Template, Values};
use super::{SessionEnd, Worker};
use crate::plan::{LoadPlan, RequestSpec};

/// Initial read buffer per connection; small because a run may hold thousands of connections.
const READ_BUFFER: usize = 4096;
/// The read buffer grows up to this when reads keep filling it (large bodies, big heads).
const MAX_READ_BUFFER: usize = 64 * 1024;
/// A timer that needs no earlier wake-up is parked this far ahead.
const PARKED: Duration = Duration::from_secs(3600);
/// The most bytes of requests rendered for one write: a pipeline of large bodies is written
/// a part at a time, so a connection never holds more than this (plus one request).
const MAX_BATCH_BYTES: usize = 1 << 20;

/// The bytes to write for each request. One fixed request is serialised once and repeated up
/// to `pipelining` times (fewer for a large body, see [`MAX_BATCH_BYTES`]), so that a
/// pipeline's requests are one contiguous slice (the hot path). Several requests, or
/// placeholders, are chosen and rendered per request.
pub(super) enum WireRequest {
    /// One request, always the same.
    Fixed {
        /// The request [`WireRequest::chunk()`] times over.
        batch: Bytes,
        /// Length of one request.
        one: usize,
    },
    /// Chosen by weight; fixed ones pre-serialised, templated ones rendered each time.
    Mix {
        /// The requests.
        entries: Vec<WireEntry>,
        /// Running totals of the weights.
        cumulative: Vec<u64>,
        /// Requests rendered per write.
        chunk: usize,
    },
}

/// How many requests of up to `largest` bytes go in one write of a pipeline `depth` deep.
fn chunk_for(largest: usize, depth: usize) -> usize {
    (MAX_BATCH_BYTES / largest.max(1)).clamp(1, depth.max(1))
}

/// One request of a mix.
pub(super) struct WireEntry {
    head: bool,
    fixed: Option<Vec<u8>>,
    method: String,
    path: Template,
    headers: Vec<(String, Template)>,
    body: Template,
}

impl WireRequest {
    /// Serialises the plan's requests.
    pub(super) fn new(plan: &LoadPlan) -> Result<WireRequest, String> {
        let authority = &plan.target.authority;
        if let [only] = plan.requests.as_slice() {
            if !only.placeholders {
                let one = serialise(only, authority);
                let chunk = chunk_for(one.len(), plan.pipelining);
                let mut batch = BytesMut::with_capacity(one.len() * chunk);
                for _ in 0..chunk {
                    batch.put_slice(&one);
                }
                return Ok(WireRequest::Fixed {
                    batch: batch.freeze(),
                    one: one.len(),
                });
            }
        }
        let mut entries = Vec::with_capacity(plan.requests.len());
        let mut cumulative = Vec::with_capacity(plan.requests.len());
        let mut total = 0;
        let mut largest = 0;
        for request in &plan.requests {
            // Placeholders render to values of a few dozen bytes at most.
            let headers: usize = request
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len() + 4)
                .sum();
            largest = largest.max(request.body.len() + request.path.len() + headers + 128);
            let template = |text: &[u8]| {
                if request.placeholders {
                    Template::parse(text)
                } else {
                    Ok(Template::literal(text))
                }
            };
            let path = template(request.path.as_bytes())?;
            let body = template(&request.body)?;
            let mut headers = request
                .headers
                .iter()
                .map(|(name, value)| Ok((name.clone(), template(value.as_bytes())?)))
                .collect::<Result<Vec<_>, String>>()?;
            if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
                headers.insert(
                    0,
                    ("Host".to_string(), Template::literal(authority.as_bytes())),
                );
            }
            let fixed =
                (path.is_fixed() && body.is_fixed() && headers.iter().all(|(_, v)| v.is_fixed()))
                    .then(|| serialise(request, authority));
            entries.push(WireEntry {
                head: request.method == "HEAD",
                fixed,
                method: request.method.clone(),
                path,
                headers,
                body,
            });
            total += request.weight;
            cumulative.push(total);
        }
        Ok(WireRequest::Mix {
            entries,
            cumulative,
            chunk: chunk_for(largest, plan.pipelining),
        })
    }

    /// The most requests [`WireRequest::requests()`] renders at once.
    fn chunk(&self) -> usize {
        match self {
            WireRequest::Fixed { batch, one } => batch.len() / one.max(&1),
            WireRequest::Mix { chunk, .. } => *chunk,
        }
    }

    /// The bytes of `count` requests (at most [`WireRequest::chunk()`]), rendered into `out`
    /// when they vary; `picks` gets each one's entry index and whether it is a HEAD request
    /// (left alone for a fixed request).
    fn requests<'a>(
        &'a self,
        count: usize,
        values: &Values,
        out: &'a mut Vec<u8>,
        picks: &mut Vec<(u16, bool)>,
    ) -> &'a [u8] {
        match self {
            WireRequest::Fixed { batch, one } => &batch[..one * count],
            WireRequest::Mix {
                entries,
                cumulative,
                ..
            } => {
                out.clear();
                picks.clear();
                let mut scratch = Scratch::default();
                for _ in 0..count {
                    let index = values.pick(cumulative);
                    let entry = &entries[index];
                    picks.push((index as u16, entry.head));
                    match &entry.fixed {
                        Some(bytes) => out.extend_from_slice(bytes),
                        None => entry.render(values, &mut scratch, out),
                    }
                }
                out
            }
        }
    }
}

/// Reused buffers for rendering templated requests.
#[derive(Default)]
struct Scratch {
    path: Vec<u8>,
    body: Vec<u8>,
    values: Vec<Vec<u8>>,
}

impl WireEntry {
    fn render(&self, values: &Values, scratch: &mut Scratch, out: &mut Vec<u8>) {
        scratch.path.clear();
        self.path.render(values, &mut scratch.path);
        scratch.values.resize(self.headers.len(), Vec::new());
        for ((_, template), value) in self.headers.iter().zip(&mut scratch.values) {
            value.clear();
            template.render(values, value);
        }
        scratch.body.clear();
        self.body.render(values, &mut scratch.body);
        let headers = self
            .headers
            .iter()
            .zip(&scratch.values)
            .map(|((name, _), value)| (name.as_str(), value.as_slice()));
        write_request(
            &self.method,
            &scratch.path,
            headers,
            &scratch.body,
            None,
            out,
        );
    }
}

/// Writes the request line, headers and body as bytes.
pub(super) fn serialise(request: &RequestSpec, authority: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + request.body.len());
    write_request(
        &request.method,
        request.path.as_bytes(),
        request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes())),
        &request.body,
        Some(authority),
        &mut out,
    );
    out
}

/// One request on the wire. `Host` is added from `authority` unless a header sets it
/// (templated requests carry it among their headers instead).
fn write_request<'h>(
    method: &str,
    path: &[u8],
    headers: impl Iterator<Item = (&'h str, &'h [u8])> + Clone,
    body: &[u8],
    authority: Option<&str>,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path);
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let has = |name: &str| headers.clone().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if let Some(authority) = authority.filter(|_| !has("host")) {
        out.extend_from_slice(format!("Host: {authority}\r\n").as_bytes());
    }
    for (name, value) in headers.clone() {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    let wants_length = !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH");
    if wants_length && !has("content-length") && !has("transfer-encoding") {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// A request written and not yet answered.
#[derive(Clone, Copy)]
struct Flight {
    planned: Instant,
    sent: Instant,
    /// A HEAD request: its response has no body whatever its headers say.
    head: bool,
    /// Its kind: the index of its entry in the plan's requests.
    kind: u16,
}

impl Flight {
    fn request(&self) -> Request {
        Request {
            planned: self.planned,
            sent: self.sent,
            kind: self.kind,
        }
    }
}

/// Drives one connection until it must be reopened or the run wants no more requests.
///
/// It is one piece on purpose: the per-request hot loop of the generator, whose state (the
/// read buffer, the requests in flight, the pacer, the deadline) stays in locals across the
/// `select!` of writing, reading and waiting; split into functions, that state would be
/// passed around or re-borrowed on every request (`bench/load.sh` holds it to wrk's cost).
pub(super) async fn session(worker: &Worker, mut stream: Stream, pacer: &mut Pacer) -> SessionEnd {
    let depth = worker.plan.pipelining;
    // Closed model: refill only once half the pipeline is free, so each write carries at least
    // half a pipeline of requests (wrk refills only when all are back). Open model: the pacer
    // decides, and a due request is never held back.
    let refill_at = if pacer.due().is_none() {
        depth - depth / 2
    } else {
        depth
    };
    let timeout = worker.plan.timeout;
    let mut flights: VecDeque<Flight> = VecDeque::with_capacity(depth);
    let first_head = worker.plan.requests[0].method == "HEAD";
    let mut parser = ResponseParser::new(if first_head { "HEAD" } else { "GET" });
    let mut rendered = Vec::new();
    let mut picks = Vec::new();
    let mut buf = vec![0u8; READ_BUFFER];
    let mut filled = 0;
    let mut response_bytes = 0u64;
    let mut closing = false;
    let mut finished = false;
    let mut timer = pin!(tokio::time::sleep(PARKED));
    let mut armed = timer.deadline();
    let mut fired = false;
    loop {
        let now = Instant::now();
        // Send what the pacer and the budget allow, all in one write.
        if !closing && !finished && flights.len() < refill_at {
            let mut count = 0;
            while flights.len() < depth && pacer.is_due(now) {
                if !worker.budget.claim(now) {
                    finished = true;
                    break;
                }
                let planned = pacer.take(now);
                worker.rec.borrow_mut().note_lateness(planned, now);
                flights.push_back(Flight {
                    planned,
                    sent: now,
                    head: first_head,
                    kind: 0,
                });
                count += 1;
            }
            if count > 0 {
                // Usually one write; a pipeline of large bodies goes a part at a time.
                let mut first = flights.len() - count;
                while first < flights.len() {
                    let part = (flights.len() - first).min(worker.wire.chunk());
                    let bytes =
                        worker
                            .wire
                            .requests(part, &worker.values, &mut rendered, &mut picks);
                    for (flight, (kind, head)) in flights.range_mut(first..).zip(&picks) {
                        flight.kind = *kind;
                        flight.head = *head;
                    }
                    worker
                        .rec
                        .borrow_mut()
                        .sent(flights.range(first..first + part).map(|f| f.kind), now);
                    first += part;
                    let failure = match write_within(&mut stream, bytes, timeout).await {
                        Ok(()) => continue,
                        Err(None) => (ErrorKind::Timeout, "the request could not be written within --timeout (the server does not read)".to_string()),
                        Err(Some(err)) => (ErrorKind::of_io(&err), err.to_string()),
                    };
                    fail_all(worker, &mut flights, failure.0, &failure.1);
                    return SessionEnd::Reconnect;
                }
            }
        }
        if flights.is_empty() {
            if finished {
                return SessionEnd::Done;
            }
            if closing {
                return SessionEnd::Reconnect;
            }
        }
        // Wake for the oldest request's timeout or the next planned send, whichever is first.
        let timeout_at = flights.front().map(|f| f.sent + timeout);
        let send_at = (!finished && !closing && flights.len() < depth)
            .then(|| pacer.due())
            .flatten();
        let wake = match (timeout_at, send_at) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => now + PARKED,
        };
        // Timeouts only move later, so an armed timer that fires early is re-checked and
        // re-armed rather than reset on every request.
        if fired || wake < armed {
            timer.as_mut().reset(wake);
            armed = wake;
            fired = false;
        }
        tokio::select! {
            biased;
            read = stream.read(&mut buf[filled..]) => {
                let done = Instant::now();
                let n = match read {
                    Ok(n) => n,
                    Err(err) => {
                        fail_all(worker, &mut flights, ErrorKind::of_io(&err), &err.to_string());
                        return SessionEnd::Reconnect;
                    }
                };
                if n == 0 {
                    return at_eof(worker, &mut flights, &mut parser, done, response_bytes);
                }
                filled += n;
                let mut pos = 0;
                while pos < filled {
                    if parser.is_idle() {
                        let next = flights.front();
                        let capture = next.and_then(|f| worker.captures.get(usize::from(f.kind))).and_then(Option::as_ref);
                        parser.expect(next.is_some_and(|f| f.head), capture);
                    }
                    let progress = match parser.advance(&buf[pos..filled]) {
                        Ok(progress) => progress,
                        Err(err) => {
                            fail_all(worker, &mut flights, ErrorKind::InvalidResponse, &err.to_string());
                            return SessionEnd::Reconnect;
                        }
                    };
                    pos += progress.used;
                    response_bytes += progress.used as u64;
                    let Some(response) = progress.done else {
                        if progress.used == 0 {
                            break;
                        }
                        continue;
                    };
                    let Some(flight) = flights.pop_front() else {
                        // An extra response (two for one request, a 204 with a body): counted.
                        worker.fail(ErrorKind::InvalidResponse, None, done, || "a response arrived with no request in flight".to_string());
                        return SessionEnd::Reconnect;
                    };
                    if done.saturating_duration_since(flight.sent) > timeout {
                        // It came after its deadline: a timeout, even if the timer lost the race.
                        worker.fail(ErrorKind::Timeout, Some(flight.request()), done, || "no response within --timeout".to_string());
                        response_bytes = 0;
                        continue;
                    }
                    worker.answered(flight.request(), done, response.status, response_bytes, parser.captured());
                    response_bytes = 0;
                    if response.close {
                        closing = true;
                        fail_all(worker, &mut flights, ErrorKind::Closed, "the server closed the connection with pipelined requests unanswered");
                        break;
                    }
                }
                buf.copy_within(pos..filled, 0);
                filled -= pos;
                if filled == buf.len() {
                    if buf.len() >= MAX_READ_BUFFER {
                        fail_all(worker, &mut flights, ErrorKind::InvalidResponse, "response head larger than 64 KiB");
                        return SessionEnd::Reconnect;
                    }
                    buf.resize(buf.len() * 2, 0);
                }
            }
            () = &mut timer => {
                fired = true;
                let now = Instant::now();
                if flights.front().is_some_and(|f| f.sent + timeout <= now) {
                    fail_all(worker, &mut flights, ErrorKind::Timeout, "no response within --timeout");
                    return SessionEnd::Reconnect;
                }
            }
        }
    }
}

/// Writes the requests, within `timeout` when the socket does not take them at once (a
/// server that stops reading); `Err(None)` is that timeout. The usual write completes on its
/// first poll and arms no timer.
async fn write_within(
    stream: &mut Stream,
    bytes: &[u8],
    timeout: Duration,
) -> Result<(), Option<std::io::Error>> {
    let write = write(stream, bytes);
    tokio::pin!(write);
    tokio::select! {
        biased;
        written = &mut write => written.map_err(Some),
        () = std::future::ready(()) => match tokio::time::timeout(timeout, write).await {
            Ok(written) => written.map_err(Some),
            Err(_) => Err(None),
        },
    }
}

async fn write(stream: &mut Stream, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    if matches!(stream, Stream::Tls(_)) {
        stream.flush().await?;
    }
    Ok(())
}

/// The server closed the connection: completes a body that ran until close, and counts any
/// request still waiting as closed. A close with nothing in flight is an ordinary idle close.
fn at_eof(
    worker: &Worker,
    flights: &mut VecDeque<Flight>,
    parser: &mut ResponseParser,
    now: Instant,
    bytes: u64,
) -> SessionEnd {
    if let Some(response) = parser.finish_at_eof() {
        if let Some(flight) = flights.pop_front() {
            worker.answered(
                flight.request(),
                now,
                response.status,
                bytes,
                parser.captured(),
            );
        }
    }
    let detail = if parser.is_idle() {
        "the server closed the connection before responding"
    } else {
        "the server closed the connection in the middle of a response"
    };
    fail_all(worker, flights, ErrorKind::Closed, detail);
    SessionEnd::Reconnect
}

/// Counts every request in flight as failed with `kind`.
fn fail_all(worker: &Worker, flights: &mut VecDeque<Flight>, kind: ErrorKind, detail: &str) {
    let now = Instant::now();
    for flight in flights.drain(..) {
        worker.fail(kind, Some(flight.request()), now, || detail.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(method: &str, headers: &[(&str, &str)], body: &str) -> RequestSpec {
        RequestSpec {
            method: method.to_string(),
            path: "/a?b=1".to_string(),
            weight: 1,
            placeholders: false,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Bytes::from(body.to_string()),
            name: RequestSpec::default_name(method, "/a?b=1"),
            expect: Default::default(),
        }
    }

    #[test]
    fn get_has_host_and_no_length() {
        let wire = serialise(&spec("GET", &[("Accept", "*/*")], ""), "localhost:3000");
        assert_eq!(
            String::from_utf8(wire).unwrap(),
            "GET /a?b=1 HTTP/1.1\r\nHost: localhost:3000\r\nAccept: */*\r\n\r\n"
        );
    }

    #[test]
    fn post_gets_a_content_length_unless_the_user_set_one() {
        let wire = serialise(&spec("POST", &[], "{}"), "h");
        assert!(String::from_utf8(wire)
            .unwrap()
            .ends_with("Content-Length: 2\r\n\r\n{}"));
        let wire = serialise(
            &spec("POST", &[("content-length", "2"), ("host", "x")], "{}"),
            "h",
        );
        let text = String::from_utf8(wire).unwrap();
        assert_eq!(text.matches("ength").count(), 1);
        assert!(!text.contains("Host: h"));
    }

    #[test]
    fn a_templated_request_is_rendered_with_its_host_and_length() {
        use std::sync::atomic::AtomicU64;
        use std::sync::Arc;
        let mut request = spec("POST", &[("X-Id", "{{counter}}")], "{\"k\":{{counter}}}");
        request.path = "/k/{{counter}}".to_string();
        request.placeholders = true;
        let plan = crate::plan::tests::load_plan(vec![request]);
        let wire = WireRequest::new(&plan).unwrap();
        let values = Values::new(Arc::new(AtomicU64::new(0)), 1);
        let (mut out, mut heads) = (Vec::new(), Vec::new());
        let text = String::from_utf8(wire.requests(1, &values, &mut out, &mut heads).to_vec());
        assert_eq!(
            text.unwrap(),
            "POST /k/1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\nX-Id: 2\r\nContent-Length: 7\r\n\r\n{\"k\":3}"
        );
        assert_eq!(heads, [(0, false)]);
    }
}
