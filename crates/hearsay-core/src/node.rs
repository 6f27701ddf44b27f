//! [`Node`]: one member of a cluster, as a deterministic state machine.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand_pcg::Pcg64;
use thiserror::Error;

use crate::Instant;
use crate::config::{Config, ConfigError, Strategy};
use crate::event::Event;
use crate::id::NodeId;
use crate::peers::PeerSelector;
use crate::rumor::Rumors;
use crate::state::{LEFT_KEY, Member, MemberIdx, MemberStatus, Members, RESERVED_PREFIX, SELF_IDX, VersionedValue};
use crate::stats::Stats;
use crate::transmit::{Transmit, TransmitKind};
use crate::wire::{Codec, DecodeError, Message};

/// Why a local write was refused. A refused write changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The key is empty.
    #[error("key is empty")]
    EmptyKey,
    /// The key is longer than the limit.
    #[error("key is {len} bytes, the limit is {limit}")]
    KeyTooLong {
        /// Key length.
        len: usize,
        /// `limits.max_key_bytes`.
        limit: usize,
    },
    /// The key uses the reserved prefix.
    #[error("keys starting with `{RESERVED_PREFIX}` are reserved")]
    ReservedKey,
    /// The value is larger than the limit.
    #[error("value is {len} bytes, the limit is {limit}")]
    ValueTooLarge {
        /// Value length.
        len: usize,
        /// `limits.max_value_bytes`.
        limit: usize,
    },
    /// The write would take the node's live keys and values past their byte limit.
    #[error("node would own {len} bytes of keys and values, the limit is {limit}")]
    TooManyBytes {
        /// Bytes the node would own.
        len: usize,
        /// `limits.max_bytes_per_node`.
        limit: usize,
    },
    /// The node already owns the maximum number of keys.
    #[error("node already owns {limit} keys, the limit")]
    TooManyKeys {
        /// `limits.max_keys_per_node`.
        limit: usize,
    },
    /// The node has left the cluster.
    #[error("node has left the cluster")]
    Left,
    /// The version counter reached its maximum (only possible with a corrupt restored state).
    #[error("the node's version counter is exhausted; restart it with a new generation")]
    VersionsExhausted,
    /// The node writes faster than its share of what gossip carries (see the `flow` module);
    /// the write may be retried after `retry_after`.
    #[error("writing faster than the cluster's gossip carries; retry in {retry_after:?}")]
    RateLimited {
        /// How long until this node's share admits a write again.
        retry_after: Duration,
    },
}

/// Why an input packet was dropped. A dropped packet changes nothing but the drop counters.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InputError {
    /// The bytes are not a valid packet for this cluster.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A datagram-only message arrived on a stream or the reverse.
    #[error("message not allowed on this transport")]
    WrongTransport,
}

/// A member as reported to the application.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberInfo {
    /// Identity.
    pub id: NodeId,
    /// Liveness as this node sees it. While this node is isolated ([`Node::is_isolated`]) an
    /// alive member is reported suspect, locally only: this node has not heard from it for
    /// longer than a suspicion lasts, and accuses nobody (it is the likely culprit).
    pub status: MemberStatus,
    /// Current phi (0 for the local node).
    pub phi: f64,
    /// Highest contiguous version held.
    pub max_version: u64,
    /// Highest heartbeat seen.
    pub heartbeat: u64,
    /// Live keys held.
    pub live_keys: usize,
    /// Whether this is the local node.
    pub is_self: bool,
    /// The member's tags (see [`Node::set_tags`]).
    pub tags: crate::Tags,
}

/// A pending three-way exchange we started.
#[derive(Debug)]
pub(crate) struct PendingSyn {
    pub id: u32,
    pub to: SocketAddr,
    pub push_pull: bool,
    pub rumor: bool,
    pub sent_round: u64,
}

