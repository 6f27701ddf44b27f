//! Encryption, cluster isolation, key rotation and replays.

mod util;

use hearsay_core::{Config, Key, Keyring, MemberStatus, TransmitKind};
use util::{Cluster, name};

fn key(b: u8) -> Key {
    Key::from_bytes([b; 32])
}

fn encrypted(n: usize, seed: u64, k: Key) -> Cluster {
    let mut c = Cluster::new(n, Config::local(), seed);
    for node in &mut c.nodes {
        node.set_keyring(Some(Keyring::new(k.clone())));
    }
    c
}

#[test]
fn an_encrypted_cluster_forms_and_replicates() {
    let mut c = encrypted(5, 31, key(1));
    c.run(30);
    let now = c.now;
    c.nodes[2].set(now, "secret", b"value").unwrap();
    assert!(c.run_until_converged(100).is_ok());
    assert!(c.nodes.iter().all(|n| n.member_count() == 5));
}

#[test]
fn a_node_with_the_wrong_key_never_becomes_a_member_and_is_counted() {
    let mut c = encrypted(4, 32, key(1));
    c.nodes[3].set_keyring(Some(Keyring::new(key(2))));
    c.run(60);
    for i in 0..3 {
        assert!(c.nodes[i].member(&name(3)).is_none(), "node {i} accepted an intruder");
        assert_eq!(c.nodes[i].member_count(), 3);
    }
    assert_eq!(c.nodes[3].member_count(), 1);
    let rejected: u64 = c.nodes.iter().filter_map(|n| n.stats().dropped.get("decrypt")).sum();
    assert!(rejected > 0);
}

#[test]
fn a_plaintext_node_cannot_join_an_encrypted_cluster() {
    let mut c = encrypted(4, 33, key(1));
    c.nodes[3].set_keyring(None);
    c.run(60);
    assert!(c.nodes[0].member(&name(3)).is_none());
    assert!(c.nodes[0].stats().dropped.get("unencrypted").copied().unwrap_or(0) > 0);
}

#[test]
fn a_node_of_another_cluster_is_rejected() {
    let mut c = Cluster::new(4, Config::local(), 34);
    let foreign = Config { cluster_id: 99, ..Config::local() };
    c.nodes[3] = hearsay_core::Node::new(
        foreign,
        hearsay_core::NodeId::new(name(3), 1, util::addr(3)),
        vec![util::addr(0)],
        5,
        c.now,
    )
    .unwrap();
    c.run(60);
    assert!(c.nodes[0].member(&name(3)).is_none());
    assert!(c.nodes[0].stats().dropped.get("foreign_cluster").copied().unwrap_or(0) > 0);
}

#[test]
fn keys_rotate_on_a_running_cluster_without_losing_an_update() {
    let mut c = encrypted(3, 35, key(1));
    c.run(30);
    let mut written = 0;
    let mut write = |c: &mut Cluster| {
        written += 1;
        let now = c.now;
        let i = written % 3;
        c.nodes[i].set(now, &format!("k{written}"), &[written as u8]).unwrap();
        c.run(3);
    };
    let now = c.now;
    c.nodes[0].keyring_install(now, key(2)).unwrap();
    write(&mut c);
    c.run(30);
    assert!(c.nodes.iter().all(|n| n.keyring().unwrap().keys().len() == 2), "install spreads");
    let now = c.now;
    c.nodes[1].keyring_use(now, &key(2)).unwrap();
    write(&mut c);
    c.run(30);
    assert!(c.nodes.iter().all(|n| *n.keyring().unwrap().primary() == key(2)), "use spreads");
    let now = c.now;
    c.nodes[2].keyring_remove(now, &key(1)).unwrap();
    write(&mut c);
    c.run(30);
    assert!(c.nodes.iter().all(|n| n.keyring().unwrap().keys() == [key(2)]), "remove spreads");
    write(&mut c);
    assert!(c.run_until_converged(100).is_ok());
    for n in &c.nodes {
        assert!(n.members().iter().all(|m| m.status == MemberStatus::Alive));
        assert_eq!(
            n.keys(&name(1)).unwrap().count() + n.keys(&name(2)).unwrap().count() + n.keys(&name(0)).unwrap().count(),
            4
        );
        assert!(n.get(&name(0), "__keyring").is_none(), "reserved keys stay hidden");
    }
}

#[test]
fn replayed_packets_cannot_roll_state_back() {
    for encrypt in [false, true] {
        let mut c = if encrypt { encrypted(3, 36, key(1)) } else { Cluster::new(3, Config::local(), 36) };
        c.run(30);
        c.record = true;
        let now = c.now;
        c.nodes[0].set(now, "x", b"old").unwrap();
        c.run(10);
        let now = c.now;
        c.nodes[0].set(now, "x", b"new").unwrap();
        c.nodes[0].delete(now, "x").unwrap();
        c.nodes[0].set(now, "y", b"later").unwrap();
        assert!(c.run_until_converged(100).is_ok());
        let before: Vec<_> = c.nodes.iter().map(|n| n.member(&name(0)).unwrap().max_version).collect();
        let replay = std::mem::take(&mut c.recorded);
        assert!(replay.len() > 10);
        for (from, to, t) in &replay {
            let now = c.now;
            let _ = match t.kind {
                TransmitKind::Datagram => c.nodes[*to].handle_datagram(now, *from, &t.payload),
                TransmitKind::Stream => c.nodes[*to].handle_stream(now, *from, &t.payload),
            };
        }
        for (i, n) in c.nodes.iter().enumerate() {
            assert_eq!(n.member(&name(0)).unwrap().max_version, before[i]);
            assert!(n.get(&name(0), "x").is_none(), "a replayed old value must not resurrect a deleted key");
            assert_eq!(n.get(&name(0), "y").map(|v| &*v.value), Some(&b"later"[..]));
        }
    }
}
