//! The flow-control experiment (`hearsay sim flow`), after van Renesse et al. 2008, section 4:
//! writers offer more updates than gossip carries, the MTU is lowered mid-run, and the
//! staleness of the replicas is sampled every round, once with flow control and once without.
//!
//! Each of `writers` nodes writes `writes_per_round` new keys per round (spread evenly over
//! the round, `value_bytes` each; a key is never rewritten, so no update is superseded and
//! every one must travel). A write refused by flow control is dropped, as an application
//! with a fixed desired rate would (open loop), and counted. Deltas travel by datagram only,
//! as in the paper (the stream threshold is set above any delta): catch-up by TCP stream
//! would hide the overload until the stream budget runs out instead.
//!
//! Staleness is measured per (replica, writer) pair of live nodes: *versions behind* is the
//! writer's `max_version` minus the replica's, *rounds behind* the age of the oldest write the
//! replica lacks. With flow control both stay bounded; without, they grow for as long as the
//! writers write.

use hearsay_core::{Config, WriteError};
use serde::Serialize;

use crate::net::NetConfig;
use crate::scenario::Params;
use crate::sim::{Bootstrap, Sim, SimConfig, SimError};

/// Writes per writer are spread over this many instants per round.
const TICKS_PER_ROUND: u64 = 10;

/// What defines a flow-control comparison.
#[derive(Clone, Debug)]
pub struct FlowParams {
    /// Nodes, exchange, strategy, fanout, network, seed, the MTU at the start (`mtu`, else
    /// `Config::local()`'s 1400) and the gossip interval.
    pub base: Params,
    /// Nodes that write.
    pub writers: usize,
    /// Writes each writer offers per round.
    pub writes_per_round: u64,
    /// Bytes of each value.
    pub value_bytes: usize,
    /// Rounds measured.
    pub rounds: u64,
    /// Rounds run before the writers start (addresses verify, rumors of the start cool).
    pub warmup_rounds: u64,
    /// The round at which the MTU is lowered.
    pub mtu_change_round: u64,
    /// The MTU from then on.
    pub mtu_after: usize,
}

impl Default for FlowParams {
    fn default() -> Self {
        FlowParams {
            base: Params { nodes: 32, ..Params::default() },
            writers: 4,
            writes_per_round: 20,
            value_bytes: 32,
            rounds: 300,
            warmup_rounds: 30,
            mtu_change_round: 150,
            mtu_after: 700,
        }
    }
}

impl FlowParams {
    /// The node configuration of one run.
    pub fn node_config(&self, flow_control: bool) -> Config {
        let mut config = self.base.node_config();
        config.dead_peer_probability = 0.0;
        config.seed_probability = 0.0;
        // Datagrams only, as in the paper.
        config.stream_threshold_bytes = config.limits.max_stream_bytes;
        // Every write is a new key: room for all of them.
        let keys = usize::try_from(self.writes_per_round * (self.rounds + 1)).unwrap_or(usize::MAX);
        config.limits.max_keys_per_node = config.limits.max_keys_per_node.max(keys);
        config.flow.enabled = flow_control;
        config
    }

    /// The slots that write: spread over the cluster.
    pub fn writer_slots(&self) -> Vec<usize> {
        let n = self.base.nodes;
        (0..self.writers.min(n)).map(|w| w * n / self.writers.min(n).max(1)).collect()
    }

    /// The command that regenerates this comparison.
    pub fn command(&self) -> String {
        format!(
            "hearsay sim flow --nodes {} --exchange {} --strategy {} --fanout {} --flow-writers {} \
             --flow-writes-per-round {} --flow-value-bytes {} --flow-rounds {} --flow-mtu-change-round {} \
             --flow-mtu-after {}{}{} --seed {}",
            self.base.nodes,
            self.base.exchange.as_str(),
            self.base.strategy.as_str(),
            self.base.fanout,
            self.writers,
            self.writes_per_round,
            self.value_bytes,
            self.rounds,
            self.mtu_change_round,
            self.mtu_after,
            self.base.mtu.map_or(String::new(), |m| format!(" --mtu {m}")),
            if self.base.loss > 0.0 { format!(" --loss {}", self.base.loss) } else { String::new() },
            self.base.seed
        )
    }
}

/// Staleness and throughput of one round.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FlowSample {
    /// Round since the writers started (1: the end of the first).
    pub round: u64,
    /// Largest versions behind over (replica, writer) pairs.
    pub max_versions_behind: u64,
    /// Mean versions behind.
    pub mean_versions_behind: f64,
    /// Largest age, in rounds, of the oldest write a replica lacks.
    pub max_rounds_behind: f64,
    /// Writes admitted this round, all writers.
    pub accepted: u64,
    /// Writes refused this round, all writers.
    pub refused: u64,
    /// Mean capacity estimate of the nodes, bytes per round.
    pub capacity_bytes: f64,
    /// Mean share of the writers, bytes per round.
    pub writer_share_bytes: f64,
}

