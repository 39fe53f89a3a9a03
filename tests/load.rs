//! The load engine against real servers on 127.0.0.1:0: exact counts, latency that matches a
//! server's known delay, stalls under the open model, pipelining, errors by kind.

use std::time::Duration;

use crate::support::{harness, json_output, num, run_json, Behaviour, TestServer};

#[test]
fn amount_sends_exactly_that_many_requests() {
    let server = TestServer::start(Behaviour::Fixed(Duration::ZERO));
    let result = run_json(&["-c", "10", "-a", "1000", &server.url()]);
    assert_eq!(num(&result, "/requests/total"), 1000.0);
    assert_eq!(num(&result, "/requests/sent"), 1000.0);
    assert_eq!(num(&result, "/2xx"), 1000.0);
    assert_eq!(num(&result, "/statusCodeStats/200/count"), 1000.0);
    assert_eq!(num(&result, "/errors"), 0.0);
    assert_eq!(num(&result, "/latency/totalCount"), 1000.0);
    assert_eq!(server.requests(), 1000);
    assert_eq!(server.connections(), 10);
    // Every response is 43 bytes of head and body.
    assert_eq!(num(&result, "/throughput/total"), 43_000.0);
}

#[test]
fn latency_matches_a_fixed_delay_server() {
    let server = TestServer::start(Behaviour::Fixed(Duration::from_millis(20)));
    let result = run_json(&["-c", "10", "-a", "300", &server.url()]);
    let (min, p50, p99) = (
        num(&result, "/latency/min"),
        num(&result, "/latency/p50"),
        num(&result, "/latency/p99"),
    );
    assert!(
        min >= 20.0,
        "min {min} ms is below the server's 20 ms delay"
    );
    assert!(
        (20.0..30.0).contains(&p50),
        "p50 {p50} ms, expected 20-30 ms"
    );
    assert!(p99 < 100.0, "p99 {p99} ms");
}

/// wrk2's rule: a server that stalls 200 ms of every second at 1000 requests/s holds 20 % of
/// the requests for a uniform 0-200 ms, so p90 is near 100 ms and p99 near 190 ms. Measuring
/// from the actual send time would hide almost all of it.
#[test]
fn a_stalling_server_shows_in_the_percentiles_under_rate() {
    let server = TestServer::start(Behaviour::Stall {
        period: Duration::from_secs(1),
        stall: Duration::from_millis(200),
    });
    let result = run_json(&["-R", "1000", "-c", "20", "-d", "3", &server.url()]);
    let p90 = num(&result, "/latency/p90");
    let p99 = num(&result, "/latency/p99");
    assert!(
        (60.0..140.0).contains(&p90),
        "p90 {p90} ms, expected about 100 ms"
    );
    assert!(
        (150.0..240.0).contains(&p99),
        "p99 {p99} ms, expected about 190 ms"
    );
    let uncorrected = num(&result, "/latencyUncorrected/p90");
    assert!(
        uncorrected < p90 / 2.0,
        "uncorrected p90 {uncorrected} ms vs {p90} ms"
    );
    assert!(num(&result, "/lateRequests") > 100.0);
    let total = num(&result, "/requests/total");
    assert!(
        (2500.0..=3100.0).contains(&total),
        "{total} requests at 1000/s for 3 s"
    );
}

#[test]
fn pipelined_responses_of_every_framing_are_matched_in_order() {
    let server = TestServer::start(Behaviour::Varied);
    let result = run_json(&["-c", "4", "-p", "8", "-a", "2000", &server.url()]);
    assert_eq!(num(&result, "/errors"), 0.0, "{result}");
    assert_eq!(num(&result, "/requests/total"), 2000.0);
    assert_eq!(server.requests(), 2000);
    // One request in four on each connection gets a 204.
    let no_content = num(&result, "/statusCodeStats/204/count");
    assert!((496.0..=504.0).contains(&no_content), "{no_content} 204s");
    // A quarter of the responses carry 20 kB bodies, all of which were read.
    assert!(num(&result, "/throughput/total") > 495.0 * 20_000.0);
}

#[test]
fn refused_connections_are_counted_as_errors() {
    let addr = TestServer::closed_port();
    let result = run_json(&["-c", "2", "-a", "10", &format!("http://{addr}/")]);
    assert_eq!(num(&result, "/errorsByKind/connectRefused/count"), 10.0);
    assert_eq!(num(&result, "/errors"), 10.0);
    assert_eq!(num(&result, "/requests/total"), 0.0);
}

