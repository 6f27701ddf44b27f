//! The agent's defences against bad input: the HTTP bearer token, every write limit with its
//! status code and message, and bad gossip packets counted in `/metrics`.

mod common;

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::process::{Command, Stdio};

use common::{Agent, BIN, request, request_with_headers, stderr, temp_dir, wait_until};

fn error_of(body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    json["error"].as_str().expect("error field").to_string()
}

/// Standard base64 with padding (for Basic credentials).
fn base64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() { ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

const TOKEN: &str = "tok-3f9a1c7e55d04b2a9e6f";

#[test]
fn a_token_protects_every_endpoint_but_health() {
    let dir = temp_dir("sec-token");
    let token_file = dir.join("http-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let a = Agent::start_with("t1", &dir, &[], &["--http-token-file", token_file.to_str().unwrap()]);
    assert!(a.log_text().contains("the HTTP API requires a bearer token"), "{}", a.log_text());
    let good = format!("Authorization: Bearer {TOKEN}");

    // Health stays open (load balancers, Kubernetes probes); the agent started waiting on it.
    let (status, body) = request(a.http, "GET", "/v1/health", b"").unwrap();
    assert_eq!(status, 200, "{body}");

    for (method, path) in [
        ("GET", "/v1/members"),
        ("GET", "/v1/kv"),
        ("GET", "/v1/info"),
        ("GET", "/v1/keyring"),
        ("GET", "/v1/events"),
        ("GET", "/metrics"),
        ("GET", "/"),
        ("GET", "/v1/no-such-endpoint"),
        ("POST", "/v1/leave"),
        ("POST", "/v1/health"),
    ] {
        let (status, body) = request(a.http, method, path, b"").unwrap();
        assert_eq!(status, 401, "{method} {path} without a token: {body}");
        assert!(error_of(&body).contains("Bearer"), "{body}");
        let (status, body) =
            request_with_headers(a.http, method, path, b"", &["Authorization: Bearer wrong-token-0000000000"]).unwrap();
        assert_eq!(status, 401, "{method} {path} with a wrong token: {body}");
        assert!(error_of(&body).contains("wrong"), "{body}");
    }
    // A write without the token stores nothing.
    let (status, _) = request(a.http, "PUT", "/v1/kv/sneaky", b"x").unwrap();
    assert_eq!(status, 401);
    let (status, _) = request_with_headers(a.http, "GET", "/v1/kv/t1/sneaky", b"", &[&good]).unwrap();
    assert_eq!(status, 404, "an unauthenticated write must not be stored");

    let (status, body) = request_with_headers(a.http, "GET", "/v1/members", b"", &[&good]).unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, body) = request_with_headers(a.http, "GET", "/v1/info", b"", &[&good]).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"http_token\":\"required\"") && !body.contains(TOKEN), "{body}");
    let (status, body) = request_with_headers(a.http, "PUT", "/v1/kv/app", b"v", &[&good]).unwrap();
    assert_eq!(status, 200, "{body}");
    // A browser opening the dashboard sends the token as a Basic password (user name ignored).
    let basic = format!("Authorization: Basic {}", base64(&format!("admin:{TOKEN}")));
    let (status, page) = request_with_headers(a.http, "GET", "/", b"", &[&basic]).unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("<title>hearsay</title>"));
    let (status, _) = request_with_headers(a.http, "GET", "/v1/kv", b"", &[&basic]).unwrap();
    assert_eq!(status, 200);
    let wrong_basic = format!("Authorization: Basic {}", base64("admin:wrong-token-0000000000"));
    assert_eq!(request_with_headers(a.http, "GET", "/", b"", &[&wrong_basic]).unwrap().0, 401);

    // The CLI: refused without the token, served with --http-token-file or the environment.
    let out = a.cli(&["members"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("HTTP 401"), "{}", stderr(&out));
    let out = a.cli(&["get", "t1", "app", "--http-token-file", token_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(common::stdout(&out), "v\n");
    let out = Command::new(BIN)
        .args(["kv", "--json", "--http", &a.http.to_string()])
        .env("HEARSAY_HTTP_TOKEN_FILE", &token_file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = a.cli(&["members", "--http-token-file", dir.join("missing").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot read the HTTP token file"), "{}", stderr(&out));

    // A token file too short to be a secret is a configuration error naming the field.
    std::fs::write(dir.join("weak"), "abc\n").unwrap();
    let out = Command::new(BIN)
        .args(["agent", "--name", "w", "--http", "127.0.0.1:0", "--bind", "127.0.0.1:0", "--http-token-file"])
        .arg(dir.join("weak"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("`http_token_file`"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn limits_answer_with_clear_errors_and_bad_packets_are_counted_in_metrics() {
    let dir = temp_dir("sec-limits");
    let a = Agent::start_with(
        "l1",
        &dir,
        &[],
        &["--max-keys-per-node", "3", "--max-value-bytes", "1000", "--max-key-bytes", "32"],
    );

    let info = a.get_json("/v1/info");
    assert_eq!(info["config"]["max_keys_per_node"], "3");
    assert_eq!(info["config"]["max_key_bytes"], "32");
    assert_eq!(info["config"]["http_token"], "none");

    // Keys per node: the fourth distinct key is refused with 507; overwriting is still fine.
    for key in ["k1", "k2", "k3"] {
        let (status, body) = request(a.http, "PUT", &format!("/v1/kv/{key}"), b"v").unwrap();
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = request(a.http, "PUT", "/v1/kv/k4", b"v").unwrap();
    assert_eq!(status, 507, "{body}");
    let message = error_of(&body);
    assert!(message.contains("3 keys") && message.contains("nothing was stored"), "{message}");
    assert_eq!(request(a.http, "GET", "/v1/kv/l1/k4", b"").unwrap().0, 404);
    assert_eq!(request(a.http, "PUT", "/v1/kv/k1", b"again").unwrap().0, 200);
    assert_eq!(request(a.http, "DELETE", "/v1/kv/k3", b"").unwrap().0, 200);
    assert_eq!(request(a.http, "PUT", "/v1/kv/k4", b"v").unwrap().0, 200, "room again after a delete");

    // Key length: 400 naming the sizes.
    let (status, body) = request(a.http, "PUT", &format!("/v1/kv/{}", "x".repeat(33)), b"v").unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(error_of(&body).contains("key is 33 bytes"), "{body}");

    // Value size: 413 whether the protocol (just over) or the HTTP body limit (far over)
    // catches it, and nothing is stored either way.
    for size in [1001, 1000 + 4096 + 1, 100_000] {
        let (status, body) = request(a.http, "PUT", "/v1/kv/k1", &vec![b'x'; size]).unwrap();
        assert_eq!(status, 413, "{size}: {body}");
        let message = error_of(&body);
        assert!(message.contains("1000") && message.contains("nothing was stored"), "{size}: {message}");
    }
    let entry = a.get_json("/v1/kv/l1/k1");
    assert_eq!(entry["value"], "again", "an oversized write left the old value in place");

    // Bad gossip packets: dropped, counted by reason, visible in /metrics.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut oversized = b"HS\x01\x06\x00\x00\x00\x00\x00".to_vec();
    oversized.resize(2000, 0);
    let foreign = b"HS\x01\x06\x00\x00\x00\x00\x07\x00\x00\x00";
    for packet in [&b"garbage, not a packet"[..], b"HS\x01", &oversized, foreign] {
        socket.send_to(packet, a.gossip).unwrap();
    }
    // An oversized TCP stream frame: rejected before it is read.
    let mut conn = TcpStream::connect(a.gossip).unwrap();
    let from = b"127.0.0.1:9";
    let mut preamble = b"HSS1".to_vec();
    preamble.extend_from_slice(&(from.len() as u16).to_be_bytes());
    preamble.extend_from_slice(from);
    conn.write_all(&preamble).unwrap();
    conn.write_all(&(64u32 << 20).to_be_bytes()).unwrap();

    let mut text = String::new();
    wait_until("the bad packets show in /metrics", || {
        text = request(a.http, "GET", "/metrics", b"").map(|(_, body)| body).unwrap_or_default();
        ["bad_magic", "truncated", "oversized", "foreign_cluster"]
            .iter()
            .all(|reason| metric(&text, &format!("hearsay_dropped_total{{reason=\"{reason}\"}}")).unwrap_or(0) >= 1)
            && metric(&text, "hearsay_stream_frames_rejected_total") == Some(1)
    });
    // Every bounded queue has its drop counter exported, even at zero.
    for name in [
        "hearsay_dropped_total{reason=\"transmit_queue_full\"}",
        "hearsay_dropped_total{reason=\"event_queue_full\"}",
        "hearsay_dropped_total{reason=\"relay_queue_full\"}",
        "hearsay_dropped_total{reason=\"member_limit\"}",
        "hearsay_stream_frames_dropped_total",
        "hearsay_stream_connections_refused_total",
        "hearsay_events_lagged_total",
        "hearsay_udp_recv_errors_total",
    ] {
        assert!(metric(&text, name).is_some(), "missing {name} in\n{text}");
    }
    // And the node still works.
    assert_eq!(request(a.http, "PUT", "/v1/kv/k2", b"after").unwrap().0, 200);
    let _ = std::fs::remove_dir_all(&dir);
}
