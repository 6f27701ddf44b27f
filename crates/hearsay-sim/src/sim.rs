//! [`Sim`]: the discrete-event engine that drives unchanged `hearsay_core::Node`s.
//!
//! The engine owns virtual time, the event queue (ordered by `(time, sequence)`), the slots that
//! hold nodes, churn (crash, restart, join, leave, pause) and the write [`Model`]. It does not
//! decide what a scenario does or what is measured beyond the watched key; scenarios call its
//! methods, checkers read its nodes.
//!
//! After every input to a node the engine drains `poll_transmit` (each transmit gets a fate from
//! the [`NetConfig`]) and `poll_event` (dropped: the queue is bounded, so it must be drained),
//! and schedules `handle_timeout` at `poll_timeout`. A node's randomness comes from its own
//! `rng_seed`, derived from the run seed, its slot and its generation; the network has its own
//! RNG. A run is therefore a pure function of its seed and its scenario.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

pub use crate::stats::{LivenessEvent, NetStats, TIMER_SPIN_DELAY_US};
use hearsay_core::wire::{Codec, Message, Tree};
use hearsay_core::{Config, ConfigError, Event, Instant, Node, NodeId, TransmitKind, WriteError};
use rand::SeedableRng;
use rand_pcg::Pcg64;
use thiserror::Error;

use crate::deliveries::Deliveries;
use crate::model::Model;
use crate::net::NetConfig;
use crate::record::Recorder;

/// How the nodes of a new simulation find each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// Every node is given every other member with `Node::add_member` (no discovery needed).
    FullMembership,
    /// Every node but slot 0 starts knowing only slot 0's address as its seed.
    Seed,
}

/// Everything that defines a simulation besides what the scenario does.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Number of nodes at the start.
    pub nodes: usize,
    /// Protocol configuration of every node.
    pub config: Config,
    /// Network model.
    pub net: NetConfig,
    /// Run seed: every random choice derives from it.
    pub seed: u64,
    /// How the nodes find each other.
    pub bootstrap: Bootstrap,
}

/// Why the simulator refused an operation.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SimError {
    /// The node configuration is invalid (nothing was created).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The slot holds no running node.
    #[error("slot {0} holds no running node")]
    NotRunning(usize),
    /// The node refused a write.
    #[error("node {slot} refused the write: {source}")]
    Write {
        /// Which slot.
        slot: usize,
        /// The node's reason.
        source: WriteError,
    },
    /// The node refused a user event.
    #[error("node {slot} refused the event: {source}")]
    Event {
        /// Which slot.
        slot: usize,
        /// The node's reason.
        source: hearsay_core::EventError,
    },
}

/// The address of slot `i`: `10.a.b.c:7946`, unique for up to 16 million slots.
pub fn slot_addr(i: usize) -> SocketAddr {
    let n = (i as u32).wrapping_add(1);
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, (n >> 16) as u8, (n >> 8) as u8, n as u8), 7946))
}

/// The name of slot `i`.
pub fn slot_name(i: usize) -> String {
    format!("node-{i}")
}

/// SplitMix64: derives independent seeds from one.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// One place in the simulated cluster: a name and address that outlive restarts.
#[derive(Debug)]
pub struct Slot {
    /// The running node, `None` while crashed or after it left and stopped.
    pub node: Option<Node>,
    /// Stable name.
    pub name: Arc<str>,
    /// Stable address.
    pub addr: SocketAddr,
    /// Generation of the current (or last) node in this slot.
    pub generation: u64,
    /// Bumped for every new node in the slot: stale timers are recognised by it.
    incarnation: u32,
    timer_at: Option<u64>,
    /// When `handle_timeout` was last called.
    last_timeout_at: Option<u64>,
    /// While set, the node processes nothing; packets queue up in `backlog`.
    paused_until: Option<u64>,
    backlog: Vec<(usize, TransmitKind, Vec<u8>)>,
    /// `Node::leave` was called.
    pub left: bool,
}

impl Slot {
    /// Up, not left: a node whose replica must converge and whose map must spread.
    pub fn is_live(&self) -> bool {
        self.node.is_some() && !self.left
    }

    /// Paused right now.
    pub fn is_paused(&self) -> bool {
        self.paused_until.is_some()
    }
}

#[derive(Debug)]
enum Action {
    Timer { slot: usize, incarnation: u32 },
    Deliver { from: usize, to: usize, kind: TransmitKind, payload: Vec<u8> },
    Resume { slot: usize, incarnation: u32 },
    Stop { slot: usize, incarnation: u32 },
}

