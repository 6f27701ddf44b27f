//! The fuzz bodies and the invariants they assert (see the crate docs for the list).

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use hearsay_core::wire::crypto::{SEAL_OVERHEAD, open as open_packet, seal_for_testing};
use hearsay_core::wire::{Block, Digest, Message, Push, WireEntry, WireNodeId};
use hearsay_core::wire::{Codec, DecodeError, HEADER_LEN, MAGIC, PROTOCOL_VERSION};
use hearsay_core::{
    Config, Event, ExchangeMode, Instant, Key, Keyring, Node, NodeId, RumorFeedback, RumorStop, Strategy, TransmitKind,
    WriteError,
};

use super::source::{KEYS, NAMES, Source, addr};

/// The cluster id every body and seed uses.
pub const CLUSTER_ID: u32 = 0x4853_0001;
/// Datagram limit of the decode body (the presets' MTU).
pub const DATAGRAM_MAX: usize = 1400;
/// Stream limit of the decode body: larger than any fuzz input, so the body is always parsed.
pub const STREAM_MAX: usize = 1 << 20;
/// Most records one node input is cut into (bounds the time one input takes).
pub const MAX_RECORDS: usize = 96;

/// A packet header for message type byte `message_type` (valid or not) and our cluster.
pub fn header(message_type: u8) -> [u8; HEADER_LEN] {
    let id = CLUSTER_ID.to_be_bytes();
    [MAGIC[0], MAGIC[1], PROTOCOL_VERSION, message_type, 0, id[0], id[1], id[2], id[3]]
}

/// `Codec::decode` never panics, and what it accepts survives a re-encode; then the same
/// bytes, read as a structured message, must round-trip through the codec.
pub fn decode(data: &[u8]) {
    for max_len in [DATAGRAM_MAX, STREAM_MAX] {
        let codec = Codec { cluster_id: CLUSTER_ID, max_len };
        let first = codec.decode(data);
        assert_eq!(first, codec.decode(data), "decoding is not a pure function of the bytes");
        let Ok(message) = first else { continue };
        let again = codec.encode(&message);
        // postcard ignores trailing bytes and may accept long varints; the canonical
        // encoding is never longer than what was accepted, so it fits the same limit.
        assert!(again.len() <= data.len(), "re-encoding grew {} -> {} bytes: {message:?}", data.len(), again.len());
        assert_eq!(codec.decode(&again), Ok(message), "re-encoded message decodes differently");
    }
    round_trip(data);
}

/// A message built from `data` encodes and decodes back to itself.
pub fn round_trip(data: &[u8]) {
    let message = Source::new(data).message();
    let codec = Codec { cluster_id: CLUSTER_ID, max_len: usize::MAX };
    let bytes = codec.encode(&message);
    assert_eq!(&bytes[..HEADER_LEN], &header(message.message_type() as u8), "header of {message:?}");
    // A message with a bad member name is refused at decoding, as a whole.
    let expected = match message.check_names() {
        Ok(()) => Ok(message),
        Err(error) => Err(DecodeError::InvalidName { message_type: message.message_type(), error }),
    };
    assert_eq!(codec.decode(&bytes), expected);
}

fn key(byte: u8) -> Key {
    Key::from_bytes([byte; 32])
}

/// The sealing key: derived from what this build's nodes send, so packets sealed by another
/// build (a corpus keeps them, and the fuzzer learns them from comparisons) do not open here
/// and every packet that opens is one of [`sealed_packets`].
fn sealing_key() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut bytes = [0u8; 32];
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for (i, chunk) in bytes.chunks_mut(8).enumerate() {
            for payload in exchange(None) {
                for byte in payload.iter().chain(&[i as u8]) {
                    hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3);
                }
            }
            chunk.copy_from_slice(&hash.to_le_bytes());
        }
        Key::from_bytes(bytes)
    })
}

/// The keyring of the receiving side: its primary is another key, so opening has to try a
/// second one.
pub fn receiver_keyring() -> Keyring {
    Keyring::with_keys(key(2), [sealing_key().clone()])
}

