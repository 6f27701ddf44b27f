//! Scenarios `partition-heal` and `churn`: faults while the checkers watch, then calm and
//! convergence.
//!
//! Both start from a formed cluster (full membership, every node also knows slot 0 as a seed)
//! with the protocol's own healing means switched on (`Config::local()` probabilities of
//! gossiping with a dead member or a seed). The checkers of [`crate::check`] run after every
//! round. Once the faults stop, the run goes on round by round until every live replica equals
//! the model (and, in `partition-heal`, every live node sees every live node alive again); the
//! rounds that takes are the run's `rounds_to_all`. Not converging within
//! `max_rounds` is a `convergence` violation, except with the `rumor` strategy, which by
//! design may leave a residue (it is then reported as residue and an incomplete run).

use std::time::Duration;

use hearsay_core::Strategy;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::check::{Checker, all_alive, converged};
use crate::net::{Latency, NetConfig, OneWayLoss, Partition};
use crate::scenario::{Params, RunReport};
use crate::sim::{Bootstrap, Sim, SimConfig, SimError, mix};

/// Rounds the partition lasts in `partition-heal`, unless `Params::partition_secs` says how
/// many virtual seconds.
pub const PARTITION_ROUNDS: u64 = 30;
/// Rounds of faults in `churn`.
pub const CHURN_ROUNDS: u64 = 60;

const KEYS: [&str; 5] = ["color", "load", "role", "zone", "epoch"];

fn formed(params: &Params, seed: u64, net: NetConfig) -> Result<Sim, SimError> {
    Sim::new(SimConfig {
        nodes: params.nodes,
        config: params.node_config(),
        net,
        seed,
        bootstrap: Bootstrap::FullMembership,
    })
}

/// A random write or delete by a random live, unpaused node.
fn random_write(sim: &mut Sim, rng: &mut Pcg64, tag: &str) -> Result<(), SimError> {
    let live: Vec<usize> =
        (0..sim.slots().len()).filter(|i| sim.slots()[*i].is_live() && !sim.slots()[*i].is_paused()).collect();
    let Some(&slot) = live.choose(rng) else { return Ok(()) };
    let key = KEYS[rng.random_range(0..KEYS.len())];
    if rng.random_bool(0.25) {
        sim.delete(slot, key)?;
    } else {
        sim.set(slot, key, format!("{tag}-{}", rng.random_range(0..1000u32)).as_bytes())?;
    }
    Ok(())
}

/// Runs round by round with checks until converged (and, with `alive`, until everyone sees
/// everyone alive); returns the rounds it took.
fn settle(sim: &mut Sim, checker: &mut Checker, params: &Params, alive: bool, informed: &mut Vec<f64>) -> Option<u64> {
    for round in 1..=params.max_rounds {
        sim.run_rounds(1);
        checker.check(sim, &sim.model);
        let ok = converged(sim, &sim.model).is_ok() && (!alive || all_alive(sim).is_ok());
        informed.push(agreeing_fraction(sim));
        if ok {
            return Some(round);
        }
    }
    None
}

/// Fraction of live replicas whose every live owner's map equals the model.
fn agreeing_fraction(sim: &Sim) -> f64 {
    let live: Vec<usize> = (0..sim.slots().len()).filter(|i| sim.slots()[*i].is_live()).collect();
    if live.is_empty() {
        return 1.0;
    }
    let agreeing = live
        .iter()
        .filter(|r| {
            let Some(node) = sim.node(**r) else { return false };
            live.iter().all(|o| {
                let owner = &sim.slots()[*o];
                let empty = Default::default();
                let model = sim.model.generation(&owner.name, owner.generation).unwrap_or(&empty).map();
                node.member(&owner.name).is_some_and(|m| m.id.generation == owner.generation)
                    && node.keys(&owner.name).is_some_and(|keys| {
                        let held: Vec<(&str, u64)> = keys.map(|(k, v)| (k, v.version)).collect();
                        held.len() == model.len() && held.iter().all(|(k, v)| model.get(k).is_some_and(|m| m.0 == *v))
                    })
            })
        })
        .count();
    agreeing as f64 / live.len() as f64
}

fn finish(
    sim: &Sim,
    mut checker: Checker,
    rounds: Option<u64>,
    alive: bool,
    informed: Vec<f64>,
    params: &Params,
) -> RunReport {
    // Rumor mongering alone promises no convergence (Demers et al.: it leaves a residue); for
    // it, not converging is measured as residue, not reported as a broken invariant.
    if rounds.is_none()
        && params.strategy != Strategy::Rumor
        && let Err(v) = converged(sim, &sim.model)
    {
        checker.violations.push(v);
    }
    // Liveness does not depend on the data strategy: members must be alive again whatever it is.
    if rounds.is_none()
        && alive
        && let Err(v) = all_alive(sim)
    {
        checker.violations.push(v);
    }
    let n = sim.slots().len().max(1) as f64;
    let t = rounds.unwrap_or(params.max_rounds) as f64;
    RunReport {
        rounds_to_all: rounds,
        t_avg: t,
        t_last: t,
        residue: 1.0 - informed.last().copied().unwrap_or(0.0),
        messages_per_node: sim.stats.sent as f64 / n,
        bytes_per_node: sim.stats.sent_bytes as f64 / n,
        informed,
        violations: checker.violations,
        anomalies: checker.anomalies,
        timer_spins: sim.stats.timer_spins,
        anomaly_examples: checker.anomaly_examples,
        trace: sim.trace_log.clone(),
        ..RunReport::default()
    }
}

