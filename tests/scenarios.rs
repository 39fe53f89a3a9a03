//! Scenario files, thresholds, exit codes, JUnit and `harness compare`, on real processes.
//! Includes the dogfood run: the example scenarios in `scenarios/`, one of which must fail.

use std::path::Path;

use crate::support::{free_port, harness, Behaviour, TestServer};

const SCENARIOS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_example_scenarios_pass_except_the_leak_which_fails_its_gate() {
    let out = tempfile::tempdir().unwrap();
    let junit = out.path().join("junit.xml");
    let output = harness()
        .timeout(std::time::Duration::from_secs(180))
        .args(["run", SCENARIOS, "-n", "--report"])
        .arg(out.path().join("reports"))
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    let row = |name: &str| {
        stdout
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no summary row for {name}: {stdout}"))
            .to_string()
    };
    assert!(row("hello").contains("passed"), "{}", row("hello"));
    assert!(row("ramp").contains("passed"), "{}", row("ramp"));
    assert!(row("shop").contains("passed"), "{}", row("shop"));
    let leak = row("search-cache-leak");
    assert!(
        leak.contains("FAILED") && leak.contains("Memory leak"),
        "{leak}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testsuite ").count(), 4, "{xml}");
    assert!(xml.contains("name=\"checks{login} &gt; 99%\""), "{xml}");
    assert!(xml.contains("name=\"leak = none\""), "{xml}");
    assert!(
        xml.contains(
            "<failure type=\"threshold\" message=\"leak = none not met: found: Memory leak"
        ),
        "{xml}"
    );
    assert!(!xml.contains("<error"), "{xml}");
}

#[test]
fn a_mistake_in_any_file_stops_the_folder_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("started");
    write(
        dir.path(),
        "a-good.toml",
        &format!(
            "[target]\nurl = \"http://127.0.0.1:0/\"\ncommand = [\"touch\", {:?}]\n",
            marker.display().to_string()
        ),
    );
    write(
        dir.path(),
        "b-bad.toml",
        "[target]\nurl = \"http://127.0.0.1:0/\"\n\n[load]\nduration = \"ten seconds\"\n",
    );
    let stderr = crate::support::refused(dir.path());
    assert!(
        stderr.contains("b-bad.toml:5:12: load.duration: 'ten seconds' is not a duration"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        !marker.exists(),
        "a scenario ran before the folder was checked"
    );
}

#[test]
fn scenario_errors_name_the_key_and_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    for (text, expect) in [
        (
            "[target]\nurl = \"http://127.0.0.1:0/\"\nprobe = \"yes\"\n",
            ":3:9: target.probe: invalid type: string \"yes\", expected a boolean",
        ),
        (
            "[target]\nurl = \"localhost:3000\"\n",
            ":2:7: target.url: 'localhost:3000' is not an http:// or https:// URL",
        ),
        (
            "[target]\nurl = \"http://127.0.0.1:1/\"\n[check]\nthresholds = [\"p99 < soon\"]\n",
            "check.thresholds: threshold 'p99 < soon': 'soon' is not a duration",
        ),
        (
            "[target]\nurl = \"http://127.0.0.1:1/\"\n[[requests]]\npath = \"/{{id}}\"\n",
            "requests[0].path: unknown placeholder '{{id}}'",
        ),
        (
            "[target]\nurl = \"http://127.0.0.1:0/\"\n",
            "URL port 0 means 'pick a free port for the target', which needs a target command",
        ),
        ("[target\nurl = 1\n", ":1:8: "),
    ] {
        let path = write(dir.path(), "s.toml", text);
        let stderr = crate::support::refused(&path);
        assert!(stderr.contains(expect), "{text}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn flags_override_the_file_and_thresholds_add_up() {
    let server = TestServer::start(Behaviour::Fixed(std::time::Duration::ZERO));
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "s.toml",
        &format!(
            "[target]\nurl = \"{}\"\n[load]\nconnections = 3\namount = 50\n[check]\nthresholds = [\"errors = 0\"]\n",
            server.url()
        ),
    );
    let output = harness()
        .arg("run")
        .arg(&path)
        .args([
            "-c",
            "2",
            "-a",
            "40",
            "--json",
            "--threshold",
            "rps > 1000000000",
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["connections"], 2);
    assert_eq!(result["amount"], 40);
    assert_eq!(result["scenario"], "s");
    let outcomes: Vec<(String, bool)> = result["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["threshold"].as_str().unwrap().to_string(),
                t["passed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("errors = 0".to_string(), true),
            ("rps > 1000000000".to_string(), false)
        ]
    );
}

#[test]
fn threshold_flags_set_the_exit_code_of_a_plain_run() {
    let server = TestServer::start(Behaviour::Fixed(std::time::Duration::ZERO));
    let run = |threshold: &str| {
        harness()
            .args(["-c", "2", "-a", "100", "-n", "--threshold", threshold])
            .arg(server.url())
            .output()
            .unwrap()
    };
    let met = run("p99<10s");
    assert_eq!(met.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&met.stdout).contains("All thresholds met."));
    let missed = run("p50 < 1us");
    assert_eq!(missed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missed.stdout).contains("FAIL  p50 < 1us"));
    let unmeasured = run("memory-growth < 1MB");
    assert_eq!(
        unmeasured.status.code(),
        Some(1),
        "a threshold on nothing measured must fail"
    );
    assert!(String::from_utf8_lossy(&unmeasured.stdout).contains("not measured"));
    let bad = run("p99 < 10 lightyears");
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(
        server.requests(),
        300,
        "a bad threshold must stop the run before it sends"
    );
}

