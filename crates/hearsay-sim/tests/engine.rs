//! The engine and the checkers on hand-made situations: checkers can fail, pauses queue
//! packets, restarts bring a new generation, partitions cut and heal.

use std::time::Duration;

use hearsay_core::Config;
use hearsay_sim::check::{Checker, all_alive, converged};
use hearsay_sim::net::{NetConfig, Partition};
use hearsay_sim::{Bootstrap, Sim, SimConfig};

fn sim(nodes: usize, seed: u64) -> Sim {
    Sim::new(SimConfig {
        nodes,
        config: Config::local(),
        net: NetConfig::default(),
        seed,
        bootstrap: Bootstrap::FullMembership,
    })
    .unwrap()
}

fn settle(sim: &mut Sim, checker: &mut Checker, max_rounds: u64) -> Option<u64> {
    for round in 0..max_rounds {
        checker.check(sim, &sim.model);
        if converged(sim, &sim.model).is_ok() {
            return Some(round);
        }
        sim.run_rounds(1);
    }
    None
}

#[test]
fn convergence_checker_detects_a_model_the_replicas_disagree_with() {
    let mut sim = sim(8, 1);
    sim.set(2, "color", b"blue").unwrap();
    let mut checker = Checker::default();
    assert!(settle(&mut sim, &mut checker, 100).is_some());
    assert!(checker.violations.is_empty(), "{:?}", checker.violations);
    // A model that expects a write the owner never made.
    let mut wrong = sim.model.clone();
    wrong.record("node-2", 1, 2, "color", Some(b"red"));
    let violation = converged(&sim, &wrong).unwrap_err();
    assert_eq!(violation.invariant, "convergence");
    assert!(violation.detail.contains("node-2"), "{violation:?}");
}

#[test]
fn value_checker_detects_a_value_the_owner_never_wrote() {
    let mut sim = sim(6, 2);
    sim.set(1, "color", b"blue").unwrap();
    sim.run_rounds(20);
    let mut wrong = sim.model.clone();
    wrong.record("node-1", 1, 1, "color", Some(b"green"));
    let mut checker = Checker::default();
    checker.check(&sim, &wrong);
    assert!(checker.violations.iter().any(|v| v.invariant == "no_resurrection"), "{:?}", checker.violations);
}

#[test]
fn version_checker_detects_a_replica_going_back() {
    let mut ahead = sim(5, 3);
    ahead.set(0, "a", b"1").unwrap();
    ahead.set(0, "b", b"2").unwrap();
    ahead.run_rounds(20);
    let mut checker = Checker::default();
    checker.check(&ahead, &ahead.model);
    assert!(checker.violations.is_empty(), "{:?}", checker.violations);
    // The same replicas seen again, but from a fresh cluster that never got those writes.
    let behind = sim(5, 3);
    checker.check(&behind, &ahead.model);
    assert!(checker.violations.iter().any(|v| v.invariant == "versions_only_grow"), "{:?}", checker.violations);
}

#[test]
fn a_paused_node_processes_its_backlog_when_it_resumes() {
    let mut sim = sim(6, 4);
    sim.run_rounds(3);
    sim.pause(3, Duration::from_millis(1_000)).unwrap();
    let received_before = sim.node(3).unwrap().stats().received.iter().map(|c| c.messages).sum::<u64>();
    sim.set(0, "k", b"v").unwrap();
    sim.run_rounds(5);
    let node = sim.node(3).unwrap();
    assert!(node.get("node-0", "k").is_none(), "a paused node learns nothing");
    assert_eq!(node.stats().received.iter().map(|c| c.messages).sum::<u64>(), received_before);
    sim.run_rounds(6);
    let node = sim.node(3).unwrap();
    assert!(node.stats().received.iter().map(|c| c.messages).sum::<u64>() > received_before);
    let mut checker = Checker::default();
    assert!(settle(&mut sim, &mut checker, 100).is_some());
    assert!(checker.violations.is_empty(), "{:?}", checker.violations);
}

#[test]
fn a_restarted_node_comes_back_with_a_new_generation_and_its_old_keys_go() {
    let mut sim = sim(6, 5);
    sim.set(2, "old", b"x").unwrap();
    sim.run_rounds(10);
    assert!(sim.node(4).unwrap().get("node-2", "old").is_some());
    sim.crash(2);
    sim.run_rounds(5);
    sim.restart(2).unwrap();
    sim.set(2, "new", b"y").unwrap();
    let mut checker = Checker::default();
    assert!(settle(&mut sim, &mut checker, 200).is_some());
    assert!(checker.violations.is_empty(), "{:?}", checker.violations);
    let replica = sim.node(4).unwrap();
    assert_eq!(replica.member("node-2").unwrap().id.generation, 2);
    assert!(replica.get("node-2", "old").is_none());
    assert!(replica.get("node-2", "new").is_some());
}

#[test]
fn a_partition_keeps_a_write_on_its_side_until_it_heals() {
    let mut sim = sim(8, 6);
    sim.run_rounds(3);
    let interval = sim.interval_us();
    let (start_at, heal_at) = (sim.now(), sim.now() + 20 * interval);
    sim.net.partitions.push(Partition { group_of: vec![0, 0, 0, 0, 1, 1, 1, 1], start_at, heal_at });
    sim.set(1, "side", b"a").unwrap();
    sim.run_rounds(15);
    assert!(sim.node(2).unwrap().get("node-1", "side").is_some(), "the write spreads on its side");
    for other in 4..8 {
        assert!(sim.node(other).unwrap().get("node-1", "side").is_none(), "node-{other} is across the cut");
    }
    sim.run_rounds(6);
    let mut checker = Checker::default();
    assert!(settle(&mut sim, &mut checker, 300).is_some(), "{:?}", converged(&sim, &sim.model));
    assert!(checker.violations.is_empty(), "{:?}", checker.violations);
}

#[test]
fn a_node_that_leaves_is_seen_as_left_and_stops() {
    let mut sim = sim(6, 7);
    sim.run_rounds(3);
    sim.leave(5, 3).unwrap();
    sim.run_rounds(6);
    assert!(sim.node(5).is_none(), "the node stops after lingering");
    let status = sim.node(0).unwrap().member("node-5").unwrap().status;
    assert_eq!(status, hearsay_core::MemberStatus::Left);
}

#[test]
fn all_alive_fails_while_a_paused_node_is_seen_dead_and_holds_once_it_refutes() {
    let mut sim = sim(8, 4);
    sim.run_rounds(20);
    assert_eq!(all_alive(&sim), Ok(()));
    // Paused far longer than the suspicion timeout: the others declare it dead.
    sim.pause(5, Duration::from_secs(20)).unwrap();
    sim.run_rounds(150);
    let violation = all_alive(&sim).unwrap_err();
    assert_eq!(violation.invariant, "all_alive");
    assert!(violation.detail.contains("node-5"), "{}", violation.detail);
    // Resumed, it learns it was declared dead and refutes with a higher incarnation.
    let healed = (0..300).find(|_| {
        sim.run_rounds(1);
        all_alive(&sim).is_ok()
    });
    assert!(healed.is_some(), "{:?}", all_alive(&sim));
}
