//! `/v1/keyring`: the cluster keys, shown by fingerprint only, and their rotation.
//!
//! `GET /v1/keyring` lists fingerprints; `POST /v1/keyring/{install,use,remove}` with a key (64
//! hex digits) as the body changes the keyring of every node: the change is gossiped, encrypted
//! under the keys it replaces. The agent rewrites its `keyring_file` when the keyring changes
//! (`agent.rs`), so a restarted agent starts with the keys the cluster uses now.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use hearsay_core::{Key, Keyring};

use super::{ApiError, AppState};
use crate::api::KeyringJson;

/// The JSON form of a keyring (or of its absence).
pub(super) fn keyring_json(ring: Option<&Keyring>) -> KeyringJson {
    KeyringJson {
        enabled: ring.is_some(),
        primary: ring.map(|r| r.primary().fingerprint()),
        keys: ring.map(|r| r.keys().iter().map(Key::fingerprint).collect()).unwrap_or_default(),
    }
}

pub(super) async fn show(State(state): State<AppState>) -> Result<Json<KeyringJson>, ApiError> {
    Ok(Json(keyring_json(state.cluster().keyring().await?.as_ref())))
}

pub(super) async fn change(
    State(state): State<AppState>,
    Path(op): Path<String>,
    body: Bytes,
) -> Result<Json<KeyringJson>, ApiError> {
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("the key must be 64 hex digits"))?;
    let key = Key::parse(text).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let cluster = state.cluster();
    match op.as_str() {
        "install" => cluster.keyring_install(key).await?,
        "use" => cluster.keyring_use(key).await?,
        "remove" => cluster.keyring_remove(key).await?,
        other => return Err(ApiError::not_found(format!("no keyring operation `{other}` (install, use, remove)"))),
    }
    Ok(Json(keyring_json(cluster.keyring().await?.as_ref())))
}
