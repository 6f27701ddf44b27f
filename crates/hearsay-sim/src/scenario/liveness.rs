//! Scenarios `detect` and `false-positives`: how fast a crash is declared, and how often a
//! live node is wrongly declared suspect or dead.
//!
//! Both start from a formed cluster (full membership) and let it settle for 30 rounds; only
//! suspicions and deaths declared after that count.
//!
//! * `detect`: one node (chosen by the seed, never slot 0) crashes. Measured: the time until
//!   every live node has declared it dead, in gossip intervals (`rounds_to_all`, rounded up;
//!   `t_avg` and `t_last` are the mean and the latest per-node detection time, not rounded),
//!   and deaths or suspicions declared about any other node (false ones).
//! * `false-positives`: nothing crashes; the run lasts `max_rounds` rounds (36,000 rounds of
//!   100 ms is one virtual hour) over the configured loss. With `--pause-secs S`, one random
//!   node is paused for `S` seconds every `--pause-every-secs` virtual seconds (default 180:
//!   1,800 rounds at 100 ms, 180 rounds at 1 s), the first one pause period after the start.
//!   Measured: deaths
//!   and suspicions declared about live nodes, with the node-hours observed, so the report can
//!   give rates per node-hour.
//!
//! Both also measure phi as operators read it: every round, the phi of every member that is up,
//! as up to [`PHI_OBSERVERS`] live nodes see it (median, p99, maximum); and in `detect`, the
//! time until every live node's phi of the crashed node reached the threshold, checked ten
//! times per interval, which must come no later than the last node declaring it dead.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};

use crate::net::NetConfig;
use crate::scenario::{Params, PhiFigures, RunReport, rounds_between};
use crate::sim::{Bootstrap, Sim, SimConfig, SimError, mix, slot_name};

/// Rounds a formed cluster runs before anything is measured.
const SETTLE_ROUNDS: u64 = 30;

/// Most nodes whose view of phi is sampled (each sees every member).
pub const PHI_OBSERVERS: usize = 32;

/// Rounds `detect` goes on after the last death, waiting for phi to cross the threshold.
const EXTRA_CROSSING_ROUNDS: u64 = 200;

/// Most phi samples kept per run; `false-positives` samples fewer rounds to stay under it.
const MAX_PHI_SAMPLES: usize = 2_000_000;

/// Appends the phi of every member that is up (the victim excluded), as the first
/// [`PHI_OBSERVERS`] live nodes see it.
fn sample_phi(sim: &Sim, victim: Option<usize>, out: &mut Vec<f64>) {
    let up: HashSet<&str> = sim
        .slots()
        .iter()
        .enumerate()
        .filter(|(i, s)| s.node.is_some() && Some(*i) != victim)
        .map(|(_, s)| &*s.name)
        .collect();
    for slot in sim.slots().iter().filter(|s| s.is_live()).take(PHI_OBSERVERS) {
        let Some(node) = slot.node.as_ref() else { continue };
        out.extend(node.members().iter().filter(|m| !m.is_self && up.contains(&*m.id.name)).map(|m| m.phi));
    }
}

