//! Incremental HTTP/1.1 response framing for the hot path: finds where each response ends
//! (Content-Length, chunked, or connection close) without copying bodies, so pipelined
//! responses are matched to requests in order. Heads are parsed with httparse. Only a
//! response whose checks read it has its body (or a header) kept.

use super::check::{Capture, Captured};

/// Most headers a response may carry.
const MAX_HEADERS: usize = 100;
/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;

/// A response whose last byte has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Response {
    /// Status code.
    pub status: u16,
    /// The server will close the connection after this response.
    pub close: bool,
}

/// Why the bytes are not a valid response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParseError {
    /// The status line or headers are malformed.
    #[error("invalid response head: {0}")]
    Head(String),
    /// Content-Length is not a number, or two differ.
    #[error("invalid Content-Length")]
    Length,
    /// A chunk-size line is malformed.
    #[error("invalid chunked encoding")]
    Chunk,
    /// The server switched protocols, which a load test cannot follow.
    #[error("unexpected 101 Switching Protocols")]
    Upgrade,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailer,
    UntilClose,
}

/// Frames the responses arriving on one connection.
#[derive(Debug)]
pub(crate) struct ResponseParser {
    head_request: bool,
    state: State,
    current: Response,
    /// What to keep of the current response for its checks (none: nothing is copied).
    capture: Option<Capture>,
    /// What was kept of it.
    captured: Captured,
}

/// The result of [`ResponseParser::advance`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Bytes consumed from the front of the buffer.
    pub used: usize,
    /// The response that ended within those bytes, if one did.
    pub done: Option<Response>,
}

impl ResponseParser {
    /// A parser for responses to requests with the given method (`HEAD` responses have no body).
    pub(crate) fn new(method: &str) -> ResponseParser {
        ResponseParser {
            head_request: method == "HEAD",
            state: State::Head,
            current: Response {
                status: 0,
                close: false,
            },
            capture: None,
            captured: Captured::default(),
        }
    }

    /// Says whether the next response answers a HEAD request, and what of it to keep for its
    /// checks (call while [`Self::is_idle`]).
    pub(crate) fn expect(&mut self, head: bool, capture: Option<&Capture>) {
        self.head_request = head;
        if capture != self.capture.as_ref() {
            self.capture = capture.cloned();
        }
        if self.capture.is_some() {
            self.captured.clear();
        }
    }

    /// What was kept of the last response for its checks.
    pub(crate) fn captured(&self) -> &Captured {
        &self.captured
    }

    /// True between responses, when no byte of the next one has been consumed.
    pub(crate) fn is_idle(&self) -> bool {
        self.state == State::Head
    }

    /// The response read until the connection closed, if the body had no declared length.
    pub(crate) fn finish_at_eof(&mut self) -> Option<Response> {
        (self.state == State::UntilClose).then(|| {
            self.state = State::Head;
            Response {
                close: true,
                ..self.current
            }
        })
    }

    /// Consumes as much of `buf` as belongs to the current response, stopping at its end.
    /// `used` is 0 when more bytes are needed to make progress.
    pub(crate) fn advance(&mut self, buf: &[u8]) -> Result<Progress, ParseError> {
        let mut used = 0;
        loop {
            let rest = &buf[used..];
            let (step, finished) = match self.state {
                State::Head => self.head(rest)?,
                State::Length(remaining) => {
                    let take = remaining.min(rest.len() as u64);
                    self.keep(&rest[..take as usize]);
                    self.state = State::Length(remaining - take);
                    (take as usize, remaining == take)
                }
                State::UntilClose => {
                    self.keep(rest);
                    (rest.len(), false)
                }
                State::ChunkSize => (self.chunk_size(rest)?, false),
                State::ChunkData(remaining) => {
                    let take = remaining.min(rest.len() as u64);
                    self.keep(&rest[..take as usize]);
                    self.state = if remaining == take {
                        State::ChunkEnd
                    } else {
                        State::ChunkData(remaining - take)
                    };
                    (take as usize, false)
                }
                State::ChunkEnd => (self.chunk_end(rest)?, false),
                State::Trailer => self.trailer(rest)?,
            };
            used += step;
            if finished {
                self.state = State::Head;
                return Ok(Progress {
                    used,
                    done: Some(self.current),
                });
            }
            if step == 0 || used == buf.len() {
                return Ok(Progress { used, done: None });
            }
        }
    }

