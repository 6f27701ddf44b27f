//! What the agent remembers (see `crate::history`), and the spread of one key.
//!
//! - `GET /v1/events/history[?after=SEQ][&limit=N]`: the last events (at most 1,000) with
//!   their local arrival time, oldest first, so a page opened late shows what happened.
//! - `GET /v1/history`: one sample a second over the last five minutes: messages and bytes per
//!   second by type, drops per second by reason, members by status, own writes per second.
//! - `GET /v1/history?member=N`: that member's phi, last probe round trip and status, one
//!   sample a second over the last two minutes.
//! - `GET /v1/spread?node=N&key=K[&version=V]`: which nodes hold version `V` (default: the
//!   newest seen) of `N`'s key `K`, and when each first held it. An agent only knows its own
//!   replica (`scope: "local"`); `hearsay demo` runs every node in one process and answers
//!   for all of them on one clock (`scope: "process"`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use hearsay::Cluster;
use hearsay_core::MemberStatus;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::history::{EVENT_HISTORY, History, HistoryEvent, MemberSample, Sample};

/// Every node of this process by name, for a cluster-wide spread (the demo).
pub(crate) type ProcessNodes = Arc<Mutex<BTreeMap<String, (Cluster, History)>>>;

fn query_error(rejection: QueryRejection) -> ApiError {
    ApiError::bad_request(format!("bad query string: {}", rejection.body_text()))
}

#[derive(Debug, Deserialize)]
pub(super) struct EventsQuery {
    after: Option<u64>,
    limit: Option<usize>,
}

#[derive(Serialize)]
pub(super) struct EventsJson {
    /// Events kept at most.
    capacity: usize,
    events: Vec<HistoryEvent>,
}

pub(super) async fn events(
    State(state): State<AppState>,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Json<EventsJson>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let events = state.inner.history.events(query.after.unwrap_or(0), query.limit.unwrap_or(EVENT_HISTORY));
    Ok(Json(EventsJson { capacity: EVENT_HISTORY, events }))
}

#[derive(Debug, Deserialize)]
pub(super) struct HistoryQuery {
    member: Option<String>,
}

#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum HistoryJson {
    Cluster { samples: Vec<Sample> },
    Member { member: String, samples: Vec<MemberSample> },
}

pub(super) async fn samples(
    State(state): State<AppState>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<HistoryJson>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let history = &state.inner.history;
    Ok(Json(match query.member {
        Some(member) => {
            if !state.cluster().view().members.iter().any(|m| *m.id.name == *member) {
                return Err(ApiError::not_found(format!("unknown node `{member}`")));
            }
            HistoryJson::Member { samples: history.member(&member), member }
        }
        None => HistoryJson::Cluster { samples: history.samples() },
    }))
}

#[derive(Debug, Deserialize)]
pub(super) struct SpreadQuery {
    node: Option<String>,
    key: Option<String>,
    version: Option<u64>,
}

/// One node's replica of the key.
#[derive(Serialize)]
pub(super) struct Holder {
    name: String,
    /// The version it holds (`None`: it has no live value).
    version: Option<u64>,
    /// When it first held the wanted version or a later one: Unix ms when its agent saw the
    /// change event (a few ms after the node task made it).
    at_ms: Option<u64>,
}

#[derive(Serialize)]
pub(super) struct SpreadJson {
    /// `local` (this node only) or `process` (every node of this process, one clock).
    scope: &'static str,
    node: String,
    key: String,
    /// The version followed.
    version: Option<u64>,
    /// When the owner held it (the write's time, when the owner is in scope).
    written_at_ms: Option<u64>,
    /// From the write to the last live node holding it, once all do.
    complete_after_ms: Option<u64>,
    nodes: Vec<Holder>,
}

fn holder(name: &str, cluster: &Cluster, history: &History, node: &str, key: &str, version: Option<u64>) -> Holder {
    let view = cluster.view();
    let held = view.keys.get(node).and_then(|keys| keys.get(key)).filter(|v| !v.tombstone).map(|v| v.version);
    let arrival = version.and_then(|v| history.arrival(node, key, v));
    // The view is republished every 200 ms; the event may be newer.
    let seen = arrival.as_ref().filter(|e| e.event.deleted != Some(true)).and_then(|e| e.event.version);
    Holder { name: name.to_string(), version: held.max(seen), at_ms: arrival.map(|e| e.at_ms) }
}

pub(super) async fn spread(
    State(state): State<AppState>,
    query: Result<Query<SpreadQuery>, QueryRejection>,
) -> Result<Json<SpreadJson>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let (Some(node), Some(key)) = (query.node, query.key) else {
        return Err(ApiError::bad_request("`node` and `key` are required: GET /v1/spread?node=N&key=K"));
    };
    let inner = &state.inner;
    // Who is in scope: every node of the process, or this one.
    let nodes: Vec<(String, Cluster, History)> = match &inner.process_nodes {
        Some(all) => {
            let all = all.lock().unwrap_or_else(|p| p.into_inner());
            all.iter().map(|(n, (c, h))| (n.clone(), c.clone(), h.clone())).collect()
        }
        None => vec![(state.cluster().id().name.to_string(), state.cluster().clone(), inner.history.clone())],
    };
    let version = query.version.or_else(|| {
        nodes
            .iter()
            .filter_map(|(_, c, _)| {
                c.view().keys.get(node.as_str()).and_then(|k| k.get(key.as_str())).map(|v| v.version)
            })
            .max()
    });
    let mut holders: Vec<Holder> = nodes.iter().map(|(n, c, h)| holder(n, c, h, &node, &key, version)).collect();
    holders.sort_by(|a, b| a.name.cmp(&b.name));
    let written_at_ms = holders.iter().find(|h| h.name == node).and_then(|h| h.at_ms);
    // Complete once every node this one sees alive holds the version.
    let view = state.cluster().view();
    let alive: Vec<&str> =
        view.members.iter().filter(|m| m.status == MemberStatus::Alive).map(|m| &*m.id.name).collect();
    let live_holders: Vec<&Holder> = holders.iter().filter(|h| alive.contains(&h.name.as_str())).collect();
    let complete_after_ms = match (written_at_ms, inner.process_nodes.is_some()) {
        (Some(written), true) if live_holders.iter().all(|h| h.at_ms.is_some()) => {
            live_holders.iter().filter_map(|h| h.at_ms).max().map(|last| last.saturating_sub(written))
        }
        _ => None,
    };
    let scope = if inner.process_nodes.is_some() { "process" } else { "local" };
    Ok(Json(SpreadJson { scope, node, key, version, written_at_ms, complete_after_ms, nodes: holders }))
}
