//! `/v1/kv`: read any node's keys, write and delete this node's own.
//!
//! `GET /v1/kv[?node=N][&prefix=P]` lists live keys; `GET /v1/kv/{node}` lists one node's;
//! `GET /v1/kv/{node}/{key}` reads one (keys may contain `/`); `PUT /v1/kv/{key}[?ttl=SECONDS]`
//! stores the request body as the value of an own key, `DELETE /v1/kv/{key}` deletes one.
//! Own writes are persisted with the version the node gave them before the answer is sent.
//!
//! Node names and keys are arbitrary text. In the path form the node is the first segment,
//! split off before percent-decoding, so a name with `/` is written `%2F`. Names and keys that
//! are `.` or `..` cannot travel in a path (URL libraries resolve them as dot segments), so
//! every route has a query form too, which the CLI uses: `GET /v1/kv?node=N&key=K` reads one
//! key, `PUT /v1/kv?key=K[&ttl=S]` and `DELETE /v1/kv?key=K` write.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use hearsay_core::RESERVED_PREFIX;
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::api::{EntryJson, ValueJson, WriteJson};
use crate::store::Store;

/// Longest TTL: 10 years. Deadlines further out overflow clocks and are surely a mistake.
pub(crate) const MAX_TTL_SECS: u64 = 10 * 365 * 24 * 60 * 60;

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    node: Option<String>,
    prefix: Option<String>,
    /// With `node`: read this one key.
    key: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct PutQuery {
    ttl: Option<String>,
    /// The key, for the query form of `PUT /v1/kv`.
    key: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct DeleteQuery {
    key: Option<String>,
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
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    if let Some(key) = &query.key {
        let Some(node) = &query.node else {
            return Err(ApiError::bad_request("`key` needs `node`: GET /v1/kv?node=N&key=K"));
        };
        return one(&state, node, key).await;
    }
    let list = entries(&state, query.node.as_deref(), query.prefix.as_deref()).await?;
    Ok(Json(serde_json::to_value(list).unwrap_or_default()))
}

/// Percent-decodes one part of the path; the text must be UTF-8.
fn decode(part: &str) -> Result<String, ApiError> {
    percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| ApiError::bad_request("bad path: not UTF-8 once percent-decoded"))
}

/// `GET /v1/kv/{node}` or `GET /v1/kv/{node}/{key}`. The node is split off the raw path before
/// decoding, so `%2F` in it is part of the name, not a separator.
pub(super) async fn get(State(state): State<AppState>, uri: Uri) -> Result<Json<serde_json::Value>, ApiError> {
    let rest = uri.path().strip_prefix("/v1/kv/").unwrap_or_default();
    let (node, key) = rest.split_once('/').unwrap_or((rest, ""));
    let (node, key) = (decode(node)?, decode(key)?);
    if key.is_empty() {
        let list = entries(&state, Some(&node), None).await?;
        return Ok(Json(serde_json::to_value(list).unwrap_or_default()));
    }
    one(&state, &node, &key).await
}

/// One live key of one node.
async fn one(state: &AppState, node: &str, key: &str) -> Result<Json<serde_json::Value>, ApiError> {
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

/// `PUT /v1/kv/{key}`.
pub(super) async fn put(
    State(state): State<AppState>,
    key: Result<Path<String>, PathRejection>,
    query: Result<Query<PutQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WriteJson>, ApiError> {
    let Path(key) = key.map_err(path_error)?;
    let Query(query) = query.map_err(query_error)?;
    store(state, key, query, body).await
}

/// `PUT /v1/kv?key=K`.
pub(super) async fn put_by_query(
    State(state): State<AppState>,
    query: Result<Query<PutQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WriteJson>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let key = query.key.clone().ok_or_else(|| ApiError::bad_request("no key: PUT /v1/kv/{key} or PUT /v1/kv?key=K"))?;
    store(state, key, query, body).await
}

async fn store(
    state: AppState,
    key: String,
    query: PutQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WriteJson>, ApiError> {
    if key.is_empty() {
        return Err(ApiError::bad_request("key is empty; nothing was stored"));
    }
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
            Ok(secs) if secs > MAX_TTL_SECS => {
                return Err(ApiError::bad_request(format!(
                    "ttl {secs} is above the limit of {MAX_TTL_SECS} seconds (10 years); nothing was stored"
                )));
            }
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

/// `DELETE /v1/kv/{key}`.
pub(super) async fn delete(
    State(state): State<AppState>,
    key: Result<Path<String>, PathRejection>,
) -> Result<Json<WriteJson>, ApiError> {
    let Path(key) = key.map_err(path_error)?;
    remove(state, key).await
}

/// `DELETE /v1/kv?key=K`.
pub(super) async fn delete_by_query(
    State(state): State<AppState>,
    query: Result<Query<DeleteQuery>, QueryRejection>,
) -> Result<Json<WriteJson>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let key = query.key.ok_or_else(|| ApiError::bad_request("no key: DELETE /v1/kv/{key} or DELETE /v1/kv?key=K"))?;
    remove(state, key).await
}

async fn remove(state: AppState, key: String) -> Result<Json<WriteJson>, ApiError> {
    let cluster = state.cluster();
    let Some(version) = cluster.delete(&key).await? else {
        return Err(ApiError::not_found(format!("this node has no key `{key}`")));
    };
    persist(state.inner.store.clone(), key.clone(), None, version, None).await?;
    Ok(Json(WriteJson { node: cluster.id().name.to_string(), key, version }))
}