/// One run of the comparison.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FlowRun {
    /// Whether flow control was on.
    pub flow_control: bool,
    /// One sample per round.
    pub samples: Vec<FlowSample>,
    /// Writes admitted over the run.
    pub accepted: u64,
    /// Writes refused over the run.
    pub refused: u64,
    /// Writes admitted over the run, per writer: how fairly the capacity was shared.
    pub admitted_by_writer: Vec<u64>,
}

impl FlowRun {
    /// Largest versions behind over rounds `from..to` (1-based, inclusive of `from`).
    pub fn max_behind(&self, from: u64, to: u64) -> u64 {
        self.window(from, to).map(|s| s.max_versions_behind).max().unwrap_or(0)
    }

    /// Mean of the per-round mean versions behind over rounds `from..to`.
    pub fn mean_behind(&self, from: u64, to: u64) -> f64 {
        let (sum, n) = self.window(from, to).fold((0.0, 0), |(sum, n), s| (sum + s.mean_versions_behind, n + 1));
        if n == 0 { 0.0 } else { sum / f64::from(n) }
    }

    /// Largest rounds behind over rounds `from..to`.
    pub fn max_rounds_behind(&self, from: u64, to: u64) -> f64 {
        self.window(from, to).map(|s| s.max_rounds_behind).fold(0.0, f64::max)
    }

    /// Writes admitted per round over rounds `from..to`, all writers.
    pub fn accepted_per_round(&self, from: u64, to: u64) -> f64 {
        let (sum, n) = self.window(from, to).fold((0, 0u32), |(sum, n), s| (sum + s.accepted, n + 1));
        if n == 0 { 0.0 } else { sum as f64 / f64::from(n) }
    }

    fn window(&self, from: u64, to: u64) -> impl Iterator<Item = &FlowSample> {
        self.samples.iter().filter(move |s| s.round >= from && s.round < to)
    }
}

/// Both runs, same seed.
#[derive(Clone, Debug, Serialize)]
pub struct FlowComparison {
    /// Nodes.
    pub nodes: usize,
    /// Writers.
    pub writers: usize,
    /// Writes each writer offered per round.
    pub writes_per_round: u64,
    /// MTU at the start.
    pub mtu_before: usize,
    /// MTU from `mtu_change_round` on.
    pub mtu_after: usize,
    /// Round of the change.
    pub mtu_change_round: u64,
    /// Seed.
    pub seed: u64,
    /// The command that regenerates it.
    pub command: String,
    /// With flow control.
    pub with: FlowRun,
    /// Without.
    pub without: FlowRun,
}

/// Runs the comparison: the same seed with flow control and without.
pub fn compare(params: &FlowParams) -> Result<FlowComparison, SimError> {
    Ok(FlowComparison {
        nodes: params.base.nodes,
        writers: params.writers,
        writes_per_round: params.writes_per_round,
        mtu_before: params.base.node_config().mtu,
        mtu_after: params.mtu_after,
        mtu_change_round: params.mtu_change_round,
        seed: params.base.seed,
        command: params.command(),
        with: run(params, true)?,
        without: run(params, false)?,
    })
}

/// One run.
pub fn run(params: &FlowParams, flow_control: bool) -> Result<FlowRun, SimError> {
    let config = params.node_config(flow_control);
    let mut sim = Sim::new(SimConfig {
        nodes: params.base.nodes,
        config,
        net: NetConfig { latency: params.base.latency, loss: params.base.loss, ..NetConfig::default() },
        seed: params.base.seed,
        bootstrap: Bootstrap::FullMembership,
    })?;
    sim.run_rounds(params.warmup_rounds);
    let writers = params.writer_slots();
    // Per writer: (version, virtual time) of every admitted write, in order.
    let mut written: Vec<Vec<(u64, u64)>> = vec![Vec::new(); writers.len()];
    let mut sequence = vec![0u64; writers.len()];
    let value = vec![b'v'; params.value_bytes];
    let interval = sim.interval_us();
    let tick = (interval / TICKS_PER_ROUND).max(1);
    let mut out = FlowRun { flow_control, admitted_by_writer: vec![0; writers.len()], ..FlowRun::default() };
    for round in 1..=params.rounds {
        if round == params.mtu_change_round + 1 {
            sim.set_mtu(params.mtu_after)?;
        }
        let (mut accepted, mut refused) = (0, 0);
        let round_start = sim.now();
        for t in 0..TICKS_PER_ROUND {
            let due =
                (t + 1) * params.writes_per_round / TICKS_PER_ROUND - t * params.writes_per_round / TICKS_PER_ROUND;
            for (w, &slot) in writers.iter().enumerate() {
                for _ in 0..due {
                    let key = format!("w{w}-{:07}", sequence[w]);
                    sequence[w] += 1;
                    match sim.set(slot, &key, &value) {
                        Ok(version) => {
                            written[w].push((version, sim.now()));
                            accepted += 1;
                            out.admitted_by_writer[w] += 1;
                        }
                        Err(SimError::Write { source: WriteError::RateLimited { .. }, .. }) => refused += 1,
                        Err(e) => return Err(e),
                    }
                }
            }
            sim.run_until(round_start + (t + 1) * tick);
        }
        sim.run_until(round_start + interval);
        out.accepted += accepted;
        out.refused += refused;
        let mut sample = staleness(&sim, &writers, &written, interval);
        sample.round = round;
        sample.accepted = accepted;
        sample.refused = refused;
        out.samples.push(sample);
    }
    Ok(out)
}

