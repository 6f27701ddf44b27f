//! No amplification towards addresses that never proved they receive (see the `verify` module).

mod util;

use std::net::SocketAddr;

use hearsay_core::wire::{Codec, Digest, DigestEntry, Message, Ping, Syn, WireNodeId};
use hearsay_core::{AMPLIFICATION_FACTOR, Config, Instant, Node, NodeId, TransmitKind};
use proptest::prelude::*;
use util::{Cluster, addr};

/// A node holding well over 16 KiB (the stream threshold): its own keys and 200 members.
fn big_node() -> Node {
    let me: SocketAddr = "10.0.0.1:7946".parse().unwrap();
    let mut node = Node::new(Config::lan(), NodeId::new("target", 1, me), vec![], 1, Instant::ZERO).unwrap();
    for i in 0..200u16 {
        let a = SocketAddr::from(([10, 2, (i >> 8) as u8, i as u8], 7946));
        node.add_member(Instant::ZERO, NodeId::new(format!("member-{i:05}"), 1, a));
    }
    let value = vec![b'v'; 400];
    for k in 0..100 {
        node.set(Instant::ZERO, &format!("key-{k:05}"), &value).unwrap();
    }
    while node.poll_transmit().is_some() {}
    node
}

fn victim() -> SocketAddr {
    "192.0.2.7:7946".parse().unwrap()
}

/// Bytes of every transmit towards `to`, and whether any was a stream.
fn drain_to(node: &mut Node, to: SocketAddr) -> (usize, bool) {
    let (mut bytes, mut stream) = (0, false);
    while let Some(t) = node.poll_transmit() {
        if t.to == to {
            bytes += t.payload.len();
            stream |= t.kind == TransmitKind::Stream;
        }
    }
    (bytes, stream)
}

fn empty_syn() -> Message {
    Message::Syn(Syn {
        exchange_id: 7,
        push_pull: true,
        rumor: false,
        digest: Digest::default(),
        blocks: vec![],
        updates: vec![],
        flow: None,
    })
}

#[test]
fn a_small_syn_from_an_unknown_address_gets_at_most_three_times_its_size_and_no_stream() {
    let mut node = big_node();
    let codec = Codec { cluster_id: node.config().cluster_id, max_len: node.config().mtu };
    let packet = codec.encode(&empty_syn());
    assert!(packet.len() <= 24, "a ~20-byte syn, got {}", packet.len());
    node.handle_datagram(Instant::from_millis(1), victim(), &packet).unwrap();
    let (mut out, mut stream) = drain_to(&mut node, victim());
    // Nothing more later either (no delayed stream, no catch-up towards it).
    let interval = node.config().gossip_interval;
    for r in 1..=10 {
        node.handle_timeout(Instant::from_millis(1) + interval * r);
        let (b, s) = drain_to(&mut node, victim());
        out += b;
        stream |= s;
    }
    assert!(!stream, "no stream is dialled to an unverified address");
    assert!(out as u64 <= AMPLIFICATION_FACTOR * packet.len() as u64, "{out} bytes out for {} in", packet.len());
    assert!(node.stats().amplification_limited >= 1, "the cut reply is counted");
}

#[test]
fn a_verified_address_gets_the_full_answer_by_stream() {
    let mut node = big_node();
    let codec = Codec { cluster_id: node.config().cluster_id, max_len: node.config().mtu };
    node.verify_address(Instant::from_millis(1), victim());
    node.handle_datagram(Instant::from_millis(1), victim(), &codec.encode(&empty_syn())).unwrap();
    let (out, stream) = drain_to(&mut node, victim());
    assert!(stream && out > 16 * 1024, "a verified requester gets everything ({out} bytes)");
}

#[test]
fn a_claim_of_more_members_from_an_unverified_address_is_not_answered_with_a_full_digest() {
    let mut node = big_node();
    let codec = Codec { cluster_id: node.config().cluster_id, max_len: node.config().mtu };
    let ping = Ping {
        seq: 1,
        target: "target".into(),
        source: WireNodeId { name: "claimant".into(), generation: 1, addr: victim() },
        checksum: 1,
        members: 100_000,
        updates: vec![],
    };
    let packet = codec.encode(&Message::Ping(ping));
    node.handle_datagram(Instant::from_millis(1), victim(), &packet).unwrap();
    let (out, stream) = drain_to(&mut node, victim());
    assert!(!stream);
    assert!(out as u64 <= AMPLIFICATION_FACTOR * packet.len() as u64, "{out} bytes out for {} in", packet.len());
}

