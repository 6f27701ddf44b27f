//! Seed corpora: valid packets of every message type, and node inputs that deliver them.
//!
//! `cargo test -p hearsay-core --test fuzz_bodies -- --ignored write_seed_corpus` writes these
//! into `fuzz/corpus/<target>/seed-*`; libFuzzer then starts from valid packets instead of
//! having to discover the header and postcard layout by itself.

use hearsay_core::wire::{
    Ack, Announcement, Block, Codec, Demand, Digest, DigestEntry, FlowReport, MemberUpdate, Message, Nack, Ping,
    PingAck, PingReq, Push, PushAck, QueryResponse, Syn, SynAck, Tree, UserEvents, WireEntry, WireNodeId, WireQuery,
    WireStatus, WireUserEvent,
};

use super::bodies::{CLUSTER_ID, Kind, sealed_packets};
use super::source::{NAMES, addr};

fn id(i: usize, generation: u64) -> WireNodeId {
    WireNodeId { name: NAMES[i].to_string(), generation, addr: addr(i) }
}

fn digest() -> Digest {
    let entries = (0..4)
        .map(|i| DigestEntry { name: NAMES[i].to_string(), generation: 1, max_version: 3, heartbeat: 9 })
        .collect();
    Digest { slice_bits: 0, slice: 0, checksum: 0x1234_5678, slice_checksums: vec![], entries, members: 1 }
}

fn block(owner: usize) -> Block {
    let entries = vec![
        WireEntry { key: "a".into(), version: 1, value: Some(b"one".to_vec()) },
        WireEntry { key: "b".into(), version: 2, value: None },
        WireEntry { key: "c".into(), version: 3, value: Some(vec![7; 40]) },
    ];
    Block { owner: id(owner, 1), heartbeat: 9, from_version: 0, to_version: 3, last_gc_version: 0, entries }
}

fn updates() -> Vec<MemberUpdate> {
    vec![
        MemberUpdate { node: id(2, 1), incarnation: 1, status: WireStatus::Suspect, from: NAMES[1].into() },
        MemberUpdate { node: id(4, 1), incarnation: 0, status: WireStatus::Alive, from: NAMES[4].into() },
    ]
}

/// One message of every type (two for the types with options), talking about the members the
/// node under test knows.
pub fn messages() -> Vec<Message> {
    vec![
        Message::Syn(Syn {
            exchange_id: 1,
            push_pull: true,
            rumor: false,
            digest: digest(),
            blocks: vec![],
            updates: updates(),
            flow: Some(FlowReport {
                capacity: 11_200,
                truncated: true,
                demands: vec![Demand { name: "m1".into(), bytes_per_round: 3_000, age: 2 }],
            }),
        }),
        Message::Syn(Syn {
            exchange_id: 2,
            push_pull: false,
            rumor: true,
            digest: digest(),
            blocks: vec![block(1)],
            updates: vec![],
            flow: None,
        }),
        Message::SynAck(SynAck {
            exchange_id: 1,
            in_sync: false,
            digest: Some(digest()),
            blocks: vec![block(2)],
            known: vec![0],
            updates: updates(),
            flow: None,
            refer: vec!["n2".into()],
        }),
        Message::SynAck(SynAck {
            exchange_id: 1,
            in_sync: true,
            digest: None,
            blocks: vec![],
            known: vec![],
            updates: vec![],
            flow: None,
            refer: vec![],
        }),
        Message::Ack(Ack { exchange_id: 1, blocks: vec![block(3), block(1)], flow: None }),
        Message::Push(Push {
            exchange_id: 3,
            want_ack: true,
            digest: digest(),
            blocks: vec![block(1)],
            updates: updates(),
            flow: None,
        }),
        Message::PushAck(PushAck { exchange_id: 3, known: vec![0, 1] }),
        Message::Ping(Ping {
            seq: 1,
            target: NAMES[0].into(),
            source: id(1, 1),
            checksum: 0,
            members: 1,
            updates: updates(),
        }),
        Message::PingAck(PingAck { seq: 1, checksum: 0, members: 1, updates: vec![] }),
        Message::PingReq(PingReq { seq: 2, target: id(3, 1), updates: vec![] }),
        Message::Nack(Nack { seq: 2 }),
        Message::Tree(Tree::Gossip(vec![block(1)])),
        Message::Tree(Tree::IHave(vec![Announcement { name: NAMES[2].into(), generation: 1, version: 3 }])),
        Message::Tree(Tree::Graft(vec![Announcement { name: NAMES[3].into(), generation: 1, version: 0 }])),
        Message::Tree(Tree::Prune),
        Message::UserEvents(UserEvents {
            events: vec![WireUserEvent {
                origin: "n1".into(),
                generation: 1,
                ltime: 4,
                name: "deploy".into(),
                payload: b"v2".to_vec(),
                coalesce: false,
            }],
        }),
        Message::Query(WireQuery {
            id: 1,
            origin: WireNodeId { name: "n1".into(), generation: 1, addr: "10.0.0.1:7946".parse().unwrap() },
            ltime: 5,
            name: "load".into(),
            payload: vec![],
            filter_names: vec![],
            filter_tags: vec![("role".into(), "web".into())],
            request_ack: true,
            timeout_ms: 1000,
        }),
        Message::QueryResponse(QueryResponse {
            id: 1,
            ltime: 5,
            from: "n2".into(),
            ack: false,
            payload: b"0.1".to_vec(),
        }),
    ]
}

