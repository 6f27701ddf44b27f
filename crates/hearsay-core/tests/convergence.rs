//! Multi-node behaviour on one virtual clock.

mod util;

use hearsay_core::{Config, Event, ExchangeMode, MemberStatus, Strategy};
use std::time::Duration;
use util::{Cluster, name};

fn config(exchange: ExchangeMode, strategy: Strategy) -> Config {
    Config { exchange, strategy, ..Config::local() }
}

#[test]
fn nodes_discover_each_other_through_one_seed() {
    let mut c = Cluster::new(8, Config::local(), 1);
    c.run(30);
    for node in &c.nodes {
        assert_eq!(node.member_count(), 8, "{} knows {:?}", node.id(), node.members());
        assert!(node.members().iter().all(|m| m.status == MemberStatus::Alive));
    }
}

#[test]
fn writes_and_deletes_reach_every_node_in_every_mode_and_strategy() {
    for exchange in [ExchangeMode::Push, ExchangeMode::Pull, ExchangeMode::PushPull] {
        for strategy in [Strategy::AntiEntropy, Strategy::Rumor, Strategy::Hybrid] {
            let mut c = Cluster::new(6, config(exchange, strategy), 2);
            c.run(30);
            let now = c.now;
            c.nodes[3].set(now, "color", b"blue").unwrap();
            c.nodes[5].set(now, "load", b"0.5").unwrap();
            c.nodes[5].set(now, "gone", b"soon").unwrap();
            c.run(2);
            let now = c.now;
            c.nodes[5].delete(now, "gone").unwrap();
            let rounds = c.run_until_converged(200);
            assert!(rounds.is_ok(), "{exchange:?}/{strategy:?}: {rounds:?}");
            assert_eq!(c.nodes[0].get(&name(3), "color").map(|v| &*v.value), Some(&b"blue"[..]));
            assert!(c.nodes[1].get(&name(5), "gone").is_none());
        }
    }
}

#[test]
fn a_crashed_node_is_suspected_then_declared_dead() {
    let mut c = Cluster::new(5, Config::local(), 3);
    c.run(40);
    c.down[4] = true;
    c.run(60);
    for i in 0..4 {
        let m = c.nodes[i].member(&name(4)).unwrap();
        assert_eq!(m.status, MemberStatus::Dead, "node {i}: {m:?}");
        assert!(c.events[i].iter().any(|e| matches!(e, Event::MemberSuspect { id, .. } if *id.name == name(4))));
        assert!(c.events[i].iter().any(|e| matches!(e, Event::MemberDead(id) if *id.name == name(4))));
    }
}

#[test]
fn graceful_leave_is_seen_as_left_everywhere() {
    let mut c = Cluster::new(5, Config::local(), 4);
    c.run(30);
    let now = c.now;
    c.nodes[2].leave(now);
    c.run(10);
    for i in [0, 1, 3, 4] {
        assert_eq!(c.nodes[i].member(&name(2)).unwrap().status, MemberStatus::Left, "node {i}");
    }
}

#[test]
fn loss_delays_but_does_not_prevent_convergence() {
    let mut c = Cluster::new(10, Config::local(), 5);
    c.loss = 0.3;
    c.run(40);
    for i in 0..10 {
        let now = c.now;
        c.nodes[i].set(now, "k", format!("v{i}").as_bytes()).unwrap();
    }
    c.run(5);
    c.loss = 0.0;
    assert!(c.run_until_converged(100).is_ok());
}

#[test]
fn same_seed_gives_byte_identical_transmits() {
    let run = |seed| {
        let mut c = Cluster::new(7, Config::local(), seed);
        c.loss = 0.1;
        c.run(20);
        let now = c.now;
        c.nodes[2].set(now, "x", b"1").unwrap();
        c.run(20);
        (c.wire_hash, c.delivered)
    };
    assert_eq!(run(11), run(11));
    assert_ne!(run(11).0, run(12).0);
}

