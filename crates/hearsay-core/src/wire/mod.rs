//! The wire format: a fixed [`Header`] followed by a postcard-encoded body.
//!
//! Every message of the protocol is one of the types below. Decoding is a pure function of the
//! bytes ([`Codec::decode`]); it never panics and tells apart truncated, oversized,
//! wrong-version and foreign-cluster packets so drivers can count each reason.
//!
//! # Message flow
//!
//! * **push**: `Push { digest, blocks }` → (with rumor feedback) `PushAck { known }`.
//! * **pull**: `Syn { digest }` → `SynAck { blocks }`.
//! * **push-pull**: `Syn { digest }` → `SynAck { digest, blocks }` → `Ack { blocks }`.
//! * **probe** (SWIM): `Ping` → `PingAck`; when no answer comes in time, `PingReq` to `k`
//!   other members, who ping the target and relay its `PingAck`, or answer `Nack`.
//!   [`MemberUpdate`]s (alive / suspect / dead / left with an incarnation) ride on probes and
//!   gossip messages alike.
//!
//! * **epidemic broadcast tree** (Plumtree): `Tree(Gossip { blocks })` down eager links,
//!   `Tree(IHave)` on lazy ones; a node missing an announced payload answers `Tree(Graft)`,
//!   one that got a payload twice answers `Tree(Prune)`.
//!
//! `Syn`, `SynAck`, `Ack` and `Push` end with an optional [`FlowReport`] (flow control: the
//! sender's capacity estimate and the demand of the writers it knows).
//!
//! A [`Block`] carries a contiguous range of one owner's versions, `(from_version,
//! to_version]`, in ascending order. Receiving it lets the receiver raise its `max_version`
//! for that owner to `to_version` only if it already had everything up to `from_version`.

pub mod crypto;
mod header;
mod names;
pub(crate) mod size;

pub use header::{HEADER_LEN, Header, MAGIC, MessageType, PROTOCOL_VERSION};

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use thiserror::Error;

/// An owner as it appears on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireNodeId {
    /// Stable node name.
    pub name: String,
    /// Incarnation.
    pub generation: u64,
    /// Gossip address.
    pub addr: SocketAddr,
}

/// `Digest::slice_bits` of an explicit digest.
pub const EXPLICIT_DIGEST: u8 = u8::MAX;

/// One owner's summary in a digest: "I have everything of `name`'s `generation` up to
/// `max_version`, and its heartbeat `heartbeat`".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestEntry {
    /// Owner name.
    pub name: String,
    /// Owner generation.
    pub generation: u64,
    /// Highest version held with no gap below it.
    pub max_version: u64,
    /// Highest heartbeat seen from the owner.
    pub heartbeat: u64,
}

/// A digest of the owners whose name hash falls in one slice of the hash space.
///
/// With `slice_bits = b`, the hash space is cut in `2^b` equal slices and this digest covers
/// slice number `slice`: every owner the sender knows in that slice is listed, so an owner of
/// that slice missing from the list is one the sender does not know. Large clusters rotate
/// through slices so that a digest always fits one datagram.
///
/// With `slice_bits =` [`EXPLICIT_DIGEST`] the digest is an explicit list instead: it covers
/// exactly the owners it names (recently changed ones, in repair exchanges), and says nothing
/// about the others.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    /// log2 of the number of slices.
    pub slice_bits: u8,
    /// Which slice this digest covers.
    pub slice: u32,
    /// Checksum of (owner, generation, max_version) over the slice.
    pub checksum: u64,
    /// Low 32 bits of the checksum of every slice of a coarse slicing, in slice order: the
    /// digest's own slicing when it has at most [`MAX_CHECKSUMMED_SLICES`] slices, else that
    /// many (the length says which: `2^b` entries cover slices of `b` bits). The answer adds
    /// the recent changes of owners in slices that differ, so an update outside the listed
    /// slice still travels in this exchange. Empty in rumor and small digests.
    pub slice_checksums: Vec<u32>,
    /// The owners.
    pub entries: Vec<DigestEntry>,
    /// Members the sender knows, itself included, whatever their status. A receiver that
    /// knows clearly fewer is behind on membership (a join storm) and catches up with one full
    /// exchange instead of waiting for each join's rumor (see the `membership` module).
    pub members: u32,
}

/// Most slices whose checksums ride along with a digest.
pub const MAX_CHECKSUMMED_SLICES: usize = 64;

/// One versioned entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEntry {
    /// Key.
    pub key: String,
    /// Version the owner gave this write.
    pub version: u64,
    /// The value, or `None` for a tombstone.
    pub value: Option<Vec<u8>>,
}

