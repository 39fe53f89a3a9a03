//! Thresholds: `p99<50ms`, `errors<1%`, `rps>5000`, `leak=none`. One grammar for the
//! command line (`--threshold`) and scenario files, checked against a finished result.
//!
//! A metric may name a kind of request in braces: `p99{search}<50ms`, `errors{login}<1%`,
//! `checks{search}>99%` (the share of its responses that passed every check),
//! `rps{search}>100`.
//!
//! A threshold on something the run did not measure (memory growth without a target, event
//! loop delay without the Node probe) fails and says why: a gate that passes on a missing
//! number would be a wrong answer.

use std::fmt;

use super::measure::{error_rate, kind_error_rate, loop_delay, memory_growth};
use crate::result::{FindingKind, KindResult, RunResult, ThresholdOutcome};
use crate::units;

/// One parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The text as written, trimmed; shown in reports and used as the JUnit test name.
    pub text: String,
    check: Check,
    /// The kind of request it is about (`p99{search}`), or none for the whole run.
    kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Check {
    /// A measured number compared with a limit.
    Compare { metric: Metric, op: Op, limit: f64 },
    /// No finding of this kind (`leak=none` is `finding!=memoryLeak`).
    NoFinding(FindingKind),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Metric {
    /// A latency percentile in ms, by its index in the result's percentile table.
    Latency(usize),
    LatencyMean,
    LatencyMax,
    Rps,
    Errors,
    ErrorRate,
    Non2xx,
    Non2xxRate,
    MemoryGrowth,
    MemoryGrowthPerRequest,
    LoopDelay,
    LoopDelayMax,
    /// Responses that passed every check, percent.
    Checks,
    /// The capacity search's answer, requests per second (`--find-max`).
    Capacity,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

#[derive(Debug, Clone, Copy)]
enum Unit {
    Ms,
    Count,
    Percent,
    Bytes,
    PerSecond,
}

/// The latency percentiles a threshold may name, in the order of the result's table.
const PERCENTILES: [(&str, usize); 9] = [
    ("p50", 7),
    ("p75", 8),
    ("p90", 9),
    ("p97.5", 10),
    ("p99", 11),
    ("p99.9", 12),
    ("p99.99", 13),
    ("p99.999", 14),
    ("median", 7),
];

const HELP: &str = "write it like 'p99<50ms', 'errors<1%', 'rps>5000', 'leak=none', \
                    'memory-growth<20MB', 'finding!=blockedEventLoop' or 'p99{search}<50ms'";

impl Threshold {
    /// Parses `METRIC OP VALUE` or `METRIC{KIND} OP VALUE`; the error says what was expected.
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let text = text.trim();
        // A kind's name may hold `=` and braces (`GET /s?q={{counter}}`): it ends at the
        // last `}`, and the comparison comes after it.
        let (metric_text, kind, rest) = match (text.find('{'), text.rfind('}')) {
            (Some(open), Some(close)) if open < close => (
                &text[..open],
                Some(text[open + 1..close].to_string()),
                &text[close + 1..],
            ),
            (Some(_), _) => {
                return Err(format!(
                    "threshold '{text}': a kind of request is written in braces, like 'p99{{search}}<50ms'"
                ))
            }
            _ => (text, None, text),
        };
        let (at, op_text) = find_operator(rest)
            .ok_or_else(|| format!("threshold '{text}' has no comparison; {HELP}"))?;
        let name = match kind {
            Some(_) => metric_text.trim().to_ascii_lowercase(),
            None => rest[..at].trim().to_ascii_lowercase(),
        };
        if kind.is_some() && !rest[..at].trim().is_empty() {
            return Err(format!(
                "threshold '{text}': the comparison must follow the kind's closing brace"
            ));
        }
        if kind.as_deref().is_some_and(|k| k.trim().is_empty()) {
            return Err(format!(
                "threshold '{text}': the braces are empty; name a kind of request, like 'p99{{search}}<50ms'"
            ));
        }
        let value = rest[at + op_text.len()..].trim();
        if name.is_empty() || value.is_empty() {
            return Err(format!("threshold '{text}' is incomplete; {HELP}"));
        }
        let check = match name.as_str() {
            "leak" | "finding" if kind.is_some() => {
                return Err(format!(
                    "threshold '{text}': findings are about the whole run; remove the braces"
                ))
            }
            "leak" => {
                if op_text != "=" && op_text != "==" || !value.eq_ignore_ascii_case("none") {
                    return Err(format!("threshold '{text}': write 'leak=none'"));
                }
                Check::NoFinding(FindingKind::MemoryLeak)
            }
            "finding" => {
                if op_text != "!=" {
                    return Err(format!(
                        "threshold '{text}': write 'finding!=KIND', e.g. 'finding!=gcPressure'"
                    ));
                }
                let kind = FindingKind::parse(value).ok_or_else(|| {
                    let kinds: Vec<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
                    format!(
                        "threshold '{text}': unknown finding '{value}'; use one of {}",
                        kinds.join(", ")
                    )
                })?;
                Check::NoFinding(kind)
            }
            _ => {
                let op = match op_text {
                    "<" => Op::Lt,
                    "<=" => Op::Le,
                    ">" => Op::Gt,
                    ">=" => Op::Ge,
                    "=" | "==" => Op::Eq,
                    _ => {
                        return Err(format!(
                            "threshold '{text}': compare numbers with <, <=, >, >= or ="
                        ))
                    }
                };
                let (metric, limit) = metric_and_limit(&name, value)
                    .map_err(|why| format!("threshold '{text}': {why}"))?;
                if kind.is_some() && !metric.per_kind() {
                    return Err(format!(
                        "threshold '{text}': {name} is measured for the whole target, not per kind of request; remove the braces"
                    ));
                }
                Check::Compare { metric, op, limit }
            }
        };
        Ok(Threshold {
            text: text.to_string(),
            check,
            kind,
        })
    }

    /// Whether it judges responses alone (latency, rate, errors, status codes, checks), as a
    /// step of the capacity search must be judged: not memory, the loop or findings.
    pub fn judges_responses(&self) -> bool {
        matches!(&self.check, Check::Compare { metric, .. } if metric.per_kind())
    }

    /// The kind of request it names, if any.
    pub fn kind(&self) -> Option<&str> {
        self.kind.as_deref()
    }

    /// Checks the threshold against a finished run.
    pub fn evaluate(&self, result: &RunResult) -> ThresholdOutcome {
        let (passed, actual) = match &self.check {
            Check::NoFinding(kind) => match result.findings.iter().find(|f| f.kind == *kind) {
                Some(finding) => (false, format!("found: {}", finding.title)),
                None => (true, format!("no {kind} finding")),
            },
            Check::Compare { metric, op, limit } => match self.measure(*metric, result) {
                Ok(value) => {
                    let passed = match op {
                        Op::Lt => value < *limit,
                        Op::Le => value <= *limit,
                        Op::Gt => value > *limit,
                        Op::Ge => value >= *limit,
                        Op::Eq => (value - *limit).abs() < 1e-9,
                    };
                    (passed, format_value(value, metric.unit()))
                }
                Err(why) => (false, format!("not measured: {why}")),
            },
        };
        ThresholdOutcome {
            threshold: self.text.clone(),
            passed,
            actual,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Metric {
    /// Whether each kind of request has its own value.
    fn per_kind(self) -> bool {
        matches!(
            self,
            Metric::Latency(_)
                | Metric::LatencyMean
                | Metric::LatencyMax
                | Metric::Rps
                | Metric::Errors
                | Metric::ErrorRate
                | Metric::Non2xx
                | Metric::Non2xxRate
                | Metric::Checks
        )
    }

    fn unit(self) -> Unit {
        match self {
            Metric::Latency(_)
            | Metric::LatencyMean
            | Metric::LatencyMax
            | Metric::LoopDelay
            | Metric::LoopDelayMax => Unit::Ms,
            Metric::Rps | Metric::Capacity => Unit::PerSecond,
            Metric::Errors | Metric::Non2xx => Unit::Count,
            Metric::ErrorRate | Metric::Non2xxRate | Metric::Checks => Unit::Percent,
            Metric::MemoryGrowth | Metric::MemoryGrowthPerRequest => Unit::Bytes,
        }
    }
}

/// The first comparison operator, longest match first.
fn find_operator(text: &str) -> Option<(usize, &'static str)> {
    let at = text.find(['<', '>', '=', '!'])?;
    let rest = &text[at..];
    ["<=", ">=", "!=", "==", "<", ">", "="]
        .into_iter()
        .find(|op| rest.starts_with(op))
        .map(|op| (at, op))
}

fn metric_and_limit(name: &str, value: &str) -> Result<(Metric, f64), String> {
    let percent = value.ends_with('%');
    let metric = match name {
        "mean" | "latency-mean" => Metric::LatencyMean,
        "max" | "latency-max" => Metric::LatencyMax,
        "rps" | "requests" => Metric::Rps,
        "errors" if percent => Metric::ErrorRate,
        "errors" => Metric::Errors,
        "non2xx" if percent => Metric::Non2xxRate,
        "non2xx" => Metric::Non2xx,
        "memory-growth" => Metric::MemoryGrowth,
        "memory-growth-per-request" => Metric::MemoryGrowthPerRequest,
        "loop-delay" | "loop-delay-p99" => Metric::LoopDelay,
        "loop-delay-max" => Metric::LoopDelayMax,
        "checks" if percent => Metric::Checks,
        "capacity" | "max-rate" => Metric::Capacity,
        "checks" => return Err("give checks as a share, like 'checks>99%'".to_string()),
        other => match PERCENTILES
            .iter()
            .find(|(p, _)| *p == other.trim_start_matches("latency-"))
        {
            Some((_, index)) => Metric::Latency(*index),
            None => {
                return Err(format!(
                    "unknown metric '{other}'; use p50, p75, p90, p97.5, p99, p99.9, mean, \
                     max, rps, errors, non2xx, checks, capacity, memory-growth, memory-growth-per-request, \
                     loop-delay, loop-delay-max, leak or finding"
                ))
            }
        },
    };
    let limit = match metric.unit() {
        Unit::Ms => units::millis(value)?,
        Unit::Percent => units::percent(value)?,
        Unit::Count | Unit::PerSecond => units::number_at_least_zero(value)?,
        Unit::Bytes => units::size(value)?,
    };
    Ok((metric, limit))
}

fn format_value(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Ms => format!("{value:.2} ms"),
        Unit::Count => format!("{value:.0}"),
        Unit::Percent => format!("{value:.3} %"),
        Unit::PerSecond => format!("{value:.1} req/s"),
        Unit::Bytes => units::bytes(value),
    }
}

impl Threshold {
    /// The measured value of `metric` for the threshold's kind or the whole run, or why
    /// there is none.
    fn measure(&self, metric: Metric, result: &RunResult) -> Result<f64, String> {
        let Some(name) = &self.kind else {
            return measure(metric, result);
        };
        let kind = result
            .kinds
            .iter()
            .find(|k| k.name == *name)
            .ok_or_else(|| format!("the run has no kind of request named {name:?}"))?;
        measure_kind(metric, kind)
    }
}

/// The measured value of `metric` for one kind of request.
fn measure_kind(metric: Metric, kind: &KindResult) -> Result<f64, String> {
    let responses = kind.requests.total as f64;
    let non2xx: u64 = kind
        .status_codes
        .iter()
        .filter(|(code, _)| !code.starts_with('2'))
        .map(|(_, count)| count.count)
        .sum();
    match metric {
        Metric::Latency(_) | Metric::LatencyMean | Metric::LatencyMax if responses == 0.0 => {
            Err("no responses".to_string())
        }
        Metric::Latency(index) => Ok(kind.latency.percentiles.values()[index]),
        Metric::LatencyMean => Ok(kind.latency.mean),
        Metric::LatencyMax => Ok(kind.latency.max),
        Metric::Rps => Ok(kind.requests.overall),
        Metric::Errors => Ok(kind.errors as f64),
        Metric::ErrorRate => kind_error_rate(kind)
            .map(|rate| 100.0 * rate)
            .ok_or_else(|| "no requests completed".to_string()),
        Metric::Non2xx => Ok(non2xx as f64),
        Metric::Non2xxRate if responses == 0.0 => Err("no requests completed".to_string()),
        Metric::Non2xxRate => Ok(100.0 * non2xx as f64 / responses),
        Metric::Checks => checks_passed(kind),
        _ => Err("not measured per kind of request".to_string()),
    }
}

/// Responses of `kind` that passed every check, percent.
fn checks_passed(kind: &KindResult) -> Result<f64, String> {
    if kind.checks.is_empty() {
        return Err(format!("{:?} has no checks (give it an expect)", kind.name));
    }
    kind.checks_passed()
        .map(|share| 100.0 * share)
        .ok_or_else(|| "no responses".to_string())
}

/// The measured value of `metric`, or why the run has none.
fn measure(metric: Metric, result: &RunResult) -> Result<f64, String> {
    let responses = result.requests.total as f64;
    let rate = |count: u64, of: f64| {
        if of > 0.0 {
            Ok(100.0 * count as f64 / of)
        } else {
            Err("no requests completed".to_string())
        }
    };
    match metric {
        Metric::Latency(_) | Metric::LatencyMean | Metric::LatencyMax if responses == 0.0 => {
            Err("no responses".to_string())
        }
        Metric::Latency(index) => Ok(result.latency.percentiles.values()[index]),
        Metric::LatencyMean => Ok(result.latency.mean),
        Metric::LatencyMax => Ok(result.latency.max),
        Metric::Rps => Ok(result.requests.overall),
        Metric::Capacity => match &result.capacity {
            Some(capacity) => capacity
                .max_rate
                .ok_or_else(|| "no rate passed the search's rules".to_string()),
            None => Err("no capacity search ran: add --find-max RULE".to_string()),
        },
        Metric::Errors => Ok(result.errors as f64),
        Metric::ErrorRate => error_rate(result)
            .map(|rate| 100.0 * rate)
            .ok_or_else(|| "no requests completed".to_string()),
        Metric::Non2xx => Ok(result.non2xx as f64),
        Metric::Non2xxRate => rate(result.non2xx, responses),
        Metric::MemoryGrowth => memory_growth(result).map(|g| g as f64),
        Metric::MemoryGrowthPerRequest if responses == 0.0 => Err("no responses".to_string()),
        Metric::MemoryGrowthPerRequest => memory_growth(result).map(|g| g as f64 / responses),
        Metric::LoopDelay => loop_delay(result, |s| s.delay_p99),
        Metric::LoopDelayMax => loop_delay(result, |s| s.delay_max),
        Metric::Checks => {
            let checked: Vec<&KindResult> = result
                .kinds
                .iter()
                .filter(|k| !k.checks.is_empty())
                .collect();
            if checked.is_empty() {
                return Err("no request has checks (give one an expect)".to_string());
            }
            let total: u64 = checked.iter().map(|k| k.requests.total).sum();
            let failed: u64 = checked
                .iter()
                .filter_map(|k| k.errors_by_kind.get("check"))
                .map(|e| e.count)
                .sum();
            if total == 0 {
                return Err("no responses".to_string());
            }
            Ok(100.0 * (1.0 - failed as f64 / total as f64))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_forms_parse() {
        for text in [
            "p99<50ms",
            "p99 < 50ms",
            "p97.5<=1s",
            "errors<1%",
            "errors<=10",
            "errors = 0",
            "rps>5000",
            "rps >= 1_000",
            "leak=none",
            "memory-growth<20MB",
            "memory-growth-per-request<1KiB",
            "loop-delay<100ms",
            "finding!=blockedEventLoop",
            "finding != gcpressure",
        ] {
            Threshold::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }

    #[test]
    fn limits_are_read_in_their_units() {
        let limit = |text: &str| match Threshold::parse(text).unwrap().check {
            Check::Compare { limit, .. } => limit,
            Check::NoFinding(_) => panic!("{text} is not a comparison"),
        };
        assert_eq!(limit("p99<50"), 50.0);
        assert_eq!(limit("p99<1.5s"), 1500.0);
        assert_eq!(limit("p99<800us"), 0.8);
        assert_eq!(limit("memory-growth<2MiB"), 2.0 * 1024.0 * 1024.0);
        assert_eq!(limit("memory-growth<2MB"), 2e6);
        assert_eq!(limit("errors<0.5%"), 0.5);
    }

    /// A real result (3,000 requests to a Node hello server, saved by harness).
    fn result() -> RunResult {
        serde_json::from_str(include_str!("../analyse/testdata/base.json")).unwrap()
    }

    fn check(text: &str, result: &RunResult) -> ThresholdOutcome {
        Threshold::parse(text).unwrap().evaluate(result)
    }

    #[test]
    fn thresholds_are_checked_against_the_measured_values() {
        let mut result = result();
        let p99 = result.latency.percentiles.p99;
        assert!(check(&format!("p99 <= {p99}ms"), &result).passed);
        assert!(!check(&format!("p99 < {p99}ms"), &result).passed);
        assert_eq!(check("rps > 1", &result).actual, "17057.3 req/s");
        assert!(check("errors = 0", &result).passed);
        // Heap + external kept from the baseline floor to the cooldown floor.
        let growth = check("memory-growth < 1MB", &result);
        assert_eq!(growth.actual, crate::units::bytes(642_280.0));
        assert!(growth.passed);
        assert!(!check("memory-growth-per-request < 100B", &result).passed);
        result.errors = 30;
        let rate = check("errors < 1%", &result);
        assert_eq!(rate.actual, "0.990 %");
        assert!(rate.passed);
        assert!(!check("errors < 0.5%", &result).passed);
        result.node.clear();
        result.process = None;
        let unmeasured = check("memory-growth < 1GB", &result);
        assert!(!unmeasured.passed && unmeasured.actual.starts_with("not measured"));
        assert!(!check("loop-delay < 1s", &result).passed);
    }

    #[test]
    fn finding_thresholds_fail_on_their_finding_only() {
        let mut result = result();
        crate::analyse::annotate(&mut result);
        assert!(check("leak = none", &result).passed);
        result.findings.push(crate::result::FindingEntry {
            kind: FindingKind::MemoryLeak,
            severity: crate::result::Severity::Critical,
            title: "Memory leak".to_string(),
            advice: String::new(),
            evidence: Vec::new(),
            confirmation: None,
        });
        let leak = check("leak = none", &result);
        assert!(
            !leak.passed && leak.actual == "found: Memory leak",
            "{leak:?}"
        );
        assert!(check("finding != gcPressure", &result).passed);
    }

    #[test]
    fn bad_thresholds_say_what_to_write() {
        for (text, expect) in [
            ("p99", "no comparison"),
            ("p98<5ms", "unknown metric"),
            ("p99<fast", "not a duration"),
            ("p99<5 parsecs", "unknown unit"),
            ("leak<3", "leak=none"),
            ("finding!=slowness", "unknown finding"),
            ("rps!=5", "compare numbers"),
            ("<5", "incomplete"),
        ] {
            let err = Threshold::parse(text).unwrap_err();
            assert!(err.contains(expect), "{text}: {err}");
        }
    }

    #[test]
    fn a_threshold_may_name_a_kind_of_request() {
        let kind = |text: &str| Threshold::parse(text).unwrap().kind;
        assert_eq!(kind("p99{search}<50ms").as_deref(), Some("search"));
        assert_eq!(
            kind("p99{GET /s?q={{counter}}} < 5ms").as_deref(),
            Some("GET /s?q={{counter}}")
        );
        assert_eq!(kind("checks{login} >= 99.5%").as_deref(), Some("login"));
        assert_eq!(kind("p99<50ms"), None);
        for (text, expect) in [
            ("p99{}<5ms", "braces are empty"),
            ("p99{search<5ms", "in braces"),
            ("leak{search}=none", "whole run"),
            ("loop-delay{search}<5ms", "not per kind"),
            ("p99{a} x < 5ms", "must follow"),
            ("checks > 99", "as a share"),
        ] {
            let err = Threshold::parse(text).unwrap_err();
            assert!(err.contains(expect), "{text}: {err}");
        }
    }

    #[test]
    fn kind_thresholds_read_their_kind() {
        let mut result = result();
        let mut search = crate::result::KindResult {
            name: "search".to_string(),
            requests: crate::result::KindRequests {
                total: 90,
                sent: 100,
                failed: 10,
                unfinished: 0,
                overall: 9.0,
            },
            latency: result.latency.clone(),
            errors: 19,
            errors_by_kind: Default::default(),
            status_codes: Default::default(),
            checks: vec![crate::result::CheckResult {
                check: "body contains \"ok\"".to_string(),
                passed: 81,
                failed: 9,
                example: None,
            }],
            histogram: None,
            series: Vec::new(),
        };
        search.latency.percentiles.p99 = 42.0;
        search.errors_by_kind.insert(
            "check".to_string(),
            crate::result::ErrorCount {
                count: 9,
                example: None,
            },
        );
        result.kinds = vec![search];
        assert_eq!(check("p99{search} < 50ms", &result).actual, "42.00 ms");
        assert_eq!(check("checks{search} > 99%", &result).actual, "90.000 %");
        assert!(!check("checks{search} > 99%", &result).passed);
        assert!(!check("checks > 99%", &result).passed);
        // 19 errors in 100 attempts: 10 failed requests, 9 failed checks of responses.
        assert_eq!(check("errors{search} < 1%", &result).actual, "19.000 %");
        assert_eq!(check("rps{search} > 1", &result).actual, "9.0 req/s");
        let missing = check("p99{login} < 1s", &result);
        assert!(!missing.passed && missing.actual.contains("no kind of request named"));
    }
}