    /// Keeps body bytes when the current response's checks read its body.
    fn keep(&mut self, body: &[u8]) {
        if self.capture.as_ref().is_some_and(|c| c.body) {
            self.captured.body_bytes(body);
        }
    }

    /// Parses a head; returns bytes used and whether the response (bodiless) is complete.
    fn head(&mut self, buf: &[u8]) -> Result<(usize, bool), ParseError> {
        // Uninitialised slots: zeroing 100 headers for every response costs more than parsing.
        let mut headers =
            [const { std::mem::MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut []);
        let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut response,
            buf,
            &mut headers,
        );
        let len = match parsed {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok((0, false)),
            Err(err) => return Err(ParseError::Head(err.to_string())),
        };
        let status = response.code.unwrap_or(0);
        if status == 101 {
            return Err(ParseError::Upgrade);
        }
        if (100..200).contains(&status) {
            // An interim response: the final one follows.
            return Ok((len, false));
        }
        let mut length = None;
        let mut chunked = false;
        let mut close = response.version == Some(0);
        if let Some(wanted) = self.capture.as_ref().and_then(|c| c.header.as_deref()) {
            self.captured.header = response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(wanted))
                .map(|h| h.value.to_vec());
        }
        for header in response.headers.iter() {
            if header.name.eq_ignore_ascii_case("content-length") {
                let value = std::str::from_utf8(header.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .ok_or(ParseError::Length)?;
                if length.is_some_and(|old| old != value) {
                    return Err(ParseError::Length);
                }
                length = Some(value);
            } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = has_token(header.value, b"chunked");
            } else if header.name.eq_ignore_ascii_case("connection") {
                if has_token(header.value, b"close") {
                    close = true;
                } else if has_token(header.value, b"keep-alive") {
                    close = false;
                }
            }
        }
        self.current = Response { status, close };
        let bodiless = self.head_request || status == 204 || status == 304;
        self.state = match (bodiless, chunked, length) {
            (true, _, _) | (false, false, Some(0)) => return Ok((len, true)),
            (false, true, _) => State::ChunkSize,
            (false, false, Some(n)) => State::Length(n),
            (false, false, None) => {
                self.current.close = true;
                State::UntilClose
            }
        };
        Ok((len, false))
    }

    fn chunk_size(&mut self, buf: &[u8]) -> Result<usize, ParseError> {
        let Some(line_end) = find_line(buf)? else {
            return Ok(0);
        };
        let line = &buf[..line_end];
        let digits_end = line
            .iter()
            .position(|b| !b.is_ascii_hexdigit())
            .unwrap_or(line.len());
        if digits_end == 0 || digits_end > 15 {
            return Err(ParseError::Chunk);
        }
        let digits = std::str::from_utf8(&line[..digits_end]).map_err(|_| ParseError::Chunk)?;
        let size = u64::from_str_radix(digits, 16).map_err(|_| ParseError::Chunk)?;
        self.state = if size == 0 {
            State::Trailer
        } else {
            State::ChunkData(size)
        };
        Ok(line_end + 1)
    }

    fn chunk_end(&mut self, buf: &[u8]) -> Result<usize, ParseError> {
        match buf {
            [] | [b'\r'] => Ok(0),
            [b'\r', b'\n', ..] => {
                self.state = State::ChunkSize;
                Ok(2)
            }
            [b'\n', ..] => {
                self.state = State::ChunkSize;
                Ok(1)
            }
            _ => Err(ParseError::Chunk),
        }
    }

    /// Skips trailer lines; the empty line ends the response.
    fn trailer(&mut self, buf: &[u8]) -> Result<(usize, bool), ParseError> {
        let Some(line_end) = find_line(buf)? else {
            return Ok((0, false));
        };
        let empty = line_end == 0 || (line_end == 1 && buf[0] == b'\r');
        Ok((line_end + 1, empty))
    }
}

