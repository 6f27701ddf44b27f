//! The HTTP server loop: accepting connections within a cap, and the timeouts and size limits
//! that keep a slow, idle or oversized client from holding resources.
//!
//! - Connection cap (`http_max_connections`): a connection beyond it is answered 503 at once
//!   and closed, so a client holding many sockets cannot make others wait unseen.
//! - Header timeout (`http_header_timeout_ms`): hyper closes a connection whose request head
//!   has not fully arrived in time. Its clock starts whenever hyper waits for a head, so this
//!   is also the idle timeout of a keep-alive connection between requests.
//! - Request timeout (`http_request_timeout_ms`): from the end of the head to the answer,
//!   reading the body included: a body announced but never sent gets 408 and the connection
//!   is closed. Server-sent event streams are not cut: their answer starts at once.
//! - Head size: a URI above [`MAX_URI_BYTES`] gets 414, a head above [`MAX_HEAD_BYTES`] or
//!   [`MAX_HEADERS`] headers gets 431, both with a JSON error like every other answer. Beyond
//!   [`HYPER_MAX_HEAD_BYTES`] or [`HYPER_MAX_HEADERS`] hyper stops reading and answers 431
//!   itself, with an empty body (it never hands such a request to a handler).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;

use super::{ApiError, AppState};

/// Longest URI (path and query) answered; longer ones get 414.
pub(crate) const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest request head (request line and headers) answered; larger ones get 431.
pub(crate) const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most headers in a request; more get 431.
pub(crate) const MAX_HEADERS: usize = 100;
/// Head size at which hyper stops reading (and answers 431 without a body).
const HYPER_MAX_HEAD_BYTES: usize = 64 * 1024;
/// Header count at which hyper stops parsing (and answers 431 without a body).
const HYPER_MAX_HEADERS: usize = 2 * MAX_HEADERS;

/// The answer to a connection beyond the cap, written before closing it.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\n\
content-length: 72\r\n\r\n{\"error\":\"too many open HTTP connections (http_max_connections); retry\"}";

/// Timeouts and the connection cap of the API server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServerLimits {
    /// Time for a request head to arrive; also the idle timeout of keep-alive connections.
    pub header_timeout: Duration,
    /// Time from the end of the head to the answer, the body included.
    pub request_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 256,
        }
    }
}

/// What the server refused, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct ServerCounters {
    /// Connections answered 503 because the cap was reached.
    pub connections_refused: AtomicU64,
    /// Requests answered 408.
    pub requests_timed_out: AtomicU64,
    /// Requests answered 414 or 431 (by the API; not those hyper refuses itself).
    pub requests_too_large: AtomicU64,
}

/// Serves `state`'s API on `listener` until `shutdown` resolves, then lets open requests
/// finish.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.inner.limits;
    let counters = state.inner.counters.clone();
    let router: Router = super::router(state);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(HYPER_MAX_HEAD_BYTES)
        .max_headers(HYPER_MAX_HEADERS);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::debug!(error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            counters.connections_refused.fetch_add(1, Ordering::Relaxed);
            // One non-blocking write into an empty send buffer, then close: never waits.
            if let Ok(mut stream) = stream.into_std() {
                let _ = std::io::Write::write(&mut stream, BUSY);
            }
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "HTTP connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Middleware: 414 and 431 with JSON bodies for heads within hyper's limits but above ours.
pub(super) async fn limit_head(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let uri_bytes = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    let headers = request.headers();
    let head_bytes =
        uri_bytes + headers.iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum::<usize>();
    let refusal = if uri_bytes > MAX_URI_BYTES {
        Some(ApiError::new(
            StatusCode::URI_TOO_LONG,
            format!("the URI is {uri_bytes} bytes, the limit is {MAX_URI_BYTES}"),
        ))
    } else if headers.len() > MAX_HEADERS {
        Some(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("{} headers, the limit is {MAX_HEADERS}", headers.len()),
        ))
    } else if head_bytes > MAX_HEAD_BYTES {
        Some(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("the request head is {head_bytes} bytes, the limit is {MAX_HEAD_BYTES}"),
        ))
    } else {
        None
    };
    match refusal {
        Some(error) => {
            state.inner.counters.requests_too_large.fetch_add(1, Ordering::Relaxed);
            error.into_response()
        }
        None => next.run(request).await,
    }
}

/// Middleware: 408 when a request (its body included) takes longer than the request timeout.
pub(super) async fn limit_time(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.inner.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            state.inner.counters.requests_timed_out.fetch_add(1, Ordering::Relaxed);
            let mut response = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!("the request took longer than {} ms (http_request_timeout_ms)", limit.as_millis()),
            )
            .into_response();
            // The rest of the body may never come: do not wait for it.
            response
                .headers_mut()
                .insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_answer_is_well_formed_json() {
        let text = std::str::from_utf8(BUSY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head.lines().find_map(|l| l.strip_prefix("content-length: ")).unwrap().parse().unwrap();
        assert_eq!(length, body.len());
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(json["error"].as_str().unwrap().contains("http_max_connections"));
    }
}
