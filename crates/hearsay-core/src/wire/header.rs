//! The fixed packet header.
//!
//! ```text
//! 0      2        3          4      5             9
//! +------+--------+----------+------+-------------+------------------
//! | "HS" | version| msg type | flags| cluster id  | postcard body ...
//! +------+--------+----------+------+-------------+------------------
//! ```
//! All fields are fixed-size so a packet can be classified (and, later, authenticated as
//! associated data) before its body is parsed. The cluster id is big-endian.

use super::DecodeError;

/// Magic bytes that open every hearsay packet.
pub const MAGIC: [u8; 2] = *b"HS";
/// Wire protocol version spoken by this build.
pub const PROTOCOL_VERSION: u8 = 1;
/// Length of the fixed header in bytes.
pub const HEADER_LEN: usize = 9;

/// Message types, one byte on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum MessageType {
    /// [`super::Syn`]
    Syn = 1,
    /// [`super::SynAck`]
    SynAck = 2,
    /// [`super::Ack`]
    Ack = 3,
    /// [`super::Push`]
    Push = 4,
    /// [`super::PushAck`]
    PushAck = 5,
    /// [`super::Ping`]
    Ping = 6,
    /// [`super::PingAck`]
    PingAck = 7,
    /// [`super::PingReq`]
    PingReq = 8,
    /// [`super::Nack`]
    Nack = 9,
    /// [`super::Tree`]
    Tree = 10,
    /// [`super::UserEvents`]
    UserEvents = 11,
    /// [`super::WireQuery`]
    Query = 12,
    /// [`super::QueryResponse`]
    QueryResponse = 13,
}

impl MessageType {
    /// Every message type, in wire order.
    pub const ALL: [MessageType; 13] = [
        MessageType::Syn,
        MessageType::SynAck,
        MessageType::Ack,
        MessageType::Push,
        MessageType::PushAck,
        MessageType::Ping,
        MessageType::PingAck,
        MessageType::PingReq,
        MessageType::Nack,
        MessageType::Tree,
        MessageType::UserEvents,
        MessageType::Query,
        MessageType::QueryResponse,
    ];

    /// Lower-case name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Syn => "syn",
            MessageType::SynAck => "synack",
            MessageType::Ack => "ack",
            MessageType::Push => "push",
            MessageType::PushAck => "pushack",
            MessageType::Ping => "ping",
            MessageType::PingAck => "pingack",
            MessageType::PingReq => "pingreq",
            MessageType::Nack => "nack",
            MessageType::Tree => "tree",
            MessageType::UserEvents => "user_events",
            MessageType::Query => "query",
            MessageType::QueryResponse => "query_response",
        }
    }

    fn from_u8(byte: u8) -> Option<Self> {
        MessageType::ALL.into_iter().find(|t| *t as u8 == byte)
    }
}

/// The decoded fixed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Protocol version.
    pub version: u8,
    /// Body type.
    pub message_type: MessageType,
    /// Reserved for options (encryption, compression); must be zero in version 1.
    pub flags: u8,
    /// Cluster the sender belongs to.
    pub cluster_id: u32,
}

impl Header {
    /// Appends the header's bytes to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.push(self.version);
        out.push(self.message_type as u8);
        out.push(self.flags);
        out.extend_from_slice(&self.cluster_id.to_be_bytes());
    }

    /// Parses the header at the start of `bytes`.
    pub fn read(bytes: &[u8]) -> Result<Header, DecodeError> {
        let Some(head) = bytes.get(..HEADER_LEN) else {
            return Err(DecodeError::Truncated { len: bytes.len(), needed: HEADER_LEN });
        };
        if head[..2] != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let version = head[2];
        if version != PROTOCOL_VERSION {
            return Err(DecodeError::UnsupportedVersion { version });
        }
        let message_type =
            MessageType::from_u8(head[3]).ok_or(DecodeError::UnknownMessageType { message_type: head[3] })?;
        let flags = head[4];
        if flags != 0 {
            return Err(DecodeError::UnsupportedFlags { flags });
        }
        let cluster_id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]);
        Ok(Header { version, message_type, flags, cluster_id })
    }
}