#[derive(Debug)]
struct Queued {
    at: u64,
    seq: u64,
    action: Action,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    // Reversed: BinaryHeap pops the greatest, we want the earliest.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A key whose spread is being measured.
#[derive(Debug)]
pub struct Watch {
    /// Owner name.
    pub owner: Arc<str>,
    /// Key.
    pub key: String,
    /// Version the owner gave the watched write.
    pub version: u64,
    /// Per slot: virtual time (µs) at which the node first held the watched version.
    pub first_at: Vec<Option<u64>>,
    /// Nodes that hold it.
    pub informed: usize,
    /// Transmits that carried the watched value (decoded and found in a block).
    pub carriers: u64,
    needle: Vec<u8>,
}

/// The simulator: nodes, virtual clock, event queue, network and the write model.
#[derive(Debug)]
pub struct Sim {
    config: SimConfig,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Queued>,
    slots: Vec<Slot>,
    by_addr: HashMap<SocketAddr, usize>,
    net_rng: Pcg64,
    /// The network model in force (scenarios may add partitions while running).
    pub net: NetConfig,
    /// Every write issued through [`Sim::set`] and [`Sim::delete`].
    pub model: Model,
    /// Engine counters.
    pub stats: NetStats,
    /// Every suspicion and death a node declared after the cluster was formed.
    pub liveness: Vec<LivenessEvent>,
    watch: Option<Watch>,
    /// Slot whose received packets are logged in `trace_log` (debugging a replayed run).
    pub trace_slot: Option<usize>,
    /// One line per packet received by `trace_slot`.
    pub trace_log: Vec<String>,
    /// Per-round message counts and edges, for a replay (see [`Sim::record_messages`]).
    recorder: Option<Recorder>,
    /// Per-write delivery times and hops (see [`Sim::track_deliveries`]).
    deliveries: Option<Deliveries>,
    /// The slot whose packet is being handled (the hop a delivery came over).
    handling_from: Option<usize>,
    codec: Codec,
    stream_codec: Codec,
    /// Every user event a node delivered (see [`Sim::send_event`]).
    pub user_events: Vec<UserDelivery>,
}

#[path = "sim_user_events.rs"]
mod user_events;
pub use user_events::UserDelivery;

impl Sim {
    /// Creates the nodes at time zero and bootstraps them.
    pub fn new(config: SimConfig) -> Result<Sim, SimError> {
        config.config.validate()?;
        let node_config = &config.config;
        let codec = Codec { cluster_id: node_config.cluster_id, max_len: node_config.mtu };
        let stream_codec = Codec { cluster_id: node_config.cluster_id, max_len: node_config.limits.max_stream_bytes };
        let mut sim = Sim {
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            slots: Vec::with_capacity(config.nodes),
            by_addr: HashMap::new(),
            net_rng: Pcg64::seed_from_u64(mix(config.seed ^ 0x006e_6574_776f_726b)),
            net: config.net.clone(),
            model: Model::default(),
            stats: NetStats::default(),
            liveness: Vec::new(),
            watch: None,
            trace_slot: None,
            trace_log: Vec::new(),
            recorder: None,
            deliveries: None,
            handling_from: None,
            codec,
            stream_codec,
            user_events: Vec::new(),
            config,
        };
        let n = sim.config.nodes;
        // Slot 0 is everyone's seed (a node filters itself out of its seeds).
        let seeds = vec![slot_addr(0)];
        for _ in 0..n {
            sim.add_slot(seeds.clone())?;
        }
        if sim.config.bootstrap == Bootstrap::FullMembership {
            // One shared identity per member for all nodes: N^2 member records, N identities.
            let ids: Vec<Arc<NodeId>> =
                sim.slots.iter().map(|s| Arc::new(NodeId::new(s.name.clone(), s.generation, s.addr))).collect();
            let now = Instant::from_micros(sim.now);
            // Each node is formed on its own, so the work splits across threads without
            // changing any outcome.
            let form = |slots: &mut [Slot], first: usize| {
                for (k, slot) in slots.iter_mut().enumerate() {
                    let Some(node) = slot.node.as_mut() else { continue };
                    node.reserve_members(n.saturating_sub(1));
                    for (j, id) in ids.iter().enumerate() {
                        if first + k != j {
                            node.add_member(now, id.clone());
                        }
                        // The event queue is bounded; drain as we go.
                        while node.poll_event().is_some() {}
                    }
                }
            };
            let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).clamp(1, 8);
            let chunk = n.div_ceil(threads).max(64);
            std::thread::scope(|scope| {
                for (c, slots) in sim.slots.chunks_mut(chunk).enumerate() {
                    let form = &form;
                    scope.spawn(move || form(slots, c * chunk));
                }
            });
        }
        for i in 0..n {
            sim.after_input(i);
        }
        Ok(sim)
    }

