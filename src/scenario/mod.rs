//! Scenario files: what to run and what counts as failing, in TOML (`harness run FILE`).
//!
//! A file is read whole and checked before anything runs: unknown keys, wrong types, bad
//! durations and missing values are one-line errors naming the file, line, column and key
//! path. Paths inside a file (`cwd`, `body_file`, outputs) are relative to the file's folder.
//! How a file's values combine with command-line flags is [`crate::cli`]'s `merge`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::Deserialize;

pub(crate) use crate::analyse::Threshold;
use crate::plan::UsageError;

/// A checked scenario file.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    /// The file it was read from.
    pub path: PathBuf,
    /// `name`, or the file name without `.toml`.
    pub name: String,
    /// The parsed contents, with relative paths resolved against the file's folder.
    pub file: File,
}

/// The file's contents. Field names are the TOML keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct File {
    /// Shown in summaries and JUnit; defaults to the file name.
    pub name: Option<String>,
    /// Free text for people reading the file (harness only checks it is text).
    #[allow(dead_code, reason = "read by people, not by harness")]
    pub description: Option<String>,
    /// What to run and where it serves.
    pub target: TargetSection,
    /// How much load, and of what shape.
    #[serde(default)]
    pub load: LoadSection,
    /// The requests to send, chosen by weight; default one GET of the URL.
    #[serde(default)]
    pub requests: Vec<RequestSection>,
    /// Pass/fail rules.
    #[serde(default)]
    pub check: CheckSection,
    /// Where results go.
    #[serde(default)]
    pub output: OutputSection,
}

/// `[target]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TargetSection {
    /// The URL to load.
    #[serde(deserialize_with = "url")]
    pub url: String,
    /// The command to start: an array of words, or one string split at spaces.
    #[serde(default, deserialize_with = "command")]
    pub command: Option<Vec<String>>,
    /// The command's working directory (default: the scenario file's folder).
    pub cwd: Option<PathBuf>,
    /// Environment variables for the command.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub ready_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub baseline: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub cooldown: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub grace: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub sample_interval: Option<Duration>,
    /// Inject the Node probe (default true).
    pub probe: Option<bool>,
    /// The heap trace and its snapshots: "auto" (when a leak is found), "always" or "off".
    #[serde(default, deserialize_with = "trace_mode")]
    pub heap: Option<crate::plan::TraceMode>,
    /// The CPU trace and its profile: "auto" (when a blocked loop, GC pressure or costly
    /// requests at capacity are found), "always" or "off".
    #[serde(default, deserialize_with = "trace_mode")]
    pub profile: Option<crate::plan::TraceMode>,
    /// The I/O trace: "auto" (when I/O wait is found), "always" or "off".
    #[serde(default, deserialize_with = "trace_mode")]
    pub io_trace: Option<crate::plan::TraceMode>,
    /// No heap snapshot of a process whose used heap is over this size, e.g. "64MB".
    #[serde(default, deserialize_with = "opt_size")]
    pub heap_limit: Option<u64>,
}

/// `[load]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoadSection {
    #[serde(default, deserialize_with = "opt_positive")]
    pub connections: Option<u64>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub duration: Option<Duration>,
    #[serde(default, deserialize_with = "opt_positive")]
    pub amount: Option<u64>,
    #[serde(default, deserialize_with = "opt_rate")]
    pub rate: Option<f64>,
    #[serde(default, deserialize_with = "opt_positive")]
    pub pipelining: Option<u64>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub warmup: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
    #[serde(default, deserialize_with = "opt_positive")]
    pub workers: Option<u64>,
    #[serde(default, deserialize_with = "opt_positive")]
    pub bailout: Option<u64>,
    pub http2: Option<bool>,
    /// `I/N` or `index/N`, as `--shard`; read when the plan is made (the job index comes
    /// from the environment).
    pub shard: Option<String>,
    /// Open-model stages run one after another (a ramp): each a duration and a rate.
    #[serde(default)]
    pub stages: Vec<StageSection>,
    /// The capacity search's rules, as `--find-max`.
    #[serde(default, deserialize_with = "thresholds")]
    pub find_max: Vec<Threshold>,
    /// Each step's length, as `--step-duration`.
    #[serde(default, deserialize_with = "opt_duration")]
    pub step_duration: Option<Duration>,
    /// The search's time limit, as `--max-duration`.
    #[serde(default, deserialize_with = "opt_duration")]
    pub max_duration: Option<Duration>,
}

