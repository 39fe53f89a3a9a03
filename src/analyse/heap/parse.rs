//! A streaming reader for V8 `.heapsnapshot` files. The big parts of a snapshot are flat
//! integer arrays (`nodes`, `edges`, `locations`) and a string table; they are read straight
//! into `Vec<u32>`s and one string arena, never into a JSON tree, so memory stays close to
//! the size of the numbers themselves. Everything is checked (field counts, edge targets,
//! string indices), so a malformed, truncated or hostile file is an error, never a panic, and
//! memory is bounded by the file's size.

use std::io::{BufRead, BufReader, Read};

use serde::Deserialize;

/// A parse failure, with the byte offset where it was found.
#[derive(Debug, thiserror::Error)]
#[error("{message} (at byte {offset})")]
pub(crate) struct ParseError {
    message: String,
    offset: u64,
}

/// Deepest nesting of arrays and objects skipped in parts harness does not read.
const MAX_DEPTH: usize = 64;
/// The `snapshot` metadata object is small; anything larger is not a heap snapshot.
const MAX_META: usize = 1 << 20;

/// The parts of a heap snapshot harness uses.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// Field names of a node, e.g. `type, name, id, self_size, edge_count, ...`.
    pub node_fields: Vec<String>,
    /// Names of the node types, indexed by a node's `type` field.
    pub node_types: Vec<String>,
    /// Field names of an edge: `type, name_or_index, to_node`.
    pub edge_fields: Vec<String>,
    /// Names of the edge types, indexed by an edge's `type` field.
    pub edge_types: Vec<String>,
    /// Field names of a location, e.g. `object_index, script_id, line, column`.
    pub location_fields: Vec<String>,
    /// All nodes' fields, `node_fields.len()` numbers per node.
    pub nodes: Vec<u32>,
    /// All edges' fields, grouped by source node in node order.
    pub edges: Vec<u32>,
    /// Source locations of closures, `location_fields.len()` numbers each.
    pub locations: Vec<u32>,
    arena: String,
    ends: Vec<usize>,
}

impl Snapshot {
    /// String `index` of the string table ("" if out of range; indices are checked on load).
    pub(crate) fn string(&self, index: u32) -> &str {
        let index = index as usize;
        let start = if index == 0 {
            0
        } else {
            self.ends.get(index - 1).copied().unwrap_or(0)
        };
        let end = self.ends.get(index).copied().unwrap_or(start);
        &self.arena[start..end]
    }

    /// Number of strings in the table.
    pub(crate) fn string_count(&self) -> usize {
        self.ends.len()
    }
}

#[derive(Deserialize)]
struct Header {
    meta: Meta,
}

#[derive(Deserialize)]
struct Meta {
    node_fields: Vec<String>,
    node_types: Vec<serde_json::Value>,
    edge_fields: Vec<String>,
    edge_types: Vec<serde_json::Value>,
    #[serde(default)]
    location_fields: Vec<String>,
}

/// Reads a snapshot from `input`.
pub(crate) fn parse(input: impl Read) -> Result<Snapshot, ParseError> {
    let mut reader = Reader::new(input);
    let mut snapshot = Snapshot::default();
    let mut seen_meta = false;
    reader.expect(b'{')?;
    if reader.peek_after_ws()? == Some(b'}') {
        return Err(reader.error("the file is an empty JSON object, not a heap snapshot"));
    }
    loop {
        let key = reader.key()?;
        match key.as_str() {
            "snapshot" => {
                let raw = reader.raw_value(MAX_META)?;
                let header: Header = serde_json::from_slice(&raw).map_err(|err| {
                    reader.error(&format!("the snapshot metadata is not valid: {err}"))
                })?;
                let first = |list: &[serde_json::Value], what: &str| {
                    list.first()
                        .and_then(|v| v.as_array())
                        .map(|a| {
                            a.iter()
                                .map(|v| v.as_str().unwrap_or_default().to_string())
                                .collect::<Vec<_>>()
                        })
                        .ok_or_else(|| reader.error(&format!("meta.{what} has no list of names")))
                };
                snapshot.node_types = first(&header.meta.node_types, "node_types")?;
                snapshot.edge_types = first(&header.meta.edge_types, "edge_types")?;
                snapshot.node_fields = header.meta.node_fields;
                snapshot.edge_fields = header.meta.edge_fields;
                snapshot.location_fields = header.meta.location_fields;
                seen_meta = true;
            }
            "nodes" => snapshot.nodes = reader.numbers()?,
            "edges" => snapshot.edges = reader.numbers()?,
            "locations" => snapshot.locations = reader.numbers()?,
            "strings" => reader.strings(&mut snapshot.arena, &mut snapshot.ends)?,
            _ => reader.skip_value()?,
        }
        match reader.next_token()? {
            b',' => continue,
            b'}' => break,
            other => {
                return Err(reader.error(&format!(
                    "expected ',' or '}}' after a key's value, found '{}'",
                    other as char
                )))
            }
        }
    }
    if !seen_meta {
        return Err(reader.error("no \"snapshot\" metadata: not a V8 heap snapshot"));
    }
    Ok(snapshot)
}

