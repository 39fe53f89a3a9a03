//! The plain description of a run, resolved once from the command line (and, later, scenario
//! files) and read by every stage after. No clap types here: `cli` builds it, `load` and
//! `report` consume it.

mod expect;

pub(crate) use expect::{Expect, JsonRule, StatusRule, MAX_CHECKS};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;

/// Bad input: the run never starts, nothing is sent. Exits with [`crate::exit::USAGE`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub String);

/// Everything a run needs, validated.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// What load to generate and where to send it.
    pub load: LoadPlan,
    /// How to present the result.
    pub output: OutputPlan,
    /// The target process to start or watch, if any.
    pub watch: Option<WatchPlan>,
    /// Rules the run must meet, or it exits with [`crate::exit::FAILED`].
    pub thresholds: Vec<crate::analyse::Threshold>,
    /// The scenario's name, when the plan came from a scenario file.
    pub scenario: Option<String>,
    /// `--start-at`: the wall-clock instant the load begins, shared by every shard.
    pub start_at: Option<std::time::SystemTime>,
    /// `--find-max`: search for the highest rate the server sustains instead of one load.
    pub find_max: Option<FindMax>,
}

/// The capacity search (`--find-max`).
#[derive(Debug, Clone)]
pub(crate) struct FindMax {
    /// The user's rules, each judging one step's responses.
    pub rules: Vec<crate::analyse::Threshold>,
    /// The first rate; `None`: half a closed-model probe's throughput.
    pub start: Option<f64>,
    /// Each step's length.
    pub step: Duration,
    /// The answer's precision, a share (0.05).
    pub precision: f64,
    /// The whole search's time limit.
    pub max_duration: Duration,
}

/// The target process and how to watch it.
#[derive(Debug, Clone)]
pub(crate) struct WatchPlan {
    /// Start a command, or watch a running process.
    pub target: TargetSpec,
    /// Environment added to the command's (`PORT`, unless the user set it).
    pub env: Vec<(String, String)>,
    /// The command's working directory (harness's own when `None`).
    pub cwd: Option<PathBuf>,
    /// How long the target may take to accept connections.
    pub ready_timeout: Duration,
    /// Idle phase before the load.
    pub baseline: Idle,
    /// Idle phase after the load.
    pub cooldown: Idle,
    /// Sampling interval.
    pub sample_interval: Duration,
    /// Time between SIGINT and SIGTERM when stopping the target.
    pub grace: Duration,
    /// Inject the Node probe (into a started target, or through the inspector of a Node
    /// process given with `--pid`).
    pub probe: bool,
    /// `--inspect`: the inspector of the `--pid` process is already open here.
    pub inspect: Option<std::net::SocketAddr>,
    /// Heap snapshots of Node processes (the heap trace).
    pub heap: TraceMode,
    /// CPU profiles of Node processes (the CPU trace).
    pub profile: TraceMode,
    /// What traced requests wait on, in Node processes (the I/O trace).
    pub io_trace: TraceMode,
    /// No snapshot of a process whose used heap is over this many bytes.
    pub heap_limit: u64,
    /// The URL's port was 0, so harness chose a free one (given to the target as `PORT`);
    /// a second copy of the target (the heap trace's) gets a free port of its own.
    pub free_port: bool,
}

/// How long an idle phase (the baseline, the cooldown) lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idle {
    /// Until the target is at rest (see `run::rest`), at least [`Idle::MIN`], at most this.
    UntilRest(Duration),
    /// Exactly this long (`--baseline D`, `--cooldown D`, or the scenario keys).
    Fixed(Duration),
}

impl Idle {
    /// The shortest idle phase that ends at rest: enough samples to see the target idle.
    pub(crate) const MIN: Duration = Duration::from_millis(500);
    /// The longest default baseline.
    pub(crate) const BASELINE: Duration = Duration::from_secs(3);
    /// The longest default cooldown.
    pub(crate) const COOLDOWN: Duration = Duration::from_secs(6);

    /// The longest the phase may last.
    pub(crate) fn max(self) -> Duration {
        match self {
            Idle::UntilRest(max) | Idle::Fixed(max) => max,
        }
    }
}

