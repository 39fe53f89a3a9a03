//! Kinds of request: each `[[requests]]` entry has its own statistics, its own checks and
//! its own thresholds, against the test server's routes (a fast one, a slow one, one that
//! answers 200 with an error body one time in ten).

use std::path::Path;

use crate::support::{harness, json_output, num, Behaviour, TestServer};

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn histogram(value: &serde_json::Value) -> hdrhistogram::Histogram<u64> {
    let encoded: harness::result::EncodedHistogram = serde_json::from_value(value.clone()).unwrap();
    harness::result::decode(&encoded).unwrap()
}

fn kind<'a>(result: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    result["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == name)
        .unwrap_or_else(|| panic!("no kind {name}: {}", result["kinds"]))
}

/// A fast kind (10 ms) and a slow one (50 ms) in one mix: each kind's median is its own
/// delay (within 10 %), not the mix's, and the run's histogram holds exactly the kinds'.
#[test]
fn each_kind_has_its_own_latency_and_the_whole_is_their_sum() {
    let server = TestServer::start(Behaviour::Routes);
    let dir = tempfile::tempdir().unwrap();
    let scenario = write(
        dir.path(),
        "mix.toml",
        &format!(
            "[target]\nurl = \"{}\"\n[load]\nconnections = 20\nduration = \"3s\"\n\
             [[requests]]\nname = \"fast\"\npath = \"/fast\"\n\
             [[requests]]\npath = \"/slow?q={{{{counter}}}}\"\n",
            server.url()
        ),
    );
    let output = harness()
        .arg("run")
        .arg(&scenario)
        .arg("--json")
        .output()
        .unwrap();
    let result = json_output(&output);
    let fast = kind(&result, "fast");
    let slow = kind(&result, "GET /slow?q={{counter}}");
    for (kind, delay) in [(fast, 10.0), (slow, 50.0)] {
        let p50 = num(kind, "/latency/p50");
        assert!(
            (p50 - delay).abs() <= 0.1 * delay,
            "{}: p50 {p50} ms for a {delay} ms route",
            kind["name"]
        );
        assert!(num(kind, "/requests/total") > 50.0, "{kind}");
        assert_eq!(
            kind["statusCodes"]["200"]["count"],
            kind["requests"]["total"]
        );
        assert_eq!(
            kind["series"].as_array().unwrap().len(),
            result["series"].as_array().unwrap().len()
        );
    }
    let whole = histogram(&result["histogram"]);
    let mut sum = histogram(&fast["histogram"]);
    sum.add(histogram(&slow["histogram"])).unwrap();
    assert_eq!(whole.len(), sum.len());
    assert_eq!(whole, sum, "the run's histogram is the kinds' together");
    assert_eq!(
        num(&result, "/requests/total"),
        num(fast, "/requests/total") + num(slow, "/requests/total")
    );
    // The terminal has a row per kind.
    let text = harness()
        .arg("run")
        .arg(&scenario)
        .args(["-d", "1", "--no-progress"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains("│ Kind ")
            && stdout.contains("│ fast ")
            && stdout.contains("│ GET /slow?q={{counter}} "),
        "{stdout}"
    );
}

/// A server that answers 200 with an error body one time in ten: its checks fail about
/// 10 % of the time (each check counted, with the first mismatch, its secret redacted), the
/// errors finding names the kind and the check, and `checks{search} > 99%` fails the run
/// with exit code 1 and a JUnit case named for the kind.
#[test]
fn checks_catch_error_bodies_and_gate_the_run_per_kind() {
    let server = TestServer::start(Behaviour::Routes);
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let scenario = write(
        dir.path(),
        "checks.toml",
        &format!(
            "[target]\nurl = \"{}\"\n[load]\nconnections = 10\namount = 2000\n\
             [check]\nthresholds = [\"checks{{search}} > 99%\", \"p99{{home}} < 5s\"]\n\
             [[requests]]\nname = \"search\"\npath = \"/flaky\"\n\
             [requests.expect]\nstatus = \"2xx\"\njson = {{ \"/ok\" = true, \"/results\" = \"exists\" }}\n\
             [[requests]]\nname = \"home\"\npath = \"/\"\nexpect = {{ body_contains = \"hello\" }}\n",
            server.url()
        ),
    );
    let output = harness()
        .arg("run")
        .arg(&scenario)
        .arg("--json")
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let search = kind(&result, "search");
    let total = num(search, "/requests/total");
    let failed = num(search, "/errorsByKind/check/count");
    assert!(
        (0.09..=0.11).contains(&(failed / total)),
        "{failed} of {total} failed"
    );
    let checks = search["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 3, "{checks:?}");
    assert_eq!(checks[0]["check"], "status 2xx");
    assert_eq!(checks[0]["failed"], 0);
    assert_eq!(checks[1]["check"], "json /ok = true");
    assert_eq!(checks[1]["failed"].as_f64().unwrap(), failed);
    assert_eq!(checks[2]["failed"].as_f64().unwrap(), failed);
    let example = checks[1]["example"].as_str().unwrap();
    assert!(
        example.contains("db down") && !example.contains("s3cret"),
        "{example}"
    );
    let home = kind(&result, "home");
    assert_eq!(home["checks"][0]["failed"], 0);
    assert_eq!(
        num(home, "/requests/total") + total,
        num(&result, "/requests/total")
    );
    // A failed check is an error and still a response.
    assert_eq!(num(&result, "/errorsByKind/check/count"), failed);
    assert_eq!(result["requests"]["failed"], 0);
    let errors = result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "errors")
        .expect("an errors finding");
    let title = errors["title"].as_str().unwrap();
    assert!(
        title.contains("under search") && title.contains("json /ok = true"),
        "{title}"
    );
    assert_eq!(result["thresholds"][0]["passed"], false);
    assert_eq!(result["thresholds"][1]["passed"], true);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("name=\"checks{search} &gt; 99%\"") && xml.contains("<failure"),
        "{xml}"
    );
}

