//! HTTP/2 (h2c and ALPN over TLS), HTTP/1.1 over TLS, and Unix sockets, against real servers.

use crate::support::h2::HyperServer;
use crate::support::{harness, num, run_json, Behaviour, TestServer};

#[test]
fn http2_with_prior_knowledge_over_plain_tcp() {
    let server = HyperServer::plain();
    let url = format!("http://{}/", server.addr);
    let result = run_json(&["--http2", "-c", "2", "-p", "4", "-a", "200", &url]);
    assert_eq!(num(&result, "/requests/total"), 200.0, "{result}");
    assert_eq!(server.http2_requests(), 200);
    assert_eq!(server.http1_requests(), 0);
    assert_eq!(result["http2"], true);
}

#[test]
fn http2_over_tls_negotiated_by_alpn() {
    let dir = tempfile::tempdir().unwrap();
    let server = HyperServer::tls(dir.path());
    let ca = server.ca_pem.clone().unwrap();
    let url = format!("https://localhost:{}/", server.addr.port());
    let result = run_json(&[
        "--http2",
        "--cacert",
        ca.to_str().unwrap(),
        "-c",
        "2",
        "-a",
        "100",
        &url,
    ]);
    assert_eq!(num(&result, "/requests/total"), 100.0, "{result}");
    assert_eq!(server.http2_requests(), 100);
}

#[test]
fn http1_over_tls_with_pipelining() {
    let dir = tempfile::tempdir().unwrap();
    let server = HyperServer::tls(dir.path());
    let ca = server.ca_pem.clone().unwrap();
    let url = format!("https://localhost:{}/", server.addr.port());
    let result = run_json(&[
        "--cacert",
        ca.to_str().unwrap(),
        "-c",
        "2",
        "-p",
        "4",
        "-a",
        "100",
        &url,
    ]);
    assert_eq!(num(&result, "/requests/total"), 100.0, "{result}");
    assert_eq!(server.http1_requests(), 100);
}

#[test]
fn untrusted_certificates_fail_unless_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let server = HyperServer::tls(dir.path());
    let url = format!("https://localhost:{}/", server.addr.port());
    let refused = run_json(&["-c", "1", "-a", "3", &url]);
    assert_eq!(num(&refused, "/errorsByKind/tls/count"), 3.0, "{refused}");
    let accepted = run_json(&["--insecure", "-c", "1", "-a", "3", &url]);
    assert_eq!(num(&accepted, "/requests/total"), 3.0);
}

#[test]
fn http2_against_an_http1_server_fails_with_a_hint() {
    // The raw test server speaks only HTTP/1.1 in clear text; prior knowledge fails there.
    let server = TestServer::start(Behaviour::Fixed(std::time::Duration::ZERO));
    let output = harness()
        .args([
            "--http2",
            "-c",
            "1",
            "-a",
            "2",
            "--json",
            "-n",
            &server.url(),
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(num(&result, "/errors") >= 2.0, "{result}");
    // It used to say only "http2 error".
    let messages = result["errorsByKind"].to_string();
    assert!(
        messages.contains("does the server speak HTTP/2"),
        "{messages}"
    );
}

#[test]
fn unix_socket_carries_the_requests() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sock");
    let server = TestServer::start_unix(&path, Behaviour::Fixed(std::time::Duration::ZERO));
    let result = run_json(&[
        "-S",
        path.to_str().unwrap(),
        "-c",
        "2",
        "-p",
        "2",
        "-a",
        "50",
        "http://localhost/",
    ]);
    assert_eq!(num(&result, "/requests/total"), 50.0, "{result}");
    assert_eq!(server.requests(), 50);
    assert_eq!(result["socketPath"], path.to_str().unwrap());
}
