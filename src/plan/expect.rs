//! What a response must be (`expect` on a request entry, `--expect-status`, `--expect-body`):
//! plain data, checked as each response arrives by `load::check`. The checks are listed in
//! one order, and each is counted on its own (passed, failed, the first mismatch).

/// The checks of one kind of request. Empty: no check, and no extra work per response.
#[derive(Debug, Clone, Default)]
pub(crate) struct Expect {
    /// The status must be one of these.
    pub status: Option<StatusRule>,
    /// The whole response (head and body) at most this many bytes.
    pub max_bytes: Option<u64>,
    /// A header (name lower case) whose value must contain the text.
    pub header: Option<(String, String)>,
    /// The body must contain this text.
    pub body_contains: Option<String>,
    /// The body must match this regular expression.
    pub body_matches: Option<regex::bytes::Regex>,
    /// JSON pointers into the body, each existing or equal to a value.
    pub json: Vec<(String, JsonRule)>,
}

/// Allowed statuses: codes (`200`) and classes (`2` for `"2xx"`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StatusRule {
    /// Exact codes.
    pub codes: Vec<u16>,
    /// Classes, by their first digit.
    pub classes: Vec<u16>,
}

/// What a JSON pointer must find.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JsonRule {
    /// Anything.
    Exists,
    /// This value.
    Equals(serde_json::Value),
}

/// Checks on a kind of request at most: each is counted in a bit of a mask.
pub(crate) const MAX_CHECKS: usize = 32;

impl Expect {
    /// Whether there is no check at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// Whether a check reads the body (and the response parser must keep it).
    pub(crate) fn needs_body(&self) -> bool {
        self.body_contains.is_some() || self.body_matches.is_some() || !self.json.is_empty()
    }

    /// How many checks there are.
    pub(crate) fn count(&self) -> usize {
        self.names().len()
    }

    /// Each check's description, in the order they are counted: `status 2xx`, `at most
    /// 10000 bytes`, `header content-type contains "json"`, `body contains "ok"`, `body
    /// matches /.../`, `json /ok = true`.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(status) = &self.status {
            out.push(format!("status {}", status.describe()));
        }
        if let Some(max) = self.max_bytes {
            out.push(format!("at most {max} bytes"));
        }
        if let Some((name, contains)) = &self.header {
            out.push(format!("header {name} contains {contains:?}"));
        }
        if let Some(text) = &self.body_contains {
            out.push(format!("body contains {text:?}"));
        }
        if let Some(regex) = &self.body_matches {
            out.push(format!("body matches /{}/", regex.as_str()));
        }
        for (pointer, rule) in &self.json {
            out.push(match rule {
                JsonRule::Exists => format!("json {pointer} exists"),
                JsonRule::Equals(value) => format!("json {pointer} = {value}"),
            });
        }
        out
    }
}

impl StatusRule {
    /// Reads `200`, `"2xx"`, or a list of them separated by commas (`"200,201,3xx"`).
    pub(crate) fn parse(text: &str) -> Result<StatusRule, String> {
        let mut rule = StatusRule::default();
        for part in text.split(',').map(str::trim) {
            rule.add(part)?;
        }
        Ok(rule)
    }

    /// Adds one code or class.
    pub(crate) fn add(&mut self, part: &str) -> Result<(), String> {
        let bad =
            || format!("'{part}' is not a status: write a code like 200, or a class like 2xx");
        match part.as_bytes() {
            [d @ b'1'..=b'5', b'x' | b'X', b'x' | b'X'] => self.classes.push(u16::from(d - b'0')),
            _ => {
                let code: u16 = part.parse().map_err(|_| bad())?;
                if !(100..=599).contains(&code) {
                    return Err(bad());
                }
                self.codes.push(code);
            }
        }
        Ok(())
    }

    /// Whether `status` is allowed.
    pub(crate) fn allows(&self, status: u16) -> bool {
        self.codes.contains(&status) || self.classes.contains(&(status / 100))
    }

    /// `2xx`, `200 or 201`.
    pub(crate) fn describe(&self) -> String {
        let parts: Vec<String> = self
            .codes
            .iter()
            .map(u16::to_string)
            .chain(self.classes.iter().map(|c| format!("{c}xx")))
            .collect();
        parts.join(" or ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_codes_classes_and_lists() {
        let rule = StatusRule::parse("200, 3xx").unwrap();
        assert!(rule.allows(200) && rule.allows(304) && !rule.allows(201) && !rule.allows(500));
        assert_eq!(rule.describe(), "200 or 3xx");
        for bad in ["20", "6xx", "ok", "2xy", ""] {
            assert!(StatusRule::parse(bad).is_err(), "{bad}");
        }
    }
}