/// Every packet of a short exchange between two nodes sealing with `keyring` (if any).
fn exchange(keyring: Option<Keyring>) -> Vec<Vec<u8>> {
    let config = Config { cluster_id: CLUSTER_ID, ..Config::local() };
    let mut nodes: Vec<Node> = (0..2)
        .filter_map(|i| {
            let id = NodeId::new(NAMES[i], 1, addr(i));
            let mut node = Node::new(config.clone(), id, vec![addr(1 - i)], 40 + i as u64, Instant::ZERO).ok()?;
            node.set_keyring(keyring.clone());
            Some(node)
        })
        .collect();
    let mut out = Vec::new();
    for step in 0..40u64 {
        let now = Instant::from_millis(step * 50);
        if step == 10
            && let Some(node) = nodes.first_mut()
        {
            let _ = node.set(now, "a", b"sealed value");
        }
        for i in 0..nodes.len() {
            nodes[i].handle_timeout(now);
            while let Some(t) = nodes[i].poll_transmit() {
                let to = 1 - i;
                let _ = match t.kind {
                    TransmitKind::Datagram => nodes[to].handle_datagram(now, addr(i), &t.payload),
                    TransmitKind::Stream => nodes[to].handle_stream(now, addr(i), &t.payload),
                };
                out.push(t.payload);
            }
            while nodes[i].poll_event().is_some() {}
        }
    }
    out
}

/// Sealed packets of a real exchange between two encrypted nodes (at most two per message
/// type), with their plaintexts.
pub fn sealed_packets() -> &'static [(Vec<u8>, Vec<u8>)] {
    static PACKETS: OnceLock<Vec<(Vec<u8>, Vec<u8>)>> = OnceLock::new();
    PACKETS.get_or_init(|| {
        let codec = Codec { cluster_id: CLUSTER_ID, max_len: usize::MAX };
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for payload in exchange(Some(Keyring::new(sealing_key().clone()))) {
            let Ok(plain) = open_packet(&receiver_keyring(), &payload, CLUSTER_ID) else { continue };
            let Ok(message) = codec.decode(&plain) else { continue };
            let kind = message.message_type();
            if seen.iter().filter(|m| **m == kind).count() < 2 {
                seen.push(kind);
                out.push((payload, plain));
            }
        }
        out
    })
}

/// `open` never panics on any bytes; a sealed packet cut by the first input byte and XORed
/// with the rest opens only if it is one of the genuine packets, and a node holding the key
/// drops it otherwise.
pub fn open(data: &[u8]) {
    let ring = receiver_keyring();
    if let Ok(plain) = open_packet(&ring, data, CLUSTER_ID) {
        // Only a forged tag gets here; if it ever happens the output must still be consistent.
        assert_eq!(plain.len() + SEAL_OVERHEAD, data.len());
        assert_eq!(plain[4], 0, "opened packet keeps its encryption flag");
    }
    let packets = sealed_packets();
    assert!(!packets.is_empty(), "two encrypted nodes exchanged no packet");
    let mut source = Source::new(data);
    let (sealed, _) = &packets[source.below(packets.len())];
    let cut = usize::from(source.u8());
    let mut tampered = sealed[..sealed.len().saturating_sub(cut)].to_vec();
    let mask = source.rest();
    for (byte, m) in tampered.iter_mut().zip(mask) {
        *byte ^= m;
    }
    if mask.len() > tampered.len() {
        tampered.extend_from_slice(&mask[tampered.len()..]);
    }
    let opened = open_packet(&ring, &tampered, CLUSTER_ID);
    // The mask may also turn one genuine packet into another genuine one: that one must open.
    if let Some((_, plain)) = packets.iter().find(|(genuine, _)| *genuine == tampered) {
        assert_eq!(opened.as_ref(), Ok(plain), "a genuine sealed packet does not open");
        let codec = Codec { cluster_id: CLUSTER_ID, max_len: DATAGRAM_MAX };
        assert!(codec.decode(plain).is_ok(), "a node sealed a packet that does not decode");
        return;
    }
    assert!(opened.is_err(), "a tampered packet opened: {tampered:02x?}");
    let config = Config { cluster_id: CLUSTER_ID, ..Config::local() };
    let Ok(mut node) = Node::new(config, NodeId::new("receiver", 1, addr(4)), vec![], 7, Instant::ZERO) else {
        panic!("the local preset is valid");
    };
    node.set_keyring(Some(ring));
    assert!(node.handle_datagram(Instant::ZERO, addr(0), &tampered).is_err());
    assert!(node.handle_stream(Instant::ZERO, addr(0), &tampered).is_err());
    assert_eq!(node.member_count(), 1, "a tampered packet taught the node a member");
    assert!(node.poll_transmit().is_none(), "a tampered packet got an answer");
}

