//! The router driven in process (no sockets for HTTP): names and keys that are awkward in a
//! URL, and the browser guard in front of every handler.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use hearsay::{Cluster, Config};
use tokio::sync::watch;
use tower::ServiceExt;

use super::{AllowedHosts, AppState, router};

struct Node {
    router: Router,
    left: watch::Receiver<bool>,
    _cluster: Cluster,
}

async fn node(name: &str) -> Node {
    let cluster = Cluster::builder(Config::local())
        .name(name)
        .bind("127.0.0.1:0".parse().unwrap())
        .spawn()
        .await
        .expect("node starts");
    let (left_tx, left) = watch::channel(false);
    let state = AppState::new(cluster.clone(), None, Config::local(), left_tx)
        .with_allowed_hosts(AllowedHosts::new(["hearsay.internal".to_string()]));
    Node { router: router(state), left, _cluster: cluster }
}

/// Sends one request; `headers` are added to `Host: 127.0.0.1:7947`.
async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (StatusCode, serde_json::Value) {
    let mut request = Request::builder().method(method).uri(uri).header("host", "127.0.0.1:7947");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router.clone().oneshot(request.body(Body::from(body.to_vec())).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, json)
}

const MARK: (&str, &str) = ("x-hearsay", "1");
const JSON: (&str, &str) = ("content-type", "application/json");

