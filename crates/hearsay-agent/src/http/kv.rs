//! `/v1/kv`: read any node's keys, write and delete this node's own.
//!
//! `GET /v1/kv[?node=N][&prefix=P]` lists live keys; `GET /v1/kv/{node}` lists one node's;
//! `GET /v1/kv/{node}/{key}` reads one (keys may contain `/`); `PUT /v1/kv/{key}[?ttl=SECONDS]`
//! stores the request body as the value of an own key, `DELETE /v1/kv/{key}` deletes one.
//! Own writes are persisted with the version the node gave them before the answer is sent.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use hearsay_core::RESERVED_PREFIX;
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::api::{EntryJson, ValueJson, WriteJson};
use crate::store::Store;

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    node: Option<String>,
    prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct PutQuery {
    ttl: Option<String>,
}

fn query_error(rejection: QueryRejection) -> ApiError {
    ApiError::bad_request(format!("bad query string: {}", rejection.body_text()))
}

fn path_error(rejection: PathRejection) -> ApiError {
    ApiError::bad_request(format!("bad path: {}", rejection.body_text()))
}

/// Live, non-reserved keys of every member matching the filters.
async fn entries(state: &AppState, node: Option<&str>, prefix: Option<&str>) -> Result<Vec<EntryJson>, ApiError> {
    let snapshot = state.cluster().snapshot().await?;
    if let Some(node) = node
        && !snapshot.members.iter().any(|m| &*m.info.id.name == node)
    {
        return Err(ApiError::not_found(format!("unknown node `{node}`")));
    }
    let mut out = Vec::new();
    for member in &snapshot.members {
        let name = &*member.info.id.name;
        if node.is_some_and(|n| n != name) {
            continue;
        }
        for (key, value) in &member.keys {
            if value.tombstone || key.starts_with(RESERVED_PREFIX) || prefix.is_some_and(|p| !key.starts_with(p)) {
                continue;
            }
            out.push(EntryJson {
                node: name.to_string(),
                key: key.clone(),
                value: ValueJson::new(&value.value),
                version: value.version,
            });
        }
    }
    Ok(out)
}

pub(super) async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<EntryJson>>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    Ok(Json(entries(&state, query.node.as_deref(), query.prefix.as_deref()).await?))
}

/// `GET /v1/kv/{node}` or `GET /v1/kv/{node}/{key}`.
pub(super) async fn get(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path(path) = path.map_err(path_error)?;
    let Some((node, key)) = path.split_once('/').filter(|(_, key)| !key.is_empty()) else {
        let node = path.trim_end_matches('/');
        let list = entries(&state, Some(node), None).await?;
        return Ok(Json(serde_json::to_value(list).unwrap_or_default()));
    };
    // Reserved keys carry protocol state (the published keyring among them): never served.
    let found = if key.starts_with(RESERVED_PREFIX) { None } else { state.cluster().get(node, key).await? };
    match found {
        Some(value) if !value.tombstone => {
            let entry = EntryJson {
                node: node.into(),
                key: key.into(),
                value: ValueJson::new(&value.value),
                version: value.version,
            };
            Ok(Json(serde_json::to_value(entry).unwrap_or_default()))
        }
        _ => {
            let members = state.cluster().members().await?;
            if members.iter().any(|m| &*m.id.name == node) {
                Err(ApiError::not_found(format!("node `{node}` has no key `{key}`")))
            } else {
                Err(ApiError::not_found(format!("unknown node `{node}`")))
            }
        }
    }
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Persists an own write; failure is an error of the request (the next start would lose it).
async fn persist(
    store: Option<Arc<Store>>,
    key: String,
    value: Option<Vec<u8>>,
    version: u64,
    expires_at_ms: Option<u64>,
) -> Result<(), ApiError> {
    let Some(store) = store else { return Ok(()) };
    let result =
        tokio::task::spawn_blocking(move || store.record_key(&key, value.as_deref(), version, expires_at_ms)).await;
    match result {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("written at version {version} but not persisted: {e:#}"),
        )),
        Err(e) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("persisting failed: {e}"))),
    }
}

pub(super) async fn put(
    State(state): State<AppState>,
    key: Result<Path<String>, PathRejection>,
    query: Result<Query<PutQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WriteJson>, ApiError> {
    let Path(key) = key.map_err(path_error)?;
    let Query(query) = query.map_err(query_error)?;
    let limit = state.inner.config.limits.max_value_bytes;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("value is larger than the limit of {limit} bytes; nothing was stored"),
            )
        } else {
            ApiError::new(rejection.status(), format!("cannot read the request body: {}", rejection.body_text()))
        }
    })?;
    let ttl = match query.ttl.as_deref() {
        None => None,
        Some(text) => match text.parse::<u64>() {
            Ok(secs) if secs > 0 => Some(Duration::from_secs(secs)),
            _ => {
                return Err(ApiError::bad_request(format!("ttl `{text}` is not a whole number of seconds above zero")));
            }
        },
    };
    let value = body.to_vec();
    let cluster = state.cluster();
    let version = match ttl {
        Some(ttl) => cluster.set_with_ttl(&key, value.clone(), ttl).await?,
        None => cluster.set(&key, value.clone()).await?,
    };
    let expires = ttl.map(|t| unix_ms().saturating_add(t.as_millis() as u64));
    persist(state.inner.store.clone(), key.clone(), Some(value), version, expires).await?;
    Ok(Json(WriteJson { node: cluster.id().name.to_string(), key, version }))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    key: Result<Path<String>, PathRejection>,
) -> Result<Json<WriteJson>, ApiError> {
    let Path(key) = key.map_err(path_error)?;
    let cluster = state.cluster();
    let Some(version) = cluster.delete(&key).await? else {
        return Err(ApiError::not_found(format!("this node has no key `{key}`")));
    };
    persist(state.inner.store.clone(), key.clone(), None, version, None).await?;
    Ok(Json(WriteJson { node: cluster.id().name.to_string(), key, version }))
}
