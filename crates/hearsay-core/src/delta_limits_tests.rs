//! Unit tests of the per-owner limits and the replica budget on received blocks.

use super::*;
use crate::{Config, NodeId};

fn node(config: Config) -> Node {
    Node::new(config, NodeId::new("hub", 1, "10.0.0.1:7946".parse().unwrap()), vec![], 1, Instant::ZERO).unwrap()
}

fn owner(name: &str) -> WireNodeId {
    WireNodeId { name: name.into(), generation: 1, addr: "10.1.0.1:1".parse().unwrap() }
}

/// A block of `owner`'s versions `(from, from + n]`, one new key per version.
fn block(name: &str, from: u64, n: u64, value_len: usize) -> Block {
    let entries = (from + 1..=from + n)
        .map(|v| WireEntry { key: format!("key-{v}"), version: v, value: Some(vec![b'v'; value_len]) })
        .collect();
    Block { owner: owner(name), heartbeat: 1, from_version: from, to_version: from + n, last_gc_version: 0, entries }
}

fn max_version(n: &Node, name: &str) -> u64 {
    n.member(name).unwrap().max_version
}

fn dropped(n: &Node, reason: &str) -> u64 {
    n.stats().dropped.get(reason).copied().unwrap_or(0)
}

#[test]
fn a_remote_owner_is_cut_at_max_keys_per_node_and_max_version_stays_truthful() {
    let mut config = Config::lan();
    config.limits.max_keys_per_node = 10;
    let mut n = node(config);
    assert_eq!(n.apply_blocks(Instant::ZERO, &[block("o", 0, 15, 4)]), vec![Applied::New]);
    assert_eq!(n.member("o").unwrap().live_keys, 10);
    assert_eq!(max_version(&n, "o"), 10, "versions 11..=15 were not stored, so they are not claimed");
    assert_eq!(dropped(&n, "owner_key_limit"), 1);
    // A further block that only adds keys is refused whole and claims nothing.
    assert_eq!(n.apply_blocks(Instant::ZERO, &[block("o", 10, 5, 4)]), vec![Applied::Ignored]);
    assert_eq!(max_version(&n, "o"), 10);
    assert_eq!(dropped(&n, "owner_key_limit"), 2);
    // Deleting one key makes room for one more, as on the owner itself.
    let mut b = block("o", 10, 2, 4);
    b.entries[0] = WireEntry { key: "key-1".into(), version: 11, value: None };
    assert_eq!(n.apply_blocks(Instant::ZERO, &[b]), vec![Applied::New]);
    assert_eq!((n.member("o").unwrap().live_keys, max_version(&n, "o")), (10, 12));
    assert_eq!(n.replica_bytes(), n.members.recount_bytes());
}

#[test]
fn a_remote_owner_is_cut_at_max_bytes_per_node() {
    let mut config = Config::lan();
    config.limits.max_value_bytes = 1000;
    config.limits.max_bytes_per_node = 3000;
    let mut n = node(config);
    // Each entry is about 906 bytes of key and value: three fit, the fourth does not.
    assert_eq!(n.apply_blocks(Instant::ZERO, &[block("o", 0, 6, 900)]), vec![Applied::New]);
    assert_eq!(n.member("o").unwrap().live_keys, 3);
    assert_eq!(max_version(&n, "o"), 3);
    assert_eq!(dropped(&n, "owner_byte_limit"), 1);
    let held: usize = n.keys("o").unwrap().map(|(k, v)| k.len() + v.value.len()).sum();
    assert!(held <= 3000, "{held}");
}

#[test]
fn the_replica_budget_bounds_all_owners_together_tombstones_and_collections_included() {
    let mut config = Config::lan();
    config.limits.max_value_bytes = 1024;
    config.limits.max_bytes_per_node = 4096;
    config.limits.max_replica_bytes = 16 * 1024;
    let mut n = node(config);
    // One owner deleting and re-deleting the same key over and over: each tombstone queues a
    // collection, and the queue is charged too.
    let mut v = 0;
    for _ in 0..2000 {
        v += 1;
        let entries = vec![WireEntry { key: "churn".into(), version: v, value: None }];
        let b = Block {
            owner: owner("churner"),
            heartbeat: 1,
            from_version: v - 1,
            to_version: v,
            last_gc_version: 0,
            entries,
        };
        n.apply_blocks(Instant::ZERO, &[b]);
        assert!(n.replica_bytes() <= 16 * 1024, "{}", n.replica_bytes());
    }
    assert_eq!(dropped(&n, "replica_budget"), 1, "the churner was cut once, then stopped at its max_version");
    assert_eq!(n.replica_bytes(), n.members.recount_bytes());
    // Collections free what they were charged.
    let before = n.replica_bytes();
    n.members.collect_garbage(Instant::ZERO + n.config.tombstone_grace);
    assert!(n.replica_bytes() < before);
    assert_eq!(n.replica_bytes(), n.members.recount_bytes());
    // Many owners together stop at the budget too.
    for o in 0..40 {
        n.apply_blocks(Instant::ZERO, &[block(&format!("owner-{o}"), 0, 3, 1000)]);
        assert!(n.replica_bytes() <= 16 * 1024, "{}", n.replica_bytes());
    }
    assert!(dropped(&n, "replica_budget") > 1);
    assert_eq!(n.replica_bytes(), n.members.recount_bytes());
}

#[test]
fn a_reset_block_over_a_limit_is_refused_whole_and_the_replica_kept() {
    let mut config = Config::lan();
    config.limits.max_keys_per_node = 5;
    let mut n = node(config);
    n.apply_blocks(Instant::ZERO, &[block("o", 0, 3, 4)]);
    let mut reset = block("o", 0, 8, 4);
    reset.last_gc_version = 6;
    assert_eq!(n.apply_blocks(Instant::ZERO, &[reset]), vec![Applied::Ignored]);
    assert_eq!((n.member("o").unwrap().live_keys, max_version(&n, "o")), (3, 3));
    assert_eq!(dropped(&n, "owner_key_limit"), 1);
}

#[test]
fn a_block_that_repeats_a_key_is_invalid() {
    let mut n = node(Config::lan());
    let mut b = block("o", 0, 2, 4);
    b.entries[1].key = b.entries[0].key.clone();
    assert_eq!(n.apply_blocks(Instant::ZERO, &[b]), vec![Applied::Ignored]);
    assert_eq!(dropped(&n, "invalid_block"), 1);
}

#[test]
fn members_beyond_max_members_are_refused_and_counted() {
    let mut config = Config::lan();
    config.limits.max_members = 4;
    let mut n = node(config);
    for o in 0..10 {
        n.apply_blocks(Instant::ZERO, &[block(&format!("owner-{o}"), 0, 1, 4)]);
    }
    assert_eq!(n.member_count(), 4);
    assert_eq!(dropped(&n, "member_limit"), 7);
}
