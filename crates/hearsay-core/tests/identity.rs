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
