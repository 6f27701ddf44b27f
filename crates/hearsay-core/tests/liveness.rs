//! Probing, suspicion, refutation and local health, on one virtual clock.

mod util;

use hearsay_core::{Config, Event, MemberStatus};
use std::time::Duration;
use util::{Cluster, name};

fn count(c: &Cluster, pred: impl Fn(&Event) -> bool) -> usize {
    c.events.iter().map(|events| events.iter().filter(|e| pred(e)).count()).sum()
}

#[test]
fn a_healthy_cluster_under_moderate_loss_declares_nobody_dead() {
    let mut c = Cluster::new(20, Config::local(), 21);
    c.run(30);
    c.loss = 0.05;
    c.run(3000);
    assert_eq!(count(&c, |e| matches!(e, Event::MemberDead(_))), 0);
    let probes_ok: u64 = c.nodes.iter().map(|n| n.stats().probes_ok).sum();
    assert!(probes_ok > 20 * 2000, "every node probes about once per interval ({probes_ok})");
}

#[test]
fn a_crashed_node_is_declared_dead_by_all_and_the_accusers_are_named() {
    let mut c = Cluster::new(10, Config::local(), 22);
    c.run(30);
    c.down[7] = true;
    c.run(40);
    for i in (0..10).filter(|i| *i != 7) {
        assert_eq!(c.nodes[i].member(&name(7)).unwrap().status, MemberStatus::Dead, "node {i}");
    }
    let accusers: Vec<String> = c
        .events
        .iter()
        .flatten()
        .filter_map(|e| match e {
            Event::MemberSuspect { id, by, .. } if *id.name == name(7) => Some(by.to_string()),
            _ => None,
        })
        .collect();
    assert!(!accusers.is_empty() && accusers.iter().all(|a| a.starts_with("node-") && *a != name(7)));
}

#[test]
fn a_node_cut_off_briefly_refutes_and_stays_alive() {
    let mut c = Cluster::new(10, Config::local(), 23);
    c.run(30);
    // Cut node 3 off for 2 probe intervals: long enough to be suspected, not to be declared dead.
    c.down[3] = true;
    c.run(2);
    c.down[3] = false;
    c.run(60);
    for i in 0..10 {
        let m = c.nodes[i].member(&name(3)).unwrap();
        assert_eq!(m.status, MemberStatus::Alive, "node {i}: {m:?}");
    }
}

#[test]
fn a_node_that_was_paused_accuses_nobody_while_it_recovers() {
    let mut c = Cluster::new(5, Config::local(), 24);
    c.run(30);
    let late = c.now + Duration::from_secs(10);
    // Node 0 wakes up ten seconds late: its silence says nothing about the others.
    c.nodes[0].handle_timeout(late);
    assert!(c.nodes[0].health_score() > Config::local().probe.max_health_score / 2);
    c.now = late;
    c.run(5);
    assert_eq!(c.nodes[0].stats().suspicions_raised, 0);
    assert!(c.nodes[0].members().iter().all(|m| m.status == MemberStatus::Alive));
}

#[test]
fn partitioned_halves_merge_again_without_help() {
    let mut c = Cluster::new(8, Config::local(), 25);
    c.run(30);
    // Both halves declare the other dead.
    c.partition(&[0, 1, 2, 3], &[4, 5, 6, 7]);
    c.run(100);
    assert_eq!(c.nodes[0].member(&name(5)).unwrap().status, MemberStatus::Dead);
    c.heal();
    c.run(300);
    for i in 0..8 {
        for j in 0..8 {
            let m = c.nodes[i].member(&name(j)).unwrap();
            assert_eq!(m.status, MemberStatus::Alive, "node {i} sees {m:?}");
        }
    }
}

#[test]
fn a_node_that_left_never_asks_to_be_woken_in_the_past() {
    let mut c = Cluster::new(3, Config::local(), 26);
    c.run(20);
    let now = c.now;
    c.nodes[1].leave(now);
    let mut t = now;
    for _ in 0..50 {
        t += Duration::from_millis(10);
        c.nodes[1].handle_timeout(t);
        let next = c.nodes[1].poll_timeout().unwrap();
        assert!(next > t, "woken at {t:?}, asked again for {next:?}");
    }
}

#[test]
fn a_node_that_receives_nothing_learns_it_is_cut_off_and_accuses_nobody() {
    let mut c = Cluster::new(8, Config::local(), 24);
    c.run(30);
    c.deaf[7] = true;
    c.run(40);
    for i in 0..7 {
        assert_eq!(c.nodes[i].member(&name(7)).unwrap().status, MemberStatus::Dead, "node {i}");
    }
    let deaf = &c.nodes[7];
    assert!(deaf.is_isolated());
    assert_eq!(deaf.stats().isolations, 1);
    assert!(c.events[7].iter().any(|e| matches!(e, Event::Isolated)));
    let alive: Vec<String> = deaf
        .members()
        .into_iter()
        .filter(|m| !m.is_self && m.status == MemberStatus::Alive)
        .map(|m| m.id.name.to_string())
        .collect();
    assert!(alive.is_empty(), "the cut-off node still reports {alive:?} alive");
    // It is the one cut off: nobody else was declared dead anywhere.
    let wrongly_dead = count(&c, |e| matches!(e, Event::MemberDead(id) if *id.name != name(7)));
    assert_eq!(wrongly_dead, 0);

    c.deaf[7] = false;
    c.run(60);
    assert!(!c.nodes[7].is_isolated());
    assert!(c.events[7].iter().any(|e| matches!(e, Event::Reconnected)));
    for i in 0..8 {
        for j in 0..8 {
            let m = c.nodes[i].member(&name(j)).unwrap();
            assert_eq!(m.status, MemberStatus::Alive, "node {i} about node {j}: {m:?}");
        }
    }
}

#[test]
fn a_node_that_hears_from_its_peers_never_counts_itself_isolated() {
    let mut c = Cluster::new(8, Config::local(), 25);
    c.loss = 0.2;
    c.run(600);
    assert!(c.nodes.iter().all(|n| n.stats().isolations == 0));
}

#[test]
fn at_20_percent_loss_a_member_is_suspected_only_after_two_failed_probes_in_a_row() {
    let mut c = Cluster::new(12, Config::local(), 26);
    c.run(30);
    c.loss = 0.2;
    c.run(1200);
    let suspicions: u64 = c.nodes.iter().map(|n| n.stats().suspicions_raised).sum();
    let retried: u64 = c.nodes.iter().map(|n| n.stats().probes_retried).sum();
    let failed: u64 = c.nodes.iter().map(|n| n.stats().probes_failed).sum();
    println!("20 % loss, 12 nodes, 1,200 rounds: {failed} probes failed, {retried} retried, {suspicions} suspicions");
    assert_eq!(count(&c, |e| matches!(e, Event::MemberDead(_))), 0);
    assert!(failed > 100 && retried > 0, "hardly any probe failed: the scenario lost nothing");
    // Suspecting at the first failed probe raises about one suspicion per failure; two
    // failures in a row are rare.
    assert!(suspicions * 5 < failed, "{suspicions} suspicions raised for {failed} failed probes");
}
