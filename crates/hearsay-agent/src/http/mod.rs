//! The agent's HTTP API (axum): JSON everywhere, errors as `{"error": "..."}`.
//!
//! One file per resource: `members.rs`, `kv.rs`, `events.rs` (server-sent events),
//! `history.rs` (what the agent remembers, the spread of a key), `metrics.rs` (Prometheus),
//! `dashboard.rs` (the page at `/`). This module owns the router, the shared state, the error
//! type, and the small endpoints (`health`, `info`, `leave`); `join.rs` makes the node join
//! through given addresses. Handlers only talk to the
//! [`hearsay::Cluster`] handle and, for own writes, the [`Store`]. Reads that scan the state
//! (lists, `/metrics`, `/v1/info`) use the node's published view, never the node task, so no
//! amount of reading can delay a probe; `health`, single-key reads and writes go to the task.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hearsay::{Cluster, Config};
use hearsay_core::{KeyError, KeyringError, WriteError};
use tokio::sync::watch;

use crate::api::{ErrorJson, HealthJson, InfoJson};
use crate::history::History;
use crate::store::Store;

mod auth;
pub(crate) use auth::unprotected_exposure;
mod dashboard;
mod events;
mod guard;
mod history;
pub(crate) mod join;
pub(crate) use guard::{AllowedHosts, MARKER_HEADER};
pub(crate) use history::ProcessNodes;
mod keyring;
mod kv;
mod members;
pub(crate) mod metrics;
mod query;
mod server;
mod tags;
mod user_event;
pub(crate) use server::{ServerCounters, ServerLimits, serve};
#[cfg(test)]
mod tests;

/// Room for the request line and headers on top of the largest value.
const BODY_MARGIN: usize = 4096;

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    cluster: Cluster,
    store: Option<Arc<Store>>,
    /// The API's own address, for `/v1/info`.
    http: Option<SocketAddr>,
    config: Config,
    started: std::time::Instant,
    /// Set to true once the node has left: the process should stop.
    left: watch::Sender<bool>,
    /// Bearer token every request but `GET /v1/health` must carry, if set.
    token: Option<String>,
    /// Host names, besides IP addresses and `localhost`, the API answers to.
    allowed_hosts: AllowedHosts,
    /// Timeouts and the connection cap (see `server.rs`).
    limits: ServerLimits,
    /// What the server refused.
    counters: Arc<ServerCounters>,
    /// Recent events and samples of this node.
    history: History,
    /// Every node of this process, for a cluster-wide spread (the demo); `None` in an agent.
    process_nodes: Option<ProcessNodes>,
    /// Per-member series on `/metrics`.
    metrics_per_member: bool,
}

impl AppState {
    /// State for one node's API. `store` is `None` for nodes without persistence (the demo).
    /// Starts the history tasks (events and samples), so it must run inside the runtime.
    pub(crate) fn new(cluster: Cluster, store: Option<Arc<Store>>, config: Config, left: watch::Sender<bool>) -> Self {
        let history = History::spawn(&cluster);
        Self::with_history(cluster, history, store, config, left)
    }

    /// State for one node's API over an existing `history` of it.
    pub(crate) fn with_history(
        cluster: Cluster,
        history: History,
        store: Option<Arc<Store>>,
        config: Config,
        left: watch::Sender<bool>,
    ) -> Self {
        let started = std::time::Instant::now();
        AppState {
            inner: Arc::new(Inner {
                history,
                process_nodes: None,
                metrics_per_member: false,
                cluster,
                store,
                http: None,
                config,
                started,
                left,
                token: None,
                allowed_hosts: AllowedHosts::default(),
                limits: ServerLimits::default(),
                counters: Arc::default(),
            }),
        }
    }

    /// Records the API's own address (shown by `/v1/info`).
    pub(crate) fn with_http_addr(mut self, addr: SocketAddr) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.http = Some(addr);
        }
        self
    }

    /// Requires `Authorization: Bearer <token>` on every request but `GET /v1/health`.
    pub(crate) fn with_token(mut self, token: Option<String>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.token = token;
        }
        self
    }

    /// Also answers to these host names (see `guard.rs`).
    pub(crate) fn with_allowed_hosts(mut self, allowed: AllowedHosts) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.allowed_hosts = allowed;
        }
        self
    }

    /// Serves with these timeouts and connection cap.
    pub(crate) fn with_limits(mut self, limits: ServerLimits) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.limits = limits;
        }
        self
    }

    /// Answers `/v1/spread` for every node of this process (see `history.rs`).
    pub(crate) fn with_process_nodes(mut self, nodes: ProcessNodes) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.process_nodes = Some(nodes);
        }
        self
    }

    /// Exports per-member series on `/metrics`.
    pub(crate) fn with_metrics_per_member(mut self, on: bool) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.metrics_per_member = on;
        }
        self
    }

    fn cluster(&self) -> &Cluster {
        &self.inner.cluster
    }
}