/// Index of the `\n` ending the first line, `None` if it has not arrived yet.
fn find_line(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    match buf.iter().take(MAX_LINE).position(|&b| b == b'\n') {
        Some(at) => Ok(Some(at)),
        None if buf.len() >= MAX_LINE => Err(ParseError::Chunk),
        None => Ok(None),
    }
}

/// Whether a comma-separated header value contains `token` (case-insensitive).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|part| part.trim_ascii().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of at most `piece` bytes, keeping unconsumed bytes as the
    /// connection driver does, and returns the responses and any error.
    fn feed(method: &str, input: &[u8], piece: usize) -> (Vec<Response>, Option<ParseError>) {
        let mut parser = ResponseParser::new(method);
        let mut pending = Vec::new();
        let mut done = Vec::new();
        for chunk in input.chunks(piece) {
            pending.extend_from_slice(chunk);
            loop {
                match parser.advance(&pending) {
                    Ok(progress) => {
                        pending.drain(..progress.used);
                        if let Some(response) = progress.done {
                            done.push(response);
                        } else if progress.used == 0 || pending.is_empty() {
                            break;
                        }
                    }
                    Err(err) => return (done, Some(err)),
                }
            }
        }
        if let Some(response) = parser.finish_at_eof() {
            done.push(response);
        }
        (done, None)
    }

    fn ok(status: u16) -> Response {
        Response {
            status,
            close: false,
        }
    }

    const PIPELINE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello\
HTTP/1.1 100 Continue\r\n\r\n\
HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: y\r\n\r\n\
HTTP/1.1 204 No Content\r\n\r\n\
HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n\
HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope";

    #[test]
    fn pipelined_responses_are_framed_in_order_whatever_the_read_sizes() {
        let expected = vec![
            ok(200),
            ok(503),
            ok(204),
            ok(200),
            Response {
                status: 404,
                close: true,
            },
        ];
        for piece in 1..=PIPELINE.len() {
            assert_eq!(
                feed("GET", PIPELINE, piece),
                (expected.clone(), None),
                "piece {piece}"
            );
        }
    }

    #[test]
    fn body_without_length_ends_at_close() {
        let input = b"HTTP/1.1 200 OK\r\n\r\nstreamed until the end";
        let (done, err) = feed("GET", input, 7);
        assert_eq!(err, None);
        assert_eq!(
            done,
            vec![Response {
                status: 200,
                close: true
            }]
        );
    }

    #[test]
    fn http_1_0_closes_unless_keep_alive() {
        let (done, _) = feed("GET", b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 64);
        assert!(done[0].close);
        let (done, _) = feed(
            "GET",
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
            64,
        );
        assert!(!done[0].close);
    }

    #[test]
    fn head_responses_have_no_body_despite_content_length() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n";
        let (done, err) = feed("HEAD", input, 10);
        assert_eq!((done.len(), err), (2, None));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let cases: [&[u8]; 6] = [
            b"NOT HTTP AT ALL\r\n\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        ];
        for case in cases {
            let (_, err) = feed("GET", case, 3);
            assert!(err.is_some(), "{}", String::from_utf8_lossy(case));
        }
    }

    #[test]
    fn endless_chunk_size_line_is_refused() {
        let mut input = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'1', MAX_LINE + 10));
        assert_eq!(feed("GET", &input, 1000).1, Some(ParseError::Chunk));
    }
}
