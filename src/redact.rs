//! Secrets kept out of everything harness prints and saves: which headers, query parameters
//! and command-line options hold one, and the redacted forms of URLs and command lines. The
//! requests are sent as given; only what harness shows is redacted. We chose names over
//! values: a value that merely looks random is kept, so a request id stays readable.

/// Shown instead of a secret value.
pub(crate) const REDACTED: &str = "[redacted]";

/// The names of headers whose values are secrets, whatever words they contain.
const SECRET_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
];

/// Whether a header's value must be redacted in every output.
pub(crate) fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS
        .iter()
        .any(|secret| secret.eq_ignore_ascii_case(name))
        || is_secret_name(name)
}

/// Words that mark a header, a query parameter or a command-line option as a secret.
const SECRET_WORDS: [&str; 9] = [
    "token",
    "secret",
    "password",
    "passwd",
    "apikey",
    "api-key",
    "api_key",
    "credential",
    "signature",
];

/// Whether a name (`X-Auth-Token`, `access_token`, `--db-password`) says its value is a
/// secret.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|word| name.contains(word))
        || matches!(
            name.trim_start_matches('-'),
            "key" | "sig" | "auth" | "pass" | "pwd"
        )
}

/// A URL's query with secret values (`?token=…&key=…`) redacted.
pub(crate) fn query(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (query, None),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_name(name) => format!("{name}={REDACTED}"),
            _ => pair.to_string(),
        })
        .collect();
    let fragment = fragment.map_or(String::new(), |f| format!("#{f}"));
    format!("{base}?{}{fragment}", pairs.join("&"))
}

/// A command line with secret values redacted: `--token=…`, `PASSWORD=…`, and the value
/// after `--password`.
pub(crate) fn args(argv: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(argv.len());
    for arg in argv {
        let after_secret_flag = out.last().is_some_and(|previous| {
            previous.starts_with('-') && !previous.contains('=') && is_secret_name(previous)
        });
        if after_secret_flag {
            out.push(REDACTED.to_string());
            continue;
        }
        match arg.split_once('=') {
            Some((name, _)) if is_secret_name(name) && !name.contains("://") => {
                out.push(format!("{name}={REDACTED}"));
            }
            // A URL's password (`postgres://u:secret@h/db`) and its query's secrets.
            _ => out.push(query(&credentials(arg))),
        }
    }
    out
}

/// `scheme://user:password@host` with the password redacted.
fn credentials(text: &str) -> String {
    use std::sync::OnceLock;
    static PATTERN: OnceLock<regex::Regex> = OnceLock::new();
    PATTERN
        .get_or_init(|| {
            regex::Regex::new(r"([A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]+):[^/@\s]+@").unwrap()
        })
        .replace_all(text, format!("${{1}}:{REDACTED}@").as_str())
        .into_owned()
}

/// Free text (a response's body, a message) with its secrets redacted: a URL's password
/// (`postgres://user:[redacted]@host`), and the value of every `name=value`, `name: value`
/// or JSON `"name": "value"` whose name says it is a secret.
pub(crate) fn text(text: &str) -> String {
    use std::sync::OnceLock;
    static PATTERNS: OnceLock<[regex::Regex; 2]> = OnceLock::new();
    let [quoted, pair] = PATTERNS.get_or_init(|| {
        [
            regex::Regex::new(r#""([^"\\]{1,64})"(\s*:\s*)"(?:[^"\\]|\\.)*""#).unwrap(),
            regex::Regex::new(r"\b([A-Za-z_][\w.-]{0,63})(=|:\s*)([^\s&,;\\\x22']+)").unwrap(),
        ]
    });
    let text = credentials(text);
    let text = quoted.replace_all(&text, |c: &regex::Captures<'_>| {
        if is_secret_name(&c[1]) {
            format!("\"{}\"{}\"{REDACTED}\"", &c[1], &c[2])
        } else {
            c[0].to_string()
        }
    });
    let text = pair.replace_all(&text, |c: &regex::Captures<'_>| {
        if is_secret_name(&c[1]) && &c[3] != REDACTED && !c[3].starts_with('"') {
            format!("{}{}{REDACTED}", &c[1], &c[2])
        } else {
            c[0].to_string()
        }
    });
    text.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_free_text_are_redacted() {
        assert_eq!(
            text("postgres://app:hunter2@db/orders and token=abc, id=7"),
            "postgres://app:[redacted]@db/orders and token=[redacted], id=7"
        );
        assert_eq!(
            text(r#"{"password": "x y", "name": "ann", "api_key":"k"}"#),
            r#"{"password": "[redacted]", "name": "ann", "api_key":"[redacted]"}"#
        );
    }

    #[test]
    fn a_urls_password_in_a_command_line_is_redacted() {
        let argv: Vec<String> = [
            "node",
            "app.js",
            "postgres://u:s3cret@db/x",
            "--db",
            "http://h/?token=t&a=1",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            args(&argv),
            [
                "node",
                "app.js",
                "postgres://u:[redacted]@db/x",
                "--db",
                "http://h/?token=[redacted]&a=1"
            ]
        );
    }

    #[test]
    fn secrets_are_recognised_in_headers_queries_and_command_lines() {
        assert!(is_secret_header("X-Auth-Token") && is_secret_header("Cookie"));
        assert!(!is_secret_header("Accept") && !is_secret_header("X-Request-Id"));
        assert_eq!(
            query("http://h/a?q=1&access_token=abc&key=k#top"),
            "http://h/a?q=1&access_token=[redacted]&key=[redacted]#top"
        );
        let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            args(&argv(&[
                "node",
                "app.js",
                "--db-password",
                "hunter2",
                "--token=t",
                "API_KEY=k",
                "--port=3"
            ])),
            argv(&[
                "node",
                "app.js",
                "--db-password",
                "[redacted]",
                "--token=[redacted]",
                "API_KEY=[redacted]",
                "--port=3"
            ])
        );
    }
}
