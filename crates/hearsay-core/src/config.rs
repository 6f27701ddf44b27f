//! Configuration: exchange mode, strategy, timing, sizes and the failure detector.
//!
//! Start from a preset ([`Config::lan`], [`Config::wan`], [`Config::local`]) and change what
//! you need; [`Config::validate`] (also run by [`crate::Node::new`]) rejects settings that
//! cannot work with a [`ConfigError`] naming the field.

use std::time::Duration;
use thiserror::Error;

use crate::wire::HEADER_LEN;

/// How two nodes exchange state (the three modes of the reference text).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExchangeMode {
    /// A sends B entries with values; B keeps what is newer.
    Push,
    /// A sends B a digest without values; B answers with every entry newer than the digest.
    Pull,
    /// Pull, then A answers B's digest with what B lacks (three messages).
    PushPull,
}

impl ExchangeMode {
    /// The name used in configuration files, CLI flags and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeMode::Push => "push",
            ExchangeMode::Pull => "pull",
            ExchangeMode::PushPull => "push-pull",
        }
    }
}

/// What is exchanged each round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Every round, reconcile all differences with the chosen peers.
    AntiEntropy,
    /// Only fresh updates ("hot rumors") travel, until they go cold.
    Rumor,
    /// Rumors every round, and an anti-entropy round every `anti_entropy_every` rounds.
    Hybrid,
    /// Epidemic broadcast trees (Plumtree): payloads pushed on arrival down a tree that the
    /// gossip builds and repairs, lazy announcements elsewhere, and an anti-entropy round
    /// every `anti_entropy_every` rounds as the backstop (see [`PlumtreeConfig`]).
    Plumtree,
}

impl Strategy {
    /// The name used in configuration files, CLI flags and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::AntiEntropy => "anti-entropy",
            Strategy::Rumor => "rumor",
            Strategy::Hybrid => "hybrid",
            Strategy::Plumtree => "plumtree",
        }
    }
}

/// Epidemic broadcast tree parameters (Leitão et al. 2007; see the `plumtree` module).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlumtreeConfig {
    /// Peers a node first pushes payloads to (the tree's starting degree; duplicates prune it).
    pub eager_peers: usize,
    /// Peers that get lazy announcements; with the eager ones, the node's view of the overlay.
    pub lazy_peers: usize,
    /// How long a node waits for a payload it saw announced before grafting the announcer;
    /// the next announcer is tried after half of it.
    pub graft_timeout: Duration,
    /// Announcements are batched this long (zero: sent with the input that made them).
    pub ihave_delay: Duration,
}

/// Whether a rumor's sender learns that the receiver already knew it (Demers et al.).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RumorFeedback {
    /// The receiver says which rumors it already knew; only those count toward going cold.
    Feedback,
    /// No reply: every transmission counts toward going cold.
    Blind,
}

/// How a rumor goes cold (Demers et al.).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RumorStop {
    /// Cold after `k` counted transmissions.
    Counter,
    /// Cold with probability `1/k` at each counted transmission.
    Coin,
}

/// How a node picks the peers of a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeerChoice {
    /// A shuffled round-robin over live members: each is picked once per cycle before any is
    /// picked again, so load is even and no member waits long to be contacted.
    RoundRobin,
    /// Each round, peers drawn uniformly at random among live members, with no memory of
    /// earlier rounds: the model of Demers et al. and of the textbook formulas.
    Uniform,
}

/// Rumor mongering parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RumorConfig {
    /// The `k` of the stop rule.
    pub k: u32,
    /// Feedback or blind.
    pub feedback: RumorFeedback,
    /// Counter or coin.
    pub stop: RumorStop,
    /// With feedback and the counter rule, count unnecessary transmissions in a row only: one
    /// the recipient did not know resets the count, so a rumor goes cold after `k` unnecessary
    /// transmissions since its last useful one. This is Demers et al.'s counter (their bound
    /// on its traffic, `k(2m - 1)`, rests on it). Off, every unnecessary transmission counts,
    /// and rumors cool sooner.
    pub consecutive: bool,
}

/// Phi accrual failure detector parameters (Hayashibara et al.).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DetectorConfig {
    /// Phi at which a direct probe times out (mean round trip plus `y(threshold)` deviations)
    /// and which a doubted member's phi crosses; suspicion itself comes from failed probes.
    pub phi_threshold: f64,
    /// Number of recent intervals that dominate the mean and deviation (exponentially weighted).
    pub window: u32,
    /// Floor on the standard deviation, so a perfectly regular peer is not convicted by jitter.
    pub min_std_deviation: Duration,
    /// Intervals longer than this are recorded as this (a long silence must not teach the
    /// detector to wait even longer next time).
    pub max_interval: Duration,
    /// Extra silence tolerated before phi starts growing (GC pauses, scheduling hiccups).
    pub acceptable_pause: Duration,
    /// Fixed suspicion timeout for members that do not answer probes... kept as an upper
    /// bound: the Lifeguard timeout below never exceeds it.
    pub suspicion_timeout: Duration,
}

