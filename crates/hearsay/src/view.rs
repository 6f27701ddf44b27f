//! The published [`View`]: what one node knows (members, keys, counters, probe round trips),
//! copied out by the node task at most every [`PUBLISH_INTERVAL`] and read by anyone without
//! a round trip to the task.
//!
//! Why: reads that scan the whole state (listing every key, a dashboard refresh) used to clone
//! it on the node task, so enough readers delayed probes and gossip. Now readers load an
//! `Arc` (lock-free, `arc-swap`) and the task's cost is bounded by how often state *changes*,
//! not by how often it is read: members and counters are copied at each publication, and an
//! owner's keys only when one of them changed since the last one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hearsay_core::wire::{HEADER_LEN, MessageType};
use hearsay_core::{Event, MemberInfo, Node, VersionedValue};

use crate::cluster::DriverStats;

/// Shortest time between two publications: reads may be this stale.
pub const PUBLISH_INTERVAL: Duration = Duration::from_millis(200);
/// How often a view nobody reads is republished (many nodes in one process would otherwise
/// spend their time copying member lists for nobody).
pub const IDLE_PUBLISH_INTERVAL: Duration = Duration::from_secs(5);

/// Shortest time between two publications after a local write, so that a write made through
/// a handle shows in lists almost at once (read your writes) while a stream of writes still
/// costs at most one copy of the owner's keys per this interval.
const AFTER_WRITE: Duration = Duration::from_millis(20);

/// Upper bounds (milliseconds) of the probe round-trip histogram buckets; the last bucket
/// (`+Inf`) is implicit.
pub const PROBE_RTT_BUCKETS_MS: [f64; 12] = [0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0];

/// Pings waiting for an answer at most; more are forgotten (oldest first).
const MAX_PENDING_PINGS: usize = 4096;
/// A ping unanswered this long is no longer matched with an answer.
const PING_EXPIRY: Duration = Duration::from_secs(10);

/// Everything one node knows, as of [`View::published_at`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct View {
    /// Members in name order, the local node included.
    pub members: Vec<MemberInfo>,
    /// Live keys of each member by name (no tombstones, no reserved keys). A map is shared
    /// with the previous view when none of that owner's keys changed.
    pub keys: BTreeMap<Arc<str>, Arc<BTreeMap<Arc<str>, VersionedValue>>>,
    /// Protocol and driver counters.
    pub stats: DriverStats,
    /// Round-trip histogram of this node's direct probes.
    pub probe_rtt: RttHistogram,
    /// The last probe round trip to each member that answered one, by gossip address.
    pub last_rtt: HashMap<SocketAddr, Duration>,
    /// When the node task built this view.
    pub published_at: std::time::Instant,
    /// Publications so far (0 is the empty view before the first).
    pub sequence: u64,
}

impl View {
    pub(crate) fn empty() -> View {
        View {
            members: Vec::new(),
            keys: BTreeMap::new(),
            stats: DriverStats::default(),
            probe_rtt: RttHistogram::default(),
            last_rtt: HashMap::new(),
            published_at: std::time::Instant::now(),
            sequence: 0,
        }
    }
}

/// A cumulative histogram of probe round trips (Prometheus-style buckets).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RttHistogram {
    /// Samples at or below each bound of [`PROBE_RTT_BUCKETS_MS`] (not cumulative).
    pub buckets: [u64; PROBE_RTT_BUCKETS_MS.len()],
    /// Samples above the last bound.
    pub over: u64,
    /// Sum of all samples, seconds.
    pub sum_secs: f64,
    /// Number of samples.
    pub count: u64,
}

impl RttHistogram {
    fn record(&mut self, rtt: Duration) {
        let ms = rtt.as_secs_f64() * 1000.0;
        match PROBE_RTT_BUCKETS_MS.iter().position(|bound| ms <= *bound) {
            Some(i) => self.buckets[i] += 1,
            None => self.over += 1,
        }
        self.sum_secs += rtt.as_secs_f64();
        self.count += 1;
    }
}

/// Matches direct probes with their answers at the socket, from the cleartext packet header
/// (the message type is readable even in sealed packets): a `ping` datagram sent to an
/// address, then the next `ping_ack` datagram from that address. The figure therefore
/// includes the time either node's task took to get to the packet, which is what a probe
/// feels. A relayed answer comes from the relay, so indirect probes are not counted.
#[derive(Debug, Default)]
pub(crate) struct ProbeClock {
    pending: HashMap<SocketAddr, std::time::Instant>,
    histogram: RttHistogram,
    last: HashMap<SocketAddr, (Duration, std::time::Instant)>,
}

fn message_type(packet: &[u8]) -> Option<u8> {
    if packet.len() < HEADER_LEN || packet[..2] != hearsay_core::wire::MAGIC {
        return None;
    }
    Some(packet[3])
}

impl ProbeClock {
    /// A datagram is about to be sent to `to`.
    pub(crate) fn sent(&mut self, to: SocketAddr, packet: &[u8], now: std::time::Instant) {
        if message_type(packet) != Some(MessageType::Ping as u8) {
            return;
        }
        if self.pending.len() >= MAX_PENDING_PINGS {
            self.pending.retain(|_, sent| now.duration_since(*sent) < PING_EXPIRY);
            if self.pending.len() >= MAX_PENDING_PINGS {
                return;
            }
        }
        // An earlier unanswered ping keeps its time: the answer may be to it.
        self.pending.entry(to).or_insert(now);
    }

    /// A datagram arrived from `from`.
    pub(crate) fn received(&mut self, from: SocketAddr, packet: &[u8], now: std::time::Instant) {
        if message_type(packet) != Some(MessageType::PingAck as u8) {
            return;
        }
        let Some(sent) = self.pending.remove(&from) else { return };
        let rtt = now.duration_since(sent);
        if rtt < PING_EXPIRY {
            self.histogram.record(rtt);
            self.last.insert(from, (rtt, now));
        }
    }
}

