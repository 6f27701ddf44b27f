//! `GET /v1/members`: every member as this node sees it, sorted by name, from the node's
//! published view (no round trip to the node task).

use axum::Json;
use axum::extract::State;

use super::AppState;
use crate::api::MemberJson;

pub(super) async fn list(State(state): State<AppState>) -> Json<Vec<MemberJson>> {
    let view = state.cluster().view();
    let members = view
        .members
        .iter()
        .map(|m| MemberJson {
            rtt_ms: view.last_rtt.get(&m.id.addr).map(|d| d.as_secs_f64() * 1000.0),
            ..MemberJson::from(m)
        })
        .collect();
    Json(members)
}
