//! Comparing two runs (`harness compare BASE NEW`): which changes are real and which exceed
//! the tolerances.
//!
//! Noise is told from change with Welch's t-test over the per-second samples of each run
//! (requests per second, and each second's latency percentiles), not over request counts: a
//! run of 500,000 requests is still only 30 seconds of evidence, and consecutive requests are
//! not independent. Seconds are not fully independent either (a GC pause spans seconds), so a
//! p-value near the cut-off deserves a second run rather than trust.

use super::measure::{error_rate, kind_error_rate, memory_growth};
use crate::result::{FindingKind, RunResult, Severity};

/// How much worse NEW may be than BASE before `compare` fails.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Tolerances {
    /// Largest allowed drop in requests per second, percent.
    pub rps_drop: f64,
    /// Largest allowed rise of a latency percentile, percent.
    pub latency_rise: f64,
    /// Largest allowed rise of the error rate, percentage points.
    pub error_rise: f64,
    /// p-value below which a difference counts as real.
    pub alpha: f64,
}

impl Default for Tolerances {
    fn default() -> Tolerances {
        Tolerances {
            rps_drop: 5.0,
            latency_rise: 10.0,
            error_rise: 1.0,
            alpha: 0.05,
        }
    }
}

/// One compared quantity.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    /// What is compared.
    pub name: String,
    /// Unit shown after values.
    pub unit: &'static str,
    /// BASE's value.
    pub base: f64,
    /// NEW's value.
    pub new: f64,
    /// NEW relative to BASE, percent (`None` when BASE is 0).
    pub change: Option<f64>,
    /// Two-sided p-value of Welch's test over per-second samples, when there are enough.
    pub p: Option<f64>,
    /// The change is worse than the tolerance allows and is not noise.
    pub failed: bool,
    /// What the verdict rests on, e.g. "tolerance −5 %" or "too few seconds to test".
    pub note: String,
}

/// The comparison of two runs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Comparison {
    /// Numbers, in display order.
    pub rows: Vec<Row>,
    /// Problem findings in NEW that BASE did not have (titles).
    pub new_findings: Vec<String>,
    /// Problem findings of BASE that NEW no longer has (titles).
    pub resolved_findings: Vec<String>,
}

impl Comparison {
    /// Whether NEW fails against BASE: a significant change beyond a tolerance, or a new
    /// problem finding.
    pub(crate) fn failed(&self) -> bool {
        self.rows.iter().any(|r| r.failed) || !self.new_findings.is_empty()
    }
}

/// Compares NEW with BASE.
pub(crate) fn compare(base: &RunResult, new: &RunResult, tolerances: &Tolerances) -> Comparison {
    let mut rows = vec![throughput(base, new, tolerances)];
    rows.extend(latencies(base, new, tolerances));
    rows.push(error_rate_row(base, new, tolerances));
    rows.extend(kind_rows(base, new, tolerances));
    if let (Ok(b), Ok(n)) = (memory_growth(base), memory_growth(new)) {
        rows.push(Row {
            name: "Memory kept".to_string(),
            unit: "B",
            base: b as f64,
            new: n as f64,
            change: relative(b as f64, n as f64),
            p: None,
            failed: false,
            note: "one value per run: see the leak finding".to_string(),
        });
    }
    let (new_findings, resolved_findings) = findings(base, new);
    Comparison {
        rows,
        new_findings,
        resolved_findings,
    }
}

/// Requests per second, tested over the per-second rates.
fn throughput(base: &RunResult, new: &RunResult, tolerances: &Tolerances) -> Row {
    let rps = |r: &RunResult| -> Vec<f64> {
        full_seconds(r)
            .map(|s| s.requests as f64 / s.covered)
            .collect()
    };
    tested(
        "Requests/s",
        "req/s",
        base.requests.overall,
        new.requests.overall,
        (rps(base), rps(new)),
        |change| change < -tolerances.rps_drop,
        format!("fails below −{} %", tolerances.rps_drop),
        tolerances.alpha,
    )
}

