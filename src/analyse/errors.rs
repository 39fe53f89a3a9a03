//! Failed requests, responses outside 2xx, and a target that crashed; and which problem the
//! failures are a consequence of.
//!
//! - [`ERROR_RATE`], [`ERROR_RATE_HIGH`]: one failed request in a hundred is a problem worth
//!   a finding; one in ten is the run's main problem.
//! - [`NON2XX_RATE`]: one response in a hundred outside 2xx is worth a finding.
//! - Errors that come with a crash, a blocked loop, GC pressure, or a leak are that problem's
//!   consequence ([`link_consequences`]), and so are timeouts and connection errors that come
//!   with a saturated server (its loop 90 % busy: the requests waited in line, whether or not
//!   the wait showed as loop delay; at 2,500 connections a server 100 % busy and 24 % in GC
//!   timed out 22 % of its requests): the problem is the verdict and says how many requests
//!   failed as a result; the errors finding stays (for thresholds), named as the consequence.

use super::finding::{pair, Consequence, Detail, Finding};
use super::measure;
use crate::result::{FindingKind, RunResult, Severity};

/// An error rate from which errors are a problem.
pub(super) const ERROR_RATE: f64 = 0.01;
/// An error rate from which errors are the main problem.
pub(super) const ERROR_RATE_HIGH: f64 = 0.10;
/// A share of non-2xx responses worth a finding.
pub(super) const NON2XX_RATE: f64 = 0.01;

/// Requests failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Errors {
    /// Errors, timeouts included.
    pub errors: u64,
    /// Timeouts.
    pub timeouts: u64,
    /// errors / (responses + errors).
    pub rate: f64,
    /// The most frequent kind.
    pub main_kind: String,
    /// The kind of request that had most of them (several kinds only).
    pub under: Option<String>,
    /// With failed checks the most frequent: the check most failed and its first mismatch.
    pub check: Option<(String, Option<String>)>,
    /// The problem they are a consequence of ("the blocked event loop"), if harness saw one:
    /// that problem is then the verdict.
    pub cause: Option<&'static str>,
}

/// Responses outside 2xx.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Non2xx {
    /// How many.
    pub count: u64,
    /// Share of responses.
    pub rate: f64,
    /// The most frequent code.
    pub main_code: String,
    /// The kind of request that had most of them (several kinds only).
    pub under: Option<String>,
}

/// A kind of request holding this share of a run's errors (or non-2xx responses) is where
/// they happen: the finding names it.
pub(super) const KIND_SHARE: f64 = 0.8;

/// The kind of request that holds most (at least [`KIND_SHARE`]) of what `count` counts,
/// when the run has several kinds.
pub(super) fn dominant_kind(
    result: &RunResult,
    count: impl Fn(&crate::result::KindResult) -> u64,
) -> Option<String> {
    if result.kinds.len() < 2 {
        return None;
    }
    let total: u64 = result.kinds.iter().map(&count).sum();
    let top = result.kinds.iter().max_by_key(|k| count(k))?;
    (total > 0 && count(top) as f64 >= KIND_SHARE * total as f64).then(|| top.name.clone())
}

/// The check failed most often (the first of equals), named with its kind when the run
/// has several and its errors are not mostly under that kind; and its first mismatch.
fn most_failed_check(result: &RunResult, under: Option<&str>) -> Option<(String, Option<String>)> {
    let mut top: Option<(&crate::result::KindResult, &crate::result::CheckResult)> = None;
    for kind in &result.kinds {
        for check in kind.checks.iter().filter(|c| c.failed > 0) {
            if top.is_none_or(|(_, best)| check.failed > best.failed) {
                top = Some((kind, check));
            }
        }
    }
    top.map(|(kind, c)| {
        let check = if result.kinds.len() > 1 && under != Some(kind.name.as_str()) {
            format!("{} ({})", c.check, kind.name)
        } else {
            c.check.clone()
        };
        (check, c.example.clone())
    })
}

