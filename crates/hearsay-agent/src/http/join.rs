//! `POST /v1/join`: make this node join a cluster through the given addresses now (Serf's
//! `join`), e.g. to merge two clusters or to add an agent started without seeds.
//!
//! The body is `{"addrs": ["10.0.0.1:7946", "n1:7946"]}`: `ip:port` or `host:port`, names
//! resolved now. The answer lists the addresses contacted; the members that answered then show
//! up in `/v1/members`. A malformed body, address or name that does not resolve is a 400 and
//! nobody is contacted. State-changing, so the browser guard applies (`guard.rs`).

use super::{ApiError, AppState};
use crate::api::{JoinJson, JoinRequest};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;

/// Most addresses one request may name.
pub(crate) const MAX_JOIN_ADDRS: usize = 64;

pub(super) async fn join(State(state): State<AppState>, body: Bytes) -> Result<Json<JoinJson>, ApiError> {
    let request: JoinRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be {{\"addrs\": [\"host:port\", ...]}} ({e}); nobody was contacted"
        ))
    })?;
    if request.addrs.is_empty() {
        return Err(ApiError::bad_request("`addrs` is empty; nobody was contacted"));
    }
    if request.addrs.len() > MAX_JOIN_ADDRS {
        return Err(ApiError::bad_request(format!(
            "{} addresses, the limit is {MAX_JOIN_ADDRS}; nobody was contacted",
            request.addrs.len()
        )));
    }
    let contacted = state.cluster().join_names(&request.addrs).await?;
    let contacted: Vec<String> = contacted.iter().map(ToString::to_string).collect();
    tracing::info!(addrs = ?contacted, "joining on request");
    Ok(Json(JoinJson { contacted }))
}
