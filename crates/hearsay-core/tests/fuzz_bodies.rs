//! The fuzz bodies of `fuzz/` as bounded proptests, so CI exercises them on stable, plus a
//! replay of the committed corpora and crash reproducers through the same bodies.
//!
//! The bodies live in `fuzz/src/` (shared with the libFuzzer targets); see that crate's docs
//! for the invariants. Regenerate the seed corpora with
//! `cargo test -p hearsay-core --test fuzz_bodies -- --ignored write_seed_corpus`.

#[path = "../../../fuzz/src/lib.rs"]
mod fuzz;

use std::path::{Path, PathBuf};

use fuzz::bodies::{self, Kind};
use proptest::prelude::*;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn body(target: &str) -> fn(&[u8]) {
    match target {
        "decode" => bodies::decode,
        "open" => bodies::open,
        "node" => |data| bodies::node(data, false),
        "node_structured" => |data| bodies::node(data, true),
        "node_sealed" => bodies::node_sealed,
        other => panic!("no body for target {other}"),
    }
}

const TARGETS: [&str; 5] = ["decode", "open", "node", "node_structured", "node_sealed"];

/// Files of `dir`, sorted; none if the directory is absent.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// A packet with a valid header of type byte `t` (0 and 10 are invalid types) and any body.
fn headed_packet() -> impl Strategy<Value = Vec<u8>> {
    (0u8..11, prop::collection::vec(any::<u8>(), 0..600)).prop_map(|(t, body)| [&bodies::header(t)[..], &body].concat())
}

/// Node records of every kind, built from arbitrary parts.
fn node_input(structured: bool) -> impl Strategy<Value = Vec<u8>> {
    let record = (0u8..8, 0u16..3000, 0u8..5, prop::collection::vec(any::<u8>(), 0..120)).prop_map(
        move |(k, advance, from, payload)| {
            fuzz::seeds::record(Kind::from_byte(k, structured), structured, advance, from, &payload)
        },
    );
    (any::<u8>(), prop::collection::vec(record, 0..24))
        .prop_map(|(config, records)| [vec![config], records.concat()].concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..1600)) {
        bodies::decode(&data);
    }

    #[test]
    fn decode_never_panics_on_headed_bodies_and_round_trips(data in headed_packet()) {
        bodies::decode(&data);
    }

    #[test]
    fn structured_messages_round_trip(data in prop::collection::vec(any::<u8>(), 0..400)) {
        bodies::round_trip(&data);
    }

    #[test]
    fn open_fails_cleanly_on_garbage_and_tampered_packets(data in prop::collection::vec(any::<u8>(), 0..400)) {
        bodies::open(&data);
    }

    #[test]
    fn node_survives_raw_input(data in node_input(false)) {
        bodies::node(&data, false);
    }

    #[test]
    fn node_survives_structured_input(data in node_input(true)) {
        bodies::node(&data, true);
    }

    #[test]
    fn encrypted_node_survives_sealed_input_and_keyring_gossip(data in node_input(true)) {
        bodies::node_sealed(&data);
    }
}

/// Sealed messages of the input's choosing reach the node's handlers: a keyring published by
/// a peer with the largest epoch is adopted, and a local change after it is refused instead of
/// overflowing the epoch.
#[test]
fn a_sealed_keyring_push_with_the_largest_epoch_is_adopted_and_local_changes_refused() {
    use hearsay_core::wire::crypto::seal_for_testing;
    use hearsay_core::wire::{Block, Codec, Digest, Message, Push, WireEntry, WireNodeId};
    use hearsay_core::{Config, Instant, Key, Keyring, KeyringError, Node, NodeId};
    let addr = fuzz::source::addr;
    let config = Config { cluster_id: bodies::CLUSTER_ID, ..Config::local() };
    let mut node = Node::new(config, NodeId::new("me", 1, addr(0)), vec![], 1, Instant::ZERO).unwrap();
    let ring = Keyring::new(Key::from_bytes([1; 32]));
    node.set_keyring(Some(ring.clone()));
    let mut value = u64::MAX.to_be_bytes().to_vec();
    value.extend_from_slice(&[1; 32]);
    value.extend_from_slice(&[2; 32]);
    let entry = WireEntry { key: "__keyring".into(), version: 1, value: Some(value) };
    let owner = WireNodeId { name: "m1".into(), generation: 1, addr: addr(1) };
    let block = Block { owner, heartbeat: 1, from_version: 0, to_version: 1, last_gc_version: 0, entries: vec![entry] };
    let push = Push {
        exchange_id: 1,
        want_ack: false,
        digest: Digest::default(),
        blocks: vec![block],
        updates: vec![],
        flow: None,
    };
    let plain = Codec { cluster_id: bodies::CLUSTER_ID, max_len: 1400 }.encode(&Message::Push(push));
    let sealed = seal_for_testing(&ring, &plain, 99).unwrap();
    node.handle_datagram(Instant::from_millis(1), addr(1), &sealed).unwrap();
    assert_eq!(node.keyring().unwrap().keys().len(), 2, "the published keyring was adopted");
    let result = node.keyring_install(Instant::from_millis(2), Key::from_bytes([3; 32]));
    assert_eq!(result, Err(KeyringError::EpochExhausted));
}

#[test]
fn untouched_sealed_packets_open_and_every_single_bit_flip_is_refused() {
    let packets = bodies::sealed_packets();
    assert!(packets.len() >= 4, "expected several message types, got {}", packets.len());
    for (i, (sealed, _)) in packets.iter().enumerate() {
        bodies::open(&[i as u8, 0]);
        for pos in 0..sealed.len() {
            let mut mask = vec![i as u8, 0];
            mask.extend(std::iter::repeat_n(0, pos));
            mask.push(1 << (pos % 8));
            bodies::open(&mask);
        }
    }
}

