//! Scenario `pause`: one node stops processing for `--pause-secs` seconds (a `SIGSTOP`, a GC
//! pause, a VM steal), then resumes; counted are the suspicions and deaths declared of it.
//!
//! The cluster is formed and settled as in [`crate::scenario::liveness`]; then a random
//! fraction of an interval passes (so the pause starts at a different phase of the probe
//! schedules in every run), and one node (chosen by the seed, never slot 0) is paused. While
//! paused it receives nothing and sends nothing; what reached it stays queued and is handled,
//! in order, when it resumes, as a stopped process finds its socket buffer. The run goes on
//! until every other live node holds it alive again, then ten more rounds.
//!
//! In the report: `false_deaths` and `suspicions` are the dead and suspect events declared (by
//! every observer, about any member: one member seen dead by 99 nodes counts 99);
//! `rounds_to_all` the rounds after the resume until every other node held it alive again;
//! `residue` the fraction of the other nodes that declared it dead; `t_avg` the first
//! suspicion of it and `t_last` the first death, in intervals after the pause began (0 when
//! there was none).

use std::sync::Arc;
use std::time::Duration;

use hearsay_core::MemberStatus;

use crate::scenario::liveness::formed;
use crate::scenario::{Params, RunReport};
use crate::sim::{SimError, mix, slot_name};

/// Rounds the run goes on after the paused node is held alive everywhere again.
const AFTER_ROUNDS: u64 = 10;

/// One `pause` run.
pub fn run(params: &Params, seed: u64) -> Result<RunReport, SimError> {
    let mut sim = formed(params, seed)?;
    let n = params.nodes;
    let interval = sim.interval_us();
    let victim = 1 + (mix(seed) as usize % (n - 1).max(1));
    let victim_name: Arc<str> = Arc::from(slot_name(victim));
    sim.run_until(sim.now() + mix(seed ^ 0x9a05e) % interval.max(1));
    sim.liveness.clear();
    let paused_at = sim.now();
    let pause = Duration::from_secs_f64(params.pause_secs.max(0.0));
    sim.pause(victim, pause)?;
    let resumed_at = paused_at + u64::try_from(pause.as_micros()).unwrap_or(u64::MAX);
    sim.run_until(resumed_at);
    let mut back = None;
    for round in 1..=params.max_rounds {
        sim.run_until(resumed_at + round * interval);
        let alive_everywhere = (0..n).filter(|i| *i != victim).all(|i| {
            sim.node(i).is_none_or(|node| node.member(&victim_name).is_some_and(|m| m.status == MemberStatus::Alive))
        });
        if alive_everywhere {
            back = Some(round);
            break;
        }
    }
    sim.run_rounds(AFTER_ROUNDS);
    let (liveness, victim_name) = (&sim.liveness, &victim_name);
    let about_victim = |dead: bool| liveness.iter().filter(move |e| e.dead == dead && e.subject == *victim_name);
    let first = |dead: bool| {
        about_victim(dead).map(|e| e.at.saturating_sub(paused_at) as f64 / interval as f64).reduce(f64::min)
    };
    let (first_suspicion, first_death) = (first(false), first(true));
    let mut observers_dead: Vec<usize> = about_victim(true).map(|e| e.observer).collect();
    observers_dead.sort_unstable();
    observers_dead.dedup();
    let elapsed_h = sim.now().saturating_sub(paused_at) as f64 / 3.6e9;
    Ok(RunReport {
        rounds_to_all: back,
        t_avg: first_suspicion.unwrap_or(0.0),
        t_last: first_death.unwrap_or(0.0),
        residue: observers_dead.len() as f64 / (n - 1).max(1) as f64,
        messages_per_node: sim.stats.sent as f64 / n as f64,
        bytes_per_node: sim.stats.sent_bytes as f64 / n as f64,
        false_deaths: sim.liveness.iter().filter(|e| e.dead).count() as u64,
        suspicions: sim.liveness.iter().filter(|e| !e.dead).count() as u64,
        node_hours: n as f64 * elapsed_h,
        timer_spins: sim.stats.timer_spins,
        trace: std::mem::take(&mut sim.trace_log),
        ..RunReport::default()
    })
}
