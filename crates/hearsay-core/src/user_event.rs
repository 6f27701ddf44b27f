//! User events: a name and a payload that the application sends to every live member, once.
//!
//! Events are not state: nothing is stored once they have spread, and a member that was down
//! while one spread never sees it (use a key for what must be known later). Each event is
//! stamped with the origin's Lamport time (one clock per node, raised past every time it
//! sees), and a receiver delivers an event only if it has not seen `(origin, generation,
//! ltime)` before, so retransmissions and duplicates are harmless.
//!
//! Dissemination is the one membership updates use (memberlist's broadcast queue): a fresh
//! event, sent or received, joins a queue and is sent to `fanout` live members picked by the
//! shuffled round-robin, at once and then every gossip round, until it has been sent
//! `retransmit_mult * ceil(log10(N + 1))` times; every receiver does the same, so it spreads
//! epidemically in O(log N) rounds and survives loss. Events that fit go together in one
//! datagram; an event larger than a datagram (payloads up to `limits.max_event_bytes`, 64 KiB
//! by default) goes alone in a stream frame, over TCP, to the same peers.
//!
//! Coalescing: an event sent with `coalesce` replaces the older pending events of the same
//! name in every queue it reaches, so a burst of "config changed" events costs the cluster
//! about one event; every member still receives the newest one.
//!
//! Bounds: the queue holds at most [`MAX_QUEUED_EVENTS`] events (oldest dropped, counted
//! `user_event_queue_full`); the record of seen events holds [`MAX_SEEN_EVENTS`], and an event
//! more than that many Lamport ticks older than the clock is ignored as too old (Serf's rule),
//! so an evicted record cannot cause a second delivery.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use crate::event::Event;
use crate::node::Node;
use crate::transmit::TransmitKind;
use crate::wire::{Message, UserEvents, WireQuery, WireUserEvent};
use crate::{Instant, WriteError};

/// Events queued for retransmission on one node.
pub const MAX_QUEUED_EVENTS: usize = 256;
/// Events remembered for deduplication.
pub const MAX_SEEN_EVENTS: usize = 4096;
/// Longest event name.
pub const MAX_EVENT_NAME_BYTES: usize = 128;
/// Bytes an event costs on the wire besides its origin, name and payload (postcard varints
/// and length prefixes, generously).
const EVENT_OVERHEAD: usize = 32;

/// Why an event was refused. A refused event is not sent and changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The name is empty, too long ([`MAX_EVENT_NAME_BYTES`]) or holds a control character.
    #[error("invalid event name {name:?}: names are 1 to {MAX_EVENT_NAME_BYTES} bytes without control characters")]
    InvalidName {
        /// The name.
        name: String,
    },
    /// The payload is larger than `limits.max_event_bytes`.
    #[error("event payload is {len} bytes, the limit is {limit}")]
    PayloadTooLarge {
        /// Payload length.
        len: usize,
        /// `limits.max_event_bytes`.
        limit: usize,
    },
    /// The node cannot send (it has left).
    #[error(transparent)]
    Write(#[from] WriteError),
}

pub(crate) fn check_event_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_EVENT_NAME_BYTES && !name.chars().any(char::is_control)
}

/// What is being spread: a user event or a query (see the `query` module).
#[derive(Clone, Debug)]
pub(crate) enum Spread {
    Event(WireUserEvent),
    Query(WireQuery),
}

/// One queued item and how many times it has been sent.
#[derive(Debug)]
struct Queued {
    item: Spread,
    sent: u32,
}

/// A node's user-event state: its Lamport clock (events and queries share it), what it has
/// seen, what it still spreads, and the queries it asked that are still open.
#[derive(Debug, Default)]
pub(crate) struct UserEventState {
    pub(crate) clock: u64,
    seen: BTreeSet<(Arc<str>, u64, u64)>,
    seen_order: VecDeque<(Arc<str>, u64, u64)>,
    queue: VecDeque<Queued>,
    pub(crate) open: std::collections::BTreeMap<u32, crate::query::OpenQuery>,
    pub(crate) next_query_id: u32,
}