/// SWIM probing and Lifeguard parameters: where liveness comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProbeConfig {
    /// One member is probed per interval, in shuffled round-robin order.
    pub interval: Duration,
    /// Shortest direct-probe timeout (the adaptive timeout learns each member's round trips).
    pub min_timeout: Duration,
    /// Members asked to probe indirectly when a direct probe gets no answer (`k`).
    pub indirect_checks: usize,
    /// Suspicion timeout floor = `max(suspicion_min, suspicion_mult * max(1, log10 N) *
    /// interval)`.
    pub suspicion_mult: u32,
    /// Lower bound of the suspicion timeout floor, whatever the cluster size: with probes
    /// and their retry, it sets the longest pause a member survives (see
    /// docs/failure-detection.md). Zero: the `suspicion_mult` formula alone.
    pub suspicion_min: Duration,
    /// One probe in this many goes to this node's successor on the ring of live members
    /// ordered by name, the others follow the shuffled round-robin; 0: never. At 1 every
    /// member is probed by its predecessor every interval, which bounds the wait before a
    /// crashed member is first probed to one interval (with the round-robin alone the wait
    /// is about `e^-k` likely to exceed `k` intervals).
    pub successor_every: u32,
    /// Suspicion timeout ceiling = `suspicion_max_mult *` floor; independent confirmations
    /// shrink the timeout from the ceiling toward the floor (Lifeguard).
    pub suspicion_max_mult: u32,
    /// Membership updates are retransmitted `retransmit_mult * ceil(log10(N + 1))` times.
    pub retransmit_mult: u32,
    /// Local health scores from 0 (healthy) to this; timeouts and intervals stretch by
    /// `score + 1`, and a node at half the maximum or more stops raising suspicions.
    pub max_health_score: u32,
}

/// Flow control (van Renesse et al. 2008, section 4; see the `flow` module): each node's share
/// of the update capacity the cluster's gossip carries, enforced on local writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowConfig {
    /// Refuse local writes beyond this node's share with [`crate::WriteError::RateLimited`]
    /// and carry capacity and demand in gossip. Off, the node only computes its advice
    /// ([`crate::Node::write_rate`]) from its own overflows and refuses nothing.
    pub enabled: bool,
    /// A node may write this many rounds of its share at once (the token bucket's depth).
    pub burst_rounds: u32,
    /// ... and never fewer bytes than this at once, however small its share.
    pub min_burst_bytes: usize,
}

/// Sizes that bound memory and packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest key in bytes.
    pub max_key_bytes: usize,
    /// Largest value in bytes.
    pub max_value_bytes: usize,
    /// Most live keys a node may own; a replica of another owner holds no more either.
    pub max_keys_per_node: usize,
    /// Most bytes of live keys and values a node may own; a replica of another owner holds
    /// no more either.
    pub max_bytes_per_node: usize,
    /// Most bytes all replicas together may take (keys, values, tombstones, their bookkeeping
    /// and pending garbage collection): what bounds a node's memory whatever peers send.
    /// Local writes are bounded by the per-node limits only, so peers cannot block them.
    pub max_replica_bytes: usize,
    /// Most members a node keeps track of.
    pub max_members: usize,
    /// Largest stream frame accepted or sent.
    pub max_stream_bytes: usize,
    /// Most events buffered for `poll_event` before the oldest are dropped (and counted).
    pub max_pending_events: usize,
    /// Most transmits buffered for `poll_transmit` before new ones are dropped (and counted).
    pub max_pending_transmits: usize,
    /// Largest user event payload (see [`crate::Node::send_event`]); larger than a datagram,
    /// an event travels by stream.
    pub max_event_bytes: usize,
}