/// A contiguous range of one owner's versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The owner.
    pub owner: WireNodeId,
    /// Owner's heartbeat as known to the sender.
    pub heartbeat: u64,
    /// The range starts after this version (0: from the beginning).
    pub from_version: u64,
    /// The range ends at this version: the receiver holds everything up to here once applied.
    pub to_version: u64,
    /// Tombstones up to this version have been garbage-collected by the sender.
    pub last_gc_version: u64,
    /// Entries with versions in `(from_version, to_version]`, ascending.
    pub entries: Vec<WireEntry>,
}

/// First message of pull and push-pull.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Syn {
    /// Chosen by the initiator, echoed in replies.
    pub exchange_id: u32,
    /// Push-pull (the initiator will answer the reply's digest) or plain pull.
    pub push_pull: bool,
    /// Rumor exchange (only hot rumors are wanted) or anti-entropy (everything).
    pub rumor: bool,
    /// What the initiator has.
    pub digest: Digest,
    /// Rumors pushed along with the digest (push-pull rumor mongering).
    pub blocks: Vec<Block>,
    /// Piggybacked membership changes.
    pub updates: Vec<MemberUpdate>,
    /// Flow control: the sender's capacity estimate and the writers it knows of (see
    /// [`FlowReport`]); `None` from a node that runs without flow control. Appended last.
    pub flow: Option<FlowReport>,
}

/// Reply to a [`Syn`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SynAck {
    /// The [`Syn::exchange_id`].
    pub exchange_id: u32,
    /// The digest checksums matched: nothing to exchange.
    pub in_sync: bool,
    /// The responder's digest of the same slice (push-pull only).
    pub digest: Option<Digest>,
    /// What the initiator lacks.
    pub blocks: Vec<Block>,
    /// Indices of the Syn's blocks the responder already knew (rumor feedback).
    pub known: Vec<u16>,
    /// Piggybacked membership changes.
    pub updates: Vec<MemberUpdate>,
    /// Flow control: the sender's capacity estimate and the writers it knows of (see
    /// [`FlowReport`]); `None` from a node that runs without flow control.
    pub flow: Option<FlowReport>,
    /// Members the responder answered a full exchange for lately, named when it is too busy to
    /// answer this one in full: they hold the membership, and the initiator catches up from one
    /// of them (see the core's `formation` module). Empty otherwise. Appended last.
    pub refer: Vec<String>,
}

/// Third message of push-pull: what the responder lacks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The [`Syn::exchange_id`].
    pub exchange_id: u32,
    /// What the responder lacks.
    pub blocks: Vec<Block>,
    /// Flow control: the sender's capacity estimate and the writers it knows of (see
    /// [`FlowReport`]); `None` from a node that runs without flow control. Appended last.
    pub flow: Option<FlowReport>,
}

/// Push mode: entries sent without being asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    /// Echoed in a [`PushAck`].
    pub exchange_id: u32,
    /// The sender wants a [`PushAck`] (rumor feedback).
    pub want_ack: bool,
    /// The sender's digest of one slice: carries heartbeats, so liveness spreads in push mode.
    pub digest: Digest,
    /// The pushed entries.
    pub blocks: Vec<Block>,
    /// Piggybacked membership changes.
    pub updates: Vec<MemberUpdate>,
    /// Flow control: the sender's capacity estimate and the writers it knows of (see
    /// [`FlowReport`]); `None` from a node that runs without flow control. Appended last.
    pub flow: Option<FlowReport>,
}

/// Reply to a [`Push`] that asked for feedback.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushAck {
    /// The [`Push::exchange_id`].
    pub exchange_id: u32,
    /// Indices of the blocks the receiver already knew.
    pub known: Vec<u16>,
}

/// What a gossip message says about flow control (van Renesse et al. 2008, section 4; see the
/// crate's `flow` module): rides at the end of [`Syn`], [`SynAck`], [`Ack`] and [`Push`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowReport {
    /// The sender's estimate of the bytes of writes per gossip round the cluster can carry
    /// (adapted by AIMD on MTU overflow, averaged with every report it hears).
    pub capacity: u64,
    /// This message's delta did not fit the MTU: versions were left behind. The receiver
    /// takes it as its own overflow signal (it is receiving a backlog).
    pub truncated: bool,
    /// Writers and the bytes per round they want to write: the sender's own first when it
    /// writes, then a few it heard of, so demand spreads like any rumor.
    pub demands: Vec<Demand>,
}

