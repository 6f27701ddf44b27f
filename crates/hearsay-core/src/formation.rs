//! Catching up on membership: one full exchange with a peer that knows clearly more members.
//!
//! Every digest says how many members its sender knows ([`Digest::members`]). A node that
//! hears of a peer knowing more than `max(1, mine / 64)` members beyond its own count is behind
//! on membership (it joined while others were joining, or came back from a partition) and
//! sends that peer its *full* digest, over a stream when it does not fit a datagram. A full
//! digest (slice bits 0) covers every owner, so the peer answers with everything the node
//! lacks and its own full digest, and the node's `Ack` completes the peer: both leave the
//! exchange knowing the union of their memberships. Differences of a member or two are left to
//! the join rumors and to checksum repair, which cost O(1) per message; a catch-up costs O(N)
//! bytes and is started at most once per gossip interval. See the `membership` module docs
//! for why formation needs it.
//!
//! [`Digest::members`]: crate::wire::Digest::members

use std::net::SocketAddr;

use crate::Instant;
use crate::exchange::{digest_size, updates_size};
use crate::node::Node;
use crate::transmit::TransmitKind;
use crate::wire::{HEADER_LEN, Message, Syn};

impl Node {
    /// Whether a peer that knows `theirs` members is clearly ahead of us.
    pub(crate) fn behind_on_membership(&self, theirs: u32) -> bool {
        let mine = self.members.len();
        let slack = (mine / 64).max(1);
        usize::try_from(theirs).is_ok_and(|theirs| theirs > mine + slack)
    }

    /// A peer's digest said it knows `theirs` members: catch up with it if it is clearly ahead.
    pub(crate) fn compare_member_count(&mut self, now: Instant, peer: SocketAddr, theirs: u32) {
        if self.left || now < self.catch_up_not_before || !self.behind_on_membership(theirs) {
            return;
        }
        self.catch_up_not_before = now + self.config.gossip_interval;
        self.stats.catch_ups += 1;
        self.send_full_syn(peer);
    }

    /// A push-pull `Syn` with our full digest: by datagram if it fits, else by stream.
    pub(crate) fn send_full_syn(&mut self, to: SocketAddr) {
        let updates = self.piggyback(self.datagram_budget() / 4);
        let digest = self.build_digest(0, 0, self.stream_budget() / 2);
        let exchange_id = self.next_exchange_id();
        self.remember_syn(exchange_id, to, true, false);
        let size = digest_size(&digest) + updates_size(&updates);
        let kind = if size <= self.datagram_budget() { TransmitKind::Datagram } else { TransmitKind::Stream };
        let syn = Syn { exchange_id, push_pull: true, rumor: false, digest, blocks: Vec::new(), updates };
        self.send(to, kind, &Message::Syn(syn));
    }

    /// Bytes a stream frame can carry besides the header and envelope.
    pub(crate) fn stream_budget(&self) -> usize {
        self.config.limits.max_stream_bytes.saturating_sub(HEADER_LEN + 16 + self.seal_overhead())
    }
}
