//! The target's stdout and stderr: read line by line, echoed dimmed on a terminal, and the
//! last lines kept for the result and for error messages.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Lines kept from each stream.
const KEPT_LINES: usize = 100;
/// Longest line kept; longer lines are cut (a minified stack trace can be huge).
const MAX_LINE: usize = 2000;

/// The tails of the target's two output streams, shared with their reader tasks.
#[derive(Clone, Default)]
pub struct OutputTail {
    inner: Arc<Mutex<Tails>>,
}

#[derive(Default)]
struct Tails {
    stdout: VecDeque<String>,
    stderr: VecDeque<String>,
}

impl OutputTail {
    /// Empty tails.
    pub fn new() -> OutputTail {
        OutputTail::default()
    }

    /// Reads `stream` on a background task until it closes.
    pub fn capture(
        &self,
        stream: impl AsyncRead + Unpin + Send + 'static,
        is_stderr: bool,
        echo: bool,
    ) {
        let tails = self.inner.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if echo {
                    // Dimmed, so the target's words stand apart from harness's own.
                    let _ = writeln!(std::io::stderr(), "\x1b[2m{line}\x1b[0m");
                }
                let line = cut(line);
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
        });
    }

    /// The last lines of stdout.
    pub fn stdout(&self) -> Vec<String> {
        self.inner
            .lock()
            .map(|t| t.stdout.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The last lines of stderr.
    pub fn stderr(&self) -> Vec<String> {
        self.inner
            .lock()
            .map(|t| t.stderr.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The last `n` lines of stderr, for an error message.
    pub fn stderr_tail(&self, n: usize) -> Vec<String> {
        let all = self.stderr();
        all[all.len().saturating_sub(n)..].to_vec()
    }
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