fn phi_figures(mut samples: Vec<f64>) -> Option<PhiFigures> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let rank = |q: f64| samples[((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
    Some(PhiFigures { p50: rank(0.5), p99: rank(0.99), max: rank(1.0), samples: samples.len() })
}

/// A formed cluster (full membership) that settled for [`SETTLE_ROUNDS`] rounds, with no
/// liveness event recorded yet.
pub(crate) fn formed(params: &Params, seed: u64) -> Result<Sim, SimError> {
    let config = SimConfig {
        nodes: params.nodes,
        config: params.node_config(),
        net: NetConfig { latency: params.latency, loss: params.loss, ..NetConfig::default() },
        seed,
        bootstrap: Bootstrap::FullMembership,
    };
    let mut sim = Sim::new(config)?;
    sim.trace_slot = params.trace_node;
    sim.run_rounds(SETTLE_ROUNDS);
    sim.liveness.clear();
    Ok(sim)
}

/// One `detect` run.
pub fn detect(params: &Params, seed: u64) -> Result<RunReport, SimError> {
    let mut sim = formed(params, seed)?;
    let n = params.nodes;
    let interval = sim.interval_us();
    let victim = 1 + (mix(seed) as usize % (n - 1).max(1));
    let victim_name: Arc<str> = Arc::from(slot_name(victim));
    let crashed_at = sim.now();
    sim.crash(victim);
    let threshold = params.node_config().detector.phi_threshold;
    let mut crossed = vec![false; n];
    crossed[victim] = true;
    let mut crossing_at = None;
    let mut phi_samples = Vec::new();
    let mut rounds_to_all = None;
    for round in 1..=params.max_rounds {
        for step in 1..=10 {
            sim.run_until(crashed_at + (round - 1) * interval + step * interval / 10);
            for (i, seen) in crossed.iter_mut().enumerate().filter(|(_, c)| !**c) {
                *seen = sim.node(i).and_then(|node| node.member(&victim_name)).is_none_or(|m| m.phi >= threshold);
            }
            if crossing_at.is_none() && crossed.iter().all(|c| *c) {
                crossing_at = Some(sim.now());
            }
        }
        sample_phi(&sim, Some(victim), &mut phi_samples);
        let everyone = (0..n)
            .filter(|i| *i != victim)
            .all(|i| sim.liveness.iter().any(|e| e.dead && e.observer == i && e.subject == victim_name));
        if everyone {
            rounds_to_all = Some(round);
            break;
        }
    }
    let mut per_node: Vec<f64> = Vec::new();
    let mut seen = HashSet::new();
    for e in sim.liveness.iter().filter(|e| e.dead && e.subject == victim_name) {
        if seen.insert(e.observer) {
            per_node.push(e.at.saturating_sub(crashed_at) as f64 / interval as f64);
        }
    }
    let last = per_node.iter().copied().fold(0.0, f64::max);
    let mean = if per_node.is_empty() { 0.0 } else { per_node.iter().sum::<f64>() / per_node.len() as f64 };
    let elapsed_h = sim.now().saturating_sub(crashed_at) as f64 / 3.6e9;
    let mut report = RunReport {
        rounds_to_all: rounds_to_all
            .map(|_| rounds_between(crashed_at, crashed_at + (last * interval as f64) as u64, interval)),
        t_avg: mean,
        t_last: last,
        residue: 1.0 - seen.len() as f64 / (n - 1) as f64,
        messages_per_node: sim.stats.sent as f64 / n as f64,
        bytes_per_node: sim.stats.sent_bytes as f64 / n as f64,
        false_deaths: sim.liveness.iter().filter(|e| e.dead && e.subject != victim_name).count() as u64,
        suspicions: sim.liveness.iter().filter(|e| !e.dead && e.subject != victim_name).count() as u64,
        node_hours: (n - 1) as f64 * elapsed_h,
        timer_spins: sim.stats.timer_spins,
        phi_alive: phi_figures(phi_samples),
        trace: std::mem::take(&mut sim.trace_log),
        ..RunReport::default()
    };
    // Phi may cross after the last death was declared: measure how late, without counting
    // these extra rounds in anything else.
    let mut extra = 0;
    while crossing_at.is_none() && extra < EXTRA_CROSSING_ROUNDS * 10 {
        extra += 1;
        sim.run_until(sim.now() + interval / 10);
        for (i, seen) in crossed.iter_mut().enumerate().filter(|(_, c)| !**c) {
            *seen = sim.node(i).and_then(|node| node.member(&victim_name)).is_none_or(|m| m.phi >= threshold);
        }
        if crossed.iter().all(|c| *c) {
            crossing_at = Some(sim.now());
        }
    }
    report.phi_crossing = crossing_at.map(|t| t.saturating_sub(crashed_at) as f64 / interval as f64);
    Ok(report)
}

/// One `false-positives` run.
pub fn false_positives(params: &Params, seed: u64) -> Result<RunReport, SimError> {
    let mut sim = formed(params, seed)?;
    let n = params.nodes;
    let start = sim.now();
    let mut rng = rand_pcg::Pcg64::seed_from_u64(mix(seed ^ 0x9a05e));
    // Whole rounds between pauses, so the run still lasts exactly `max_rounds` rounds.
    let interval = sim.interval_us();
    let pause_every = (params.pause_every_secs * 1e6 / interval as f64).round().max(1.0) as u64;
    let per_round = n.min(PHI_OBSERVERS) * n;
    let sample_every = (params.max_rounds as usize * per_round).div_ceil(MAX_PHI_SAMPLES).max(1) as u64;
    let mut phi_samples = Vec::new();
    let mut done = 0;
    while done < params.max_rounds {
        let step = pause_every.min(params.max_rounds - done);
        if params.pause_secs > 0.0 && done > 0 {
            let slot = rng.random_range(0..n);
            sim.pause(slot, Duration::from_secs_f64(params.pause_secs))?;
        }
        for round in done..done + step {
            sim.run_rounds(1);
            if round % sample_every == 0 {
                sample_phi(&sim, None, &mut phi_samples);
            }
        }
        done += step;
    }
    let hours = sim.now().saturating_sub(start) as f64 / 3.6e9;
    Ok(RunReport {
        rounds_to_all: Some(done),
        messages_per_node: sim.stats.sent as f64 / n as f64,
        bytes_per_node: sim.stats.sent_bytes as f64 / n as f64,
        false_deaths: sim.liveness.iter().filter(|e| e.dead).count() as u64,
        suspicions: sim.liveness.iter().filter(|e| !e.dead).count() as u64,
        node_hours: n as f64 * hours,
        timer_spins: sim.stats.timer_spins,
        phi_alive: phi_figures(phi_samples),
        trace: std::mem::take(&mut sim.trace_log),
        ..RunReport::default()
    })
}
