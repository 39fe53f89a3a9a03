//! Value parsers for command-line flags: each turns one string into a typed value or a short
//! message that says what was expected. clap prefixes the flag name.

use std::time::Duration;

/// Parses a duration: a bare number is seconds (`30`, `0.5`); units `ms`, `s`, `m`, `h` may
/// follow (`500ms`, `30s`, `2m`, `1h`). Negative, empty and non-finite values are rejected.
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration; use e.g. 30, 30s, 500ms or 2m"))?;
    let scale = match unit.trim() {
        "" | "s" | "sec" => 1.0,
        "ms" => 0.001,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown unit '{other}' in '{text}'; use ms, s, m or h"
            ))
        }
    };
    let seconds = value * scale;
    if !seconds.is_finite() || seconds > 1e9 {
        return Err(format!("'{text}' is too long"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses a `Name: value` header. The name must be an HTTP token; neither part may contain
/// a line break.
pub fn header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("'{text}' is not a header; write it as 'Name: value'"))?;
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(format!(
            "'{name}' is not a valid header name; use letters, digits and -"
        ));
    }
    let value = value.trim();
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(format!(
            "the value of header '{name}' contains a line break"
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

/// Parses a size: `64MB`, `1GiB`, `500000` (bytes).
pub fn size(text: &str) -> Result<u64, String> {
    crate::scenario::threshold::parse_bytes(text.trim()).map(|b| b as u64)
}

/// Parses a threshold (`p99<50ms`); see [`crate::scenario::Threshold::parse`].
pub fn threshold(text: &str) -> Result<crate::scenario::Threshold, String> {
    crate::scenario::Threshold::parse(text)
}

/// Parses a positive count (connections, pipelining, workers, amount, bailout).
pub fn positive(text: &str) -> Result<u64, String> {
    let value: u64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number"))?;
    if value == 0 {
        return Err("must be at least 1".to_string());
    }
    Ok(value)
}

/// Parses a request rate in requests per second; must be positive and finite.
pub fn rate(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of requests per second"))?;
    if !value.is_finite() || value <= 0.0 {
        return Err("must be a positive number of requests per second".to_string());
    }
    Ok(value)
}

/// Parses an HTTP method: an upper- or lower-case token, returned upper case.
pub fn method(text: &str) -> Result<String, String> {
    if text.is_empty() || !text.bytes().all(is_token_byte) {
        return Err(format!("'{text}' is not an HTTP method"));
    }
    Ok(text.to_ascii_uppercase())
}

/// RFC 9110 token characters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_autocannon_and_unit_forms() {
        assert_eq!(duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn durations_reject_garbage_with_a_hint() {
        for bad in ["", "abc", "-1", "10x", "1e400", "s"] {
            let err = duration(bad).unwrap_err();
            assert!(
                err.contains("duration") || err.contains("unit") || err.contains("long"),
                "{bad}: {err}"
            );
        }
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
    fn counts_must_be_positive_integers() {
        assert_eq!(positive("10"), Ok(10));
        assert!(positive("0").is_err());
        assert!(positive("-3").is_err());
        assert!(positive("1.5").is_err());
    }

    #[test]
    fn rates_must_be_positive_and_finite() {
        assert_eq!(rate("1000"), Ok(1000.0));
        assert_eq!(rate("0.5"), Ok(0.5));
        assert!(rate("0").is_err());
        assert!(rate("inf").is_err());
        assert!(rate("NaN").is_err());
    }

    #[test]
    fn methods_are_tokens_returned_upper_case() {
        assert_eq!(method("post"), Ok("POST".to_string()));
        assert!(method("GE T").is_err());
        assert!(method("").is_err());
    }
}
