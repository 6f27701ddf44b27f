//! Defences against a web browser used as a proxy to the API.
//!
//! A page on any site can make the visitor's browser send requests to the agent: directly
//! (cross-site requests) or, after rebinding its own DNS name to 127.0.0.1, as if the agent
//! were its own origin (DNS rebinding). Without a token, loopback is then no protection. Three
//! checks, in this order, each answered with 403 and a JSON error:
//!
//! 1. `Host` must be a name the agent answers to: an IP literal (a page whose origin is an IP
//!    address was served from that address, so no rebinding is involved), `localhost`, or a
//!    name listed in `http_allowed_hosts`. A rebound name is none of these. The port is not
//!    compared (published ports differ from the listening one).
//! 2. A state-changing request (any method but GET, HEAD, OPTIONS) that carries `Origin` must
//!    come from the agent's own origin (`http://` + `Host`) or from a host listed in
//!    `http_allowed_hosts` (a reverse proxy in front of the agent).
//! 3. A state-changing request must not be one a page can send without a CORS preflight: it
//!    must carry `X-Hearsay` or a `Content-Type` other than the three a form can send. A
//!    cross-site page cannot add either without a preflight, which the agent never grants.
//!    The CLI sends `X-Hearsay: 1`; with curl, add `-H 'X-Hearsay: 1'`.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};

/// The header that marks a request as sent by a client that is not a cross-site page.
pub(crate) const MARKER_HEADER: &str = "x-hearsay";

/// Content types a page can send cross-site without a preflight (the CORS safelist).
const SIMPLE_CONTENT_TYPES: [&str; 3] = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"];

/// The names, besides IP literals and `localhost`, that the API answers to.
#[derive(Debug, Clone, Default)]
pub(crate) struct AllowedHosts {
    names: Vec<String>,
}

impl AllowedHosts {
    /// Host names (without port) the API also answers to, e.g. a DNS name pointing at the agent.
    pub(crate) fn new(names: impl IntoIterator<Item = String>) -> Self {
        AllowedHosts { names: names.into_iter().map(|n| normalize(&n)).filter(|n| !n.is_empty()).collect() }
    }

    /// Whether a request with this `Host` (name or IP, with or without port) may be served.
    fn allows_host(&self, host: &str) -> bool {
        let name = normalize(strip_port(host));
        is_ip_literal(&name) || name == "localhost" || self.names.contains(&name)
    }

    /// Whether `origin` is listed explicitly (a proxy in front of the agent).
    fn allows_origin_host(&self, origin_host: &str) -> bool {
        self.names.contains(&normalize(strip_port(origin_host)))
    }
}

/// Lower case, without a trailing dot (`LocalHost.` and `localhost` are the same name).
fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// `host` without a `:port` suffix; IPv6 literals keep their brackets.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

