//! Every scenario, small clusters, a couple of seeds: the checkers pass and the measurements
//! are what the scenario promises.

use hearsay_core::{ExchangeMode, RumorConfig, RumorFeedback, RumorStop, Strategy};
use hearsay_sim::report::run_many;
use hearsay_sim::scenario::{Params, Preset, ScenarioKind};

fn assert_passes(params: &Params) -> hearsay_sim::report::Report {
    let report = run_many(params, |_, _| {}).unwrap();
    assert!(
        report.passed(),
        "{} {}/{} broke invariants: {:#?}",
        params.scenario,
        report.exchange,
        report.strategy,
        report.failures
    );
    report
}

#[test]
fn spread_reaches_every_node_in_every_exchange_mode() {
    for exchange in [ExchangeMode::Push, ExchangeMode::Pull, ExchangeMode::PushPull] {
        for strategy in [Strategy::AntiEntropy, Strategy::Hybrid] {
            let params =
                Params { nodes: 30, runs: 2, seed: 3, exchange, strategy, max_rounds: 400, ..Params::default() };
            let report = assert_passes(&params);
            assert_eq!(report.rounds_to_all.samples, 2, "{exchange:?}/{strategy:?}: {report:#?}");
            assert_eq!(report.residue.max, 0.0);
            // One node starts informed; everyone else needs at least one round.
            assert!(report.rounds_to_all.mean.unwrap() >= 1.0);
            assert!(report.updates_sent_per_node.mean > 0.0 && report.messages_per_node.mean > 0.0);
            for run in &report.run_reports {
                assert_eq!(run.informed.last(), Some(&1.0));
                assert!(run.informed.windows(2).all(|w| w[0] <= w[1]), "the infection curve never drops");
            }
        }
    }
}

#[test]
fn anti_entropy_stays_fast_when_digests_are_cut_in_more_than_64_slices() {
    // 600 owners in 512-byte datagrams: each digest covers one of 128 or more slices. Without
    // the coarse checksum vector an update outside the listed slice would wait for its slice
    // to come round (about 128 exchanges); with it, the update rides in the first exchange
    // whose coarse slice differs.
    let params =
        Params { nodes: 600, runs: 1, seed: 5, mtu: Some(512), textbook: true, max_rounds: 60, ..Params::default() };
    let report = assert_passes(&params);
    let rounds = report.rounds_to_all.mean.expect("every node got the update");
    assert!(rounds <= 20.0, "{rounds} rounds: {report:#?}");
}

#[test]
fn pull_rumor_mongering_cools_when_the_digest_is_sliced() {
    // 200 owners do not fit one 1,400-byte digest. A pull for rumors lists the peer and the
    // requester's recent owners, so responders learn that requesters already have the update
    // and stop sending it (with only the requester's slice to go by, each node used to send it
    // dozens of times and, at N = 1,000, for ever).
    let params = Params {
        nodes: 200,
        runs: 2,
        seed: 11,
        strategy: Strategy::Rumor,
        exchange: ExchangeMode::Pull,
        max_rounds: 300,
        ..Params::default()
    };
    let report = assert_passes(&params);
    assert_eq!(report.incomplete_runs, 0, "{report:#?}");
    assert!(report.updates_sent_per_node.mean < 3.0, "{report:#?}");
}

#[test]
fn rumor_mongering_goes_quiet_and_reports_its_residue() {
    // Blind coin with k = 1: rumors die fast, so some nodes may never hear (Demers et al.).
    let rumor = RumorConfig { k: 1, feedback: RumorFeedback::Blind, stop: RumorStop::Coin, consecutive: false };
    let params = Params {
        nodes: 40,
        runs: 3,
        seed: 8,
        strategy: Strategy::Rumor,
        exchange: ExchangeMode::Push,
        rumor,
        ..Params::default()
    };
    let report = assert_passes(&params);
    for run in &report.run_reports {
        let informed = run.informed.last().copied().unwrap();
        assert!((run.residue - (1.0 - informed)).abs() < 1e-9, "residue is the uninformed fraction at quiet");
        assert!(run.informed.len() < 1000, "the run ended because the rumors went cold");
    }
}

#[test]
fn join_discovers_every_member_from_one_seed() {
    for strategy in [Strategy::AntiEntropy, Strategy::Hybrid] {
        let params = Params {
            nodes: 25,
            runs: 2,
            seed: 21,
            scenario: ScenarioKind::Join,
            strategy,
            max_rounds: 300,
            ..Params::default()
        };
        let report = assert_passes(&params);
        assert_eq!(report.rounds_to_all.samples, 2, "{report:#?}");
    }
}

#[test]
fn partitions_heal_and_both_sides_converge() {
    for exchange in [ExchangeMode::Push, ExchangeMode::PushPull] {
        let params = Params {
            nodes: 24,
            runs: 2,
            seed: 31,
            exchange,
            scenario: ScenarioKind::PartitionHeal,
            strategy: Strategy::Hybrid,
            max_rounds: 300,
            ..Params::default()
        };
        let report = assert_passes(&params);
        assert_eq!(report.rounds_to_all.samples, 2, "every run re-converged after the heal: {report:#?}");
    }
}

