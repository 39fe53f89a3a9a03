//! The target's life: `-- COMMAND` started in its own group with PORT set, readiness, the
//! stop sequence, and no process left behind on any path. Real `node` processes from
//! `scenarios/apps/`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{app, free_port, group_members, harness, num};

fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    !stat[stat.rfind(')').unwrap() + 2..].starts_with('Z')
}

/// Runs harness with a short load against `name` and returns (exit code, JSON result, stderr).
fn run_target(
    args: &[&str],
    env: &[(&str, &str)],
    command: &[&str],
) -> (Option<i32>, serde_json::Value, String) {
    run_target_on(free_port(), args, env, command)
}

fn run_target_on(
    port: u16,
    args: &[&str],
    env: &[(&str, &str)],
    command: &[&str],
) -> (Option<i32>, serde_json::Value, String) {
    let url = format!("http://127.0.0.1:{port}/");
    let mut cmd = harness();
    cmd.args([
        "--json",
        "-n",
        "-c",
        "2",
        "--baseline",
        "300ms",
        "--cooldown",
        "300ms",
    ])
    .args(args)
    .arg(&url)
    .arg("--")
    .args(command);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let result = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (output.status.code(), result, stderr)
}

/// Live processes that inherited `PORT=port` from harness.
fn leftovers(port: u16) -> Vec<u32> {
    std::thread::sleep(Duration::from_millis(300));
    let marker = format!("PORT={port}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|var| var == marker.as_bytes()))
                .unwrap_or(false)
                && alive(*pid)
        })
        .collect()
}

fn target_pid(result: &serde_json::Value) -> u32 {
    result["target"]["pid"].as_u64().unwrap() as u32
}