/// One `[[load.stages]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StageSection {
    #[serde(deserialize_with = "duration")]
    pub duration: Duration,
    #[serde(deserialize_with = "rate")]
    pub rate: f64,
}

/// One `[[requests]]` entry. `path`, header values and the body may hold placeholders:
/// `{{counter}}`, `{{random}}`, `{{random:N}}`, `{{uuid}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestSection {
    /// The kind's name in results and thresholds (`p99{search} < 50ms`); default: the method
    /// and the path as written (`GET /search?q={{counter}}`). Unique in the file.
    #[serde(default, deserialize_with = "kind_name")]
    pub name: Option<String>,
    #[serde(default = "get", deserialize_with = "method")]
    pub method: String,
    /// Path and query, starting with `/` (default: the URL's); spaces and control bytes are
    /// refused (they would end the request line or inject headers), other non-ASCII
    /// characters are percent-encoded.
    #[serde(default, deserialize_with = "request_path")]
    pub path: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    pub body_file: Option<PathBuf>,
    /// Relative share of requests (default 1).
    #[serde(default = "one", deserialize_with = "positive")]
    pub weight: u64,
    /// What its responses must be.
    #[serde(default)]
    pub expect: Option<ExpectSection>,
}

/// `[requests.expect]`: the checks on each response of a request entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpectSection {
    /// A code (200), a class ("2xx"), or a list of them.
    #[serde(default, deserialize_with = "status_rule")]
    pub status: Option<crate::plan::StatusRule>,
    /// Text the body must contain.
    pub body_contains: Option<String>,
    /// A regular expression the body must match.
    #[serde(default, deserialize_with = "regex")]
    pub body_matches: Option<regex::bytes::Regex>,
    /// JSON pointers that must exist ("exists") or equal a value.
    #[serde(default, deserialize_with = "json_rules")]
    pub json: Vec<(String, crate::plan::JsonRule)>,
    /// A header whose value must contain a text.
    #[serde(default)]
    pub header: Option<HeaderExpect>,
    /// The whole response at most this size ("64kB" or bytes).
    #[serde(default, deserialize_with = "opt_size")]
    pub max_bytes: Option<u64>,
}

/// `expect.header`: `{ name = "content-type", contains = "json" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeaderExpect {
    pub name: String,
    pub contains: String,
}

impl RequestSection {
    /// The name of its kind: its own, or its method and path as written (the URL's path,
    /// `url_path`, when it gives none).
    pub(crate) fn kind_name(&self, url_path: &str) -> String {
        self.name.clone().unwrap_or_else(|| {
            crate::plan::RequestSpec::default_name(
                &self.method,
                self.path.as_deref().unwrap_or(url_path),
            )
        })
    }
}

impl ExpectSection {
    /// The checks as the plan holds them.
    pub(crate) fn to_plan(&self) -> crate::plan::Expect {
        crate::plan::Expect {
            status: self.status.clone(),
            max_bytes: self.max_bytes,
            header: self
                .header
                .as_ref()
                .map(|h| (h.name.to_ascii_lowercase(), h.contains.clone())),
            body_contains: self.body_contains.clone(),
            body_matches: self.body_matches.clone(),
            json: self.json.clone(),
        }
    }
}