/// Latency p50, p90 and p99, tested over the per-second percentiles.
fn latencies(base: &RunResult, new: &RunResult, tolerances: &Tolerances) -> Vec<Row> {
    type Pick = fn(&crate::result::SeriesEntry) -> f64;
    let latencies: [(&str, f64, f64, Pick); 3] = [
        (
            "Latency p50",
            base.latency.percentiles.p50,
            new.latency.percentiles.p50,
            |s| s.latency_p50,
        ),
        (
            "Latency p90",
            base.latency.percentiles.p90,
            new.latency.percentiles.p90,
            |s| s.latency_p90,
        ),
        (
            "Latency p99",
            base.latency.percentiles.p99,
            new.latency.percentiles.p99,
            |s| s.latency_p99,
        ),
    ];
    latencies
        .into_iter()
        .map(|(name, b, n, pick)| {
            let samples = |r: &RunResult| {
                full_seconds(r)
                    .filter(|s| s.requests > 0)
                    .map(pick)
                    .collect()
            };
            tested(
                name,
                "ms",
                b,
                n,
                (samples(base), samples(new)),
                |change| change > tolerances.latency_rise,
                format!("fails above +{} %", tolerances.latency_rise),
                tolerances.alpha,
            )
        })
        .collect()
}

/// The error rate (the same as the findings' and thresholds'), its rise in points tested
/// over the per-second rates; any errors where there were none count as significant.
fn error_rate_row(base: &RunResult, new: &RunResult, tolerances: &Tolerances) -> Row {
    let percent_failed = |r: &RunResult| 100.0 * error_rate(r).unwrap_or(0.0);
    let per_second_errors = |r: &RunResult| -> Vec<f64> {
        full_seconds(r)
            .map(|s| {
                let attempts = s.requests + s.errors;
                if attempts == 0 {
                    0.0
                } else {
                    100.0 * s.errors as f64 / attempts as f64
                }
            })
            .collect()
    };
    let (b, n) = (percent_failed(base), percent_failed(new));
    let p = welch(&per_second_errors(base), &per_second_errors(new));
    let rise = n - b;
    let significant = p.is_some_and(|p| p < tolerances.alpha) || (b == 0.0 && n > 0.0);
    Row {
        name: "Error rate".to_string(),
        unit: "%",
        base: b,
        new: n,
        change: relative(b, n),
        p,
        failed: rise > tolerances.error_rise && significant,
        note: format!("fails above +{} points", tolerances.error_rise),
    }
}

/// With several kinds of request, each kind both runs have: its requests/s, p50, p99 and
/// error rate, tested over its per-second series like the run's (the same tolerances).
fn kind_rows(base: &RunResult, new: &RunResult, tolerances: &Tolerances) -> Vec<Row> {
    if base.kinds.len() <= 1 && new.kinds.len() <= 1 {
        return Vec::new();
    }
    // A kind's seconds that the run covered whole.
    let full = |r: &'_ RunResult,
                kind: &'_ crate::result::KindResult|
     -> Vec<crate::result::KindSecondEntry> {
        kind.series
            .iter()
            .filter(|k| {
                r.series
                    .iter()
                    .find(|s| s.second == k.second)
                    .is_some_and(|s| s.is_full())
            })
            .cloned()
            .collect()
    };
    let mut rows = Vec::new();
    for kind in &new.kinds {
        let Some(before) = base.kinds.iter().find(|k| k.name == kind.name) else {
            continue;
        };
        let (b_seconds, n_seconds) = (full(base, before), full(new, kind));
        let name = |what: &str| format!("{what} · {}", kind.name);
        let samples = |pick: fn(&crate::result::KindSecondEntry) -> f64, only_answered: bool| {
            let of = |seconds: &[crate::result::KindSecondEntry]| -> Vec<f64> {
                seconds
                    .iter()
                    .filter(|s| !only_answered || s.requests > 0)
                    .map(pick)
                    .collect()
            };
            (of(&b_seconds), of(&n_seconds))
        };
        rows.push(tested(
            &name("Requests/s"),
            "req/s",
            before.requests.overall,
            kind.requests.overall,
            samples(|s| s.requests as f64, false),
            |change| change < -tolerances.rps_drop,
            format!("fails below −{} %", tolerances.rps_drop),
            tolerances.alpha,
        ));
        type Pick = fn(&crate::result::KindSecondEntry) -> f64;
        let latencies: [(&str, f64, f64, Pick); 2] = [
            (
                "Latency p50",
                before.latency.percentiles.p50,
                kind.latency.percentiles.p50,
                |s| s.latency_p50,
            ),
            (
                "Latency p99",
                before.latency.percentiles.p99,
                kind.latency.percentiles.p99,
                |s| s.latency_p99,
            ),
        ];
        for (what, b, n, pick) in latencies {
            rows.push(tested(
                &name(what),
                "ms",
                b,
                n,
                samples(pick, true),
                |change| change > tolerances.latency_rise,
                format!("fails above +{} %", tolerances.latency_rise),
                tolerances.alpha,
            ));
        }
        let rate = |k: &crate::result::KindResult| 100.0 * kind_error_rate(k).unwrap_or(0.0);
        let (b, n) = (rate(before), rate(kind));
        let per_second = |s: &crate::result::KindSecondEntry| {
            if s.requests + s.errors == 0 {
                0.0
            } else {
                100.0 * s.errors as f64 / (s.requests + s.errors) as f64
            }
        };
        let (b_rates, n_rates) = samples(per_second, false);
        let p = welch(&b_rates, &n_rates);
        let significant = p.is_some_and(|p| p < tolerances.alpha) || (b == 0.0 && n > 0.0);
        rows.push(Row {
            name: name("Error rate"),
            unit: "%",
            base: b,
            new: n,
            change: relative(b, n),
            p,
            failed: n - b > tolerances.error_rise && significant,
            note: format!("fails above +{} points", tolerances.error_rise),
        });
    }
    rows
}

