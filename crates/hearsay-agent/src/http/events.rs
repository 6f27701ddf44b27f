//! `GET /v1/events[?prefix=P]`: the node's events as server-sent events. The SSE `event:` is
//! the kind (`member_joined`, `key_changed`...), the `data:` one [`crate::api::EventJson`].
//! With a prefix, key changes are limited to keys starting with it; membership events always
//! pass. Reserved (`__`) keys never show. A client that reads too slowly gets a `lagged` event
//! saying how many events it missed. The stream ends when the node stops.

use std::convert::Infallible;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use hearsay_core::RESERVED_PREFIX;
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::api::EventJson;

#[derive(Debug, Deserialize)]
pub(super) struct EventsQuery {
    prefix: Option<String>,
}

pub(super) async fn stream(
    State(state): State<AppState>,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let Query(query) = query.map_err(|r| ApiError::bad_request(format!("bad query string: {}", r.body_text())))?;
    let subscription = match query.prefix {
        Some(prefix) => state.cluster().subscribe_prefix(prefix),
        None => state.cluster().subscribe(),
    };
    let local = state.cluster().id().clone();
    let events = subscription.filter_map(move |event| {
        let local = local.clone();
        async move {
            let json = match event {
                Ok(event) => EventJson::from_event(&event, &local)?,
                // The client missed events: say so, so it can reload what it derived from them.
                Err(lagged) => EventJson::lagged(lagged.missed),
            };
            // Reserved keys carry protocol state (the published keyring among them).
            if json.key.as_deref().is_some_and(|k| k.starts_with(RESERVED_PREFIX)) {
                return None;
            }
            SseEvent::default().event(json.kind.clone()).json_data(&json).ok().map(Ok)
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
