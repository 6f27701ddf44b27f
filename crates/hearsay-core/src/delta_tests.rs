//! Unit tests of delta building and applying, through two nodes' public and crate APIs.

use super::*;
use crate::digest::compare;
use crate::wire::{Codec, Digest, Message, Push};
use crate::{Config, NodeId};

fn node(name: &str, generation: u64, config: Config) -> Node {
    let addr = format!("10.0.0.{}:7946", name.len()).parse().unwrap();
    Node::new(config, NodeId::new(name, generation, addr), vec![], 1, Instant::ZERO).unwrap()
}

/// A node that holds replicas of `owners` owners with `keys` keys each.
fn loaded(owners: usize, keys: usize) -> Node {
    let mut n = node("hub", 1, Config::lan());
    let mut blocks = Vec::new();
    for o in 0..owners {
        let entries: Vec<WireEntry> = (0..keys)
            .map(|k| WireEntry { key: format!("key-{k}"), version: k as u64 + 1, value: Some(vec![b'v'; 40]) })
            .collect();
        blocks.push(Block {
            owner: WireNodeId { name: format!("owner-{o}"), generation: 1, addr: "10.1.0.1:1".parse().unwrap() },
            heartbeat: 1,
            from_version: 0,
            to_version: keys as u64,
            last_gc_version: 0,
            entries,
        });
    }
    let outcomes = n.apply_blocks(Instant::ZERO, &blocks);
    assert!(outcomes.iter().all(|o| *o == Applied::New));
    n
}

#[test]
fn deltas_respect_the_budget_scuttle_depth_and_ascending_versions() {
    let mut hub = loaded(30, 20);
    // The peer knows owner-0 up to version 15, owner-1 up to 2, nothing else.
    let digest = Digest {
        slice_bits: 0,
        slice: 0,
        checksum: 0,
        slice_checksums: vec![],
        entries: vec![
            crate::wire::DigestEntry { name: "owner-0".into(), generation: 1, max_version: 15, heartbeat: 1 },
            crate::wire::DigestEntry { name: "owner-1".into(), generation: 1, max_version: 2, heartbeat: 1 },
        ],
        members: 3,
    };
    let lacking = compare(&mut hub, &digest);
    let plan = hub.plan(lacking);
    let budget = 1400 - 9 - 16;
    let (blocks, overflow) = hub.build_blocks(&plan, budget);
    assert!(overflow, "30 owners x 20 keys of 40 bytes cannot fit one datagram");
    let encoded = Codec { cluster_id: 0, max_len: 1400 }.encode(&Message::Push(Push {
        exchange_id: u32::MAX,
        want_ack: false,
        digest: Digest::default(),
        blocks: blocks.clone(),
        updates: vec![],
        flow: None,
    }));
    assert!(encoded.len() <= 1400, "{} bytes", encoded.len());
    // Owners the peer lacks entirely (depth 21) come before owner-1 (depth 18) and owner-0 (5).
    let first = &blocks[0];
    assert!(first.owner.name != "owner-0" && first.owner.name != "owner-1" && first.from_version == 0);
    for b in &blocks {
        let mut prev = b.from_version;
        for e in &b.entries {
            assert_eq!(e.version, prev + 1, "no gap inside a block");
            prev = e.version;
        }
        assert_eq!(prev, b.to_version, "a cut block ends at its last entry");
    }
}

#[test]
fn a_cut_block_raises_max_version_only_to_its_last_entry() {
    let mut hub = loaded(1, 50);
    let lacking = compare(&mut hub, &Digest::default());
    let plan = hub.plan(lacking);
    let (blocks, overflow) = hub.build_blocks(&plan, 600);
    assert!(overflow);
    let owner_block = blocks.iter().find(|b| b.owner.name == "owner-0").unwrap();
    let mut peer = node("peer", 1, Config::lan());
    peer.apply_blocks(Instant::ZERO, &blocks);
    let m = peer.member("owner-0").unwrap();
    assert_eq!(m.max_version, owner_block.to_version);
    assert!(m.max_version < 50);
    // The next exchange continues exactly there.
    let digest = peer.build_digest(0, 0, 1400);
    let lacking = compare(&mut hub, &digest);
    let plan = hub.plan(lacking);
    let (blocks, _) = hub.build_blocks(&plan, 5000);
    let next = blocks.iter().find(|b| b.owner.name == "owner-0").unwrap();
    assert_eq!(next.from_version, owner_block.to_version);
    peer.apply_blocks(Instant::ZERO, &blocks);
    assert_eq!(peer.member("owner-0").unwrap().max_version, 50);
}

#[test]
fn a_block_with_a_gap_is_dropped_whole() {
    let mut peer = node("peer", 1, Config::lan());
    let block = Block {
        owner: WireNodeId { name: "o".into(), generation: 1, addr: "10.1.0.1:1".parse().unwrap() },
        heartbeat: 1,
        from_version: 5,
        to_version: 6,
        last_gc_version: 0,
        entries: vec![WireEntry { key: "k".into(), version: 6, value: Some(b"v".to_vec()) }],
    };
    peer.apply_blocks(Instant::ZERO, &[block]);
    assert_eq!(peer.member("o").unwrap().max_version, 0);
    assert_eq!(peer.get("o", "k"), None, "no version above max_version is ever held");
}