/// An API error: a status and a one-sentence message.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    /// Sent as `Retry-After` (429).
    retry_after: Option<std::time::Duration>,
}

impl ApiError {
    /// An error with `status`.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), retry_after: None }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after_ms = self.retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1));
        let body = Json(ErrorJson { error: self.message, retry_after_ms });
        match self.retry_after {
            Some(wait) => {
                // Whole seconds, rounded up: a client that honours it is never early.
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                (self.status, [(axum::http::header::RETRY_AFTER, seconds.max(1).to_string())], body).into_response()
            }
            None => (self.status, body).into_response(),
        }
    }
}

impl From<hearsay::Error> for ApiError {
    fn from(err: hearsay::Error) -> Self {
        match err {
            hearsay::Error::Write(WriteError::RateLimited { retry_after }) => ApiError {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: format!("{}; nothing was stored", WriteError::RateLimited { retry_after }),
                retry_after: Some(retry_after),
            },
            hearsay::Error::Write(write) => {
                let status = match write {
                    WriteError::ValueTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                    WriteError::Left => StatusCode::CONFLICT,
                    WriteError::TooManyKeys { .. } => StatusCode::INSUFFICIENT_STORAGE,
                    _ => StatusCode::BAD_REQUEST,
                };
                ApiError::new(status, format!("{write}; nothing was stored"))
            }
            hearsay::Error::Keyring(keyring) => {
                let status = match &keyring {
                    KeyringError::Key(KeyError::Malformed { .. }) => StatusCode::BAD_REQUEST,
                    KeyringError::Key(KeyError::NotInstalled { .. }) => StatusCode::NOT_FOUND,
                    _ => StatusCode::CONFLICT,
                };
                let hint = match keyring {
                    KeyringError::NotEncrypted => " (start the agent with keyring_file)",
                    _ => "",
                };
                ApiError::new(status, format!("{keyring}{hint}; the keyring is unchanged"))
            }
            hearsay::Error::Tags(tags) => {
                let status = match tags {
                    hearsay::TagsError::Write(WriteError::Left) => StatusCode::CONFLICT,
                    _ => StatusCode::BAD_REQUEST,
                };
                ApiError::new(status, format!("{tags}; the tags are unchanged"))
            }
            hearsay::Error::Seed { .. } => ApiError::bad_request(format!("{err}; nobody was contacted")),
            hearsay::Error::Stopped => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the node has stopped"),
            other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }
}

/// The router of one node's API.
pub(crate) fn router(state: AppState) -> Router {
    let limits = &state.inner.config.limits;
    let body_limit = limits.max_value_bytes.max(limits.max_event_bytes) + BODY_MARGIN;
    Router::new()
        .route("/", get(dashboard::page))
        .route("/v1/health", get(health))
        .route("/v1/info", get(info))
        .route("/v1/leave", post(leave))
        .route("/v1/join", post(join::join))
        .route("/v1/members", get(members::list))
        .route("/v1/kv", get(kv::list).put(kv::put_by_query).delete(kv::delete_by_query))
        .route("/v1/kv/", get(kv::list).put(empty_key).delete(empty_key))
        .route("/v1/kv/{*path}", get(kv::get).put(kv::put).delete(kv::delete))
        .route("/v1/events", get(events::stream))
        .route("/v1/events/history", get(history::events))
        .route("/v1/history", get(history::samples))
        .route("/v1/spread", get(history::spread))
        .route("/v1/tags", get(tags::show).put(tags::put))
        .route("/v1/event/{name}", post(user_event::send))
        .route("/v1/query/{name}", post(query::ask))
        .route("/v1/keyring", get(keyring::show))
        .route("/v1/keyring/{op}", post(keyring::change))
        .route("/metrics", get(metrics::handler))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), server::limit_time))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::browser_guard))
        .layer(axum::middleware::from_fn_with_state(state.clone(), server::limit_head))
        .with_state(state)
}

