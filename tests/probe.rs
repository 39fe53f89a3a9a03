//! The Node probe with real `node` processes: samples arrive and are plausible, floors are
//! taken at the end of each phase, warnings carry their location, several processes report,
//! and the probe is harmless where harness is not listening.

use std::process::Command;

use crate::support::{NodeRun, APPS};

const PROBE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/target/probe/probe.cjs");

/// Runs harness on `app` with a short load and returns the JSON result.
fn watch(app: &str, load: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let mut run = NodeRun::new(app).args(["--cooldown", "500ms"]).args(load);
    for (key, value) in env {
        run = run.env(key, value);
    }
    run.json()
}

fn floor(process: &serde_json::Value, phase: &str, field: &str) -> f64 {
    process["floors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["phase"] == phase)
        .unwrap_or_else(|| panic!("no {phase} floor in {}", process["floors"]))[field]
        .as_f64()
        .unwrap()
}

#[test]
fn samples_and_floors_arrive_from_the_target() {
    let result = watch("hello.js", &["-c", "4", "-d", "1"], &[]);
    let node = result["node"].as_array().unwrap();
    assert_eq!(node.len(), 1, "{node:?}");
    let process = &node[0];
    assert_eq!(process["pid"], result["target"]["pid"]);
    let samples = process["samples"].as_array().unwrap();
    assert!(
        samples.len() >= 15,
        "{} samples in ~2 s at 100 ms",
        samples.len()
    );
    for sample in samples {
        let heap_used = sample["heapUsed"].as_f64().unwrap();
        assert!(heap_used > 1e6 && heap_used <= sample["heapTotal"].as_f64().unwrap());
        let elu = sample["elu"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&elu));
        assert!(sample["delayP99"].as_f64().unwrap() >= 0.0);
    }
    let start = result["measureStart"].as_f64().unwrap();
    let busy = samples
        .iter()
        .filter(|s| s["t"].as_f64().unwrap() > start + 0.2)
        .map(|s| s["elu"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(
        busy > 0.3,
        "event-loop utilisation under load peaked at {busy}"
    );
    let phases: Vec<&str> = process["floors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["baseline", "load", "cooldown"]);
    let times: Vec<f64> = process["floors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["t"].as_f64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "floors out of order: {times:?}"
    );
    assert!(
        !process["gc"].as_array().unwrap().is_empty(),
        "load causes garbage collections"
    );
}

#[test]
fn the_heap_of_a_leaking_app_grows_between_floors() {
    let result = watch("cache-leak.js", &["-c", "4", "-a", "6000"], &[]);
    let process = &result["node"][0];
    let grown =
        floor(process, "cooldown", "arrayBuffers") - floor(process, "baseline", "arrayBuffers");
    // 6000 requests each cache a 1 kB Buffer that is never freed.
    assert!(grown > 5.5e6, "array buffers grew by {grown} bytes");
    let fixed = watch("cache-fixed.js", &["-c", "4", "-a", "6000"], &[]);
    let process = &fixed["node"][0];
    let grown =
        floor(process, "cooldown", "arrayBuffers") - floor(process, "baseline", "arrayBuffers");
    assert!(grown < 1e6, "a bounded cache grew by {grown} bytes");
}

#[test]
fn a_listener_leak_warning_names_the_line_of_the_on_call() {
    let result = watch("listener-leak.js", &["-c", "20", "-d", "2"], &[]);
    let warnings = result["node"][0]["warnings"].as_array().unwrap();
    let warning = warnings
        .iter()
        .find(|w| w["name"] == "MaxListenersExceededWarning")
        .unwrap_or_else(|| panic!("no listener warning in {warnings:?}"));
    let location = warning["location"].as_str().unwrap();
    assert!(location.contains("listener-leak.js:"), "{location}");
    let line = std::fs::read_to_string(format!("{APPS}/listener-leak.js")).unwrap();
    let at: usize = location.split(':').rev().nth(1).unwrap().parse().unwrap();
    assert!(
        line.lines().nth(at - 1).unwrap().contains(".on("),
        "line {at} is not the .on() call"
    );
    assert_eq!(warning["event"], "connected");
    assert!(warning["count"].as_u64().unwrap() > 10);
}

#[test]
fn every_node_process_of_the_target_reports() {
    let result = watch("spawns-child.js", &["-c", "2", "-d", "1"], &[]);
    let node = result["node"].as_array().unwrap();
    assert_eq!(node.len(), 2, "parent and child: {node:?}");
    let parent = result["target"]["pid"].as_u64().unwrap();
    assert!(
        node.iter().any(|p| p["ppid"].as_u64() == Some(parent)),
        "the child reports its parent"
    );
    assert!(node
        .iter()
        .all(|p| !p["samples"].as_array().unwrap().is_empty()));
}

#[test]
fn esm_apps_and_the_users_node_options_are_supported() {
    let result = watch(
        "hello.mjs",
        &["-c", "2", "-d", "1"],
        &[("NODE_OPTIONS", "--max-old-space-size=96")],
    );
    let process = &result["node"][0];
    assert!(!process["samples"].as_array().unwrap().is_empty());
    let limit = process["heapSizeLimit"].as_f64().unwrap();
    // Without it the limit is 4.3 GB or more; with it, 151 MB (Node 20, 22) or 302 MB (Node
    // 24, whose young generation counts for more).
    assert!(
        limit < 400e6,
        "the user's --max-old-space-size was dropped: limit {limit}"
    );
}

#[test]
fn a_blocked_event_loop_shows_in_delay_and_utilisation() {
    let result = watch("blocked-loop.js", &["-c", "10", "-d", "1"], &[]);
    let samples = result["node"][0]["samples"].as_array().unwrap();
    let start = result["measureStart"].as_f64().unwrap();
    let during: Vec<_> = samples
        .iter()
        .filter(|s| s["t"].as_f64().unwrap() > start + 0.3)
        .collect();
    let worst = during
        .iter()
        .map(|s| s["delayMax"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(
        worst > 15.0,
        "20 ms handlers should delay the loop, max {worst} ms"
    );
    let elu = during
        .iter()
        .map(|s| s["elu"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(elu > 0.8, "a busy loop is utilised, peak {elu}");
}

#[test]
fn the_probe_is_harmless_without_harness() {
    for socket in [Some("/nonexistent/harness.sock"), None] {
        let mut node = Command::new("node");
        node.args(["-e", "setTimeout(() => console.log('ok'), 50)"])
            .env("NODE_OPTIONS", format!("--require {PROBE}"))
            .env_remove("HARNESS_PROBE_SOCKET");
        if let Some(socket) = socket {
            node.env("HARNESS_PROBE_SOCKET", socket);
        }
        let output = node.output().unwrap();
        assert!(output.status.success());
        assert_eq!(String::from_utf8_lossy(&output.stdout), "ok\n");
        assert!(
            output.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// harness reads slowly: the probe's writes never block the app, what it cannot write soon
/// is dropped rather than piling up, and a message the socket took only part of is finished
/// later, so harness gets whole lines.
#[test]
fn the_probe_never_blocks_an_app_whose_harness_reads_slowly() {
    use std::io::Read;
    use std::os::unix::net::UnixListener;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("probe.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let reader = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let (mut text, mut chunk) = (Vec::new(), [0u8; 16 << 10]);
        loop {
            match stream.read(&mut chunk).unwrap() {
                0 => return String::from_utf8(text).unwrap(),
                n => text.extend_from_slice(&chunk[..n]),
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    // 200 warnings of 50 KB: 10 MB, far more than the socket buffer and the probe's 1 MB queue.
    let app = "for (let i = 0; i < 200; i++) process.emitWarning('w' + i + ' ' + 'x'.repeat(50000));
               let ticks = 0; const t = setInterval(() => { if (++ticks === 50) { clearInterval(t); console.log('ok'); } }, 10);";
    let mut node = Command::new("node")
        .args(["-e", app])
        .env("NODE_OPTIONS", format!("--no-warnings --require {PROBE}"))
        .env("HARNESS_PROBE_SOCKET", &path)
        .env("HARNESS_PROBE_INTERVAL", "10")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while node.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            node.kill().unwrap();
            panic!("the app did not finish while harness read its probe's socket slowly");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = node.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "ok\n");

    let text = reader.join().unwrap();
    // Every complete line is a whole message. Only the very end may be cut short: the
    // process exited in the middle of a write, and harness skips a line that does not parse.
    let lines: Vec<serde_json::Value> = text
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("torn line ({e}): {l:.80}")))
        .collect();
    assert_eq!(lines[0]["type"], "hello");
    let warnings = lines.iter().filter(|l| l["type"] == "warning").count();
    assert!(
        (1..200).contains(&warnings),
        "{warnings} of 200 warnings got through"
    );
    let samples = lines.iter().filter(|l| l["type"] == "sample").count();
    assert!(samples > 0, "no sample got through after the burst");
}

/// A server that warned on every request took harness to 323 MB in 5 s, with a 43 MB
/// result: warnings of one kind are now kept once, with a count.
#[test]
fn a_warning_on_every_request_is_kept_once_with_its_count() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("warns.js");
    std::fs::write(
        &app,
        "require('http').createServer((q, s) => { process.emitWarning('slow path taken', 'SlowPathWarning'); \
         s.end('ok') }).listen(process.env.PORT, '127.0.0.1')",
    )
    .unwrap();
    let output = crate::support::harness()
        .args([
            "--json",
            "-n",
            "-c",
            "10",
            "-d",
            "2",
            "--baseline",
            "0s",
            "--cooldown",
            "0s",
        ])
        .args(["http://127.0.0.1:0/", "--", "node"])
        .arg(&app)
        .output()
        .unwrap();
    let result = crate::support::json_output(&output);
    let warnings = result["node"][0]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]["occurrences"].as_u64().unwrap() > 1000,
        "{}",
        warnings[0]
    );
    assert!(
        output.stdout.len() < 2_000_000,
        "the result is {} bytes",
        output.stdout.len()
    );
}

/// A target's warning with escape sequences (clear screen, set title) reached the terminal
/// raw: they are shown escaped, in the summary and in the JSON alike.
#[test]
fn escape_sequences_from_the_target_reach_the_terminal_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("escapes.js");
    std::fs::write(
        &app,
        "process.emitWarning('\\x1b[2J\\x1b]0;owned\\x07gone\\r', 'Evil\\x1b[8mWarning');\n\
         console.error('\\x1b[2Jon stderr');\n\
         require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT, '127.0.0.1')",
    )
    .unwrap();
    let run = |json: bool| {
        let mut cmd = crate::support::harness();
        if json {
            cmd.arg("--json");
        }
        cmd.args([
            "-n",
            "-c",
            "2",
            "-d",
            "1",
            "--baseline",
            "0s",
            "--cooldown",
            "0s",
        ])
        .args(["http://127.0.0.1:0/", "--", "node"])
        .arg(&app)
        .output()
        .unwrap()
    };
    let output = run(false);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("\\u{1b}[2J"), "{stdout}");
    assert!(!stdout.contains('\x1b') && !stdout.contains('\x07') && !stdout.contains('\r'));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("\x1b[2J"), "{stderr}");
    // The JSON keeps the message as the target wrote it, in JSON's own escapes.
    let result = crate::support::json_output(&run(true));
    assert_eq!(
        result["node"][0]["warnings"][0]["message"],
        "\x1b[2J\x1b]0;owned\x07gone\r"
    );
}

/// Length of phase `name` in the result, seconds.
fn phase_length(result: &serde_json::Value, name: &str) -> f64 {
    let phase = result["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no {name} phase in {}", result["phases"]));
    phase["end"].as_f64().unwrap() - phase["start"].as_f64().unwrap()
}

/// The fixed 3 s baseline and 6 s cooldown added 9 s to every run: by default they end when
/// the target is at rest, and the cooldown waits for the load's work to end on the target's
/// side (here a timer per request, still pending when the load stops). Given lengths are
/// kept.
#[test]
fn idle_phases_end_when_the_target_is_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("lingers.js");
    std::fs::write(
        &app,
        "require('http').createServer((q, s) => { s.end('ok'); setTimeout(() => {}, 2000) })\
           .listen(process.env.PORT, '127.0.0.1')",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let output = crate::support::harness()
            .args([
                "--json",
                "-n",
                "-c",
                "5",
                "-d",
                "1",
                "--no-heap",
                "--no-profile",
            ])
            .args(extra)
            .args(["http://127.0.0.1:0/", "--", "node"])
            .arg(&app)
            .output()
            .unwrap();
        crate::support::json_output(&output)
    };
    let result = run(&[]);
    let (baseline, cooldown) = (
        phase_length(&result, "baseline"),
        phase_length(&result, "cooldown"),
    );
    assert!((0.5..2.5).contains(&baseline), "baseline {baseline} s");
    // The last timers end 2 s after the load; the cooldown waits for them, not for 6 s.
    assert!((1.5..5.0).contains(&cooldown), "cooldown {cooldown} s");
    assert_eq!(result["node"][0]["floors"].as_array().unwrap().len(), 3);
    let result = run(&["--baseline", "1500ms", "--cooldown", "500ms"]);
    let (baseline, cooldown) = (
        phase_length(&result, "baseline"),
        phase_length(&result, "cooldown"),
    );
    assert!((1.5..2.0).contains(&baseline), "baseline {baseline} s");
    assert!((0.5..1.0).contains(&cooldown), "cooldown {cooldown} s");
}
