//! The hearsay gossip protocol as a deterministic state machine.
//!
//! This crate contains no networking code, reads no clock and spawns no thread. It is the
//! whole protocol — membership, Scuttlebutt reconciliation, the push, pull and push-pull
//! exchanges, anti-entropy and rumor mongering, SWIM probing with Lifeguard suspicion, phi
//! accrual, authenticated encryption — expressed as a value that consumes inputs and produces
//! outputs. Time and randomness come in as
//! arguments, so a run is a pure function of its seed and inputs.
//!
//! A driver owns the IO: the `hearsay` crate drives nodes over UDP and TCP with tokio, and
//! `hearsay-sim` drives thousands of them on a virtual clock. Both follow one contract:
//! feed packets to [`Node::handle_datagram`] / [`Node::handle_stream`], call
//! [`Node::handle_timeout`] once the instant from [`Node::poll_timeout`] has passed, apply the
//! application's writes with [`Node::set`] / [`Node::delete`] / [`Node::leave`], and after every
//! input drain [`Node::poll_transmit`] and [`Node::poll_event`].
//!
//! Start from [`Config`] (presets [`Config::lan`], [`Config::wan`], [`Config::local`]) and
//! [`Node::new`].
//!
//! # The protocol
//!
//! Each node owns a map of `key -> (value, version)`; every write takes the next version of
//! the owner's counter, and deletes are tombstones. Every node holds a replica of every
//! owner's map and, per owner, a `max_version`: the promise that it holds every version up to
//! there that still matters. A [digest](wire::Digest) lists `(owner, generation,
//! max_version, heartbeat)` without values; comparing a digest with one's own state tells
//! exactly which versions the other side lacks, and a [block](wire::Block) sends a contiguous
//! range of them, in ascending order, so the receiver's `max_version` stays truthful even when
//! a delta is cut by the MTU. See the `digest` and `delta` module docs for slicing, checksums,
//! scuttle-depth ordering and garbage-collected tombstones.
//!
//! Every round (`gossip_interval`) a node bumps its heartbeat and talks to `fanout` peers
//! picked by a shuffled round-robin over live members, plus now and then a dead member and a
//! seed so partitions heal. What it says depends on the [`ExchangeMode`] and [`Strategy`]:
//! anti-entropy rounds reconcile everything (a matching checksum ends the exchange after one
//! small message); rumor rounds carry only hot rumors until they go cold, and a rumor round with
//! nothing hot sends nothing.
//!
//! # Flow control
//!
//! When writers produce more than gossip carries, deltas overflow the MTU and replicas fall
//! further behind every round. Each node therefore estimates the cluster's capacity (bytes of
//! writes per round) by AIMD on MTU overflow, gossips its estimate and the demand of the
//! writers it knows at the end of every exchange message ([`wire::FlowReport`]), and admits
//! local writes at its max-min fair share through a token bucket: beyond it [`Node::set`]
//! returns [`WriteError::RateLimited`] with the time to wait, and nothing changes
//! (van Renesse et al. 2008, section 4; see the `flow` module and [`FlowConfig`]).
//!
//! # Liveness
//!
//! Liveness comes from probes, not from the gossiped state, so its cost per node does not grow
//! with the cluster: every probe interval a node pings one member (shuffled round-robin), waits
//! an adaptive timeout learned from that member's round trips, asks `k` others to probe it
//! indirectly, and only then suspects it. Suspicion and death travel as small membership
//! updates piggybacked on every message; a suspect refutes by raising its incarnation, and the
//! suspicion timeout shrinks as independent members confirm it (Lifeguard). A node that was
//! paused or fails without even hearing the relays' nacks raises its own health score and stops
//! accusing others. A restarted node has a higher generation, which beats anything said about
//! its earlier life. Heartbeats still ride in digests. Per member, phi (for operators) is zero
//! while no failed probe of it has been heard, then grows with its silence since the failed
//! probe. See the `detector`, `probe` and `membership` modules.
//!
//! # Security
//!
//! With a [`Keyring`] ([`Node::set_keyring`]) every packet is sealed with XChaCha20-Poly1305,
//! the header (cluster id included) as associated data; keys rotate by gossip
//! ([`Node::keyring_install`], [`Node::keyring_use`], [`Node::keyring_remove`]). Every decoder
//! bounds its input, every queue its length, and every rejection is counted in [`Stats`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub)]

mod announce;
mod config;
mod delta;
mod detector;
mod digest;
mod event;
mod exchange;
mod flow;
mod forgotten;
mod formation;
mod id;
mod identity;
mod isolation;
mod keys;
mod membership;
mod node;
mod peers;
mod plumtree;
mod probe;
mod query;
mod repair;
mod round;
mod rumor;
mod state;
mod stats;
mod tags;
mod time;
mod transmit;
mod user_event;
mod verify;
pub mod wire;

pub use config::{
    Config, ConfigError, DetectorConfig, ExchangeMode, FlowConfig, Limits, PeerChoice, PlumtreeConfig, ProbeConfig,
    RumorConfig, RumorFeedback, RumorStop, Strategy,
};
pub use event::Event;
pub use flow::{DEMAND_TTL_ROUNDS, FlowStatus, MAX_DEMANDS, WRITE_OVERHEAD};
pub use id::{MAX_NAME_BYTES, NameError, NodeId, check_name};
pub use keys::KeyringError;
pub use node::{InputError, MemberInfo, Node, WriteError};
pub use query::{MAX_OPEN_QUERIES, QueryError, QueryId, QueryParams, QueryRef};
pub use state::{MemberStatus, RESERVED_PREFIX, VersionedValue};
pub use stats::{DROP_REASONS, Stats, TypeCounters};
pub use tags::{MAX_TAG_KEY_BYTES, MAX_TAGS, MAX_TAGS_BYTES, Tags, TagsError, check_tags, tags_match};
pub use time::Instant;
pub use transmit::{Transmit, TransmitKind};
pub use user_event::{EventError, MAX_EVENT_NAME_BYTES, MAX_QUEUED_EVENTS, MAX_SEEN_EVENTS};
pub use verify::{AMPLIFICATION_FACTOR, BUDGET_CAP, VERIFIED_CAP, VERIFIED_TTL};
pub use wire::crypto::{Key, KeyError, Keyring};
