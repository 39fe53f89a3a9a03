//! Thresholds: `p99<50ms`, `errors<1%`, `rps>5000`, `leak=none`. One grammar for the
//! command line (`--threshold`) and scenario files, checked against a finished result.
//!
//! A threshold on something the run did not measure (memory growth without a target, event
//! loop delay without the Node probe) fails and says why: a gate that passes on a missing
//! number would be a wrong answer.

use std::fmt;

use super::measure::{error_rate, loop_delay, memory_growth};
use crate::result::{FindingKind, RunResult, ThresholdOutcome};
use crate::units;

/// One parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The text as written, trimmed; shown in reports and used as the JUnit test name.
    pub text: String,
    check: Check,
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
                    'memory-growth<20MB' or 'finding!=blockedEventLoop'";

impl Threshold {
    /// Parses `METRIC OP VALUE`; the error says what was expected.
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let text = text.trim();
        let (at, op_text) = find_operator(text)
            .ok_or_else(|| format!("threshold '{text}' has no comparison; {HELP}"))?;
        let name = text[..at].trim().to_ascii_lowercase();
        let value = text[at + op_text.len()..].trim();
        if name.is_empty() || value.is_empty() {
            return Err(format!("threshold '{text}' is incomplete; {HELP}"));
        }
        let check = match name.as_str() {
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
                Check::Compare { metric, op, limit }
            }
        };
        Ok(Threshold {
            text: text.to_string(),
            check,
        })
    }

    /// Checks the threshold against a finished run.
    pub fn evaluate(&self, result: &RunResult) -> ThresholdOutcome {
        let (passed, actual) = match &self.check {
            Check::NoFinding(kind) => match result.findings.iter().find(|f| f.kind == *kind) {
                Some(finding) => (false, format!("found: {}", finding.title)),
                None => (true, format!("no {kind} finding")),
            },
            Check::Compare { metric, op, limit } => match measure(*metric, result) {
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
    fn unit(self) -> Unit {
        match self {
            Metric::Latency(_)
            | Metric::LatencyMean
            | Metric::LatencyMax
            | Metric::LoopDelay
            | Metric::LoopDelayMax => Unit::Ms,
            Metric::Rps => Unit::PerSecond,
            Metric::Errors | Metric::Non2xx => Unit::Count,
            Metric::ErrorRate | Metric::Non2xxRate => Unit::Percent,
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
        other => match PERCENTILES
            .iter()
            .find(|(p, _)| *p == other.trim_start_matches("latency-"))
        {
            Some((_, index)) => Metric::Latency(*index),
            None => {
                return Err(format!(
                    "unknown metric '{other}'; use p50, p75, p90, p97.5, p99, p99.9, mean, \
                     max, rps, errors, non2xx, memory-growth, memory-growth-per-request, \
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
}