/// Two shards of a mix merge kind by kind: counts, checks and histograms exactly.
#[test]
fn merged_shards_add_each_kind_exactly() {
    let server = TestServer::start(Behaviour::Routes);
    let dir = tempfile::tempdir().unwrap();
    let scenario = |shard: &str| {
        format!(
            "[target]\nurl = \"{}\"\n[load]\nconnections = 4\namount = 600\nshard = \"{shard}\"\n\
             [[requests]]\nname = \"fast\"\npath = \"/fast\"\n\
             [[requests]]\nname = \"search\"\npath = \"/flaky\"\nexpect = {{ body_contains = \"results\" }}\n",
            server.url()
        )
    };
    let results: Vec<serde_json::Value> = ["1/2", "2/2"]
        .iter()
        .map(|shard| {
            let path = write(dir.path(), "mix.toml", &scenario(shard));
            json_output(
                &harness()
                    .arg("run")
                    .arg(&path)
                    .arg("--json")
                    .output()
                    .unwrap(),
            )
        })
        .collect();
    let files: Vec<_> = results
        .iter()
        .enumerate()
        .map(|(i, r)| write(dir.path(), &format!("{i}.json"), &r.to_string()))
        .collect();
    let merged = json_output(
        &harness()
            .arg("merge")
            .args(&files)
            .arg("-j")
            .output()
            .unwrap(),
    );
    for name in ["fast", "search"] {
        let whole = kind(&merged, name);
        let parts: Vec<&serde_json::Value> = results.iter().map(|r| kind(r, name)).collect();
        for pointer in ["/requests/total", "/requests/sent", "/errors"] {
            assert_eq!(
                num(whole, pointer),
                parts.iter().map(|p| num(p, pointer)).sum::<f64>(),
                "{name} {pointer}"
            );
        }
        let mut sum = histogram(&parts[0]["histogram"]);
        sum.add(histogram(&parts[1]["histogram"])).unwrap();
        assert_eq!(histogram(&whole["histogram"]), sum, "{name}");
    }
    let checks = &kind(&merged, "search")["checks"][0];
    let parts: f64 = results
        .iter()
        .map(|r| num(&kind(r, "search")["checks"][0], "/failed"))
        .sum();
    assert_eq!(num(checks, "/failed"), parts);
    assert!(parts > 0.0);
}

/// Checks and kinds on the command line, and the mistakes refused before anything runs.
#[test]
fn command_line_checks_count_and_bad_kinds_are_refused() {
    let server = TestServer::start(Behaviour::Routes);
    let url = format!("{}flaky", server.url());
    let result =
        crate::support::run_json(&[&url, "-c", "2", "-a", "200", "--expect-body", "results"]);
    let only = &result["kinds"][0];
    assert_eq!(only["name"], "GET /flaky");
    assert_eq!(num(only, "/checks/0/failed"), 20.0, "{only}");
    assert_eq!(only["checks"][0]["check"], "body contains \"results\"");
    for (args, expect) in [
        (vec!["--threshold", "p99{search}<5ms"], "--threshold 'p99{search}<5ms': no kind of request is named \"search\"; the kinds are \"GET /flaky\""),
        (vec!["--expect-status", "6xx"], "--expect-status"),
        (vec!["--threshold", "loop-delay{GET /flaky}<5ms"], "not per kind"),
    ] {
        let output = harness().arg(&url).args(&args).args(["-c", "1", "-a", "10"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expect) && stderr.lines().count() == 1, "{args:?}: {stderr}");
    }
}