/// Builds and publishes views for the node task.
pub(crate) struct Publisher {
    shared: Arc<ArcSwap<View>>,
    /// Set by readers of the view since the last publication.
    read: Arc<std::sync::atomic::AtomicBool>,
    /// Owners whose keys changed since the last publication (a member that joined again or
    /// was removed counts: its keys may have gone without a key event).
    dirty: BTreeSet<Arc<str>>,
    next_at: tokio::time::Instant,
    last_at: tokio::time::Instant,
    pub(crate) probes: ProbeClock,
}

impl Publisher {
    pub(crate) fn new(shared: Arc<ArcSwap<View>>, read: Arc<std::sync::atomic::AtomicBool>) -> Self {
        Publisher {
            shared,
            read,
            dirty: BTreeSet::new(),
            next_at: tokio::time::Instant::now(),
            last_at: tokio::time::Instant::now(),
            probes: ProbeClock::default(),
        }
    }

    /// When the next publication is due.
    pub(crate) fn next_at(&self) -> tokio::time::Instant {
        if self.read.load(std::sync::atomic::Ordering::Relaxed) {
            self.next_at
        } else {
            self.next_at.max(self.last_at + IDLE_PUBLISH_INTERVAL)
        }
    }

    /// Notes what an event changed.
    pub(crate) fn saw(&mut self, event: &Event) {
        match event {
            Event::KeyChanged { owner: id, .. } | Event::MemberJoined(id) | Event::MemberRemoved(id) => {
                self.dirty.insert(id.name.clone());
            }
            _ => {}
        }
    }

    /// A local write was made: publish soon.
    pub(crate) fn wrote(&mut self) {
        self.next_at = self.next_at.min(self.last_at + AFTER_WRITE);
        // A local write shows in the view soon whether or not it was read lately: a writer
        // reads its own writes.
        self.read.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether a publication is due.
    pub(crate) fn due(&self) -> bool {
        let now = tokio::time::Instant::now();
        now >= self.next_at
            && (self.read.load(std::sync::atomic::Ordering::Relaxed) || now >= self.last_at + IDLE_PUBLISH_INTERVAL)
    }

    /// Publishes a new view of `node`.
    pub(crate) fn publish(&mut self, node: &Node, stats: DriverStats) {
        self.last_at = tokio::time::Instant::now();
        self.next_at = self.last_at + PUBLISH_INTERVAL;
        self.read.store(false, std::sync::atomic::Ordering::Relaxed);
        let previous = self.shared.load();
        let members = node.members();
        let mut keys = BTreeMap::new();
        for member in &members {
            let name = &member.id.name;
            let old = if self.dirty.contains(name) { None } else { previous.keys.get(name) };
            let map = match old {
                Some(map) => map.clone(),
                None => Arc::new(
                    node.keys(name)
                        .map(|it| it.map(|(k, v)| (Arc::<str>::from(k), v.clone())).collect())
                        .unwrap_or_default(),
                ),
            };
            keys.insert(name.clone(), map);
        }
        self.dirty.clear();
        let wall = std::time::Instant::now();
        self.probes.last.retain(|_, (_, at)| wall.duration_since(*at) < Duration::from_secs(60));
        let addrs: BTreeSet<SocketAddr> = members.iter().map(|m| m.id.addr).collect();
        let last_rtt =
            self.probes.last.iter().filter(|(a, _)| addrs.contains(a)).map(|(a, (rtt, _))| (*a, *rtt)).collect();
        let view = View {
            members,
            keys,
            stats,
            probe_rtt: self.probes.histogram.clone(),
            last_rtt,
            published_at: wall,
            sequence: previous.sequence + 1,
        };
        self.shared.store(Arc::new(view));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(t: MessageType) -> Vec<u8> {
        let mut out = Vec::new();
        hearsay_core::wire::Header { version: 1, message_type: t, flags: 0, cluster_id: 7 }.write(&mut out);
        out.extend_from_slice(&[0; 8]);
        out
    }

    #[test]
    fn a_ping_answered_by_its_target_is_one_round_trip_sample() {
        let mut clock = ProbeClock::default();
        let (a, b): (SocketAddr, SocketAddr) = ("127.0.0.1:1".parse().unwrap(), "127.0.0.1:2".parse().unwrap());
        let t0 = std::time::Instant::now();
        clock.sent(a, &packet(MessageType::Ping), t0);
        clock.sent(a, &packet(MessageType::Syn), t0);
        // An answer from someone else, and a non-answer from the target, do not count.
        clock.received(b, &packet(MessageType::PingAck), t0 + Duration::from_millis(1));
        clock.received(a, &packet(MessageType::Push), t0 + Duration::from_millis(1));
        assert_eq!(clock.histogram.count, 0);
        clock.received(a, &packet(MessageType::PingAck), t0 + Duration::from_millis(3));
        assert_eq!(clock.histogram.count, 1);
        // 3 ms falls in the (2.5, 5] bucket.
        assert_eq!(clock.histogram.buckets[4], 1);
        assert_eq!(clock.last.get(&a).map(|(rtt, _)| *rtt), Some(Duration::from_millis(3)));
        // A second answer without a new ping is not a sample.
        clock.received(a, &packet(MessageType::PingAck), t0 + Duration::from_millis(4));
        assert_eq!(clock.histogram.count, 1);
    }

    #[test]
    fn garbage_is_not_a_ping() {
        let mut clock = ProbeClock::default();
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let now = std::time::Instant::now();
        clock.sent(a, b"HS", now);
        clock.sent(a, &[0xff; 20], now);
        assert!(clock.pending.is_empty());
    }
}