impl UserEventState {
    /// Raises the clock past `ltime`.
    pub(crate) fn witness(&mut self, ltime: u64) {
        self.clock = self.clock.max(ltime.saturating_add(1));
    }

    /// Records `key`; false if it was already seen.
    pub(crate) fn first_sight(&mut self, key: (Arc<str>, u64, u64)) -> bool {
        if !self.seen.insert(key.clone()) {
            return false;
        }
        if self.seen_order.len() >= MAX_SEEN_EVENTS
            && let Some(old) = self.seen_order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.seen_order.push_back(key);
        true
    }

    /// Queues `item` for spreading, applying coalescing; returns true if the queue overflowed.
    pub(crate) fn enqueue(&mut self, item: Spread) -> bool {
        if let Spread::Event(event) = &item
            && event.coalesce
        {
            let same = |q: &Queued| matches!(&q.item, Spread::Event(e) if e.coalesce && e.name == event.name);
            let newer_queued =
                self.queue.iter().any(|q| same(q) && matches!(&q.item, Spread::Event(e) if newer(e, event)));
            if newer_queued {
                return false;
            }
            self.queue.retain(|q| !same(q));
        }
        let overflow = self.queue.len() >= MAX_QUEUED_EVENTS;
        if overflow {
            self.queue.pop_front();
        }
        self.queue.push_back(Queued { item, sent: 0 });
        overflow
    }

    /// Events still being spread.
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }
}

/// Whether `a` is newer than `b` (Lamport time, then origin name to break ties).
fn newer(a: &WireUserEvent, b: &WireUserEvent) -> bool {
    (a.ltime, &a.origin) > (b.ltime, &b.origin)
}

fn wire_size(item: &Spread) -> usize {
    match item {
        Spread::Event(e) => e.origin.len() + e.name.len() + e.payload.len() + EVENT_OVERHEAD,
        Spread::Query(q) => {
            let filters: usize = q.filter_names.iter().map(|n| n.len() + 2).sum::<usize>()
                + q.filter_tags.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>();
            q.origin.name.len() + q.name.len() + q.payload.len() + filters + 2 * EVENT_OVERHEAD
        }
    }
}

impl Node {
    /// Sends a user event named `name` to every live member (this one included: it sees the
    /// event at once as [`Event::User`]). Best effort: a member that is down or cut off while
    /// the event spreads does not get it later. With `coalesce`, the event replaces older
    /// coalescing events of the same name still being spread. Returns the event's Lamport time.
    pub fn send_event(&mut self, now: Instant, name: &str, payload: &[u8], coalesce: bool) -> Result<u64, EventError> {
        if self.left {
            return Err(WriteError::Left.into());
        }
        if !check_event_name(name) {
            return Err(EventError::InvalidName { name: name.to_string() });
        }
        let limit = self.config.limits.max_event_bytes;
        if payload.len() > limit {
            return Err(EventError::PayloadTooLarge { len: payload.len(), limit });
        }
        let ltime = self.user_events.clock;
        self.user_events.witness(ltime);
        let me = &self.members.me().id;
        let event = WireUserEvent {
            origin: me.name.to_string(),
            generation: me.generation,
            ltime,
            name: name.to_string(),
            payload: payload.to_vec(),
            coalesce,
        };
        self.stats.user_events_sent += 1;
        self.accept_user_event(event);
        self.spread_user_events(now);
        Ok(ltime)
    }

    /// Input: events arrived from a peer.
    pub(crate) fn on_user_events(&mut self, now: Instant, message: UserEvents) {
        let mut fresh = false;
        for event in message.events {
            if !check_event_name(&event.name) || event.payload.len() > self.config.limits.max_event_bytes {
                self.stats.count_drop("invalid_user_event");
                continue;
            }
            if event.ltime.saturating_add(MAX_SEEN_EVENTS as u64) < self.user_events.clock {
                self.stats.count_drop("user_event_too_old");
                continue;
            }
            self.user_events.witness(event.ltime);
            fresh |= self.accept_user_event(event);
        }
        if fresh && self.config.eager_rumors {
            self.spread_user_events(now);
        }
    }

