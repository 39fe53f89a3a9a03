//! Checks each response against its kind's [`Expect`] as it arrives. Only what a check needs
//! is kept: the response parser keeps the body (at most [`MAX_CHECK_BODY`]) for a kind with
//! a body check, and one header's value for a kind with a header check; a kind with no check
//! costs nothing per response. A response fails when any of its checks fails; each check is
//! counted on its own, with the first mismatch as its example.

use crate::plan::{Expect, JsonRule};

/// The most of a body the checks read: `body_contains` and `body_matches` look at the first
/// 1 MiB, and a `json` check of a longer body fails (it cannot be parsed whole).
pub(crate) const MAX_CHECK_BODY: usize = 1 << 20;
/// Longest example of a mismatch kept (characters).
const MAX_EXAMPLE: usize = 200;

/// What the response parser is to keep of the next response for its checks.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Capture {
    /// Keep the body (up to [`MAX_CHECK_BODY`]).
    pub body: bool,
    /// Keep this header's value (name lower case).
    pub header: Option<String>,
}

impl Capture {
    /// What `expect` reads, or `None` when it reads nothing beyond the status and length.
    pub(crate) fn of(expect: &Expect) -> Option<Capture> {
        let capture = Capture {
            body: expect.needs_body(),
            header: expect.header.as_ref().map(|(name, _)| name.clone()),
        };
        (capture != Capture::default()).then_some(capture)
    }
}

/// What the parser kept of one response.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    /// The body's first bytes.
    pub body: Vec<u8>,
    /// More of the body came than was kept.
    pub truncated: bool,
    /// The asked-for header's value, if the response had it.
    pub header: Option<Vec<u8>>,
}

impl Captured {
    /// Keeps `bytes` of body, up to the bound.
    pub(crate) fn body_bytes(&mut self, bytes: &[u8]) {
        let room = MAX_CHECK_BODY.saturating_sub(self.body.len());
        self.body.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.truncated |= bytes.len() > room;
    }

    /// Forgets the last response.
    pub(crate) fn clear(&mut self) {
        self.body.clear();
        self.truncated = false;
        self.header = None;
    }
}

/// One response as the checks see it.
pub(crate) struct Seen<'a> {
    /// Its status.
    pub status: u16,
    /// Its size on the wire, bytes.
    pub bytes: u64,
    /// What the parser kept.
    pub captured: &'a Captured,
}

/// The checks `expect` fails on this response, a bit each, in [`Expect::names`] order.
pub(crate) fn judge(expect: &Expect, seen: &Seen<'_>) -> u32 {
    let mut failed = 0u32;
    let mut bit = 0;
    let mut mark = |ok: bool| {
        if !ok {
            failed |= 1 << bit;
        }
        bit += 1;
    };
    if let Some(status) = &expect.status {
        mark(status.allows(seen.status));
    }
    if let Some(max) = expect.max_bytes {
        mark(seen.bytes <= max);
    }
    if let Some((_, contains)) = &expect.header {
        let value = seen.captured.header.as_deref().unwrap_or_default();
        mark(contains_bytes(value, contains.as_bytes()));
    }
    let body = seen.captured.body.as_slice();
    if let Some(text) = &expect.body_contains {
        mark(contains_bytes(body, text.as_bytes()));
    }
    if let Some(regex) = &expect.body_matches {
        mark(regex.is_match(body));
    }
    if !expect.json.is_empty() {
        let parsed: Option<serde_json::Value> = (!seen.captured.truncated)
            .then(|| serde_json::from_slice(body).ok())
            .flatten();
        for (pointer, rule) in &expect.json {
            let found = parsed.as_ref().and_then(|v| v.pointer(pointer));
            mark(match (rule, found) {
                (JsonRule::Exists, found) => found.is_some(),
                (JsonRule::Equals(want), Some(found)) => found == want,
                (JsonRule::Equals(_), None) => false,
            });
        }
    }
    failed
}

/// What check `index` of `expect` saw instead of what it wanted: the example of a mismatch,
/// cut to a line, control characters escaped and secrets redacted.
pub(crate) fn mismatch(expect: &Expect, index: usize, seen: &Seen<'_>) -> String {
    let name = expect.names().get(index).cloned().unwrap_or_default();
    let captured = seen.captured;
    let body = || {
        let cut = if captured.truncated { " (…)" } else { "" };
        format!("body {}{cut}", quoted(&captured.body))
    };
    let what = if name.starts_with("status") {
        format!("status {}", seen.status)
    } else if name.starts_with("at most") {
        format!("{} bytes", seen.bytes)
    } else if name.starts_with("header") {
        match &captured.header {
            Some(value) => format!("header value {}", quoted(value)),
            None => "no such header".to_string(),
        }
    } else if name.starts_with("json") && captured.truncated {
        format!(
            "a body over the {} MiB that checks read",
            MAX_CHECK_BODY >> 20
        )
    } else {
        body()
    };
    format!("{name}: got {what}")
}

/// Bytes of a response as a quoted line: secrets redacted, then cut to [`MAX_EXAMPLE`]
/// characters and control characters escaped.
fn quoted(bytes: &[u8]) -> String {
    let text = crate::redact::text(&String::from_utf8_lossy(bytes));
    let mut out: String = text.chars().take(MAX_EXAMPLE).collect();
    if text.chars().count() > MAX_EXAMPLE {
        out.push('…');
    }
    format!("{out:?}")
}

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::StatusRule;

    fn seen<'a>(status: u16, captured: &'a Captured) -> Seen<'a> {
        Seen {
            status,
            bytes: 100,
            captured,
        }
    }

    #[test]
    fn each_check_fails_on_its_own_bit() {
        let expect = Expect {
            status: Some(StatusRule::parse("2xx").unwrap()),
            body_contains: Some("results".to_string()),
            json: vec![
                ("/ok".to_string(), JsonRule::Equals(serde_json::json!(true))),
                ("/results".to_string(), JsonRule::Exists),
            ],
            ..Expect::default()
        };
        let mut captured = Captured::default();
        captured.body_bytes(br#"{"ok":true,"results":[1]}"#);
        assert_eq!(judge(&expect, &seen(200, &captured)), 0);
        assert_eq!(judge(&expect, &seen(500, &captured)), 0b0001);
        captured.clear();
        captured.body_bytes(br#"{"ok":false,"error":"db down","token":"s3cret"}"#);
        assert_eq!(judge(&expect, &seen(200, &captured)), 0b1110);
        let example = mismatch(&expect, 1, &seen(200, &captured));
        assert!(
            example.starts_with("body contains \"results\": got body"),
            "{example}"
        );
        assert!(!example.contains("s3cret"), "{example}");
    }
}