/// `[check]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckSection {
    /// Thresholds, in the `--threshold` grammar.
    #[serde(default, deserialize_with = "thresholds")]
    pub thresholds: Vec<Threshold>,
    /// How much worse a run may be than a baseline run (`harness compare --scenario`).
    #[serde(default)]
    pub compare: CompareSection,
}

/// `[check.compare]`: tolerances for `harness compare`, in percent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompareSection {
    /// Largest allowed drop in requests/s, e.g. "5%".
    #[serde(default, deserialize_with = "opt_percent")]
    pub max_rps_drop: Option<f64>,
    /// Largest allowed rise of a latency percentile, e.g. "10%".
    #[serde(default, deserialize_with = "opt_percent")]
    pub max_latency_rise: Option<f64>,
    /// Largest allowed rise of the error rate in percentage points, e.g. "1%".
    #[serde(default, deserialize_with = "opt_percent")]
    pub max_error_rise: Option<f64>,
}

/// `[output]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutputSection {
    /// Folder for result.json and report.html.
    pub dir: Option<PathBuf>,
    /// The HTML report's path.
    pub html: Option<PathBuf>,
    /// The JSON result's path.
    pub json: Option<PathBuf>,
    /// The JUnit XML's path.
    pub junit: Option<PathBuf>,
}

/// Largest scenario file read: a scenario is a page of settings; 2.5 million `[[requests]]`
/// once took 3.5 GB before any check.
pub(crate) const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Most `[[requests]]` in a scenario.
pub(crate) const MAX_REQUESTS: usize = 1000;

/// Reads and checks one scenario file.
pub(crate) fn load(path: &Path) -> Result<Scenario, UsageError> {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_FILE_BYTES {
        return Err(UsageError(format!(
            "{}: the file is {} bytes; a scenario is at most {} (1 MiB)",
            path.display(),
            size,
            MAX_FILE_BYTES
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|err| {
        UsageError(format!(
            "could not read scenario '{}': {err}",
            path.display()
        ))
    })?;
    let mut file = parse(&text).map_err(|err| UsageError(format!("{}:{err}", path.display())))?;
    if file.requests.len() > MAX_REQUESTS {
        return Err(UsageError(format!(
            "{}: requests: {} entries; at most {MAX_REQUESTS} kinds of request (use placeholders for variety)",
            path.display(),
            file.requests.len()
        )));
    }
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let within = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = folder.join(&*p);
        }
    };
    file.target.cwd.as_mut().map(within);
    if let Some(cwd) = &file.target.cwd {
        if !cwd.is_dir() {
            return Err(UsageError(format!(
                "{}: target.cwd: the folder '{}' does not exist; fix the path (it is relative to the scenario file)",
                path.display(),
                cwd.display()
            )));
        }
    }
    if file.target.cwd.is_none() {
        file.target.cwd = Some(folder.to_path_buf());
    }
    for request in &mut file.requests {
        request.body_file.as_mut().map(within);
    }
    for out in [
        &mut file.output.dir,
        &mut file.output.html,
        &mut file.output.json,
        &mut file.output.junit,
    ] {
        out.as_mut().map(within);
    }
    check(&file).map_err(|err| {
        let at = err.line(&text).map(|l| format!("{l}:")).unwrap_or_default();
        UsageError(format!("{}:{at} {}", path.display(), err.message))
    })?;
    let name = file.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned())
    });
    Ok(Scenario {
        path: path.to_path_buf(),
        name,
        file,
    })
}

/// The scenario files `path` names: itself, or the `.toml` files in a folder, sorted.
pub(crate) fn files(path: &Path) -> Result<Vec<PathBuf>, UsageError> {
    if !path.is_dir() {
        if !path.exists() {
            return Err(UsageError(format!(
                "no scenario file or folder '{}'; give a .toml file or a folder of them",
                path.display()
            )));
        }
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|err| UsageError(format!("could not list '{}': {err}", path.display())))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(UsageError(format!(
            "folder '{}' holds no .toml scenario files",
            path.display()
        )));
    }
    Ok(files)
}