/// When an unmeasured trace after the measured run happens: the heap trace (on a second
/// copy of the target, between heap snapshots) or the CPU trace (a CPU profile of the
/// measured target after its cooldown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TraceMode {
    /// Never (`--no-heap`, `--no-profile`, or no Node probe).
    Off,
    /// When the measured run found what the trace explains: a memory or listener leak for
    /// the heap trace; a blocked loop, GC pressure or costly requests at capacity for the
    /// CPU trace.
    Auto,
    /// Always (`--heap`, `--profile`).
    Always,
}

/// Which process is the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TargetSpec {
    /// harness starts this command in its own process group and stops it at the end.
    Command(Vec<String>),
    /// An already running process, watched but never signalled.
    Pid(u32),
}

/// The load generator's part of the plan.
#[derive(Debug, Clone)]
pub(crate) struct LoadPlan {
    /// The URL as the user wrote it (with any credentials removed), for display.
    pub url: String,
    /// Where requests go.
    pub target: Target,
    /// The requests to send, chosen by weight (never empty; usually one).
    pub requests: Vec<RequestSpec>,
    /// Number of connections kept open.
    pub connections: usize,
    /// Requests in flight per connection (HTTP/1.1 pipelining, or HTTP/2 streams).
    pub pipelining: usize,
    /// When the measured load ends.
    pub stop: Stop,
    /// Load sent before measuring starts; its requests are not recorded.
    pub warmup: Duration,
    /// Open model: total requests per second across all connections. `None` is the closed
    /// model, where a connection sends its next request when the previous one completes.
    /// With `stages`, the first stage's rate (warmup runs at it).
    pub rate: Option<f64>,
    /// Open-model stages run one after another (a ramp); empty for one constant rate. Their
    /// durations add up to the `stop` duration.
    pub stages: Vec<Stage>,
    /// How long a request may wait for its response before it counts as a timeout.
    pub timeout: Duration,
    /// Worker threads, each running its share of the connections.
    pub workers: usize,
    /// Stop the run after this many errors.
    pub bailout: Option<u64>,
    /// Speak HTTP/2 (ALPN over TLS, prior knowledge over plain TCP or a Unix socket).
    pub http2: bool,
    /// TLS settings for `https://` URLs.
    pub tls: TlsPlan,
    /// This run is one part of a sharded load (`--shard I/N`): the numbers above are already
    /// its share; `{{counter}}` values are interleaved with the other shards'.
    pub shard: Option<Shard>,
}

/// The I-th of N equal parts of a load (`--shard I/N`, I from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// From 1 to `count`.
    pub index: u64,
    /// How many shards share the load.
    pub count: u64,
}

impl Shard {
    /// The environment variable a Kubernetes Indexed Job sets: the pod's index, from 0.
    pub const JOB_INDEX: &'static str = "JOB_COMPLETION_INDEX";

    /// Parses `I/N`, or `index/N` with I taken from [`Shard::JOB_INDEX`] (plus one); `env`
    /// reads the environment.
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let (index, count) = text
            .split_once('/')
            .ok_or_else(|| format!("'{text}' is not I/N; e.g. --shard 1/4, or --shard index/4 in a Kubernetes Indexed Job"))?;
        let count: u64 = count
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| format!("'{text}': N must be a whole number from 1 to 10000"))?;
        let index = if index.trim() == "index" {
            let value = env(Self::JOB_INDEX).ok_or_else(|| {
                format!("'{text}': {} is not set (a Kubernetes Indexed Job sets it); give the shard's number instead, e.g. 1/{count}", Self::JOB_INDEX)
            })?;
            value.trim().parse::<u64>().map(|i| i + 1).map_err(|_| {
                format!(
                    "'{text}': {}={value} is not a whole number",
                    Self::JOB_INDEX
                )
            })?
        } else {
            index
                .trim()
                .parse()
                .map_err(|_| format!("'{text}': I must be a whole number from 1 to {count}"))?
        };
        if index == 0 || index > count {
            return Err(format!(
                "'{text}': shard {index} of {count} does not exist; shards are numbered 1 to {count}"
            ));
        }
        Ok(Shard { index, count })
    }

    /// This shard's part of `total` whole things: equal parts, the remainder to the first
    /// shards.
    pub fn part(self, total: u64) -> u64 {
        total / self.count + u64::from(self.index <= total % self.count)
    }
}

