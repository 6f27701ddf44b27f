//! Rumor mongering as Demers et al. 1987 define it, next to the figures their paper gives.
//!
//! "Epidemic Algorithms for Replicated Database Maintenance" (PODC 1987; Xerox PARC CSL-89-1)
//! simulates one update spreading through n = 1000 sites. Each cycle every infective site
//! contacts one site drawn uniformly at random and pushes (or, in pull, every site asks one
//! and the contacted site answers with the rumors it is infective for). A site loses interest
//! with feedback only when the recipient already knew the rumor, blind after every
//! transmission; with a counter after `k` such events, with a coin with probability `1/k` at
//! each. The paper reports the residue `s` (fraction of sites that never learn the update),
//! the traffic `m` (updates sent per site), and `t_ave` / `t_last` (mean and last cycle at
//! which a site learns it).
//!
//! [`run`] measures the same four figures with the unchanged protocol code in the simulator's
//! textbook setup ([`Params::textbook`]: uniform peers, lockstep rounds, no eager forwarding,
//! no repairs, pulls answered with every hot rumor), one spread run per seed, and puts them
//! next to the paper's where it gives them: Table 1 (push, feedback, counter) and Table 2
//! (push, blind, coin). The paper's Table 3 (pull) is not reproduced here: its figures could
//! not be checked against the paper's text.

use hearsay_core::{ExchangeMode, RumorConfig, RumorFeedback, RumorStop, Strategy};
use serde::Serialize;

use crate::net::Latency;
use crate::report::run_many;
use crate::scenario::{Params, ScenarioKind};
use crate::sim::SimError;

/// Sites in the paper's simulations.
pub const PAPER_NODES: usize = 1000;

/// One row of a table of the paper.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PaperRow {
    /// `k` of the stop rule.
    pub k: u32,
    /// Residue `s`: fraction of sites that never learn the update.
    pub residue: f64,
    /// Traffic `m`: updates sent per site.
    pub traffic: f64,
    /// Mean cycle at which a site learns the update.
    pub t_ave: f64,
    /// Last cycle at which a site learns it.
    pub t_last: f64,
}

const fn row(k: u32, residue: f64, traffic: f64, t_ave: f64, t_last: f64) -> PaperRow {
    PaperRow { k, residue, traffic, t_ave, t_last }
}

/// Table 1 of the paper: push, feedback and counters, 1000 sites.
pub const TABLE_1: [PaperRow; 5] = [
    row(1, 0.18, 1.7, 11.0, 16.8),
    row(2, 0.037, 3.3, 12.1, 16.9),
    row(3, 0.011, 4.5, 12.5, 17.4),
    row(4, 0.0036, 5.6, 12.7, 17.5),
    row(5, 0.0012, 6.7, 12.8, 17.7),
];

/// Table 2 of the paper: push, blind and coin, 1000 sites.
pub const TABLE_2: [PaperRow; 5] = [
    row(1, 0.96, 0.04, 19.0, 38.0),
    row(2, 0.20, 1.6, 17.0, 33.0),
    row(3, 0.060, 2.8, 15.0, 32.0),
    row(4, 0.021, 3.9, 14.1, 32.0),
    row(5, 0.008, 4.9, 13.8, 32.0),
];

/// A rumor mongering variant: exchange, feedback and stop rule (`k` apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variant {
    /// Push or pull.
    pub exchange: ExchangeMode,
    /// Feedback or blind.
    pub feedback: RumorFeedback,
    /// Counter or coin.
    pub stop: RumorStop,
}

impl Variant {
    /// Every variant the paper names: push and pull, feedback and blind, counter and coin.
    pub fn all() -> Vec<Variant> {
        let mut all = Vec::new();
        for exchange in [ExchangeMode::Push, ExchangeMode::Pull] {
            for feedback in [RumorFeedback::Feedback, RumorFeedback::Blind] {
                for stop in [RumorStop::Counter, RumorStop::Coin] {
                    all.push(Variant { exchange, feedback, stop });
                }
            }
        }
        all
    }

    /// The paper's table for this variant, if it has one.
    pub fn paper(self) -> Option<(&'static str, &'static [PaperRow])> {
        match (self.exchange, self.feedback, self.stop) {
            (ExchangeMode::Push, RumorFeedback::Feedback, RumorStop::Counter) => Some(("Table 1", &TABLE_1)),
            (ExchangeMode::Push, RumorFeedback::Blind, RumorStop::Coin) => Some(("Table 2", &TABLE_2)),
            _ => None,
        }
    }