fn is_ip_literal(name: &str) -> bool {
    let inner = name.strip_prefix('[').and_then(|n| n.strip_suffix(']'));
    match inner {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => name.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Why a request is refused, or `None` if it may pass.
fn refusal(allowed: &AllowedHosts, method: &Method, headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST).map(|h| h.to_str().unwrap_or(""));
    // HTTP/1.0 clients may omit Host; browsers never do.
    if let Some(host) = host
        && !allowed.allows_host(host)
    {
        return Some(format!(
            "Host `{}` is not a name this agent answers to (an IP address, localhost, or one listed in \
             http_allowed_hosts)",
            host.escape_debug()
        ));
    }
    if !changes_state(method) {
        return None;
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("null");
        let same_origin = host.is_some_and(|host| {
            origin.eq_ignore_ascii_case(&format!("http://{host}"))
                || origin.eq_ignore_ascii_case(&format!("https://{host}"))
        });
        let origin_host = origin.split_once("://").map(|(_, rest)| rest);
        if !same_origin && !origin_host.is_some_and(|h| allowed.allows_origin_host(h)) {
            return Some(format!(
                "cross-origin request from `{}` refused: state changes are only accepted from the agent's own \
                 origin or a host listed in http_allowed_hosts",
                origin.escape_debug()
            ));
        }
    }
    let marked = headers.contains_key(MARKER_HEADER);
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let preflighted_type = content_type.is_some_and(|t| {
        let essence = t.split(';').next().unwrap_or("").trim();
        !essence.is_empty() && !SIMPLE_CONTENT_TYPES.iter().any(|s| essence.eq_ignore_ascii_case(s))
    });
    if !marked && !preflighted_type {
        return Some(
            "a state-changing request must carry `X-Hearsay: 1` or a Content-Type such as application/json or \
             application/octet-stream (a web page cannot send either cross-site); the hearsay CLI does"
                .to_string(),
        );
    }
    None
}

/// Middleware: refuses requests a browser could have been tricked into sending (see module doc).
pub(super) async fn browser_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match refusal(&state.inner.allowed_hosts, request.method(), request.headers()) {
        None => next.run(request).await,
        Some(reason) => {
            tracing::debug!(method = %request.method(), path = %request.uri().path(), %reason, "request refused");
            ApiError::new(StatusCode::FORBIDDEN, reason).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in lines {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                header::HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn hosts_are_ip_literals_localhost_or_listed() {
        let allowed = AllowedHosts::new(["Hearsay.Example.".to_string()]);
        for host in ["127.0.0.1:7947", "127.0.0.1", "[::1]:7947", "[::1]", "10.1.2.3:80", "localhost", "LOCALHOST:1"] {
            assert!(allowed.allows_host(host), "{host}");
        }
        assert!(allowed.allows_host("hearsay.example:7947"));
        assert!(allowed.allows_host("hearsay.example."));
        for host in ["evil.example:7947", "127.0.0.1.evil.example", "localhost.evil.example", "[::1", "", "1.2.3"] {
            assert!(!allowed.allows_host(host), "{host}");
        }
    }

    #[test]
    fn rebound_names_are_refused_even_for_reads() {
        let allowed = AllowedHosts::default();
        let why = refusal(&allowed, &Method::GET, &headers(&[("host", "attacker.example:7947")])).unwrap();
        assert!(why.contains("attacker.example") && why.contains("http_allowed_hosts"), "{why}");
        assert_eq!(refusal(&allowed, &Method::GET, &headers(&[("host", "127.0.0.1:7947")])), None);
    }

    #[test]
    fn state_changes_need_a_marker_and_no_foreign_origin() {
        let allowed = AllowedHosts::new(["proxy.example".to_string()]);
        let host = ("host", "127.0.0.1:7947");
        let post = |lines: &[(&str, &str)]| refusal(&allowed, &Method::POST, &headers(lines));
        assert!(post(&[host]).unwrap().contains("X-Hearsay"));
        assert!(post(&[host, ("content-type", "text/plain;charset=UTF-8")]).is_some());
        assert!(post(&[host, ("content-type", "application/x-www-form-urlencoded")]).is_some());
        assert!(post(&[host, ("content-type", "Multipart/Form-Data; boundary=x")]).is_some());
        assert_eq!(post(&[host, ("x-hearsay", "1")]), None);
        assert_eq!(post(&[host, ("content-type", "application/json")]), None);
        assert_eq!(post(&[host, ("x-hearsay", "1"), ("origin", "http://127.0.0.1:7947")]), None);
        assert_eq!(post(&[host, ("x-hearsay", "1"), ("origin", "https://proxy.example")]), None);
        let foreign = post(&[host, ("x-hearsay", "1"), ("origin", "https://evil.example")]).unwrap();
        assert!(foreign.contains("cross-origin"), "{foreign}");
        assert!(post(&[host, ("x-hearsay", "1"), ("origin", "null")]).is_some());
        assert!(post(&[host, ("x-hearsay", "1"), ("origin", "http://127.0.0.1:8080")]).is_some(), "another port");
        // Reads pass without a marker, whatever the Origin (browsers keep their answers from the page).
        assert_eq!(refusal(&allowed, &Method::GET, &headers(&[host, ("origin", "https://evil.example")])), None);
    }
}