/// Parses TOML text; the error starts with `line:column: key.path: `.
fn parse(text: &str) -> Result<File, String> {
    let deserializer = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let key = err.path().to_string();
        let inner = err.into_inner();
        let (line, column) = inner
            .span()
            .map_or((1, 1), |span| line_column(text, span.start));
        let message = inner.message().trim().replace('\n', " ");
        if key == "." || key.is_empty() {
            format!("{line}:{column}: {message}")
        } else {
            format!("{line}:{column}: {key}: {message}")
        }
    })
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// A rule broken across keys: the message (starting with the key) and where to point.
#[derive(Debug)]
struct Broken {
    message: String,
    at: Place,
}

/// Where a broken rule is written.
#[derive(Debug)]
enum Place {
    /// The whole file.
    File,
    /// The `index`th `[[requests]]` entry, at its `key` if written.
    Request(usize, &'static str),
    /// The line holding this text (a threshold).
    Text(String),
}

impl Broken {
    /// The 1-based line of the file the rule points at, when it can be found.
    fn line(&self, text: &str) -> Option<usize> {
        match &self.at {
            Place::File => None,
            Place::Request(index, key) => request_line(text, *index, key),
            Place::Text(needle) => text
                .lines()
                .position(|line| line.contains(needle.as_str()))
                .map(|i| i + 1),
        }
    }
}

impl From<String> for Broken {
    fn from(message: String) -> Broken {
        Broken {
            message,
            at: Place::File,
        }
    }
}

/// The line of `key` in the `index`th `[[requests]]` table, or of the table's header.
fn request_line(text: &str, index: usize, key: &str) -> Option<usize> {
    let mut seen = 0;
    let mut header = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            if header.is_some() && !line.starts_with("[requests.") {
                break;
            }
            if line.replace(' ', "") == "[[requests]]" {
                seen += 1;
                if seen == index + 1 {
                    header = Some(i + 1);
                }
            }
            continue;
        }
        if header.is_some()
            && line
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            return Some(i + 1);
        }
    }
    header
}

/// Rules that span several keys.
fn check(file: &File) -> Result<(), Broken> {
    let load = &file.load;
    let shapes = [
        load.duration.is_some(),
        load.amount.is_some(),
        !load.stages.is_empty(),
    ];
    if shapes.iter().filter(|s| **s).count() > 1 {
        return Err(Broken::from(
            "load: give one of duration, amount or stages, not several".to_string(),
        ));
    }
    if !load.stages.is_empty() && load.rate.is_some() {
        return Err(Broken::from(
            "load: stages set their own rates; remove load.rate".to_string(),
        ));
    }
    let url_path = url_path(&file.target.url);
    let mut names = std::collections::BTreeSet::new();
    for (i, request) in file.requests.iter().enumerate() {
        let at = |key: &'static str, message: String| Broken {
            message,
            at: Place::Request(i, key),
        };
        let name = request.kind_name(&url_path);
        if !names.insert(name.clone()) {
            return Err(at("name", format!(
                "requests[{i}].name: two entries are named {name:?}; give each kind of request a name of its own"
            )));
        }
        if let Some(expect) = &request.expect {
            let count = expect.to_plan().count();
            if count > crate::plan::MAX_CHECKS {
                return Err(at(
                    "expect",
                    format!(
                        "requests[{i}].expect: {count} checks; at most {}",
                        crate::plan::MAX_CHECKS
                    ),
                ));
            }
        }
        if request.body.is_some() && request.body_file.is_some() {
            return Err(at(
                "body_file",
                format!("requests[{i}]: give body or body_file, not both"),
            ));
        }
        if let Some(path) = &request.path {
            if !path.starts_with('/') {
                return Err(at(
                    "path",
                    format!("requests[{i}].path: '{path}' must start with /"),
                ));
            }
        }
        for (name, value) in &request.headers {
            crate::plan::header(&format!("{name}: {value}"))
                .map_err(|why| at("headers", format!("requests[{i}].headers: {why}")))?;
        }
    }
    if file.requests.is_empty() {
        names.insert(crate::plan::RequestSpec::default_name("GET", &url_path));
    }
    for threshold in &file.check.thresholds {
        if let Some(kind) = threshold.kind() {
            known_kind(kind, &names).map_err(|why| Broken {
                message: format!("check.thresholds: threshold '{threshold}': {why}"),
                at: Place::Text(format!("{{{kind}}}")),
            })?;
        }
    }
    if file.target.command.is_none() && !file.target.env.is_empty() {
        return Err(Broken::from(
            "target.env is set but there is no target.command to give it to".to_string(),
        ));
    }
    Ok(())
}