#[test]
fn ttl_keys_expire_everywhere() {
    let mut c = Cluster::new(4, Config::local(), 6);
    c.run(20);
    let now = c.now;
    c.nodes[1].set_with_ttl(now, "lease", b"x", Duration::from_secs(2)).unwrap();
    c.run(5);
    assert!(c.nodes[3].get(&name(1), "lease").is_some());
    c.run(40);
    assert!(c.nodes[1].get(&name(1), "lease").is_none());
    assert!(c.nodes[3].get(&name(1), "lease").is_none());
}

#[test]
fn a_node_far_behind_is_served_over_a_stream() {
    // Rumors carry a burst only in part, so peers fall behind and anti-entropy catches them up
    // (under Plumtree each write goes down the tree as it is made: nobody falls behind, and a
    // graft of a large state is what takes the stream, see `bad_input.rs` in the library).
    let mut config = Config::local();
    config.strategy = Strategy::Hybrid;
    let mut c = Cluster::new(3, config, 7);
    c.run(20);
    let now = c.now;
    for k in 0..300 {
        c.nodes[0].set(now, &format!("key-{k:03}"), &[b'x'; 100]).unwrap();
    }
    c.run(40);
    assert!(c.run_until_converged(100).is_ok());
    let streams: u64 = c.nodes.iter().map(|n| n.stats().stream_transmits).sum();
    assert!(streams > 0, "30 KB of missing state must travel over a stream");
    for node in &c.nodes {
        assert_eq!(node.stats().dropped.get("oversized_outgoing"), None);
    }
}

#[test]
fn garbage_input_is_dropped_counted_and_changes_nothing() {
    let mut c = Cluster::new(3, Config::local(), 8);
    c.run(20);
    let before = c.nodes[1].members();
    let from = util::addr(9);
    let now = c.now;
    assert!(c.nodes[1].handle_datagram(now, from, b"").is_err());
    assert!(c.nodes[1].handle_datagram(now, from, b"HS\x01\x01\x00\x00\x00\x00\x00\xff\xff\xff").is_err());
    assert!(c.nodes[1].handle_datagram(now, from, &[0u8; 2000]).is_err());
    assert!(c.nodes[1].handle_stream(now, from, b"not a frame").is_err());
    let dropped: u64 = c.nodes[1].stats().dropped.values().sum();
    assert_eq!(dropped, 4);
    assert_eq!(c.nodes[1].members(), before);
    let now = c.now;
    c.nodes[2].set(now, "still", b"works").unwrap();
    assert!(c.run_until_converged(50).is_ok());
}

#[test]
fn rumor_residue_is_repaired_within_a_few_rounds_of_going_quiet() {
    let mut config = Config::local();
    config.strategy = Strategy::Hybrid;
    config.anti_entropy_every = 10_000; // take periodic anti-entropy out of the picture
    config.rumor.k = 1;
    config.rumor.feedback = hearsay_core::RumorFeedback::Blind; // a large residue
    for seed in 0..5 {
        let mut c = Cluster::new(30, config.clone(), 100 + seed);
        c.run(60);
        assert!(c.run_until_converged(200).is_ok(), "membership first");
        let now = c.now;
        c.nodes[7].set(now, "k", b"v").unwrap();
        let rounds = c.run_until_converged(40);
        assert!(rounds.is_ok(), "seed {seed}: {rounds:?}");
    }
    let mut c = Cluster::new(30, config, 100);
    c.run(60);
    let repairs: u64 = c.nodes.iter().map(|n| n.stats().repairs).sum();
    assert!(repairs > 0, "joining leaves a residue that only checksum repairs can close here");
}

#[test]
fn large_clusters_with_long_names_never_drop_their_own_messages_as_oversized() {
    let mut config = Config::local();
    config.limits.max_key_bytes = 256;
    let mut c = Cluster::new(120, config, 9);
    c.run(80);
    let now = c.now;
    for i in 0..120 {
        let key = format!("{}-{}", "k".repeat(120), i % 7);
        c.nodes[i].set(now, &key, &[b'v'; 300]).unwrap();
    }
    c.run(80);
    for n in &c.nodes {
        assert_eq!(n.stats().dropped.get("oversized_outgoing"), None, "{:?}", n.stats());
        assert_eq!(n.member_count(), 120);
    }
    assert!(c.run_until_converged(300).is_ok());
}
