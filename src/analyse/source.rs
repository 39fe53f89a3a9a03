//! The named function around a place in a script, to name an anonymous function: a CPU
//! profile, a heap snapshot or an allocation profile says only `(anonymous)` and where it
//! starts, and "`(anonymous)` (index.js:7)" sends the reader to count lines. The function
//! that contains it ("an anonymous function in `createLargeLinkStructure`") is found by
//! scanning the script's text: comments, strings, template literals and regular expressions
//! are skipped, and each `{` that opens a function's body is remembered with the function's
//! name (`function name(`, a method `name(`, `name = function`, `name = (…) =>`, `name:`).
//! It is a scanner, not a parser: a script it cannot follow gives no name, never a wrong one
//! it could not support (a function is named only when its body contains the place).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Scripts larger than this are not read (bundles): no name rather than a slow scan.
const MAX_SCRIPT: u64 = 4 << 20;

/// The name of the innermost named function whose body contains `line`:`column` (both
/// 1-based) in `source`.
pub(crate) fn enclosing(source: &str, line: u32, column: u32) -> Option<String> {
    let target = offset_of(source, line, column)?;
    let bodies = function_bodies(source);
    bodies
        .iter()
        .filter(|b| b.open < target && target < b.close && b.name.is_some())
        .max_by_key(|b| b.open)
        .and_then(|b| b.name.clone())
}

/// How an anonymous function is named once the function around it is known.
pub(crate) fn anonymous_in(within: &str) -> String {
    format!("an anonymous function in `{within}`")
}

/// Reads scripts from disk for [`enclosing`], each once.
#[derive(Default)]
pub(crate) struct Sources {
    texts: HashMap<PathBuf, Option<String>>,
}

impl Sources {
    /// The named function around `line`:`column` of the script at `url` (a path or a
    /// `file://` URL); `None` for Node's own code, unreadable or huge scripts, or no name.
    pub(crate) fn enclosing(&mut self, url: &str, line: u32, column: u32) -> Option<String> {
        let path = script_path(url)?;
        let text = self
            .texts
            .entry(path.clone())
            .or_insert_with(|| read_script(&path))
            .as_deref()?;
        enclosing(text, line, column)
    }
}

fn script_path(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("file://").unwrap_or(url);
    (path.starts_with('/') && !path.contains("/node_modules/")).then(|| PathBuf::from(path))
}

fn read_script(path: &Path) -> Option<String> {
    let size = std::fs::metadata(path).ok()?.len();
    if size > MAX_SCRIPT {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

/// The byte offset of a 1-based line and column.
fn offset_of(source: &str, line: u32, column: u32) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        start += source[start..].find('\n')? + 1;
    }
    let within: usize = source[start..]
        .chars()
        .take(column.saturating_sub(1) as usize)
        .map(char::len_utf8)
        .sum();
    Some(start + within)
}

/// A function's body: where its braces are, and its name if it has one.
#[derive(Debug)]
struct Body {
    open: usize,
    close: usize,
    name: Option<String>,
}

/// A token the scanner keeps: an identifier or keyword, or a punctuation mark.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Punct(char),
    Arrow,
    /// A literal: a string, a number, a regular expression or a template.
    Value,
}