#[test]
fn a_partition_longer_than_the_dead_member_grace_heals_within_a_few_rounds() {
    // Each side declares the other dead within a second and forgets it 10 s later, 5 s before
    // the heal; the forgotten generations must not be refused for another grace period.
    let params = Params {
        nodes: 24,
        runs: 2,
        seed: 31,
        scenario: ScenarioKind::PartitionHeal,
        partition_secs: Some(15.0),
        dead_member_grace_secs: Some(10.0),
        max_rounds: 300,
        ..Params::default()
    };
    let report = assert_passes(&params);
    assert_eq!(report.rounds_to_all.samples, 2, "every run re-converged after the heal: {report:#?}");
    let slowest = report.rounds_to_all.max.unwrap();
    println!("partition 15 s, grace 10 s: re-converged in at most {slowest} rounds after the heal");
    assert!(slowest <= 20.0, "took {slowest} rounds after the heal, about a grace period: {report:#?}");
}

#[test]
fn churn_converges_once_faults_stop() {
    for (exchange, strategy) in
        [(ExchangeMode::PushPull, Strategy::Hybrid), (ExchangeMode::Pull, Strategy::AntiEntropy)]
    {
        let params = Params {
            nodes: 20,
            runs: 2,
            seed: 41,
            exchange,
            strategy,
            scenario: ScenarioKind::Churn,
            max_rounds: 300,
            ..Params::default()
        };
        let report = assert_passes(&params);
        assert_eq!(report.rounds_to_all.samples, 2, "{report:#?}");
    }
}

#[test]
fn a_crash_is_declared_dead_by_every_live_node_and_nobody_else_is() {
    let params =
        Params { nodes: 30, runs: 3, seed: 5, scenario: ScenarioKind::Detect, max_rounds: 200, ..Params::default() };
    let report = hearsay_sim::report::run_many(&params, |_, _| {}).unwrap();
    assert_eq!(report.incomplete_runs, 0, "{report:?}");
    assert!(report.rounds_to_all.max.unwrap() < 30.0, "{:?}", report.rounds_to_all);
    assert_eq!(report.false_deaths, 0);
    assert!(report.node_hours > 0.0);
}

#[test]
fn a_calm_cluster_declares_no_live_node_dead() {
    let params = Params {
        nodes: 30,
        runs: 1,
        seed: 6,
        loss: 0.05,
        scenario: ScenarioKind::FalsePositives,
        max_rounds: 1_200,
        ..Params::default()
    };
    let report = hearsay_sim::report::run_many(&params, |_, _| {}).unwrap();
    assert_eq!(report.false_deaths, 0, "{report:?}");
    assert!((report.node_hours - 30.0 * 120.0 / 3600.0).abs() < 0.2, "{}", report.node_hours);
}

#[test]
fn a_rolling_restart_brings_every_node_back_everywhere_within_two_intervals_and_kills_nobody() {
    for (preset, seed) in [(None, 11), (Some(Preset::Lan), 2)] {
        let params = Params {
            nodes: 50,
            runs: 2,
            seed,
            strategy: Strategy::Hybrid,
            fanout: 3,
            preset,
            scenario: ScenarioKind::RollingRestart,
            ..Params::default()
        };
        let report = assert_passes(&params);
        for run in &report.run_reports {
            assert_eq!(run.residue, 0.0, "every restart completed: {run:#?}");
            // A restarted node learns from the peer it joins through that the cluster holds its
            // older life, and tells every member itself (the core's `announce` module): no
            // member waits for the join rumor or a checksum repair.
            assert!(run.t_last <= 2.0, "{preset:?}: slowest restart took {} intervals", run.t_last);
            assert!(run.t_avg <= 0.5, "{preset:?}: restarts took {} intervals on average", run.t_avg);
            assert_eq!((run.false_deaths, run.suspicions), (0, 0), "nobody was suspected or declared dead");
        }
    }
}

#[test]
fn a_join_storm_forms_full_membership_in_a_few_rounds() {
    // 300 nodes start at once, each knowing only slot 0: member counts in digests and probes
    // make the nodes that are behind catch up with one full exchange instead of waiting for
    // one rumor per join (which took about 75 rounds at N = 200), and busy nodes refer askers
    // to the nodes they have answered (4 rounds here; 12 before referrals).
    let params = Params {
        nodes: 300,
        runs: 1,
        seed: 2,
        strategy: Strategy::Hybrid,
        fanout: 3,
        scenario: ScenarioKind::Join,
        max_rounds: 100,
        ..Params::default()
    };
    let report = assert_passes(&params);
    let rounds = report.rounds_to_all.mean.expect("everyone knew everyone");
    assert!(rounds <= 6.0, "full membership took {rounds} rounds");
}
