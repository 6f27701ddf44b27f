//! Bounded state: whatever datagrams arrive, a node's replicas stay within the per-owner
//! limits and the replica budget, and it tracks no more members than `max_members`.

use std::net::SocketAddr;
use std::time::Duration;

use hearsay_core::wire::{Block, Codec, Digest, MemberUpdate, Message, Push, WireEntry, WireNodeId, WireStatus};
use hearsay_core::{Config, Instant, Node, NodeId, check_name};
use proptest::prelude::*;

const CLUSTER: u32 = 7;

fn config() -> Config {
    let mut config = Config { cluster_id: CLUSTER, ..Config::local() };
    config.limits.max_keys_per_node = 8;
    config.limits.max_value_bytes = 200;
    config.limits.max_bytes_per_node = 600;
    config.limits.max_replica_bytes = 8 * 1024;
    config.limits.max_members = 12;
    config
}

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 1, i], 7946))
}

fn owner_name(i: u8) -> String {
    // A few owners have names no node may accept.
    match i % 20 {
        17 => format!("bad\u{1b}[2J{i}"),
        18 => format!("line\n{i}"),
        19 => String::new(),
        _ => format!("owner-{i}"),
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// A block of owner `owner`: versions from `from`, entries `(key, gap, value length or
    /// tombstone)`, and a garbage-collection mark.
    Block { owner: u8, generation: u8, from: u16, entries: Vec<(u8, u8, Option<u16>)>, last_gc: u16 },
    /// A membership update announcing `name`.
    Update { name: u8, generation: u8, status: u8 },
    /// Time passes (tombstones are collected, members forgotten).
    Tick { secs: u16 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..40, 1u8..3, 0u16..40, prop::collection::vec((0u8..24, 0u8..3, prop::option::weighted(0.8, 0u16..201)), 0..6), 0u16..8)
            .prop_map(|(owner, generation, from, entries, last_gc)| Op::Block { owner, generation, from, entries, last_gc }),
        2 => (0u8..60, 1u8..3, 0u8..4).prop_map(|(name, generation, status)| Op::Update { name, generation, status }),
        1 => (1u16..200).prop_map(|secs| Op::Tick { secs }),
    ]
}

fn packet(op: &Op) -> Option<Message> {
    let wire =
        |i: u8, generation: u8| WireNodeId { name: owner_name(i), generation: u64::from(generation), addr: addr(i) };
    let (blocks, updates) = match op {
        Op::Block { owner, generation, from, entries, last_gc } => {
            let mut version = u64::from(*from);
            let entries: Vec<WireEntry> = entries
                .iter()
                .map(|(key, gap, value)| {
                    version += 1 + u64::from(*gap);
                    WireEntry { key: format!("k{key}"), version, value: value.map(|len| vec![b'v'; usize::from(len)]) }
                })
                .collect();
            let block = Block {
                owner: wire(*owner, *generation),
                heartbeat: 1,
                from_version: u64::from(*from),
                to_version: version,
                last_gc_version: u64::from(*last_gc),
                entries,
            };
            (vec![block], vec![])
        }
        Op::Update { name, generation, status } => {
            let status =
                [WireStatus::Alive, WireStatus::Suspect, WireStatus::Dead, WireStatus::Left][usize::from(*status)];
            let update =
                MemberUpdate { node: wire(*name, *generation), incarnation: 1, status, from: owner_name(*name) };
            (vec![], vec![update])
        }
        Op::Tick { .. } => return None,
    };
    Some(Message::Push(Push {
        exchange_id: 1,
        want_ack: false,
        digest: Digest::default(),
        blocks,
        updates,
        flow: None,
    }))
}

fn check(node: &Node) -> Result<(), TestCaseError> {
    let limits = node.config().limits;
    prop_assert!(node.replica_bytes() <= limits.max_replica_bytes, "{} bytes", node.replica_bytes());
    prop_assert!(node.member_count() <= limits.max_members);
    for m in node.members() {
        prop_assert!(check_name(&m.id.name).is_ok(), "member {:?} was accepted", m.id.name);
        prop_assert!(m.live_keys <= limits.max_keys_per_node, "{} holds {} keys", m.id.name, m.live_keys);
        let bytes: usize = node.keys(&m.id.name).into_iter().flatten().map(|(k, v)| k.len() + v.value.len()).sum();
        prop_assert!(bytes <= limits.max_bytes_per_node, "{} holds {bytes} bytes", m.id.name);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn replicas_stay_within_limits_and_budget_under_any_packet_sequence(ops in prop::collection::vec(op(), 1..300)) {
        let me = NodeId::new("me", 1, addr(250));
        let mut node = Node::new(config(), me, vec![], 3, Instant::ZERO).unwrap();
        let codec = Codec { cluster_id: CLUSTER, max_len: 1400 };
        let mut now = Instant::ZERO;
        for (i, op) in ops.iter().enumerate() {
            now += Duration::from_millis(10);
            match packet(op) {
                Some(message) => {
                    let _ = node.handle_datagram(now, addr(i as u8), &codec.encode(&message));
                }
                None => {
                    if let Op::Tick { secs } = op {
                        now += Duration::from_secs(u64::from(*secs));
                    }
                    node.handle_timeout(now);
                }
            }
            while node.poll_transmit().is_some() {}
            while node.poll_event().is_some() {}
            check(&node)?;
        }
    }
}

#[test]
fn a_name_with_a_control_character_is_dropped_and_counted() {
    let mut node = Node::new(config(), NodeId::new("me", 1, addr(250)), vec![], 3, Instant::ZERO).unwrap();
    let codec = Codec { cluster_id: CLUSTER, max_len: 1400 };
    for bad in [17u8, 18, 19] {
        let op = Op::Update { name: bad, generation: 1, status: 0 };
        let result = node.handle_datagram(Instant::ZERO, addr(1), &codec.encode(&packet(&op).unwrap()));
        assert!(result.is_err());
    }
    assert_eq!(node.stats().dropped.get("invalid_name"), Some(&3));
    assert_eq!(node.member_count(), 1);
    let good = Op::Update { name: 1, generation: 1, status: 0 };
    node.handle_datagram(Instant::ZERO, addr(1), &codec.encode(&packet(&good).unwrap())).unwrap();
    assert_eq!(node.member_count(), 2);
}

#[test]
fn a_node_cannot_be_created_with_a_bad_name() {
    for bad in ["", "esc\u{1b}", "two\nlines", "rtl\u{202e}"] {
        let result = Node::new(config(), NodeId::new(bad, 1, addr(250)), vec![], 3, Instant::ZERO);
        assert!(result.is_err(), "{bad:?}");
    }
}

#[test]
fn membership_updates_beyond_max_members_are_refused_and_counted() {
    let mut node = Node::new(config(), NodeId::new("me", 1, addr(250)), vec![], 3, Instant::ZERO).unwrap();
    let codec = Codec { cluster_id: CLUSTER, max_len: 1400 };
    for name in 0..16 {
        let op = Op::Update { name, generation: 1, status: 0 };
        node.handle_datagram(Instant::ZERO, addr(1), &codec.encode(&packet(&op).unwrap())).unwrap();
    }
    assert_eq!(node.member_count(), 12);
    assert_eq!(node.stats().dropped.get("member_limit"), Some(&5));
}
