use super::*;

/// A profile of a server that spends its time in `pbkdf2Sync` called from `verifyPassword`:
/// node ids, (function, url, 0-based line), children; then samples and their time deltas.
fn profile_json(samples: &[u64], deltas: &[i64]) -> String {
    let node = |id: u64, function: &str, url: &str, line: i64, children: &[u64]| {
        serde_json::json!({
            "id": id,
            "callFrame": {"functionName": function, "scriptId": "0", "url": url, "lineNumber": line, "columnNumber": 2},
            "hitCount": 0,
            "children": children,
        })
    };
    let nodes = vec![
        node(1, "(root)", "", -1, &[2, 3, 4, 5, 9]),
        node(2, "(program)", "", -1, &[]),
        node(3, "(idle)", "", -1, &[]),
        node(4, "(garbage collector)", "", -1, &[]),
        node(5, "emit", "node:events", 500, &[6]),
        node(6, "handle", "file:///srv/app.js", 20, &[7, 10]),
        node(7, "verifyPassword", "file:///srv/app.js", 8, &[8]),
        node(8, "pbkdf2Sync", "node:crypto", 60, &[]),
        node(9, "parserOnHeadersComplete", "node:_http_common", 70, &[]),
        node(10, "", "/srv/node_modules/lib/x.js", 3, &[]),
    ];
    serde_json::json!({
        "nodes": nodes, "startTime": 0, "endTime": 20_000,
        "samples": samples, "timeDeltas": deltas,
    })
    .to_string()
}

fn summary(samples: &[u64]) -> CpuProfile {
    let deltas = vec![1000; samples.len()];
    let text = profile_json(samples, &deltas);
    summarise(&parse::parse(text.as_bytes()).unwrap())
}

#[test]
fn time_below_the_app_is_credited_to_the_app_function_that_called_it() {
    // 10 ticks in pbkdf2Sync under verifyPassword, 2 in the handler's own code, 2 in a
    // package called from it, 1 in Node's HTTP parser, 1 in GC, 2 idle, 2 in (program).
    let samples = [8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 6, 6, 10, 10, 9, 4, 3, 3, 2, 2];
    let p = summary(&samples);
    assert_eq!(p.samples, 20);
    assert_eq!(p.busy_ms, 16.0, "idle and (program) are not busy time");
    assert_eq!(p.gc_ms, 1.0);
    assert_eq!(p.idle_ms, 2.0);
    assert_eq!(p.program_ms, 2.0);
    let top = &p.hot[0];
    assert_eq!((top.function.as_str(), top.line), ("verifyPassword", 9));
    assert!(top.app);
    assert_eq!(top.share, 10.0 / 16.0);
    let callee = top.callee.as_ref().unwrap();
    assert_eq!(
        (callee.function.as_str(), callee.url.as_str()),
        ("pbkdf2Sync", "node:crypto")
    );
    assert_eq!(callee.share, 1.0);
    assert_eq!(
        describe(top),
        "`pbkdf2Sync` (node:crypto) called from `verifyPassword` (app.js:9)"
    );
    // The handler's own time and its package's are the handler's.
    let handler = &p.hot[1];
    assert_eq!((handler.function.as_str(), handler.ms), ("handle", 4.0));
    assert_eq!(handler.callee.as_ref().unwrap().function, "(anonymous)");
    // No app frame on the stack: the time stays with its own function.
    assert!(p
        .hot
        .iter()
        .any(|h| h.function == "parserOnHeadersComplete" && !h.app && h.ms == 1.0));
    assert_eq!(p.by_self[0].function, "pbkdf2Sync");
    assert_eq!(p.by_total[0].function, "emit");
    assert_eq!(p.by_total[0].total_share, 14.0 / 16.0);
}

#[test]
fn the_flame_graph_holds_the_busy_tree_with_totals_from_the_leaves() {
    let p = summary(&[8, 8, 6, 10, 9, 4, 3, 2]);
    let emit = p.flame.iter().position(|n| n.function == "emit").unwrap();
    assert_eq!(p.flame[emit].parent, None);
    assert_eq!(p.flame[emit].total_ms, 4.0);
    let handle = p.flame.iter().position(|n| n.function == "handle").unwrap();
    assert_eq!(p.flame[handle].parent, Some(emit as u32));
    assert_eq!(p.flame[handle].self_ms, 1.0);
    assert!(
        p.flame
            .iter()
            .all(|n| n.function != "(idle)" && n.function != "(program)"),
        "{:?}",
        p.flame
    );
    for (i, node) in p.flame.iter().enumerate() {
        if let Some(parent) = node.parent {
            assert!((parent as usize) < i, "parents come first");
        }
    }
}

