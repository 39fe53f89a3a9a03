//! The command line as a user meets it: bad input is refused in one line with exit status 2
//! and nothing sent; output formats; the JSON schema; Ctrl-C.

use std::io::Write;
use std::time::Duration;

use crate::support::{harness, run_json, Behaviour, TestServer};

/// Each case is refused with status 2, a single line naming `needle`, and no connection made.
#[test]
fn bad_input_is_refused_in_one_line_and_nothing_is_sent() {
    let server = TestServer::start(Behaviour::Fixed(Duration::ZERO));
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["-c", "0", &url], "--connections"),
        (vec!["-c", "10", "-a", "5", &url], "--amount"),
        (vec!["-d", "ten", &url], "--duration"),
        (vec!["-d", "0", &url], "--duration"),
        (vec!["-d", "5", "-a", "100", &url], "--amount"),
        (vec!["-H", "NoColon", &url], "--header"),
        (vec!["-H", "Bad Name: x", &url], "--header"),
        (vec!["-i", "/nonexistent/body.json", &url], "--input"),
        (vec!["-b", "x", "-i", "/etc/hostname", &url], "--input"),
        (vec!["-R", "0", &url], "--rate"),
        (vec!["-p", "0", &url], "--pipelining"),
        (vec!["-t", "0", &url], "--timeout"),
        (
            vec!["--cacert", not_pem.to_str().unwrap(), &url],
            "--cacert",
        ),
        (vec!["--insecure", "--cacert", "/x.pem", &url], "--cacert"),
        (vec!["ftp://127.0.0.1/"], "http://"),
        (vec!["not a url"], "URL"),
        (vec!["127.0.0.1:3000"], "scheme"),
        (vec!["-c", "10000000", &url], "--connections"),
        (vec!["--bogus", &url], "--bogus"),
        (vec![], "URL"),
    ];
    for (args, needle) in cases {
        let output = harness().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?}: not one line: {stderr}"
        );
        assert!(
            stderr.contains(needle),
            "{args:?}: '{stderr}' does not name {needle}"
        );
        assert!(output.stdout.is_empty(), "{args:?} printed to stdout");
    }
    assert_eq!(
        server.connections(),
        0,
        "a refused command line opened a connection"
    );
}

#[test]
fn json_output_validates_against_the_committed_schema() {
    let server = TestServer::start(Behaviour::StatusEvery { n: 3, status: 500 });
    let result = run_json(&[
        "-c",
        "2",
        "-a",
        "30",
        "-R",
        "500",
        "-H",
        "Authorization: Bearer s3cret",
        &server.url(),
    ]);
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../src/result/result.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&result)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    // autocannon's names where the meaning is the same.
    for pointer in [
        "/latency/p50",
        "/latency/p97_5",
        "/requests/average",
        "/throughput/total",
        "/non2xx",
    ] {
        assert!(result.pointer(pointer).is_some(), "missing {pointer}");
    }
    let text = result.to_string();
    assert!(
        !text.contains("s3cret"),
        "a secret header leaked into the result"
    );
    assert!(text.contains("[redacted]"));
}

#[test]
fn terminal_summary_has_autocannon_tables_and_no_colour_when_piped() {
    let server = TestServer::start(Behaviour::Fixed(Duration::ZERO));
    let output = harness()
        .args(["-c", "2", "-a", "200", "-l", &server.url()])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    for needle in [
        "Running 200 requests test @",
        "│ Latency │",
        "│ Req/Sec ",
        "│ Bytes/Sec ",
        "Percentile",
        "200 requests in ",
    ] {
        assert!(stdout.contains(needle), "missing '{needle}' in:\n{stdout}");
    }
    assert!(
        !stdout.contains('\x1b'),
        "colour codes when stdout is not a terminal"
    );
    assert!(
        output.stderr.is_empty(),
        "progress bar drawn when stderr is not a terminal"
    );
}

#[test]
fn help_and_version_exit_zero() {
    harness().arg("--help").assert().success();
    harness().arg("--version").assert().success();
}

#[test]
fn body_file_is_sent_with_its_length() {
    let server = TestServer::start(Behaviour::Fixed(Duration::ZERO));
    let mut body = tempfile::NamedTempFile::new().unwrap();
    body.write_all(&[b'z'; 3000]).unwrap();
    let result = run_json(&[
        "-m",
        "post",
        "-i",
        body.path().to_str().unwrap(),
        "-c",
        "1",
        "-a",
        "10",
        &server.url(),
    ]);
    assert_eq!(result["method"], "POST");
    assert_eq!(result["bodyBytes"], 3000);
    assert_eq!(
        server.requests(),
        10,
        "the server parsed every body by its Content-Length"
    );
}

