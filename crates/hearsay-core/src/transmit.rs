//! Bytes for the driver to send.

use std::net::SocketAddr;

use crate::wire::MessageType;

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
