//! Queries: ask the cluster a question and gather the answers until a deadline.
//!
//! A query spreads exactly like a user event (same queue, same Lamport clock, same
//! deduplication; see the `user_event` module), so every live member hears it once. A member
//! that matches the query's filters (its name is listed, or no names are; it has every listed
//! tag) acknowledges at once if asked to, and tells its application with [`Event::Query`];
//! the application answers with [`Node::respond`]. Acknowledgements and answers go straight
//! back to the origin's address in one datagram each, so an answer is bounded by the datagram
//! ([`QueryError::ResponseTooLarge`]); the origin delivers each member's ack and answer once
//! ([`Event::QueryAck`], [`Event::QueryResponse`]) until the deadline, and counts later ones
//! as `late_query_response`. At most [`MAX_OPEN_QUERIES`] queries are open on a node at once.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::event::Event;
use crate::node::Node;
use crate::transmit::TransmitKind;
use crate::user_event::{MAX_SEEN_EVENTS, Spread, check_event_name};
use crate::wire::{Message, QueryResponse, WireNodeId, WireQuery};
use crate::{Instant, WriteError};

/// Queries one node may have open at once.
pub const MAX_OPEN_QUERIES: usize = 64;
/// The longest a query may wait for answers.
const MAX_QUERY_TIMEOUT: Duration = Duration::from_secs(600);
/// Bytes a response costs besides the member name and payload (header room included).
const RESPONSE_OVERHEAD: usize = 32;

/// Which members answer a query, and how long the asker waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryParams {
    /// Only members with these names answer (empty: any member).
    pub filter_names: Vec<String>,
    /// Only members with all these tags (exact values) answer.
    pub filter_tags: Vec<(String, String)>,
    /// Matching members acknowledge at once, so the asker can tell "silent" from "not reached".
    pub request_ack: bool,
    /// How long answers are gathered (at most ten minutes).
    pub timeout: Duration,
}

impl Default for QueryParams {
    fn default() -> Self {
        QueryParams {
            filter_names: Vec::new(),
            filter_tags: Vec::new(),
            request_ack: true,
            timeout: Duration::from_secs(5),
        }
    }
}

/// A query this node asked, as named in [`Event::QueryAck`] and [`Event::QueryResponse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueryId {
    /// The asker's query number.
    pub id: u32,
    /// The query's Lamport time.
    pub ltime: u64,
}

/// A query to answer (from [`Event::Query`]): pass it to [`Node::respond`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryRef {
    /// The asking member.
    pub origin: Arc<str>,
    /// Where answers go.
    pub origin_addr: SocketAddr,
    /// The query, as the asker names it.
    pub id: QueryId,
    /// After this, answering is pointless: [`Node::respond`] refuses.
    pub deadline: Instant,
}

