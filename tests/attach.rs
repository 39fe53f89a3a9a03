//! Attaching to Node processes harness did not start (`--pid`): apps started with plain
//! `node app.js`, outside harness, get the full probe through their inspector, and are left
//! as found: alive, the inspector closed again, the probe gone (a second attach works).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{app, free_port, harness, json_output};

/// The inspector's port is one per machine (9229): one attach at a time.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static INSPECTOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
    INSPECTOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `node APP` on a free port, outside harness, once it listens; killed when dropped.
struct Outside {
    child: Child,
    port: u16,
}

impl Outside {
    fn start(name: &str) -> Outside {
        let port = free_port();
        let child = Command::new("node")
            .arg(app(name))
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("this test needs node");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Outside { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn inspector_open() -> bool {
    std::net::TcpStream::connect(("127.0.0.1", 9229)).is_ok()
}

/// Whether the inspector closes within 2.5 s (`inspector.close()` runs a moment after
/// harness's session has gone).
fn closes() -> bool {
    for _ in 0..50 {
        if !inspector_open() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A blocked loop in an app harness did not start: found and named by the CPU trace, as
/// in a started one; the process lives on with its inspector closed, and a second attach
/// finds it as the first did.
#[test]
fn a_blocked_loop_in_a_process_harness_did_not_start_is_named() {
    let _one = one_at_a_time();
    let mut outside = Outside::start("blocked-loop.js");
    let pid = outside.child.id().to_string();
    for round in 0..2 {
        let output = harness()
            .args(["--json", "-n", "-c", "10", "-d", "3", "--pid", &pid])
            .arg(outside.url())
            .output()
            .unwrap();
        let result = json_output(&output);
        let attached = &result["target"]["attached"];
        assert_eq!(attached["opened"], true, "round {round}: {attached}");
        assert_eq!(attached["probe"], true, "round {round}: {attached}");
        assert!(!result["node"][0]["samples"].as_array().unwrap().is_empty());
        let verdict = result["verdict"].as_str().unwrap();
        assert!(
            verdict.starts_with("Blocked event loop") && verdict.contains("`busyWork`"),
            "round {round}: {verdict}"
        );
        assert!(outside.alive(), "round {round}: harness ended the process");
        // The inspector closes a moment after harness leaves (`inspector.close()` waits for
        // its sessions).
        assert!(closes(), "round {round}: the inspector was left open");
    }
}

/// An inspector that is not there is refused in one line naming the flag.
#[test]
fn an_inspector_that_does_not_answer_is_refused_in_one_line() {
    let _one = one_at_a_time();
    let outside = Outside::start("hello.js");
    let output = harness()
        .args(["-n", "-c", "1", "-d", "1", "--pid"])
        .arg(outside.child.id().to_string())
        .args(["--inspect", "127.0.0.1:9"])
        .arg(outside.url())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--inspect 127.0.0.1:9:"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

/// harness attached to `outside` for a 20 s load, 2 s after the inspector opened (the probe
/// in and the load under way).
fn attached_load(outside: &Outside) -> Child {
    let run = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["--json", "-n", "-c", "2", "-d", "20", "--pid"])
        .arg(outside.child.id().to_string())
        .arg(outside.url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if inspector_open() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(2));
    run
}

/// Ctrl-C during the load: harness ends promptly, and the process it attached to lives on
/// with its inspector closed and answers requests.
#[test]
fn a_signal_during_an_attached_load_leaves_the_process_as_found() {
    let _one = one_at_a_time();
    let mut outside = Outside::start("hello.js");
    // Once the probe is in (the inspector open and the load under way), interrupt.
    let mut run = attached_load(&outside);
    // SAFETY: signals the harness process this test started.
    unsafe { libc::kill(run.id() as i32, libc::SIGINT) };
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(outside.alive(), "the process was ended");
    assert!(closes(), "the inspector was left open");
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", outside.port)).unwrap();
    use std::io::{Read, Write};
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// harness killed outright (SIGKILL, or a second Ctrl-C) cannot close the inspector it
/// opened: the probe sees harness's socket close and closes it, and a later attach works.
#[test]
fn a_killed_harness_still_leaves_the_process_as_found() {
    let _one = one_at_a_time();
    let mut outside = Outside::start("hello.js");
    let pid = outside.child.id().to_string();
    let mut run = attached_load(&outside);
    assert!(inspector_open(), "harness did not open the inspector");
    run.kill().unwrap();
    run.wait().unwrap();
    assert!(outside.alive(), "the process was ended");
    assert!(closes(), "the inspector was left open");
    let output = harness()
        .args(["--json", "-n", "-c", "2", "-d", "1", "--pid", &pid])
        .arg(outside.url())
        .output()
        .unwrap();
    let result = json_output(&output);
    assert_eq!(
        result["target"]["attached"]["probe"], true,
        "{}",
        result["target"]
    );
    assert!(result["requests"]["total"].as_u64().unwrap() > 0);
}

/// A process that is not Node (here the test itself, serving from a thread) is watched
/// for RSS and CPU, never signalled, and the user is told why there is no probe.
#[test]
fn a_process_that_is_not_node_gets_rss_and_cpu_and_a_line_saying_so() {
    let server =
        crate::support::TestServer::start(crate::support::Behaviour::Fixed(Duration::ZERO));
    let output = harness()
        .args(["--json", "-n", "-c", "2", "-d", "1", "--pid"])
        .arg(std::process::id().to_string())
        .arg(server.url())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let result = json_output(&output);
    assert!(
        result["target"]["attached"].is_null(),
        "{}",
        result["target"]
    );
    assert!(
        stderr.contains(&format!("--pid {} runs tests-", std::process::id()))
            && stderr.contains("not node: RSS and CPU only"),
        "{stderr}"
    );
    assert!(result["node"].as_array().is_none_or(|n| n.is_empty()));
    assert!(result["requests"]["total"].as_u64().unwrap() > 0);
}

/// A leak in an app harness did not start: the heap trace runs on the process itself (no
/// second copy can be started) and names the variable that holds the memory; the process
/// lives on with its inspector closed.
#[test]
fn a_leak_in_a_process_harness_did_not_start_is_named_by_its_holder() {
    let _one = one_at_a_time();
    let mut outside = Outside::start("session-leak.js");
    let output = harness()
        .timeout(Duration::from_secs(180))
        .args(["--json", "-n", "-c", "10", "-d", "5", "-R", "1000", "--pid"])
        .arg(outside.child.id().to_string())
        .arg(outside.url())
        .output()
        .unwrap();
    let result = json_output(&output);
    assert_eq!(
        result["heapTrace"]["inPlace"], true,
        "{}",
        result["heapTrace"]
    );
    let verdict = result["verdict"].as_str().unwrap();
    assert!(
        verdict.starts_with("Memory leak held by variable `sessions`"),
        "{verdict}"
    );
    assert!(outside.alive(), "the process was ended");
    assert!(closes(), "the inspector was left open");
}