fn name(message: &Message) -> &'static str {
    message.message_type().as_str()
}

/// A node-input record that delivers `packet` from member `from` after `advance_ms`.
pub fn record(kind: Kind, structured: bool, advance_ms: u16, from: u8, packet: &[u8]) -> Vec<u8> {
    let mut out = vec![kind.byte(structured)];
    out.extend_from_slice(&advance_ms.to_le_bytes());
    out.push(from);
    if matches!(kind, Kind::RawDatagram | Kind::RawStream) {
        let len = packet.len().min(2047) as u16;
        out.extend_from_slice(&len.to_le_bytes());
    }
    out.extend_from_slice(packet);
    out
}

/// `(target, file name, bytes)` for every seed file.
pub fn corpus() -> Vec<(&'static str, String, Vec<u8>)> {
    let codec = Codec { cluster_id: CLUSTER_ID, max_len: usize::MAX };
    let mut out = Vec::new();
    let mut all = Vec::new();
    for (i, message) in messages().iter().enumerate() {
        let packet = codec.encode(message);
        out.push(("decode", format!("seed-{i:02}-{}", name(message)), packet.clone()));
        // Configuration byte, then the packet from m1 and a round later a timeout.
        let mut input = vec![(i as u8).wrapping_mul(23)];
        input.extend(record(Kind::RawDatagram, false, 50, 1, &packet));
        input.extend(record(Kind::Timeout, false, 200, 0, &[]));
        out.push(("node", format!("seed-{i:02}-{}", name(message)), input));
        all.extend(record(Kind::RawDatagram, false, 100, (i % 4) as u8, &packet));
    }
    out.push(("node", "seed-all-types".to_string(), [vec![8], all].concat()));
    for (i, (sealed, _)) in sealed_packets().iter().enumerate() {
        out.push(("open", format!("seed-sealed-{i:02}"), sealed.clone()));
        out.push(("open", format!("seed-untouched-{i:02}"), vec![i as u8, 0]));
        let mut flip = vec![i as u8, 0];
        flip.extend(std::iter::repeat_n(0, sealed.len() - 1));
        flip.push(1);
        out.push(("open", format!("seed-last-bit-{i:02}"), flip));
    }
    // Structured inputs: one record per message type (the byte after the sender picks it),
    // then a local write and a long quiet spell so suspicions expire.
    for t in 0..9u8 {
        let mut input = vec![t * 29];
        input.extend(record(Kind::MessageDatagram, true, 20, 1, &[t, 1, 1, 1, 3, 1, 0, 0, 2]));
        input.extend(record(Kind::Write, true, 20, 0, &[0, 2, 0, 4, b'v', b'a', b'l', b'!']));
        input.extend(record(Kind::Timeout, true, 15_000, 0, &[]));
        input.extend(record(Kind::MessageDatagram, true, 20, 2, &[t, 0, 3, 2, 1, 0, 5, 5]));
        out.push(("node_structured", format!("seed-{t}"), input));
    }
    out
}