/// The configuration of the node under test, varied by one byte: exchange mode, strategy,
/// rumor variant and a small member limit (so the limit is actually reached).
pub fn node_config(byte: u8) -> Config {
    let mut config = Config { cluster_id: CLUSTER_ID, ..Config::local() };
    config.exchange = [ExchangeMode::Push, ExchangeMode::Pull, ExchangeMode::PushPull][usize::from(byte % 3)];
    config.strategy = [Strategy::AntiEntropy, Strategy::Rumor, Strategy::Hybrid][usize::from(byte / 3 % 3)];
    config.rumor.feedback = if (byte / 9).is_multiple_of(2) { RumorFeedback::Feedback } else { RumorFeedback::Blind };
    config.rumor.stop = if (byte / 18).is_multiple_of(2) { RumorStop::Counter } else { RumorStop::Coin };
    config.anti_entropy_every = 3;
    config.limits.max_members = 3 + usize::from(byte / 36);
    config.limits.max_keys_per_node = 4;
    config
}

/// What one record of a node input does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Raw bytes as a datagram.
    RawDatagram,
    /// Raw bytes as a stream frame.
    RawStream,
    /// A valid header (of a chosen type byte) followed by raw body bytes, as a datagram.
    HeaderDatagram,
    /// A valid header followed by raw body bytes, as a stream frame.
    HeaderStream,
    /// A structured message built from the input, encoded, as a datagram.
    MessageDatagram,
    /// A structured message built from the input, encoded, as a stream frame.
    MessageStream,
    /// A local write, delete or leave.
    Write,
    /// Only the clock moves.
    Timeout,
}

impl Kind {
    /// The kind a record's first byte selects; `structured` inputs mostly carry messages.
    pub fn from_byte(byte: u8, structured: bool) -> Kind {
        use Kind::*;
        let raw =
            [RawDatagram, RawStream, HeaderDatagram, HeaderStream, MessageDatagram, MessageStream, Write, Timeout];
        let deep = [
            MessageDatagram,
            MessageDatagram,
            MessageDatagram,
            MessageStream,
            Write,
            Timeout,
            HeaderDatagram,
            RawDatagram,
        ];
        if structured { deep[usize::from(byte % 8)] } else { raw[usize::from(byte % 8)] }
    }

    /// The first byte of a record of this kind (inverse of [`Kind::from_byte`]).
    pub fn byte(self, structured: bool) -> u8 {
        (0..8).find(|b| Kind::from_byte(*b, structured) == self).unwrap_or(0)
    }
}

/// A node under test with the model of what its own map must hold.
struct Harness {
    node: Node,
    config: Config,
    now: Instant,
    /// Own live keys as the local writes made them: key -> (value, version).
    own: BTreeMap<String, (Vec<u8>, u64)>,
    /// Encryption is on: messages are sealed as a peer holding one of [`RING_KEYS`] would.
    sealed: bool,
    /// Nonce prefixes used so far, so no two sealed inputs share a nonce.
    nonces: u64,
}

/// The keys a sealed harness seals with, installs, uses and gossips.
pub const RING_KEYS: [u8; 3] = [0x11, 0x22, 0x33];

/// A keyring holding every key of [`RING_KEYS`]: opens whatever a sealed harness's node sends.
fn all_ring_keys() -> Keyring {
    Keyring::with_keys(key(RING_KEYS[0]), RING_KEYS[1..].iter().map(|b| key(*b)))
}

impl Harness {
    fn new(config: Config, sealed: bool) -> Harness {
        let now = Instant::from_millis(1_000);
        let Ok(mut node) = Node::new(config.clone(), NodeId::new(NAMES[0], 1, addr(0)), vec![addr(1)], 3, now) else {
            panic!("node_config gives a valid config");
        };
        if sealed {
            node.set_keyring(Some(Keyring::new(key(RING_KEYS[0]))));
        }
        for (i, name) in NAMES.iter().enumerate().take(4).skip(1) {
            node.add_member(now, NodeId::new(*name, 1, addr(i)));
        }
        let mut harness = Harness { node, config, now, own: BTreeMap::new(), sealed, nonces: 0 };
        for (key, value) in [("a", &b"1"[..]), ("b", b"two"), ("c", b"")] {
            harness.write(key, Some(value));
        }
        harness.drain(false);
        harness
    }

