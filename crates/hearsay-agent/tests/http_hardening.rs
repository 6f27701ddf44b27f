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
    let (status, body) = exchange(a.http, rebound.as_bytes(), SHORT);
    assert_eq!(status, 403, "{body}");
    assert!(error_of(&body).contains("attacker.example"), "{body}");

    // A cross-site form posts text/plain (no preflight): refused, the node stays.
    let form = format!(
        "POST /v1/leave HTTP/1.1\r\nHost: {}\r\nOrigin: https://attacker.example\r\nContent-Type: text/plain\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n",
        a.http
    );
    let (status, body) = exchange(a.http, form.as_bytes(), SHORT);
    assert_eq!(status, 403, "{body}");
    let same_site_form = format!(
        "POST /v1/leave HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        a.http
    );
    let (status, body) = exchange(a.http, same_site_form.as_bytes(), SHORT);
    assert_eq!(status, 403, "{body}");
    assert!(error_of(&body).contains("X-Hearsay"), "{body}");
    let cross_origin = format!(
        "POST /v1/keyring/install HTTP/1.1\r\nHost: {}\r\nOrigin: https://attacker.example\r\nX-Hearsay: 1\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n",
        a.http
    );
    let (status, body) = exchange(a.http, cross_origin.as_bytes(), SHORT);
    assert_eq!(status, 403, "{body}");
    assert!(error_of(&body).contains("cross-origin"), "{body}");

    // The dashboard page and what it polls, as a browser on localhost loads them.
    for path in ["/", "/v1/members", "/v1/kv"] {
        let page = format!("GET {path} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n", a.http.port());
        assert_eq!(exchange(a.http, page.as_bytes(), SHORT).0, 200, "{path}");
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