/// Replays `fuzz/corpus/<target>/*` through the target's body.
fn replay_corpus(target: &str) {
    let files = files(&fuzz_dir().join("corpus").join(target));
    // The corpora are committed; an empty replay means they went missing.
    assert!(!files.is_empty(), "no corpus files for {target} under {}", fuzz_dir().display());
    for file in files {
        body(target)(&std::fs::read(&file).unwrap());
    }
}

#[test]
fn decode_corpus_replays() {
    replay_corpus("decode");
}

#[test]
fn open_corpus_replays() {
    replay_corpus("open");
}

#[test]
fn node_corpus_replays() {
    replay_corpus("node");
}

#[test]
fn node_structured_corpus_replays() {
    replay_corpus("node_structured");
}

#[test]
fn node_sealed_corpus_replays() {
    replay_corpus("node_sealed");
}

#[test]
fn crash_reproducers_replay_without_panicking() {
    // fuzz/artifacts-regressions/<target>/<file>: inputs that once broke an invariant.
    for target in TARGETS {
        for file in files(&fuzz_dir().join("artifacts-regressions").join(target)) {
            body(target)(&std::fs::read(&file).unwrap());
        }
    }
    let node = files(&fuzz_dir().join("artifacts-regressions").join("node"));
    assert!(node.len() >= 2, "the node reproducers went missing");
}

#[test]
fn seeds_cover_every_message_type() {
    let mut types: Vec<_> = fuzz::seeds::messages().iter().map(|m| m.message_type()).collect();
    types.dedup();
    assert_eq!(types, hearsay_core::wire::MessageType::ALL.to_vec());
    for (target, _, data) in fuzz::seeds::corpus() {
        body(target)(&data);
    }
}

#[test]
#[ignore = "writes the seed corpora into fuzz/corpus; run by hand"]
fn write_seed_corpus() {
    for (target, name, data) in fuzz::seeds::corpus() {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
    }
    let regressions = fuzz_dir().join("artifacts-regressions").join("node");
    std::fs::create_dir_all(&regressions).unwrap();
    std::fs::write(regressions.join("refute-incarnation-overflow"), refute_overflow_input()).unwrap();
}

/// A node input (config byte, one datagram from m1) carrying an accusation against the node
/// under test with incarnation `u64::MAX`.
fn refute_overflow_input() -> Vec<u8> {
    use hearsay_core::wire::{Codec, MemberUpdate, Message, Ping, WireNodeId, WireStatus};
    let me = WireNodeId { name: "me".into(), generation: 1, addr: fuzz::source::addr(0) };
    let accusation =
        MemberUpdate { node: me.clone(), incarnation: u64::MAX, status: WireStatus::Suspect, from: "m1".into() };
    let ping = Message::Ping(Ping {
        seq: 1,
        target: "me".into(),
        source: me,
        checksum: 0,
        members: 1,
        updates: vec![accusation],
    });
    let packet = Codec { cluster_id: bodies::CLUSTER_ID, max_len: usize::MAX }.encode(&ping);
    [vec![0], fuzz::seeds::record(Kind::RawDatagram, false, 0, 1, &packet)].concat()
}

/// Found by the `node_survives_raw_input` proptest: `membership.rs` `apply_update` refuted an
/// accusation against the local node with `u.incarnation + 1`, which overflowed at `u64::MAX`.
#[test]
fn accusation_with_max_incarnation_does_not_panic() {
    bodies::node(&refute_overflow_input(), false);
}

/// Found by the `node` fuzzer: a block with `to_version: u64::MAX` raises the owner's
/// `max_version` to `u64::MAX`; the next anti-entropy digest that does not list that owner made
/// `digest.rs` `depth` compute `member.max_version + 1`.
#[test]
fn block_ending_at_max_version_then_a_digest_does_not_panic() {
    use hearsay_core::wire::{Block, Codec, Digest, Message, Push, Syn, WireNodeId};
    use hearsay_core::{Config, Instant, Node, NodeId};
    let addr = fuzz::source::addr;
    let config = Config { cluster_id: bodies::CLUSTER_ID, ..Config::local() };
    let mut node = Node::new(config, NodeId::new("me", 1, addr(0)), vec![], 1, Instant::ZERO).unwrap();
    node.add_member(Instant::ZERO, NodeId::new("m2", 1, addr(2)));
    let codec = Codec { cluster_id: bodies::CLUSTER_ID, max_len: 1400 };
    let owner = WireNodeId { name: "m2".into(), generation: 1, addr: addr(2) };
    let block =
        Block { owner, heartbeat: 1, from_version: 0, to_version: u64::MAX, last_gc_version: 0, entries: vec![] };
    let push = Push {
        exchange_id: 1,
        want_ack: false,
        digest: Digest::default(),
        blocks: vec![block],
        updates: vec![],
        flow: None,
    };
    node.handle_datagram(Instant::from_millis(1), addr(2), &codec.encode(&Message::Push(push))).unwrap();
    assert_eq!(node.member("m2").unwrap().max_version, u64::MAX);
    // An anti-entropy pull whose digest (all of the hash space) does not list m2.
    let syn = Syn {
        exchange_id: 2,
        push_pull: false,
        rumor: false,
        digest: Digest::default(),
        blocks: vec![],
        updates: vec![],
        flow: None,
    };
    let _ = node.handle_datagram(Instant::from_millis(2), addr(1), &codec.encode(&Message::Syn(syn)));
}
