//! Escaping for every text format the reports write: the terminal, HTML (the report, the
//! comparison page, the charts' SVG), XML attributes (JUnit) and Markdown (CI job summaries). Every string that
//! comes from the target, the user or the network goes through one of these.

use crate::units::is_bidi_control;

/// Text safe to print on a terminal: control characters (escape sequences among them) and
/// bidirectional overrides shown as `\u{..}`, so a name or message cannot move the cursor,
/// change colours or reorder the line.
pub(crate) fn terminal(text: &str) -> String {
    if !text.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() || is_bidi_control(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Escapes text for HTML (or SVG) element content and attribute values.
pub(crate) fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_bidi_control(c) => {
                let _ = std::fmt::Write::write_fmt(&mut out, format_args!("&#x{:x};", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for an XML attribute (as for HTML), keeping line breaks and dropping the
/// control characters XML 1.0 cannot carry.
pub(crate) fn xml_attribute(text: &str) -> String {
    let clean: String = text
        .chars()
        .filter(|&c| c >= ' ' || c == '\n' || c == '\t')
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect();
    html(&clean).replace('\n', "&#10;")
}

/// Text safe inside a Markdown table cell or paragraph: backslashes, pipes and angle
/// brackets escaped, line breaks made spaces (a target's message must not become HTML or
/// break the table).
pub(crate) fn markdown(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\n', '\r'], " ")
}

/// Text safe inside a Markdown code span: its backticks made quotes.
pub(crate) fn markdown_code(text: &str) -> String {
    text.replace('`', "'").replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_escapes_what_would_break_it() {
        assert_eq!(
            html("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(xml_attribute("a\u{1}\tb\nc"), "a b&#10;c");
        assert_eq!(markdown("a|b<c>\nd\\"), "a\\|b&lt;c&gt; d\\\\");
        assert_eq!(markdown_code("`x|y`"), "'x\\|y'");
        assert_eq!(terminal("a\x1b[2Jb\u{202e}c"), "a\\u{1b}[2Jb\\u{202e}c");
    }
}