#[derive(Debug, Clone)]
enum Probe {
    Syn { push_pull: bool, rumor: bool, slice_bits: u8, entries: u8, members: u32 },
    Ping { members: u32, checksum: u64 },
}

fn probe() -> impl Strategy<Value = Probe> {
    prop_oneof![
        (any::<bool>(), any::<bool>(), prop_oneof![Just(0u8), 0u8..8, Just(255u8)], 0u8..4, any::<u32>()).prop_map(
            |(push_pull, rumor, slice_bits, entries, members)| Probe::Syn {
                push_pull,
                rumor,
                slice_bits,
                entries,
                members
            }
        ),
        (any::<u32>(), any::<u64>()).prop_map(|(members, checksum)| Probe::Ping { members, checksum }),
    ]
}

fn encode(p: &Probe, codec: &Codec, i: usize) -> Vec<u8> {
    let message = match p {
        Probe::Syn { push_pull, rumor, slice_bits, entries, members } => Message::Syn(Syn {
            exchange_id: i as u32,
            push_pull: *push_pull,
            rumor: *rumor,
            digest: Digest {
                slice_bits: *slice_bits,
                members: *members,
                entries: (0..*entries)
                    .map(|e| DigestEntry {
                        name: format!("member-{:05}", e),
                        generation: 1,
                        max_version: 0,
                        heartbeat: 0,
                    })
                    .collect(),
                ..Digest::default()
            },
            blocks: vec![],
            updates: vec![],
            flow: None,
        }),
        Probe::Ping { members, checksum } => Message::Ping(Ping {
            seq: i as u32,
            target: "target".into(),
            source: WireNodeId { name: "claimant".into(), generation: 1, addr: victim() },
            checksum: *checksum,
            members: *members,
            updates: vec![],
        }),
    };
    codec.encode(&message)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever small packets an unverified address sends, and whenever, the node sends it at
    /// most three times as many bytes, and never by stream.
    #[test]
    fn bytes_towards_an_unverified_address_never_exceed_three_times_what_it_sent(
        probes in proptest::collection::vec((probe(), 0u64..400), 1..24),
    ) {
        let mut node = big_node();
        let codec = Codec { cluster_id: node.config().cluster_id, max_len: node.config().mtu };
        let (mut sent_in, mut out, mut now) = (0usize, 0usize, Instant::from_millis(1));
        for (i, (p, wait)) in probes.iter().enumerate() {
            now += std::time::Duration::from_millis(*wait);
            node.handle_timeout(now);
            let (b, s) = drain_to(&mut node, victim());
            prop_assert!(!s);
            out += b;
            let packet = encode(p, &codec, i);
            sent_in += packet.len();
            let _ = node.handle_datagram(now, victim(), &packet);
            let (b, s) = drain_to(&mut node, victim());
            prop_assert!(!s);
            out += b;
            prop_assert!(out as u64 <= AMPLIFICATION_FACTOR * sent_in as u64, "{} out for {} in", out, sent_in);
        }
    }
}

#[test]
fn a_node_joining_a_cluster_with_big_state_catches_up_by_pulling() {
    // Nodes 0-5 form and hold 36 KB between them; node 6 starts later, seeded with node 0:
    // its first answers are cut to its budget, the rest follows once it answered a probe or
    // an exchange (or by the stream it dials to pull a catch-up).
    let mut c = Cluster::new(7, Config::local(), 71);
    c.down[6] = true;
    let now = c.now;
    let value = vec![b'x'; 1000];
    for i in 0..6 {
        for k in 0..6 {
            c.nodes[i].set(now, &format!("k{k}"), &value).unwrap();
        }
    }
    c.run(40);
    c.down[6] = false;
    c.nodes[6].join(&[addr(0)]);
    assert!(c.run_until_converged(300).is_ok(), "the joiner caught up");
    assert_eq!(c.nodes[6].member_count(), 7);
    assert_eq!(c.nodes[6].keys(&util::name(3)).unwrap().count(), 6);
    let rounds = c.nodes[6].stats().rounds;
    assert!(rounds <= 10, "caught up in {rounds} rounds");
    let streams: u64 = c.nodes.iter().map(|n| n.stats().stream_transmits).sum();
    assert!(streams >= 1, "the state went by stream once the joiner was verified");
}