/// Whether `kind` is one of `names`; the error lists them.
pub(crate) fn known_kind(
    kind: &str,
    names: &std::collections::BTreeSet<String>,
) -> Result<(), String> {
    if names.contains(kind) {
        return Ok(());
    }
    let list: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    Err(format!(
        "no kind of request is named {kind:?}; the kinds are {}",
        list.join(", ")
    ))
}

/// The path (and query) of a URL, `/` when it has none.
pub(crate) fn url_path(url: &str) -> String {
    url.parse::<http::Uri>()
        .ok()
        .and_then(|u| u.path_and_query().map(|p| p.as_str().to_string()))
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".to_string())
}

fn get() -> String {
    "GET".to_string()
}

fn one() -> u64 {
    1
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Seconds(f64),
    }
    let text = match Raw::deserialize(d)
        .map_err(|_| de::Error::custom("expected a duration like \"10s\" or \"500ms\""))?
    {
        Raw::Text(text) => text,
        Raw::Seconds(seconds) => seconds.to_string(),
    };
    crate::units::duration(&text).map_err(de::Error::custom)
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let value = i64::deserialize(d)?;
    u64::try_from(value)
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| de::Error::custom(format!("{value} must be a whole number above 0")))
}

fn opt_positive<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    positive(d).map(Some)
}

fn rate<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(d)?;
    crate::units::rate(&value.to_string()).map_err(de::Error::custom)
}

fn opt_rate<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    rate(d).map(Some)
}

fn kind_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let name = String::deserialize(d)?;
    let ok = !name.trim().is_empty()
        && name.len() <= 200
        && !name.chars().any(|c| c.is_control() || c == '{' || c == '}');
    if !ok {
        return Err(de::Error::custom(format!(
            "{name:?} is not a name for a kind of request: use 1 to 200 characters, without braces or control characters"
        )));
    }
    Ok(Some(name))
}

fn status_rule<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<crate::plan::StatusRule>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum One {
        Code(i64),
        Text(String),
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(One),
        List(Vec<One>),
    }
    let parts = match Raw::deserialize(d).map_err(|_| {
        de::Error::custom("expected a status: 200, \"2xx\" or a list like [200, 204]")
    })? {
        Raw::One(one) => vec![one],
        Raw::List(list) => list,
    };
    let mut rule = crate::plan::StatusRule::default();
    for part in parts {
        let text = match part {
            One::Code(code) => code.to_string(),
            One::Text(text) => text,
        };
        rule.add(text.trim()).map_err(de::Error::custom)?;
    }
    if rule == crate::plan::StatusRule::default() {
        return Err(de::Error::custom(
            "an empty list of statuses allows nothing",
        ));
    }
    Ok(Some(rule))
}

fn regex<'de, D: Deserializer<'de>>(d: D) -> Result<Option<regex::bytes::Regex>, D::Error> {
    let text = String::deserialize(d)?;
    regex::bytes::Regex::new(&text).map(Some).map_err(|err| {
        let why = err
            .to_string()
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_string();
        de::Error::custom(format!("/{text}/ is not a regular expression: {why}"))
    })
}