/// One writer's demand, as carried in a [`FlowReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demand {
    /// The writer's name.
    pub name: String,
    /// Bytes per round it wants to write (refused writes included).
    pub bytes_per_round: u64,
    /// Rounds since the writer itself reported it.
    pub age: u32,
}

/// Liveness of a member as gossiped between nodes (SWIM).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WireStatus {
    /// Refutes suspicion (with a higher incarnation) or announces a member.
    Alive,
    /// Some member failed to reach it, directly and through others.
    Suspect,
    /// Suspected for the whole suspicion timeout.
    Dead,
    /// Left gracefully.
    Left,
}

/// A change of a member's liveness, piggybacked on other messages until it has been
/// retransmitted enough (about `retransmit_mult * log10(N)` times).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberUpdate {
    /// The member.
    pub node: WireNodeId,
    /// The member's incarnation within its generation: it raises it to refute suspicion.
    pub incarnation: u64,
    /// The new status.
    pub status: WireStatus,
    /// Who says so (the accuser for suspect and dead; the member itself for alive).
    pub from: String,
}

/// A direct probe: "are you there, `target`?"
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    /// Echoed in the [`PingAck`].
    pub seq: u32,
    /// Name of the member the sender means to reach (a different node at that address must
    /// not answer for it).
    pub target: String,
    /// The sender.
    pub source: WireNodeId,
    /// Checksum of the sender's whole state (see [`Digest::checksum`]): a mismatch after
    /// rumors went quiet starts a repair exchange.
    pub checksum: u64,
    /// Live members the sender knows (see [`Digest::members`]).
    pub members: u32,
    /// Piggybacked membership changes.
    pub updates: Vec<MemberUpdate>,
}

/// Answer to a [`Ping`] (or relayed answer to a [`PingReq`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingAck {
    /// The ping's sequence number.
    pub seq: u32,
    /// Checksum of the answering node's whole state.
    pub checksum: u64,
    /// Live members the answering node knows (see [`Digest::members`]).
    pub members: u32,
    /// Piggybacked membership changes.
    pub updates: Vec<MemberUpdate>,
}

/// Indirect probe: "please ping `target` for me and relay its answer".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingReq {
    /// Echoed in the relayed [`PingAck`] or the [`Nack`].
    pub seq: u32,
    /// The member to probe.
    pub target: WireNodeId,
    /// Piggybacked membership changes.
    pub updates: Vec<MemberUpdate>,
}

/// A relay's report that the target of a [`PingReq`] did not answer in time (Lifeguard: the
/// requester learns that its own messages do get through).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nack {
    /// The [`PingReq`]'s sequence number.
    pub seq: u32,
}

/// One announced or requested range end: "I hold every version of `name`'s `generation` up
/// to `version`". In an `IHave` it announces a payload; in a `Graft` it says where the
/// requester stands, so the answer starts right after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    /// Owner name.
    pub name: String,
    /// Owner generation.
    pub generation: u64,
    /// Highest version held with no gap below it.
    pub version: u64,
}

/// Epidemic broadcast tree messages (Plumtree; see the crate's `plumtree` module).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tree {
    /// Eager push of payloads down the tree, forwarded on arrival.
    Gossip(Vec<Block>),
    /// Lazy announcements of payloads the sender holds.
    IHave(Vec<Announcement>),
    /// The sender missed announced payloads: send what follows each announcement, and make
    /// the link eager.
    Graft(Vec<Announcement>),
    /// The sender got a payload twice: make the link lazy.
    Prune,
}

/// One user event (see the `user_event` module).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireUserEvent {
    /// Name of the member that sent it.
    pub origin: String,
    /// The origin's generation when it sent it.
    pub generation: u64,
    /// The origin's Lamport time when it sent it.
    pub ltime: u64,
    /// The event's name.
    pub name: String,
    /// The payload.
    pub payload: Vec<u8>,
    /// Replaces older pending events of the same name.
    pub coalesce: bool,
}

/// User events being spread: several in a datagram, or one large one in a stream frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEvents {
    /// The events.
    pub events: Vec<WireUserEvent>,
}

/// A query spread to every member; those matching the filters answer the origin directly
/// with [`QueryResponse`]s (see the `query` module).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireQuery {
    /// Chosen by the origin, echoed in responses.
    pub id: u32,
    /// The asking member: responses go to its address.
    pub origin: WireNodeId,
    /// The origin's Lamport time when it asked.
    pub ltime: u64,
    /// The query's name.
    pub name: String,
    /// The payload.
    pub payload: Vec<u8>,
    /// Only members with these names answer (empty: any).
    pub filter_names: Vec<String>,
    /// Only members with all these tags answer.
    pub filter_tags: Vec<(String, String)>,
    /// Members that match acknowledge at once, before answering.
    pub request_ack: bool,
    /// How long the origin waits for answers, in milliseconds.
    pub timeout_ms: u64,
}

