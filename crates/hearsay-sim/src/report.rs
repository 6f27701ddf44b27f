//! Aggregating runs into a [`Report`], and the textbook expectations to compare with.
//!
//! This module owns the JSON shape that `hearsay sim --json` prints and `--out` writes. A
//! report is a pure function of the parameters: no wall-clock figure goes in, so the same seed
//! gives the same bytes.

use hearsay_core::{ExchangeMode, RumorFeedback, RumorStop};
use serde::Serialize;

use crate::check::Violation;
use crate::net::Latency;
use crate::scenario::{Params, RunError, RunReport, run_one};

/// Mean, median, 99th percentile and maximum.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Quantiles {
    /// Mean (`None` without samples).
    pub mean: Option<f64>,
    /// Median (nearest rank).
    pub p50: Option<f64>,
    /// 99th percentile (nearest rank).
    pub p99: Option<f64>,
    /// Maximum.
    pub max: Option<f64>,
    /// Number of samples.
    pub samples: usize,
}

impl Quantiles {
    /// Summarises `values`.
    pub fn of(values: &[f64]) -> Quantiles {
        if values.is_empty() {
            return Quantiles::default();
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let rank = |q: f64| sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
        Quantiles {
            mean: Some(sorted.iter().sum::<f64>() / sorted.len() as f64),
            p50: Some(rank(0.50)),
            p99: Some(rank(0.99)),
            max: sorted.last().copied(),
            samples: sorted.len(),
        }
    }
}

/// The rumor settings, as reported.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RumorReport {
    /// `k`.
    pub k: u32,
    /// `feedback` or `blind`.
    pub feedback: &'static str,
    /// `counter` or `coin`.
    pub stop: &'static str,
}

/// The textbook expectation for `rounds_to_all`, where one exists.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Theory {
    /// Expected rounds until everyone has the update (uniform random peer choice, fanout 1).
    pub rounds_to_all: Option<f64>,
    /// Which formula.
    pub formula: &'static str,
}

/// Textbook rounds until all `n` nodes know a rumor started at one node, fanout 1, uniform
/// random peers, no loss: push `log2 n + ln n` (Pittel 1987, Frieze and Grimmett 1985); pull
/// `log2 n + ln ln n` and push-pull `log3 n + ln ln n` (Karp, Schindelhauer, Shenker and
/// Vöcking 2000; their `O(ln ln n)` term taken with constant 1).
pub fn theory(exchange: ExchangeMode, fanout: usize, n: usize) -> Theory {
    let n = n as f64;
    if fanout != 1 || n < 3.0 {
        return Theory { rounds_to_all: None, formula: "none (textbook figures are for fanout 1)" };
    }
    match exchange {
        ExchangeMode::Push => Theory { rounds_to_all: Some(n.log2() + n.ln()), formula: "log2 N + ln N (Pittel 1987)" },
        ExchangeMode::Pull => Theory {
            rounds_to_all: Some(n.log2() + n.ln().ln()),
            formula: "log2 N + ln ln N (Karp et al. 2000, O() constant 1)",
        },
        ExchangeMode::PushPull => Theory {
            rounds_to_all: Some(n.log(3.0) + n.ln().ln()),
            formula: "log3 N + ln ln N (Karp et al. 2000, O() constant 1)",
        },
    }
}

/// A run that broke an invariant, with the command that replays it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Failure {
    /// Run index.
    pub run: usize,
    /// Its seed.
    pub seed: u64,
    /// The exact command that replays it.
    pub replay: String,
    /// What broke (the first few).
    pub violations: Vec<Violation>,
}

/// Mean only.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Mean {
    /// Mean over runs.
    pub mean: f64,
}

/// Mean and maximum.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MeanMax {
    /// Mean over runs.
    pub mean: f64,
    /// Maximum over runs.
    pub max: f64,
}