/// In GitHub Actions the job page shows `$GITHUB_STEP_SUMMARY`: a run appends its verdict,
/// numbers and thresholds there, after what other steps wrote.
#[test]
fn a_run_appends_a_markdown_summary_for_the_ci_job_page() {
    let server = TestServer::start(Behaviour::Fixed(std::time::Duration::ZERO));
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("step-summary.md");
    std::fs::write(&summary, "from an earlier step\n").unwrap();
    let output = harness()
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args([
            "-c",
            "2",
            "-a",
            "200",
            "-n",
            "--threshold",
            "p99<10s",
            "--threshold",
            "p50<1us",
        ])
        .arg(server.url())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(
        text.starts_with("from an earlier step\n### harness: http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("✅ **No problem found**"), "{text}");
    assert!(
        text.contains("| requests/s | latency p50 | latency p99 |"),
        "{text}"
    );
    assert!(text.contains("| 200 |"), "the request count: {text}");
    assert!(text.contains("Thresholds: 1 of 2 not met"), "{text}");
    assert!(
        text.contains("| `p99<10s` | ✅ pass |") && text.contains("| `p50<1us` | ❌ FAIL |"),
        "{text}"
    );

    // A folder of scenarios: one table, a row per scenario, with --summary-md.
    let folder = dir.path().join("scenarios");
    std::fs::create_dir(&folder).unwrap();
    for (name, threshold) in [("fast", "p99<10s"), ("strict", "p50<1us")] {
        write(
            &folder,
            &format!("{name}.toml"),
            &format!(
                "[target]\nurl = \"{}\"\n[load]\nconnections = 2\namount = 100\n[check]\nthresholds = [\"{threshold}\"]\n",
                server.url()
            ),
        );
    }
    let table = dir.path().join("folder.md");
    let output = harness()
        .args(["run", "-n", "--summary-md"])
        .arg(&table)
        .arg("--report")
        .arg(dir.path().join("reports"))
        .arg(&folder)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&table).unwrap();
    assert!(text.starts_with("### harness: 2 scenarios\n"), "{text}");
    assert!(text.contains("| fast | ✅ passed | 1/1 |"), "{text}");
    assert!(text.contains("| strict | ❌ FAILED | 0/1 |"), "{text}");
    assert!(
        text.contains("report.html`"),
        "each row names its report: {text}"
    );
    assert_eq!(
        text.matches("### harness").count(),
        1,
        "one table, not a section per scenario"
    );
}

#[test]
fn a_target_that_never_serves_exits_3_with_errors_in_junit() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("out/junit.xml");
    let path = write(
        dir.path(),
        "never.toml",
        &format!(
            "[target]\nurl = \"http://127.0.0.1:{}/\"\ncommand = [\"node\", {:?}]\nready_timeout = \"1s\"\n[check]\nthresholds = [\"p99<1s\"]\n[output]\njunit = \"out/junit.xml\"\n",
            free_port(),
            crate::support::app("never-listens.js")
        ),
    );
    let output = harness().arg("run").arg(&path).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("errors=\"1\"") && xml.contains("<error type=\"target\""),
        "{xml}"
    );
}