/// Everything a node needs to know to run the protocol.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Identifies the cluster in every packet header; packets of other clusters are rejected.
    pub cluster_id: u32,
    /// Length of one gossip round.
    pub gossip_interval: Duration,
    /// Peers contacted per round.
    pub fanout: usize,
    /// How those peers are picked.
    pub peer_choice: PeerChoice,
    /// Nodes started at the same instant run their rounds at the same instants: the
    /// synchronous cycles of the textbook model, where what a node learns in one cycle it
    /// passes on in the next, and where the messages of one cycle are simultaneous: a rumor
    /// pushed to a node that learned it earlier in the same cycle is news to it (feedback
    /// judges it against what the node knew when the cycle began). Off (the default), each
    /// node's first round falls at a random point of the first interval, so a cluster started
    /// at once does not gossip in bursts.
    pub lockstep_rounds: bool,
    /// Push, pull or push-pull.
    pub exchange: ExchangeMode,
    /// Anti-entropy, rumor mongering or hybrid.
    pub strategy: Strategy,
    /// In hybrid mode, run an anti-entropy round every this many rounds.
    pub anti_entropy_every: u32,
    /// Rumor mongering variant and `k`.
    pub rumor: RumorConfig,
    /// Forward fresh rumors as soon as they arrive (or are written) instead of at the next
    /// round, at most once per half interval; likewise push fresh membership updates
    /// (suspicions, refutations, deaths) to three live members at once instead of waiting for
    /// the next probe. Spread time then tracks network latency rather than the round length;
    /// the number of transmissions is unchanged. Off, rounds behave as in the textbook model.
    pub eager_rumors: bool,
    /// Compare whole-state checksums carried by probes and start a repair exchange when they
    /// differ after rumors go quiet (see the `repair` module). Off, only the configured
    /// exchanges run, as in the textbook model.
    pub checksum_repair: bool,
    /// A pull for rumors lists the owners the requester already holds, so the responder sends
    /// only the rumors it lacks and counts the others as feedback without sending them. Off,
    /// as in Demers et al., the responder sends every hot rumor, each counted (blind) or
    /// answered by the requester with the ones it already knew (feedback, a `PushAck`).
    pub informed_pull: bool,
    /// Largest datagram, header included.
    pub mtu: usize,
    /// A peer missing more than this many bytes of state is served over a stream.
    pub stream_threshold_bytes: usize,
    /// Probability per round of also gossiping with one dead member (so partitions heal).
    pub dead_peer_probability: f64,
    /// Probability per round of also gossiping with one seed (so partitions heal).
    pub seed_probability: f64,
    /// How long tombstones are kept before garbage collection.
    pub tombstone_grace: Duration,
    /// How long dead and left members are kept before they are forgotten.
    pub dead_member_grace: Duration,
    /// Failure detector (phi, exported per member).
    pub detector: DetectorConfig,
    /// Probing, suspicion and local health.
    pub probe: ProbeConfig,
    /// Peers per anti-entropy round in hybrid and plumtree mode (the fast path is rumors or
    /// the tree; this is repair).
    pub anti_entropy_fanout: usize,
    /// Epidemic broadcast tree (used with [`Strategy::Plumtree`]).
    pub plumtree: PlumtreeConfig,
    /// Size limits.
    pub limits: Limits,
    /// Flow control.
    pub flow: FlowConfig,
}

impl Config {
    /// Data-centre defaults: 200 ms rounds, fanout 3, hybrid push-pull with an anti-entropy
    /// round a minute; one probe a second, each member probed by its predecessor on the ring,
    /// a suspicion floor of 2 s. A 3 s pause makes no member dead and a crash is declared by
    /// every member within about 5 s at N <= 100 (docs/failure-detection.md).
    pub fn lan() -> Self {
        Config {
            cluster_id: 0,
            gossip_interval: Duration::from_millis(200),
            fanout: 3,
            peer_choice: PeerChoice::RoundRobin,
            lockstep_rounds: false,
            exchange: ExchangeMode::PushPull,
            strategy: Strategy::Hybrid,
            anti_entropy_every: 300,
            anti_entropy_fanout: 1,
            plumtree: PlumtreeConfig {
                eager_peers: 3,
                lazy_peers: 3,
                graft_timeout: Duration::from_millis(100),
                // Longer than the eager wave takes to cross a LAN cluster (under 10 ms at
                // N = 200 on loopback): announcements sent sooner compete with the payloads
                // they announce (p99 doubled at N = 200 with 5 ms, docs/bench.md).
                ihave_delay: Duration::from_millis(30),
            },
            rumor: RumorConfig {
                k: 3,
                feedback: RumorFeedback::Feedback,
                stop: RumorStop::Counter,
                consecutive: false,
            },
            eager_rumors: true,
            checksum_repair: true,
            informed_pull: true,
            mtu: 1400,
            stream_threshold_bytes: 16 * 1024,
            dead_peer_probability: 0.1,
            seed_probability: 0.002,
            tombstone_grace: Duration::from_secs(3600),
            dead_member_grace: Duration::from_secs(3600),
            detector: DetectorConfig {
                phi_threshold: 8.0,
                window: 100,
                min_std_deviation: Duration::from_millis(100),
                max_interval: Duration::from_secs(2),
                acceptable_pause: Duration::from_millis(500),
                suspicion_timeout: Duration::from_secs(30),
            },
            probe: ProbeConfig {
                interval: Duration::from_secs(1),
                min_timeout: Duration::from_millis(40),
                indirect_checks: 3,
                suspicion_mult: 1,
                suspicion_min: Duration::from_secs(2),
                successor_every: 1,
                suspicion_max_mult: 6,
                retransmit_mult: 4,
                max_health_score: 8,
            },
            limits: Limits {
                max_key_bytes: 256,
                max_value_bytes: 64 * 1024,
                max_keys_per_node: 4096,
                max_bytes_per_node: 16 * 1024 * 1024,
                max_replica_bytes: 256 * 1024 * 1024,
                max_members: 65_536,
                max_stream_bytes: 8 * 1024 * 1024,
                max_pending_events: 16_384,
                max_pending_transmits: 4_096,
                max_event_bytes: 64 * 1024,
            },
            // On: a writer faster than gossip carries is told to wait instead of leaving its
            // peers ever further behind. A bucket of 4 rounds (and at least 16 KiB, what one
            // catch-up by stream carries) lets bursts and bulk loads through at once.
            flow: FlowConfig { enabled: true, burst_rounds: 4, min_burst_bytes: 16 * 1024 },
        }
    }