impl LoadPlan {
    /// The same load sent to another port of the same host (a second copy of the target).
    pub(crate) fn with_port(&self, port: u16) -> LoadPlan {
        let mut plan = self.clone();
        let old = self.target.addrs.first().map(|a| a.port());
        for addr in &mut plan.target.addrs {
            addr.set_port(port);
        }
        if let Some(old) = old {
            let suffix = format!(":{old}");
            if let Some(host) = self.target.authority.strip_suffix(&suffix) {
                plan.target.authority = format!("{host}:{port}");
                plan.url = self
                    .url
                    .replacen(&self.target.authority, &plan.target.authority, 1);
            }
        }
        plan
    }
}

/// When the measured part of a run ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Stop {
    /// After this long.
    After(Duration),
    /// After this many requests have completed or failed.
    Amount(u64),
}

/// Where the connections go.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// `https` when true.
    pub tls: bool,
    /// Host name used for SNI and certificate checks.
    pub host: String,
    /// The `Host` header / `:authority` value.
    pub authority: String,
    /// Path and query of every request.
    pub path: String,
    /// Resolved address, in the order to try them (empty with a Unix socket).
    pub addrs: Vec<SocketAddr>,
    /// Connect to this Unix socket instead of a TCP address.
    pub socket_path: Option<PathBuf>,
}

/// A stage of a ramp: this rate for this long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stage {
    /// How long the stage lasts.
    pub duration: Duration,
    /// Total requests per second during it.
    pub rate: f64,
}

/// One kind of request.
#[derive(Debug, Clone)]
pub(crate) struct RequestSpec {
    /// Method, upper case.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Extra headers in the order given, names as typed.
    pub headers: Vec<(String, String)>,
    /// Request body (empty for none).
    pub body: Bytes,
    /// Relative share of the requests sent.
    pub weight: u64,
    /// The path, header values and body hold placeholders (`{{counter}}`, ...) to fill in
    /// for every request; set for scenario files, never for command-line flags.
    pub placeholders: bool,
    /// The kind of request it is, as results, thresholds and traces name it: the entry's
    /// `name`, or its method and its path as written (`GET /search?q={{counter}}`).
    pub name: String,
    /// What its responses must be.
    pub expect: Expect,
}

impl RequestSpec {
    /// The default name of a kind: its method and its path as written, placeholders included
    /// (`GET /search?q={{counter}}`), secret query values redacted (`?token=[redacted]`).
    pub(crate) fn default_name(method: &str, path: &str) -> String {
        format!("{method} {}", crate::redact::query(path))
    }
}

/// TLS options.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsPlan {
    /// Accept any server certificate.
    pub insecure: bool,
    /// Extra CA certificates to trust, besides the system's (read from `--cacert`).
    pub extra_roots: Vec<rustls_pki_types::CertificateDer<'static>>,
}

/// How results are shown.
#[derive(Debug, Clone)]
pub(crate) struct OutputPlan {
    /// Print the JSON result document on stdout instead of tables.
    pub json: bool,
    /// Print the full latency percentile table.
    pub latency_table: bool,
    /// Show a progress bar (only ever on a terminal).
    pub progress: bool,
    /// Use colour (only ever on a terminal, never with `NO_COLOR`).
    pub color: bool,
    /// Write `result.json` and `report.html` here.
    pub report_dir: Option<PathBuf>,
    /// `report_dir` is harness's default: a new directory, never one that exists.
    pub fresh_dir: bool,
    /// Also write the HTML report to this path.
    pub html: Option<PathBuf>,
    /// Also write the JSON result to this path.
    pub json_file: Option<PathBuf>,
    /// Write the thresholds' outcomes as JUnit XML to this path.
    pub junit: Option<PathBuf>,
    /// Append a Markdown summary to this file (`--summary-md`, `$GITHUB_STEP_SUMMARY`).
    pub summary_md: Option<PathBuf>,
}