/// Ctrl-C stops the load, and the result of what ran is still printed.
#[test]
fn interrupt_still_prints_the_result() {
    let server = TestServer::start(Behaviour::Fixed(Duration::from_millis(1)));
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("harness"))
        .args(["-c", "2", "-d", "30", "--json", "-n", &server.url()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["stopReason"], "interrupted");
    assert!(result["requests"]["total"].as_f64().unwrap() > 0.0);
    assert!(result["duration"].as_f64().unwrap() < 5.0);
}

/// `harness … | head -c 100`: a reader that leaves early is not a failure. Printing stops
/// quietly, the report files are still written, and the exit code is the run's own.
#[test]
fn a_reader_that_leaves_early_is_not_a_failure() {
    use std::io::Read;
    let server = TestServer::start(Behaviour::Fixed(Duration::from_millis(1)));
    let dir = tempfile::tempdir().unwrap();
    for json in [true, false] {
        let report = dir.path().join(format!("json-{json}"));
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("harness"));
        command.args(["-c", "2", "-d", "1", "-n", "--report"]);
        command.arg(&report);
        if json {
            command.arg("--json");
        }
        let mut child = command
            .arg(server.url())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 20];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        // The pipe's read end is closed here, before harness prints its result.
        let output = child.wait_with_output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "json {json}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            report.join("result.json").exists(),
            "json {json}: no result.json"
        );
        assert!(
            report.join("report.html").exists(),
            "json {json}: no report.html"
        );
    }
}

/// Results used to be written to `<path>.partial` and renamed, which replaced a FIFO, a
/// device or a symlink given as the output path with a regular file.
#[test]
fn output_paths_that_are_not_regular_files_are_written_in_place() {
    use std::os::unix::fs::FileTypeExt;
    let server = TestServer::start(Behaviour::Fixed(Duration::from_millis(1)));
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("junit.fifo");
    let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: creates a FIFO at a path we own.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let output = harness()
        .args(["-c", "1", "-d", "1", "-n", "--junit"])
        .arg(&fifo)
        .arg(server.url())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(reader.join().unwrap().contains("<testsuites"));
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());

    let real = dir.path().join("real.xml");
    std::fs::write(&real, "old").unwrap();
    let link = dir.path().join("link.xml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let output = harness()
        .args(["-c", "1", "-d", "1", "-n", "--junit"])
        .arg(&link)
        .arg(server.url())
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(&real)
        .unwrap()
        .contains("<testsuites"));
    let stray: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(stray.is_empty(), "temporary files left: {stray:?}");
}

/// A JUnit file in a folder that does not exist used to fail only after the whole run.
#[test]
fn an_output_file_in_a_missing_folder_is_refused_before_the_load() {
    let server = TestServer::start(Behaviour::Fixed(Duration::from_millis(1)));
    let output = harness()
        .args([
            "-c",
            "1",
            "-d",
            "1",
            "-n",
            "--junit",
            "/nonexistent/dir/out.xml",
        ])
        .arg(server.url())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--junit") && stderr.contains("/nonexistent/dir"),
        "{stderr}"
    );
    assert_eq!(server.requests(), 0, "nothing is sent");
}

/// Two runs in the same second used to share the default report folder, and one result
/// was lost.
#[test]
fn runs_in_the_same_second_get_their_own_report_folders() {
    let dir = tempfile::tempdir().unwrap();
    let runs: Vec<_> = (0..3)
        .map(|_| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("harness"))
                .current_dir(dir.path())
                .args([
                    "-c",
                    "1",
                    "-d",
                    "1",
                    "-n",
                    "--baseline",
                    "0s",
                    "--cooldown",
                    "0s",
                ])
                .args(["http://127.0.0.1:0/", "--", "node"])
                .arg(crate::support::app("hello.js"))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut run in runs {
        assert!(run.wait().unwrap().success());
    }
    let folders: Vec<_> = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("result.json").exists())
        .collect();
    assert_eq!(folders.len(), 3, "{folders:?}");
}