fn json_rules<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<(String, crate::plan::JsonRule)>, D::Error> {
    let table = BTreeMap::<String, toml::Value>::deserialize(d)?;
    table
        .into_iter()
        .map(|(pointer, value)| {
            if !(pointer.is_empty() || pointer.starts_with('/')) {
                return Err(de::Error::custom(format!(
                    "'{pointer}' is not a JSON pointer: write it like \"/results/0/id\""
                )));
            }
            let rule = match &value {
                toml::Value::String(text) if text == "exists" => crate::plan::JsonRule::Exists,
                other => crate::plan::JsonRule::Equals(
                    serde_json::to_value(other).map_err(de::Error::custom)?,
                ),
            };
            Ok((pointer, rule))
        })
        .collect()
}

fn method<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    crate::plan::method(&text).map_err(de::Error::custom)
}

fn url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    let uri: http::Uri = text.parse().map_err(|_| {
        de::Error::custom(format!(
            "'{text}' is not a URL; write it like \"http://127.0.0.1:3030/\""
        ))
    })?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some_and(|h| !h.is_empty()) => Ok(text),
        _ => Err(de::Error::custom(format!(
            "'{text}' is not an http:// or https:// URL with a host"
        ))),
    }
}

fn command<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Line(String),
        Words(Vec<String>),
    }
    let words = match Raw::deserialize(d).map_err(|_| {
        de::Error::custom("expected a command: [\"node\", \"app.js\"] or \"node app.js\"")
    })? {
        Raw::Line(line) => line.split_whitespace().map(str::to_string).collect(),
        Raw::Words(words) => words,
    };
    if words.first().is_none_or(|w| w.trim().is_empty()) {
        return Err(de::Error::custom("the command is empty"));
    }
    Ok(Some(words))
}

fn request_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(d)?;
    crate::plan::request_path(&text)
        .map(Some)
        .map_err(de::Error::custom)
}

fn trace_mode<'de, D: Deserializer<'de>>(d: D) -> Result<Option<crate::plan::TraceMode>, D::Error> {
    use crate::plan::TraceMode;
    match String::deserialize(d)?.as_str() {
        "auto" => Ok(Some(TraceMode::Auto)),
        "always" => Ok(Some(TraceMode::Always)),
        "off" => Ok(Some(TraceMode::Off)),
        other => Err(de::Error::custom(format!(
            "'{other}' is not a mode; use \"auto\", \"always\" or \"off\""
        ))),
    }
}

fn opt_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let text = String::deserialize(d)?;
    crate::units::byte_count(&text)
        .map(Some)
        .map_err(de::Error::custom)
}

fn opt_percent<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Number(f64),
    }
    let text = match Raw::deserialize(d)
        .map_err(|_| de::Error::custom("expected a percentage like \"5%\""))?
    {
        Raw::Text(text) => text,
        Raw::Number(n) => n.to_string(),
    };
    crate::units::percent(&text)
        .map(Some)
        .map_err(de::Error::custom)
}