#[test]
fn placeholders_make_every_request_unique() {
    // A server that counts distinct paths and prints the count when it stops.
    let script = "const s=new Set();let n=0;require('http').createServer((q,r)=>{s.add(q.url);n++;r.end('ok')})\
        .listen(process.env.PORT,'127.0.0.1');process.on('SIGINT',()=>{console.log('distinct',s.size,'of',n);process.exit(0)})";
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "unique.toml",
        &format!(
            "[target]\nurl = \"http://127.0.0.1:0/\"\ncommand = [\"node\", \"-e\", {script:?}]\nbaseline = \"0s\"\ncooldown = \"0s\"\nprobe = false\n\
             [load]\nconnections = 4\namount = 400\n\
             [[requests]]\npath = \"/a/{{{{counter}}}}\"\nweight = 3\n[[requests]]\npath = \"/b/{{{{uuid}}}}\"\n"
        ),
    );
    let output = harness()
        .arg("run")
        .arg(&path)
        .arg("--json")
        .output()
        .unwrap();
    let result = crate::support::json_output(&output);
    let tail = result["target"]["stdoutTail"].to_string();
    let counted = tail
        .split("distinct ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no count in {tail}"));
    let total = crate::support::num(&result, "/latency/totalCount") as u64;
    assert!(total >= 400, "{total}");
    assert_eq!(counted, total, "every path was unique: {tail}");
    assert_eq!(result["requestMix"].as_array().unwrap().len(), 2);
}

