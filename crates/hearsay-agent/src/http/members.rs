//! `GET /v1/members`: every member as this node sees it, sorted by name, from the node's
//! published view (no round trip to the node task). `?tag=role=web` keeps the members whose
//! tag `role` is exactly `web`; several `tag` parameters must all hold.

use axum::Json;
use axum::extract::{RawQuery, State};

use super::{ApiError, AppState};
use crate::api::MemberJson;

pub(super) async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<MemberJson>>, ApiError> {
    let filter = crate::tags::filter_from_query(query.as_deref()).map_err(ApiError::bad_request)?;
    let view = state.cluster().view();
    let members = view
        .members
        .iter()
        .filter(|m| hearsay_core::tags_match(&m.tags, &filter))
        .map(|m| MemberJson {
            rtt_ms: view.last_rtt.get(&m.id.addr).map(|d| d.as_secs_f64() * 1000.0),
            ..MemberJson::from(m)
        })
        .collect();
    Ok(Json(members))
}