    /// Delivers `event` and queues it if it is new; false for a duplicate.
    fn accept_user_event(&mut self, event: WireUserEvent) -> bool {
        let origin: Arc<str> = Arc::from(event.origin.as_str());
        if !self.user_events.first_sight((origin.clone(), event.generation, event.ltime)) {
            self.stats.user_events_duplicate += 1;
            return false;
        }
        self.stats.user_events_delivered += 1;
        self.push_event(Event::User {
            origin,
            name: Arc::from(event.name.as_str()),
            ltime: event.ltime,
            payload: Arc::from(event.payload.as_slice()),
        });
        if !self.left && self.user_events.enqueue(Spread::Event(event)) {
            self.stats.count_drop("user_event_queue_full");
        }
        true
    }

    /// Sends the queued events to `fanout` live members (called every round, and at once
    /// when fresh events arrive); retires those sent often enough.
    pub(crate) fn spread_user_events(&mut self, now: Instant) {
        self.expire_queries(now);
        if self.user_events.queue.is_empty() || self.left {
            return;
        }
        let n = self.members.len() as f64 + 1.0;
        let limit = self.config.probe.retransmit_mult * (n.log10().ceil().max(1.0) as u32);
        let peers = self.selector.select(&self.members, self.config.fanout, &mut self.rng);
        let addrs: Vec<_> = peers.iter().filter_map(|i| self.members.get(*i)).map(|m| m.id.addr).collect();
        if addrs.is_empty() {
            return;
        }
        // A stream is dialled only to an address that proved it receives (see `verify`); the
        // others get a plain exchange first, whose answer is that proof, and the large items
        // follow in a later round.
        let verified: Vec<bool> = addrs.iter().map(|a| self.verifier.is_verified(*a, now)).collect();
        let by_stream = verified.iter().filter(|v| **v).count() as u32;
        let budget = self.datagram_budget();
        let mut small: Vec<WireUserEvent> = Vec::new();
        let mut used = 0;
        // Alone in a message: large events, and queries.
        let mut alone: Vec<(Message, TransmitKind)> = Vec::new();
        for queued in &mut self.user_events.queue {
            let size = wire_size(&queued.item);
            let kind = if size > budget { TransmitKind::Stream } else { TransmitKind::Datagram };
            match &queued.item {
                Spread::Event(e) if size > budget => {
                    alone.push((Message::UserEvents(UserEvents { events: vec![e.clone()] }), kind));
                }
                Spread::Event(e) if used + size <= budget => {
                    used += size;
                    small.push(e.clone());
                }
                Spread::Event(_) => continue, // the next round carries it
                Spread::Query(q) => alone.push((Message::Query(q.clone()), kind)),
            }
            let reached = if kind == TransmitKind::Stream { by_stream } else { addrs.len() as u32 };
            queued.sent = queued.sent.saturating_add(reached);
        }
        self.user_events.queue.retain(|q| q.sent < limit);
        for (addr, verified) in addrs.into_iter().zip(verified) {
            if !small.is_empty() {
                let message = Message::UserEvents(UserEvents { events: small.clone() });
                self.send(addr, TransmitKind::Datagram, &message);
            }
            let mut unproven = false;
            for (message, kind) in &alone {
                if *kind == TransmitKind::Stream && !verified {
                    unproven = true;
                    continue;
                }
                self.send(addr, *kind, message);
            }
            if unproven {
                self.send_syn(addr, true, false, false);
            }
        }
    }

    /// User events still being spread by this node.
    pub fn queued_user_events(&self) -> usize {
        self.user_events.queued()
    }
}

#[cfg(test)]
#[path = "user_event_tests.rs"]
pub(crate) mod tests;
