//! Bytes for the driver to send.

use std::net::SocketAddr;

use crate::wire::{Message, MessageType};

/// Which transport a [`Transmit`] needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransmitKind {
    /// One datagram, never larger than the configured MTU.
    Datagram,
    /// One frame on a reliable stream (TCP), for state too large for a datagram.
    Stream,
}

/// A packet to send. Produced by [`crate::Node::poll_transmit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Destination gossip address.
    pub to: SocketAddr,
    /// Datagram or stream frame.
    pub kind: TransmitKind,
    /// What kind of message the payload holds (for metrics).
    pub message_type: MessageType,
    /// Header and body, ready to send.
    pub payload: Vec<u8>,
}

/// Removes one optional part of a message (its last block, else its last piggybacked update,
/// else its last digest entry); false if nothing is left to remove.
pub(crate) fn shed_one(message: &mut Message) -> bool {
    fn pop<T>(v: &mut Vec<T>) -> bool {
        v.pop().is_some()
    }
    match message {
        Message::Syn(m) => pop(&mut m.blocks) || pop(&mut m.updates) || pop(&mut m.digest.entries),
        Message::SynAck(m) => {
            pop(&mut m.blocks) || pop(&mut m.updates) || m.digest.as_mut().is_some_and(|d| pop(&mut d.entries))
        }
        Message::Ack(m) => pop(&mut m.blocks),
        Message::Push(m) => pop(&mut m.blocks) || pop(&mut m.updates) || pop(&mut m.digest.entries),
        Message::Ping(m) => pop(&mut m.updates),
        Message::PingAck(m) => pop(&mut m.updates),
        Message::PingReq(m) => pop(&mut m.updates),
        Message::Tree(crate::wire::Tree::Gossip(b)) => pop(b),
        Message::Tree(crate::wire::Tree::IHave(a) | crate::wire::Tree::Graft(a)) => pop(a),
        Message::PushAck(_) | Message::Nack(_) | Message::Tree(crate::wire::Tree::Prune) => false,
        Message::UserEvents(m) => m.events.len() > 1 && pop(&mut m.events),
        Message::Query(_) | Message::QueryResponse(_) => false,
    }
}
