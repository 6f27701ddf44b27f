//! Scenario `rolling-restart`: every node of a formed cluster restarts, one after another,
//! with a new generation (as a Kubernetes rolling update does), on its own address.
//!
//! The cluster forms and settles as in `detect`. Then slot 0, 1, 2, … in turn crash and start
//! again at once with the next generation, joining through three live seeds; the next restart
//! waits until every other live node holds the restarted one alive at its new generation (a
//! rolling update waits for readiness), or 10 rounds. Measured per restart: the time until
//! every other node holds it alive again, in gossip intervals (`t_avg`, `t_last`;
//! `rounds_to_all` is the slowest restart rounded up, `None` if one never completed); and every
//! suspicion and death declared during the whole roll (`suspicions`, `false_deaths`: a node that
//! restarts at once is never dead).

use crate::scenario::liveness::formed;
use crate::scenario::{Params, RunReport};
use crate::sim::{SimError, slot_name};
/// Longest wait for one restarted node to be held alive by everyone, in rounds.
const MAX_WAIT_ROUNDS: u64 = 10;
/// Checks per gossip interval.
const STEPS: u64 = 20;

/// One rolling-restart run.
pub fn run(params: &Params, seed: u64) -> Result<RunReport, SimError> {
    let mut sim = formed(params, seed)?;
    let n = params.nodes;
    let interval = sim.interval_us();
    let start = sim.now();
    let mut times = Vec::with_capacity(n);
    let mut all_completed = true;
    for slot in 0..n {
        sim.restart(slot)?;
        let restarted_at = sim.now();
        let name = slot_name(slot);
        let generation = sim.slots()[slot].generation;
        let mut done = None;
        for step in 1..=MAX_WAIT_ROUNDS * STEPS {
            sim.run_until(restarted_at + step * interval / STEPS);
            let everyone = sim.slots().iter().enumerate().filter(|(i, s)| *i != slot && s.is_live()).all(|(_, s)| {
                s.node
                    .as_ref()
                    .and_then(|node| node.member(&name))
                    .is_some_and(|m| m.id.generation == generation && m.status == hearsay_core::MemberStatus::Alive)
            });
            if everyone {
                done = Some(sim.now() - restarted_at);
                break;
            }
        }
        match done {
            Some(t) => times.push(t as f64 / interval as f64),
            None => all_completed = false,
        }
    }
    let last = times.iter().copied().fold(0.0, f64::max);
    let mean = if times.is_empty() { 0.0 } else { times.iter().sum::<f64>() / times.len() as f64 };
    let hours = sim.now().saturating_sub(start) as f64 / 3.6e9;
    Ok(RunReport {
        rounds_to_all: all_completed.then(|| last.ceil() as u64),
        t_avg: mean,
        t_last: last,
        residue: 1.0 - times.len() as f64 / n as f64,
        messages_per_node: sim.stats.sent as f64 / n as f64,
        bytes_per_node: sim.stats.sent_bytes as f64 / n as f64,
        false_deaths: sim.liveness.iter().filter(|e| e.dead).count() as u64,
        suspicions: sim.liveness.iter().filter(|e| !e.dead).count() as u64,
        node_hours: n as f64 * hours,
        timer_spins: sim.stats.timer_spins,
        trace: std::mem::take(&mut sim.trace_log),
        ..RunReport::default()
    })
}