/// Everything a batch of runs measured. This is the `--json` output and `report.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: &'static str,
    /// Nodes at the start.
    pub nodes: usize,
    /// Exchange mode.
    pub exchange: &'static str,
    /// Strategy.
    pub strategy: &'static str,
    /// Fanout.
    pub fanout: usize,
    /// Rumor settings.
    pub rumor: RumorReport,
    /// Datagram loss.
    pub loss: f64,
    /// Latency in milliseconds, `A` or `A..B`.
    pub latency_ms: String,
    /// Datagram size limit in force.
    pub mtu: usize,
    /// Gossip and probe interval in force, in milliseconds.
    pub interval_ms: u64,
    /// `probe.suspicion_mult` in force.
    pub suspicion_mult: u32,
    /// `probe.suspicion_max_mult` in force.
    pub suspicion_max_mult: u32,
    /// Runs.
    pub runs: usize,
    /// Seed of run 0 (run `r` uses `seed + r`).
    pub seed: u64,
    /// Cap on measured rounds.
    pub max_rounds: u64,
    /// Over runs where every node got there.
    pub rounds_to_all: Quantiles,
    /// Runs where not every node got there.
    pub incomplete_runs: usize,
    /// Mean of the runs' `t_avg`.
    pub t_avg: Mean,
    /// Mean of the runs' `t_last`.
    pub t_last: Mean,
    /// Residue over runs.
    pub residue: MeanMax,
    /// Messages per node (SWIM probes included).
    pub messages_per_node: Mean,
    /// Gossip exchange messages per node (spread only).
    pub gossip_messages_per_node: Mean,
    /// Transmits carrying the update per node.
    pub updates_sent_per_node: Mean,
    /// Bytes per node.
    pub bytes_per_node: Mean,
    /// Textbook expectation.
    pub theory: Theory,
    /// Broken invariants over all runs.
    pub violations: usize,
    /// Transient stale views below `max_version`, over all runs (not failures; see
    /// [`crate::check`]).
    pub anomalies: u64,
    /// Timer re-arms the engine had to force, over all runs (see [`crate::TIMER_SPIN_DELAY_US`]).
    pub timer_spins: u64,
    /// Detect and false-positives: deaths declared about live nodes, over all runs.
    pub false_deaths: u64,
    /// Detect and false-positives: suspicions declared about live nodes, over all runs.
    pub suspicions: u64,
    /// Detect and false-positives: live node-hours observed, over all runs (divide the two
    /// counts above by it for rates per node-hour).
    pub node_hours: f64,
    /// Detect and false-positives: the largest per-run median of the phi of members that are
    /// up (see [`RunReport::phi_alive`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phi_alive_p50: Option<f64>,
    /// Detect and false-positives: the largest per-run 99th percentile of that phi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phi_alive_p99: Option<f64>,
    /// Detect: intervals until every live node's phi of the crashed node reached the
    /// threshold, over runs where it did.
    pub phi_crossing: Quantiles,
    /// Runs that broke an invariant.
    pub failures: Vec<Failure>,
    /// Every run.
    pub run_reports: Vec<RunReport>,
}