#[test]
fn the_target_is_started_with_port_waited_for_and_stopped_with_sigint() {
    let (code, result, stderr) = run_target(&["-d", "1"], &[], &["node", &app("hello.js")]);
    assert_eq!(code, Some(0), "{stderr}");
    let target = &result["target"];
    assert!(num(&result, "/requests/total") > 100.0);
    assert!(target["readyAfter"].as_f64().unwrap() < 10.0);
    assert_eq!(target["stopSignals"], serde_json::json!(["SIGINT"]));
    assert_eq!(target["exitSignal"], 2);
    assert!(target["stdoutTail"][0]
        .as_str()
        .unwrap()
        .contains("listening"));
    let phases: Vec<&str> = result["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["baseline", "load", "cooldown"]);
    assert!(group_members(target_pid(&result)).is_empty());
}

#[test]
fn the_process_sampler_sees_the_target_under_load() {
    let (code, result, stderr) = run_target(
        &["-d", "1", "--sample-interval", "50ms"],
        &[],
        &["node", &app("hello.js")],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let points = result["process"]["points"].as_array().unwrap();
    // The flag sets the spacing; the count depends on how busy the machine is.
    let mut gaps: Vec<f64> = points
        .windows(2)
        .map(|w| w[1]["t"].as_f64().unwrap() - w[0]["t"].as_f64().unwrap())
        .collect();
    gaps.sort_by(f64::total_cmp);
    assert!(points.len() >= 10, "{} samples in ~1.6 s", points.len());
    let median = gaps[gaps.len() / 2];
    assert!(
        (0.03..0.08).contains(&median),
        "samples {median} s apart at --sample-interval 50ms"
    );
    assert!(
        points
            .iter()
            .all(|p| p["rss"].as_u64().unwrap() > 10_000_000),
        "node's RSS is over 10 MB"
    );
    let load_start = num(&result, "/measureStart");
    let busiest = points
        .iter()
        .filter(|p| p["t"].as_f64().unwrap() > load_start + 0.2)
        .map(|p| p["cpu"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(
        busiest > 30.0,
        "the target's CPU under load peaked at {busiest} %"
    );
    assert!(points.iter().all(|p| p["fds"].as_u64().unwrap() >= 3));
}

#[test]
fn a_target_that_never_listens_is_reported_with_its_stderr() {
    let started = Instant::now();
    let port = free_port();
    let (code, _, stderr) = run_target_on(
        port,
        &["-d", "1", "--ready-timeout", "1s"],
        &[],
        &["node", &app("never-listens.js")],
    );
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("did not accept connections"), "{stderr}");
    assert!(
        stderr.contains("database not reachable") || stderr.contains("once the database is up"),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(leftovers(port).is_empty());
}

#[test]
fn a_target_that_exits_at_start_shows_its_status_and_stderr() {
    let (code, _, stderr) = run_target(&["-d", "1"], &[], &["node", &app("fails-at-start.js")]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("exit code 1"), "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
}

#[test]
fn a_missing_command_is_an_error_naming_it() {
    let (code, _, stderr) = run_target(&["-d", "1"], &[], &["/nonexistent/server"]);
    assert_eq!(
        code,
        Some(3),
        "a target that cannot start is a failed target: {stderr}"
    );
    assert!(stderr.contains("/nonexistent/server"), "{stderr}");
}

#[test]
fn a_crash_during_the_load_keeps_the_results_and_fails_the_run() {
    let (code, result, stderr) = run_target(
        &["-d", "5"],
        &[("CRASH_AFTER", "50")],
        &["node", &app("crash-after.js")],
    );
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(result["stopReason"], "targetExited");
    let target = &result["target"];
    assert!(
        target["failure"]
            .as_str()
            .unwrap()
            .contains("exited during the load"),
        "{target}"
    );
    assert_ne!(target["exitCode"], 0);
    let stderr_tail = target["stderrTail"].to_string();
    assert!(stderr_tail.contains("Error"), "{stderr_tail}");
    let total = num(&result, "/requests/total");
    assert!(
        (40.0..=60.0).contains(&total),
        "{total} requests before the crash at 50"
    );
    assert!(num(&result, "/duration") < 4.0);
}

#[test]
fn a_target_ignoring_sigint_gets_sigterm_and_one_ignoring_both_gets_sigkill() {
    let (code, result, stderr) = run_target(
        &["-a", "20", "--grace", "300ms"],
        &[],
        &["node", &app("ignores-signals.js")],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        result["target"]["stopSignals"],
        serde_json::json!(["SIGINT", "SIGTERM"])
    );
    let (code, result, stderr) = run_target(
        &["-a", "20", "--grace", "300ms"],
        &[("IGNORE_TERM", "1")],
        &["node", &app("ignores-signals.js")],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        result["target"]["stopSignals"],
        serde_json::json!(["SIGINT", "SIGTERM", "SIGKILL"])
    );
    assert_eq!(result["target"]["exitSignal"], 9);
    assert!(group_members(target_pid(&result)).is_empty());
}

#[test]
fn a_child_process_of_the_target_is_stopped_too() {
    let (code, result, stderr) = run_target(&["-a", "20"], &[], &["node", &app("spawns-child.js")]);
    assert_eq!(code, Some(0), "{stderr}");
    let stdout = result["target"]["stdoutTail"].to_string();
    let child: u32 = stdout
        .split("child pid ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no child pid in {stdout}"));
    assert!(!alive(child), "child {child} outlived harness");
    assert!(group_members(target_pid(&result)).is_empty());
}

/// The pid printed after `label` in the target's stdout.
fn printed_pid(result: &serde_json::Value, label: &str) -> u32 {
    let stdout = result["target"]["stdoutTail"].to_string();
    stdout
        .split(label)
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no '{label}' in {stdout}"))
}

/// Waits up to 2 s for `pid` to be gone (PID 1 reaps what harness left when it exits).
fn gone(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    !alive(pid)
}

/// A `detached` child and a double-forked daemon survived a normal stop: signalling the
/// group missed them. They are found, stopped by pid and named.
#[test]
fn processes_that_left_the_group_are_stopped_and_named() {
    let (code, result, stderr) = run_target(&["-a", "20"], &[], &["node", &app("leaves-group.js")]);
    assert_eq!(code, Some(0), "{stderr}");
    let detached = printed_pid(&result, "detached pid ");
    let daemon = printed_pid(&result, "daemon pid ");
    let left: Vec<u64> = result["target"]["leftGroup"]
        .as_array()
        .unwrap_or_else(|| panic!("no leftGroup in {}", result["target"]))
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    assert!(
        left.contains(&u64::from(detached)) && left.contains(&u64::from(daemon)),
        "{left:?} should name {detached} and {daemon}"
    );
    assert!(
        gone(detached),
        "the detached child {detached} outlived harness"
    );
    assert!(gone(daemon), "the daemon {daemon} outlived harness");
}

/// A target that daemonised at start got "exited before it was ready" while its daemon
/// kept the port.
#[test]
fn a_target_that_daemonises_is_told_to_stay_in_the_foreground() {
    let port = free_port();
    let (code, _, stderr) =
        run_target_on(port, &["-d", "1"], &[], &["node", &app("daemonises.js")]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("daemonised") && stderr.contains("foreground"),
        "{stderr}"
    );
    let pid: u32 = stderr
        .split("left process ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {stderr}"));
    assert!(gone(pid), "the daemon {pid} outlived harness");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the port is still served"
    );
}

#[test]
fn ctrl_c_stops_the_load_and_the_target() {
    let port = free_port();
    let child = Command::new(assert_cmd::cargo::cargo_bin("harness"))
        .args([
            "--json",
            "-n",
            "-c",
            "2",
            "-d",
            "30",
            "--baseline",
            "0s",
            &format!("http://127.0.0.1:{port}/"),
            "--",
        ])
        .args(["node", &app("hello.js")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    // SAFETY: signals our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["stopReason"], "interrupted");
    assert!(group_members(target_pid(&result)).is_empty());
}

#[test]
fn ctrl_c_during_the_heap_trace_stops_it_and_the_target() {
    use std::io::BufRead;
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("harness"))
        .args([
            "--json",
            "-n",
            "-c",
            "2",
            "-d",
            "3",
            "--baseline",
            "0s",
            "--cooldown",
            "0s",
            "--heap",
            "http://127.0.0.1:0/",
            "--",
        ])
        .args(["node", &app("cache-leak.js")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let announced = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|line| line.starts_with("Heap trace"));
    assert!(announced.is_some(), "harness never started the heap trace");
    // SAFETY: signals our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{rest:?}");
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        result["stopReason"], "completed",
        "the measured load had ended"
    );
    let trace = &result["heapTrace"];
    assert_eq!(trace["warning"], "interrupted", "{trace}");
    assert!(result["heap"][0]["analysis"].is_null());
    assert!(group_members(target_pid(&result)).is_empty());
    if let Some(second) = trace["pid"].as_u64() {
        assert!(
            group_members(second as u32).is_empty(),
            "the heap trace's copy of the target is gone too"
        );
    }
}

#[test]
fn a_panicking_harness_leaves_no_target_behind() {
    let port = free_port();
    let output = harness()
        .env("HARNESS_FAULT", "panic-after-ready")
        .args([
            "-n",
            "-d",
            "1",
            &format!("http://127.0.0.1:{port}/"),
            "--",
            "node",
            &app("spawns-child.js"),
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("Latency"));
    // The target and its child inherited PORT from harness: find them by it.
    let leftovers = leftovers(port);
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

#[test]
fn pid_mode_watches_without_stopping() {
    let port = free_port();
    let mut app = Command::new("node")
        .arg(app("hello.js"))
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let pid = app.id().to_string();
    let output = harness()
        .args([
            "--json",
            "-n",
            "-c",
            "2",
            "-d",
            "1",
            "--baseline",
            "200ms",
            "--cooldown",
            "200ms",
            "--no-probe",
            "--pid",
            &pid,
        ])
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .unwrap();
    let still_running = app.try_wait().unwrap().is_none();
    let _ = app.kill();
    let _ = app.wait();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(still_running, "--pid must not stop the process");
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["target"]["started"], false);
    assert!(result["process"]["points"].as_array().unwrap().len() > 5);
    assert!(result.get("node").is_none(), "no probe with --no-probe");
    assert!(result["target"].get("attached").is_none());
}

#[test]
fn a_non_node_target_gets_process_samples_only() {
    // http.server takes its port as an argument, not from PORT.
    let port = free_port().to_string();
    let url = format!("http://127.0.0.1:{port}/");
    let output = harness()
        .args([
            "--json",
            "-n",
            "-c",
            "2",
            "-a",
            "50",
            "--baseline",
            "200ms",
            "--cooldown",
            "200ms",
            &url,
            "--",
        ])
        .args(["python3", "-m", "http.server", &port, "--bind", "127.0.0.1"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(num(&result, "/requests/total"), 50.0);
    assert!(result["process"]["points"].as_array().unwrap().len() > 3);
    assert!(
        result.get("node").is_none(),
        "a Python target has no Node probe data"
    );
}

/// Starts harness on `command` with `args` (JSON out), waits `after`, then sends `signals`
/// one by one, `between` apart; returns (exit code, seconds from the first signal to the
/// exit, the JSON result or null).
fn signalled(
    args: &[&str],
    env: &[(&str, &str)],
    command: &[&str],
    after: Duration,
    signals: &[libc::c_int],
    between: Duration,
) -> (Option<i32>, f64, serde_json::Value) {
    let port = free_port();
    let child = Command::new(assert_cmd::cargo::cargo_bin("harness"))
        .args(["--json", "-n", "-c", "2"])
        .args(args)
        .arg(format!("http://127.0.0.1:{port}/"))
        .arg("--")
        .args(command)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let first = Instant::now();
    for (i, signal) in signals.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(between);
        }
        // SAFETY: signals our own child.
        unsafe { libc::kill(child.id() as i32, *signal) };
    }
    let output = child.wait_with_output().unwrap();
    let seconds = first.elapsed().as_secs_f64();
    let result = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    assert!(
        leftovers(port).is_empty(),
        "a process of the target is left"
    );
    (output.status.code(), seconds, result)
}

/// It used to run the whole load anyway: the baseline took the signal, and the load never
/// looked again.
#[test]
fn a_signal_during_the_baseline_stops_the_run_at_once() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        let (code, seconds, result) = signalled(
            &["-d", "30", "--baseline", "20s"],
            &[],
            &["node", &app("hello.js")],
            Duration::from_millis(1500),
            &[signal],
            Duration::ZERO,
        );
        assert_eq!(code, Some(130), "signal {signal}");
        assert!(
            seconds < 10.0,
            "signal {signal}: the run went on for {seconds:.1} s"
        );
        assert_eq!(result["stopReason"], "interrupted", "signal {signal}");
    }
}

/// It used to ignore every signal after the first: a target that ignores SIGINT and SIGTERM
/// kept harness in its stop sequence for the whole grace.
#[test]
fn a_second_signal_while_stopping_a_stubborn_target_kills_it_at_once() {
    let (code, seconds, _) = signalled(
        &["-d", "30", "--baseline", "0s", "--grace", "30s"],
        &[("IGNORE_TERM", "1")],
        &["node", &app("ignores-signals.js")],
        Duration::from_millis(1500),
        &[libc::SIGINT, libc::SIGINT],
        Duration::from_millis(1500),
    );
    assert_eq!(code, Some(130));
    assert!(seconds < 8.0, "harness took {seconds:.1} s to leave");
}

/// `npx harness` passes on a SIGTERM sent to its process group, so harness got it twice at
/// once and took it for the "kill now" second signal: the result was lost.
#[test]
fn the_same_signal_delivered_twice_at_once_still_stops_the_run_gracefully() {
    let (code, _, result) = signalled(
        &["-d", "30", "--baseline", "0s"],
        &[],
        &["node", &app("hello.js")],
        Duration::from_millis(1500),
        &[libc::SIGTERM, libc::SIGTERM],
        Duration::ZERO,
    );
    assert_eq!(code, Some(130));
    assert_eq!(result["stopReason"], "interrupted", "no result: {result}");
}

/// `PR_SET_PDEATHSIG` kills only the leader: its children used to live on under PID 1.
#[test]
fn a_harness_killed_outright_leaves_no_process_of_the_target() {
    let port = free_port();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("harness"))
        .args(["-n", "-c", "2", "-d", "30"])
        .arg(format!("http://127.0.0.1:{port}/"))
        .args(["--", "node", &app("spawns-child.js")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while leftovers(port).len() < 2 && Instant::now() < deadline {}
    assert!(
        leftovers(port).len() >= 2,
        "the target and its child never ran"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !leftovers(port).is_empty() && Instant::now() < deadline {}
    assert!(
        leftovers(port).is_empty(),
        "{:?} outlived harness",
        leftovers(port)
    );
}

/// One invalid UTF-8 byte used to stop the reader and leave the target to die of EPIPE.
#[test]
fn an_invalid_utf8_byte_in_the_targets_output_does_not_break_its_pipe() {
    let server = "require('http').createServer((q, s) => { process.stdout.write(Buffer.from([0xff, 0xfe, 10])); \
                  process.stderr.write(Buffer.from([0xc3, 10])); s.end('ok') }).listen(process.env.PORT, '127.0.0.1')";
    let (code, result, stderr) = run_target(&["-d", "2"], &[], &["node", "-e", server]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(result["errors"], 0, "{}", result["errorsByKind"]);
    assert!(
        result["target"].get("failure").is_none(),
        "{}",
        result["target"]
    );
    assert!(result["requests"]["total"].as_u64().unwrap() > 100);
}

/// 100 MB written without a newline took harness from 7 MB to 109 MB: a line is cut while
/// it is read.
#[test]
fn a_huge_line_without_a_newline_is_not_held() {
    // Written a megabyte at a time; the peak measured is harness's own.
    let server = "const mb = Buffer.alloc(1 << 20, 'x'); \
                  for (let i = 0; i < 100; i++) require('fs').writeSync(1, mb); \
                  require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT, '127.0.0.1')";
    let (code, peak_mb) = crate::support::peak_rss_mb(
        Command::new(assert_cmd::cargo::cargo_bin("harness"))
            .args([
                "-n",
                "-c",
                "1",
                "-a",
                "10",
                "--no-probe",
                "--baseline",
                "0s",
            ])
            .arg(format!("http://127.0.0.1:{}/", free_port()))
            .args(["--", "node", "-e", server]),
    );
    assert_eq!(code, Some(0));
    assert!(peak_mb < 80.0, "harness peaked at {peak_mb:.0} MB");
}

/// A crash during the baseline used to be reported as "exited during the load".
#[test]
fn a_crash_during_the_baseline_is_named_as_such() {
    let server = "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT, '127.0.0.1'); \
                  setTimeout(() => process.exit(1), 100)";
    // The helper's baseline is 300 ms: the target exits in it.
    let (code, result, stderr) = run_target(&["-d", "2"], &[], &["node", "-e", server]);
    assert_eq!(code, Some(3), "{stderr}");
    let failure = result["target"]["failure"].as_str().unwrap();
    assert!(failure.contains("during the baseline"), "{failure}");
}

/// A target that blocked its loop for good during the cooldown stalled harness for minutes
/// (10 s for the floor, 120 s for a snapshot), ignoring Ctrl-C, then said "no problem
/// found". A probe that stops answering is now a warning, and a signal ends the wait.
#[test]
fn a_target_that_stops_answering_the_probe_is_a_warning_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("freezes.js");
    std::fs::write(
        &app,
        "let frozen; require('http').createServer((q, s) => { \
           frozen = frozen || setTimeout(() => { for (;;) {} }, 1300); s.end('ok') \
         }).listen(process.env.PORT, '127.0.0.1')",
    )
    .unwrap();
    let app = app.to_str().unwrap();
    let args = [
        "-d",
        "1",
        "--baseline",
        "0s",
        "--cooldown",
        "1s",
        "--grace",
        "1s",
    ];
    // No signal: the floor after the cooldown waits its 10 s and warns.
    let output = harness()
        .args(["--json", "-n", "-c", "2", "--no-heap", "--no-profile"])
        .args(args)
        .args([
            &format!("http://127.0.0.1:{}/", free_port()),
            "--",
            "node",
            app,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("did not answer the forced GC"), "{stderr}");
    // A signal in that wait ends it, with --heap too.
    let (code, seconds, result) = signalled(
        &[&args[..], &["--heap"]].concat(),
        &[],
        &["node", app],
        Duration::from_millis(4000),
        &[libc::SIGINT],
        Duration::ZERO,
    );
    assert_eq!(code, Some(130));
    assert!(seconds < 6.0, "harness took {seconds:.1} s to stop");
    // The load had finished: its result is kept.
    assert!(num(&result, "/requests/total") > 0.0, "{result}");
}

/// A secret in the target's command line (a flag's value, a URL's password) appears in no
/// output: not in the terminal, nor in the JSON's command or the Node process's own argv.
#[test]
fn secrets_in_the_targets_command_line_are_redacted_everywhere() {
    let url = format!("http://127.0.0.1:{}/", free_port());
    for json in [true, false] {
        let mut command = harness();
        command.args(["-n", "-c", "2", "-d", "1", "--no-heap", "--no-profile"]);
        if json {
            command.arg("--json");
        }
        let output = command
            .args([url.as_str(), "--", "node", &app("hello.js")])
            .args(["--password=hunter2", "postgres://app:hunter2@db/orders"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{stdout}");
        assert!(!stdout.contains("hunter2"), "{stdout}");
        if json {
            let result: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            let argv = result["node"][0]["argv"].to_string();
            assert!(
                argv.contains("postgres://app:[redacted]@db/orders")
                    && argv.contains("--password=[redacted]"),
                "{argv}"
            );
        }
    }
}