    fn add_slot(&mut self, seeds: Vec<SocketAddr>) -> Result<usize, SimError> {
        let i = self.slots.len();
        let name: Arc<str> = Arc::from(slot_name(i));
        let addr = slot_addr(i);
        let node = self.make_node(i, name.clone(), addr, 1, seeds)?;
        self.slots.push(Slot {
            node: Some(node),
            name,
            addr,
            generation: 1,
            incarnation: 0,
            timer_at: None,
            last_timeout_at: None,
            paused_until: None,
            backlog: Vec::new(),
            left: false,
        });
        self.by_addr.insert(addr, i);
        if let Some(w) = self.watch.as_mut() {
            w.first_at.push(None);
        }
        Ok(i)
    }

    fn make_node(
        &self,
        slot: usize,
        name: Arc<str>,
        addr: SocketAddr,
        generation: u64,
        seeds: Vec<SocketAddr>,
    ) -> Result<Node, SimError> {
        let rng_seed = mix(self.config.seed ^ mix((slot as u64) << 20 ^ generation));
        let id = NodeId::new(name, generation, addr);
        Ok(Node::new(self.config.config.clone(), id, seeds, rng_seed, Instant::from_micros(self.now))?)
    }

    /// Current virtual time in microseconds.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The gossip interval in microseconds.
    pub fn interval_us(&self) -> u64 {
        self.config.config.gossip_interval.as_micros() as u64
    }

    /// The simulation's settings.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// All slots, crashed ones included.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// The running node in `slot`.
    pub fn node(&self, slot: usize) -> Option<&Node> {
        self.slots.get(slot).and_then(|s| s.node.as_ref())
    }

    /// The measured key, if any.
    pub fn watch(&self) -> Option<&Watch> {
        self.watch.as_ref()
    }

    fn push(&mut self, at: u64, action: Action) {
        self.seq += 1;
        self.queue.push(Queued { at, seq: self.seq, action });
    }

    /// Processes every event up to and including `until` (µs); the clock ends at `until`.
    pub fn run_until(&mut self, until: u64) {
        while self.queue.peek().is_some_and(|q| q.at <= until) {
            let Some(q) = self.queue.pop() else { break };
            self.now = self.now.max(q.at);
            self.dispatch(q.action);
        }
        self.now = self.now.max(until);
    }

    /// Runs for `rounds` gossip intervals.
    pub fn run_rounds(&mut self, rounds: u64) {
        let until = self.now + rounds * self.interval_us();
        self.run_until(until);
    }

    fn dispatch(&mut self, action: Action) {
        match action {
            Action::Timer { slot, incarnation } => {
                let s = &mut self.slots[slot];
                if s.incarnation != incarnation || s.timer_at != Some(self.now) {
                    return; // stale: the node was replaced or rescheduled
                }
                s.timer_at = None;
                if s.paused_until.is_some() {
                    return; // handled on resume
                }
                let now = Instant::from_micros(self.now);
                s.last_timeout_at = Some(self.now);
                if let Some(node) = s.node.as_mut() {
                    node.handle_timeout(now);
                }
                self.after_input(slot);
            }
            Action::Deliver { from, to, kind, payload } => self.deliver(from, to, kind, payload),
            Action::Resume { slot, incarnation } => {
                if self.slots[slot].incarnation != incarnation {
                    return;
                }
                self.slots[slot].paused_until = None;
                let backlog = std::mem::take(&mut self.slots[slot].backlog);
                for (from, kind, payload) in backlog {
                    self.input(from, slot, kind, &payload);
                }
                let now = Instant::from_micros(self.now);
                if let Some(node) = self.slots[slot].node.as_mut() {
                    node.handle_timeout(now);
                }
                self.slots[slot].last_timeout_at = Some(self.now);
                self.slots[slot].timer_at = None;
                self.after_input(slot);
            }
            Action::Stop { slot, incarnation } => {
                if self.slots[slot].incarnation == incarnation {
                    self.slots[slot].node = None;
                    self.slots[slot].backlog.clear();
                }
            }
        }
    }