/// Every function body in `source`, found by one pass of a small scanner.
fn function_bodies(source: &str) -> Vec<Body> {
    let bytes = source.as_bytes();
    let mut tokens: Vec<Token> = Vec::new();
    // Index in `tokens` of each `(` not yet closed, and of the `(` matching each `)`.
    let mut parens: Vec<usize> = Vec::new();
    let mut matching: HashMap<usize, usize> = HashMap::new();
    // Each open `{`: where it is, and the function's name if it opens a function's body
    // (`Some(None)` for an anonymous function, `None` for any other block).
    let mut braces: Vec<(usize, Option<Option<String>>)> = Vec::new();
    // Template literals: the brace depth at which each `${` was opened.
    let mut templates: Vec<usize> = Vec::new();
    let mut bodies = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let c = bytes[at];
        match c {
            b'/' if bytes.get(at + 1) == Some(&b'/') => {
                at = source[at..].find('\n').map_or(bytes.len(), |n| at + n);
                continue;
            }
            b'/' if bytes.get(at + 1) == Some(&b'*') => {
                at = source[at + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |n| at + 2 + n + 2);
                continue;
            }
            b'\'' | b'"' => {
                at = skip_string(bytes, at);
                tokens.push(Token::Value);
                continue;
            }
            b'`' => {
                at = skip_template(bytes, at + 1, &mut templates, braces.len());
                tokens.push(Token::Value);
                continue;
            }
            b'/' if regex_may_start(tokens.last()) => {
                at = skip_regex(bytes, at);
                tokens.push(Token::Value);
                continue;
            }
            b'=' if bytes.get(at + 1) == Some(&b'>') => {
                tokens.push(Token::Arrow);
                at += 2;
                continue;
            }
            b'(' => {
                parens.push(tokens.len());
                tokens.push(Token::Punct('('));
            }
            b')' => {
                if let Some(open) = parens.pop() {
                    matching.insert(tokens.len(), open);
                }
                tokens.push(Token::Punct(')'));
            }
            b'{' => {
                braces.push((at, function_name(&tokens, &matching)));
                tokens.push(Token::Punct('{'));
            }
            b'}' => {
                if templates.last() == Some(&braces.len()) {
                    // The end of a `${…}` inside a template: the template goes on.
                    templates.pop();
                    at = skip_template(bytes, at + 1, &mut templates, braces.len());
                    tokens.push(Token::Value);
                    continue;
                }
                if let Some((open, Some(name))) = braces.pop() {
                    bodies.push(Body {
                        open,
                        close: at,
                        name,
                    });
                }
                tokens.push(Token::Punct('}'));
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c == b'$' || c >= 0x80 => {
                let end = word_end(source, at);
                tokens.push(Token::Word(source[at..end].to_string()));
                at = end;
                continue;
            }
            c if c.is_ascii_digit() => {
                while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'.') {
                    at += 1;
                }
                tokens.push(Token::Value);
                continue;
            }
            c if c.is_ascii_whitespace() => {}
            c => tokens.push(Token::Punct(c as char)),
        }
        at += 1;
    }
    bodies
}