/// Scenario `partition-heal`: the cluster is cut in two random halves for
/// [`PARTITION_ROUNDS`] rounds (or `partition_secs`) while both sides write; then it heals.
pub fn partition_heal(params: &Params, seed: u64) -> Result<RunReport, SimError> {
    let net = NetConfig { latency: params.latency, loss: params.loss, ..NetConfig::default() };
    let mut sim = formed(params, seed, net)?;
    sim.trace_slot = params.trace_node;
    let mut rng = Pcg64::seed_from_u64(mix(seed ^ 0x7061_7274));
    let mut checker = Checker::default();
    let n = params.nodes;
    for i in 0..n {
        sim.set(i, "color", format!("c{i}").as_bytes())?;
    }
    sim.run_rounds(5);
    checker.check(&sim, &sim.model);
    let interval = sim.interval_us();
    let cut_rounds =
        params.partition_secs.map_or(PARTITION_ROUNDS, |secs| (secs * 1e6 / interval as f64).ceil().max(1.0) as u64);
    let group_of: Vec<u16> = (0..n).map(|_| rng.random_range(0..2u16)).collect();
    let (start_at, heal_at) = (sim.now(), sim.now() + cut_rounds * interval);
    sim.net.partitions.push(Partition { group_of, start_at, heal_at });
    for round in 0..cut_rounds {
        for _ in 0..2 {
            random_write(&mut sim, &mut rng, &format!("p{round}"))?;
        }
        sim.run_rounds(1);
        checker.check(&sim, &sim.model);
    }
    let mut informed = vec![agreeing_fraction(&sim)];
    let rounds = settle(&mut sim, &mut checker, params, true, &mut informed);
    Ok(finish(&sim, checker, rounds, true, informed, params))
}

/// Scenario `churn`: for [`CHURN_ROUNDS`] rounds, writes and deletes, crashes, restarts with a
/// new generation, joins, graceful leaves and pauses, over a network with extra loss, one-way
/// loss, duplication, reordering, jittered latency and a partition; then the network calms and
/// the live nodes must converge.
pub fn churn(params: &Params, seed: u64) -> Result<RunReport, SimError> {
    let mut rng = Pcg64::seed_from_u64(mix(seed ^ 0x0063_6875_726e));
    let n = params.nodes;
    let quarter = |rng: &mut Pcg64| {
        let mut v: Vec<usize> = (0..n).filter(|_| rng.random_bool(0.25)).collect();
        v.sort_unstable();
        v
    };
    let (from, to) = (quarter(&mut rng), quarter(&mut rng));
    let base_latency = match params.latency {
        Latency::Fixed(us) => us,
        Latency::Uniform(lo, _) => lo,
    };
    let calm = NetConfig { latency: params.latency, loss: params.loss, ..NetConfig::default() };
    let stormy = NetConfig {
        latency: Latency::Uniform(base_latency, base_latency + 20_000),
        loss: params.loss.max(0.05),
        duplicate: 0.02,
        reorder: 0.05,
        one_way: vec![OneWayLoss { from, to, probability: 0.5 }],
        ..calm.clone()
    };
    let mut sim = formed(params, seed, stormy)?;
    sim.trace_slot = params.trace_node;
    let mut checker = Checker::default();
    for i in 0..n {
        sim.set(i, "color", format!("c{i}").as_bytes())?;
    }
    let interval = sim.interval_us();
    let end = sim.now() + CHURN_ROUNDS * interval;
    let partition_at = sim.now() + rng.random_range(5..CHURN_ROUNDS / 2) * interval;
    let group_of: Vec<u16> = (0..n).map(|_| u16::from(rng.random_bool(0.3))).collect();
    sim.net.partitions.push(Partition { group_of, start_at: partition_at, heal_at: partition_at + 15 * interval });
    for round in 0..CHURN_ROUNDS {
        for _ in 0..3 {
            random_write(&mut sim, &mut rng, &format!("r{round}"))?;
        }
        let live: Vec<usize> = (0..sim.slots().len()).filter(|i| sim.slots()[*i].is_live()).collect();
        let down: Vec<usize> = (0..sim.slots().len()).filter(|i| sim.slots()[*i].node.is_none()).collect();
        let spare = live.len() > n / 2 + 1;
        if spare
            && rng.random_bool(0.1)
            && let Some(&slot) = live.choose(&mut rng)
        {
            sim.crash(slot);
        }
        if rng.random_bool(0.15)
            && let Some(&slot) = down.choose(&mut rng)
        {
            sim.restart(slot)?;
        }
        if rng.random_bool(0.05) {
            let slot = sim.join()?;
            sim.set(slot, "color", b"new")?;
        }
        if spare
            && rng.random_bool(0.05)
            && let Some(&slot) = live.choose(&mut rng)
            && sim.node(slot).is_some()
            && !sim.slots()[slot].is_paused()
        {
            sim.leave(slot, 3)?;
        }
        if rng.random_bool(0.1)
            && let Some(&slot) = live.choose(&mut rng)
        {
            let rounds = rng.random_range(2..15u64);
            let left = end.saturating_sub(sim.now()) / interval;
            let rounds = rounds.min(left.saturating_sub(1)).max(1);
            if sim.node(slot).is_some() && !sim.slots()[slot].is_paused() {
                sim.pause(slot, Duration::from_micros(rounds * interval))?;
            }
        }
        sim.run_rounds(1);
        checker.check(&sim, &sim.model);
    }
    // Calm: the network stops misbehaving; pauses have ended; partitions have healed.
    sim.net = calm;
    sim.run_rounds(1);
    checker.check(&sim, &sim.model);
    let mut informed = vec![agreeing_fraction(&sim)];
    let rounds = settle(&mut sim, &mut checker, params, false, &mut informed);
    Ok(finish(&sim, checker, rounds, false, informed, params))
}
