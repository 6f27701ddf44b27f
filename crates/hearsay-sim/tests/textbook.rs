//! The textbook setup reproduces Demers et al. 1987 (Tables 1 and 2: push rumor mongering on
//! 1000 sites) within stated tolerances, with the unchanged protocol code.
//!
//! One row per table, k = 2, four runs (seeds 1..=4) at 1000 nodes: the rows where the
//! variants of the definitions differ most. Traffic has little spread from run to run and is
//! the sharpest check: for push, feedback, counter at k = 2 a stand-alone model of the
//! definitions gives 2.82 updates per node when every unnecessary push counts, 3.06 when a
//! useful push resets the counter, 3.04 when feedback judges against the recipient's state at
//! the start of the cycle, and the paper's 3.3 only with both (`Config::lockstep_rounds`,
//! `RumorConfig::consecutive`); without the reset this test measures 3.03 and fails. Residue
//! is checked within a factor, t_last within a couple of cycles (the paper's figures are means
//! of an unstated number of runs).
//!
//! t_ave is not the paper's: over 50 runs it comes out 0.4 to 2.7 cycles lower in every row
//! of both tables, also in the stand-alone model, while t_last agrees; how the paper averaged
//! is not stated. The test holds t_ave within 3 cycles below the paper's, so a change in
//! either direction shows. `hearsay sim textbook` prints every row (docs/simulation.md).

use hearsay_core::{ExchangeMode, RumorFeedback, RumorStop};
use hearsay_sim::textbook::{self, TextbookParams, Variant};

struct Tolerance {
    /// Measured residue / paper residue within `1/f ..= f`.
    residue_factor: f64,
    /// |measured traffic / paper traffic - 1| at most this.
    traffic: f64,
    /// |measured t_last - paper t_last| at most this many cycles.
    t_last: f64,
}

/// Measured t_ave lies within this many cycles below the paper's (see the module docs).
const T_AVE_BELOW: f64 = 3.0;

fn check(variant: Variant, k: u32, tolerance: Tolerance) {
    let params = TextbookParams { runs: 4, ks: vec![k], variants: vec![variant], ..TextbookParams::default() };
    let rows = textbook::run(&params, |_| {}).unwrap();
    let [row] = rows.as_slice() else { panic!("one row expected: {rows:?}") };
    let table = textbook::markdown(&rows);
    assert_eq!((row.violations, row.unfinished_runs), (0, 0), "{table}");
    let paper = row.paper.expect("the paper has this row");
    let residue_ratio = row.residue / paper.residue;
    assert!(
        (1.0 / tolerance.residue_factor..=tolerance.residue_factor).contains(&residue_ratio),
        "residue {}\n{table}",
        row.residue
    );
    assert!((row.traffic / paper.traffic - 1.0).abs() <= tolerance.traffic, "traffic {}\n{table}", row.traffic);
    assert!((row.t_last - paper.t_last).abs() <= tolerance.t_last, "t_last {}\n{table}", row.t_last);
    assert!((paper.t_ave - T_AVE_BELOW..=paper.t_ave).contains(&row.t_ave), "t_ave {}\n{table}", row.t_ave);
}

#[test]
fn push_feedback_counter_matches_table_1() {
    let variant = Variant { exchange: ExchangeMode::Push, feedback: RumorFeedback::Feedback, stop: RumorStop::Counter };
    check(variant, 2, Tolerance { residue_factor: 1.5, traffic: 0.05, t_last: 1.5 });
}

#[test]
fn push_blind_coin_matches_table_2() {
    let variant = Variant { exchange: ExchangeMode::Push, feedback: RumorFeedback::Blind, stop: RumorStop::Coin };
    // The last infections of a rumor that dies by coin flips are a long, thin tail: t_last
    // varies by several cycles from run to run (20 runs: 32.8; these 4: 36.0).
    check(variant, 2, Tolerance { residue_factor: 1.25, traffic: 0.05, t_last: 4.0 });
}