    /// Wide-area defaults: slower rounds, a more patient detector.
    pub fn wan() -> Self {
        let mut config = Config::lan();
        config.gossip_interval = Duration::from_millis(500);
        config.fanout = 4;
        config.detector.phi_threshold = 12.0;
        config.detector.min_std_deviation = Duration::from_millis(500);
        config.detector.max_interval = Duration::from_secs(5);
        config.detector.acceptable_pause = Duration::from_secs(2);
        config.detector.suspicion_timeout = Duration::from_secs(60);
        config.probe.interval = Duration::from_millis(500);
        config.probe.min_timeout = Duration::from_millis(200);
        config.probe.suspicion_mult = 4;
        config.probe.suspicion_min = Duration::ZERO;
        config.anti_entropy_every = 20;
        config.plumtree.graft_timeout = Duration::from_millis(400);
        config.plumtree.ihave_delay = Duration::from_millis(50);
        config.seed_probability = 0.05;
        config
    }

    /// Single-machine defaults (tests, demos): fast rounds, quick detection.
    pub fn local() -> Self {
        let mut config = Config::lan();
        config.gossip_interval = Duration::from_millis(100);
        config.detector.min_std_deviation = Duration::from_millis(50);
        config.detector.max_interval = Duration::from_secs(1);
        config.detector.acceptable_pause = Duration::from_millis(200);
        config.detector.suspicion_timeout = Duration::from_secs(10);
        config.probe.interval = Duration::from_millis(100);
        config.probe.min_timeout = Duration::from_millis(40);
        config.probe.suspicion_min = Duration::ZERO;
        config.probe.successor_every = 0;
        config.seed_probability = 0.05;
        config.anti_entropy_every = 30;
        config.tombstone_grace = Duration::from_secs(60);
        config.dead_member_grace = Duration::from_secs(60);
        config
    }

