//! "Where the memory goes": heap snapshots of real Node targets name the leaking class and
//! what holds it, and name nothing on an app that does not leak.

mod support;

use support::{app, harness, json_output};

/// Runs `app` with `args` and returns the parsed result.
fn run(app_name: &str, args: &[&str]) -> serde_json::Value {
    let output = harness()
        .args([
            "--json",
            "-n",
            "--baseline",
            "500ms",
            "--cooldown",
            "1s",
            "-c",
            "10",
        ])
        .args(args)
        .args(["http://127.0.0.1:0/", "--", "node", &app(app_name)])
        .output()
        .unwrap();
    json_output(&output)
}

fn analysis(result: &serde_json::Value) -> &serde_json::Value {
    let heap = &result["heap"][0];
    assert!(
        heap["analysis"].is_object(),
        "no heap analysis: {}",
        heap["note"]
    );
    &heap["analysis"]
}

fn path(group: &serde_json::Value) -> String {
    group["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Names of the phases, in order, and of the phases the snapshots of the first process ended.
fn phases(result: &serde_json::Value) -> (Vec<String>, Vec<String>) {
    let names = |list: &serde_json::Value, key: &str| -> Vec<String> {
        list.as_array()
            .map(|a| {
                a.iter()
                    .map(|p| p[key].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    (
        names(&result["phases"], "name"),
        names(&result["heap"][0]["snapshots"], "phase"),
    )
}

#[test]
fn the_article_cache_leak_names_compute_term_and_the_buffer_data() {
    let result = run("cache-leak.js", &["-a", "8000"]);
    // The leak was found in the measured run, so a heap trace followed the cooldown: the
    // snapshots bracket it, and none was taken before the measured load ended.
    let (phases, snapshots) = phases(&result);
    assert_eq!(
        phases,
        ["baseline", "load", "cooldown", "trace", "trace-cooldown"]
    );
    assert_eq!(snapshots, ["cooldown", "trace", "trace-cooldown"]);
    let trace = &result["heapTrace"];
    assert_eq!(trace["reason"], "memory leak found", "{trace}");
    assert_eq!(trace["responses"], 8000, "{trace}");
    assert_eq!(
        result["requests"]["total"], 8000,
        "the trace's requests are not counted in the measured run"
    );
    let top = &analysis(&result)["groups"][0];
    assert_eq!(top["class"], "system / JSArrayBufferData", "{top}");
    assert!(top["count"].as_u64().unwrap() >= 7000, "{top}");
    assert_eq!(top["retainer"]["name"], "computeTerm", "{top}");
    assert_eq!(top["retainer"]["location"], "cache-leak.js:17", "{top}");
    let path = path(top);
    assert!(
        path.contains("computeTerm (closure, cache-leak.js:17)")
            && path
                .ends_with("Buffer .buffer ArrayBuffer .backing_store system / JSArrayBufferData"),
        "{path}"
    );
}

#[test]
fn the_article_listener_leak_names_the_emitter_and_the_listener() {
    let result = run("listener-leak.js", &["-d", "2"]);
    let top = &analysis(&result)["groups"][0];
    assert_eq!(top["class"], "(closure)", "{top}");
    assert_eq!(top["retainer"]["kind"], "emitter", "{top}");
    let path = path(top);
    assert!(
        path.contains("EventEmitter ._events Object .connected Array")
            && path.ends_with("(closure, listener-leak.js:26)"),
        "{path}"
    );
}

#[test]
fn a_session_map_that_is_never_pruned_is_named_by_its_variable() {
    let result = run("session-leak.js", &["-a", "8000", "--heap"]);
    let group = &analysis(&result)["groups"][0];
    assert_eq!(group["class"], "(string)", "{group}");
    assert!(group["count"].as_u64().unwrap() >= 7000, "{group}");
    assert_eq!(group["retainer"]["name"], "sessions", "{group}");
    assert_eq!(group["retainer"]["kind"], "variable", "{group}");
    assert!(path(group).contains(".sessions Map"), "{group}");
    let site = &result["heap"][0]["allocations"][0];
    assert!(
        site["url"].as_str().unwrap().ends_with("session-leak.js"),
        "the top allocation site is in the app: {site}"
    );
}

#[test]
fn an_app_that_does_not_leak_gets_no_heap_snapshots_by_default() {
    let result = run("cache-fixed.js", &["-a", "3000"]);
    let (phases, snapshots) = phases(&result);
    assert_eq!(phases, ["baseline", "load", "cooldown"]);
    assert!(snapshots.is_empty(), "{snapshots:?}");
    assert!(result.get("heapTrace").is_none(), "{}", result["heapTrace"]);
    let note = result["heap"][0]["note"].as_str().unwrap();
    assert!(note.contains("no leak was found"), "{note}");
}

#[test]
fn an_app_that_does_not_leak_gets_no_names_even_with_heap() {
    let result = run("cache-fixed.js", &["-a", "8000", "--heap"]);
    let analysis = analysis(&result);
    assert_eq!(
        analysis["groups"].as_array().unwrap().len(),
        0,
        "{analysis}"
    );
    assert!(result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["kind"] != "memoryLeak"));
}

#[test]
fn snapshots_can_be_limited_or_turned_off() {
    let limited = run(
        "cache-leak.js",
        &["-a", "2000", "--heap", "--heap-limit", "1MB"],
    );
    let heap = &limited["heap"][0];
    assert!(heap["analysis"].is_null());
    assert!(
        limited.get("heapTrace").is_none(),
        "no trace without a first snapshot"
    );
    let skipped = heap["snapshots"][0]["skipped"].as_str().unwrap();
    assert!(skipped.contains("over the snapshot limit"), "{skipped}");
    let off = run("cache-leak.js", &["-a", "2000", "--no-heap"]);
    assert!(off.get("heap").is_none(), "{}", off["heap"]);
}

#[test]
fn heap_diff_reads_snapshots_taken_elsewhere_and_refuses_broken_ones() {
    let dir = tempfile::tempdir().unwrap();
    let script = "const v8=require('v8');const keep=[];function grow(n){for(let i=0;i<n;i++)keep.push({n:i,s:'v'+i})}\
                  v8.writeHeapSnapshot('a.heapsnapshot');grow(30000);v8.writeHeapSnapshot('b.heapsnapshot');v8.writeHeapSnapshot('c.heapsnapshot')";
    let status = std::process::Command::new("node")
        .args(["-e", script])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let output = harness()
        .current_dir(dir.path())
        .args([
            "heap-diff",
            "a.heapsnapshot",
            "b.heapsnapshot",
            "c.heapsnapshot",
            "--json",
        ])
        .output()
        .unwrap();
    let analysis = json_output(&output);
    let top = &analysis["groups"][0];
    assert_eq!(top["retainer"]["name"], "keep", "{top}");
    assert!(top["count"].as_u64().unwrap() >= 30000, "{top}");

    let text = std::fs::read(dir.path().join("b.heapsnapshot")).unwrap();
    std::fs::write(dir.path().join("cut.heapsnapshot"), &text[..text.len() / 2]).unwrap();
    let broken = harness()
        .current_dir(dir.path())
        .args(["heap-diff", "a.heapsnapshot", "cut.heapsnapshot"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert_eq!(broken.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cut.heapsnapshot") && stderr.contains("truncated"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