/// One member of a gossip cluster: the whole protocol, without IO.
///
/// See the crate documentation for the calling contract.
#[derive(Debug)]
pub struct Node {
    pub(crate) config: Config,
    pub(crate) codec: Codec,
    pub(crate) stream_codec: Codec,
    pub(crate) rng: Pcg64,
    pub(crate) members: Members,
    pub(crate) seeds: Vec<SocketAddr>,
    pub(crate) selector: PeerSelector,
    pub(crate) rumors: Rumors,
    /// Recent advances `(member, generation, from, to)`, newest last: what push anti-entropy
    /// sends first.
    pub(crate) recent: VecDeque<(MemberIdx, u64, u64, u64)>,
    /// Rotating position for push anti-entropy's full-owner repair blocks.
    pub(crate) repair_cursor: usize,
    pub(crate) slice_cursor: u32,
    pub(crate) exchange_counter: u32,
    pub(crate) pending: VecDeque<PendingSyn>,
    pub(crate) round: u64,
    pub(crate) next_round: Instant,
    /// A node started with seeds contacts one at its first timeout rather than at its first
    /// (jittered) round: a restarted node is back in the cluster within a round trip.
    pub(crate) join_at: Option<Instant>,
    pub(crate) now: Instant,
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) stats: Stats,
    /// Own keys with a time to live: key -> (expiry, version it applies to).
    pub(crate) ttl: BTreeMap<Arc<str>, (Instant, u64)>,
    /// Forgotten members by name (see [`crate::forgotten`]). Ordered, so that picking one at
    /// random is a function of the node's seed.
    pub(crate) forgotten: BTreeMap<Arc<str>, crate::forgotten::Forgotten>,
    pub(crate) left: bool,
    /// When this node last received a message that decoded (see [`crate::isolation`]).
    pub(crate) last_heard: Instant,
    /// This node has heard from nobody for a while: it is the one cut off.
    pub(crate) isolated: bool,
    pub(crate) broadcasts: crate::membership::Broadcasts,
    pub(crate) prober: crate::probe::Prober,
    pub(crate) flow: crate::flow::Flow,
    pub(crate) keyring: Option<crate::Keyring>,
    pub(crate) keyring_epoch: (u64, Arc<str>),
    pub(crate) sealer: crate::wire::crypto::Sealer,
    /// Members that may not be alive (suspect, dead, left): the only ones the per-round
    /// suspicion and forgetting checks visit. May hold stale entries; pruned every round.
    pub(crate) watch: Vec<MemberIdx>,
    pub(crate) repair: crate::repair::Repair,
    /// Earliest time of the next membership catch-up (see `formation`).
    pub(crate) catch_up_not_before: Instant,
    /// A peer that claimed to know more members, being verified before the catch-up.
    pub(crate) catch_up_verifying: Option<SocketAddr>,
    /// A catch-up held back by `catch_up_not_before`: (peer, its live member count).
    pub(crate) catch_up_next: Option<(SocketAddr, u32)>,
    /// Since when peers have said they know a few more members than we do (a gap within the
    /// slack), and the most they said (see `compare_member_count`).
    pub(crate) behind_since: Option<(Instant, u32)>,
    /// Catch-ups answered by stream in the current interval (see `formation`).
    pub(crate) catch_ups_served: crate::formation::Served,
    /// The message being applied came by stream: a bulk catch-up, whose contents are not news
    /// to rumor about (see `formation`).
    pub(crate) applying_bulk: bool,
    /// Identity checks of contested names (see `identity`).
    pub(crate) identity: crate::identity::Identity,
    /// Restart announcement (see `announce`).
    pub(crate) announce: crate::announce::Announce,
    /// A fresh rumor arrived since the last eager forward.
    pub(crate) eager_pending: bool,
    pub(crate) eager_not_before: Instant,
    /// Verified addresses and the reply budgets of the others (see `verify`).
    pub(crate) verifier: crate::verify::Verifier,
    /// The sender of the input being handled: what is sent back to it is a reply.
    pub(crate) replying_to: Option<SocketAddr>,
    /// Epidemic broadcast tree state (see `plumtree`).
    pub(crate) tree: crate::plumtree::Plumtree,
    pub(crate) user_events: crate::user_event::UserEventState,
}

