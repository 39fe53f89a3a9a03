//! HTTP/2 through hyper's client connection: one TCP (or TLS) connection per `--connections`,
//! up to `--pipelining` concurrent streams on it, each a loop paced by the connection's
//! shared [`Pacer`]. Unlike HTTP/1.1, a timed-out request only resets its own stream; the
//! connection is reopened when it fails as a whole.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::time::Instant;

use super::check::Captured;
use super::connect::Stream;
use super::pacer::Pacer;
use super::recorder::{ErrorKind, Request};
use super::template::{Template, Values};
use super::{SessionEnd, Worker};

/// Spawns hyper's background tasks on the worker's single-threaded `LocalSet`.
#[derive(Clone, Copy)]
struct LocalExec;

impl<F> hyper::rt::Executor<F> for LocalExec
where
    F: Future + 'static,
{
    fn execute(&self, future: F) {
        tokio::task::spawn_local(future);
    }
}

/// The requests as hyper wants them, built once; templated parts are rendered per request.
pub(super) struct H2Request {
    scheme_authority: String,
    entries: Vec<H2Entry>,
    cumulative: Vec<u64>,
}

struct H2Entry {
    uri: Option<http::Uri>,
    path: Template,
    method: http::Method,
    headers: http::HeaderMap,
    templated_headers: Vec<(http::HeaderName, Template)>,
    body: Template,
    fixed_body: Option<Bytes>,
}

impl H2Request {
    /// Builds the requests from the plan; fails only on values already checked.
    pub(super) fn new(plan: &crate::plan::LoadPlan) -> anyhow::Result<H2Request> {
        let scheme = if plan.target.tls { "https" } else { "http" };
        let scheme_authority = format!("{scheme}://{}", plan.target.authority);
        let mut entries = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0;
        for request in &plan.requests {
            let template = |text: &[u8]| {
                if request.placeholders {
                    Template::parse(text).map_err(anyhow::Error::msg)
                } else {
                    Ok(Template::literal(text))
                }
            };
            let path = template(request.path.as_bytes())?;
            let body = template(&request.body)?;
            let mut headers = http::HeaderMap::new();
            let mut templated_headers = Vec::new();
            for (name, value) in &request.headers {
                if name.eq_ignore_ascii_case("host") {
                    continue;
                }
                let name = http::HeaderName::from_bytes(name.as_bytes())?;
                let template = template(value.as_bytes())?;
                if template.is_fixed() {
                    // Without placeholders the text is the value as written.
                    headers.append(name, http::HeaderValue::from_str(value)?);
                } else {
                    templated_headers.push((name, template));
                }
            }
            let uri = if path.is_fixed() {
                Some(format!("{scheme_authority}{}", request.path).parse()?)
            } else {
                None
            };
            entries.push(H2Entry {
                uri,
                path,
                method: http::Method::from_bytes(request.method.as_bytes())?,
                headers,
                templated_headers,
                fixed_body: body.is_fixed().then(|| request.body.clone()),
                body,
            });
            total += request.weight;
            cumulative.push(total);
        }
        Ok(H2Request {
            scheme_authority,
            entries,
            cumulative,
        })
    }

    /// The kind (entry index) of the next request.
    fn pick(&self, values: &Values) -> u16 {
        values.pick(&self.cumulative) as u16
    }

    /// Request `kind`; `None` if a rendered path or header is not valid HTTP.
    fn build(&self, kind: u16, values: &Values) -> Option<http::Request<Full<Bytes>>> {
        let entry = &self.entries[usize::from(kind)];
        let body = match &entry.fixed_body {
            Some(body) => body.clone(),
            None => {
                let mut out = Vec::new();
                entry.body.render(values, &mut out);
                Bytes::from(out)
            }
        };
        let mut request = http::Request::new(Full::new(body));
        *request.method_mut() = entry.method.clone();
        *request.uri_mut() = match &entry.uri {
            Some(uri) => uri.clone(),
            None => {
                let mut out = self.scheme_authority.clone().into_bytes();
                entry.path.render(values, &mut out);
                http::Uri::try_from(out).ok()?
            }
        };
        *request.headers_mut() = entry.headers.clone();
        for (name, template) in &entry.templated_headers {
            let mut out = Vec::new();
            template.render(values, &mut out);
            let value = http::HeaderValue::from_bytes(&out).ok()?;
            request.headers_mut().append(name.clone(), value);
        }
        Some(request)
    }
}

