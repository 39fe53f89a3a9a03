//! The HTML report of a real run, opened in headless Chromium (installed by `.ci/run`), and
//! `harness report` re-rendering a saved result.

mod support;

use std::path::Path;
use std::process::Command;

use support::{free_port, harness, APPS};

/// Runs a short leak check with the report written into `dir`.
fn run_with_report(dir: &Path) {
    let url = format!("http://127.0.0.1:{}/", free_port());
    let output = harness()
        .args([
            "-n",
            "-c",
            "10",
            "-d",
            "2",
            "--baseline",
            "500ms",
            "--cooldown",
            "1s",
            "--report",
        ])
        .arg(dir)
        .args([url.as_str(), "--", "node", &format!("{APPS}/cache-leak.js")])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Report: "),
        "the report path is printed: {stdout}"
    );
}

/// Chromium's headless flags for this machine (no network, no background services).
fn chromium() -> Command {
    let mut command = Command::new("chromium");
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    command
}

#[test]
fn the_report_opens_in_a_browser_with_the_verdict_every_chart_and_no_console_errors() {
    if Command::new("chromium").arg("--version").output().is_err() {
        panic!("this test needs Chromium: apt-get install chromium (.ci/run installs it)");
    }
    let dir = tempfile::tempdir().unwrap();
    run_with_report(dir.path());
    let report = dir.path().join("report.html");
    let profile = tempfile::tempdir().unwrap();
    let output = chromium()
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", report.display()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains("id=\"verdict\""),
        "no verdict in the rendered page"
    );
    assert!(dom.contains("Memory leak"), "the leak is not the verdict");
    let heap = dom
        .find("<section id=\"heap\">")
        .map(|at| &dom[at..])
        .expect("no 'Where the memory goes' section");
    assert!(
        heap.contains("computeTerm") && heap.contains("system / JSArrayBufferData"),
        "the heap section does not name the leak"
    );
    for chart in [
        "latency",
        "requests",
        "cpu",
        "memory",
        "event-loop-delay",
        "event-loop-utilisation",
        "handles",
    ] {
        let figure = format!("<figure id=\"{chart}\"");
        let at = dom
            .find(&figure)
            .unwrap_or_else(|| panic!("chart {chart} missing"));
        assert!(dom[at..].contains("<svg"), "chart {chart} has no SVG");
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in stderr.lines() {
        assert!(
            !line.contains("CONSOLE") && !line.contains("Refused to"),
            "browser console: {line}"
        );
    }
}

#[test]
fn a_saved_result_renders_again_to_the_same_verdict() {
    let dir = tempfile::tempdir().unwrap();
    run_with_report(dir.path());
    let again = dir.path().join("again.html");
    let output = harness()
        .args(["report"])
        .arg(dir.path().join("result.json"))
        .arg("-o")
        .arg(&again)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let first = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let second = std::fs::read_to_string(&again).unwrap();
    assert_eq!(
        first, second,
        "a report is a pure function of the saved result"
    );
}

#[test]
fn report_refuses_a_file_that_is_not_a_result() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("x.json");
    std::fs::write(&bogus, "{\"hello\": 1}").unwrap();
    let output = harness().arg("report").arg(&bogus).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("x.json") && stderr.contains("not a harness result"),
        "{stderr}"
    );
    assert!(!dir.path().join("report.html").exists());
}
