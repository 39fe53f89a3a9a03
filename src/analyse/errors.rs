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
        format!(
            "{} requests failed ({:.1} %), mostly {}{cause}",
            self.errors,
            self.rate * 100.0,
            self.main_kind
        )
    }

    fn advice(&self) -> String {
        match self.cause {
            Some(cause) => format!("These follow from {cause}: fix that first."),
            None => "See the errors by kind: connection errors and timeouts usually mean the \
                     server is overloaded or crashing."
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
        format!(
            "{} responses were not 2xx ({:.1} %), mostly {}",
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
        vec![
            pair("non-2xx responses", self.count.to_string()),
            pair("share", format!("{:.2} %", self.rate * 100.0)),
            pair("most frequent", self.main_code.clone()),
        ]
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
        out.push(
            Errors {
                errors: result.errors,
                timeouts: result.timeouts,
                rate,
                main_kind,
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