#[test]
fn the_time_of_a_tick_runs_until_the_next_one() {
    let text = profile_json(&[8, 6, 3], &[100, 3000, 500]);
    let profile = parse::parse(text.as_bytes()).unwrap();
    // 8 until the second tick (3 ms), 6 until the third (0.5 ms); the last tick's time would
    // run to the end (16.4 ms, far longer than a tick), so it gets the typical tick.
    assert_eq!(profile.durations[..2], [3000.0, 500.0]);
    let p = summarise(&profile);
    assert_eq!(p.hot[0].function, "verifyPassword");
    assert_eq!(p.hot[0].ms, 3.0);
}

#[test]
fn broken_profiles_are_one_line_errors() {
    let good = profile_json(&[8, 6], &[1000, 1000]);
    let cases: Vec<(String, &str)> = vec![
        (good[..good.len() / 2].to_string(), "truncated"),
        ("[1, 2]".to_string(), "not a CPU profile"),
        (r#"{"nodes": []}"#.to_string(), "no nodes"),
        (good.replace("\"id\":9", "\"id\":8"), "appears twice"),
        (good.replace("[2,3,4,5,9]", "[2,3,4,5,9,77]"), "not there"),
        (
            good.replace("\"children\":[7,10]", "\"children\":[7,10,1]"),
            "not a tree",
        ),
        (
            good.replace("\"children\":[8]", "\"children\":[]"),
            "2 roots",
        ),
        (
            good.replace("\"samples\":[8,6]", "\"samples\":[8,66]"),
            "not there",
        ),
        (
            good.replace("\"timeDeltas\":[1000,1000]", "\"timeDeltas\":[1000]"),
            "time deltas",
        ),
    ];
    for (text, expected) in cases {
        let err = parse::parse(text.as_bytes()).unwrap_err().to_string();
        assert!(err.contains(expected), "{expected:?} not in {err:?}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn mutated_profiles_never_panic() {
    let good = profile_json(&[8, 8, 6, 10, 9, 4, 3, 2], &[1000; 8]);
    let bytes = good.as_bytes();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let mut mutated = bytes.to_vec();
        for _ in 0..1 + next() % 4 {
            let at = (next() % mutated.len() as u64) as usize;
            match next() % 4 {
                0 => mutated[at] = b"0123456789-,[]{}\":"[(next() % 18) as usize],
                1 => {
                    mutated.remove(at);
                }
                2 => mutated.insert(at, b"9,1"[(next() % 3) as usize]),
                _ => mutated.truncate(at),
            }
            if mutated.is_empty() {
                break;
            }
        }
        if let Ok(profile) = parse::parse(mutated.as_slice()) {
            let summary = summarise(&profile);
            assert!(summary.busy_ms >= 0.0);
        }
    }
}

/// A function name of 1 MB is kept to 200 characters, so no output prints it whole.
#[test]
fn a_huge_function_name_is_cut() {
    let samples = [8, 8, 8];
    let text = profile_json(&samples, &[1000; 3])
        .replace("\"pbkdf2Sync\"", &format!("\"{}\"", "x".repeat(1 << 20)));
    let p = summarise(&parse::parse(text.as_bytes()).unwrap());
    let callee = p.hot[0].callee.as_ref().unwrap();
    assert_eq!(callee.function.chars().count(), 200);
    assert!(callee.function.ends_with('…'));
}

/// A time delta of 1e295 µs stands for no time: no absurd figure comes out.
#[test]
fn an_absurd_time_delta_counts_as_none() {
    let text = profile_json(&[8, 8, 8], &[1000, 1000, 1000]).replace(
        "\"timeDeltas\":[1000,1000,1000]",
        "\"timeDeltas\":[1000,1e295,1000]",
    );
    assert!(text.contains("1e295"), "{text}");
    let p = summarise(&parse::parse(text.as_bytes()).unwrap());
    assert!(p.busy_ms < 1e6, "{}", p.busy_ms);
}