#[test]
fn peer_behind_a_collected_tombstone_is_reset_with_the_full_map() {
    let mut config = Config::local();
    config.tombstone_grace = std::time::Duration::from_secs(1);
    let mut owner = node("owner", 1, config.clone());
    let mut peer = node("peer", 1, config);
    owner.set(Instant::ZERO, "keep", b"1").unwrap();
    owner.set(Instant::ZERO, "drop", b"2").unwrap();
    // The peer learns both keys.
    let sync = |from: &mut Node, to: &mut Node, now| {
        let digest = to.build_digest(0, 0, 1400);
        let lacking = compare(from, &digest);
        let plan = from.plan(lacking);
        let (blocks, _) = from.build_blocks(&plan, 5000);
        to.apply_blocks(now, &blocks)
    };
    sync(&mut owner, &mut peer, Instant::ZERO);
    assert!(peer.get("owner", "drop").is_some());
    // The peer misses the delete; the owner collects the tombstone.
    owner.delete(Instant::ZERO, "drop").unwrap();
    owner.set(Instant::ZERO, "later", b"3").unwrap();
    owner.handle_timeout(Instant::from_millis(5_000));
    assert_eq!(owner.members.me().last_gc_version(), 3);
    assert!(!owner.members.me().keys().contains_key("drop"));
    // A patch from version 2 would leave "drop" alive forever: the owner must send everything.
    let digest = peer.build_digest(0, 0, 1400);
    let lacking = compare(&mut owner, &digest);
    let plan = owner.plan(lacking);
    let (blocks, _) = owner.build_blocks(&plan, 5000);
    let b = blocks.iter().find(|b| b.owner.name == "owner").unwrap();
    assert_eq!((b.from_version, b.last_gc_version), (0, 3));
    peer.apply_blocks(Instant::from_millis(5_000), &blocks);
    assert!(peer.get("owner", "drop").is_none(), "the collected delete must not be resurrected");
    assert_eq!(peer.get("owner", "keep").map(|v| v.version), Some(1));
    assert_eq!(peer.get("owner", "later").map(|v| v.version), Some(4));
    assert_eq!(peer.member("owner").unwrap().max_version, 4);
}

#[test]
fn restarted_node_with_new_generation_replaces_old_state() {
    let mut old = node("svc", 1, Config::lan());
    old.set(Instant::ZERO, "stale", b"x").unwrap();
    let mut peer = node("peer", 1, Config::lan());
    let digest = peer.build_digest(0, 0, 1400);
    let lacking = compare(&mut old, &digest);
    let (blocks, _) = old.build_blocks(&old.plan(lacking), 5000);
    peer.apply_blocks(Instant::ZERO, &blocks);
    assert!(peer.get("svc", "stale").is_some());

    let mut new = node("svc", 2, Config::lan());
    new.set(Instant::ZERO, "fresh", b"y").unwrap();
    let digest = peer.build_digest(0, 0, 1400);
    let lacking = compare(&mut new, &digest);
    let (blocks, _) = new.build_blocks(&new.plan(lacking), 5000);
    peer.apply_blocks(Instant::ZERO, &blocks);
    assert_eq!(peer.member("svc").unwrap().id.generation, 2);
    assert!(peer.get("svc", "stale").is_none());
    assert!(peer.get("svc", "fresh").is_some());
    // Data of the old generation arriving late is ignored.
    let outcome = peer.apply_blocks(Instant::ZERO, &blocks_of(&mut old));
    assert_eq!(outcome[0], Applied::Ignored);
    assert!(peer.get("svc", "stale").is_none());
}

fn blocks_of(owner: &mut Node) -> Vec<Block> {
    let lacking = compare(owner, &Digest::default());
    let plan = owner.plan(lacking);
    owner.build_blocks(&plan, 5000).0.into_iter().filter(|b| b.owner.name == *owner.id().name).collect()
}

#[test]
fn a_block_ending_at_the_largest_version_does_not_overflow_later_deltas() {
    let mut peer = node("peer", 1, Config::lan());
    let block = Block {
        owner: WireNodeId { name: "o".into(), generation: 1, addr: "10.1.0.1:1".parse().unwrap() },
        heartbeat: 1,
        from_version: 0,
        to_version: u64::MAX,
        last_gc_version: 0,
        entries: vec![WireEntry { key: "k".into(), version: u64::MAX, value: Some(b"v".to_vec()) }],
    };
    peer.apply_blocks(Instant::ZERO, &[block]);
    assert_eq!(peer.member("o").unwrap().max_version, u64::MAX);
    // A digest that does not list the owner makes it "entirely missing": depth saturates.
    let lacking = compare(&mut peer, &Digest::default());
    let plan = peer.plan(lacking);
    assert!(plan.items.iter().any(|(_, from, _)| *from == 0));
}

#[test]
fn restored_state_at_the_largest_version_refuses_writes_instead_of_wrapping() {
    let mut n = node("n", 1, Config::lan());
    n.restore_own([("k".to_string(), b"v".to_vec(), u64::MAX)], u64::MAX);
    assert_eq!(n.set(Instant::ZERO, "k2", b"x"), Err(crate::WriteError::VersionsExhausted));
    assert_eq!(n.get("n", "k").map(|v| v.version), Some(u64::MAX));
}

#[test]
fn invalid_blocks_are_rejected_and_counted() {
    let mut peer = node("peer", 1, Config::lan());
    let bad = Block {
        owner: WireNodeId { name: "o".into(), generation: 1, addr: "10.1.0.1:1".parse().unwrap() },
        heartbeat: 1,
        from_version: 0,
        to_version: 3,
        last_gc_version: 0,
        entries: vec![
            WireEntry { key: "a".into(), version: 2, value: None },
            WireEntry { key: "b".into(), version: 2, value: None },
        ],
    };
    assert_eq!(peer.apply_blocks(Instant::ZERO, &[bad]), vec![Applied::Ignored]);
    assert!(peer.member("o").is_none());
    assert_eq!(peer.stats().dropped.get("invalid_block"), Some(&1));
}
