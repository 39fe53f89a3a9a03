//! The verdict on real Node apps from `scenarios/apps/`: the article's leaks are leaks, their
//! fixes are not, a CPU-bound handler blocks the loop, a slow timer is I/O wait.

use crate::support::NodeRun;

/// Runs `app` under load and returns the result's findings as (kind, severity) and the verdict.
fn verdict(app: &str, load: &[&str]) -> (Vec<(String, String)>, serde_json::Value) {
    let result = NodeRun::new(app).args(load).json();
    let findings = result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (findings, result)
}

fn main_kind(findings: &[(String, String)]) -> Option<&str> {
    findings
        .first()
        .filter(|f| f.1 != "info")
        .map(|f| f.0.as_str())
}

#[test]
fn the_cache_leak_is_a_memory_leak_mostly_off_heap() {
    let (findings, result) = verdict("cache-leak.js", &["-c", "10", "-d", "3"]);
    assert_eq!(main_kind(&findings), Some("memoryLeak"), "{findings:?}");
    let evidence = result["findings"][0]["evidence"].to_string();
    assert!(evidence.contains("external"), "{evidence}");
    assert!(result["findings"][0]["advice"]
        .as_str()
        .unwrap()
        .contains("off the JS heap"));
}

#[test]
fn the_bounded_cache_is_not_a_leak() {
    let (findings, _) = verdict("cache-fixed.js", &["-c", "10", "-d", "3"]);
    assert!(
        !findings.iter().any(|f| f.0 == "memoryLeak"),
        "{findings:?}"
    );
    assert_eq!(main_kind(&findings), None, "{findings:?}");
}

#[test]
fn the_session_map_is_a_memory_leak() {
    let (findings, _) = verdict("session-leak.js", &["-c", "10", "-d", "3"]);
    assert_eq!(main_kind(&findings), Some("memoryLeak"), "{findings:?}");
}

#[test]
fn heavy_garbage_is_not_a_leak() {
    let (findings, _) = verdict("heavy-garbage.js", &["-c", "10", "-d", "3"]);
    assert!(
        !findings.iter().any(|f| f.0 == "memoryLeak"),
        "{findings:?}"
    );
}

#[test]
fn the_listener_leak_is_named_with_its_line_and_the_fix_is_not_a_leak() {
    let (findings, result) = verdict("listener-leak.js", &["-c", "50", "-d", "3"]);
    assert!(
        matches!(main_kind(&findings), Some("listenerLeak" | "memoryLeak")),
        "{findings:?}"
    );
    let listener = result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "listenerLeak")
        .unwrap();
    assert!(
        listener["title"]
            .as_str()
            .unwrap()
            .contains("listener-leak.js:"),
        "{listener}"
    );
    let (findings, _) = verdict("listener-fixed.js", &["-c", "50", "-d", "3"]);
    assert!(
        !findings
            .iter()
            .any(|f| f.0 == "memoryLeak" || (f.0 == "listenerLeak" && f.1 != "info")),
        "{findings:?}"
    );
}

#[test]
fn a_cpu_bound_handler_blocks_the_event_loop() {
    let (findings, _) = verdict("blocked-loop.js", &["-c", "10", "-d", "3"]);
    assert_eq!(
        main_kind(&findings),
        Some("blockedEventLoop"),
        "{findings:?}"
    );
}

#[test]
fn a_slow_timer_is_io_wait() {
    let (findings, _) = verdict("slow-io.js", &["-c", "10", "-d", "3"]);
    assert_eq!(main_kind(&findings), Some("ioWait"), "{findings:?}");
}