/// A byte reader with one byte of look-ahead and a running offset for errors.
struct Reader<R: Read> {
    inner: BufReader<R>,
    offset: u64,
}

impl<R: Read> Reader<R> {
    fn new(input: R) -> Reader<R> {
        Reader {
            inner: BufReader::with_capacity(1 << 20, input),
            offset: 0,
        }
    }

    fn error(&self, message: &str) -> ParseError {
        ParseError {
            message: message.to_string(),
            offset: self.offset,
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, ParseError> {
        match self.inner.fill_buf() {
            Ok(buf) => Ok(buf.first().copied()),
            Err(err) => Err(self.error(&format!("could not read the file: {err}"))),
        }
    }

    fn bump(&mut self) {
        self.inner.consume(1);
        self.offset += 1;
    }

    fn next_byte(&mut self) -> Result<u8, ParseError> {
        match self.peek()? {
            Some(b) => {
                self.bump();
                Ok(b)
            }
            None => Err(self.error("the file ends too early (truncated?)")),
        }
    }

    fn peek_after_ws(&mut self) -> Result<Option<u8>, ParseError> {
        loop {
            match self.peek()? {
                Some(b' ' | b'\n' | b'\r' | b'\t') => self.bump(),
                other => return Ok(other),
            }
        }
    }

    fn next_token(&mut self) -> Result<u8, ParseError> {
        self.peek_after_ws()?;
        self.next_byte()
    }

    fn expect(&mut self, want: u8) -> Result<(), ParseError> {
        let got = self.next_token()?;
        if got == want {
            Ok(())
        } else {
            Err(self.error(&format!(
                "expected '{}', found '{}'",
                want as char,
                got.escape_ascii()
            )))
        }
    }

    /// `"name":`
    fn key(&mut self) -> Result<String, ParseError> {
        self.expect(b'"')?;
        let mut key = String::new();
        self.string_body(&mut key, 256)?;
        self.expect(b':')?;
        Ok(key)
    }

    /// An array of non-negative integers that fit in 32 bits.
    fn numbers(&mut self) -> Result<Vec<u32>, ParseError> {
        self.expect(b'[')?;
        let mut out = Vec::new();
        if self.peek_after_ws()? == Some(b']') {
            self.bump();
            return Ok(out);
        }
        loop {
            self.peek_after_ws()?;
            let mut value: u64 = 0;
            let mut digits = 0;
            // Fast path over the buffered bytes.
            loop {
                let buf = match self.inner.fill_buf() {
                    Ok(buf) => buf,
                    Err(err) => return Err(self.error(&format!("could not read the file: {err}"))),
                };
                if buf.is_empty() {
                    break;
                }
                let mut used = 0;
                for &b in buf {
                    if b.is_ascii_digit() {
                        value = value * 10 + u64::from(b - b'0');
                        digits += 1;
                        used += 1;
                        if value > u64::from(u32::MAX) {
                            break;
                        }
                    } else {
                        break;
                    }
                }
                let end = used < buf.len() || value > u64::from(u32::MAX);
                self.inner.consume(used);
                self.offset += used as u64;
                if end {
                    break;
                }
            }
            if digits == 0 {
                let found = self.peek()?;
                return Err(self.error(&match found {
                    Some(b) => format!("expected a number, found '{}'", b.escape_ascii()),
                    None => "the file ends inside a number array (truncated?)".to_string(),
                }));
            }
            let value = u32::try_from(value)
                .map_err(|_| self.error("a number is larger than 4294967295"))?;
            out.push(value);
            match self.next_token()? {
                b',' => {}
                b']' => return Ok(out),
                b => {
                    return Err(self.error(&format!(
                        "expected ',' or ']' in a number array, found '{}'",
                        b.escape_ascii()
                    )))
                }
            }
        }
    }

    /// An array of strings, appended to the arena.
    fn strings(&mut self, arena: &mut String, ends: &mut Vec<usize>) -> Result<(), ParseError> {
        self.expect(b'[')?;
        if self.peek_after_ws()? == Some(b']') {
            self.bump();
            return Ok(());
        }
        loop {
            self.expect(b'"')?;
            self.string_body(arena, usize::MAX)?;
            ends.push(arena.len());
            match self.next_token()? {
                b',' => {}
                b']' => return Ok(()),
                b => {
                    return Err(self.error(&format!(
                        "expected ',' or ']' in the string table, found '{}'",
                        b.escape_ascii()
                    )))
                }
            }
        }
    }

    /// The rest of a JSON string after its opening quote, decoded into `out`.
    fn string_body(&mut self, out: &mut String, limit: usize) -> Result<(), ParseError> {
        let start = out.len();
        let mut bytes = Vec::new();
        loop {
            let b = self.next_byte()?;
            match b {
                b'"' => break,
                b'\\' => {
                    let escaped = self.next_byte()?;
                    let c = match escaped {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        other => {
                            return Err(self.error(&format!(
                                "invalid escape '\\{}' in a string",
                                other.escape_ascii()
                            )))
                        }
                    };
                    let mut tmp = [0u8; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
                b => bytes.push(b),
            }
            if bytes.len() > limit {
                return Err(self.error("a key is too long"));
            }
        }
        match std::str::from_utf8(&bytes) {
            Ok(text) => out.push_str(text),
            Err(_) => out.push_str(&String::from_utf8_lossy(&bytes)),
        }
        debug_assert!(out.len() >= start);
        Ok(())
    }

    /// `\uXXXX`, joining surrogate pairs; a lone surrogate (V8 writes them) becomes U+FFFD.
    fn unicode_escape(&mut self) -> Result<char, ParseError> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) {
            if self.peek()? == Some(b'\\') {
                self.bump();
                if self.next_byte()? != b'u' {
                    return Err(self.error("invalid escape after a high surrogate"));
                }
                let second = self.hex4()?;
                if (0xDC00..0xE000).contains(&second) {
                    let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                    return Ok(char::from_u32(code).unwrap_or('\u{fffd}'));
                }
                return Ok('\u{fffd}');
            }
            return Ok('\u{fffd}');
        }
        Ok(char::from_u32(first).unwrap_or('\u{fffd}'))
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let mut value = 0;
        for _ in 0..4 {
            let b = self.next_byte()?;
            let digit = (b as char)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid \\u escape in a string"))?;
            value = value * 16 + digit;
        }
        Ok(value)
    }

    /// The raw bytes of one JSON value (for the small metadata object), at most `limit`.
    fn raw_value(&mut self, limit: usize) -> Result<Vec<u8>, ParseError> {
        self.peek_after_ws()?;
        let mut raw = Vec::new();
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        loop {
            let b = self.next_byte()?;
            raw.push(b);
            if raw.len() > limit {
                return Err(self.error("the snapshot metadata is too large"));
            }
            if in_string {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(self.error("the snapshot metadata is nested too deeply"));
                    }
                }
                b'}' | b']' => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| self.error("unbalanced brackets"))?;
                    if depth == 0 {
                        return Ok(raw);
                    }
                }
                _ if depth == 0 => {
                    return Err(self.error("the snapshot metadata is not an object"));
                }
                _ => {}
            }
        }
    }

    /// Skips one JSON value of a part harness does not use.
    fn skip_value(&mut self) -> Result<(), ParseError> {
        match self.peek_after_ws()? {
            Some(b'"') => {
                self.bump();
                self.string_body(&mut String::new(), usize::MAX)
            }
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                loop {
                    match self.next_byte()? {
                        b'"' => self.string_body(&mut String::new(), usize::MAX)?,
                        b'{' | b'[' => {
                            depth += 1;
                            if depth > MAX_DEPTH {
                                return Err(self.error("a value is nested too deeply"));
                            }
                        }
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                return Ok(());
                            }
                        }
                        _ => {}
                    }
                }
            }
            Some(_) => {
                // A number, true, false or null: up to the next delimiter.
                while let Some(b) = self.peek()? {
                    if matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace() {
                        break;
                    }
                    self.bump();
                }
                Ok(())
            }
            None => Err(self.error("the file ends too early (truncated?)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = r#"{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],
"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic","concatenated string","sliced string","symbol","bigint","object shape"],"string","number","number","number","number","number"],
"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","node"],
"location_fields":["object_index","script_id","line","column"]},"node_count":2,"edge_count":1},
"nodes":[9,0,1,0,1,0,0, 3,1,3,32,0,0,0],
"edges":[2,2,7],
"trace_function_infos":[],"trace_tree":[],"samples":[],"locations":[7,3,4,10],
"strings":["","Foo","name \"q\" \u00e9 \ud83d\ude00 \ud800"]}"#;

    #[test]
    fn a_small_snapshot_is_read() {
        let s = parse(TINY.as_bytes()).unwrap();
        assert_eq!(s.node_fields.len(), 7);
        assert_eq!(s.node_types[3], "object");
        assert_eq!(s.edge_types[6], "weak");
        assert_eq!(s.nodes.len(), 14);
        assert_eq!(s.edges, [2, 2, 7]);
        assert_eq!(s.locations, [7, 3, 4, 10]);
        assert_eq!(s.string(1), "Foo");
        assert_eq!(s.string(2), "name \"q\" é 😀 \u{fffd}");
        assert_eq!(s.string_count(), 3);
    }

    #[test]
    fn broken_files_are_errors_not_panics() {
        for cut in [0, 1, 10, 100, 300, 700, TINY.len() - 1] {
            assert!(parse(&TINY.as_bytes()[..cut]).is_err(), "cut at {cut}");
        }
        for (text, expect) in [
            ("{}", "empty JSON object"),
            ("[1,2]", "expected '{'"),
            (r#"{"nodes":[1,2]}"#, "no \"snapshot\" metadata"),
            (r#"{"nodes":[1,-2]}"#, "expected a number"),
            (r#"{"nodes":[99999999999]}"#, "larger than"),
            (r#"{"strings":["\x"]}"#, "invalid escape"),
        ] {
            let err = parse(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(expect), "{text}: {err}");
        }
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(parse(deep.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("deeply"));
    }
}