pub(crate) const MAX_PENDING_SYNS: usize = 256;

/// Recent advances remembered for push anti-entropy.
pub(crate) const MAX_RECENT: usize = 64;

impl Node {
    /// A node with identity `id` that will join through `seeds`.
    ///
    /// `rng_seed` seeds the node's only source of randomness: the same seed and the same inputs
    /// give the same outputs, byte for byte. `now` is the driver's current time.
    pub fn new(
        config: Config,
        id: NodeId,
        seeds: Vec<SocketAddr>,
        rng_seed: u64,
        now: Instant,
    ) -> Result<Node, ConfigError> {
        config.validate()?;
        crate::id::check_name(&id.name).map_err(|e| ConfigError::Invalid { field: "name", reason: e.to_string() })?;
        let codec = Codec { cluster_id: config.cluster_id, max_len: config.mtu };
        let stream_codec = Codec { cluster_id: config.cluster_id, max_len: config.limits.max_stream_bytes };
        let seeds: Vec<SocketAddr> = seeds.into_iter().filter(|s| *s != id.addr).collect();
        let mut me = Member::new(id.clone());
        me.heartbeat = 1;
        let mut rng = Pcg64::seed_from_u64(rng_seed);
        // Spread first rounds of nodes started together over the interval (drawn in lockstep
        // too, so the rest of the node's random sequence does not depend on the setting).
        let jitter = rand::Rng::random_range(&mut rng, 0..config.gossip_interval.as_micros().max(1) as u64);
        let first_round = if config.lockstep_rounds { now } else { now + Duration::from_micros(jitter) };
        let name_salt: u64 = rand::Rng::random(&mut rng);
        let flow = crate::flow::Flow::new(config.mtu, now);
        let mut node = Node {
            next_round: first_round,
            join_at: (!seeds.is_empty()).then_some(now),
            config,
            codec,
            stream_codec,
            rng,
            members: Members::new(me, name_salt),
            seeds,
            selector: PeerSelector::default(),
            rumors: Rumors::default(),
            recent: VecDeque::new(),
            repair_cursor: 0,
            slice_cursor: 0,
            exchange_counter: 0,
            pending: VecDeque::new(),
            round: 0,
            now,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            ttl: BTreeMap::new(),
            forgotten: BTreeMap::new(),
            left: false,
            last_heard: now,
            isolated: false,
            broadcasts: Default::default(),
            prober: crate::probe::Prober::new(now + Duration::from_micros(jitter)),
            flow,
            keyring: None,
            watch: Vec::new(),
            repair: Default::default(),
            catch_up_not_before: Instant::ZERO,
            catch_up_verifying: None,
            catch_up_next: None,
            behind_since: None,
            catch_ups_served: Default::default(),
            applying_bulk: false,
            identity: Default::default(),
            announce: Default::default(),
            eager_pending: false,
            eager_not_before: now,
            tree: Default::default(),
            user_events: Default::default(),
            keyring_epoch: (0, Arc::from("")),
            sealer: crate::wire::crypto::Sealer::new(crate::id::name_hash(&id.name), id.generation),
            verifier: crate::verify::Verifier::new(crate::verify::token_key(name_salt)),
            replying_to: None,
        };
        // Our own existence is the first rumor we spread.
        node.advanced(SELF_IDX, id.generation, 0, 0);
        Ok(node)
    }

