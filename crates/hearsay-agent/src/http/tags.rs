//! `/v1/tags`: this node's tags. `GET` shows them; `PUT` with `{"tags": {"role": "web"}}`
//! replaces them all, and every member learns the new set by gossip. Tags set here last until
//! the agent restarts; the `tags` setting (file or `--tag`) gives the tags it starts with.

use axum::Json;
use axum::extract::State;

use super::{ApiError, AppState};
use crate::api::TagsJson;

pub(super) async fn show(State(state): State<AppState>) -> Result<Json<TagsJson>, ApiError> {
    Ok(Json(TagsJson { tags: state.cluster().tags().await? }))
}

pub(super) async fn put(State(state): State<AppState>, Json(body): Json<TagsJson>) -> Result<Json<TagsJson>, ApiError> {
    state.cluster().set_tags(body.tags).await?;
    Ok(Json(TagsJson { tags: state.cluster().tags().await? }))
}