impl Report {
    /// Whether every run kept every invariant.
    pub fn passed(&self) -> bool {
        self.violations == 0
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    if count == 0 { 0.0 } else { sum / count as f64 }
}

/// Formats a latency as the CLI takes it.
pub fn latency_ms(latency: Latency) -> String {
    match latency {
        Latency::Fixed(us) => format!("{}", us as f64 / 1000.0),
        Latency::Uniform(lo, hi) => format!("{}..{}", lo as f64 / 1000.0, hi as f64 / 1000.0),
    }
}

/// Aggregates finished runs.
pub fn aggregate(params: &Params, runs: Vec<RunReport>) -> Report {
    let config = params.node_config();
    let complete: Vec<f64> = runs.iter().filter_map(|r| r.rounds_to_all.map(|x| x as f64)).collect();
    let failures: Vec<Failure> = runs
        .iter()
        .filter(|r| !r.violations.is_empty())
        .map(|r| Failure {
            run: r.run,
            seed: r.seed,
            replay: params.replay_command(r.run),
            violations: r.violations.iter().take(5).cloned().collect(),
        })
        .collect();
    Report {
        scenario: params.scenario.name(),
        nodes: params.nodes,
        exchange: params.exchange.as_str(),
        strategy: params.strategy.as_str(),
        fanout: params.fanout,
        rumor: RumorReport {
            k: params.rumor.k,
            feedback: match params.rumor.feedback {
                RumorFeedback::Feedback => "feedback",
                RumorFeedback::Blind => "blind",
            },
            stop: match params.rumor.stop {
                RumorStop::Counter => "counter",
                RumorStop::Coin => "coin",
            },
        },
        loss: params.loss,
        latency_ms: latency_ms(params.latency),
        mtu: config.mtu,
        interval_ms: config.probe.interval.as_millis() as u64,
        suspicion_mult: config.probe.suspicion_mult,
        suspicion_max_mult: config.probe.suspicion_max_mult,
        runs: runs.len(),
        seed: params.seed,
        max_rounds: params.max_rounds,
        rounds_to_all: Quantiles::of(&complete),
        incomplete_runs: runs.len() - complete.len(),
        t_avg: Mean { mean: mean(runs.iter().map(|r| r.t_avg)) },
        t_last: Mean { mean: mean(runs.iter().map(|r| r.t_last)) },
        residue: MeanMax {
            mean: mean(runs.iter().map(|r| r.residue)),
            max: runs.iter().map(|r| r.residue).fold(0.0, f64::max),
        },
        messages_per_node: Mean { mean: mean(runs.iter().map(|r| r.messages_per_node)) },
        gossip_messages_per_node: Mean { mean: mean(runs.iter().map(|r| r.gossip_messages_per_node)) },
        updates_sent_per_node: Mean { mean: mean(runs.iter().map(|r| r.updates_sent_per_node)) },
        bytes_per_node: Mean { mean: mean(runs.iter().map(|r| r.bytes_per_node)) },
        theory: theory(params.exchange, params.fanout, params.nodes),
        violations: runs.iter().map(|r| r.violations.len()).sum(),
        anomalies: runs.iter().map(|r| r.anomalies).sum(),
        timer_spins: runs.iter().map(|r| r.timer_spins).sum(),
        false_deaths: runs.iter().map(|r| r.false_deaths).sum(),
        suspicions: runs.iter().map(|r| r.suspicions).sum(),
        node_hours: runs.iter().map(|r| r.node_hours).sum(),
        phi_alive_p50: runs.iter().filter_map(|r| r.phi_alive.map(|p| p.p50)).reduce(f64::max),
        phi_alive_p99: runs.iter().filter_map(|r| r.phi_alive.map(|p| p.p99)).reduce(f64::max),
        phi_crossing: Quantiles::of(&runs.iter().filter_map(|r| r.phi_crossing).collect::<Vec<_>>()),
        failures,
        run_reports: runs,
    }
}

/// Runs `params.runs` runs one after another, calling `progress` after each, and aggregates.
pub fn run_many(params: &Params, mut progress: impl FnMut(usize, &RunReport)) -> Result<Report, RunError> {
    let mut runs = Vec::with_capacity(params.runs);
    for run in 0..params.runs {
        let report = run_one(params, run)?;
        progress(run, &report);
        runs.push(report);
    }
    Ok(aggregate(params, runs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_nearest_rank() {
        let q = Quantiles::of(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!((q.mean, q.p50, q.p99, q.max), (Some(2.5), Some(2.0), Some(4.0), Some(4.0)));
        assert_eq!(Quantiles::of(&[]).mean, None);
    }

    #[test]
    fn theory_matches_the_formulas() {
        let push = theory(ExchangeMode::Push, 1, 1000).rounds_to_all.unwrap();
        assert!((push - (1000f64.log2() + 1000f64.ln())).abs() < 1e-9);
        assert!(theory(ExchangeMode::PushPull, 1, 1000).rounds_to_all.unwrap() < push);
        assert_eq!(theory(ExchangeMode::Pull, 3, 1000).rounds_to_all, None);
    }
}