/// Why a query or an answer was refused. Nothing is sent when it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The name is empty, too long or holds a control character.
    #[error("invalid query name {name:?}")]
    InvalidName {
        /// The name.
        name: String,
    },
    /// The query's payload is larger than `limits.max_event_bytes`.
    #[error("query payload is {len} bytes, the limit is {limit}")]
    PayloadTooLarge {
        /// Payload length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The answer does not fit in one datagram.
    #[error("answer is {len} bytes, the limit is {limit} (one datagram)")]
    ResponseTooLarge {
        /// Answer length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// [`MAX_OPEN_QUERIES`] queries are already open.
    #[error("{limit} queries are already open")]
    TooManyOpen {
        /// [`MAX_OPEN_QUERIES`].
        limit: usize,
    },
    /// The query's deadline has passed.
    #[error("the query's deadline has passed")]
    Expired,
    /// The node cannot send (it has left).
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// A query this node asked and still gathers answers for.
#[derive(Debug)]
pub(crate) struct OpenQuery {
    ltime: u64,
    deadline: Instant,
    /// `(member, ack)` pairs already delivered.
    heard: BTreeSet<(Arc<str>, bool)>,
}

impl Node {
    /// Asks every live member matching `params` the query `name`; they answer through their
    /// application ([`Event::Query`], [`Node::respond`]), and this node delivers acks and answers
    /// as [`Event::QueryAck`] and [`Event::QueryResponse`] until `params.timeout` has passed.
    /// This node is asked too, if it matches.
    pub fn query(
        &mut self,
        now: Instant,
        name: &str,
        payload: &[u8],
        params: &QueryParams,
    ) -> Result<QueryId, QueryError> {
        if self.left {
            return Err(WriteError::Left.into());
        }
        if !check_event_name(name) {
            return Err(QueryError::InvalidName { name: name.to_string() });
        }
        let limit = self.config.limits.max_event_bytes;
        if payload.len() > limit {
            return Err(QueryError::PayloadTooLarge { len: payload.len(), limit });
        }
        self.expire_queries(now);
        if self.user_events.open.len() >= MAX_OPEN_QUERIES {
            return Err(QueryError::TooManyOpen { limit: MAX_OPEN_QUERIES });
        }
        let timeout = params.timeout.min(MAX_QUERY_TIMEOUT);
        let ltime = self.user_events.clock;
        self.user_events.witness(ltime);
        self.user_events.next_query_id = self.user_events.next_query_id.wrapping_add(1);
        let id = self.user_events.next_query_id;
        let open = OpenQuery { ltime, deadline: now + timeout, heard: BTreeSet::new() };
        self.user_events.open.insert(id, open);
        let me = &self.members.me().id;
        let query = WireQuery {
            id,
            origin: WireNodeId { name: me.name.to_string(), generation: me.generation, addr: me.addr },
            ltime,
            name: name.to_string(),
            payload: payload.to_vec(),
            filter_names: params.filter_names.clone(),
            filter_tags: params.filter_tags.clone(),
            request_ack: params.request_ack,
            timeout_ms: timeout.as_millis() as u64,
        };
        self.accept_query(now, query);
        self.spread_user_events(now);
        Ok(QueryId { id, ltime })
    }

    /// Answers `query` with `payload`, by one datagram to the asker.
    pub fn respond(&mut self, now: Instant, query: &QueryRef, payload: &[u8]) -> Result<(), QueryError> {
        if now > query.deadline {
            return Err(QueryError::Expired);
        }
        let from = self.members.me().id.name.to_string();
        let limit = self.datagram_budget().saturating_sub(from.len() + RESPONSE_OVERHEAD);
        if payload.len() > limit {
            return Err(QueryError::ResponseTooLarge { len: payload.len(), limit });
        }
        let response =
            QueryResponse { id: query.id.id, ltime: query.id.ltime, from, ack: false, payload: payload.to_vec() };
        self.send(query.origin_addr, TransmitKind::Datagram, &Message::QueryResponse(response));
        Ok(())
    }

    /// Input: a query arrived from a peer.
    pub(crate) fn on_query(&mut self, now: Instant, query: WireQuery) {
        if !check_event_name(&query.name) || query.payload.len() > self.config.limits.max_event_bytes {
            self.stats.count_drop("invalid_query");
            return;
        }
        if query.ltime.saturating_add(MAX_SEEN_EVENTS as u64) < self.user_events.clock {
            self.stats.count_drop("user_event_too_old");
            return;
        }
        self.user_events.witness(query.ltime);
        if self.accept_query(now, query) && self.config.eager_rumors {
            self.spread_user_events(now);
        }
    }

    /// Queues a query that is new here, and hands it to the application if it matches; false
    /// for a duplicate.
    fn accept_query(&mut self, now: Instant, query: WireQuery) -> bool {
        let origin: Arc<str> = Arc::from(query.origin.name.as_str());
        if !self.user_events.first_sight((origin.clone(), query.origin.generation, query.ltime)) {
            self.stats.user_events_duplicate += 1;
            return false;
        }
        let me = &self.members.me().id;
        let named = query.filter_names.is_empty() || query.filter_names.iter().any(|n| **n == *me.name);
        let matches = named && crate::tags_match(&crate::tags::member_tags(self.members.me()), &query.filter_tags);
        if matches && !self.left {
            let id = QueryId { id: query.id, ltime: query.ltime };
            if query.request_ack {
                let response = QueryResponse {
                    id: id.id,
                    ltime: id.ltime,
                    from: me.name.to_string(),
                    ack: true,
                    payload: Vec::new(),
                };
                self.send(query.origin.addr, TransmitKind::Datagram, &Message::QueryResponse(response));
            }
            let deadline = now + Duration::from_millis(query.timeout_ms).min(MAX_QUERY_TIMEOUT);
            let query_ref = QueryRef { origin, origin_addr: query.origin.addr, id, deadline };
            let (name, payload) = (Arc::from(query.name.as_str()), Arc::from(query.payload.as_slice()));
            self.push_event(Event::Query { query: query_ref, name, payload });
        }
        if !self.left && self.user_events.enqueue(Spread::Query(query)) {
            self.stats.count_drop("user_event_queue_full");
        }
        true
    }

    /// Input: an ack or an answer to one of our queries arrived.
    pub(crate) fn on_query_response(&mut self, now: Instant, response: QueryResponse) {
        let Some(open) = self.user_events.open.get_mut(&response.id) else {
            self.stats.count_drop("late_query_response");
            return;
        };
        if open.ltime != response.ltime || now > open.deadline {
            self.stats.count_drop("late_query_response");
            return;
        }
        let from: Arc<str> = Arc::from(response.from.as_str());
        if !open.heard.insert((from.clone(), response.ack)) {
            return; // a duplicate datagram
        }
        let query = QueryId { id: response.id, ltime: response.ltime };
        let event = if response.ack {
            Event::QueryAck { query, from }
        } else {
            Event::QueryResponse { query, from, payload: Arc::from(response.payload.as_slice()) }
        };
        self.push_event(event);
    }

    /// Closes the queries whose deadline has passed.
    pub(crate) fn expire_queries(&mut self, now: Instant) {
        self.user_events.open.retain(|_, q| q.deadline >= now);
    }
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
