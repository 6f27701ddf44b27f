//! `GET /v1/members`: every member as this node sees it, sorted by name.

use axum::Json;
use axum::extract::State;

use super::{ApiError, AppState};
use crate::api::MemberJson;

pub(super) async fn list(State(state): State<AppState>) -> Result<Json<Vec<MemberJson>>, ApiError> {
    let members = state.cluster().members().await?;
    Ok(Json(members.iter().map(MemberJson::from).collect()))
}
