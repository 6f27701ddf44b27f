//! Epidemic broadcast trees in the simulator: full delivery under loss and crashes, low
//! redundancy once the tree is pruned, and anti-entropy still the backstop.

use hearsay_core::{Config, Strategy};
use hearsay_sim::broadcast::{self, BroadcastParams, Senders};
use hearsay_sim::check::{Checker, converged};
use hearsay_sim::net::{Latency, NetConfig, Partition};
use hearsay_sim::{Bootstrap, Sim, SimConfig};

fn params(nodes: usize, loss: f64, crash_fraction: f64) -> BroadcastParams {
    BroadcastParams {
        nodes,
        strategy: Strategy::Plumtree,
        fanout: 3,
        senders: Senders::One { messages: 8, warmup: 4 },
        loss,
        crash_fraction,
        latency: Latency::Uniform(10_000, 50_000),
        seed: 3,
        max_rounds: 300,
    }
}

#[test]
fn plumtree_delivers_every_write_with_loss() {
    let report = broadcast::run(&params(120, 0.02, 0.0)).unwrap();
    assert_eq!(report.writes, 8);
    assert_eq!(report.delivery, 1.0, "{report:?}");
}

#[test]
fn plumtree_delivers_every_write_to_the_survivors_of_a_crash() {
    let report = broadcast::run(&params(120, 0.0, 0.1)).unwrap();
    assert_eq!(report.crashed, 12);
    assert_eq!(report.delivery, 1.0, "{report:?}");
}

#[test]
fn a_pruned_tree_carries_each_payload_about_once() {
    let report = broadcast::run(&params(150, 0.0, 0.0)).unwrap();
    assert_eq!(report.delivery, 1.0, "{report:?}");
    assert!(report.rmr <= 0.5, "RMR {} after pruning: {report:?}", report.rmr);
    let first = report.first_rmr.unwrap();
    assert!(first > report.rmr, "the first broadcast floods the eager links ({first}), later ones follow the tree");
}

#[test]
fn anti_entropy_still_converges_writes_the_tree_never_carried() {
    let mut config = Config::local();
    config.strategy = Strategy::Plumtree;
    let mut sim = Sim::new(SimConfig {
        nodes: 12,
        config,
        net: NetConfig::default(),
        seed: 9,
        bootstrap: Bootstrap::FullMembership,
    })
    .unwrap();
    sim.run_rounds(3);
    let interval = sim.interval_us();
    let (start_at, heal_at) = (sim.now(), sim.now() + 8 * interval);
    let group_of = (0..12).map(|i| u16::from(i >= 6)).collect();
    sim.net.partitions.push(Partition { group_of, start_at, heal_at });
    sim.set(1, "left", b"a").unwrap();
    sim.set(8, "right", b"b").unwrap();
    sim.run_rounds(7);
    assert!(sim.node(2).unwrap().get("node-1", "left").is_some(), "the tree spreads a write on its side");
    assert!(sim.node(9).unwrap().get("node-1", "left").is_none(), "nothing crosses the cut");
    // After the heal no tree message carries the old writes again: only reconciliation can.
    sim.run_rounds(2);
    let mut checker = Checker::default();
    let mut settled = false;
    for _ in 0..300 {
        checker.check(&sim, &sim.model);
        if converged(&sim, &sim.model).is_ok() {
            settled = true;
            break;
        }
        sim.run_rounds(1);
    }
    assert!(settled, "{:?}", converged(&sim, &sim.model));
    assert!(checker.violations.is_empty(), "{:?}", checker.violations);
}
