//! The HTTP API against a hostile client, over real sockets: browsers driven by a foreign page
//! (DNS rebinding, cross-site requests), and slow, idle or oversized requests.

mod common;

use std::time::Duration;

use common::{Agent, exchange, stderr, stdout, temp_dir};

fn error_of(body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"));
    json["error"].as_str().expect("error field").to_string()
}

const SHORT: Duration = Duration::from_secs(10);

#[test]
fn browsers_cannot_drive_the_api_but_the_cli_and_the_dashboard_can() {
    let dir = temp_dir("http-browser");
    let a = Agent::start("b1", &dir, &[]);

    // DNS rebinding: the page's own name, now pointing at 127.0.0.1, is not one the agent answers to.
    let rebound = "GET /v1/kv HTTP/1.1\r\nHost: attacker.example:7947\r\nConnection: close\r\n\r\n";
    let common::Exchange { status, body, .. } = exchange(a.http, rebound.as_bytes(), SHORT);
    assert_eq!(status, 403, "{body}");
    assert!(error_of(&body).contains("attacker.example"), "{body}");

    // A cross-site form posts text/plain (no preflight): refused, the node stays.
    let form = format!(
        "POST /v1/leave HTTP/1.1\r\nHost: {}\r\nOrigin: https://attacker.example\r\nContent-Type: text/plain\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n",
        a.http
    );
    let common::Exchange { status, body, .. } = exchange(a.http, form.as_bytes(), SHORT);
    assert_eq!(status, 403, "{body}");
    let same_site_form = format!(
        "POST /v1/leave HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        a.http
    );
    let common::Exchange { status, body, .. } = exchange(a.http, same_site_form.as_bytes(), SHORT);
    assert_eq!(status, 403, "{body}");
    assert!(error_of(&body).contains("X-Hearsay"), "{body}");
    let cross_origin = format!(
        "POST /v1/keyring/install HTTP/1.1\r\nHost: {}\r\nOrigin: https://attacker.example\r\nX-Hearsay: 1\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n",
        a.http
    );
    let common::Exchange { status, body, .. } = exchange(a.http, cross_origin.as_bytes(), SHORT);
    assert_eq!(status, 403, "{body}");
    assert!(error_of(&body).contains("cross-origin"), "{body}");

    // The dashboard page and what it polls, as a browser on localhost loads them.
    for path in ["/", "/v1/members", "/v1/kv"] {
        let page = format!("GET {path} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n", a.http.port());
        assert_eq!(exchange(a.http, page.as_bytes(), SHORT).status, 200, "{path}");
    }

    // The CLI sends what the agent asks for.
    let out = a.cli(&["set", "k", "v"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = a.cli(&["get", "b1", "k"]);
    assert_eq!(stdout(&out), "v\n", "{}", stderr(&out));
    let out = a.cli(&["delete", "k"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = a.cli(&["leave"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Generous: an answer or a close must come long before this, whatever the machine's load.
const PATIENCE: Duration = Duration::from_secs(30);

#[test]
fn slow_idle_and_oversized_requests_get_answers_or_are_closed() {
    let dir = temp_dir("http-limits");
    let a =
        Agent::start_with("l1", &dir, &[], &["--http-header-timeout-ms", "1000", "--http-request-timeout-ms", "1000"]);
    let host = a.http;

    // A body announced and never sent: 408 with a JSON error, then the connection closes.
    let short_body =
        format!("PUT /v1/kv/k HTTP/1.1\r\nHost: {host}\r\nX-Hearsay: 1\r\nContent-Length: 999999999\r\n\r\nhello");
    let seen = exchange(host, short_body.as_bytes(), PATIENCE);
    assert_eq!(seen.status, 408, "{}", seen.body);
    assert!(error_of(&seen.body).contains("http_request_timeout_ms"), "{}", seen.body);
    assert!(seen.closed, "the connection stays open after 408");
    assert_eq!(a.cli(&["get", "l1", "k"]).status.code(), Some(1), "nothing was stored");

    // Idle connections: silent from the start, a head never finished, and keep-alive after an answer.
    let silent = exchange(host, b"", PATIENCE);
    assert!(silent.closed && silent.status == 0, "a silent connection is closed without an answer");
    let partial = exchange(host, format!("GET /v1/health HTTP/1.1\r\nHost: {host}\r\n").as_bytes(), PATIENCE);
    assert!(partial.closed, "a connection with half a head is closed");
    let kept = exchange(host, format!("GET /v1/health HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes(), PATIENCE);
    assert_eq!(kept.status, 200, "{}", kept.body);
    assert!(kept.closed, "an idle keep-alive connection is closed");

    // Oversized heads: 414 and 431 carry JSON errors like every other answer.
    let long_uri =
        format!("GET /v1/kv?prefix={} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n", "x".repeat(10_000));
    let seen = exchange(host, long_uri.as_bytes(), PATIENCE);
    assert_eq!(seen.status, 414, "{}", seen.body);
    assert!(error_of(&seen.body).contains("URI"), "{}", seen.body);
    let big_header =
        format!("GET /v1/kv HTTP/1.1\r\nHost: {host}\r\nX-Big: {}\r\nConnection: close\r\n\r\n", "y".repeat(20_000));
    let seen = exchange(host, big_header.as_bytes(), PATIENCE);
    assert_eq!(seen.status, 431, "{}", seen.body);
    assert!(error_of(&seen.body).contains("head"), "{}", seen.body);
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many_headers = format!("GET /v1/kv HTTP/1.1\r\nHost: {host}\r\n{many}Connection: close\r\n\r\n");
    let seen = exchange(host, many_headers.as_bytes(), PATIENCE);
    assert_eq!(seen.status, 431, "{}", seen.body);
    assert!(error_of(&seen.body).contains("headers"), "{}", seen.body);

    let metrics = a.cli(&["info", "--json"]);
    assert!(stdout(&metrics).contains("\"http_request_timeout_ms\": \"1000\""), "{}", stdout(&metrics));
    let (_, text) = common::request(host, "GET", "/metrics", b"").unwrap();
    assert!(text.contains("hearsay_http_requests_timed_out_total 1"), "{text}");
    assert!(text.contains("hearsay_http_requests_too_large_total 3"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn connections_beyond_the_cap_are_answered_503() {
    let dir = temp_dir("http-cap");
    let a = Agent::start_with("c1", &dir, &[], &["--http-max-connections", "2"]);
    // The health checks of the start are over once their connections close.
    common::wait_until("the start's connections are closed", || {
        common::request(a.http, "GET", "/v1/health", b"").is_some_and(|(status, _)| status == 200)
    });
    let mut held: Vec<std::net::TcpStream> = (0..2).map(|_| std::net::TcpStream::connect(a.http).unwrap()).collect();
    let mut refused = None;
    common::wait_until("a third connection is refused", || {
        let seen = exchange(
            a.http,
            format!("GET /v1/health HTTP/1.1\r\nHost: {}\r\n\r\n", a.http).as_bytes(),
            Duration::from_secs(2),
        );
        let busy = seen.status == 503;
        if !busy && held.len() < 8 {
            // A slot was free: a held connection met the last of the start's requests still
            // open and was itself refused. Hold one more.
            held.push(std::net::TcpStream::connect(a.http).unwrap());
        }
        refused = Some(seen);
        busy
    });
    let seen = refused.unwrap();
    assert!(error_of(&seen.body).contains("http_max_connections"), "{}", seen.body);
    assert!(seen.closed);
    drop(held);
    common::wait_until("a slot is free again", || {
        common::request(a.http, "GET", "/v1/health", b"").is_some_and(|(status, _)| status == 200)
    });
    let (_, text) = common::request(a.http, "GET", "/metrics", b"").unwrap();
    assert!(!text.contains("hearsay_http_connections_refused_total 0"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_agent_beyond_loopback_without_keyring_or_token_warns_at_start() {
    let dir = temp_dir("http-warn");
    let log = dir.join("agent.log");
    let mut child = std::process::Command::new(common::BIN)
        .args(["agent", "--name", "w1", "--bind", "0.0.0.0:0", "--advertise", "127.0.0.1:9", "--http", "0.0.0.0:0"])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut text = String::new();
    common::wait_until("the agent logs it is running", || {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains("agent running")
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(text.contains("gossip is unencrypted and listens beyond loopback"), "{text}");
    assert!(text.contains("the HTTP API listens beyond loopback without a token"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
