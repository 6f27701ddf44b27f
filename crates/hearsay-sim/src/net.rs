//! The network model: what happens to a packet between `poll_transmit` and the receiver.
//!
//! This module owns the fate of one packet — latency, loss, one-way loss, duplication,
//! reordering and partitions — and nothing else; it does not know about nodes' state. Every
//! random choice comes from the simulator's network RNG, so the same seed gives the same fates.
//!
//! Datagrams can be lost, duplicated and reordered. Streams ([`hearsay_core::TransmitKind::Stream`])
//! are reliable and ordered like TCP: only a partition or a down receiver stops them.

use rand::Rng;
use serde::Serialize;

/// One-way latency of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum Latency {
    /// Every packet takes this long (microseconds).
    Fixed(u64),
    /// Uniform in `[lo, hi]` microseconds (datagrams may overtake each other).
    Uniform(u64, u64),
}

impl Latency {
    /// Parses `A` or `A..B` in milliseconds (fractions allowed).
    pub fn parse_ms(text: &str) -> Result<Latency, String> {
        let ms = |s: &str| -> Result<u64, String> {
            let v: f64 = s.trim().parse().map_err(|_| format!("`{s}` is not a number of milliseconds"))?;
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("`{s}` must be a non-negative number of milliseconds"));
            }
            Ok((v * 1000.0).round() as u64)
        };
        match text.split_once("..") {
            Some((a, b)) => {
                let (lo, hi) = (ms(a)?, ms(b)?);
                if lo > hi {
                    return Err(format!("latency range `{text}` is empty"));
                }
                Ok(if lo == hi { Latency::Fixed(lo) } else { Latency::Uniform(lo, hi) })
            }
            None => Ok(Latency::Fixed(ms(text)?)),
        }
    }

    fn sample(self, rng: &mut impl Rng) -> u64 {
        match self {
            Latency::Fixed(us) => us,
            Latency::Uniform(lo, hi) => rng.random_range(lo..=hi),
        }
    }
}

/// Extra loss on packets from one set of nodes to another (asymmetric links).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OneWayLoss {
    /// Sender slots.
    pub from: Vec<usize>,
    /// Receiver slots.
    pub to: Vec<usize>,
    /// Probability that such a datagram is lost.
    pub probability: f64,
}

/// Nodes split into groups that cannot reach each other until `heal_at`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Partition {
    /// Group of each slot; slots beyond the vector are in group 0.
    pub group_of: Vec<u16>,
    /// Virtual time (microseconds) at which the partition starts.
    pub start_at: u64,
    /// Virtual time (microseconds) at which the partition heals.
    pub heal_at: u64,
}

impl Partition {
    fn separates(&self, now: u64, a: usize, b: usize) -> bool {
        if now < self.start_at || now >= self.heal_at {
            return false;
        }
        let group = |i: usize| self.group_of.get(i).copied().unwrap_or(0);
        group(a) != group(b)
    }
}

/// All the network's settings. Probabilities apply to datagrams only.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NetConfig {
    /// One-way latency.
    pub latency: Latency,
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// Probability that a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability that a datagram is held back by an extra delay (reordering).
    pub reorder: f64,
    /// Largest extra delay of a reordered datagram, microseconds.
    pub reorder_delay_us: u64,
    /// Asymmetric losses.
    pub one_way: Vec<OneWayLoss>,
    /// Partitions (each with its own start and heal time).
    pub partitions: Vec<Partition>,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            latency: Latency::Fixed(1_000),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay_us: 20_000,
            one_way: Vec::new(),
            partitions: Vec::new(),
        }
    }
}

/// What becomes of one transmitted packet: the delays after which copies arrive (empty: lost).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fate {
    /// One entry per delivered copy: delay in microseconds.
    pub delays: Vec<u64>,
}

impl NetConfig {
    /// Whether `from` and `to` are cut off from each other at `now` (microseconds).
    pub fn partitioned(&self, now: u64, from: usize, to: usize) -> bool {
        self.partitions.iter().any(|p| p.separates(now, from, to))
    }

    /// The time after which no partition is active.
    pub fn last_heal(&self) -> u64 {
        self.partitions.iter().map(|p| p.heal_at).max().unwrap_or(0)
    }

    /// Decides the fate of a packet sent at `now`. Partitions are checked again at delivery.
    pub fn fate(&self, now: u64, from: usize, to: usize, reliable: bool, rng: &mut impl Rng) -> Fate {
        if self.partitioned(now, from, to) {
            return Fate::default();
        }
        if reliable {
            return Fate { delays: vec![self.latency.sample(rng)] };
        }
        if self.loss > 0.0 && rng.random_bool(self.loss.min(1.0)) {
            return Fate::default();
        }
        for one_way in &self.one_way {
            if one_way.probability > 0.0
                && one_way.from.binary_search(&from).is_ok()
                && one_way.to.binary_search(&to).is_ok()
                && rng.random_bool(one_way.probability.min(1.0))
            {
                return Fate::default();
            }
        }
        let copies = if self.duplicate > 0.0 && rng.random_bool(self.duplicate.min(1.0)) { 2 } else { 1 };
        let delays = (0..copies)
            .map(|_| {
                let mut delay = self.latency.sample(rng);
                if self.reorder > 0.0 && rng.random_bool(self.reorder.min(1.0)) {
                    delay += rng.random_range(0..=self.reorder_delay_us);
                }
                delay
            })
            .collect();
        Fate { delays }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn latency_parses_fixed_and_ranges() {
        assert_eq!(Latency::parse_ms("2"), Ok(Latency::Fixed(2_000)));
        assert_eq!(Latency::parse_ms("1..5"), Ok(Latency::Uniform(1_000, 5_000)));
        assert_eq!(Latency::parse_ms("0.5..0.5"), Ok(Latency::Fixed(500)));
        assert!(Latency::parse_ms("5..1").is_err());
        assert!(Latency::parse_ms("x").is_err());
        assert!(Latency::parse_ms("-1").is_err());
    }

    #[test]
    fn partitions_block_both_ways_until_heal_and_streams_are_reliable() {
        let net = NetConfig {
            loss: 1.0,
            partitions: vec![Partition { group_of: vec![0, 0, 1], start_at: 10, heal_at: 100 }],
            ..NetConfig::default()
        };
        let mut rng = rand_pcg::Pcg64::seed_from_u64(1);
        assert!(net.partitioned(50, 0, 2) && net.partitioned(50, 2, 1));
        assert!(!net.partitioned(50, 0, 1));
        assert!(!net.partitioned(5, 0, 2) && !net.partitioned(100, 0, 2));
        assert!(net.fate(50, 0, 2, true, &mut rng).delays.is_empty(), "streams stop at a partition");
        assert_eq!(net.fate(200, 0, 2, true, &mut rng).delays.len(), 1, "streams ignore loss");
        assert!(net.fate(200, 0, 2, false, &mut rng).delays.is_empty(), "datagrams suffer loss");
    }

    #[test]
    fn one_way_loss_is_asymmetric_and_duplication_copies() {
        let net = NetConfig {
            duplicate: 1.0,
            one_way: vec![OneWayLoss { from: vec![0], to: vec![1], probability: 1.0 }],
            ..NetConfig::default()
        };
        let mut rng = rand_pcg::Pcg64::seed_from_u64(2);
        assert!(net.fate(0, 0, 1, false, &mut rng).delays.is_empty());
        assert_eq!(net.fate(0, 1, 0, false, &mut rng).delays, vec![1_000, 1_000]);
    }
}
