//! JUnit XML for CI systems: one test suite per run (scenario), one test case per threshold.
//! A failed threshold is a `<failure>`; a target that failed is an `<error>` on every case.
//! A run without thresholds has a single case, `run`, so that it still shows up.

use std::fmt::Write;

use super::escape::xml_attribute as escape;
use crate::analyse::Threshold;
use crate::result::RunResult;

/// One run as a test suite.
pub(crate) struct Suite {
    name: String,
    cases: Vec<Case>,
    seconds: f64,
    timestamp: Option<String>,
}

struct Case {
    name: String,
    failure: Option<String>,
    error: Option<String>,
}

impl Suite {
    /// A run that produced a result.
    pub(crate) fn ran(name: &str, result: &RunResult) -> Suite {
        let target_error = result.target.as_ref().and_then(|t| t.failure.clone());
        let mut cases: Vec<Case> = result
            .thresholds
            .iter()
            .map(|t| Case {
                name: t.threshold.clone(),
                failure: (!t.passed).then(|| format!("{} not met: {}", t.threshold, t.actual)),
                error: target_error.clone(),
            })
            .collect();
        if cases.is_empty() {
            cases.push(Case {
                name: "run".to_string(),
                failure: None,
                error: target_error,
            });
        }
        Suite {
            name: name.to_string(),
            cases,
            seconds: result.duration,
            timestamp: Some(result.start.clone()),
        }
    }

    /// A run that ended before the load (the target never served).
    pub(crate) fn failed(name: &str, thresholds: &[Threshold], why: &str) -> Suite {
        let mut names: Vec<String> = thresholds.iter().map(|t| t.text.clone()).collect();
        if names.is_empty() {
            names.push("run".to_string());
        }
        Suite {
            name: name.to_string(),
            cases: names
                .into_iter()
                .map(|name| Case {
                    name,
                    failure: None,
                    error: Some(why.to_string()),
                })
                .collect(),
            seconds: 0.0,
            timestamp: None,
        }
    }
}

/// Writes the XML document for these suites to `path` (whole, or not at all).
pub(crate) fn write(path: &std::path::Path, suites: &[Suite]) -> anyhow::Result<()> {
    super::files::write_whole(path, render(suites).as_bytes())
}

/// The XML document for these suites.
pub(crate) fn render(suites: &[Suite]) -> String {
    let count = |f: fn(&Case) -> bool| -> usize {
        suites
            .iter()
            .map(|s| s.cases.iter().filter(|c| f(c)).count())
            .sum()
    };
    let tests = count(|_| true);
    let failures = count(|c| c.failure.is_some() && c.error.is_none());
    let errors = count(|c| c.error.is_some());
    let seconds: f64 = suites.iter().map(|s| s.seconds).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"harness\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{seconds:.3}\">"
    );
    for suite in suites {
        let failures = suite
            .cases
            .iter()
            .filter(|c| c.failure.is_some() && c.error.is_none())
            .count();
        let errors = suite.cases.iter().filter(|c| c.error.is_some()).count();
        let _ = write!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\"",
            escape(&suite.name),
            suite.cases.len(),
            suite.seconds
        );
        if let Some(timestamp) = &suite.timestamp {
            let _ = write!(xml, " timestamp=\"{}\"", escape(timestamp));
        }
        xml.push_str(">\n");
        for case in &suite.cases {
            let _ = write!(
                xml,
                "    <testcase classname=\"harness.{}\" name=\"{}\" time=\"{:.3}\"",
                escape(&suite.name),
                escape(&case.name),
                suite.seconds
            );
            match (&case.error, &case.failure) {
                (Some(error), _) => {
                    let _ = writeln!(
                        xml,
                        ">\n      <error type=\"target\" message=\"{}\"/>\n    </testcase>",
                        escape(error)
                    );
                }
                (None, Some(failure)) => {
                    let _ = writeln!(
                        xml,
                        ">\n      <failure type=\"threshold\" message=\"{}\"/>\n    </testcase>",
                        escape(failure)
                    );
                }
                (None, None) => xml.push_str("/>\n"),
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_and_errors_are_counted_and_escaped() {
        let suites = [
            Suite {
                name: "leak <check>".to_string(),
                cases: vec![
                    Case {
                        name: "p99<50ms".to_string(),
                        failure: None,
                        error: None,
                    },
                    Case {
                        name: "errors<1%".to_string(),
                        failure: Some("measured 3.000 %".to_string()),
                        error: None,
                    },
                ],
                seconds: 2.0,
                timestamp: None,
            },
            Suite::failed("crashy", &[], "never \"ready\""),
        ];
        let xml = render(&suites);
        assert!(
            xml.contains("tests=\"3\" failures=\"1\" errors=\"1\""),
            "{xml}"
        );
        assert!(xml.contains("name=\"leak &lt;check&gt;\""), "{xml}");
        assert!(xml.contains("name=\"p99&lt;50ms\""), "{xml}");
        assert!(xml.contains("<failure type=\"threshold\" message=\"measured 3.000 %\"/>"));
        assert!(xml.contains("message=\"never &quot;ready&quot;\""), "{xml}");
    }
}
