//! Units: parsing and formatting durations, sizes, rates, percentages and counts, in one
//! place for the command line, scenario files, the analysis and every renderer. The bottom
//! layer of the crate with [`crate::result`]: it imports nothing else from it.

use std::time::Duration;

/// Parses a duration: a bare number is seconds (`30`, `0.5`); units `ms`, `s`, `m`, `h` may
/// follow (`500ms`, `30s`, `2m`, `1h`). Negative, empty and non-finite values are rejected.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = split_unit(text);
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

/// Parses a duration in ms, as latency limits are written: a bare number is ms (as the
/// latency tables print), or with a unit `us`, `ms`, `s`.
pub(crate) fn millis(text: &str) -> Result<f64, String> {
    let (number, unit) = split_unit(text);
    let value = number_at_least_zero(number)
        .map_err(|_| format!("'{text}' is not a duration; use e.g. 50ms, 1.5s or 800us"))?;
    let scale = match unit.trim() {
        "" | "ms" => 1.0,
        "us" | "µs" => 0.001,
        "s" => 1000.0,
        other => {
            return Err(format!(
                "unknown unit '{other}' in '{text}'; use us, ms or s"
            ))
        }
    };
    Ok(value * scale)
}

/// Parses a size in bytes: `512`, `64KB`, `1.5MiB`, `2GB` (KB = 1000, KiB = 1024).
pub(crate) fn size(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let (number, unit) = split_unit(text);
    let value = number_at_least_zero(number)
        .map_err(|_| format!("'{text}' is not a size; use e.g. 20MB"))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "kib" => 1024.0,
        "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown unit '{other}' in '{text}'; use B, KB, KiB, MB, MiB, GB or GiB"
            ))
        }
    };
    Ok(value * scale)
}

/// Parses a size in whole bytes (`64MB`), for flags and scenario keys.
pub(crate) fn byte_count(text: &str) -> Result<u64, String> {
    size(text).map(|bytes| bytes as u64)
}

/// Parses a positive count (connections, pipelining, workers, amount, bailout).
pub(crate) fn positive(text: &str) -> Result<u64, String> {
    let value: u64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number"))?;
    if value == 0 {
        return Err("must be at least 1".to_string());
    }
    Ok(value)
}

/// The lowest request rate: below it, a connection's interval overflows any clock.
pub(crate) const MIN_RATE: f64 = 0.001;

/// Parses a request rate in requests per second; must be positive and finite.
pub(crate) fn rate(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of requests per second"))?;
    if !value.is_finite() || value <= 0.0 {
        return Err("must be a positive number of requests per second".to_string());
    }
    if value < MIN_RATE {
        return Err(format!(
            "must be at least {MIN_RATE} requests per second (one every 1,000 s)"
        ));
    }
    Ok(value)
}

/// Parses a number that is finite and not negative; `_` may separate digits (`1_000`).
pub(crate) fn number_at_least_zero(text: &str) -> Result<f64, String> {
    match text.trim().replace('_', "").parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("'{text}' is not a number")),
    }
}

/// Parses a percentage, `5%` or `5`, as 5.0 (percent); never negative.
pub(crate) fn percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%');
    number_at_least_zero(number).map_err(|_| format!("'{text}' is not a percentage; write e.g. 5%"))
}

/// The number at the start of `text` and the unit after it.
fn split_unit(text: &str) -> (&str, &str) {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(text.len());
    text.split_at(split)
}

/// A whole number with thousands separators: 165,090.
pub(crate) fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in SI units with three significant digits, as autocannon (pretty-bytes) prints them.
pub(crate) fn bytes(value: f64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if value < 1.0 {
        return format!("{} B", trim_float(value, 2));
    }
    let exponent = ((value.log10() / 3.0).floor() as usize).min(UNITS.len() - 1);
    let scaled = value / 1000f64.powi(exponent as i32);
    let digits = 3usize.saturating_sub(scaled.log10().floor() as usize + 1);
    format!("{} {}", trim_float(scaled, digits), UNITS[exponent])
}

