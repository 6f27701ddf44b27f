//! Turning fuzz bytes into values: integers, names, addresses and whole protocol messages.
//!
//! Values come mostly from small pools (the names and addresses a test node knows, a few keys)
//! so that generated messages talk about members the node has and reach deep code; now and
//! then they are arbitrary or extreme (`u64::MAX`, long or reserved names) to reach the edges.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hearsay_core::wire::{
    Ack, Announcement, Block, Demand, Digest, DigestEntry, FlowReport, MemberUpdate, Message, Nack, Ping, PingAck,
    PingReq, Push, PushAck, Syn, SynAck, Tree, WireEntry, WireNodeId, WireStatus,
};

/// Names of the node under test and of the members it knows.
pub const NAMES: [&str; 5] = ["me", "m1", "m2", "m3", "stranger"];
/// Keys used by local writes and generated entries.
pub const KEYS: [&str; 6] = ["a", "b", "c", "d", "__keyring", "__left"];

/// The address of `NAMES[i]` (the last ones are unknown to the node).
pub fn addr(i: usize) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7000 + i as u16)
}

/// A reader over fuzz bytes that never fails: past the end it reads zeros.
#[derive(Clone, Debug)]
pub struct Source<'a> {
    data: &'a [u8],
}

impl<'a> Source<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Source { data }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.data.split_at(n.min(self.data.len()));
        self.data = tail;
        head
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        self.bytes(self.data.len())
    }

    /// One byte.
    pub fn u8(&mut self) -> u8 {
        self.bytes(1).first().copied().unwrap_or(0)
    }

    /// Two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// Four bytes, little-endian.
    pub fn u32(&mut self) -> u32 {
        u32::from(self.u16()) | (u32::from(self.u16()) << 16)
    }

    /// Eight bytes, little-endian.
    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    /// A boolean from the low bit of one byte.
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        usize::from(self.u8()) % n
    }

    /// A version-like number: mostly small, sometimes anything or an extreme.
    pub fn number(&mut self) -> u64 {
        match self.u8() % 8 {
            0..=4 => u64::from(self.u8() % 16),
            5 => self.u64(),
            6 => u64::MAX,
            _ => u64::MAX - u64::from(self.u8()),
        }
    }

    /// Some UTF-8 text from the input (invalid sequences replaced).
    pub fn text(&mut self, max: usize) -> String {
        let n = self.below(max + 1);
        String::from_utf8_lossy(self.bytes(n)).into_owned()
    }

    /// A member name: mostly one of [`NAMES`], sometimes empty, long or arbitrary.
    pub fn name(&mut self) -> String {
        match self.u8() % 16 {
            0..=11 => NAMES[self.below(NAMES.len())].to_string(),
            12 => String::new(),
            13 => "n".repeat(usize::from(self.u8()) * 2),
            _ => self.text(24),
        }
    }

    /// A key: mostly one of [`KEYS`], sometimes empty, too long or arbitrary.
    pub fn key(&mut self) -> String {
        match self.u8() % 16 {
            0..=11 => KEYS[self.below(KEYS.len())].to_string(),
            12 => String::new(),
            13 => "k".repeat(usize::from(self.u16() % 600)),
            _ => self.text(24),
        }
    }

    /// A value: short bytes from the input, or a long run of one byte (up to 80 KiB, above
    /// the default `max_value_bytes`).
    pub fn value(&mut self) -> Vec<u8> {
        match self.u8() % 8 {
            0..=5 => {
                let n = self.below(33);
                self.bytes(n).to_vec()
            }
            6 => vec![self.u8(); usize::from(self.u16()) + 1],
            _ => vec![self.u8(); 80 * 1024],
        }
    }

    /// A socket address: mostly one of the known ones.
    pub fn addr(&mut self) -> SocketAddr {
        match self.u8() % 8 {
            0..=5 => addr(self.below(NAMES.len())),
            6 => SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), self.u16()),
            _ => SocketAddr::new(IpAddr::V4(Ipv4Addr::from(self.u32())), self.u16()),
        }
    }

    /// A count in `0..=max`.
    pub fn len(&mut self, max: usize) -> usize {
        self.below(max + 1)
    }

    /// A node id on the wire; the address usually matches the name's.
    pub fn wire_node_id(&mut self) -> WireNodeId {
        let pick = self.below(NAMES.len() + 1);
        match NAMES.get(pick) {
            Some(name) if !self.u8().is_multiple_of(4) => {
                WireNodeId { name: name.to_string(), generation: self.number(), addr: addr(pick) }
            }
            _ => WireNodeId { name: self.name(), generation: self.number(), addr: self.addr() },
        }
    }

    /// A liveness status.
    pub fn status(&mut self) -> WireStatus {
        [WireStatus::Alive, WireStatus::Suspect, WireStatus::Dead, WireStatus::Left][self.below(4)]
    }

    /// A membership update.
    pub fn member_update(&mut self) -> MemberUpdate {
        MemberUpdate { node: self.wire_node_id(), incarnation: self.number(), status: self.status(), from: self.name() }
    }

    /// Up to `max` membership updates.
    pub fn updates(&mut self, max: usize) -> Vec<MemberUpdate> {
        (0..self.len(max)).map(|_| self.member_update()).collect()
    }

    /// A flow report, or none.
    pub fn flow(&mut self) -> Option<FlowReport> {
        if self.bool() {
            return None;
        }
        let capacity = self.number();
        let truncated = self.bool();
        let demands = (0..self.len(6))
            .map(|_| Demand { name: self.name(), bytes_per_round: self.number(), age: self.u32() % 64 })
            .collect();
        Some(FlowReport { capacity, truncated, demands })
    }

    /// A digest of one slice.
    pub fn digest(&mut self) -> Digest {
        let slice_bits = if self.bool() { self.u8() } else { self.u8() % 4 };
        let slice = if self.bool() { self.u32() } else { u32::from(self.u8() % 4) };
        let entries = (0..self.len(6))
            .map(|_| DigestEntry {
                name: self.name(),
                generation: self.number(),
                max_version: self.number(),
                heartbeat: self.number(),
            })
            .collect();
        Digest {
            slice_bits,
            slice,
            checksum: self.u64(),
            slice_checksums: vec![self.u64() as u32; usize::from(slice_bits.min(6))],
            entries,
            members: self.u32(),
        }
    }

    /// A block: usually a well-formed ascending range, sometimes anything.
    pub fn block(&mut self) -> Block {
        let owner = self.wire_node_id();
        let heartbeat = self.number();
        let from_version = self.number();
        let well_formed = !self.u8().is_multiple_of(4);
        let count = self.len(6);
        let entries: Vec<WireEntry> = (0..count)
            .map(|i| WireEntry {
                key: self.key(),
                version: if well_formed { from_version.saturating_add(i as u64 + 1) } else { self.number() },
                value: if self.u8().is_multiple_of(4) { None } else { Some(self.value()) },
            })
            .collect();
        let to_version = if well_formed {
            from_version.saturating_add(count as u64 + u64::from(self.u8() % 3))
        } else {
            self.number()
        };
        Block { owner, heartbeat, from_version, to_version, last_gc_version: self.number(), entries }
    }

    /// Up to `max` blocks.
    pub fn blocks(&mut self, max: usize) -> Vec<Block> {
        (0..self.len(max)).map(|_| self.block()).collect()
    }

    /// Up to `max` block indices.
    pub fn known(&mut self, max: usize) -> Vec<u16> {
        (0..self.len(max)).map(|_| if self.bool() { u16::from(self.u8() % 8) } else { self.u16() }).collect()
    }

    /// Any protocol message, its type chosen by the next byte.
    pub fn message(&mut self) -> Message {
        match self.u8() % 10 {
            0 => Message::Syn(Syn {
                exchange_id: self.exchange_id(),
                push_pull: self.bool(),
                rumor: self.bool(),
                digest: self.digest(),
                blocks: self.blocks(3),
                updates: self.updates(3),
                flow: self.flow(),
            }),
            1 => Message::SynAck(SynAck {
                exchange_id: self.exchange_id(),
                in_sync: self.bool(),
                digest: if self.bool() { Some(self.digest()) } else { None },
                blocks: self.blocks(3),
                known: self.known(4),
                updates: self.updates(3),
                flow: self.flow(),
                refer: (0..self.below(4)).map(|_| self.name()).collect(),
            }),
            2 => Message::Ack(Ack { exchange_id: self.exchange_id(), blocks: self.blocks(3), flow: self.flow() }),
            3 => Message::Push(Push {
                exchange_id: self.exchange_id(),
                want_ack: self.bool(),
                digest: self.digest(),
                blocks: self.blocks(3),
                updates: self.updates(3),
                flow: self.flow(),
            }),
            4 => Message::PushAck(PushAck { exchange_id: self.exchange_id(), known: self.known(4) }),
            5 => Message::Ping(Ping {
                seq: self.exchange_id(),
                target: self.name(),
                source: self.wire_node_id(),
                checksum: self.u64(),
                members: self.u32(),
                updates: self.updates(3),
            }),
            6 => Message::PingAck(PingAck {
                seq: self.exchange_id(),
                checksum: self.u64(),
                members: self.u32(),
                updates: self.updates(3),
            }),
            7 => Message::PingReq(PingReq {
                seq: self.exchange_id(),
                target: self.wire_node_id(),
                updates: self.updates(3),
            }),
            8 => Message::Nack(Nack { seq: self.exchange_id() }),
            _ => Message::Tree(match self.u8() % 4 {
                0 => Tree::Gossip(self.blocks(3)),
                1 => Tree::IHave(self.announcements(4)),
                2 => Tree::Graft(self.announcements(4)),
                _ => Tree::Prune,
            }),
        }
    }

    /// Up to `max` tree announcements.
    fn announcements(&mut self, max: usize) -> Vec<Announcement> {
        let n = self.below(max + 1);
        (0..n)
            .map(|_| Announcement { name: self.name(), generation: self.u64() % 4, version: self.u64() % 16 })
            .collect()
    }

    /// An exchange id or sequence number: small ones match what the node has outstanding.
    fn exchange_id(&mut self) -> u32 {
        if self.bool() { u32::from(self.u8() % 8) } else { self.u32() }
    }
}