/// Binds the HTTP listener, with a message naming the address on failure.
pub(crate) async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen for HTTP on {addr}: {e}"))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint (see docs/agent.md for the API)")
}

async fn empty_key() -> ApiError {
    ApiError::bad_request("key is empty; nothing was stored")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this endpoint (see docs/agent.md for the API)")
}

async fn health(State(state): State<AppState>) -> Result<Json<HealthJson>, ApiError> {
    // A round trip to the node task: a stopped node is unhealthy.
    state.cluster().members().await?;
    let id = state.cluster().id();
    Ok(Json(HealthJson { status: "ok".into(), name: id.name.to_string(), generation: id.generation }))
}

async fn info(State(state): State<AppState>) -> Result<Json<InfoJson>, ApiError> {
    let cluster = state.cluster();
    let view = cluster.view();
    let (members, stats) = (&view.members, &view.stats);
    let id = cluster.id();
    let c = &state.inner.config;
    let mut config = BTreeMap::new();
    config.insert("cluster_id".to_string(), c.cluster_id.to_string());
    config.insert("gossip_interval_ms".to_string(), c.gossip_interval.as_millis().to_string());
    config.insert("fanout".to_string(), c.fanout.to_string());
    config.insert("exchange".to_string(), c.exchange.as_str().to_string());
    config.insert("strategy".to_string(), c.strategy.as_str().to_string());
    config.insert("anti_entropy_every".to_string(), c.anti_entropy_every.to_string());
    config.insert("mtu".to_string(), c.mtu.to_string());
    config.insert("phi_threshold".to_string(), c.detector.phi_threshold.to_string());
    config.insert("probe_interval_ms".to_string(), c.probe.interval.as_millis().to_string());
    config.insert("suspicion_timeout_ms".to_string(), c.detector.suspicion_timeout.as_millis().to_string());
    config.insert("max_value_bytes".to_string(), c.limits.max_value_bytes.to_string());
    config.insert("max_key_bytes".to_string(), c.limits.max_key_bytes.to_string());
    config.insert("max_keys_per_node".to_string(), c.limits.max_keys_per_node.to_string());
    config.insert("max_members".to_string(), c.limits.max_members.to_string());
    config.insert("max_stream_bytes".to_string(), c.limits.max_stream_bytes.to_string());
    let limits = &state.inner.limits;
    config.insert("http_header_timeout_ms".to_string(), limits.header_timeout.as_millis().to_string());
    config.insert("http_request_timeout_ms".to_string(), limits.request_timeout.as_millis().to_string());
    config.insert("http_max_connections".to_string(), limits.max_connections.to_string());
    config.insert("http_token".to_string(), if state.inner.token.is_some() { "required" } else { "none" }.to_string());
    let mut by_status = BTreeMap::new();
    for m in members {
        *by_status.entry(m.status.as_str().to_string()).or_insert(0) += 1;
    }
    let me = members.iter().find(|m| m.is_self);
    let core = &stats.core;
    let keyring = cluster.keyring().await?;
    Ok(Json(InfoJson {
        name: id.name.to_string(),
        generation: id.generation,
        addr: id.addr.to_string(),
        http: state.inner.http.map(|a| a.to_string()),
        store: state.inner.store.as_ref().map(|s| s.path().display().to_string()),
        encrypted: keyring.is_some(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_secs: state.inner.started.elapsed().as_secs(),
        config,
        members: by_status,
        own_keys: me.map_or(0, |m| m.live_keys),
        max_version: me.map_or(0, |m| m.max_version),
        rounds: core.rounds,
        messages_sent: core.messages_sent(),
        messages_received: core.received.iter().map(|c| c.messages).sum(),
        bytes_sent: core.bytes_sent(),
        bytes_received: core.received.iter().map(|c| c.bytes).sum(),
        dropped: core.dropped.values().sum(),
    }))
}

async fn leave(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let id = state.cluster().id().clone();
    state.cluster().leave().await?;
    tracing::info!(node = %id, "left the cluster on request");
    state.inner.left.send_replace(true);
    Ok(Json(serde_json::json!({ "node": id.name.to_string(), "left": true })))
}