/// Bytes with a sign: `+2 MB`, `-512 B`.
pub(crate) fn signed_bytes(value: f64) -> String {
    if value < 0.0 {
        format!("-{}", bytes(-value))
    } else {
        format!("+{}", bytes(value))
    }
}

/// A duration given in ms, to a sensible precision: `25 ms`, `1.5 ms`, `987 µs`.
pub(crate) fn short_millis(ms: f64) -> String {
    if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.0} µs", ms * 1000.0)
    }
}

/// The line with control characters (escape sequences that would clear the screen or set
/// the title) shown as escapes, tabs kept.
pub(crate) fn printable(line: &str) -> String {
    line.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The colours harness itself prints (`ESC [ code m`); [`terminal_safe()`] keeps these.
const OWN_COLOURS: [&str; 7] = ["0", "1", "2", "33", "36", "1;31", "1;32"];

/// Whether `c` reorders the text around it (the bidirectional overrides and isolates): a
/// name holding one could show a different name than it is.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// Text for the terminal: harness's own colour codes and newlines kept, every other control
/// character (a target's escape sequence that clears the screen, moves the cursor or sets the
/// title, a carriage return that overwrites a line) and bidirectional override shown as an
/// escape.
pub(crate) fn terminal_safe(text: &str) -> String {
    if !text.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '\x1b' {
            let colour = OWN_COLOURS.iter().find_map(|code| {
                let sequence = format!("\x1b[{code}m");
                rest.starts_with(&sequence).then_some(sequence)
            });
            if let Some(sequence) = colour {
                out.push_str(&sequence);
                rest = &rest[sequence.len()..];
                continue;
            }
        }
        if is_bidi_control(c) {
            out.extend(c.escape_unicode());
        } else if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Formats with at most `decimals` decimals and no trailing zeros.
pub(crate) fn trim_float(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_safe_keeps_own_colours_and_escapes_the_rest() {
        let text = "\x1b[1;31mVerdict\x1b[0m\n\x1b[2Jcleared\x1b]0;title\x07\rover\tx";
        assert_eq!(
            terminal_safe(text),
            "\x1b[1;31mVerdict\x1b[0m\n\\u{1b}[2Jcleared\\u{1b}]0;title\\u{7}\\rover\tx"
        );
        assert_eq!(
            terminal_safe("`evil\u{202e}gpj.js`"),
            "`evil\\u{202e}gpj.js`"
        );
    }

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
    fn sizes_and_latency_limits_are_read_in_their_units() {
        assert_eq!(size("64MB"), Ok(64e6));
        assert_eq!(size("1KiB"), Ok(1024.0));
        assert_eq!(byte_count("2 kb"), Ok(2000));
        assert!(size("12 parsecs").unwrap_err().contains("unknown unit"));
        assert_eq!(millis("1.5s"), Ok(1500.0));
        assert_eq!(millis("800us"), Ok(0.8));
        assert_eq!(millis("50"), Ok(50.0));
        assert_eq!(percent("5%"), Ok(5.0));
        assert!(percent("lots").unwrap_err().contains("percentage"));
    }

    #[test]
    fn bytes_match_pretty_bytes() {
        assert_eq!(bytes(0.0), "0 B");
        assert_eq!(bytes(999.0), "999 B");
        assert_eq!(bytes(2_290_000.0), "2.29 MB");
        assert_eq!(bytes(171_000.0), "171 kB");
        assert_eq!(bytes(27_912_345.0), "27.9 MB");
        assert_eq!(bytes(2_000_000.0), "2 MB");
        assert_eq!(bytes(1_500.0), "1.5 kB");
        assert_eq!(signed_bytes(-512.0), "-512 B");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(short_millis(987e-3), "987 µs");
        assert_eq!(printable("a\x1b[2Jb\tc"), "a\\u{1b}[2Jb\tc");
    }
}
