use super::*;
use proptest::prelude::*;

fn codec() -> Codec {
    Codec { cluster_id: 0xC0FFEE, max_len: 1400 }
}

fn block() -> Block {
    Block {
        owner: WireNodeId { name: "node-1".into(), generation: 7, addr: "10.1.2.3:7946".parse().unwrap() },
        heartbeat: 42,
        from_version: 3,
        to_version: 5,
        last_gc_version: 1,
        entries: vec![
            WireEntry { key: "a".into(), version: 4, value: Some(b"x".to_vec()) },
            WireEntry { key: "b".into(), version: 5, value: None },
        ],
    }
}

fn digest() -> Digest {
    Digest {
        slice_bits: 2,
        slice: 3,
        checksum: 0xdead_beef,
        slice_checksums: vec![1, 2, 3, 4],
        entries: vec![DigestEntry { name: "n".into(), generation: 1, max_version: 2, heartbeat: 3 }],
        members: 7,
    }
}

fn update() -> MemberUpdate {
    MemberUpdate { node: block().owner, incarnation: 3, status: WireStatus::Suspect, from: "node-2".into() }
}

fn all_messages() -> Vec<Message> {
    vec![
        Message::Syn(Syn {
            exchange_id: 1,
            push_pull: true,
            rumor: false,
            digest: digest(),
            blocks: vec![block()],
            updates: vec![update()],
            flow: Some(FlowReport {
                capacity: 11_200,
                truncated: true,
                demands: vec![Demand { name: "node-4".into(), bytes_per_round: 3_000, age: 2 }],
            }),
        }),
        Message::SynAck(SynAck {
            exchange_id: 2,
            in_sync: false,
            digest: Some(digest()),
            blocks: vec![block()],
            known: vec![0, 3],
            updates: vec![],
            flow: None,
            refer: vec!["node-5".into()],
        }),
        Message::Ack(Ack { exchange_id: 3, blocks: vec![block(), block()], flow: None }),
        Message::Push(Push {
            exchange_id: 4,
            want_ack: true,
            digest: digest(),
            blocks: vec![block()],
            updates: vec![update()],
            flow: None,
        }),
        Message::PushAck(PushAck { exchange_id: 5, known: vec![1] }),
        Message::Ping(Ping {
            seq: 6,
            target: "node-1".into(),
            source: block().owner,
            checksum: 77,
            members: 9,
            updates: vec![update()],
        }),
        Message::PingAck(PingAck { seq: 7, checksum: 5, members: 3, updates: vec![update(), update()] }),
        Message::PingReq(PingReq { seq: 8, target: block().owner, updates: vec![] }),
        Message::Nack(Nack { seq: 9 }),
        Message::Tree(Tree::Gossip(vec![block()])),
        Message::Tree(Tree::IHave(vec![Announcement { name: "node-2".into(), generation: 1, version: 9 }])),
        Message::Tree(Tree::Graft(vec![Announcement { name: "node-3".into(), generation: 2, version: 0 }])),
        Message::Tree(Tree::Prune),
        Message::UserEvents(UserEvents {
            events: vec![WireUserEvent {
                origin: "node-1".into(),
                generation: 2,
                ltime: 3,
                name: "deploy".into(),
                payload: b"v2".to_vec(),
                coalesce: true,
            }],
        }),
        Message::Query(WireQuery {
            id: 4,
            origin: block().owner,
            ltime: 9,
            name: "load".into(),
            payload: b"?".to_vec(),
            filter_names: vec!["node-2".into()],
            filter_tags: vec![("role".into(), "web".into())],
            request_ack: true,
            timeout_ms: 5000,
        }),
        Message::QueryResponse(QueryResponse {
            id: 4,
            ltime: 9,
            from: "node-2".into(),
            ack: false,
            payload: b"0.5".to_vec(),
        }),
    ]
}

#[test]
fn every_message_round_trips() {
    for message in all_messages() {
        let bytes = codec().encode(&message);
        assert_eq!(codec().decode(&bytes), Ok(message));
    }
}

#[test]
fn every_decode_reason_is_a_listed_drop_reason() {
    let errors = [
        DecodeError::Truncated { len: 0, needed: 1 },
        DecodeError::Oversized { len: 2, limit: 1 },
        DecodeError::BadMagic,
        DecodeError::UnsupportedVersion { version: 0 },
        DecodeError::UnsupportedFlags { flags: 1 },
        DecodeError::UnknownMessageType { message_type: 0 },
        DecodeError::ForeignCluster { cluster_id: 1, expected: 2 },
        DecodeError::Malformed { message_type: MessageType::Syn, reason: String::new() },
        DecodeError::Unencrypted,
        DecodeError::Decrypt,
    ];
    for e in errors {
        assert!(crate::DROP_REASONS.contains(&e.reason()), "{}", e.reason());
    }
}

#[test]
fn rejections_have_distinct_reasons() {
    let bytes = codec().encode(&all_messages()[0]);
    assert!(matches!(codec().decode(&bytes[..4]), Err(DecodeError::Truncated { .. })));
    assert!(matches!(codec().decode(&bytes[..bytes.len() - 1]), Err(DecodeError::Truncated { .. })));
    let small = Codec { max_len: 10, ..codec() };
    assert!(matches!(small.decode(&bytes), Err(DecodeError::Oversized { .. })));
    let foreign = Codec { cluster_id: 1, ..codec() };
    assert!(matches!(foreign.decode(&bytes), Err(DecodeError::ForeignCluster { cluster_id: 0xC0FFEE, expected: 1 })));
    let mut wrong_version = bytes.clone();
    wrong_version[2] = 9;
    assert_eq!(codec().decode(&wrong_version), Err(DecodeError::UnsupportedVersion { version: 9 }));
    let mut wrong_type = bytes.clone();
    wrong_type[3] = 77;
    assert_eq!(codec().decode(&wrong_type), Err(DecodeError::UnknownMessageType { message_type: 77 }));
    let mut wrong_magic = bytes.clone();
    wrong_magic[0] = b'X';
    assert_eq!(codec().decode(&wrong_magic), Err(DecodeError::BadMagic));
    let mut flags = bytes;
    flags[4] = 1;
    assert_eq!(codec().decode(&flags), Err(DecodeError::UnsupportedFlags { flags: 1 }));
}

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let _ = codec().decode(&bytes);
    }

    #[test]
    fn decoding_valid_headers_with_arbitrary_bodies_never_panics(
        message_type in 1u8..=9,
        body in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut bytes = Vec::new();
        Header { version: PROTOCOL_VERSION, message_type: MessageType::ALL[usize::from(message_type) - 1], flags: 0, cluster_id: 0xC0FFEE }
            .write(&mut bytes);
        bytes.extend_from_slice(&body);
        let _ = codec().decode(&bytes);
    }

    #[test]
    fn mutated_valid_packets_never_panic(index in 0usize..10_000, byte in any::<u8>(), which in 0usize..9) {
        let mut bytes = codec().encode(&all_messages()[which]);
        let i = index % bytes.len();
        bytes[i] = byte;
        let _ = codec().decode(&bytes);
    }
}