#[test]
fn resets_are_counted_and_the_connection_reopens() {
    let server = TestServer::start(Behaviour::ResetEvery(5));
    let result = run_json(&["-c", "1", "-a", "100", &server.url()]);
    assert_eq!(num(&result, "/errorsByKind/reset/count"), 20.0, "{result}");
    assert_eq!(num(&result, "/2xx"), 80.0);
    // One connection, reopened after each reset but the last.
    assert_eq!(server.connections(), 20);
}

#[test]
fn slow_responses_time_out_and_reconnect() {
    let server = TestServer::start(Behaviour::Fixed(Duration::from_secs(5)));
    let result = run_json(&["-c", "2", "-a", "4", "-t", "200ms", &server.url()]);
    assert_eq!(num(&result, "/timeouts"), 4.0);
    assert_eq!(num(&result, "/errorsByKind/timeout/count"), 4.0);
    assert_eq!(num(&result, "/errors"), 4.0);
    assert_eq!(server.connections(), 4);
}

#[test]
fn non_2xx_responses_are_counted_per_status_code() {
    let server = TestServer::start(Behaviour::StatusEvery { n: 4, status: 503 });
    let result = run_json(&["-c", "1", "-a", "100", &server.url()]);
    assert_eq!(num(&result, "/non2xx"), 25.0);
    assert_eq!(num(&result, "/5xx"), 25.0);
    assert_eq!(num(&result, "/2xx"), 75.0);
    assert_eq!(num(&result, "/statusCodeStats/503/count"), 25.0);
    assert_eq!(
        num(&result, "/errors"),
        0.0,
        "a 503 is a response, not an error"
    );
}

#[test]
fn malformed_responses_are_invalid_response_errors() {
    let server = TestServer::start(Behaviour::Malformed);
    let result = run_json(&["-c", "1", "-a", "5", &server.url()]);
    assert_eq!(num(&result, "/errorsByKind/invalidResponse/count"), 5.0);
}

#[test]
fn large_bodies_are_read_in_full() {
    let server = TestServer::start(Behaviour::Large(1_000_000));
    let result = run_json(&["-c", "2", "-a", "20", &server.url()]);
    assert_eq!(num(&result, "/errors"), 0.0);
    assert!(num(&result, "/throughput/total") >= 20_000_000.0);
}

