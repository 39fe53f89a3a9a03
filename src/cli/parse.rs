//! Value parsers for command-line flags: each turns one string into a typed value or a short
//! message that says what was expected. clap prefixes the flag name. The parsers themselves
//! live where scenario files use them too: units in [`crate::units`], HTTP values in
//! [`crate::plan`], thresholds in [`crate::analyse`].

pub(crate) use crate::plan::{header, method};
pub(crate) use crate::units::{byte_count as size, duration, positive, rate};

/// Parses a threshold (`p99<50ms`); see [`crate::analyse::Threshold::parse`].
pub(crate) fn threshold(text: &str) -> Result<crate::analyse::Threshold, String> {
    crate::analyse::Threshold::parse(text)
}

/// Parses `--expect-status`: `200`, `2xx`, or a list `200,204`.
pub(crate) fn status(text: &str) -> Result<crate::plan::StatusRule, String> {
    crate::plan::StatusRule::parse(text)
}

/// Parses `--shard I/N` (or `index/N`, reading `JOB_COMPLETION_INDEX`).
pub(crate) fn shard(text: &str) -> Result<crate::plan::Shard, String> {
    crate::plan::Shard::parse(text, |name| std::env::var(name).ok())
}

/// Parses `--start-at`: an RFC 3339 time, or `+DURATION` from now; at most a day ahead.
pub(crate) fn start_at(text: &str) -> Result<std::time::SystemTime, String> {
    let now = std::time::SystemTime::now();
    let at = match text.strip_prefix('+') {
        Some(after) => now + duration(after)?,
        None => rfc3339(text)?,
    };
    if at > now + std::time::Duration::from_secs(24 * 3600) {
        return Err(format!("'{text}' is more than a day ahead"));
    }
    Ok(at)
}

/// An RFC 3339 time with its zone: `Z` or an offset such as `+01:00` (as `date -Iseconds`
/// prints it).
fn rfc3339(text: &str) -> Result<std::time::SystemTime, String> {
    let not_a_time =
        || format!("'{text}' is not a time; use RFC 3339 (2026-12-02T10:00:00Z) or +30s");
    let text = text.trim();
    if let Some(utc) = text.strip_suffix(['Z', 'z']) {
        return humantime::parse_rfc3339_weak(utc).map_err(|_| not_a_time());
    }
    let bytes = text.as_bytes();
    let n = bytes.len();
    if n < 6 || !matches!(bytes[n - 6], b'+' | b'-') || bytes[n - 3] != b':' {
        return Err(format!(
            "'{text}' has no time zone; end it with Z (UTC) or an offset such as +01:00"
        ));
    }
    let (local, zone) = text.split_at(n - 6);
    let hours: u64 = zone[1..3].parse().map_err(|_| not_a_time())?;
    let minutes: u64 = zone[4..6].parse().map_err(|_| not_a_time())?;
    let offset = std::time::Duration::from_secs(hours * 3600 + minutes * 60);
    let local = humantime::parse_rfc3339_weak(local).map_err(|_| not_a_time())?;
    // Local time = UTC + offset.
    Ok(if zone.starts_with('+') {
        local - offset
    } else {
        local + offset
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_times_read_their_zone() {
        let utc = rfc3339("2026-12-02T10:00:00Z").unwrap();
        assert_eq!(rfc3339("2026-12-02T11:00:00+01:00"), Ok(utc));
        assert_eq!(rfc3339("2026-12-02T05:30:00.000-04:30"), Ok(utc));
        assert!(rfc3339("2026-12-02T10:00:00")
            .unwrap_err()
            .contains("no time zone"));
        assert!(rfc3339("tomorrow").is_err());
        assert!(start_at("+2s").is_ok());
        assert!(start_at("+2000m").unwrap_err().contains("more than a day"));
    }

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