/// Whether the `{` after `tokens` opens a function's body, and its name: `Some(Some(name))`
/// for a named function, `Some(None)` for an anonymous one, `None` for any other block.
fn function_name(tokens: &[Token], matching: &HashMap<usize, usize>) -> Option<Option<String>> {
    let last = tokens.len().checked_sub(1)?;
    match &tokens[last] {
        // `(…) => {`, `x => {`, `async (…) => {`: named by what it is assigned to.
        Token::Arrow => {
            let head = match tokens.get(last.checked_sub(1)?) {
                Some(Token::Punct(')')) => *matching.get(&(last - 1))?,
                Some(Token::Word(_)) => last - 1,
                _ => return None,
            };
            let head = match head.checked_sub(1).map(|i| &tokens[i]) {
                Some(Token::Word(w)) if w == "async" => head - 1,
                _ => head,
            };
            Some(assigned_name(tokens, head))
        }
        // `name(…) {`, `function name(…) {`, `function (…) {`.
        Token::Punct(')') => {
            let open = *matching.get(&last)?;
            match open.checked_sub(1).map(|i| &tokens[i]) {
                Some(Token::Word(w)) if w == "function" => Some(assigned_name(tokens, open - 1)),
                Some(Token::Word(w)) if is_block_keyword(w) => None,
                Some(Token::Word(name)) => {
                    // `function name(`, or a method `name(…) {` in a class or object.
                    Some(Some(name.clone()))
                }
                Some(Token::Punct('*')) => match tokens.get(open.checked_sub(2)?) {
                    Some(Token::Word(w)) if w == "function" => {
                        Some(assigned_name(tokens, open - 2))
                    }
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

/// The name a function starting at token `head` gets from where it stands: `name = …`,
/// `name: …`, `const name = …`; `None` when it stands alone (an argument, a callback).
fn assigned_name(tokens: &[Token], head: usize) -> Option<String> {
    let before = head.checked_sub(1).map(|i| &tokens[i]);
    match before {
        Some(Token::Punct('=' | ':')) => match head.checked_sub(2).map(|i| &tokens[i]) {
            Some(Token::Word(name)) if !is_block_keyword(name) => Some(name.clone()),
            _ => None,
        },
        _ => None,
    }
}

fn is_block_keyword(word: &str) -> bool {
    matches!(
        word,
        "if" | "for" | "while" | "switch" | "catch" | "with" | "return" | "typeof" | "await"
    )
}

/// Whether a `/` after this token starts a regular expression (rather than dividing).
fn regex_may_start(previous: Option<&Token>) -> bool {
    match previous {
        None => true,
        Some(Token::Value) => false,
        Some(Token::Word(w)) => matches!(w.as_str(), "return" | "typeof" | "case" | "in" | "of"),
        Some(Token::Punct(c)) => !matches!(c, ')' | ']' | '}'),
        Some(Token::Arrow) => true,
    }
}

fn word_end(source: &str, start: usize) -> usize {
    source[start..]
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '$'))
        .map_or(source.len(), |(i, _)| start + i)
}

/// Past a quoted string starting at `at`.
fn skip_string(bytes: &[u8], at: usize) -> usize {
    let quote = bytes[at];
    let mut i = at + 1;
    while i < bytes.len() && bytes[i] != quote && bytes[i] != b'\n' {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
    }
    i + 1
}

/// Past a regular expression literal starting at `at` (its class `[…]` may hold a `/`).
fn skip_regex(bytes: &[u8], at: usize) -> usize {
    let mut i = at + 1;
    let mut class = false;
    while i < bytes.len() && bytes[i] != b'\n' {
        match bytes[i] {
            b'\\' => i += 1,
            b'[' => class = true,
            b']' => class = false,
            b'/' if !class => {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                return i;
            }
            _ => {}
        }
        i += 1;
    }
    i
}

/// Past the rest of a template literal from `at`: to its closing backtick, or into a `${`
/// (remembered in `templates` at brace depth `depth`, so that its `}` resumes the template).
fn skip_template(bytes: &[u8], mut at: usize, templates: &mut Vec<usize>, depth: usize) -> usize {
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 1,
            b'`' => return at + 1,
            b'$' if bytes.get(at + 1) == Some(&b'{') => {
                templates.push(depth);
                return at + 2;
            }
            _ => {}
        }
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line and column of the first `marker` in `source`.
    fn at(source: &str, marker: &str) -> (u32, u32) {
        let offset = source.find(marker).unwrap();
        let line = source[..offset].matches('\n').count() as u32 + 1;
        let column = (offset - source[..offset].rfind('\n').map_or(0, |n| n + 1)) as u32 + 1;
        (line, column)
    }

    fn name_at(source: &str, marker: &str) -> Option<String> {
        let (line, column) = at(source, marker);
        enclosing(source, line, column)
    }

    #[test]
    fn an_anonymous_callback_is_named_by_the_function_around_it() {
        let source = "'use strict';\n\
            function createLargeLinkStructure(done) {\n  setImmediate(() => {\n    let x = { a: 1 };\n  });\n}\n";
        assert_eq!(
            name_at(source, "() =>").as_deref(),
            Some("createLargeLinkStructure")
        );
        assert_eq!(name_at(source, "'use strict'"), None);
    }

    #[test]
    fn methods_assignments_and_arrows_name_their_bodies() {
        let source = "class Store {\n  save(item) {\n    items.forEach(function (i) { i.x = 1; });\n  }\n}\n\
            const load = async (id) => {\n  return fetch(`/items/${id}`).then((r) => { return r; });\n};\n\
            module.exports = { render: function (x) { return [x].map(y => { return y; }); } };\n";
        assert_eq!(name_at(source, "function (i)").as_deref(), Some("save"));
        assert_eq!(name_at(source, "(r) =>").as_deref(), Some("load"));
        assert_eq!(name_at(source, "y =>").as_deref(), Some("render"));
    }

    #[test]
    fn strings_comments_templates_and_regexes_do_not_confuse_it() {
        let source = "function outer() {\n  const s = '}{'; // } {\n  /* } */ const r = /[}/]{2}/g;\n  \
            const t = `a ${ { b: '}' }.b } c`;\n  if (s) { later(() => { return r.test(t); }); }\n}\n";
        assert_eq!(name_at(source, "() =>").as_deref(), Some("outer"));
    }
}