#[test]
fn compare_tells_a_regression_from_noise() {
    let server = TestServer::start(Behaviour::Fixed(std::time::Duration::ZERO));
    let dir = tempfile::tempdir().unwrap();
    let output = harness()
        .args(["-c", "2", "-d", "4", "--json", "-n"])
        .arg(server.url())
        .output()
        .unwrap();
    assert!(output.status.success());
    let base: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let base_path = dir.path().join("base.json");
    std::fs::write(&base_path, base.to_string()).unwrap();
    // The same run with half the throughput in every second.
    let mut slow = base.clone();
    for entry in slow["series"].as_array_mut().unwrap() {
        let requests = entry["requests"].as_u64().unwrap();
        entry["requests"] = (requests / 2).into();
    }
    let overall = crate::support::num(&base, "/requests/overall");
    slow["requests"]["overall"] = (overall / 2.0).into();
    let slow_path = dir.path().join("slow.json");
    std::fs::write(&slow_path, slow.to_string()).unwrap();

    let same = harness()
        .arg("compare")
        .arg(&base_path)
        .arg(&base_path)
        .output()
        .unwrap();
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stdout)
    );
    let worse = harness()
        .arg("compare")
        .arg(&base_path)
        .arg(&slow_path)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&worse.stdout);
    assert_eq!(worse.status.code(), Some(1), "{table}");
    assert!(
        table.contains("Requests/s") && table.contains("WORSE"),
        "{table}"
    );
    let tolerant = harness()
        .arg("compare")
        .arg(&base_path)
        .arg(&slow_path)
        .args(["--max-rps-drop", "60%"])
        .output()
        .unwrap();
    assert_eq!(
        tolerant.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&tolerant.stdout)
    );
    let missing = harness()
        .arg("compare")
        .arg(&base_path)
        .arg(dir.path().join("none.json"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

/// A path with a line break used to put an injected header on the wire; a file of millions
/// of `[[requests]]` used 3.5 GB before any check.
#[test]
fn hostile_scenario_files_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let injected = write(
        dir.path(),
        "inject.toml",
        "[target]\nurl = \"http://127.0.0.1:1/\"\n[[requests]]\npath = \"/a HTTP/1.1\\r\\nX-Injected: yes\\r\\n\"\n",
    );
    let stderr = crate::support::refused(&injected);
    assert!(
        stderr.contains("requests") && stderr.contains("path") && stderr.contains("control"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let mut big = String::from("[target]\nurl = \"http://127.0.0.1:1/\"\n");
    while big.len() < 2 * 1024 * 1024 {
        big.push_str("[[requests]]\npath = \"/x\"\n");
    }
    let huge = write(dir.path(), "huge.toml", &big);
    let stderr = crate::support::refused(&huge);
    assert!(
        stderr.contains("huge.toml") && stderr.contains("at most"),
        "{stderr}"
    );
}

/// A missing `target.cwd` used to be reported as "command 'node': No such file or directory".
#[test]
fn a_missing_target_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "cwd.toml",
        "[target]\nurl = \"http://127.0.0.1:0/\"\ncommand = \"node app.js\"\ncwd = \"no-such-folder\"\n",
    );
    let stderr = crate::support::refused(&file);
    assert!(
        stderr.contains("target.cwd") && stderr.contains("no-such-folder"),
        "{stderr}"
    );
}

/// Two shards of one scenario (`[load] shard`, and `index/N` from the job index) each send
/// their half, and their `{{counter}}` values never collide: the server sees every path
/// once. Each shard leaves the scenario's thresholds to `harness merge`, which checks them on
/// the whole. A shard that does not exist is refused naming the key.
#[test]
fn shards_of_a_scenario_split_the_load_and_never_repeat_a_counter() {
    let script = "const s=new Set();let n=0;require('http').createServer((q,r)=>{s.add(q.url);n++;r.end('ok')})\
        .listen(process.env.PORT,'127.0.0.1');process.on('SIGINT',()=>{console.log('distinct',s.size,'of',n);process.exit(0)})";
    let port = free_port();
    let server = std::process::Command::new("node")
        .args(["-e", script])
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    crate::support::wait_for_port(port);
    let dir = tempfile::tempdir().unwrap();
    let scenario = |shard: &str| {
        format!(
            "[target]\nurl = \"{url}\"\n[load]\nconnections = 5\namount = 401\nshard = \"{shard}\"\n\
             [check]\nthresholds = [\"rps > 1000000000\"]\n\
             [[requests]]\npath = \"/k/{{{{counter}}}}\"\n"
        )
    };
    // One scenario (one name) on two machines, each with its own copy.
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let first = write(&a, "checkout.toml", &scenario("1/2"));
    let second = write(&b, "checkout.toml", &scenario("index/2"));
    let run = |path: &Path, job_index: &str| {
        let output = harness()
            .arg("run")
            .arg(path)
            .arg("--json")
            .env("JOB_COMPLETION_INDEX", job_index)
            .output()
            .unwrap();
        crate::support::json_output(&output)
    };
    let one = run(&first, "7");
    let two = run(&second, "1");
    assert_eq!(
        (one["shard"]["index"].clone(), two["shard"]["index"].clone()),
        (1.into(), 2.into())
    );
    assert_eq!(
        (one["connections"].clone(), two["connections"].clone()),
        (3.into(), 2.into())
    );
    assert_eq!(
        (one["amount"].clone(), two["amount"].clone()),
        (201.into(), 200.into())
    );
    // SAFETY: signals our own child.
    unsafe { libc::kill(server.id() as i32, libc::SIGINT) };
    let output = server.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    let total = crate::support::num(&one, "/latency/totalCount") as u64
        + crate::support::num(&two, "/latency/totalCount") as u64;
    assert!(total >= 401, "{total}");
    assert!(
        said.contains(&format!("distinct {total} of {total}")),
        "{said}"
    );
    assert_eq!(
        one["shard"]["thresholds"],
        serde_json::json!(["rps > 1000000000"])
    );
    assert!(one["thresholds"].is_null(), "{}", one["thresholds"]);
    let files: Vec<_> = [("one.json", &one), ("two.json", &two)]
        .iter()
        .map(|(name, result)| write(dir.path(), name, &result.to_string()))
        .collect();
    let merged = harness()
        .arg("merge")
        .args(&files)
        .arg("-j")
        .output()
        .unwrap();
    assert_eq!(
        merged.status.code(),
        Some(1),
        "the scenario's threshold fails the whole"
    );
    let whole: serde_json::Value = serde_json::from_slice(&merged.stdout).unwrap();
    assert_eq!(whole["thresholds"][0]["threshold"], "rps > 1000000000");
    assert_eq!(whole["thresholds"][0]["passed"], false);

    let bad = write(dir.path(), "bad.toml", &scenario("3/2"));
    let stderr = crate::support::refused(&bad);
    assert!(
        stderr.contains("[load] shard") && stderr.contains("does not exist"),
        "{stderr}"
    );
}
