//! Broadcast runs: the metrics of the epidemic broadcast literature, measured alike for every
//! strategy (`hearsay sim broadcast`).
//!
//! * **RMR**, relative message redundancy (Leitão et al. 2007): payload copies received /
//!   (nodes reached - 1) - 1. Zero when every node got each payload exactly once; a plain
//!   flood over `f` links per node approaches `f - 1`.
//! * **LDH**, last delivery hop: the largest hop count at which a write first reached a node
//!   (see [`crate::deliveries`]); bounded below by the diameter of what the strategy builds.
//! * **delivery**: delivered (live node, write) pairs over all of them when the run ends.
//! * **duplicates**: payload copies that brought a node nothing new
//!   (`Stats::payload_duplicates`).
//!
//! Payload copies are the blocks with at least one entry that nodes received
//! (`Stats::payload_blocks`), whatever message carried them: eager pushes, rumors, repair and
//! anti-entropy alike. The cluster is formed without measurement (every node is given every
//! member), gossip with dead members and seeds is off as in the `spread` scenario, and the
//! writes follow a warm-up: start-up rumors cool, then `warmup` unmeasured writes of the same
//! sender let a broadcast tree prune itself (the first broadcast over a fresh overlay is a
//! flood for Plumtree; what it costs is reported apart as `first_rmr`).

use std::sync::Arc;

use hearsay_core::Strategy;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::deliveries::Tracked;
use crate::net::{Latency, NetConfig};
use crate::scenario::Params;
use crate::sim::{Bootstrap, Sim, SimConfig, SimError, mix};

/// Prefix of every tracked key.
const KEY_PREFIX: &str = "bcast-";
/// Most rounds spent waiting for start-up rumors to cool.
const MAX_WARMUP_ROUNDS: u64 = 200;

/// Who writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Senders {
    /// One node writes `messages` times, one write at a time, after `warmup` unmeasured ones.
    One {
        /// Measured writes.
        messages: usize,
        /// Unmeasured writes first.
        warmup: usize,
    },
    /// Every node writes once, all within the first second.
    All,
}

/// One broadcast run.
#[derive(Clone, Debug)]
pub struct BroadcastParams {
    /// Nodes.
    pub nodes: usize,
    /// Strategy.
    pub strategy: Strategy,
    /// Peers per round (and, for Plumtree, eager peers).
    pub fanout: usize,
    /// Who writes.
    pub senders: Senders,
    /// Datagram loss probability, from the start.
    pub loss: f64,
    /// Fraction of the nodes crashed 15 ms after the middle measured write (single sender).
    pub crash_fraction: f64,
    /// One-way latency per link.
    pub latency: Latency,
    /// Seed.
    pub seed: u64,
    /// Rounds a write may take to reach every live node before the run moves on.
    pub max_rounds: u64,
}

/// What one broadcast run measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BroadcastReport {
    /// Strategy name.
    pub strategy: &'static str,
    /// Nodes.
    pub nodes: usize,
    /// Measured writes.
    pub writes: usize,
    /// Nodes crashed during the run.
    pub crashed: usize,
    /// Delivered (live node, measured write) pairs over all of them.
    pub delivery: f64,
    /// Relative message redundancy over the measured writes.
    pub rmr: f64,
    /// RMR of the first write (single sender; before any pruning).
    pub first_rmr: Option<f64>,
    /// Mean LDH over the measured writes.
    pub ldh_mean: f64,
    /// Largest LDH.
    pub ldh_max: u32,
    /// Payload copies received over the measured window.
    pub payload_copies: u64,
    /// Of those, duplicates.
    pub duplicates: u64,
    /// Write to last delivery, ms: median over the measured writes.
    pub last_delivery_p50_ms: f64,
    /// Write to last delivery, ms: 99th percentile (nearest rank).
    pub last_delivery_p99_ms: f64,
    /// Messages sent per node over the measured window, all types.
    pub messages_per_node: f64,
}

/// Per slot: (payload copies, duplicates, messages sent), for nodes up now.
fn counters(sim: &Sim) -> Vec<Option<(u64, u64, u64)>> {
    sim.slots()
        .iter()
        .map(|s| {
            s.node.as_ref().map(|n| {
                let st = n.stats();
                (st.payload_blocks, st.payload_duplicates, st.messages_sent())
            })
        })
        .collect()
}

/// Sums of the per-slot growth from `before` to `after`, over slots up at both.
fn growth(before: &[Option<(u64, u64, u64)>], after: &[Option<(u64, u64, u64)>]) -> (u64, u64, u64) {
    before.iter().zip(after).fold((0, 0, 0), |acc, (b, a)| match (b, a) {
        (Some(b), Some(a)) => {
            (acc.0 + a.0.saturating_sub(b.0), acc.1 + a.1.saturating_sub(b.1), acc.2 + a.2.saturating_sub(b.2))
        }
        _ => acc,
    })
}

fn tracked<'a>(sim: &'a Sim, owner: &str, key: &str) -> Option<&'a Tracked> {
    sim.deliveries()?.writes.get(&(Arc::from(owner), Arc::from(key)))
}

/// Whether every live node holds the write.
fn everywhere(sim: &Sim, t: Option<&Tracked>) -> bool {
    let Some(t) = t else { return false };
    sim.slots().iter().enumerate().all(|(i, s)| !s.is_live() || t.first.get(i).is_some_and(Option::is_some))
}