    fn deliver(&mut self, from: usize, to: usize, kind: TransmitKind, payload: Vec<u8>) {
        if self.net.partitioned(self.now, from, to) {
            self.stats.partitioned += 1;
            return;
        }
        let s = &mut self.slots[to];
        if s.node.is_none() {
            self.stats.to_down += 1;
            return;
        }
        if s.paused_until.is_some() {
            s.backlog.push((from, kind, payload));
            return;
        }
        self.input(from, to, kind, &payload);
        self.handling_from = Some(from);
        self.after_input(to);
        self.handling_from = None;
    }

    fn input(&mut self, from: usize, to: usize, kind: TransmitKind, payload: &[u8]) {
        let now = Instant::from_micros(self.now);
        let from_addr = self.slots[from].addr;
        let Some(node) = self.slots[to].node.as_mut() else {
            self.stats.to_down += 1;
            return;
        };
        self.stats.delivered += 1;
        let result = match kind {
            TransmitKind::Datagram => node.handle_datagram(now, from_addr, payload),
            TransmitKind::Stream => {
                // A stream is a connection the sender dialled from its own address: the
                // handshake proves that address receives (what the driver checks by IP).
                node.verify_address(now, from_addr);
                node.handle_stream(now, from_addr, payload)
            }
        };
        if result.is_err() {
            self.stats.rejected += 1;
        }
        if self.trace_slot == Some(to) {
            let line = crate::trace::trace_line(
                self.now,
                &self.slots[from].name,
                kind,
                payload,
                self.codec,
                self.stream_codec,
            );
            self.trace_log.push(line);
        }
        let Some(node) = self.slots[to].node.as_ref() else { return };
        if let Some(w) = self.watch.as_mut()
            && w.first_at[to].is_none()
            && node.get(&w.owner, &w.key).is_some_and(|v| v.version >= w.version)
        {
            w.first_at[to] = Some(self.now);
            w.informed += 1;
        }
    }

    /// Drains a node's outputs and schedules its next timeout. Call after every input.
    fn after_input(&mut self, slot: usize) {
        let Some(node) = self.slots[slot].node.as_mut() else { return };
        let mut transmits = Vec::new();
        while let Some(t) = node.poll_transmit() {
            transmits.push(t);
        }
        while let Some(event) = node.poll_event() {
            match event {
                Event::MemberSuspect { id, .. } => {
                    self.liveness.push(LivenessEvent { at: self.now, observer: slot, subject: id.name, dead: false })
                }
                Event::MemberDead(id) => {
                    self.liveness.push(LivenessEvent { at: self.now, observer: slot, subject: id.name, dead: true })
                }
                Event::KeyChanged { owner, key, version, .. } => {
                    if let Some(d) = self.deliveries.as_mut() {
                        d.delivered(slot, &owner.name, &key, version, self.handling_from, self.now);
                    }
                }
                Event::User { origin, name, ltime, .. } => {
                    self.user_events.push(UserDelivery { at: self.now, slot, origin, name, ltime })
                }
                _ => {}
            }
        }
        let next = node.poll_timeout().map(Instant::as_micros);
        for t in transmits {
            self.stats.sent += 1;
            self.stats.sent_bytes += t.payload.len() as u64;
            let carried = self.count_carrier(t.kind, &t.payload);
            let to = self.by_addr.get(&t.to).copied();
            if let Some(recorder) = self.recorder.as_mut() {
                recorder.message(self.now, slot, to, carried);
            }
            let Some(to) = to else { continue };
            let reliable = t.kind == TransmitKind::Stream;
            let fate = self.net.fate(self.now, slot, to, reliable, &mut self.net_rng);
            if fate.delays.is_empty() {
                if self.net.partitioned(self.now, slot, to) {
                    self.stats.partitioned += 1;
                } else {
                    self.stats.lost += 1;
                }
                continue;
            }
            self.stats.duplicated += fate.delays.len() as u64 - 1;
            let last = fate.delays.len() - 1;
            let mut payload = Some(t.payload);
            for (k, delay) in fate.delays.iter().enumerate() {
                let bytes =
                    if k == last { payload.take().unwrap_or_default() } else { payload.clone().unwrap_or_default() };
                self.push(self.now + delay, Action::Deliver { from: slot, to, kind: t.kind, payload: bytes });
            }
        }
        let s = &mut self.slots[slot];
        if let Some(next) = next {
            let mut next = next.max(self.now);
            if next == self.now && s.last_timeout_at == Some(self.now) {
                // The node asks again for the instant it was just woken at: waking it at once
                // would spin forever. Wait a little, as a real driver's timer resolution would.
                next = self.now + TIMER_SPIN_DELAY_US;
                self.stats.timer_spins += 1;
            }
            if s.timer_at != Some(next) {
                s.timer_at = Some(next);
                let incarnation = s.incarnation;
                self.push(next, Action::Timer { slot, incarnation });
            }
        }
    }