    /// A local write (`None` deletes) mirrored in the model.
    fn write(&mut self, key: &str, value: Option<&[u8]>) {
        match value {
            Some(value) => match self.node.set(self.now, key, value) {
                Ok(version) => {
                    self.own.insert(key.to_string(), (value.to_vec(), version));
                }
                Err(WriteError::TooManyKeys { .. }) => assert!(!self.own.contains_key(key)),
                Err(_) => {}
            },
            None => match self.node.delete(self.now, key) {
                Ok(Some(_)) => assert!(self.own.remove(key).is_some(), "deleted a key the owner never wrote"),
                Ok(None) => assert!(!self.own.contains_key(key), "delete found no key that was written"),
                Err(_) => {}
            },
        }
    }

    fn step(&mut self, source: &mut Source<'_>, structured: bool) {
        let kind = Kind::from_byte(source.u8(), structured);
        self.now += Duration::from_millis(u64::from(source.u16()));
        let from = addr(source.below(NAMES.len()));
        let now = self.now;
        match kind {
            Kind::RawDatagram | Kind::RawStream => {
                let len = usize::from(source.u16() % 2048);
                let bytes = source.bytes(len);
                self.deliver(kind == Kind::RawStream, from, bytes);
            }
            Kind::HeaderDatagram | Kind::HeaderStream => {
                let mut bytes = header(source.u8() % 11).to_vec();
                let len = usize::from(source.u16() % 2048);
                bytes.extend_from_slice(source.bytes(len));
                self.deliver(kind == Kind::HeaderStream, from, &bytes);
            }
            Kind::MessageDatagram | Kind::MessageStream => {
                let message =
                    if self.sealed && source.u8().is_multiple_of(4) { keyring_push(source) } else { source.message() };
                let codec = Codec { cluster_id: CLUSTER_ID, max_len: usize::MAX };
                let mut packet = codec.encode(&message);
                if self.sealed {
                    // Sealed with one of the ring keys (the node may not hold it), or the
                    // plaintext as it is (refused as unencrypted).
                    let choice = source.u8();
                    if let Some(k) = RING_KEYS.get(usize::from(choice % 4)) {
                        self.nonces += 1;
                        let ring = Keyring::new(key(*k));
                        packet = seal_for_testing(&ring, &packet, self.nonces).unwrap_or(packet);
                    }
                }
                self.deliver(kind == Kind::MessageStream, from, &packet);
            }
            Kind::Write => {
                let op = source.u8();
                let key = if op & 0x10 == 0 { KEYS[source.below(KEYS.len())].to_string() } else { source.key() };
                match op % 16 {
                    0..=9 => {
                        let value = source.value();
                        self.write(&key, Some(&value));
                    }
                    10..=13 => self.write(&key, None),
                    14 if self.sealed => {
                        // A local keyring change: install, use or remove one of the ring keys.
                        let k = self::key(RING_KEYS[source.below(RING_KEYS.len())]);
                        let _ = match source.u8() % 3 {
                            0 => self.node.keyring_install(now, k),
                            1 => self.node.keyring_use(now, &k),
                            _ => self.node.keyring_remove(now, &k),
                        };
                    }
                    14 => self.write(&key, None),
                    _ => self.node.leave(now),
                }
                self.drain(false);
            }
            Kind::Timeout => {}
        }
        self.node.handle_timeout(now);
        self.drain(true);
        self.check();
    }

    fn deliver(&mut self, stream: bool, from: std::net::SocketAddr, bytes: &[u8]) {
        let members_before = self.node.member_count();
        let result = if stream {
            self.node.handle_stream(self.now, from, bytes)
        } else {
            self.node.handle_datagram(self.now, from, bytes)
        };
        if result.is_err() {
            assert_eq!(self.node.member_count(), members_before, "a dropped packet changed the membership");
            assert!(self.node.poll_transmit().is_none(), "a dropped packet got an answer");
        }
        self.drain(true);
    }

