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
    let (status, body) = call(&n.router, "GET", "/v1/kv/rack%2F1", &[], b"").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["node"], "rack/1", "{body}");
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