    /// `push feedback counter` and the like.
    pub fn name(self) -> String {
        let feedback = match self.feedback {
            RumorFeedback::Feedback => "feedback",
            RumorFeedback::Blind => "blind",
        };
        let stop = match self.stop {
            RumorStop::Counter => "counter",
            RumorStop::Coin => "coin",
        };
        format!("{} {feedback} {stop}", self.exchange.as_str())
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct TextbookParams {
    /// Sites.
    pub nodes: usize,
    /// Runs per variant and `k`; run `r` uses seed `seed + r`.
    pub runs: usize,
    /// Seed of run 0.
    pub seed: u64,
    /// Values of `k`.
    pub ks: Vec<u32>,
    /// Variants.
    pub variants: Vec<Variant>,
    /// Give up on a run after this many rounds.
    pub max_rounds: u64,
    /// One-way latency (must stay well below the 100 ms round for rounds to be cycles).
    pub latency: Latency,
}

impl Default for TextbookParams {
    fn default() -> Self {
        TextbookParams {
            nodes: PAPER_NODES,
            runs: 50,
            seed: 1,
            ks: vec![1, 2, 3, 4, 5],
            variants: Variant::all(),
            max_rounds: 300,
            latency: Latency::Fixed(1_000),
        }
    }
}

impl TextbookParams {
    /// The simulator parameters of one variant and `k`: a spread run of the rumor strategy,
    /// fanout 1, in the textbook setup.
    pub fn params(&self, variant: Variant, k: u32) -> Params {
        Params {
            nodes: self.nodes,
            exchange: variant.exchange,
            strategy: Strategy::Rumor,
            fanout: 1,
            rumor: RumorConfig { k, feedback: variant.feedback, stop: variant.stop, consecutive: true },
            latency: self.latency,
            scenario: ScenarioKind::Spread,
            runs: self.runs,
            seed: self.seed,
            max_rounds: self.max_rounds,
            textbook: true,
            ..Params::default()
        }
    }
}

/// Measured figures of one variant and `k`, averaged over runs, and the paper's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TextbookRow {
    /// `push feedback counter` and the like.
    pub variant: String,
    /// `k`.
    pub k: u32,
    /// Runs averaged.
    pub runs: usize,
    /// Mean residue.
    pub residue: f64,
    /// Mean updates sent per node.
    pub traffic: f64,
    /// Mean over runs of the mean round at which a node learned the update.
    pub t_ave: f64,
    /// Mean over runs of the last round at which a node learned it.
    pub t_last: f64,
    /// Runs that broke an invariant (should be 0).
    pub violations: usize,
    /// Runs cut at `max_rounds` with a rumor still hot (their figures are partial).
    pub unfinished_runs: usize,
    /// Which table of the paper, if it has one for this variant.
    pub table: Option<&'static str>,
    /// The paper's row for this variant and `k`, if it gives one.
    pub paper: Option<PaperRow>,
}

/// Runs every variant and `k` of `params`, calling `progress` after each.
pub fn run(params: &TextbookParams, mut progress: impl FnMut(&TextbookRow)) -> Result<Vec<TextbookRow>, SimError> {
    let mut rows = Vec::new();
    for &variant in &params.variants {
        for &k in &params.ks {
            let sim_params = params.params(variant, k);
            let report = run_many(&sim_params, |_, _| {})?;
            let paper = variant.paper();
            let unfinished_runs =
                report.run_reports.iter().filter(|r| r.informed.len() as u64 > params.max_rounds).count();
            let row = TextbookRow {
                variant: variant.name(),
                k,
                runs: report.runs,
                residue: report.residue.mean,
                traffic: report.updates_sent_per_node.mean,
                t_ave: report.t_avg.mean,
                t_last: report.t_last.mean,
                violations: report.violations,
                unfinished_runs,
                table: paper.map(|(name, _)| name),
                paper: paper.and_then(|(_, rows)| rows.iter().find(|r| r.k == k).copied()),
            };
            progress(&row);
            rows.push(row);
        }
    }
    Ok(rows)
}

/// A Markdown table: each measured figure, and where the paper gives one, the paper's and the
/// ratio measured / paper.
pub fn markdown(rows: &[TextbookRow]) -> String {
    let mut out = String::from(
        "| variant | k | runs | residue s (paper, ratio) | traffic m (paper, ratio) | t_ave (paper, diff) | t_last (paper, diff) |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let (s, m, ave, last) = match r.paper {
            Some(p) => (
                format!("{} ({}, {})", fig(r.residue), fig(p.residue), ratio(r.residue, p.residue)),
                format!("{:.2} ({}, {})", r.traffic, fig(p.traffic), ratio(r.traffic, p.traffic)),
                format!("{:.2} ({}, {:+.2})", r.t_ave, fig(p.t_ave), r.t_ave - p.t_ave),
                format!("{:.2} ({}, {:+.2})", r.t_last, fig(p.t_last), r.t_last - p.t_last),
            ),
            None => {
                (fig(r.residue), format!("{:.2}", r.traffic), format!("{:.2}", r.t_ave), format!("{:.2}", r.t_last))
            }
        };
        let variant = match r.table {
            Some(table) => format!("{} ({table})", r.variant),
            None => r.variant.clone(),
        };
        out.push_str(&format!("| {variant} | {} | {} | {s} | {m} | {ave} | {last} |\n", r.k, r.runs));
    }
    out
}

/// Three significant digits, enough for residues from 0.96 down to 0.0012.
fn fig(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let digits = (2 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
    format!("{x:.digits$}")
}

fn ratio(measured: f64, paper: f64) -> String {
    if paper == 0.0 { "-".into() } else { format!("x{:.2}", measured / paper) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_is_listed_once_and_only_push_tables_are_given() {
        let all = Variant::all();
        assert_eq!(all.len(), 8);
        let with_table: Vec<String> = all.iter().filter(|v| v.paper().is_some()).map(|v| v.name()).collect();
        assert_eq!(with_table, vec!["push feedback counter", "push blind coin"]);
        for table in [TABLE_1, TABLE_2] {
            assert_eq!(table.iter().map(|r| r.k).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
        }
    }

    #[test]
    fn figures_keep_three_significant_digits() {
        assert_eq!(fig(0.0012), "0.00120");
        assert_eq!(fig(0.18), "0.180");
        assert_eq!(fig(16.8), "16.8");
        assert_eq!(ratio(0.36, 0.18), "x2.00");
    }
}
