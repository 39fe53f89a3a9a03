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

/// Nine chained 10 ms timers at 1,000 requests/s keep the loop a third busy, which the old
/// rule (under 30 % busy) called healthy; a request spends nearly all its time waiting.
#[test]
fn nine_chained_timers_at_a_fixed_rate_are_io_wait_by_their_waiting_share() {
    let (findings, result) = verdict("io/nine-timers.js", &["-c", "100", "-R", "1000", "-d", "5"]);
    assert_eq!(main_kind(&findings), Some("ioWait"), "{findings:?}");
    let verdict = result["verdict"].as_str().unwrap();
    assert!(verdict.contains("waiting"), "{verdict}");
}

/// At 2,500 connections a GC-heavy server at capacity times requests out: the timeouts are
/// the consequence, the saturated server is the verdict.
#[test]
fn timeouts_of_a_saturated_server_are_its_consequence() {
    let _alone = crate::support::machine_to_itself();
    let (findings, result) = verdict(
        "heavy-garbage.js",
        &["-c", "2500", "-d", "5", "--no-heap", "--no-profile"],
    );
    let verdict = result["verdict"].as_str().unwrap();
    let errors = findings.iter().find(|f| f.0 == "errors");
    if let Some(errors) = errors {
        assert_eq!(
            errors.1, "info",
            "the errors are the consequence: {verdict}"
        );
        assert!(verdict.contains("as a result"), "{verdict}");
    }
    assert!(
        matches!(
            main_kind(&findings),
            Some("cpuSaturated" | "gcPressure" | "blockedEventLoop")
        ),
        "{findings:?}: {verdict}"
    );
}

/// A server waiting on a real PostgreSQL whose sequential scans keep the machine busy: half
/// a second per request is I/O wait, and the finding names what used the machine.
#[test]
fn a_server_waiting_on_a_busy_database_is_io_wait_and_names_it() {
    let _alone = crate::support::machine_to_itself();
    let Some(pg) = crate::support::Postgres::start() else {
        return;
    };
    let result = NodeRun::new("io/pg-noindex.js")
        .url("http://127.0.0.1:0/items/C123456")
        .args(["-c", "50", "-d", "5", "--no-heap", "--no-profile"])
        .envs(pg.env())
        .json();
    let verdict = result["verdict"].as_str().unwrap();
    assert!(
        verdict.starts_with("I/O wait"),
        "{verdict}: {} {}",
        result["findings"],
        result["node"]
    );
    // The other processes that used the machine, busiest first; with other tests running
    // beside this one, postgres need not be the first.
    let others = result["findings"][0]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["label"] == "other processes on the machine during the load")
        .map(|e| e["value"].to_string())
        .unwrap_or_default();
    assert!(others.contains("postgres"), "{verdict}: {others}");
}