/// The problem findings (not info) that NEW has and BASE has not, and the reverse, by kind.
fn findings(base: &RunResult, new: &RunResult) -> (Vec<String>, Vec<String>) {
    let problems = |r: &RunResult| -> Vec<(FindingKind, String)> {
        r.findings
            .iter()
            .filter(|f| f.severity != Severity::Info)
            .map(|f| (f.kind, f.title.clone()))
            .collect()
    };
    let (before, after) = (problems(base), problems(new));
    let only = |these: &[(FindingKind, String)], not: &[(FindingKind, String)]| {
        these
            .iter()
            .filter(|(kind, _)| !not.iter().any(|(k, _)| k == kind))
            .map(|(_, title)| title.clone())
            .collect()
    };
    (only(&after, &before), only(&before, &after))
}

/// The series' whole seconds (the last, partial one is left out).
fn full_seconds(result: &RunResult) -> impl Iterator<Item = &crate::result::SeriesEntry> {
    result.series.iter().filter(|s| s.is_full())
}

#[allow(clippy::too_many_arguments)]
fn tested(
    name: &str,
    unit: &'static str,
    base: f64,
    new: f64,
    samples: (Vec<f64>, Vec<f64>),
    worse: impl Fn(f64) -> bool,
    rule: String,
    alpha: f64,
) -> Row {
    let change = relative(base, new);
    let p = welch(&samples.0, &samples.1);
    let beyond = change.is_some_and(&worse);
    let (failed, note) = match p {
        Some(p) if p < alpha => (beyond, rule),
        Some(_) => (false, format!("{rule}; not significant")),
        None => (false, format!("{rule}; too few seconds to test")),
    };
    Row {
        name: name.to_string(),
        unit,
        base,
        new,
        change,
        p,
        failed,
        note,
    }
}

fn relative(base: f64, new: f64) -> Option<f64> {
    (base != 0.0).then(|| 100.0 * (new - base) / base)
}

/// Two-sided p-value of Welch's unequal-variances t-test; `None` with fewer than 3 samples
/// on either side.
pub(crate) fn welch(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() < 3 || b.len() < 3 {
        return None;
    }
    let stats = |x: &[f64]| {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (n, mean, var)
    };
    let (n1, m1, v1) = stats(a);
    let (n2, m2, v2) = stats(b);
    let (s1, s2) = (v1 / n1, v2 / n2);
    if s1 + s2 == 0.0 {
        return Some(if m1 == m2 { 1.0 } else { 0.0 });
    }
    let t = (m1 - m2) / (s1 + s2).sqrt();
    let df = (s1 + s2).powi(2) / (s1 * s1 / (n1 - 1.0) + s2 * s2 / (n2 - 1.0));
    Some(incomplete_beta(df / 2.0, 0.5, df / (df + t * t)).clamp(0.0, 1.0))
}

