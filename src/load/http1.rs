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
use super::recorder::ErrorKind;
use super::response::ResponseParser;
use super::{SessionEnd, Worker};
use crate::plan::{LoadPlan, RequestSpec};

/// Initial read buffer per connection; small because a run may hold thousands of connections.
const READ_BUFFER: usize = 4096;
/// The read buffer grows up to this when reads keep filling it (large bodies, big heads).
const MAX_READ_BUFFER: usize = 64 * 1024;
/// A timer that needs no earlier wake-up is parked this far ahead.
const PARKED: Duration = Duration::from_secs(3600);

/// The request serialised once, repeated `pipelining` times so that any number of requests
/// up to the depth is one contiguous slice.
pub struct WireRequest {
    batch: Bytes,
    one: usize,
}

impl WireRequest {
    /// Serialises the plan's request.
    pub fn new(plan: &LoadPlan) -> WireRequest {
        let one = serialise(&plan.request, &plan.target.authority, &plan.target.path);
        let mut batch = BytesMut::with_capacity(one.len() * plan.pipelining);
        for _ in 0..plan.pipelining {
            batch.put_slice(&one);
        }
        WireRequest {
            batch: batch.freeze(),
            one: one.len(),
        }
    }

    fn requests(&self, count: usize) -> &[u8] {
        &self.batch[..self.one * count]
    }
}

/// Writes the request line, headers and body as bytes.
pub fn serialise(request: &RequestSpec, authority: &str, path: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + request.body.len());
    out.extend_from_slice(format!("{} {path} HTTP/1.1\r\n", request.method).as_bytes());
    let has = |name: &str| {
        request
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    if !has("host") {
        out.extend_from_slice(format!("Host: {authority}\r\n").as_bytes());
    }
    for (name, value) in &request.headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    let wants_length =
        !request.body.is_empty() || matches!(request.method.as_str(), "POST" | "PUT" | "PATCH");
    if wants_length && !has("content-length") && !has("transfer-encoding") {
        out.extend_from_slice(format!("Content-Length: {}\r\n", request.body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&request.body);
    out
}

/// A request written and not yet answered.
#[derive(Clone, Copy)]
struct Flight {
    planned: Instant,
    sent: Instant,
}

/// Drives one connection until it must be reopened or the run wants no more requests.
pub async fn session(worker: &Worker, mut stream: Stream, pacer: &mut Pacer) -> SessionEnd {
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
    let mut parser = ResponseParser::new(&worker.plan.request.method);
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
                flights.push_back(Flight { planned, sent: now });
                count += 1;
            }
            if count > 0 {
                worker.rec.borrow_mut().sent(count as u64, now);
                if let Err(err) = write(&mut stream, worker.wire.requests(count)).await {
                    fail_all(
                        worker,
                        &mut flights,
                        ErrorKind::of_io(&err),
                        &err.to_string(),
                    );
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
                        fail_all(worker, &mut flights, ErrorKind::InvalidResponse, "a response arrived with no request in flight");
                        return SessionEnd::Reconnect;
                    };
                    worker.rec.borrow_mut().response(flight.planned, flight.sent, done, response.status, response_bytes);
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
            worker.rec.borrow_mut().response(
                flight.planned,
                flight.sent,
                now,
                response.status,
                bytes,
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
        worker.fail(kind, Some(flight.sent), now, || detail.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(method: &str, headers: &[(&str, &str)], body: &str) -> RequestSpec {
        RequestSpec {
            method: method.to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn get_has_host_and_no_length() {
        let wire = serialise(
            &spec("GET", &[("Accept", "*/*")], ""),
            "localhost:3000",
            "/a?b=1",
        );
        assert_eq!(
            String::from_utf8(wire).unwrap(),
            "GET /a?b=1 HTTP/1.1\r\nHost: localhost:3000\r\nAccept: */*\r\n\r\n"
        );
    }

    #[test]
    fn post_gets_a_content_length_unless_the_user_set_one() {
        let wire = serialise(&spec("POST", &[], "{}"), "h", "/");
        assert!(String::from_utf8(wire)
            .unwrap()
            .ends_with("Content-Length: 2\r\n\r\n{}"));
        let wire = serialise(
            &spec("POST", &[("content-length", "2"), ("host", "x")], "{}"),
            "h",
            "/",
        );
        let text = String::from_utf8(wire).unwrap();
        assert_eq!(text.matches("ength").count(), 1);
        assert!(!text.contains("Host: h"));
    }
}