/// Parses a `Name: value` header. The name must be an HTTP token; neither part may contain
/// a line break.
pub(crate) fn header(text: &str) -> Result<(String, String), String> {
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

/// Parses an HTTP method: an upper- or lower-case token, returned upper case.
pub(crate) fn method(text: &str) -> Result<String, String> {
    if text.is_empty() || !text.bytes().all(is_token_byte) {
        return Err(format!("'{text}' is not an HTTP method"));
    }
    Ok(text.to_ascii_uppercase())
}

/// RFC 9110 token characters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Checks a request path from a scenario file (`/search?q={{counter}}`): it starts with `/`,
/// has no space or control byte (they would end the request line or inject a header), and
/// other non-ASCII characters are percent-encoded as a URL on the command line would be.
pub(crate) fn request_path(text: &str) -> Result<String, String> {
    if !text.starts_with('/') {
        return Err(format!(
            "'{text}' does not start with '/'; write e.g. /search?q=x"
        ));
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == ' ' || c.is_control() {
            return Err(format!(
                "{:?} has a space or control character; percent-encode it (%20 for a space)",
                text
            ));
        }
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut utf8 = [0u8; 4];
            for byte in c.encode_utf8(&mut utf8).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    Ok(out)
}

/// Every threshold that names a kind of request names one of the plan's; the error says
/// which kinds there are.
pub(crate) fn check_threshold_kinds(plan: &Plan) -> Result<(), String> {
    let names: std::collections::BTreeSet<String> =
        plan.load.requests.iter().map(|r| r.name.clone()).collect();
    for threshold in &plan.thresholds {
        if let Some(kind) = threshold.kind() {
            if !names.contains(kind) {
                let list: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
                return Err(format!(
                    "--threshold '{threshold}': no kind of request is named {kind:?}; the kinds are {}",
                    list.join(", ")
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn request_paths_refuse_injection_and_encode_non_ascii() {
        assert_eq!(
            request_path("/a?q={{counter}}"),
            Ok("/a?q={{counter}}".to_string())
        );
        assert_eq!(request_path("/caf\u{e9}"), Ok("/caf%C3%A9".to_string()));
        for bad in [
            "/a HTTP/1.1\r\nX-Injected: yes",
            "/a b",
            "/a\u{7f}",
            "a",
            "",
        ] {
            assert!(request_path(bad).is_err(), "{bad:?}");
        }
    }

    /// A closed-model plan for 127.0.0.1:1 sending `requests`, for unit tests.
    pub fn load_plan(requests: Vec<RequestSpec>) -> LoadPlan {
        LoadPlan {
            url: "http://127.0.0.1:1/".to_string(),
            target: Target {
                tls: false,
                host: "127.0.0.1".to_string(),
                authority: "127.0.0.1:1".to_string(),
                path: "/".to_string(),
                addrs: vec!["127.0.0.1:1".parse().unwrap()],
                socket_path: None,
            },
            requests,
            connections: 1,
            pipelining: 1,
            stop: Stop::After(Duration::from_secs(1)),
            warmup: Duration::ZERO,
            rate: None,
            stages: Vec::new(),
            timeout: Duration::from_secs(1),
            workers: 1,
            bailout: None,
            http2: false,
            tls: TlsPlan::default(),
            shard: None,
        }
    }

    #[test]
    fn shards_split_the_remainder_to_the_first_and_read_the_job_index() {
        let none = |_: &str| None;
        let shard = |i, n| Shard { index: i, count: n };
        assert_eq!(Shard::parse("2/3", none), Ok(shard(2, 3)));
        let parts: Vec<u64> = (1..=3).map(|i| shard(i, 3).part(10)).collect();
        assert_eq!(parts, [4, 3, 3]);
        let job = |name: &str| (name == Shard::JOB_INDEX).then(|| "0".to_string());
        assert_eq!(Shard::parse("index/4", job), Ok(shard(1, 4)));
        assert!(Shard::parse("index/4", none)
            .unwrap_err()
            .contains("JOB_COMPLETION_INDEX is not set"));
        for bad in ["0/2", "3/2", "2", "a/2", "1/0"] {
            assert!(Shard::parse(bad, none).is_err(), "{bad}");
        }
    }
}
