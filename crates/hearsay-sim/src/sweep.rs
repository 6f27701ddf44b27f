//! Sweeps: the whole comparison in one go — every exchange mode, every strategy, fanout 1 and
//! 3, several cluster sizes — as one table.
//!
//! This module owns the list of configurations and the memory guard; each configuration is an
//! ordinary batch of runs ([`crate::report::run_many`]). Sizes whose full-membership state
//! would not fit the memory budget are skipped and listed, never silently shrunk.

use hearsay_core::{ExchangeMode, Strategy};
use serde::Serialize;

use crate::report::{Report, run_many};
use crate::scenario::{Params, RunError, RunReport};

/// Peak memory per member record held by one node, measured (`/usr/bin/time` on spread runs of
/// 10,000 nodes: 6.45 GiB for 10^8 records, see docs/simulation.md), rounded up; a
/// full-membership run of `n` nodes holds `n * n` of them.
pub const BYTES_PER_MEMBER_RECORD: f64 = 70.0;

/// Estimated peak memory of a full-membership run of `n` nodes, in GiB.
pub fn estimated_gib(n: usize) -> f64 {
    (n as f64) * (n as f64) * BYTES_PER_MEMBER_RECORD / f64::from(1u32 << 30)
}

/// What to sweep.
#[derive(Clone, Debug)]
pub struct SweepParams {
    /// Everything but the swept fields (runs, seed, rumor settings, loss, latency...).
    pub base: Params,
    /// Cluster sizes.
    pub nodes: Vec<usize>,
    /// Fanouts.
    pub fanouts: Vec<usize>,
    /// Exchange modes.
    pub exchanges: Vec<ExchangeMode>,
    /// Strategies.
    pub strategies: Vec<Strategy>,
    /// Sizes estimated to need more than this many GiB are skipped.
    pub max_memory_gib: f64,
}

impl SweepParams {
    /// The comparison of the issue: push, pull, push-pull × anti-entropy, rumor, hybrid ×
    /// fanout 1 and 3 × N = 100, 1,000, 10,000.
    pub fn standard(base: Params) -> SweepParams {
        SweepParams {
            base,
            nodes: vec![100, 1_000, 10_000],
            fanouts: vec![1, 3],
            exchanges: vec![ExchangeMode::Push, ExchangeMode::Pull, ExchangeMode::PushPull],
            strategies: vec![Strategy::AntiEntropy, Strategy::Rumor, Strategy::Hybrid],
            max_memory_gib: 8.0,
        }
    }

    /// Every configuration that will run, in order (small clusters first).
    pub fn configurations(&self) -> Vec<Params> {
        let mut out = Vec::new();
        for &nodes in &self.nodes {
            if estimated_gib(nodes) > self.max_memory_gib {
                continue;
            }
            for &strategy in &self.strategies {
                for &exchange in &self.exchanges {
                    for &fanout in &self.fanouts {
                        out.push(Params { nodes, exchange, strategy, fanout, ..self.base.clone() });
                    }
                }
            }
        }
        out
    }

    /// Sizes left out and why.
    pub fn skipped(&self) -> Vec<Skipped> {
        self.nodes
            .iter()
            .filter(|n| estimated_gib(**n) > self.max_memory_gib)
            .map(|&nodes| Skipped {
                nodes,
                estimated_gib: estimated_gib(nodes),
                reason: format!(
                    "full membership needs about {:.1} GiB ({} x {} member records of ~{} bytes), over the {} GiB budget",
                    estimated_gib(nodes),
                    nodes,
                    nodes,
                    BYTES_PER_MEMBER_RECORD,
                    self.max_memory_gib
                ),
            })
            .collect()
    }
}

/// A size the sweep did not run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Skipped {
    /// Cluster size.
    pub nodes: usize,
    /// Estimated peak memory.
    pub estimated_gib: f64,
    /// Why.
    pub reason: String,
}

/// One row of the sweep table: a configuration's report without its per-run details.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepReport {
    /// One report per configuration (`run_reports` emptied to keep the file small).
    pub rows: Vec<Report>,
    /// Sizes not run.
    pub skipped: Vec<Skipped>,
}

/// Runs every configuration. `progress(config index, config count, run, report)` is called
/// after each run.
pub fn run(
    sweep: &SweepParams,
    mut progress: impl FnMut(usize, usize, &Params, &RunReport),
) -> Result<SweepReport, RunError> {
    let configurations = sweep.configurations();
    let total = configurations.len();
    let mut rows = Vec::with_capacity(total);
    for (i, params) in configurations.iter().enumerate() {
        let mut report = run_many(params, |_, run| progress(i, total, params, run))?;
        report.run_reports.clear();
        rows.push(report);
    }
    Ok(SweepReport { rows, skipped: sweep.skipped() })
}

/// A short label of a configuration: `push-pull/anti-entropy/f1`.
pub fn label(exchange: ExchangeMode, strategy: Strategy, fanout: usize) -> String {
    format!("{}/{}/f{}", exchange.as_str(), strategy.as_str(), fanout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_sweep_skips_sizes_over_the_memory_budget() {
        let mut sweep = SweepParams::standard(Params::default());
        assert!(estimated_gib(1_000) < 1.0);
        assert!(estimated_gib(10_000) < 8.0);
        assert_eq!(sweep.configurations().len(), 3 * 3 * 3 * 2);
        assert!(sweep.skipped().is_empty());
        sweep.nodes.push(20_000);
        assert!(estimated_gib(20_000) > 8.0);
        assert_eq!(sweep.skipped().len(), 1);
        assert_eq!(sweep.skipped()[0].nodes, 20_000);
    }
}