fn live_reached(sim: &Sim, t: &Tracked) -> (usize, usize) {
    let live: Vec<usize> = sim.slots().iter().enumerate().filter(|(_, s)| s.is_live()).map(|(i, _)| i).collect();
    let reached = live.iter().filter(|i| t.first.get(**i).is_some_and(Option::is_some)).count();
    (reached, live.len())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Runs one broadcast measurement.
pub fn run(p: &BroadcastParams) -> Result<BroadcastReport, SimError> {
    let mut config = Params { strategy: p.strategy, fanout: p.fanout, ..Params::default() }.node_config();
    config.dead_peer_probability = 0.0;
    config.seed_probability = 0.0;
    config.plumtree.eager_peers = p.fanout;
    let net = NetConfig { latency: p.latency, loss: p.loss, ..NetConfig::default() };
    let mut sim =
        Sim::new(SimConfig { nodes: p.nodes, config, net, seed: p.seed, bootstrap: Bootstrap::FullMembership })?;
    sim.track_deliveries(KEY_PREFIX);
    sim.run_rounds(2);
    let mut warm = 0;
    while sim.any_hot_rumors() && warm < MAX_WARMUP_ROUNDS {
        sim.run_rounds(1);
        warm += 1;
    }
    let mut rng = rand_pcg::Pcg64::seed_from_u64(mix(p.seed ^ 0x0062_6361_7374));
    let interval = sim.interval_us();
    let mut report = BroadcastReport { strategy: p.strategy.as_str(), nodes: p.nodes, ..BroadcastReport::default() };
    let mut measured: Vec<(String, String)> = Vec::new();
    let (mut copies, mut duplicates, mut messages) = (0u64, 0u64, 0u64);
    let mut rmr_sum = 0.0;
    match p.senders {
        Senders::One { messages: count, warmup } => {
            let writer = rng.random_range(0..p.nodes.max(1));
            let owner = sim.slots()[writer].name.to_string();
            for i in 0..warmup + count {
                let key = format!("{KEY_PREFIX}{i}");
                let before = counters(&sim);
                let start = sim.now();
                sim.set(writer, &key, b"broadcast payload")?;
                if p.crash_fraction > 0.0 && i == warmup + count / 2 {
                    sim.run_until(start + 15_000);
                    let mut others: Vec<usize> = (0..p.nodes).filter(|s| *s != writer).collect();
                    others.shuffle(&mut rng);
                    let crash = (p.crash_fraction * p.nodes as f64).round() as usize;
                    for slot in others.into_iter().take(crash) {
                        sim.crash(slot);
                    }
                    report.crashed = crash;
                }
                let deadline = start + p.max_rounds * interval;
                while !everywhere(&sim, tracked(&sim, &owner, &key)) && sim.now() < deadline {
                    sim.run_until(sim.now() + interval / 4);
                }
                // Late copies still in flight are part of this write's cost.
                sim.run_rounds(1);
                let (c, d, m) = growth(&before, &counters(&sim));
                let reached = tracked(&sim, &owner, &key).map_or(1, |t| live_reached(&sim, t).0);
                let rmr = c as f64 / (reached.saturating_sub(1).max(1)) as f64 - 1.0;
                if i == 0 {
                    report.first_rmr = Some(rmr);
                }
                if i >= warmup {
                    (copies, duplicates, messages) = (copies + c, duplicates + d, messages + m);
                    rmr_sum += rmr;
                    measured.push((owner.clone(), key));
                }
            }
            report.rmr = rmr_sum / count.max(1) as f64;
        }
        Senders::All => {
            let before = counters(&sim);
            let mut order: Vec<(u64, usize)> =
                (0..p.nodes).map(|s| (rng.random_range(0..10 * interval.max(1)), s)).collect();
            order.sort_unstable();
            let start = sim.now();
            for (offset, slot) in order {
                sim.run_until(start + offset);
                let key = format!("{KEY_PREFIX}{slot}");
                sim.set(slot, &key, b"broadcast payload")?;
                measured.push((sim.slots()[slot].name.to_string(), key));
            }
            let deadline = start + p.max_rounds * interval;
            while sim.now() < deadline && !measured.iter().all(|(o, k)| everywhere(&sim, tracked(&sim, o, k))) {
                sim.run_rounds(1);
            }
            sim.run_rounds(1);
            (copies, duplicates, messages) = growth(&before, &counters(&sim));
            let reached: usize = measured
                .iter()
                .filter_map(|(o, k)| tracked(&sim, o, k))
                .map(|t| live_reached(&sim, t).0.saturating_sub(1))
                .sum();
            report.rmr = copies as f64 / reached.max(1) as f64 - 1.0;
        }
    }
    let (mut delivered, mut pairs, mut ldh_sum) = (0usize, 0usize, 0u64);
    let mut last: Vec<f64> = Vec::new();
    for (owner, key) in &measured {
        let live = sim.slots().iter().filter(|s| s.is_live()).count();
        pairs += live;
        let Some(t) = tracked(&sim, owner, key) else { continue };
        delivered += live_reached(&sim, t).0;
        ldh_sum += u64::from(t.last_delivery_hop());
        report.ldh_max = report.ldh_max.max(t.last_delivery_hop());
        last.push(t.last_delivery_after() as f64 / 1000.0);
    }
    last.sort_by(f64::total_cmp);
    report.writes = measured.len();
    report.delivery = delivered as f64 / pairs.max(1) as f64;
    report.ldh_mean = ldh_sum as f64 / measured.len().max(1) as f64;
    report.payload_copies = copies;
    report.duplicates = duplicates;
    report.last_delivery_p50_ms = percentile(&last, 0.5);
    report.last_delivery_p99_ms = percentile(&last, 0.99);
    report.messages_per_node = messages as f64 / p.nodes.max(1) as f64;
    Ok(report)
}
