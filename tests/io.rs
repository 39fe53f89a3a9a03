//! The I/O trace on servers written the way real ones are (express, `fetch`, a pool, a real
//! PostgreSQL with `pg`, `Promise.all`): each gets I/O wait as its verdict, the right code
//! named, and the named operation's share within 10 points of the truth, which each fixture
//! builds in (its own delays). Apps that do not wait get no I/O trace; bad cases get a note.

use crate::support::NodeRun;

/// Runs `app` at `path` with `load`, with no heap or CPU trace (they are tested elsewhere).
fn traced(app: &str, path: &str, load: &[&str]) -> serde_json::Value {
    NodeRun::new(app)
        .url(&format!("http://127.0.0.1:0{path}"))
        .args(load)
        .args(["--no-heap", "--no-profile"])
        .json()
}

/// The I/O trace's busiest kind and its top operation.
fn top(result: &serde_json::Value) -> (&serde_json::Value, &serde_json::Value) {
    let kind = result["ioTrace"]["processes"][0]["kinds"]
        .as_array()
        .and_then(|kinds| kinds.iter().max_by_key(|k| k["requests"].as_u64()))
        .unwrap_or_else(|| panic!("no kind traced: {}", result["ioTrace"]));
    (kind, &kind["operations"][0])
}

/// Checks the verdict names `parts` and that the top operation's share is within 10 points
/// of `truth_ms` over the kind's mean latency.
fn check(result: &serde_json::Value, parts: &[&str], truth_ms: impl Fn(f64) -> f64) {
    let verdict = result["verdict"].as_str().unwrap();
    assert!(verdict.starts_with("I/O wait"), "{verdict}");
    for part in parts {
        assert!(
            verdict.contains(part),
            "the verdict lacks {part:?}: {verdict}"
        );
    }
    let (kind, operation) = top(result);
    let mean = kind["latencyMs"]["mean"].as_f64().unwrap();
    let share = operation["share"].as_f64().unwrap();
    let truth = truth_ms(mean) / mean;
    assert!(
        (share - truth).abs() <= 0.10,
        "share {share:.3} against the truth {truth:.3}: {kind}"
    );
}

/// Three sequential awaits through one helper: the caller whose call dominates is named, not
/// the helper they share (60 ms of about 67).
#[test]
fn the_dominant_caller_of_a_shared_helper_is_named() {
    let result = traced(
        "io/shared-helper.js",
        "/home?user=1",
        &["-c", "20", "-d", "2"],
    );
    check(
        &result,
        &[
            "`loadRecommendations` (shared-helper.js:26) → `query`",
            "setTimeout 60 ms",
        ],
        |_| 60.0,
    );
}

/// An express handler that fetches from a slow downstream service (40 ms).
#[test]
fn a_fetch_to_a_slow_downstream_is_named_with_its_host_and_path() {
    let result = traced(
        "io/fetch-downstream.js",
        "/items?category=c1",
        &["-c", "20", "-d", "2"],
    );
    // The handler's own work is well under a millisecond: the rest is the fetch (40 ms in the
    // downstream service, and its way there and back).
    check(
        &result,
        &[
            "`getItems` (fetch-downstream.js:20)",
            "fetch GET 127.0.0.1:",
        ],
        |mean| mean - 1.0,
    );
}

/// A pool of two connections at 50 connections: requests wait in `acquire()`, a promise
/// another request resolves; everything but their own 20 ms query is that wait.
#[test]
fn a_starved_pool_is_named_by_its_acquire() {
    let result = traced(
        "io/starved-pool.js",
        "/orders?user=1",
        &["-c", "50", "-d", "2"],
    );
    check(
        &result,
        &["`withConnection` (starved-pool.js:32)", "Pool.acquire"],
        |mean| mean - 20.0,
    );
    assert!(result["findings"][0]["advice"]
        .as_str()
        .unwrap()
        .contains("pool"));
}

/// Five timers in parallel (`Promise.all`) count once: "5 × setTimeout 30 ms".
#[test]
fn parallel_timers_count_once() {
    let result = traced("io/parallel-timers.js", "/", &["-c", "20", "-d", "2"]);
    check(&result, &["`loadWidgets`", "5 × setTimeout 30 ms"], |_| {
        30.0
    });
    let esm = traced("io/parallel-timers.mjs", "/", &["-c", "20", "-d", "2"]);
    check(
        &esm,
        &["parallel-timers.mjs", "5 × setTimeout 30 ms"],
        |_| 30.0,
    );
}

/// A query without an index on a real PostgreSQL: the query's SQL text and the app function
/// that makes it. Nearly all of a request's time is the query (the pool included).
#[test]
fn a_postgresql_query_without_an_index_is_named_with_its_sql() {
    let _alone = crate::support::machine_to_itself();
    let Some(pg) = crate::support::Postgres::start() else {
        return;
    };
    let result = NodeRun::new("io/pg-noindex.js")
        .url("http://127.0.0.1:0/items/C123456")
        .args(["-c", "10", "-d", "2", "--no-heap", "--no-profile"])
        .envs(pg.env())
        .json();
    check(
        &result,
        &[
            "`findItem` (pg-noindex.js:",
            "pg query SELECT * FROM items WHERE code = $1",
        ],
        |mean| mean * 0.96,
    );
}

/// hello.js and a blocked loop do not wait: no I/O trace by default.
#[test]
fn apps_that_do_not_wait_get_no_io_trace() {
    for app in ["hello.js", "blocked-loop.js"] {
        let result = NodeRun::new(app)
            .args(["-c", "10", "-d", "2", "--no-heap", "--no-profile"])
            .json();
        assert!(
            result.get("ioTrace").is_none(),
            "{app}: {}",
            result["ioTrace"]
        );
    }
}

/// A handler that never answers, one stuck on a promise nobody resolves, 10,000 chained
/// promises, 300 waits in a row and a replaced `Error.prepareStackTrace`: notes, no crash, no
/// hang, and the app's own stack formatter untouched.
#[test]
fn bad_cases_get_a_note_and_break_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("bad.toml");
    let app = crate::support::app("io/bad-cases.js");
    std::fs::write(
        &scenario,
        format!(
            "[target]\nurl = \"http://127.0.0.1:0/\"\ncommand = [\"node\", {app:?}]\nio_trace = \"always\"\nheap = \"off\"\nprofile = \"off\"\n\
             [load]\nconnections = 6\nduration = \"2s\"\ntimeout = \"1s\"\n\
             [[requests]]\npath = \"/hang\"\n[[requests]]\npath = \"/stuck\"\n[[requests]]\npath = \"/nothing\"\n\
             [[requests]]\npath = \"/chain\"\n[[requests]]\npath = \"/many\"\n"
        ),
    )
    .unwrap();
    let output = crate::support::harness()
        .args(["run", "--json", "-n"])
        .arg(&scenario)
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let result = crate::support::json_output(&output);
    let trace = &result["ioTrace"];
    assert!(trace["processes"][0]["error"].is_null(), "{trace}");
    let notes: Vec<String> = trace["processes"][0]["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|k| k["notes"].as_array().cloned().unwrap_or_default())
        .map(|n| n.to_string())
        .collect();
    let all = notes.join(" | ");
    assert!(all.contains("still open at stop"), "{all}");
    assert!(all.contains("awaited nothing"), "{all}");
}