/// Polls `uri` until its JSON satisfies `ok` (the view is republished every 200 ms).
async fn eventually(router: &Router, uri: &str, ok: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, body) = call(router, "GET", uri, &[], b"").await;
        if status == StatusCode::OK && ok(&body) {
            return body;
        }
        assert!(std::time::Instant::now() < deadline, "{uri} never satisfied the condition; last: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The `X-Total-Count` header and JSON body of a GET.
async fn list(router: &Router, uri: &str) -> (usize, serde_json::Value) {
    let request = Request::builder().uri(uri).header("host", "127.0.0.1:7947").body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{uri}");
    let total = response.headers()["x-total-count"].to_str().unwrap().parse().unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (total, serde_json::from_slice(&bytes).unwrap())
}

fn keys_of(body: &serde_json::Value) -> Vec<&str> {
    body.as_array().unwrap().iter().map(|e| e["key"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn key_lists_are_filtered_and_paginated_with_a_total() {
    let n = node("n1").await;
    for key in ["a/1", "a/2", "a/3", "b/1", "b/22"] {
        assert_eq!(call(&n.router, "PUT", &format!("/v1/kv/{key}"), &[MARK], b"v").await.0, StatusCode::OK);
    }
    eventually(&n.router, "/v1/kv", |b| b.as_array().is_some_and(|a| a.len() == 5)).await;
    let (total, body) = list(&n.router, "/v1/kv?limit=2&offset=1").await;
    assert_eq!((total, keys_of(&body)), (5, vec!["a/2", "a/3"]));
    assert_eq!(body[0]["owner_status"], "alive", "{body}");
    let (total, body) = list(&n.router, "/v1/kv?prefix=a/&offset=2").await;
    assert_eq!((total, keys_of(&body)), (3, vec!["a/3"]));
    let (total, body) = list(&n.router, "/v1/kv?contains=2&node=n1").await;
    assert_eq!((total, keys_of(&body)), (2, vec!["a/2", "b/22"]));
    let (total, body) = list(&n.router, "/v1/kv?offset=9").await;
    assert_eq!((total, keys_of(&body)), (5, vec![]));
    let (status, body) = call(&n.router, "GET", "/v1/kv?limit=-1", &[], b"").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn a_page_opened_late_gets_the_event_history_and_the_local_spread() {
    let n = node("n1").await;
    let (_, body) = call(&n.router, "PUT", "/v1/kv/color", &[MARK], b"red").await;
    let version = body["version"].as_u64().unwrap();
    let history = eventually(&n.router, "/v1/events/history", |b| {
        b["events"].as_array().is_some_and(|e| e.iter().any(|e| e["key"] == "color"))
    })
    .await;
    assert_eq!(history["capacity"], 1000);
    let event = history["events"].as_array().unwrap().iter().find(|e| e["key"] == "color").unwrap();
    assert_eq!((event["kind"].as_str(), event["version"].as_u64()), (Some("key_changed"), Some(version)));
    assert!(event["seq"].as_u64().unwrap() >= 1 && event["at_ms"].as_u64().unwrap() > 1_600_000_000_000, "{event}");
    let after = event["seq"].as_u64().unwrap();
    let (_, later) = call(&n.router, "GET", &format!("/v1/events/history?after={after}"), &[], b"").await;
    assert!(later["events"].as_array().unwrap().iter().all(|e| e["seq"].as_u64().unwrap() > after), "{later}");

    // A lone agent knows only its own replica, and says so.
    let spread =
        eventually(&n.router, "/v1/spread?node=n1&key=color", |b| b["version"].as_u64() == Some(version)).await;
    assert_eq!(spread["scope"], "local");
    assert_eq!(spread["nodes"].as_array().unwrap().len(), 1, "{spread}");
    assert_eq!(spread["nodes"][0]["version"].as_u64(), Some(version));
    assert_eq!(spread["nodes"][0]["at_ms"], event["at_ms"]);
    assert!(spread["complete_after_ms"].is_null(), "no cluster-wide claim from one replica: {spread}");
    let (status, _) = call(&n.router, "GET", "/v1/spread?key=color", &[], b"").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(&n.router, "GET", "/v1/history?member=nobody", &[], b"").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_member_name_with_a_slash_is_reachable_in_path_and_query_forms() {
    let n = node("rack/1").await;
    let (status, body) = call(&n.router, "PUT", "/v1/kv/app/color", &[MARK], b"blue").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for uri in ["/v1/kv/rack%2F1/app/color", "/v1/kv/rack%2f1/app%2Fcolor", "/v1/kv?node=rack%2F1&key=app%2Fcolor"] {
        let (status, body) = call(&n.router, "GET", uri, &[], b"").await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        assert_eq!(
            (body["node"].as_str(), body["key"].as_str(), body["value"].as_str()),
            (Some("rack/1"), Some("app/color"), Some("blue")),
            "{uri}"
        );
    }
    // Lists come from the published view: the write shows within a publication interval.
    let body = eventually(&n.router, "/v1/kv/rack%2F1", |b| b[0]["node"] == "rack/1").await;
    assert_eq!(body[0]["key"], "app/color", "{body}");
    // Without the encoding, `rack` is the node and `1/app/color` the key.
    let (status, body) = call(&n.router, "GET", "/v1/kv/rack/1/app/color", &[], b"").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["error"].as_str().unwrap().contains("unknown node `rack`"), "{body}");
    let (status, body) = call(&n.router, "GET", "/v1/kv/rack%FF/x", &[], b"").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn dot_segments_travel_in_the_query_form() {
    let n = node("..").await;
    let (status, body) = call(&n.router, "PUT", "/v1/kv?key=..&ttl=60", &[MARK], b"up").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["key"], "..");
    let (status, body) = call(&n.router, "GET", "/v1/kv?node=..&key=..", &[], b"").await;
    assert_eq!((status, body["value"].as_str()), (StatusCode::OK, Some("up")), "{body}");
    let (status, body) = call(&n.router, "GET", "/v1/kv?key=..", &[], b"").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = call(&n.router, "PUT", "/v1/kv", &[MARK], b"x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = call(&n.router, "DELETE", "/v1/kv?key=..", &[MARK], b"").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = call(&n.router, "GET", "/v1/kv?node=..&key=..", &[], b"").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_rebinding_host_is_refused() {
    let n = node("n1").await;
    for host in ["attacker.example:7947", "attacker.example"] {
        let mut request = Request::builder().uri("/v1/members").header("host", host);
        request = request.header("x-hearsay", "1");
        let response = n.router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{host}");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert!(json["error"].as_str().unwrap().contains("http_allowed_hosts"), "{json}");
    }
    for host in ["localhost:7947", "[::1]:7947", "10.0.0.7:7947", "hearsay.internal:7947"] {
        let request = Request::builder().uri("/v1/members").header("host", host).body(Body::empty()).unwrap();
        let response = n.router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{host}");
    }
}

#[tokio::test]
async fn a_cross_site_form_post_cannot_make_the_node_leave_or_touch_the_keyring() {
    let n = node("n1").await;
    let form = ("content-type", "text/plain");
    let (status, body) = call(&n.router, "POST", "/v1/leave", &[form], b"").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"].as_str().unwrap().contains("X-Hearsay"), "{body}");
    let (status, _) =
        call(&n.router, "POST", "/v1/leave", &[("content-type", "application/x-www-form-urlencoded")], b"a=b").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&n.router, "POST", "/v1/keyring/install", &[form], "ab".repeat(32).as_bytes()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&n.router, "PUT", "/v1/kv/k", &[], b"v").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a write without marker or content type");
    let (status, body) = call(&n.router, "GET", "/v1/kv?node=n1&key=k", &[], b"").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the refused write stored nothing: {body}");
    // With the marker but from another origin: still refused.
    let (status, body) =
        call(&n.router, "POST", "/v1/leave", &[MARK, ("origin", "https://attacker.example")], b"").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"].as_str().unwrap().contains("cross-origin"), "{body}");
    assert!(!*n.left.borrow(), "none of these made the node leave");
    // The same request from the agent's own origin, as the CLI or a same-origin page sends it.
    let (status, body) =
        call(&n.router, "PUT", "/v1/kv/k", &[("content-type", "application/octet-stream")], b"v").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(&n.router, "POST", "/v1/leave", &[MARK, ("origin", "http://127.0.0.1:7947")], b"").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(*n.left.borrow());
}

#[tokio::test]
async fn the_dashboard_and_its_reads_need_no_marker() {
    let n = node("n1").await;
    for uri in ["/", "/v1/members", "/v1/kv", "/v1/info", "/metrics"] {
        let request = Request::builder().uri(uri).header("host", "localhost:7947").body(Body::empty()).unwrap();
        let response = n.router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
    }
}

#[tokio::test]
async fn a_ttl_beyond_ten_years_is_refused_with_a_json_error() {
    let n = node("n1").await;
    for ttl in ["18446744073709551615", "315360001"] {
        let (status, body) = call(&n.router, "PUT", &format!("/v1/kv/k?ttl={ttl}"), &[MARK], b"v").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{ttl}: {body}");
        assert!(body["error"].as_str().unwrap().contains("10 years"), "{body}");
    }
    let (status, _) = call(&n.router, "GET", "/v1/kv?node=n1&key=k", &[], b"").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was stored");
    let (status, body) = call(&n.router, "PUT", "/v1/kv/k?ttl=315360000", &[MARK], b"v").await;
    assert_eq!(status, StatusCode::OK, "ten years is allowed: {body}");
}

#[tokio::test]
async fn tags_filter_members_and_events_and_queries_answer() {
    let n = node("tagged").await;
    let (status, body) = call(&n.router, "PUT", "/v1/tags", &[MARK, JSON], br#"{"tags": {"role": "web"}}"#).await;
    assert_eq!((status, &body["tags"]["role"]), (StatusCode::OK, &serde_json::json!("web")), "{body}");
    let (status, body) = call(&n.router, "PUT", "/v1/tags", &[MARK, JSON], br#"{"tags": {"a=b": "x"}}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, body) = call(&n.router, "GET", "/v1/tags", &[], b"").await;
    assert_eq!(body, serde_json::json!({"tags": {"role": "web"}}), "a refused set changed nothing");
    eventually(&n.router, "/v1/members?tag=role%3Dweb", |b| b.as_array().is_some_and(|a| a.len() == 1)).await;
    let (_, none) = call(&n.router, "GET", "/v1/members?tag=role=db", &[], b"").await;
    assert_eq!(none, serde_json::json!([]));
    let (status, _) = call(&n.router, "GET", "/v1/members?tag=novalue", &[], b"").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, body) = call(&n.router, "POST", "/v1/event/deploy?coalesce=true", &[MARK], b"v2").await;
    assert_eq!((status, &body["name"]), (StatusCode::OK, &serde_json::json!("deploy")), "{body}");
    let (status, _) = call(&n.router, "POST", "/v1/event/%0A", &[MARK], b"").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // No query handler: the node matches and acknowledges, but does not answer.
    let (status, body) = call(&n.router, "POST", "/v1/query/load?tag=role=web&timeout_ms=300", &[MARK], b"").await;
    assert_eq!(status, StatusCode::OK);
    let text = body.as_str().expect("newline-delimited JSON");
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.first().map(|l| &l["kind"]), Some(&serde_json::json!("ack")), "{text}");
    let summary = lines.last().unwrap();
    assert_eq!(
        (&summary["kind"], &summary["asked"], &summary["acked"], &summary["answered"], &summary["missing"]),
        (
            &serde_json::json!("summary"),
            &serde_json::json!(1),
            &serde_json::json!(1),
            &serde_json::json!(0),
            &serde_json::json!(["tagged"])
        ),
        "{text}"
    );
    let (status, _) = call(&n.router, "POST", "/v1/query/load?color=red", &[MARK], b"").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_beyond_the_flow_control_share_are_answered_429_with_retry_after() {
    let n = node("writer").await;
    // 64 KiB values: a fresh node's bucket (four rounds of a share of 89,600 bytes per 100 ms
    // round) admits six and goes below zero; the next ones wait for it to refill.
    let value = vec![b'x'; 64 * 1024];
    let mut refused = None;
    for i in 0..20 {
        let request = Request::builder()
            .method("PUT")
            .uri(format!("/v1/kv/big-{i}"))
            .header("host", "127.0.0.1:7947")
            .header(MARK.0, MARK.1)
            .body(Body::from(value.clone()))
            .unwrap();
        let response = n.router.clone().oneshot(request).await.unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some((i, response));
            break;
        }
        assert_eq!(response.status(), StatusCode::OK);
    }
    let (i, response) = refused.expect("twenty 64 KiB writes at once were all admitted");
    assert!(i >= 1, "the first write fits the bucket");
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1, "whole seconds, rounded up");
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert!(body["error"].as_str().unwrap().contains("nothing was stored"), "{body}");
    assert!(body["retry_after_ms"].as_u64().unwrap() >= 1, "{body}");
    let stored = n._cluster.get("writer", &format!("big-{i}")).await.unwrap();
    assert_eq!(stored, None, "the refused write stored nothing");
    assert!(n._cluster.get("writer", "big-0").await.unwrap().is_some());
}