/// An acknowledgement of or an answer to a [`WireQuery`], sent by datagram to its origin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryResponse {
    /// The query's id.
    pub id: u32,
    /// The query's Lamport time.
    pub ltime: u64,
    /// The answering member.
    pub from: String,
    /// An acknowledgement (no payload) rather than an answer.
    pub ack: bool,
    /// The answer.
    pub payload: Vec<u8>,
}

/// Any protocol message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// See [`Syn`].
    Syn(Syn),
    /// See [`SynAck`].
    SynAck(SynAck),
    /// See [`Ack`].
    Ack(Ack),
    /// See [`Push`].
    Push(Push),
    /// See [`PushAck`].
    PushAck(PushAck),
    /// See [`Ping`].
    Ping(Ping),
    /// See [`PingAck`].
    PingAck(PingAck),
    /// See [`PingReq`].
    PingReq(PingReq),
    /// See [`Nack`].
    Nack(Nack),
    /// See [`Tree`].
    Tree(Tree),
    /// See [`UserEvents`].
    UserEvents(UserEvents),
    /// See [`WireQuery`].
    Query(WireQuery),
    /// See [`QueryResponse`].
    QueryResponse(QueryResponse),
}

impl Message {
    /// Checks every member name the message carries (see [`crate::check_name`]); decoding
    /// refuses a message that fails this.
    pub fn check_names(&self) -> Result<(), crate::NameError> {
        names::check(self)
    }

    /// The header type of this message.
    pub fn message_type(&self) -> MessageType {
        match self {
            Message::Syn(_) => MessageType::Syn,
            Message::SynAck(_) => MessageType::SynAck,
            Message::Ack(_) => MessageType::Ack,
            Message::Push(_) => MessageType::Push,
            Message::PushAck(_) => MessageType::PushAck,
            Message::Ping(_) => MessageType::Ping,
            Message::PingAck(_) => MessageType::PingAck,
            Message::PingReq(_) => MessageType::PingReq,
            Message::Nack(_) => MessageType::Nack,
            Message::Tree(_) => MessageType::Tree,
            Message::UserEvents(_) => MessageType::UserEvents,
            Message::Query(_) => MessageType::Query,
            Message::QueryResponse(_) => MessageType::QueryResponse,
        }
    }
}

/// Why a packet was rejected. Rejecting a packet never changes a node's state.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes than the header or the body needs.
    #[error("truncated packet: {len} bytes, at least {needed} needed")]
    Truncated {
        /// Bytes received.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// Larger than the limit for its transport.
    #[error("oversized packet: {len} bytes, limit {limit}")]
    Oversized {
        /// Bytes received.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Not a hearsay packet.
    #[error("not a hearsay packet (bad magic)")]
    BadMagic,
    /// A protocol version this build does not speak.
    #[error("unsupported protocol version {version}")]
    UnsupportedVersion {
        /// The version in the header.
        version: u8,
    },
    /// Flags this build does not understand.
    #[error("unsupported header flags {flags:#04x}")]
    UnsupportedFlags {
        /// The flags in the header.
        flags: u8,
    },
    /// An unknown message type byte.
    #[error("unknown message type {message_type}")]
    UnknownMessageType {
        /// The type byte.
        message_type: u8,
    },
    /// A packet of another cluster.
    #[error("packet of foreign cluster {cluster_id:#010x} (ours is {expected:#010x})")]
    ForeignCluster {
        /// The id in the header.
        cluster_id: u32,
        /// Our id.
        expected: u32,
    },
    /// A plaintext packet reached a node that requires encryption.
    #[error("unencrypted packet, but this cluster requires encryption")]
    Unencrypted,
    /// No installed key authenticates the packet (wrong key, tampering or another cluster).
    #[error("packet failed authentication with every installed key")]
    Decrypt,
    /// The body does not parse as the header's message type.
    #[error("malformed {message_type:?} body: {reason}")]
    Malformed {
        /// The header's type.
        message_type: MessageType,
        /// The parser's complaint.
        reason: String,
    },
    /// A member name in the body is empty, too long or holds a control character.
    #[error("invalid member name in {message_type:?}: {error}")]
    InvalidName {
        /// The header's type.
        message_type: MessageType,
        /// What is wrong with the name.
        error: crate::id::NameError,
    },
}

impl DecodeError {
    /// Short reason label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::Oversized { .. } => "oversized",
            DecodeError::BadMagic => "bad_magic",
            DecodeError::UnsupportedVersion { .. } => "version",
            DecodeError::UnsupportedFlags { .. } => "flags",
            DecodeError::UnknownMessageType { .. } => "message_type",
            DecodeError::ForeignCluster { .. } => "foreign_cluster",
            DecodeError::Malformed { .. } => "malformed",
            DecodeError::Unencrypted => "unencrypted",
            DecodeError::Decrypt => "decrypt",
            DecodeError::InvalidName { .. } => "invalid_name",
        }
    }
}

