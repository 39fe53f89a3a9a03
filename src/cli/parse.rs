//! Value parsers for command-line flags: each turns one string into a typed value or a short
//! message that says what was expected. clap prefixes the flag name. The parsers themselves
//! live where scenario files use them too: units in [`crate::units`], HTTP values in
//! [`crate::plan`], thresholds in [`crate::analyse`].

pub use crate::plan::{header, method};
pub use crate::units::{byte_count as size, duration, positive, rate};

/// Parses a threshold (`p99<50ms`); see [`crate::analyse::Threshold::parse`].
pub fn threshold(text: &str) -> Result<crate::analyse::Threshold, String> {
    crate::analyse::Threshold::parse(text)
}

/// Parses `--shard I/N` (or `index/N`, reading `JOB_COMPLETION_INDEX`).
pub fn shard(text: &str) -> Result<crate::plan::Shard, String> {
    crate::plan::Shard::parse(text, |name| std::env::var(name).ok())
}

/// Parses `--start-at`: an RFC 3339 time, or `+DURATION` from now; at most a day ahead.
pub fn start_at(text: &str) -> Result<std::time::SystemTime, String> {
    let now = std::time::SystemTime::now();
    let at = match text.strip_prefix('+') {
        Some(after) => now + duration(after)?,
        None => humantime::parse_rfc3339_weak(text).map_err(|_| {
            format!("'{text}' is not a time; use RFC 3339 (2026-12-02T10:00:00Z) or +30s")
        })?,
    };
    if at > now + std::time::Duration::from_secs(24 * 3600) {
        return Err(format!("'{text}' is more than a day ahead"));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_split_on_the_first_colon_and_trim() {
        assert_eq!(
            header("X-Trace:  a:b "),
            Ok(("X-Trace".to_string(), "a:b".to_string()))
        );
        assert_eq!(header("Empty:"), Ok(("Empty".to_string(), String::new())));
    }

    #[test]
    fn headers_reject_missing_colon_bad_names_and_line_breaks() {
        assert!(header("NoColon").unwrap_err().contains("Name: value"));
        assert!(header("Bad Name: x").unwrap_err().contains("header name"));
        assert!(header(": x").is_err());
        assert!(header("X: a\r\nInjected: b")
            .unwrap_err()
            .contains("line break"));
    }

    #[test]
    fn methods_are_tokens_returned_upper_case() {
        assert_eq!(method("post"), Ok("POST".to_string()));
        assert!(method("GE T").is_err());
        assert!(method("").is_err());
    }
}
