//! Names are identities: a second process cannot take a live member's name, while a restart
//! (same address, or after the old life died) still replaces the old generation.

mod util;

use hearsay_core::{Config, Event, MemberStatus, Node, NodeId};
use util::{Cluster, addr, name};

fn conflicts(events: &[Event]) -> Vec<(bool, std::net::SocketAddr, std::net::SocketAddr)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::NameConflict { holder, claimant, refused, .. } => Some((*refused, *holder, *claimant)),
            _ => None,
        })
        .collect()
}

fn formed(seed: u64) -> Cluster {
    let mut c = Cluster::new(4, Config::local(), seed);
    c.nodes[1].set(c.now, "role", b"db").unwrap();
    c.run_until_converged(100).expect("the cluster forms");
    c
}

#[test]
fn a_second_process_claiming_a_live_members_name_is_refused_and_the_member_keeps_its_state() {
    let mut c = formed(1);
    let holder = addr(1);
    let impostor_addr = addr(9);
    // Another process, with a data dir of its own, started as node-1 on another address.
    let impostor =
        Node::new(Config::local(), NodeId::new(name(1), 2, impostor_addr), vec![addr(0)], 99, c.now).unwrap();
    let i = c.add_node(impostor);
    c.run(20);

    assert!(c.nodes[i].is_refused(), "the claimant refuses itself");
    assert!(
        conflicts(&c.events[i]).iter().any(|(refused, h, cl)| *refused && *h == holder && *cl == impostor_addr),
        "the claimant reports who holds its name: {:?}",
        conflicts(&c.events[i])
    );
    for r in [0, 2, 3] {
        let m = c.nodes[r].member(&name(1)).expect("node-1 is still known");
        assert_eq!((m.id.generation, m.id.addr, m.status), (1, holder, MemberStatus::Alive), "on node {r}");
        assert_eq!(c.nodes[r].get(&name(1), "role").map(|v| v.value.to_vec()), Some(b"db".to_vec()), "on node {r}");
    }
    assert!(c.nodes[0].stats().name_conflicts >= 1, "the seed counted the refused claim");
    assert!(
        conflicts(&c.events[1]).iter().any(|(refused, h, cl)| !refused && *h == holder && *cl == impostor_addr),
        "the holder hears that its name was claimed: {:?}",
        conflicts(&c.events[1])
    );
    assert!(!c.nodes[1].is_refused());
    // The refused process stays silent: the cluster keeps running with the real node-1.
    c.down[i] = true;
    c.nodes[1].set(c.now, "role", b"primary").unwrap();
    c.run_until_converged(50).expect("the real members converge");
}

#[test]
fn a_restart_on_the_same_address_replaces_the_old_generation_at_once() {
    let mut c = formed(2);
    // node-2 restarts in place with a higher generation (its persisted one plus one).
    let restarted = Node::new(Config::local(), NodeId::new(name(2), 2, addr(2)), vec![addr(0)], 7, c.now).unwrap();
    c.nodes[2] = restarted;
    c.run(3);
    for r in [0, 1, 3] {
        let m = c.nodes[r].member(&name(2)).expect("node-2 is known");
        assert_eq!((m.id.generation, m.status), (2, MemberStatus::Alive), "on node {r}");
    }
    assert!(c.events.iter().all(|e| conflicts(e).is_empty()), "no conflict for a restart");
}

#[test]
fn a_restart_on_a_new_address_is_accepted_once_the_old_address_is_silent() {
    let mut c = formed(3);
    // node-3's process died; it comes back with a higher generation on another address (a
    // rescheduled pod) before anyone noticed the death.
    c.down[3] = true;
    let moved = Node::new(Config::local(), NodeId::new(name(3), 2, addr(8)), vec![addr(0)], 8, c.now).unwrap();
    let i = c.add_node(moved);
    c.run(10);
    assert!(!c.nodes[i].is_refused());
    for r in [0, 1, 2] {
        let m = c.nodes[r].member(&name(3)).expect("node-3 is known");
        assert_eq!((m.id.generation, m.id.addr, m.status), (2, addr(8), MemberStatus::Alive), "on node {r}");
    }
    assert!(c.events.iter().all(|e| conflicts(e).is_empty()), "no conflict for a move");
}

/// Members (of `c`, other than `slot`) that do not yet hold `slot` alive at `generation`.
fn not_yet(c: &Cluster, slot: usize, generation: u64) -> Vec<usize> {
    (0..c.nodes.len())
        .filter(|&r| r != slot && !c.down[r])
        .filter(|&r| {
            !c.nodes[r]
                .member(&name(slot))
                .is_some_and(|m| m.id.generation == generation && m.status == MemberStatus::Alive)
        })
        .collect()
}

#[test]
fn a_restarted_node_tells_every_member_itself_and_a_first_start_announces_nothing() {
    // Rumors only (no anti-entropy backstop), fanout 1: left to the join rumor, a restart in a
    // 40-node cluster reaches the last members only after several intervals.
    let mut config = Config::local();
    config.strategy = hearsay_core::Strategy::Rumor;
    config.fanout = 1;
    let mut c = Cluster::new(40, config.clone(), 11);
    c.run_until_converged(200).expect("the cluster forms");
    c.run(5);
    assert!((0..40).all(|i| c.nodes[i].stats().restart_announcements == 0), "nobody restarted yet");

    // node-7 restarts in place, joining through node-0 alone.
    c.nodes[7] = Node::new(config.clone(), NodeId::new(name(7), 2, addr(7)), vec![addr(0)], 77, c.now).unwrap();
    let interval = config.gossip_interval;
    // The join exchange (and node-0's hint that it replaced an older life) take a few steps;
    // then every member is told directly, within the interval.
    for _ in 0..4 {
        c.step(interval / 4);
    }
    assert_eq!(c.nodes[7].stats().restart_announcements, 1, "node-7 noticed it restarted");
    assert_eq!(not_yet(&c, 7, 2), Vec::<usize>::new(), "every member holds node-7's new life after one interval");
    assert!(c.events.iter().all(|e| conflicts(e).is_empty()), "no conflict for a restart");

    // A node started for the first time has no older life to replace: it announces nothing.
    let fresh = Node::new(config, NodeId::new(name(40), 1, addr(40)), vec![addr(0)], 40, c.now).unwrap();
    let i = c.add_node(fresh);
    c.run(5);
    assert_eq!(c.nodes[i].stats().restart_announcements, 0);
}
