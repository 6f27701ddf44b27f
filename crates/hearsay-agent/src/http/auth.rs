//! Bearer-token authentication of the HTTP API (`http_token_file`).
//!
//! With a token configured, every request but `GET /v1/health` (so that load balancers and
//! Kubernetes probes need no secret) must carry `Authorization: Bearer <token>`; others get
//! 401 with a JSON error and never reach a handler. Without a token every request passes: the
//! API then relies on listening on loopback only (the default).
//!
//! Browsers cannot add a bearer token to a page load or an `EventSource`, so for the dashboard
//! the same token is also accepted as the password of HTTP Basic authentication (any user
//! name): the 401 challenges with `Basic` too, the browser asks once and then sends it with
//! every request of the page.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};

/// The only endpoint open without the token.
const OPEN_PATH: &str = "/v1/health";

/// Compares in time independent of where the first difference is, so response timing does
/// not reveal how much of a guessed token was right.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Whether `authorization` (the header's value, if any) carries `token`: as a bearer token,
/// or as the password of Basic credentials.
pub(crate) fn authorized(authorization: Option<&[u8]>, token: &str) -> bool {
    let Some(value) = authorization else { return false };
    // Scheme names are case-insensitive (RFC 9110 §11.1); the token is not.
    let Some((scheme, rest)) = value.split_first_chunk::<6>() else { return false };
    if scheme.eq_ignore_ascii_case(b"Basic ") {
        let Some(credentials) = std::str::from_utf8(rest.trim_ascii()).ok().and_then(crate::b64::decode) else {
            return false;
        };
        let password = credentials.iter().position(|b| *b == b':').map_or(&[][..], |i| &credentials[i + 1..]);
        return same_secret(password, token.as_bytes());
    }
    let Some((scheme, given)) = value.split_first_chunk::<7>() else { return false };
    scheme.eq_ignore_ascii_case(b"Bearer ") && same_secret(given.trim_ascii(), token.as_bytes())
}

/// Whether an API on `addr` is reachable from other machines with no token to stop callers.
pub(crate) fn unprotected_exposure(addr: std::net::SocketAddr, has_token: bool) -> bool {
    !has_token && !addr.ip().is_loopback()
}

/// Middleware: lets a request through if no token is configured, if it is `GET /v1/health`,
/// or if it carries the token; answers 401 otherwise.
pub(super) async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(token) = state.inner.token.as_deref() else {
        return next.run(request).await;
    };
    if request.method() == Method::GET && request.uri().path() == OPEN_PATH {
        return next.run(request).await;
    }
    let authorization = request.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes());
    if authorized(authorization, token) {
        return next.run(request).await;
    }
    let message = if authorization.is_some() {
        "the bearer token is wrong (see http_token_file)"
    } else {
        "this agent requires `Authorization: Bearer <token>` (see http_token_file)"
    };
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    let challenge = header::HeaderValue::from_static("Bearer realm=\"hearsay\", Basic realm=\"hearsay\"");
    response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_tokenless_api_beyond_loopback_is_flagged() {
        let at = |s: &str| s.parse::<std::net::SocketAddr>().unwrap();
        assert!(unprotected_exposure(at("0.0.0.0:7947"), false));
        assert!(unprotected_exposure(at("10.0.0.5:7947"), false));
        assert!(unprotected_exposure(at("[::]:7947"), false));
        assert!(!unprotected_exposure(at("0.0.0.0:7947"), true));
        assert!(!unprotected_exposure(at("127.0.0.1:7947"), false));
        assert!(!unprotected_exposure(at("[::1]:7947"), false));
    }

    #[test]
    fn only_the_exact_token_after_bearer_passes() {
        let token = "0123456789abcdef";
        assert!(authorized(Some(b"Bearer 0123456789abcdef"), token));
        assert!(authorized(Some(b"bearer 0123456789abcdef "), token));
        assert!(!authorized(None, token));
        assert!(!authorized(Some(b"Bearer 0123456789abcdeX"), token));
        assert!(!authorized(Some(b"Bearer 0123456789abcde"), token));
        assert!(!authorized(Some(b"Basic 0123456789abcdef"), token));
        assert!(!authorized(Some(b"0123456789abcdef"), token));
        assert!(!authorized(Some(b"Bearer"), token));
    }

    #[test]
    fn browsers_may_send_the_token_as_a_basic_password() {
        let token = "0123456789abcdef";
        let basic = |credentials: &str| format!("Basic {}", crate::b64::encode(credentials.as_bytes())).into_bytes();
        assert!(authorized(Some(&basic("admin:0123456789abcdef")), token));
        assert!(authorized(Some(&basic(":0123456789abcdef")), token));
        assert!(!authorized(Some(&basic("admin:wrong")), token));
        assert!(!authorized(Some(&basic("0123456789abcdef")), token), "the token as user name is not the password");
        assert!(!authorized(Some(b"Basic !!notbase64"), token));
        assert!(!authorized(Some(b"Basic "), token));
    }
}
