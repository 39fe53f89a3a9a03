//! The trace windows after the measured load (the CPU trace, the heap trace on a second copy
//! of the target): bounded in time whatever the target does, saying why they gave nothing,
//! and never costing the measured result. Real `node` targets that block or are signalled.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{app, group_members};

/// harness with these flags, its stderr piped (its stdout too, for `--json`).
fn spawn(args: &[&str], env: &[(&str, &std::path::Path)]) -> Child {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("harness"));
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().unwrap()
}

/// Waits for `child` at most `limit`: a trace that never ends fails the test instead of
/// hanging it (this is a bound on a hang, not a speed measurement).
fn wait_at_most(child: &mut Child, limit: Duration) -> Option<i32> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("harness was still running after {} s", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A server that serves, but whose second copy (started when a marker file exists) blocks
/// its event loop for good 0.6 s after it starts.
const BLOCKS_WHEN_STARTED_AGAIN: &str = "const fs = require('fs'); const mark = process.env.MARK; \
    if (fs.existsSync(mark)) setTimeout(() => { for (;;) {} }, 600); else fs.writeFileSync(mark, ''); \
    require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT, '127.0.0.1')";

/// The heap trace's load was sized in requests only: against a copy that blocked, with 2 s
/// timeouts over 4 connections, it was still running after 600 s. Now its loads stop at
/// their time limit and the first snapshot that gets no answer ends the trace.
#[test]
fn a_heap_trace_copy_that_blocks_after_start_ends_the_run_within_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("started-once");
    let report = dir.path().join("report");
    let report_arg = report.to_str().unwrap();
    let mut child = spawn(
        &[
            "-n",
            "--json",
            "-c",
            "4",
            "-d",
            "1",
            "-t",
            "2",
            "--heap",
            "--report",
            report_arg,
            "http://127.0.0.1:0/",
            "--",
            "node",
            "-e",
            BLOCKS_WHEN_STARTED_AGAIN,
        ],
        &[("MARK", &mark)],
    );
    let code = wait_at_most(&mut child, Duration::from_secs(120));
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code, Some(0), "the measured run stands: {stderr}");
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(result["requests"]["total"].as_u64().unwrap() > 0);
    let trace = &result["heapTrace"];
    let warning = trace["warning"].as_str().unwrap_or_default();
    assert!(
        warning.contains("limit") || warning.contains("no answer"),
        "the trace says why it stopped: {trace}"
    );
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("result.json")).unwrap()).unwrap();
    assert_eq!(saved["heapTrace"]["warning"], trace["warning"]);
    if let Some(second) = trace["pid"].as_u64() {
        assert!(group_members(second as u32).is_empty(), "the copy is gone");
    }
}

/// Two SIGTERMs during the heap trace (the second makes harness leave at once) used to lose
/// the measured result, which was complete, and to leave the copy's probe folder with its
/// snapshot in the temporary directory.
#[test]
fn two_signals_during_the_heap_trace_keep_the_measured_result_and_no_probe_folder() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let report = dir.path().join("report");
    let report_arg = report.to_str().unwrap();
    let mut child = spawn(
        &[
            "-n",
            "-c",
            "2",
            "-d",
            "2",
            "--heap",
            "--report",
            report_arg,
            "http://127.0.0.1:0/",
            "--",
            "node",
            &app("cache-leak.js"),
        ],
        &[("TMPDIR", &tmp)],
    );
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let announced = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|line| line.starts_with("Heap trace: second copy"));
    assert!(announced.is_some(), "harness never started the heap trace");
    // SAFETY: signals our own child, twice, as a CI runner's cancel does.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    std::thread::sleep(Duration::from_millis(600));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let code = wait_at_most(&mut child, Duration::from_secs(30));
    assert_eq!(code, Some(130));
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("result.json")).unwrap()).unwrap();
    assert!(saved["requests"]["total"].as_u64().unwrap() > 0, "{saved}");
    assert!(report.join("report.html").exists());
    // The watchdog removes the folders once it has killed what was left.
    let deadline = Instant::now() + Duration::from_secs(10);
    let left = loop {
        let left: Vec<_> = std::fs::read_dir(&tmp)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        if left.is_empty() || Instant::now() > deadline {
            break left;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(left.is_empty(), "left in the temporary folder: {left:?}");
}

/// A server whose event loop blocks for good once its load has ended (no request for 300 ms
/// after the first).
const BLOCKS_AFTER_ITS_LOAD: &str = "let last = 0; \
    setInterval(() => { if (last && Date.now() - last > 300) for (;;) {} }, 50); \
    require('http').createServer((q, s) => { last = Date.now(); s.end('ok') }).listen(process.env.PORT, '127.0.0.1')";

/// With `--profile`, such a target took 42 s for a 2 s load and gave no profile and no word
/// of why. Now the CPU trace says it was not taken, and why, in the terminal, the JSON and
/// the report, and the waits are bounded.
#[test]
fn a_cpu_trace_that_gets_no_profile_says_why_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let report_arg = report.to_str().unwrap();
    let mut child = spawn(
        &[
            "-n",
            "--json",
            "-c",
            "2",
            "-d",
            "2",
            "--profile",
            "--report",
            report_arg,
            "http://127.0.0.1:0/",
            "--",
            "node",
            "-e",
            BLOCKS_AFTER_ITS_LOAD,
        ],
        &[],
    );
    wait_at_most(&mut child, Duration::from_secs(90));
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("CPU trace (--profile): the profile was not taken"),
        "{stderr}"
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let warning = result["cpuTrace"]["warning"].as_str().unwrap_or_default();
    assert!(
        warning.starts_with("the profile was not taken"),
        "{}",
        result["cpuTrace"]
    );
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("the profile was not taken"));
}