/// `-R 1e-19` made every worker panic, and harness printed "0 requests" and exit 0;
/// `-i /dev/zero` read until memory ran out.
#[test]
fn absurd_rates_and_bodies_are_refused_before_anything_is_sent() {
    let server = TestServer::start(Behaviour::Fixed(Duration::ZERO));
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.bin");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(65 * 1024 * 1024)
        .unwrap();
    let huge = huge.to_str().unwrap();
    for (args, flag) in [
        (vec!["-R", "1e-19"], "--rate"),
        (vec!["-m", "POST", "-i", huge], "--input"),
        (vec!["-m", "POST", "-i", "/dev/zero"], "--input"),
    ] {
        let output = harness()
            .args(&args)
            .args(["-d", "1", &server.url()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    assert_eq!(server.requests(), 0);
}

/// Secrets in `X-Auth-Token`-style headers and `token=` query values used to appear in the
/// terminal, the JSON and the report.
#[test]
fn secrets_in_headers_and_queries_are_redacted_everywhere() {
    let server = TestServer::start(Behaviour::Fixed(Duration::ZERO));
    let url = format!("{}?q=1&access_token=s3cr3t", server.url());
    let output = harness()
        .args([
            "-c",
            "1",
            "-a",
            "5",
            "--json",
            "-n",
            "-H",
            "X-Auth-Token: hunter2",
            &url,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        !text.contains("s3cr3t") && !text.contains("hunter2"),
        "{text}"
    );
    assert!(text.contains("access_token=[redacted]"), "{text}");
}

/// Runs `harness ARGS` inside a terminal (a pty from `script`) `columns` wide and returns
/// what the terminal showed, with the escape sequences taken out, one entry per line as
/// redrawn (split at `\r` and `\n`).
fn on_a_terminal(columns: u16, args: &str) -> Vec<String> {
    let harness = assert_cmd::cargo::cargo_bin("harness");
    let shell = format!(
        "stty cols {columns} rows 40; exec {} {args}",
        harness.display()
    );
    let output = assert_cmd::Command::new("script")
        .args(["-q", "-e", "-c", &shell, "/dev/null"])
        .env_remove("NO_COLOR")
        .env_remove("GITHUB_STEP_SUMMARY")
        .timeout(Duration::from_secs(60))
        .output()
        .expect("this test needs `script` (util-linux)");
    assert!(output.status.success(), "{output:?}");
    let mut text = String::new();
    let mut chars = String::from_utf8_lossy(&output.stdout).into_owned();
    chars.push(' ');
    let mut it = chars.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters, then one final byte from @ to ~.
            if it.peek() == Some(&'[') {
                it.next();
                for c in it.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            text.push(c);
        }
    }
    text.split(['\r', '\n']).map(str::to_string).collect()
}

/// A user watching a leak grow saw only a progress bar until the end. On a terminal, a line
/// under the bar now shows the load and the target once a second, cut to the terminal's
/// width; `-n` turns it off.
#[test]
fn on_a_terminal_a_live_line_shows_the_load_and_the_target() {
    let report = tempfile::tempdir().unwrap();
    let args = format!(
        "-c 10 -d 3 --no-heap --no-profile --report {} http://127.0.0.1:0/ -- node {}",
        report.path().display(),
        crate::support::app("cache-leak.js")
    );
    let lines = on_a_terminal(200, &args);
    let live: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(" req/s · p99 "))
        .collect();
    assert!(!live.is_empty(), "no live line: {lines:#?}");
    let last = live.last().unwrap();
    for part in ["errors", "target: RSS ", " · heap ", " · loop delay "] {
        assert!(last.contains(part), "{part:?} missing from {last:?}");
    }
    // The progress bar sits on the line above.
    let at = lines.iter().position(|l| l == *last).unwrap();
    assert!(
        lines[..at]
            .iter()
            .rev()
            .take(3)
            .any(|l| l.starts_with("running [")),
        "{lines:#?}"
    );

    let narrow = on_a_terminal(50, &args);
    let live: Vec<&String> = narrow.iter().filter(|l| l.contains(" req/s")).collect();
    assert!(!live.is_empty(), "no live line at 50 columns: {narrow:#?}");
    for line in live {
        assert!(
            line.trim_end().chars().count() < 50,
            "not cut to the width: {line:?}"
        );
    }

    // At 20 columns neither the bar nor the lines under it wrap (a wrapped line made the
    // redraw move up too few rows).
    let tiny = on_a_terminal(20, &args);
    let live: Vec<&String> = tiny
        .iter()
        .filter(|l| {
            l.starts_with('[')
                || l.starts_with("running")
                || (l.starts_with("  ") && (l.contains("req/s") || l.contains("waiting")))
        })
        .collect();
    assert!(
        live.iter().any(|l| l.starts_with('[')),
        "no bar at 20 columns: {tiny:#?}"
    );
    for line in live {
        assert!(
            line.trim_end().chars().count() < 20,
            "wider than 20 columns: {line:?}"
        );
    }

    let quiet = on_a_terminal(200, &format!("-n {args}"));
    assert!(
        !quiet
            .iter()
            .any(|l| l.contains(" req/s ·") || l.starts_with("running [")),
        "-n still shows progress: {quiet:#?}"
    );
}

/// `--start-at +0s` is now, with no warning; a time past without `--shard` says the load
/// begins now (there is no other shard to line up with, and no lateBy to record).
#[test]
fn start_at_now_is_on_time_and_a_past_time_without_shards_says_the_load_begins_now() {
    let server = TestServer::start(Behaviour::Fixed(std::time::Duration::ZERO));
    for (at, expected) in [
        ("+0s", None),
        ("2020-01-01T00:00:00Z", Some("the load begins now")),
    ] {
        let output = harness()
            .args(["-n", "-c", "1", "-d", "1", "--start-at", at])
            .arg(server.url())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{at}: {stderr}");
        match expected {
            None => assert!(!stderr.contains("--start-at"), "{at}: {stderr}"),
            Some(text) => assert!(
                stderr.contains(text) && !stderr.contains("its result says"),
                "{at}: {stderr}"
            ),
        }
    }
}

/// `--summary-md` is checked before the load: a dangling symlink (its folder missing) is
/// refused in one line and nothing is sent. A FIFO with no reader does not hang the run:
/// its write is given up after 10 s, saying why.
#[test]
fn a_summary_file_that_cannot_be_written_is_refused_before_the_load() {
    let server = TestServer::start(Behaviour::Fixed(Duration::ZERO));
    let dir = tempfile::tempdir().unwrap();
    let dangling = dir.path().join("summary.md");
    std::os::unix::fs::symlink(dir.path().join("missing/summary.md"), &dangling).unwrap();
    let output = harness()
        .args(["-n", "-c", "1", "-d", "5", "--summary-md"])
        .arg(&dangling)
        .arg(server.url())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--summary-md: cannot write to"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert_eq!(server.requests(), 0, "the load ran first");

    let fifo = dir.path().join("summary.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let output = harness()
        .args(["-n", "-c", "1", "-d", "1", "--summary-md"])
        .arg(&fifo)
        .arg(server.url())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("the FIFO had no reader for 10 s"),
        "{stderr}"
    );
}

/// Two runs given one `--report` folder: the second is refused in one line while the first
/// holds it, and the first's result is whole; after it, the folder is free again.
#[test]
fn two_runs_never_share_a_report_folder() {
    let server = TestServer::start(Behaviour::Fixed(Duration::ZERO));
    let dir = tempfile::tempdir().unwrap();
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["-n", "-c", "1", "-d", "3", "--report"])
        .arg(dir.path())
        .arg(server.url())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = dir.path().join(".harness.lock");
    for _ in 0..100 {
        if lock.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = harness()
        .args(["-n", "-c", "1", "-d", "1", "--report"])
        .arg(dir.path())
        .arg(server.url())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("is in use by another harness run"),
        "{stderr}"
    );
    assert!(first.wait().unwrap().success());
    assert!(dir.path().join("result.json").exists() && !lock.exists());
    let again = harness()
        .args(["-n", "-c", "1", "-d", "1", "--report"])
        .arg(dir.path())
        .arg(server.url())
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// Every file harness reads is bounded: a device that never ends is refused in one line
/// naming the bound, by `report`, `merge`, `compare` and `profile` alike.
#[test]
fn inputs_are_bounded_in_size() {
    for args in [
        vec!["report", "/dev/zero"],
        vec!["merge", "/dev/zero", "/dev/zero"],
        vec!["compare", "/dev/zero", "/dev/zero"],
        vec!["profile", "/dev/zero"],
    ] {
        let output = harness().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("is larger than"), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    }
}