/// Drives one HTTP/2 connection until it fails or the run wants no more requests.
pub(super) async fn session(
    worker: &Rc<Worker>,
    request: &Arc<H2Request>,
    stream: Stream,
    pacer: &mut Pacer,
) -> SessionEnd {
    let handshake = http2::Builder::new(LocalExec).handshake(TokioIo::new(stream));
    let (sender, connection) = match handshake.await {
        Ok(parts) => parts,
        Err(err) => {
            worker.fail(ErrorKind::InvalidResponse, None, Instant::now(), || {
                format!("HTTP/2 handshake failed: {err}")
            });
            return SessionEnd::Reconnect;
        }
    };
    let driver = tokio::task::spawn_local(connection);
    let shared = Rc::new(RefCell::new(pacer.clone()));
    let answered = Rc::new(std::cell::Cell::new(false));
    let streams: Vec<_> = (0..worker.plan.pipelining)
        .map(|_| {
            tokio::task::spawn_local(stream_loop(
                worker.clone(),
                request.clone(),
                sender.clone(),
                shared.clone(),
                answered.clone(),
            ))
        })
        .collect();
    let mut end = SessionEnd::Done;
    for stream in streams {
        if let Ok(SessionEnd::Reconnect) = stream.await {
            end = SessionEnd::Reconnect;
        }
    }
    driver.abort();
    *pacer = shared.borrow().clone();
    end
}

/// One stream slot: sends a request when the pacer allows, waits for the whole response.
async fn stream_loop(
    worker: Rc<Worker>,
    request: Arc<H2Request>,
    mut sender: SendRequest<Full<Bytes>>,
    pacer: Rc<RefCell<Pacer>>,
    answered: Rc<std::cell::Cell<bool>>,
) -> SessionEnd {
    loop {
        let now = Instant::now();
        let due = pacer.borrow().due();
        if let Some(due) = due.filter(|&due| due > now) {
            tokio::time::sleep_until(due).await;
            continue;
        }
        if !worker.budget.claim(now) {
            return SessionEnd::Done;
        }
        let planned = pacer.borrow_mut().take(now);
        let kind = request.pick(&worker.values);
        let this = Request {
            planned,
            sent: now,
            kind,
        };
        {
            let mut rec = worker.rec.borrow_mut();
            rec.note_lateness(planned, now);
            rec.sent(std::iter::once(kind), now);
        }
        if sender.ready().await.is_err() {
            worker.fail(ErrorKind::Closed, Some(this), Instant::now(), || {
                "the HTTP/2 connection closed".to_string()
            });
            return SessionEnd::Reconnect;
        }
        let Some(built) = request.build(kind, &worker.values) else {
            worker.fail(
                ErrorKind::InvalidResponse,
                Some(this),
                Instant::now(),
                || "a rendered request template is not a valid HTTP/2 request".to_string(),
            );
            continue;
        };
        let capture = worker
            .captures
            .get(usize::from(kind))
            .and_then(Option::as_ref);
        let mut captured = Captured::default();
        let exchange = async {
            let response = sender.send_request(built).await?;
            let status = response.status().as_u16();
            if let Some(name) = capture.and_then(|c| c.header.as_deref()) {
                captured.header = response.headers().get(name).map(|v| v.as_bytes().to_vec());
            }
            let keep = capture.is_some_and(|c| c.body);
            let mut body = response.into_body();
            let mut bytes = 0u64;
            while let Some(frame) = body.frame().await {
                if let Some(data) = frame?.data_ref() {
                    bytes += data.len() as u64;
                    if keep {
                        captured.body_bytes(data);
                    }
                }
            }
            Ok::<_, hyper::Error>((status, bytes))
        };
        match tokio::time::timeout(worker.plan.timeout, exchange).await {
            Ok(Ok((status, bytes))) => {
                answered.set(true);
                worker.answered(this, Instant::now(), status, bytes, &captured);
            }
            Ok(Err(err)) => {
                let kind = hyper_error_kind(&err);
                worker.fail(kind, Some(this), Instant::now(), || {
                    describe(&err, answered.get())
                });
                if sender.is_closed() {
                    return SessionEnd::Reconnect;
                }
            }
            Err(_) => {
                // Dropping the exchange resets just this stream; the others go on.
                worker.fail(ErrorKind::Timeout, Some(this), Instant::now(), || {
                    "no response within --timeout".to_string()
                });
            }
        }
    }
}

/// hyper's error with its causes; on a connection that never answered, or with a protocol
/// error, a hint that the server may speak only HTTP/1 (hyper says only "http2 error", or
/// "broken pipe" when the server closed on the preface).
fn describe(err: &hyper::Error, answered: bool) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        text = format!("{text}: {inner}");
        source = inner.source();
    }
    if !answered
        || text.contains("frame with invalid size")
        || text.contains("PROTOCOL_ERROR")
        || text == "http2 error"
    {
        text.push_str(" (does the server speak HTTP/2? --http2 over http:// needs prior-knowledge h2c; drop --http2, or use https:// where ALPN chooses)");
    }
    text
}

fn hyper_error_kind(err: &hyper::Error) -> ErrorKind {
    if err.is_parse() || err.is_user() {
        return ErrorKind::InvalidResponse;
    }
    if err.is_closed() || err.is_incomplete_message() || err.is_canceled() {
        return ErrorKind::Closed;
    }
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return ErrorKind::of_io(io);
        }
        source = inner.source();
    }
    ErrorKind::Other
}
