//! Every HTTP endpoint of a real agent process, including its errors.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Agent, request, request_bytes, temp_dir, wait_until};

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn error_of(body: &str) -> String {
    json(body)["error"].as_str().expect("error field").to_string()
}

#[test]
fn kv_members_health_info_metrics_and_dashboard() {
    let dir = temp_dir("http");
    let a = Agent::start("h1", &dir, &[]);
    let b = Agent::start("h2", &dir, &[a.gossip]);
    wait_until("h1 sees h2 alive", || a.member("h2").is_some_and(|(s, _)| s == "alive"));

    let health = a.get_json("/v1/health");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["name"], "h1");

    let members = a.get_json("/v1/members");
    let names: Vec<&str> = members.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["h1", "h2"]);
    assert_eq!(members[0]["is_self"], true);
    assert_eq!(members[1]["status"], "alive");

    // PUT stores the body on this node; the answer carries the version.
    let (status, body) = request(a.http, "PUT", "/v1/kv/app/color", b"blue").unwrap();
    assert_eq!(status, 200, "{body}");
    let v1 = json(&body)["version"].as_u64().unwrap();
    let (status, body) = request(a.http, "PUT", "/v1/kv/app/size", b"10").unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["version"].as_u64().unwrap(), v1 + 1);
    // Binary values round-trip as base64.
    let (status, _) = request(a.http, "PUT", "/v1/kv/blob", &[0xff, 0x00, 0x7f]).unwrap();
    assert_eq!(status, 200);

    let entry = a.get_json("/v1/kv/h1/app/color");
    assert_eq!(entry, serde_json::json!({"node": "h1", "key": "app/color", "value": "blue", "version": v1}));
    let blob = a.get_json("/v1/kv/h1/blob");
    assert_eq!(blob["value_base64"], "/wB/");
    assert!(blob.get("value").is_none());

    // Replicated to h2, and filterable.
    wait_until("h2 has h1's three keys", || b.get_json("/v1/kv?node=h1").as_array().unwrap().len() == 3);
    let listed = b.get_json("/v1/kv?prefix=app/");
    let keys: Vec<&str> = listed.as_array().unwrap().iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert_eq!(keys, vec!["app/color", "app/size"]);
    assert_eq!(a.get_json("/v1/kv/h1").as_array().unwrap().len(), 3);

    // DELETE.
    let (status, body) = request(a.http, "DELETE", "/v1/kv/app/size", b"").unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["version"].as_u64().unwrap(), v1 + 3);
    let (status, _) = request(a.http, "GET", "/v1/kv/h1/app/size", b"").unwrap();
    assert_eq!(status, 404);

    // TTL: the key disappears by itself.
    let (status, body) = request(a.http, "PUT", "/v1/kv/short?ttl=1", b"lived").unwrap();
    assert_eq!(status, 200, "{body}");
    wait_until("the TTL key expires", || request(a.http, "GET", "/v1/kv/h1/short", b"").is_some_and(|(s, _)| s == 404));

    let info = a.get_json("/v1/info");
    assert_eq!(info["name"], "h1");
    assert_eq!(info["config"]["gossip_interval_ms"], "100");
    assert!(info["rounds"].as_u64().unwrap() > 0);

    let (status, metrics) = request(a.http, "GET", "/metrics", b"").unwrap();
    assert_eq!(status, 200);
    for needle in [
        "hearsay_members{status=\"alive\"} 2",
        "hearsay_phi{peer=\"h2\"}",
        "hearsay_messages_sent_total{type=\"syn\"}",
        "hearsay_bytes_received_total{type=",
        "# TYPE hearsay_dropped_total counter",
        "hearsay_rounds_total ",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in\n{metrics}");
    }

    let (status, page) = request(a.http, "GET", "/", b"").unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("<title>hearsay</title>") && page.contains("/v1/members") && page.contains("/v1/kv"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn errors_are_json_with_the_right_status() {
    let dir = temp_dir("http-errors");
    let a = Agent::start("e1", &dir, &[]);

    let (status, body) = request(a.http, "GET", "/v1/kv/nobody/key", b"").unwrap();
    assert_eq!(status, 404);
    assert!(error_of(&body).contains("unknown node `nobody`"), "{body}");
    let (status, body) = request(a.http, "GET", "/v1/kv?node=nobody", b"").unwrap();
    assert_eq!(status, 404, "{body}");
    let (status, body) = request(a.http, "GET", "/v1/kv/e1/missing", b"").unwrap();
    assert_eq!(status, 404);
    assert!(error_of(&body).contains("no key `missing`"), "{body}");
    let (status, body) = request(a.http, "DELETE", "/v1/kv/missing", b"").unwrap();
    assert_eq!(status, 404, "{body}");
    let (status, body) = request(a.http, "GET", "/v1/nothing", b"").unwrap();
    assert_eq!(status, 404);
    error_of(&body);

    // Bad keys and bad parameters: 400, nothing stored.
    let (status, body) = request(a.http, "PUT", "/v1/kv/", b"x").unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(error_of(&body).contains("key is empty"), "{body}");
    let (status, body) = request(a.http, "PUT", "/v1/kv/__reserved", b"x").unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(error_of(&body).contains("reserved"), "{body}");
    let long = "k".repeat(300);
    let (status, body) = request(a.http, "PUT", &format!("/v1/kv/{long}"), b"x").unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(error_of(&body).contains("key is 300 bytes"), "{body}");
    let (status, body) = request(a.http, "PUT", "/v1/kv/t?ttl=soon", b"x").unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(error_of(&body).contains("ttl"), "{body}");
    let (status, body) = request(a.http, "PUT", "/v1/kv/t?ttl=0", b"x").unwrap();
    assert_eq!(status, 400, "{body}");

    // Oversized values: 413 whether the body limit or the protocol limit catches them.
    for size in [64 * 1024 + 1, 200 * 1024] {
        let (status, body) = request(a.http, "PUT", "/v1/kv/big", &vec![b'x'; size]).unwrap();
        assert_eq!(status, 413, "{size}: {body}");
        assert!(error_of(&body).contains("nothing was stored"), "{body}");
    }
    let (status, _) = request(a.http, "GET", "/v1/kv/e1/big", b"").unwrap();
    assert_eq!(status, 404, "an oversized value must not be stored");
    assert!(a.get_json("/v1/kv").as_array().unwrap().is_empty());
    let (status, _) = request(a.http, "PUT", "/v1/kv/max", &vec![b'x'; 64 * 1024]).unwrap();
    assert_eq!(status, 200, "a value exactly at the limit is accepted");
    let (status, body) = request(a.http, "POST", "/v1/members", b"").unwrap();
    assert_eq!(status, 405);
    assert!(error_of(&body).contains("method not allowed"), "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn events_stream_key_changes_and_leave_stops_the_agent() {
    let dir = temp_dir("http-events");
    let mut a = Agent::start("s1", &dir, &[]);
    let mut stream = TcpStream::connect(a.http).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET /v1/events?prefix=watched/ HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.contains("200"), "{line}");
    // The subscription exists once the headers are out; then write an ignored and a watched key.
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
    }
    assert_eq!(request(a.http, "PUT", "/v1/kv/other", b"1").unwrap().0, 200);
    assert_eq!(request(a.http, "PUT", "/v1/kv/watched/x", b"hello").unwrap().0, 200);
    let event = loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if let Some(data) = line.trim_end().strip_prefix("data: ") {
            break json(data);
        }
    };
    assert_eq!(event["kind"], "key_changed");
    assert_eq!(event["node"], "s1");
    assert_eq!(event["key"], "watched/x");
    assert_eq!(event["value"], "hello");
    assert_eq!(event["deleted"], false);

    let (status, body) = request(a.http, "POST", "/v1/leave", b"").unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["left"], true);
    assert_eq!(a.wait_exit().code(), Some(0), "{}", a.log_text());
    let _ = request_bytes(a.http, "GET", "/v1/health", b"");
    let _ = std::fs::remove_dir_all(&dir);
}
