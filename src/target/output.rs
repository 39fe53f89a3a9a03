//! The target's stdout and stderr: read line by line, echoed dimmed on a terminal, and the
//! last lines kept for the result and for error messages.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt};

/// Lines kept from each stream.
const KEPT_LINES: usize = 100;
/// Longest line kept; longer lines are cut (a minified stack trace can be huge).
const MAX_LINE: usize = 2000;

/// The tails of the target's two output streams, shared with their reader tasks.
#[derive(Clone, Default)]
pub(crate) struct OutputTail {
    inner: Arc<Mutex<Tails>>,
}

#[derive(Default)]
struct Tails {
    stdout: VecDeque<String>,
    stderr: VecDeque<String>,
}

impl OutputTail {
    /// Empty tails.
    pub(crate) fn new() -> OutputTail {
        OutputTail::default()
    }

    /// Reads `stream` on a background task until it closes. Bytes are read up to each
    /// newline, at most [`MAX_LINE`] of a line kept (the rest is skipped, never held), and
    /// converted lossily: no byte the target writes can stop the draining, which would leave
    /// it to die of a broken pipe.
    pub(crate) fn capture(
        &self,
        mut stream: impl AsyncRead + Unpin + Send + 'static,
        is_stderr: bool,
        echo: bool,
    ) {
        let tails = self.inner.clone();
        tokio::spawn(async move {
            let mut chunk = vec![0u8; 16 * 1024];
            let mut line: Vec<u8> = Vec::new();
            let mut cut_short = false;
            loop {
                let n = match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                for piece in chunk[..n].split_inclusive(|&b| b == b'\n') {
                    let (bytes, ends) = match piece.strip_suffix(b"\n") {
                        Some(bytes) => (bytes, true),
                        None => (piece, false),
                    };
                    let room = (MAX_LINE + 4).saturating_sub(line.len());
                    cut_short |= bytes.len() > room;
                    line.extend_from_slice(&bytes[..bytes.len().min(room)]);
                    if ends {
                        let text = String::from_utf8_lossy(&line).into_owned();
                        keep(&tails, is_stderr, echo, text, cut_short);
                        line.clear();
                        cut_short = false;
                    }
                }
            }
            if !line.is_empty() {
                let text = String::from_utf8_lossy(&line).into_owned();
                keep(&tails, is_stderr, echo, text, cut_short);
            }
        });
    }

    /// The last lines of stdout.
    pub(crate) fn stdout(&self) -> Vec<String> {
        self.inner
            .lock()
            .map(|t| t.stdout.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The last lines of stderr.
    pub(crate) fn stderr(&self) -> Vec<String> {
        self.inner
            .lock()
            .map(|t| t.stderr.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The last `n` lines of stderr, for an error message.
    pub(crate) fn stderr_tail(&self, n: usize) -> Vec<String> {
        let all = self.stderr();
        all[all.len().saturating_sub(n)..].to_vec()
    }
}

/// Echoes a line (dimmed, control characters made visible) and keeps it in its tail.
fn keep(tails: &Mutex<Tails>, is_stderr: bool, echo: bool, line: String, cut_short: bool) {
    let mut line = cut(line);
    if cut_short && !line.ends_with('…') {
        line.push('…');
    }
    if echo {
        // Dimmed, so the target's words stand apart from harness's own.
        let _ = writeln!(
            std::io::stderr(),
            "\x1b[2m{}\x1b[0m",
            crate::units::printable(&line)
        );
    }
    let Ok(mut tails) = tails.lock() else { return };
    let tail = if is_stderr {
        &mut tails.stderr
    } else {
        &mut tails.stdout
    };
    if tail.len() == KEPT_LINES {
        tail.pop_front();
    }
    tail.push_back(line);
}

fn cut(mut line: String) -> String {
    if line.len() > MAX_LINE {
        let mut end = MAX_LINE;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
        line.push('…');
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn invalid_bytes_and_long_lines_never_stop_the_draining() {
        let tail = OutputTail::new();
        let mut input = b"first \xff\xfe line\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 100_000));
        input.extend(b"\nlast\n");
        tail.capture(std::io::Cursor::new(input), false, false);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let lines = tail.stdout();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0], "first \u{fffd}\u{fffd} line");
        assert!(lines[1].len() <= MAX_LINE + 4 && lines[1].ends_with('…'));
        assert_eq!(lines[2], "last");
    }
}