#[test]
fn bailout_stops_the_run_early() {
    let addr = TestServer::closed_port();
    let started = std::time::Instant::now();
    let result = run_json(&["-c", "2", "-d", "20", "-B", "5", &format!("http://{addr}/")]);
    assert_eq!(result["stopReason"], "bailedOut");
    assert!(num(&result, "/errors") >= 5.0);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn warmup_requests_are_sent_but_not_measured() {
    let server = TestServer::start(Behaviour::Fixed(Duration::from_millis(1)));
    let result = run_json(&["-c", "2", "-d", "1", "--warmup", "1", &server.url()]);
    let measured = num(&result, "/requests/total");
    assert!(measured > 0.0);
    assert!(
        server.requests() as f64 > measured * 1.5,
        "server saw {} requests, {measured} measured",
        server.requests()
    );
    assert!((0.9..1.2).contains(&num(&result, "/duration")));
}

#[test]
fn per_second_series_covers_the_run() {
    let server = TestServer::start(Behaviour::Fixed(Duration::from_millis(1)));
    let result = run_json(&["-c", "4", "-d", "2", &server.url()]);
    let series = result["series"].as_array().unwrap();
    assert_eq!(series.len(), 2, "{series:?}");
    let summed: f64 = series.iter().map(|s| s["requests"].as_f64().unwrap()).sum();
    assert_eq!(summed, num(&result, "/requests/total"));
    assert!(series
        .iter()
        .all(|s| s["latencyP50"].as_f64().unwrap() >= 1.0));
    assert_eq!(num(&result, "/samples"), 2.0);
}

/// `--timeout` used not to cover writing the request: against a server that never reads, a
/// large body hung the run until it was killed.
#[test]
fn a_request_the_server_never_reads_times_out() {
    let server = TestServer::start(Behaviour::NeverReads);
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body");
    std::fs::write(&body, vec![b'x'; 10 * 1024 * 1024]).unwrap();
    let output = harness()
        .args(["-m", "POST", "-i"])
        .arg(&body)
        .args(["-a", "4", "-c", "2", "-t", "1", "--json", "-n"])
        .arg(server.url())
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    let result = json_output(&output);
    assert_eq!(result["timeouts"], 4, "{}", result["errorsByKind"]);
}

/// Extra responses (two for one request) used to be dropped silently.
#[test]
fn extra_responses_are_invalid_responses() {
    let server = TestServer::start(Behaviour::TwoResponses);
    let result = run_json(&["-c", "1", "-a", "20", &server.url()]);
    assert!(
        num(&result, "/errorsByKind/invalidResponse/count") >= 1.0,
        "{}",
        result["errorsByKind"]
    );
}

/// `-t 50ms` against a 50 ms server used to count responses of up to 54 ms as successes.
#[test]
fn a_response_after_its_deadline_is_a_timeout() {
    let server = TestServer::start(Behaviour::Fixed(Duration::from_millis(50)));
    let result = run_json(&["-c", "2", "-a", "20", "-t", "50ms", &server.url()]);
    assert_eq!(result["requests"]["total"], 0, "{}", result["latency"]);
    assert_eq!(result["timeouts"], 20, "{}", result["errorsByKind"]);
}

/// An error that landed after the window closed was counted nowhere: `sent` exceeded
/// `total + errors + unfinished` by a few. Every request sent in the window now ends in
/// exactly one of `total`, `failed` and `unfinished`, warm-up and pipelining included.
#[test]
fn every_request_sent_is_answered_failed_or_unfinished() {
    let stall = Behaviour::Stall {
        period: Duration::from_millis(300),
        stall: Duration::from_millis(150),
    };
    for (behaviour, extra) in [
        (Behaviour::ResetEvery(7), ["-p", "4"]),
        (stall, ["-t", "100ms"]),
    ] {
        let server = TestServer::start(behaviour);
        let url = server.url();
        let mut args = vec!["-c", "20", "-d", "2", "--warmup", "1"];
        args.extend(extra);
        args.push(&url);
        let result = run_json(&args);
        let (sent, total, failed, unfinished) = (
            num(&result, "/requests/sent"),
            num(&result, "/requests/total"),
            num(&result, "/requests/failed"),
            num(&result, "/unfinished"),
        );
        assert!(failed > 0.0 && total > 0.0, "{result}");
        assert_eq!(
            sent,
            total + failed + unfinished,
            "sent {sent}, total {total}, failed {failed}, unfinished {unfinished}"
        );
    }
}

/// `-p 1024` with a 1 MB body held 1 GB: a pipeline of large bodies is now written a part
/// at a time. Harness's peak RSS, from the kernel (`VmHWM`), stays far below one pipeline.
#[test]
fn a_deep_pipeline_of_large_bodies_is_not_held_whole() {
    let server = TestServer::start(Behaviour::Fixed(Duration::ZERO));
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.bin");
    std::fs::write(&body, vec![b'x'; 1 << 20]).unwrap();
    // A templated request (a placeholder) is rendered per connection, not shared.
    let scenario = dir.path().join("templated.toml");
    std::fs::write(
        &scenario,
        format!(
            "[target]\nurl = \"{}\"\n[load]\nconnections = 1\npipelining = 96\namount = 96\n\
             [[requests]]\nmethod = \"POST\"\nheaders = {{ x-id = \"{{{{counter}}}}\" }}\nbody_file = \"body.bin\"\n",
            server.url()
        ),
    )
    .unwrap();
    for templated in [false, true] {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("harness"));
        if templated {
            cmd.arg("run").arg(&scenario).arg("-n");
        } else {
            cmd.args([
                "-n", "--json", "-c", "1", "-p", "96", "-a", "96", "-m", "POST",
            ])
            .arg("-i")
            .arg(&body)
            .arg(server.url());
        }
        let (code, peak_mb) = crate::support::peak_rss_mb(cmd.current_dir(dir.path()));
        assert_eq!(code, Some(0));
        assert!(
            peak_mb < 60.0,
            "harness peaked at {peak_mb:.0} MB sending 96 pipelined 1 MB bodies (templated: {templated})"
        );
    }
    assert_eq!(server.requests(), 192);
}
