//! `POST /v1/event/{name}`: sends a user event to every live member (the body is the payload,
//! `?coalesce=true` lets it replace older pending events of the same name). Members see it on
//! their event stream as `user_event`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::api::SentEventJson;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventQuery {
    #[serde(default)]
    coalesce: bool,
}

pub(super) async fn send(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<EventQuery>,
    body: Bytes,
) -> Result<Json<SentEventJson>, ApiError> {
    let cluster = state.cluster();
    let sent = if query.coalesce {
        cluster.send_coalescing_event(&name, body.to_vec()).await
    } else {
        cluster.send_event(&name, body.to_vec()).await
    };
    let ltime = sent.map_err(|e| match e {
        hearsay::Error::Event(event) => {
            let status = match event {
                hearsay::EventError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                hearsay::EventError::Write(_) => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            ApiError::new(status, format!("{event}; nothing was sent"))
        }
        other => ApiError::from(other),
    })?;
    Ok(Json(SentEventJson { node: cluster.id().name.to_string(), name, ltime }))
}