    /// Checks that the settings can work; the error names the first field that cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field: &'static str, reason: String| Err(ConfigError::Invalid { field, reason });
        if self.fanout == 0 {
            return bad("fanout", "must be at least 1".into());
        }
        if self.gossip_interval.is_zero() {
            return bad("gossip_interval", "must be longer than zero".into());
        }
        if self.anti_entropy_every == 0 {
            return bad("anti_entropy_every", "must be at least 1".into());
        }
        if self.rumor.k == 0 {
            return bad("rumor.k", "must be at least 1".into());
        }
        // A datagram must hold the header, a message envelope and at least one small entry.
        let min_mtu = HEADER_LEN + 64;
        if self.mtu < min_mtu {
            return bad("mtu", format!("{} is smaller than the {min_mtu} bytes a header and one entry need", self.mtu));
        }
        if self.mtu > 65_507 {
            return bad("mtu", format!("{} exceeds the largest UDP payload (65507)", self.mtu));
        }
        if self.limits.max_stream_bytes < self.mtu {
            return bad("limits.max_stream_bytes", "must be at least the mtu".into());
        }
        if !(0.0..=1.0).contains(&self.dead_peer_probability) {
            return bad("dead_peer_probability", "must be within 0..=1".into());
        }
        if !(0.0..=1.0).contains(&self.seed_probability) {
            return bad("seed_probability", "must be within 0..=1".into());
        }
        let d = &self.detector;
        if !(d.phi_threshold.is_finite() && d.phi_threshold > 0.0) {
            return bad("detector.phi_threshold", format!("{} must be a number above zero", d.phi_threshold));
        }
        if d.window == 0 {
            return bad("detector.window", "must be at least 1".into());
        }
        if d.min_std_deviation.is_zero() {
            return bad("detector.min_std_deviation", "must be longer than zero".into());
        }
        if d.max_interval < self.gossip_interval {
            return bad("detector.max_interval", "must be at least the gossip interval".into());
        }
        let p = &self.probe;
        if p.interval.is_zero() {
            return bad("probe.interval", "must be longer than zero".into());
        }
        if p.min_timeout.is_zero() || p.min_timeout * 2 > p.interval {
            return bad("probe.min_timeout", "must be above zero and at most half of probe.interval".into());
        }
        if p.suspicion_mult == 0 || p.suspicion_max_mult == 0 {
            return bad("probe.suspicion_mult", "suspicion multipliers must be at least 1".into());
        }
        if p.retransmit_mult == 0 {
            return bad("probe.retransmit_mult", "must be at least 1".into());
        }
        let t = &self.plumtree;
        if t.eager_peers == 0 || t.eager_peers + t.lazy_peers > crate::plumtree::MAX_VIEW / 2 {
            return bad(
                "plumtree.eager_peers",
                format!("must be at least 1, and eager plus lazy peers at most {}", crate::plumtree::MAX_VIEW / 2),
            );
        }
        if t.graft_timeout.is_zero() {
            return bad("plumtree.graft_timeout", "must be longer than zero".into());
        }
        if self.anti_entropy_fanout == 0 {
            return bad("anti_entropy_fanout", "must be at least 1".into());
        }
        let l = &self.limits;
        if l.max_key_bytes == 0 || l.max_key_bytes > self.mtu / 2 {
            return bad("limits.max_key_bytes", format!("must be within 1..={}", self.mtu / 2));
        }
        if l.max_value_bytes > l.max_stream_bytes / 2 {
            return bad("limits.max_value_bytes", "must be at most half of limits.max_stream_bytes".into());
        }
        if l.max_keys_per_node == 0 || l.max_members < 2 {
            return bad("limits", "max_keys_per_node must be >= 1 and max_members >= 2".into());
        }
        if l.max_bytes_per_node < l.max_value_bytes {
            return bad("limits.max_bytes_per_node", "must be at least limits.max_value_bytes".into());
        }
        if l.max_replica_bytes < l.max_bytes_per_node {
            return bad("limits.max_replica_bytes", "must be at least limits.max_bytes_per_node".into());
        }
        if l.max_event_bytes > l.max_stream_bytes / 2 {
            return bad("limits.max_event_bytes", "must be at most half of limits.max_stream_bytes".into());
        }
        if l.max_pending_events == 0 || l.max_pending_transmits == 0 {
            return bad("limits", "queue bounds must be at least 1".into());
        }
        if self.flow.burst_rounds == 0 {
            return bad("flow.burst_rounds", "must be at least 1".into());
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::lan()
    }
}

/// A configuration that cannot work. Nothing is created when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A field has a value outside what the protocol can run with.
    #[error("invalid config field `{field}`: {reason}")]
    Invalid {
        /// The field, as named in [`Config`].
        field: &'static str,
        /// Why it cannot work.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid() {
        for config in [Config::lan(), Config::wan(), Config::local()] {
            assert_eq!(config.validate(), Ok(()));
        }
    }

    fn field_of(config: Config) -> &'static str {
        match config.validate() {
            Err(ConfigError::Invalid { field, .. }) => field,
            Ok(()) => "valid",
        }
    }

    #[test]
    fn validation_names_the_bad_field() {
        assert_eq!(field_of(Config { fanout: 0, ..Config::lan() }), "fanout");
        assert_eq!(field_of(Config { mtu: 10, ..Config::lan() }), "mtu");
        let mut config = Config::lan();
        config.detector.phi_threshold = 0.0;
        assert_eq!(field_of(config.clone()), "detector.phi_threshold");
        config.detector.phi_threshold = f64::NAN;
        assert_eq!(field_of(config), "detector.phi_threshold");
        assert_eq!(field_of(Config { dead_peer_probability: 2.0, ..Config::lan() }), "dead_peer_probability");
        let mut config = Config::lan();
        config.limits.max_replica_bytes = config.limits.max_bytes_per_node - 1;
        assert_eq!(field_of(config), "limits.max_replica_bytes");
    }
}