/// Encodes and decodes packets for one cluster with one size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Codec {
    /// Our cluster.
    pub cluster_id: u32,
    /// Largest packet accepted.
    pub max_len: usize,
}

impl Codec {
    /// Encodes `message` with a header. Infallible: every message type serializes.
    pub fn encode(&self, message: &Message) -> Vec<u8> {
        let header = Header {
            version: PROTOCOL_VERSION,
            message_type: message.message_type(),
            flags: 0,
            cluster_id: self.cluster_id,
        };
        let mut out = Vec::with_capacity(256);
        header.write(&mut out);
        let body = match message {
            Message::Syn(m) => postcard::to_extend(m, out),
            Message::SynAck(m) => postcard::to_extend(m, out),
            Message::Ack(m) => postcard::to_extend(m, out),
            Message::Push(m) => postcard::to_extend(m, out),
            Message::PushAck(m) => postcard::to_extend(m, out),
            Message::Ping(m) => postcard::to_extend(m, out),
            Message::PingAck(m) => postcard::to_extend(m, out),
            Message::PingReq(m) => postcard::to_extend(m, out),
            Message::Nack(m) => postcard::to_extend(m, out),
            Message::Tree(m) => postcard::to_extend(m, out),
            Message::UserEvents(m) => postcard::to_extend(m, out),
            Message::Query(m) => postcard::to_extend(m, out),
            Message::QueryResponse(m) => postcard::to_extend(m, out),
        };
        // postcard only fails on writers that run out of space or on types serde cannot
        // describe; a Vec grows and all our types are plain data.
        body.unwrap_or_default()
    }

    /// Decodes one packet. Pure: the same bytes always give the same answer.
    pub fn decode(&self, bytes: &[u8]) -> Result<Message, DecodeError> {
        if bytes.len() > self.max_len {
            return Err(DecodeError::Oversized { len: bytes.len(), limit: self.max_len });
        }
        let header = Header::read(bytes)?;
        if header.cluster_id != self.cluster_id {
            return Err(DecodeError::ForeignCluster { cluster_id: header.cluster_id, expected: self.cluster_id });
        }
        decode_body(header.message_type, &bytes[HEADER_LEN..])
    }
}

fn decode_body(message_type: MessageType, body: &[u8]) -> Result<Message, DecodeError> {
    fn parse<'a, T: Deserialize<'a>>(message_type: MessageType, body: &'a [u8]) -> Result<T, DecodeError> {
        match postcard::from_bytes::<T>(body) {
            Ok(value) => Ok(value),
            Err(postcard::Error::DeserializeUnexpectedEnd) => {
                Err(DecodeError::Truncated { len: body.len() + HEADER_LEN, needed: body.len() + HEADER_LEN + 1 })
            }
            Err(e) => Err(DecodeError::Malformed { message_type, reason: e.to_string() }),
        }
    }
    let message = match message_type {
        MessageType::Syn => Message::Syn(parse(message_type, body)?),
        MessageType::SynAck => Message::SynAck(parse(message_type, body)?),
        MessageType::Ack => Message::Ack(parse(message_type, body)?),
        MessageType::Push => Message::Push(parse(message_type, body)?),
        MessageType::PushAck => Message::PushAck(parse(message_type, body)?),
        MessageType::Ping => Message::Ping(parse(message_type, body)?),
        MessageType::PingAck => Message::PingAck(parse(message_type, body)?),
        MessageType::PingReq => Message::PingReq(parse(message_type, body)?),
        MessageType::Nack => Message::Nack(parse(message_type, body)?),
        MessageType::Tree => Message::Tree(parse(message_type, body)?),
        MessageType::UserEvents => Message::UserEvents(parse(message_type, body)?),
        MessageType::Query => Message::Query(parse(message_type, body)?),
        MessageType::QueryResponse => Message::QueryResponse(parse(message_type, body)?),
    };
    message.check_names().map_err(|error| DecodeError::InvalidName { message_type, error })?;
    Ok(message)
}

#[cfg(test)]
mod tests;
