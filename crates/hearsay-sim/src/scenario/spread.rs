//! Scenario `spread`: how fast and how expensively one update reaches a formed cluster.
//!
//! The cluster is formed without measurement (every node is given every member with
//! `Node::add_member`), the probabilities of gossiping with dead members and seeds are zero so
//! every exchange is the chosen mode, and the nodes run a few rounds until no rumor is hot.
//! Then one node (chosen by the seed) writes one key, and the run measures:
//!
//! * the round at which each node first holds the update (`Node::get`, checked after every
//!   packet it receives), a round being `ceil((t - t_write) / gossip_interval)`;
//! * rounds until every live node has it, `t_avg` and `t_last`;
//! * the residue once the protocol goes quiet: for anti-entropy, when everyone has it; for rumor
//!   mongering, when no node has a hot rumor (some nodes may never get it); for hybrid, when
//!   everyone has it and no rumor is hot;
//! * messages and bytes per node from `Node::stats()` deltas over that window (all messages,
//!   and apart the gossip exchanges without the SWIM probes), and the
//!   transmits that carried the update's value (decoded with the wire codec, see
//!   [`crate::sim::Watch`]).
//!
//! Versions only grow is checked for the writer's owner at every replica each round.
//!
//! With [`Params::textbook`] the nodes' rounds fall on multiples of the interval and the write
//! comes half an interval before one, so the round a node is counted in is its cycle in the
//! textbook model (see [`crate::textbook`]).

use hearsay_core::Strategy;
use hearsay_core::wire::MessageType;
use rand::{Rng, SeedableRng};

use crate::check::Violation;
use crate::net::NetConfig;
use crate::record::Recorder;
use crate::scenario::{Params, RunReport, rounds_between};
use crate::sim::{Bootstrap, Sim, SimConfig, SimError, mix};

/// The key written in a spread run.
pub const SPREAD_KEY: &str = "spread-key";

/// Most warm-up rounds spent waiting for start-up rumors to cool.
const MAX_WARMUP_ROUNDS: u64 = 200;

/// The configuration of a spread run: `Config::local()` with the chosen settings, and no
/// exchanges with dead members or seeds, so every exchange is the chosen mode.
pub fn sim_config(params: &Params, seed: u64) -> SimConfig {
    let mut config = params.node_config();
    config.dead_peer_probability = 0.0;
    config.seed_probability = 0.0;
    SimConfig {
        nodes: params.nodes,
        config,
        net: NetConfig { latency: params.latency, loss: params.loss, ..NetConfig::default() },
        seed,
        bootstrap: Bootstrap::FullMembership,
    }
}

/// One spread run.
pub fn run(params: &Params, seed: u64) -> Result<RunReport, SimError> {
    run_recorded(params, seed, None).map(|(report, _)| report)
}

/// What a recorded spread run adds to its report, for a replay.
#[derive(Clone, Debug)]
pub struct Recording {
    /// Per round: message counts and sampled edges between the drawn nodes.
    pub rounds: Vec<crate::record::RoundRecord>,
    /// Per drawn node (the first `max_nodes` slots): the round at which it first held the
    /// update (0: the writer), `None` if it never did.
    pub informed_round: Vec<Option<u64>>,
    /// The writer's slot.
    pub writer: usize,
}

/// Limits of a recording: nodes drawn and sampled edges per round.
#[derive(Clone, Copy, Debug)]
pub struct RecordLimits {
    /// Only the first `max_nodes` slots are drawn; edges between them are sampled.
    pub max_nodes: usize,
    /// At most this many edges are kept per round.
    pub max_edges: usize,
}