/// The target exited during the run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Crashed {
    /// How it exited.
    pub status: String,
    /// The last line of its stderr.
    pub last_error: Option<String>,
}

impl Detail for Errors {
    fn severity(&self) -> Severity {
        match self.cause {
            Some(_) => Severity::Info,
            None if self.rate >= ERROR_RATE_HIGH => Severity::Critical,
            None => Severity::Warning,
        }
    }

    fn title(&self) -> String {
        let cause = self
            .cause
            .map_or(String::new(), |c| format!(", as a result of {c}"));
        let under = self
            .under
            .as_ref()
            .map_or(String::new(), |kind| format!(" under {kind}"));
        if let Some((check, _)) = &self.check {
            return format!(
                "{} errors ({:.1} %){under}, mostly responses failing the check {check}{cause}",
                self.errors,
                self.rate * 100.0,
            );
        }
        format!(
            "{} requests failed ({:.1} %){under}, mostly {}{cause}",
            self.errors,
            self.rate * 100.0,
            self.main_kind
        )
    }

    fn advice(&self) -> String {
        match (self.cause, &self.check) {
            (Some(cause), _) => format!("These follow from {cause}: fix that first."),
            (None, Some((check, _))) => format!(
                "The server answered, but not what {check} expects (the first mismatch is \
                 above): read the handler's error path, and whether it answers errors with a \
                 2xx status."
            ),
            (None, None) => "See the errors by kind: connection errors and timeouts usually \
                             mean the server is overloaded or crashing."
                .to_string(),
        }
    }

    fn evidence(&self) -> Vec<(String, String)> {
        let mut out = vec![
            pair("errors", self.errors.to_string()),
            pair("timeouts", self.timeouts.to_string()),
            pair("error rate", format!("{:.2} %", self.rate * 100.0)),
            pair("most frequent", self.main_kind.clone()),
        ];
        if let Some(kind) = &self.under {
            out.push(pair("kind of request", kind.clone()));
        }
        if let Some((check, example)) = &self.check {
            out.push(pair("check", check.clone()));
            if let Some(example) = example {
                out.push(pair("first mismatch", example.clone()));
            }
        }
        if let Some(cause) = self.cause {
            out.push(pair("caused by", cause.to_string()));
        }
        out
    }
}

impl Detail for Non2xx {
    fn severity(&self) -> Severity {
        Severity::Warning
    }

    fn title(&self) -> String {
        let under = self
            .under
            .as_ref()
            .map_or(String::new(), |kind| format!(" under {kind}"));
        format!(
            "{} responses were not 2xx ({:.1} %){under}, mostly {}",
            self.count,
            self.rate * 100.0,
            self.main_code
        )
    }

    fn advice(&self) -> String {
        "Check the status codes: 5xx are server errors; 4xx may mean the request itself is \
         wrong."
            .to_string()
    }

    fn evidence(&self) -> Vec<(String, String)> {
        let mut out = vec![
            pair("non-2xx responses", self.count.to_string()),
            pair("share", format!("{:.2} %", self.rate * 100.0)),
            pair("most frequent", self.main_code.clone()),
        ];
        if let Some(kind) = &self.under {
            out.push(pair("kind of request", kind.clone()));
        }
        out
    }
}

impl Detail for Crashed {
    fn severity(&self) -> Severity {
        Severity::Critical
    }

    fn title(&self) -> String {
        format!("The target crashed during the run ({})", self.status)
    }

    fn advice(&self) -> String {
        "Read the stderr tail below: the crash ended the run, so later numbers are missing."
            .to_string()
    }

    fn evidence(&self) -> Vec<(String, String)> {
        let mut out = vec![pair("exit", self.status.clone())];
        if let Some(line) = &self.last_error {
            out.push(pair("last stderr line", line.clone()));
        }
        out
    }

    fn cause(&self) -> Option<&'static str> {
        Some("the crash")
    }
}