/// The regularised incomplete beta function I_x(a, b), by its continued fraction.
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// Lentz's method for the incomplete beta continued fraction.
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        for numerator in [
            m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)),
        ] {
            d = 1.0 + numerator * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + numerator / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-12 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = G[0];
    for (i, g) in G.iter().enumerate().skip(1) {
        sum += g / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welch_matches_published_values() {
        // Two-sided p for t = 2 with 10 degrees of freedom is 0.07339 (tables); these
        // samples give t = -2.0 exactly with equal variances and n = 6 each (df = 10).
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let shift = 2.0 * (2.0 * 3.5_f64 / 6.0).sqrt();
        let b: Vec<f64> = a.iter().map(|v| v + shift).collect();
        let p = welch(&a, &b).unwrap();
        assert!((p - 0.07339).abs() < 1e-4, "{p}");
        // Identical samples: no evidence of a difference.
        assert!((welch(&a, &a).unwrap() - 1.0).abs() < 1e-9);
        assert_eq!(welch(&a[..2], &a), None);
    }

    #[test]
    fn gamma_and_beta_are_right() {
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-10);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-10);
        // I_0.5(2, 3) = 11/16
        assert!((incomplete_beta(2.0, 3.0, 0.5) - 0.6875).abs() < 1e-10);
    }

    #[test]
    fn a_clear_shift_is_significant_and_noise_is_not() {
        let base: Vec<f64> = (0..20).map(|i| 1000.0 + f64::from(i % 5) * 10.0).collect();
        let slower: Vec<f64> = base.iter().map(|v| v * 0.8).collect();
        assert!(welch(&base, &slower).unwrap() < 1e-6);
        let shuffled: Vec<f64> = base.iter().rev().copied().collect();
        assert!(welch(&base, &shuffled).unwrap() > 0.5);
    }

    /// A kind whose p99 doubled fails the comparison under its own name, though the run's
    /// figures (the same here) would pass.
    #[test]
    fn each_kind_is_compared_on_its_own() {
        let mut base: RunResult = serde_json::from_str(include_str!("testdata/base.json")).unwrap();
        // Ten whole seconds, alike.
        let second = base.series[0].clone();
        base.series = (0..10)
            .map(|i| crate::result::SeriesEntry {
                second: i,
                covered: 1.0,
                ..second.clone()
            })
            .collect();
        let kind = |name: &str, p99: f64| {
            let mut latency = base.latency.clone();
            latency.percentiles.p99 = p99;
            crate::result::KindResult {
                name: name.to_string(),
                requests: crate::result::KindRequests {
                    total: 1000,
                    sent: 1000,
                    failed: 0,
                    unfinished: 0,
                    overall: 100.0,
                },
                latency,
                errors: 0,
                errors_by_kind: Default::default(),
                status_codes: Default::default(),
                checks: Vec::new(),
                histogram: None,
                series: base
                    .series
                    .iter()
                    .enumerate()
                    .map(|(i, s)| crate::result::KindSecondEntry {
                        second: s.second,
                        requests: 100,
                        errors: 0,
                        latency_p50: 1.0,
                        latency_p99: p99 + (i % 3) as f64 * 0.1,
                        histogram: None,
                    })
                    .collect(),
            }
        };
        let mut before = base.clone();
        before.kinds = vec![kind("health", 2.0), kind("search", 10.0)];
        let mut after = base.clone();
        after.kinds = vec![kind("health", 2.0), kind("search", 20.0)];
        let comparison = compare(&before, &after, &Tolerances::default());
        let failed: Vec<&str> = comparison
            .rows
            .iter()
            .filter(|r| r.failed)
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(failed, ["Latency p99 · search"]);
        assert!(comparison
            .rows
            .iter()
            .any(|r| r.name == "Requests/s · health"));
    }
}
