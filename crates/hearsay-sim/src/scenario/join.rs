//! Scenario `join`: every node starts knowing only one seed (slot 0) and writes one key.
//!
//! Measured: rounds until every node knows every member (`Node::member_count`). The checkers
//! run every round, and once membership is complete the run continues until every replica
//! equals the model (one key per owner), which must happen within `max_rounds` (except with
//! the `rumor` strategy, which may leave a residue by design).

use hearsay_core::Strategy;

use crate::check::{Checker, converged};
use crate::net::NetConfig;
use crate::scenario::{Params, RunReport};
use crate::sim::{Bootstrap, Sim, SimConfig, SimError};

/// One join run.
pub fn run(params: &Params, seed: u64) -> Result<RunReport, SimError> {
    let config = SimConfig {
        nodes: params.nodes,
        config: params.node_config(),
        net: NetConfig { latency: params.latency, loss: params.loss, ..NetConfig::default() },
        seed,
        bootstrap: Bootstrap::Seed,
    };
    let mut sim = Sim::new(config)?;
    sim.trace_slot = params.trace_node;
    let n = params.nodes;
    for i in 0..n {
        sim.set(i, "service", format!("svc-{i}").as_bytes())?;
    }
    let mut checker = Checker::default();
    let mut informed = vec![full_fraction(&sim, n)];
    let mut rounds_to_all = None;
    let mut converged_at = None;
    for round in 1..=params.max_rounds {
        sim.run_rounds(1);
        checker.check(&sim, &sim.model);
        informed.push(full_fraction(&sim, n));
        if rounds_to_all.is_none() && informed.last().is_some_and(|f| *f >= 1.0) {
            rounds_to_all = Some(round);
        }
        if rounds_to_all.is_some() && converged(&sim, &sim.model).is_ok() {
            converged_at = Some(round);
            break;
        }
    }
    let (anomalies, anomaly_examples) = (checker.anomalies, checker.anomaly_examples);
    let mut violations = checker.violations;
    if converged_at.is_none()
        && params.strategy != Strategy::Rumor
        && let Err(v) = converged(&sim, &sim.model)
    {
        violations.push(v);
    }
    let t_last = rounds_to_all.unwrap_or(params.max_rounds) as f64;
    Ok(RunReport {
        rounds_to_all,
        t_avg: t_last,
        t_last,
        residue: 1.0 - informed.last().copied().unwrap_or(0.0),
        messages_per_node: sim.stats.sent as f64 / n as f64,
        bytes_per_node: sim.stats.sent_bytes as f64 / n as f64,
        informed,
        violations,
        anomalies,
        anomaly_examples,
        timer_spins: sim.stats.timer_spins,
        trace: std::mem::take(&mut sim.trace_log),
        ..RunReport::default()
    })
}

/// Fraction of nodes that know every member.
fn full_fraction(sim: &Sim, n: usize) -> f64 {
    let full = sim.slots().iter().filter(|s| s.node.as_ref().is_some_and(|node| node.member_count() >= n)).count();
    full as f64 / n as f64
}