/// The crash, the errors and the non-2xx responses of a run.
pub(crate) fn findings(result: &RunResult) -> Vec<Finding> {
    let mut out: Vec<Finding> = crashed(result).into_iter().map(Finding::from).collect();
    let rate = measure::error_rate(result).unwrap_or(0.0);
    if result.errors > 0 && rate >= ERROR_RATE {
        let main_kind = result
            .errors_by_kind
            .iter()
            .max_by_key(|(_, e)| e.count)
            .map(|(kind, _)| kind.clone())
            .unwrap_or_default();
        let under = dominant_kind(result, |k| k.errors);
        let check = (main_kind == "check")
            .then(|| most_failed_check(result, under.as_deref()))
            .flatten();
        out.push(
            Errors {
                errors: result.errors,
                timeouts: result.timeouts,
                rate,
                main_kind,
                under,
                check,
                cause: None,
            }
            .into(),
        );
    }
    let responses = result.requests.total as f64;
    if result.non2xx > 0 && responses > 0.0 && result.non2xx as f64 / responses >= NON2XX_RATE {
        let main_code = result
            .status_code_stats
            .iter()
            .filter(|(code, _)| !code.starts_with('2'))
            .max_by_key(|(_, s)| s.count)
            .map(|(code, _)| code.clone())
            .unwrap_or_default();
        out.push(
            Non2xx {
                count: result.non2xx,
                rate: result.non2xx as f64 / responses,
                main_code,
                under: dominant_kind(result, |k| {
                    k.status_codes
                        .iter()
                        .filter(|(code, _)| !code.starts_with('2'))
                        .map(|(_, c)| c.count)
                        .sum()
                }),
            }
            .into(),
        );
    }
    out
}

fn crashed(result: &RunResult) -> Option<Crashed> {
    let target = result.target.as_ref()?;
    target.failure.as_ref()?;
    Some(Crashed {
        status: target
            .exit
            .clone()
            .unwrap_or_else(|| "unknown status".to_string()),
        last_error: target
            .stderr_tail
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .cloned(),
    })
}

/// Kinds of error that an overloaded server causes: requests that wait too long in line, and
/// connections it cannot take.
const OVERLOAD: [&str; 5] = ["timeout", "connect", "connectRefused", "reset", "closed"];

/// The problems that failed requests can follow from, in the order they are preferred as the
/// cause.
const CAUSES: [FindingKind; 5] = [
    FindingKind::TargetCrashed,
    FindingKind::BlockedEventLoop,
    FindingKind::GcPressure,
    FindingKind::CpuSaturated,
    FindingKind::MemoryLeak,
];

/// Errors that come with a problem that can cause them are that problem's consequence: the
/// problem is the verdict and says how many requests failed as a result; the errors finding
/// stays (for thresholds), named as the consequence.
pub(crate) fn link_consequences(findings: &mut [Finding]) {
    let Some(errors) = findings
        .iter()
        .position(|f| f.kind() == FindingKind::Errors)
    else {
        return;
    };
    let overload = match &findings[errors].found {
        super::Found::Errors(failed) => OVERLOAD.contains(&failed.main_kind.as_str()),
        _ => false,
    };
    // A server at capacity causes only the errors of overload; the others cause any.
    let may_cause = |kind: FindingKind| kind != FindingKind::CpuSaturated || overload;
    let Some((cause, name)) = CAUSES.iter().filter(|k| may_cause(**k)).find_map(|kind| {
        findings.iter().enumerate().find_map(|(at, f)| {
            (f.kind() == *kind)
                .then(|| f.found.detail().cause())
                .flatten()
                .map(|name| (at, name))
        })
    }) else {
        return;
    };
    let super::Found::Errors(failed) = &mut findings[errors].found else {
        return;
    };
    failed.cause = Some(name);
    let consequence = Consequence {
        errors: failed.errors,
        rate: failed.rate,
        main_kind: failed.main_kind.clone(),
    };
    findings[cause].consequence = Some(consequence);
}
