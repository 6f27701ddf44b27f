//! `GET /`: a one-page dashboard (HTML and JavaScript embedded in the binary) that polls
//! `/v1/members` and `/v1/kv` and shows members with status and phi, and every node's keys,
//! plus the latest events from `/v1/events`.

use axum::response::Html;

const PAGE: &str = include_str!("dashboard.html");

pub(super) async fn page() -> Html<&'static str> {
    Html(PAGE)
}