fn thresholds<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Threshold>, D::Error> {
    let texts = Vec::<String>::deserialize(d)?;
    texts
        .iter()
        .map(|t| Threshold::parse(t).map_err(de::Error::custom))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[target]\nurl = \"http://127.0.0.1:3030/\"\n";

    #[test]
    fn a_minimal_file_has_defaults() {
        let file = parse(MINIMAL).unwrap();
        assert_eq!(file.target.url, "http://127.0.0.1:3030/");
        assert!(file.requests.is_empty() && file.check.thresholds.is_empty());
    }

    #[test]
    fn unknown_keys_name_line_column_and_path() {
        let text = format!("{MINIMAL}\n[load]\nconnections = 5\nconections = 5\n");
        let err = parse(&text).unwrap_err();
        assert!(
            err.starts_with("6:1: load.conections: unknown field `conections`"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        for (extra, expect) in [
            (
                "[load]\nduration = \"10 parsecs\"\n",
                "5:12: load.duration: unknown unit",
            ),
            (
                "[load]\nconnections = 0\n",
                "5:15: load.connections: 0 must be",
            ),
            (
                "[load]\nconnections = \"ten\"\n",
                "load.connections: invalid type",
            ),
            (
                "[check]\nthresholds = [\"p99<5ms\", \"p98<1ms\"]\n",
                "check.thresholds: threshold 'p98<1ms': unknown metric",
            ),
            ("[[requests]]\nmethod = \"GET /\"\n", "requests[0].method"),
        ] {
            let text = format!("{MINIMAL}\n{extra}");
            let err = parse(&text).unwrap_err();
            assert!(err.contains(expect), "{extra:?}: {err}");
        }
    }

    #[test]
    fn a_missing_url_is_named() {
        let err = parse("[target]\ncommand = \"node app.js\"\n").unwrap_err();
        assert!(err.contains("target: missing field `url`"), "{err}");
    }

    #[test]
    fn the_readme_example_is_a_valid_scenario() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("A complete example")
            .and_then(|at| readme[at..].find("```toml").map(|i| at + i + 7))
            .expect("README has the complete example");
        let end = start + readme[start..].find("```").unwrap();
        let file = parse(&readme[start..end]).unwrap_or_else(|e| panic!("README example: {e}"));
        check(&file).unwrap();
        assert_eq!(file.requests.len(), 2);
        assert_eq!(file.check.thresholds.len(), 10);
        assert_eq!(file.check.compare.max_rps_drop, Some(5.0));
        let search = file.requests[0].expect.as_ref().unwrap().to_plan();
        assert_eq!(search.count(), 7, "{:?}", search.names());
    }

    #[test]
    fn cross_key_rules_are_checked() {
        let text = format!("{MINIMAL}[load]\nduration = 5\namount = 100\n");
        let err = check(&parse(&text).unwrap()).unwrap_err();
        assert!(
            err.message.contains("one of duration, amount or stages"),
            "{err:?}"
        );
    }

    /// Writes `text` as a scenario file and loads it; the error as printed.
    fn load_error(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, text).unwrap();
        let err = load(&path).unwrap_err().0;
        err.replace(&path.display().to_string(), "s.toml")
    }

    #[test]
    fn kinds_and_checks_that_cannot_work_point_at_their_line() {
        let two = format!(
            "{MINIMAL}[[requests]]\npath = \"/a\"\n\n[[requests]]\nname = \"GET /a\"\npath = \"/b\"\n"
        );
        assert_eq!(
            load_error(&two),
            "s.toml:7: requests[1].name: two entries are named \"GET /a\"; give each kind of request a name of its own"
        );
        let unknown = format!(
            "{MINIMAL}[[requests]]\nname = \"search\"\n[check]\nthresholds = [\n  \"p99<5ms\",\n  \"p99{{serch}}<5ms\",\n]\n"
        );
        let err = load_error(&unknown);
        assert!(
            err.starts_with("s.toml:8: check.thresholds: threshold 'p99{serch}<5ms': no kind of request is named \"serch\"; the kinds are \"search\""),
            "{err}"
        );
        for (expect, message) in [
            ("colour = 1", "unknown field `colour`"),
            ("body_matches = \"(\"", "not a regular expression"),
            ("json = { \"results\" = \"exists\" }", "JSON pointer"),
            ("status = \"6xx\"", "not a status"),
        ] {
            let text =
                format!("{MINIMAL}[[requests]]\npath = \"/a\"\n[requests.expect]\n{expect}\n");
            let err = load_error(&text);
            assert!(
                err.starts_with("s.toml:6:")
                    && err.contains("requests[0].expect")
                    && err.contains(message),
                "{expect}: {err}"
            );
        }
    }
}