    /// Restores the node's own keys after a restart (before any other input): the version
    /// counter continues from `max_version` so versions never repeat.
    ///
    /// Entries that break a limit or carry a version above `max_version` are skipped and
    /// counted in the returned number.
    pub fn restore_own(
        &mut self,
        entries: impl IntoIterator<Item = (String, Vec<u8>, u64)>,
        max_version: u64,
    ) -> usize {
        let mut skipped = 0;
        let limits = self.config.limits;
        self.members.raise_max_version(SELF_IDX, max_version);
        for (key, value, version) in entries {
            let me = self.members.me();
            if key.is_empty()
                || key.len() > limits.max_key_bytes
                || value.len() > limits.max_value_bytes
                || version > max_version
                || me.live_keys() >= limits.max_keys_per_node
                || me.live_bytes() + key.len() + value.len() > limits.max_bytes_per_node
            {
                skipped += 1;
                continue;
            }
            self.members.store(SELF_IDX, &key, VersionedValue { value: value.into(), version, tombstone: false });
        }
        skipped
    }

    /// Adds a member known from elsewhere (persisted peers, a bootstrap list). No-op if the
    /// name is known, fails [`crate::check_name`] or the member limit is reached. It is contacted like any live member until the detector decides.
    ///
    /// A driver that runs many nodes in one process may pass the same `Arc<NodeId>` to all of
    /// them: the identity is then stored once, not once per node.
    pub fn add_member(&mut self, _now: Instant, id: impl Into<Arc<NodeId>>) {
        let id = id.into();
        if self.members.lookup(&id.name).is_some()
            || self.members.len() >= self.config.limits.max_members
            || crate::id::check_name(&id.name).is_err()
        {
            return;
        }
        self.members.insert(Member::new(id.clone()));
        self.push_event(Event::MemberJoined(NodeId::clone(&id)));
    }

    /// Makes room for `additional` more members in one allocation, for a driver that knows
    /// the cluster's size up front (growth otherwise leaves up to half of the room unused).
    pub fn reserve_members(&mut self, additional: usize) {
        let additional = additional.min(self.config.limits.max_members.saturating_sub(self.members.len()));
        self.members.reserve(additional);
    }