/// Staleness of every (replica, writer) pair of live nodes, and the flow-control figures.
fn staleness(sim: &Sim, writers: &[usize], written: &[Vec<(u64, u64)>], interval: u64) -> FlowSample {
    let mut sample = FlowSample::default();
    let (mut sum, mut pairs) = (0u64, 0u64);
    for (w, &slot) in writers.iter().enumerate() {
        let Some(writer) = sim.node(slot) else { continue };
        let name = &sim.slots()[slot].name;
        let head = writer.member(name).map_or(0, |m| m.max_version);
        for (i, s) in sim.slots().iter().enumerate() {
            let Some(node) = s.node.as_ref().filter(|_| i != slot && s.is_live()) else { continue };
            let held = node.member(name).map_or(0, |m| m.max_version);
            let behind = head.saturating_sub(held);
            sum += behind;
            pairs += 1;
            sample.max_versions_behind = sample.max_versions_behind.max(behind);
            // The oldest write it lacks: the first admitted write above what it holds.
            let lacking = written[w].partition_point(|(version, _)| *version <= held);
            if let Some((_, at)) = written[w].get(lacking) {
                let rounds = sim.now().saturating_sub(*at) as f64 / interval as f64;
                sample.max_rounds_behind = sample.max_rounds_behind.max(rounds);
            }
        }
    }
    sample.mean_versions_behind = if pairs == 0 { 0.0 } else { sum as f64 / pairs as f64 };
    let nodes: Vec<_> = sim.slots().iter().filter_map(|s| s.node.as_ref()).map(|n| n.flow_status()).collect();
    if !nodes.is_empty() {
        sample.capacity_bytes = nodes.iter().map(|f| f.capacity_bytes).sum::<f64>() / nodes.len() as f64;
    }
    let shares: Vec<f64> = writers.iter().filter_map(|&w| sim.node(w)).map(|n| n.flow_status().share_bytes).collect();
    if !shares.is_empty() {
        sample.writer_share_bytes = shares.iter().sum::<f64>() / shares.len() as f64;
    }
    sample
}

/// The comparison as a Markdown table: per window of rounds, with and without.
pub fn table(c: &FlowComparison) -> String {
    let rounds = c.with.samples.len() as u64;
    let change = c.mtu_change_round;
    let windows = [
        (1, change / 2 + 1, format!("rounds 1-{} (MTU {})", change / 2, c.mtu_before)),
        (change / 2 + 1, change + 1, format!("rounds {}-{change} (MTU {})", change / 2 + 1, c.mtu_before)),
        (
            change + 1,
            (change + rounds) / 2 + 1,
            format!("rounds {}-{} (MTU {})", change + 1, (change + rounds) / 2, c.mtu_after),
        ),
        (
            (change + rounds) / 2 + 1,
            rounds + 1,
            format!("rounds {}-{rounds} (MTU {})", (change + rounds) / 2 + 1, c.mtu_after),
        ),
    ];
    let mut out = String::from(
        "| window | flow control | max versions behind | mean versions behind | max rounds behind | writes admitted per round | refused |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for (from, to, label) in windows {
        for run in [&c.with, &c.without] {
            let refused: u64 = run.samples.iter().filter(|s| s.round >= from && s.round < to).map(|s| s.refused).sum();
            out.push_str(&format!(
                "| {label} | {} | {} | {:.1} | {:.1} | {:.1} | {refused} |\n",
                if run.flow_control { "on" } else { "off" },
                run.max_behind(from, to),
                run.mean_behind(from, to),
                run.max_rounds_behind(from, to),
                run.accepted_per_round(from, to),
            ));
        }
    }
    out.push_str(&format!(
        "\nWrites admitted per writer over the run: with flow control {:?}, without {:?}.\n",
        c.with.admitted_by_writer, c.without.admitted_by_writer
    ));
    out
}