/// One spread run; with `record`, also what a replay needs (the report is the same either way).
pub fn run_recorded(
    params: &Params,
    seed: u64,
    record: Option<RecordLimits>,
) -> Result<(RunReport, Option<Recording>), SimError> {
    let mut sim = Sim::new(sim_config(params, seed))?;
    sim.trace_slot = params.trace_node;
    let interval = sim.interval_us();
    sim.run_rounds(2);
    let mut warmup = 0;
    while sim.any_hot_rumors() && warmup < MAX_WARMUP_ROUNDS {
        sim.run_rounds(1);
        warmup += 1;
    }
    if params.textbook {
        // Rounds fall on multiples of the interval (lockstep): write half-way between two, so
        // that a node informed in the k-th round after the write is counted in round k.
        sim.run_until(sim.now() - sim.now() % interval + interval / 2);
    }
    let mut rng = rand_pcg::Pcg64::seed_from_u64(mix(seed ^ 0x7772_6974_6572));
    let writer = rng.random_range(0..params.nodes.max(1));
    let before = stats_of(&sim);
    let t_write = sim.now();
    sim.set(writer, SPREAD_KEY, b"the update")?;
    sim.watch_key(writer, SPREAD_KEY)?;
    if let Some(limits) = record {
        let max_rounds = usize::try_from(params.max_rounds).unwrap_or(usize::MAX);
        sim.record_messages(Recorder::new(t_write, interval, limits.max_nodes, limits.max_edges, max_rounds));
    }
    let owner = sim.slots()[writer].name.clone();

    let n = params.nodes;
    let mut informed = vec![1.0 / n as f64];
    let mut max_versions: Vec<u64> = vec![0; n];
    let mut violations = Vec::new();
    for _ in 0..params.max_rounds {
        sim.run_rounds(1);
        let Some(watch) = sim.watch() else { break };
        informed.push(watch.informed as f64 / n as f64);
        for (i, seen) in max_versions.iter_mut().enumerate() {
            let mv = sim.node(i).and_then(|node| node.member(&owner)).map_or(0, |m| m.max_version);
            if mv < *seen {
                violations.push(Violation {
                    invariant: "versions_only_grow",
                    time_us: sim.now(),
                    detail: format!("node-{i}'s max_version of {owner} went from {seen} to {mv}"),
                });
            }
            *seen = mv;
        }
        let everyone = watch.informed == n;
        let quiet = !sim.any_hot_rumors();
        let done = match params.strategy {
            Strategy::AntiEntropy => everyone,
            Strategy::Rumor => quiet,
            Strategy::Hybrid | Strategy::Plumtree => everyone && quiet,
        };
        if done {
            break;
        }
    }
    let after = stats_of(&sim);
    let recorder = sim.take_recording();
    let Some(watch) = sim.watch() else { return Ok((RunReport::default(), None)) };
    let recording = record.zip(recorder).map(|(limits, recorder)| Recording {
        rounds: recorder.rounds,
        informed_round: watch
            .first_at
            .iter()
            .take(limits.max_nodes)
            .map(|t| t.map(|t| rounds_between(t_write, t, interval)))
            .collect(),
        writer,
    });
    let rounds: Vec<u64> = watch
        .first_at
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != writer)
        .filter_map(|(_, t)| t.map(|t| rounds_between(t_write, t, interval)))
        .collect();
    let t_last = rounds.iter().copied().max().unwrap_or(0);
    let t_avg = if rounds.is_empty() { 0.0 } else { rounds.iter().sum::<u64>() as f64 / rounds.len() as f64 };
    let (messages, bytes, exchanges) = before.iter().zip(&after).fold((0u64, 0u64, 0u64), |(m, b, g), (x, y)| {
        (m + y.0.saturating_sub(x.0), b + y.1.saturating_sub(x.1), g + y.2.saturating_sub(x.2))
    });
    let report = RunReport {
        rounds_to_all: (watch.informed == n).then_some(t_last),
        t_avg,
        t_last: t_last as f64,
        residue: (n - watch.informed) as f64 / n as f64,
        messages_per_node: messages as f64 / n as f64,
        gossip_messages_per_node: exchanges as f64 / n as f64,
        updates_sent_per_node: watch.carriers as f64 / n as f64,
        bytes_per_node: bytes as f64 / n as f64,
        informed,
        violations,
        timer_spins: sim.stats.timer_spins,
        trace: std::mem::take(&mut sim.trace_log),
        ..RunReport::default()
    };
    Ok((report, recording))
}

/// Per node: (messages, bytes, gossip messages) sent so far. Gossip messages are the
/// exchanges (Syn, SynAck, Ack, Push, PushAck), without the SWIM probes.
fn stats_of(sim: &Sim) -> Vec<(u64, u64, u64)> {
    let gossip = [MessageType::Syn, MessageType::SynAck, MessageType::Ack, MessageType::Push, MessageType::PushAck];
    sim.slots()
        .iter()
        .map(|s| {
            s.node.as_ref().map_or((0, 0, 0), |n| {
                let stats = n.stats();
                let exchanges = gossip.iter().map(|t| stats.sent_of(*t).messages).sum();
                (stats.messages_sent(), stats.bytes_sent(), exchanges)
            })
        })
        .collect()
}