    /// This node's identity.
    pub fn id(&self) -> &NodeId {
        &self.members.me().id
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Counters for metrics.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Rounds run so far.
    pub fn round(&self) -> u64 {
        self.round
    }

    /// Flow control: this node's share of the writes gossip carries, in bytes per round (see
    /// [`Node::flow_status`]).
    pub fn write_rate(&self) -> f64 {
        self.flow.rate()
    }

    /// Bytes of state peers were missing that the last overflowing delta could not carry.
    pub fn backlog_bytes(&self) -> usize {
        self.flow.backlog_bytes()
    }

    /// Membership updates waiting to be piggybacked.
    pub fn pending_updates(&self) -> usize {
        self.broadcasts.pending()
    }

    /// Whether any rumor is still hot here (the simulator waits for quiet).
    pub fn has_hot_rumors(&self) -> bool {
        !self.rumors.is_empty() || self.tree.busy()
    }

    /// Sets `key` to `value` on this node, with the next version. Returns the version.
    /// Beyond this node's share of what gossip carries the write is refused with
    /// [`WriteError::RateLimited`] (see the `flow` module).
    pub fn set(&mut self, now: Instant, key: &str, value: &[u8]) -> Result<u64, WriteError> {
        self.validate_write(key, Some(value))?;
        self.admit_write(now, key, value.len())?;
        self.ttl.remove(key);
        let version = self.write_own(now, key, Some(value));
        self.eager_forward(now);
        Ok(version)
    }

    /// Sets `key` to `value`, to be deleted automatically `ttl` after `now`.
    pub fn set_with_ttl(&mut self, now: Instant, key: &str, value: &[u8], ttl: Duration) -> Result<u64, WriteError> {
        self.validate_write(key, Some(value))?;
        self.admit_write(now, key, value.len())?;
        let version = self.write_own(now, key, Some(value));
        self.ttl.insert(Arc::from(key), (now + ttl, version));
        self.eager_forward(now);
        Ok(version)
    }

    /// Deletes `key` (a tombstone with the next version). Returns `None` if there was no such
    /// live key, in which case nothing changes.
    pub fn delete(&mut self, now: Instant, key: &str) -> Result<Option<u64>, WriteError> {
        self.validate_write(key, None)?;
        if self.members.me().keys().get(key).is_none_or(|v| v.tombstone) {
            return Ok(None);
        }
        self.admit_write(now, key, 0)?;
        self.ttl.remove(key);
        let version = self.write_own(now, key, None);
        self.eager_forward(now);
        Ok(Some(version))
    }

    /// Leaves the cluster gracefully: a `left` mark is written and pushed at once to live peers;
    /// keep driving the node for a round or two so it spreads, then stop.
    pub fn leave(&mut self, now: Instant) {
        if self.left {
            return;
        }
        self.write_own(now, LEFT_KEY, Some(&[]));
        self.left = true;
        self.members.me_mut().status = MemberStatus::Left;
        let me = self.members.me();
        let update = self.update_about(me, &me.id.name);
        self.broadcast(update);
        self.tree_flush(now);
        self.push_leave(now);
    }

    /// Whether [`Node::leave`] was called.
    pub fn has_left(&self) -> bool {
        self.left
    }

    fn validate_write(&self, key: &str, value: Option<&[u8]>) -> Result<(), WriteError> {
        let limits = &self.config.limits;
        if self.left {
            return Err(WriteError::Left);
        }
        if key.is_empty() {
            return Err(WriteError::EmptyKey);
        }
        if key.len() > limits.max_key_bytes {
            return Err(WriteError::KeyTooLong { len: key.len(), limit: limits.max_key_bytes });
        }
        if key.starts_with(RESERVED_PREFIX) {
            return Err(WriteError::ReservedKey);
        }
        if self.members.me().max_version() == u64::MAX {
            return Err(WriteError::VersionsExhausted);
        }
        if let Some(value) = value {
            if value.len() > limits.max_value_bytes {
                return Err(WriteError::ValueTooLarge { len: value.len(), limit: limits.max_value_bytes });
            }
            let me = self.members.me();
            let exists = me.keys().get(key).is_some_and(|v| !v.tombstone);
            if !exists && me.live_keys() >= limits.max_keys_per_node {
                return Err(WriteError::TooManyKeys { limit: limits.max_keys_per_node });
            }
            let replaced = me.keys().get(key).filter(|v| !v.tombstone).map_or(0, |v| key.len() + v.value.len());
            let len = me.live_bytes() - replaced + key.len() + value.len();
            if len > limits.max_bytes_per_node {
                return Err(WriteError::TooManyBytes { len, limit: limits.max_bytes_per_node });
            }
        }
        Ok(())
    }

    pub(crate) fn write_own(&mut self, now: Instant, key: &str, value: Option<&[u8]>) -> u64 {
        let grace = self.config.tombstone_grace;
        let me = self.members.me_mut();
        let version = me.max_version().saturating_add(1);
        let stored =
            VersionedValue { value: Arc::from(value.unwrap_or_default()), version, tombstone: value.is_none() };
        let (owner, generation) = (NodeId::clone(&me.id), me.id.generation);
        self.members.store(SELF_IDX, key, stored.clone());
        self.members.raise_max_version(SELF_IDX, version);
        if stored.tombstone {
            self.members.schedule_gc(now + grace, SELF_IDX, Arc::from(key), version);
        }
        self.advanced(SELF_IDX, generation, version - 1, version);
        if key.starts_with(RESERVED_PREFIX) {
            return version;
        }
        self.push_event(Event::KeyChanged {
            owner,
            key: Arc::from(key),
            value: (!stored.tombstone).then_some(stored.value),
            version,
        });
        version
    }

    /// Bookkeeping after versions `(from, to]` of `member` became known here.
    pub(crate) fn advanced(&mut self, member: MemberIdx, generation: u64, from: u64, to: u64) {
        self.state_changed();
        if self.recent.len() >= MAX_RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((member, generation, from, to));
        match self.config.strategy {
            Strategy::AntiEntropy => {}
            _ if self.applying_bulk => {}
            Strategy::Plumtree => self.tree_advanced(member, generation, from),
            Strategy::Rumor | Strategy::Hybrid => {
                self.rumors.add(member, generation, from, to, self.round);
                self.eager_pending = true;
            }
        }
    }

    /// The value of `key` owned by `node`, if this node knows it (tombstones are not returned).
    pub fn get(&self, node: &str, key: &str) -> Option<&VersionedValue> {
        if key.starts_with(RESERVED_PREFIX) {
            return None;
        }
        let idx = self.members.lookup(node)?;
        self.members.get(idx)?.keys().get(key).filter(|v| !v.tombstone)
    }

    /// Live keys of `node` in key order, or `None` for an unknown node.
    pub fn keys<'a>(&'a self, node: &str) -> Option<impl Iterator<Item = (&'a str, &'a VersionedValue)> + use<'a>> {
        let idx = self.members.lookup(node)?;
        let member = self.members.get(idx)?;
        Some(
            member
                .keys()
                .iter()
                .filter(|(k, v)| !v.tombstone && !k.starts_with(RESERVED_PREFIX))
                .map(|(k, v)| (&**k, v)),
        )
    }

    /// Every known member, the local node included, in a stable order.
    pub fn members(&self) -> Vec<MemberInfo> {
        let mut out: Vec<MemberInfo> = self.members.iter().map(|(idx, m)| self.info(idx, m)).collect();
        out.sort_by(|a, b| a.id.name.cmp(&b.id.name));
        out
    }

    /// One member by name.
    pub fn member(&self, name: &str) -> Option<MemberInfo> {
        let idx = self.members.lookup(name)?;
        self.members.get(idx).map(|m| self.info(idx, m))
    }

    /// Number of known members, the local node included.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    fn info(&self, idx: MemberIdx, m: &Member) -> MemberInfo {
        MemberInfo {
            id: NodeId::clone(&m.id),
            status: if self.isolated && idx != SELF_IDX && m.status == MemberStatus::Alive {
                MemberStatus::Suspect
            } else {
                m.status
            },
            phi: if idx == SELF_IDX { 0.0 } else { m.phi(self.now, &self.config) },
            max_version: m.max_version(),
            heartbeat: u64::from(m.heartbeat),
            live_keys: m.keys().iter().filter(|(k, v)| !v.tombstone && !k.starts_with(RESERVED_PREFIX)).count(),
            is_self: idx == SELF_IDX,
            tags: crate::tags::member_tags(m),
        }
    }

    /// Input: a datagram arrived from `from`.
    ///
    /// A packet that does not decode is dropped, counted under its reason in
    /// [`Stats::dropped`], and returned as an error; the node's state is unchanged.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> Result<(), InputError> {
        self.observe(now);
        if self.identity.refused {
            return Ok(());
        }
        let message = match self.unseal(bytes, self.config.mtu).and_then(|plain| self.codec.decode(&plain)) {
            Ok(m) => m,
            Err(e) => {
                self.stats.count_drop(e.reason());
                return Err(e.into());
            }
        };
        self.stats.count_received(message.message_type(), bytes.len());
        self.heard(now);
        self.verifier.received(from, bytes.len(), now);
        self.replying_to = Some(from);
        self.handle_message(now, from, message, TransmitKind::Datagram);
        self.replying_to = None;
        self.eager_forward(now);
        self.announce_learned();
        self.note_expected_wake();
        Ok(())
    }

    /// Input: a stream frame (a large delta) arrived from `from`. Same contract as
    /// [`Node::handle_datagram`], with the stream size limit.
    pub fn handle_stream(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> Result<(), InputError> {
        self.observe(now);
        if self.identity.refused {
            return Ok(());
        }
        let limit = self.config.limits.max_stream_bytes;
        let message = match self.unseal(bytes, limit).and_then(|plain| self.stream_codec.decode(&plain)) {
            Ok(m) => m,
            Err(e) => {
                self.stats.count_drop(e.reason());
                return Err(e.into());
            }
        };
        if matches!(message, Message::PushAck(_)) {
            self.stats.count_drop("wrong_transport");
            return Err(InputError::WrongTransport);
        }
        self.stats.count_received(message.message_type(), bytes.len());
        self.heard(now);
        self.verifier.received(from, bytes.len(), now);
        self.applying_bulk = true;
        self.replying_to = Some(from);
        self.handle_message(now, from, message, TransmitKind::Stream);
        self.replying_to = None;
        self.applying_bulk = false;
        self.eager_forward(now);
        self.announce_learned();
        self.note_expected_wake();
        Ok(())
    }

    /// Input: the instant returned by [`Node::poll_timeout`] has come (calling it earlier or
    /// more often is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.observe(now);
        if self.identity.refused {
            return;
        }
        self.expire_identity_checks(now);
        if self.join_at.is_some_and(|at| now >= at) {
            self.join_at = None;
            if self.is_lonely()
                && let Some(seed) = rand::seq::IndexedRandom::choose(self.seeds.as_slice(), &mut self.rng).copied()
            {
                self.send_syn(seed, true, false, true);
            }
        }
        if now >= self.next_round {
            // Skip missed rounds instead of bursting them after a pause.
            while self.next_round <= now {
                self.next_round += self.config.gossip_interval;
            }
            self.run_round(now);
        }
        self.probe_tick(now);
        self.tree_timeout(now);
        self.catch_up_timeout(now);
        self.note_expected_wake();
    }

    /// Output: the next packet to send, if any. Drain after every input.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Output: the next event for the application, if any. Drain after every input.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Output: when [`Node::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next = self.next_round.min(self.prober.deadline());
        if let Some(tree) = self.tree.deadline() {
            next = next.min(tree);
        }
        if self.catch_up_next.is_some() {
            next = next.min(self.catch_up_not_before);
        }
        Some(self.join_at.map_or(next, |at| at.min(next)))
    }

    fn observe(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }

    pub(crate) fn push_event(&mut self, event: Event) {
        if self.events.len() >= self.config.limits.max_pending_events {
            self.events.pop_front();
            self.stats.count_drop("event_queue_full");
        }
        self.events.push_back(event);
    }

    pub(crate) fn send(&mut self, to: SocketAddr, kind: TransmitKind, message: &Message) {
        let codec = match kind {
            TransmitKind::Datagram => self.codec,
            TransmitKind::Stream => self.stream_codec,
        };
        let Some(mut payload) = self.seal(codec.encode(message)) else {
            self.stats.count_drop("seal_failed");
            return;
        };
        if payload.len() > codec.max_len {
            // Packing estimates sizes; should it overshoot, shed the optional parts (blocks
            // from the end, then piggybacked updates) rather than lose the whole message.
            let mut trimmed = message.clone();
            while payload.len() > codec.max_len {
                if !crate::transmit::shed_one(&mut trimmed) {
                    self.stats.count_drop("oversized_outgoing");
                    return;
                }
                let Some(again) = self.seal(codec.encode(&trimmed)) else {
                    self.stats.count_drop("seal_failed");
                    return;
                };
                payload = again;
            }
            self.stats.trimmed += 1;
        }
        if let crate::verify::Gate::Refuse(reason) = self.gate(to, kind, payload.len()) {
            self.stats.count_drop(reason);
            return;
        }
        if self.transmits.len() >= self.config.limits.max_pending_transmits {
            self.stats.count_drop("transmit_queue_full");
            return;
        }
        self.stats.count_sent(message.message_type(), payload.len());
        if kind == TransmitKind::Stream {
            self.stats.stream_transmits += 1;
        }
        self.transmits.push_back(Transmit { to, kind, message_type: message.message_type(), payload });
    }

    pub(crate) fn next_exchange_id(&mut self) -> u32 {
        self.exchange_counter = self.exchange_counter.wrapping_add(1);
        self.verifier.token(self.exchange_counter)
    }
}