    /// Drains outputs; every packet must fit its transport and decode, and input from the
    /// network must never report a change of the node's own keys.
    fn drain(&mut self, from_network: bool) {
        let datagrams = Codec { cluster_id: CLUSTER_ID, max_len: self.config.mtu };
        let streams = Codec { cluster_id: CLUSTER_ID, max_len: self.config.limits.max_stream_bytes };
        while let Some(t) = self.node.poll_transmit() {
            let codec = match t.kind {
                TransmitKind::Datagram => datagrams,
                TransmitKind::Stream => streams,
            };
            assert!(
                t.payload.len() <= codec.max_len,
                "{:?} of {} bytes, limit {}",
                t.kind,
                t.payload.len(),
                codec.max_len
            );
            let plain = if self.sealed {
                match open_packet(&all_ring_keys(), &t.payload, CLUSTER_ID) {
                    Ok(plain) => plain,
                    Err(e) => panic!("the node sent a {:?} no ring key opens: {e}", t.message_type),
                }
            } else {
                t.payload.clone()
            };
            match codec.decode(&plain) {
                Ok(message) => assert_eq!(message.message_type(), t.message_type),
                Err(e) => panic!("the node sent a {:?} that does not decode: {e}", t.message_type),
            }
        }
        while let Some(event) = self.node.poll_event() {
            if let Event::KeyChanged { owner, key, .. } = &event
                && from_network
            {
                assert_ne!(&*owner.name, NAMES[0], "the network changed own key {key:?}");
            }
        }
    }

    /// Invariants that hold after every record.
    fn check(&self) {
        let me = NAMES[0];
        assert_eq!(self.node.id(), &NodeId::new(me, 1, addr(0)), "the node's identity changed");
        let Some(keys) = self.node.keys(me) else { panic!("the node forgot itself") };
        let held: BTreeMap<String, (Vec<u8>, u64)> =
            keys.map(|(k, v)| (k.to_string(), (v.value.to_vec(), v.version))).collect();
        assert_eq!(held, self.own, "own map differs from the local writes");
        assert!(self.node.member_count() <= self.config.limits.max_members, "{} members", self.node.member_count());
        assert!(self.node.member(me).is_some_and(|m| m.is_self));
        if self.sealed {
            let Some(ring) = self.node.keyring() else { panic!("the node lost its keyring") };
            assert!(!ring.keys().is_empty() && ring.keys().iter().all(|k| all_ring_keys().keys().contains(k)));
        }
    }
}

/// A node fed a sequence of records (kind, clock advance, sender, payload) never panics and
/// keeps its invariants; see [`Kind`] for the records and `Harness::check` for the invariants.
pub fn node(data: &[u8], structured: bool) {
    run_node(data, structured, false);
}

/// [`node`] with encryption on: structured messages arrive sealed with one of [`RING_KEYS`]
/// (or not at all), some carrying a peer's published keyring with an epoch of the input's
/// choosing, and local writes include keyring changes. Every packet the node sends must open
/// with a ring key, and the node always holds a keyring of ring keys.
pub fn node_sealed(data: &[u8]) {
    run_node(data, true, true);
}

/// A push of member m1's `__keyring` entry: an epoch (often extreme) and ring keys.
fn keyring_push(source: &mut Source<'_>) -> Message {
    let epoch = match source.u8() % 4 {
        0 => u64::MAX,
        1 => u64::MAX - 1,
        2 => u64::from(source.u8()),
        _ => source.u64(),
    };
    let mut value = epoch.to_be_bytes().to_vec();
    for _ in 0..1 + source.below(3) {
        value.extend_from_slice(key(RING_KEYS[source.below(RING_KEYS.len())]).as_bytes());
    }
    if source.u8().is_multiple_of(8) {
        value.truncate(source.below(value.len() + 1));
    }
    let version = 1 + u64::from(source.u8());
    let entry = WireEntry { key: "__keyring".into(), version, value: Some(value) };
    let block = Block {
        owner: WireNodeId { name: NAMES[1].into(), generation: 1, addr: addr(1) },
        heartbeat: 1,
        from_version: 0,
        to_version: version,
        last_gc_version: 0,
        entries: vec![entry],
    };
    Message::Push(Push {
        exchange_id: 1,
        want_ack: false,
        digest: Digest::default(),
        blocks: vec![block],
        updates: vec![],
        flow: None,
    })
}

fn run_node(data: &[u8], structured: bool, sealed: bool) {
    let mut source = Source::new(data);
    let mut harness = Harness::new(node_config(source.u8()), sealed);
    harness.check();
    for _ in 0..MAX_RECORDS {
        if source.is_empty() {
            break;
        }
        harness.step(&mut source, structured);
    }
}