    /// Counts a transmit if it carries the watched value: the payload must contain the key's
    /// bytes (a cheap filter) and, decoded, hold an entry of the watched owner, key and version
    /// with a value.
    fn count_carrier(&mut self, kind: TransmitKind, payload: &[u8]) -> bool {
        let Some(w) = self.watch.as_mut() else { return false };
        if !contains(payload, &w.needle) {
            return false;
        }
        let codec = if kind == TransmitKind::Stream { self.stream_codec } else { self.codec };
        let Ok(message) = codec.decode(payload) else { return false };
        let blocks = match &message {
            Message::Syn(m) => &m.blocks,
            Message::SynAck(m) => &m.blocks,
            Message::Ack(m) => &m.blocks,
            Message::Push(m) => &m.blocks,
            Message::Tree(Tree::Gossip(blocks)) => blocks,
            _ => return false,
        };
        let carries = blocks.iter().any(|b| {
            *b.owner.name == *w.owner
                && b.entries.iter().any(|e| e.key == w.key && e.version == w.version && e.value.is_some())
        });
        if carries {
            w.carriers += 1;
        }
        carries
    }

    /// Starts recording every transmit into `recorder` (per-round counts and sampled edges).
    pub fn record_messages(&mut self, recorder: Recorder) {
        self.recorder = Some(recorder);
    }

    /// Starts tracking every write of a key starting with `prefix`: when, and over how many
    /// hops, it first reached each node (see [`Deliveries`]).
    pub fn track_deliveries(&mut self, prefix: &str) {
        self.deliveries = Some(Deliveries::new(prefix));
    }

    /// What [`Sim::track_deliveries`] recorded so far.
    pub fn deliveries(&self) -> Option<&Deliveries> {
        self.deliveries.as_ref()
    }

    /// Stops recording and returns what was recorded.
    pub fn take_recording(&mut self) -> Option<Recorder> {
        self.recorder.take()
    }

    /// Starts measuring the spread of `slot`'s current value of `key` (written just before).
    pub fn watch_key(&mut self, slot: usize, key: &str) -> Result<(), SimError> {
        let node = self.node(slot).ok_or(SimError::NotRunning(slot))?;
        let version = node.get(&self.slots[slot].name, key).map_or(0, |v| v.version);
        let mut first_at: Vec<Option<u64>> = self
            .slots
            .iter()
            .map(|s| s.node.as_ref().and_then(|n| n.get(&self.slots[slot].name, key)).map(|_| self.now))
            .collect();
        first_at.resize(self.slots.len(), None);
        let informed = first_at.iter().filter(|t| t.is_some()).count();
        self.watch = Some(Watch {
            owner: self.slots[slot].name.clone(),
            key: key.to_string(),
            version,
            first_at,
            informed,
            carriers: 0,
            needle: key.as_bytes().to_vec(),
        });
        Ok(())
    }

    /// `slot` sets `key` to `value`; the write is recorded in the model.
    pub fn set(&mut self, slot: usize, key: &str, value: &[u8]) -> Result<u64, SimError> {
        let now = Instant::from_micros(self.now);
        let s = self.slots.get_mut(slot).ok_or(SimError::NotRunning(slot))?;
        let node = s.node.as_mut().ok_or(SimError::NotRunning(slot))?;
        let version = node.set(now, key, value).map_err(|source| SimError::Write { slot, source })?;
        let (name, generation) = (s.name.clone(), s.generation);
        self.model.record(&name, generation, version, key, Some(value));
        self.after_input(slot);
        Ok(version)
    }

