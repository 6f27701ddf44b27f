//! A run is a pure function of its parameters and seed: the same seed gives the same report,
//! byte for byte.

use hearsay_core::{ExchangeMode, Strategy};
use hearsay_sim::report::run_many;
use hearsay_sim::scenario::{Params, ScenarioKind};

fn json(params: &Params) -> String {
    serde_json::to_string(&run_many(params, |_, _| {}).unwrap()).unwrap()
}

#[test]
fn same_seed_gives_byte_identical_spread_reports() {
    let params = Params { nodes: 40, runs: 2, seed: 11, strategy: Strategy::Hybrid, ..Params::default() };
    let first = json(&params);
    assert_eq!(first, json(&params));
    let other = json(&Params { seed: 12, ..params });
    assert_ne!(first, other, "a different seed must give a different run");
}

#[test]
fn same_seed_gives_byte_identical_churn_reports() {
    let params = Params {
        nodes: 16,
        runs: 1,
        seed: 5,
        scenario: ScenarioKind::Churn,
        exchange: ExchangeMode::Push,
        strategy: Strategy::Hybrid,
        max_rounds: 300,
        ..Params::default()
    };
    assert_eq!(json(&params), json(&params));
}