    /// `slot` deletes `key`; the delete is recorded in the model. `None`: there was no such key.
    pub fn delete(&mut self, slot: usize, key: &str) -> Result<Option<u64>, SimError> {
        let now = Instant::from_micros(self.now);
        let s = self.slots.get_mut(slot).ok_or(SimError::NotRunning(slot))?;
        let node = s.node.as_mut().ok_or(SimError::NotRunning(slot))?;
        let version = node.delete(now, key).map_err(|source| SimError::Write { slot, source })?;
        let (name, generation) = (s.name.clone(), s.generation);
        if let Some(version) = version {
            self.model.record(&name, generation, version, key, None);
        }
        self.after_input(slot);
        Ok(version)
    }

    /// Crashes `slot`: its node and everything it held are gone; packets to it are dropped.
    pub fn crash(&mut self, slot: usize) {
        if let Some(s) = self.slots.get_mut(slot) {
            s.node = None;
            s.backlog.clear();
            s.paused_until = None;
            s.incarnation += 1;
        }
    }

    /// Restarts `slot` as a new node with the next generation, same name and address, joining
    /// through up to three live seeds. Its old keys are gone (nothing is persisted).
    pub fn restart(&mut self, slot: usize) -> Result<(), SimError> {
        if slot >= self.slots.len() {
            return Err(SimError::NotRunning(slot));
        }
        self.crash(slot);
        let seeds = self.live_seeds(slot);
        let s = &self.slots[slot];
        let generation = s.generation + 1;
        let node = self.make_node(slot, s.name.clone(), s.addr, generation, seeds)?;
        let s = &mut self.slots[slot];
        s.node = Some(node);
        s.generation = generation;
        s.left = false;
        s.timer_at = None;
        s.last_timeout_at = None;
        self.after_input(slot);
        Ok(())
    }

    /// Adds a new node that joins through up to three live seeds; returns its slot.
    pub fn join(&mut self) -> Result<usize, SimError> {
        let seeds = self.live_seeds(usize::MAX);
        let slot = self.add_slot(seeds)?;
        self.after_input(slot);
        Ok(slot)
    }

    fn live_seeds(&self, except: usize) -> Vec<SocketAddr> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(i, s)| *i != except && s.is_live())
            .take(3)
            .map(|(_, s)| s.addr)
            .collect()
    }

    /// `slot` leaves gracefully: `Node::leave`, then the node keeps running `linger_rounds`
    /// rounds so the `left` mark spreads, then stops.
    pub fn leave(&mut self, slot: usize, linger_rounds: u64) -> Result<(), SimError> {
        let now = Instant::from_micros(self.now);
        let s = self.slots.get_mut(slot).ok_or(SimError::NotRunning(slot))?;
        let node = s.node.as_mut().ok_or(SimError::NotRunning(slot))?;
        node.leave(now);
        s.left = true;
        let incarnation = s.incarnation;
        self.after_input(slot);
        let at = self.now + linger_rounds * self.interval_us();
        self.push(at, Action::Stop { slot, incarnation });
        Ok(())
    }

    /// Pauses `slot` for `duration`: it processes nothing, packets queue, then it resumes with
    /// the backlog (a long GC pause or a stopped VM).
    pub fn pause(&mut self, slot: usize, duration: Duration) -> Result<(), SimError> {
        let s = self.slots.get_mut(slot).ok_or(SimError::NotRunning(slot))?;
        if s.node.is_none() {
            return Err(SimError::NotRunning(slot));
        }
        let until = self.now + duration.as_micros() as u64;
        s.paused_until = Some(until);
        let incarnation = s.incarnation;
        self.push(until, Action::Resume { slot, incarnation });
        Ok(())
    }

    /// Lowers or raises the MTU of every node, and of nodes started later (a path MTU change;
    /// see `Node::set_mtu`). Packets already in flight keep their size.
    pub fn set_mtu(&mut self, mtu: usize) -> Result<(), SimError> {
        let mut config = self.config.config.clone();
        config.mtu = mtu;
        config.validate()?;
        self.config.config = config;
        self.codec.max_len = mtu;
        for slot in &mut self.slots {
            if let Some(node) = slot.node.as_mut() {
                node.set_mtu(mtu)?;
            }
        }
        Ok(())
    }

    /// Whether any node still holds a hot rumor.
    pub fn any_hot_rumors(&self) -> bool {
        self.slots.iter().any(|s| s.node.as_ref().is_some_and(Node::has_hot_rumors))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_seeds_are_unique() {
        assert_ne!(slot_addr(0), slot_addr(256));
        assert_ne!(slot_addr(255), slot_addr(65_535));
        assert_ne!(mix(1), mix(2));
        assert!(contains(b"abcdef", b"cde") && !contains(b"abc", b"abcd"));
    }
}
