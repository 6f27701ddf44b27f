//! No amplification towards addresses that never proved they receive.
//!
//! A datagram's sender address is only a claim: anyone can send a 20-byte `Syn` with an
//! empty digest "from" a third party's address, and a node that answered with everything it
//! holds (up to `limits.max_stream_bytes`, over a TCP stream it dials itself) would be an
//! amplifier aimed at that third party. So, as QUIC does, a node keeps two tables:
//!
//! * **Verified addresses**: an address is verified once it proved it receives what this node
//!   sends, by echoing a value it could only learn by receiving it: a `PingAck` to a probe's
//!   sequence number, or a `SynAck` to a pending `Syn`'s exchange id, from the address the
//!   probe or `Syn` went to. Sequence numbers and exchange ids are a keyed permutation of a
//!   counter ([`Verifier::token`]), so an off-path sender cannot guess them from its own
//!   exchanges with the node. A driver may also verify an address with
//!   [`Node::verify_address`] when it has its own proof, such as a TCP connection (whose
//!   handshake is a round trip) from the address's IP. A verification lasts
//!   [`VERIFIED_TTL`]; live members renew it with every probe and exchange this node starts.
//!   The table holds at most [`VERIFIED_CAP`] addresses, the least recently verified evicted.
//! * **Budgets**: towards an address that is not verified, the replies to its packets (every
//!   transmit produced while handling its input and addressed to it) total at most
//!   [`AMPLIFICATION_FACTOR`] times the bytes received from it. Replies are built to fit the
//!   budget (a partial digest, fewer blocks), and one that still does not fit is dropped;
//!   both are counted in [`Stats::amplification_limited`](crate::Stats::amplification_limited),
//!   drops also under the `amplification_budget` drop reason. At most [`BUDGET_CAP`] budgets
//!   are kept, the oldest evicted (an evicted address starts again from zero received, so
//!   the bound holds over its whole history).
//!
//! And no stream is ever dialled to an unverified address (drop reason `unverified_stream`).
//! A peer that needs a large answer pulls it instead: it sends its full `Syn` over a stream
//! it dials itself (see `formation`), the responder's driver verifies it from the connection,
//! and the answer comes back by stream.
//!
//! Messages this node starts on its own (rounds, probes, joins) are not budgeted: they go to
//! members and seeds at the node's own pace, not in proportion to what anyone sends.

use std::net::SocketAddr;
use std::time::Duration;

use std::collections::HashMap;

use crate::Instant;
use crate::node::Node;
use crate::transmit::TransmitKind;

/// Replies to an unverified address total at most this many times the bytes received from it.
pub const AMPLIFICATION_FACTOR: u64 = 3;
/// How long a proof that an address receives lasts.
pub const VERIFIED_TTL: Duration = Duration::from_secs(300);
/// Verified addresses remembered at once.
pub const VERIFIED_CAP: usize = 1024;
/// Unverified addresses whose budget is remembered at once.
pub const BUDGET_CAP: usize = 1024;

/// The key of [`Verifier::token`], from a node's secret random salt (mixed, so that the two
/// uses of the salt say nothing about each other).
pub(crate) fn token_key(salt: u64) -> u64 {
    let mut z = salt ^ 0x9e37_79b9_7f4a_7c15;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Bytes exchanged with an unverified address.
#[derive(Debug, Clone, Copy)]
struct Budget {
    received: u64,
    sent: u64,
    /// Insertion order, for eviction.
    order: u64,
}

/// The verified addresses and the budgets of the others.
#[derive(Debug)]
pub(crate) struct Verifier {
    key: u64,
    verified: HashMap<SocketAddr, Instant>,
    budgets: HashMap<SocketAddr, Budget>,
    inserted: u64,
}

impl Verifier {
    pub(crate) fn new(key: u64) -> Self {
        Verifier { key, verified: HashMap::new(), budgets: HashMap::new(), inserted: 0 }
    }

    /// The value sent for counter value `n` (an exchange id or a ping sequence number): a
    /// keyed permutation of the `u32`s, so distinct counters give distinct tokens and the
    /// next token cannot be told from earlier ones without the key.
    pub(crate) fn token(&self, n: u32) -> u32 {
        let k = self.key;
        let mut x = n;
        for round in [k as u32, (k >> 32) as u32, (k as u32).rotate_left(13) ^ (k >> 40) as u32] {
            x = x.wrapping_add(round);
            x ^= x >> 15;
            x = x.wrapping_mul(0x2c1b_3c6d);
            x ^= x >> 12;
            x = x.wrapping_mul(0x297a_2d39);
            x ^= x >> 15;
        }
        x
    }

    pub(crate) fn is_verified(&self, addr: SocketAddr, now: Instant) -> bool {
        self.verified.get(&addr).is_some_and(|at| now < *at + VERIFIED_TTL)
    }

    pub(crate) fn verify(&mut self, addr: SocketAddr, now: Instant) {
        if let Some(at) = self.verified.get_mut(&addr) {
            *at = (*at).max(now);
            return;
        }
        // The least recently verified goes (ties by address, for determinism).
        if self.verified.len() >= VERIFIED_CAP
            && let Some(oldest) = self.verified.iter().map(|(a, t)| (*t, *a)).min().map(|(_, a)| a)
        {
            self.verified.remove(&oldest);
        }
        self.verified.insert(addr, now);
        self.budgets.remove(&addr);
    }

    /// Bytes that arrived from `addr`: credit towards replies while it is unverified.
    pub(crate) fn received(&mut self, addr: SocketAddr, bytes: usize, now: Instant) {
        if self.is_verified(addr, now) {
            return;
        }
        if !self.budgets.contains_key(&addr)
            && self.budgets.len() >= BUDGET_CAP
            && let Some(oldest) = self.budgets.iter().min_by_key(|(_, b)| b.order).map(|(a, _)| *a)
        {
            self.budgets.remove(&oldest);
        }
        self.inserted += 1;
        let order = self.inserted;
        let budget = self.budgets.entry(addr).or_insert(Budget { received: 0, sent: 0, order });
        budget.received = budget.received.saturating_add(bytes as u64);
    }

    /// Bytes that may still be sent to `addr`: `None` when it is verified.
    pub(crate) fn allowance(&self, addr: SocketAddr, now: Instant) -> Option<usize> {
        if self.is_verified(addr, now) {
            return None;
        }
        let left = self
            .budgets
            .get(&addr)
            .map_or(0, |b| b.received.saturating_mul(AMPLIFICATION_FACTOR).saturating_sub(b.sent));
        Some(usize::try_from(left).unwrap_or(usize::MAX))
    }

    fn spend(&mut self, addr: SocketAddr, bytes: usize) {
        if let Some(b) = self.budgets.get_mut(&addr) {
            b.sent = b.sent.saturating_add(bytes as u64);
        }
    }

    #[cfg(test)]
    fn tables(&self) -> (usize, usize) {
        (self.verified.len(), self.budgets.len())
    }
}

/// What [`Node::send`] may do with a transmit.
pub(crate) enum Gate {
    Send,
    /// Refused, under this drop reason.
    Refuse(&'static str),
}

impl Node {
    /// Input: the driver has proof that `addr` receives what is sent to it, such as a TCP
    /// connection from `addr`'s IP (the handshake is a round trip). Replies to it are no longer
    /// budgeted and may go by stream, for [`VERIFIED_TTL`] (see the `verify` module).
    pub fn verify_address(&mut self, now: Instant, addr: SocketAddr) {
        self.verifier.verify(addr, now);
    }

    /// Whether `addr` proved it receives, recently (see [`Node::verify_address`]).
    pub fn is_verified(&self, addr: SocketAddr) -> bool {
        self.verifier.is_verified(addr, self.now)
    }

    /// Room for a reply's digest, blocks and updates towards `to`: a datagram's, or less if
    /// `to` is unverified and its budget is smaller. `None` for a verified address.
    pub(crate) fn reply_room(&self, to: SocketAddr) -> Option<usize> {
        let overhead = self.config.mtu - self.datagram_budget();
        self.verifier.allowance(to, self.now).map(|left| left.saturating_sub(overhead).min(self.datagram_budget()))
    }

    /// Whether a transmit of `len` bytes to `to` may go (and charges the budget if so).
    pub(crate) fn gate(&mut self, to: SocketAddr, kind: TransmitKind, len: usize) -> Gate {
        let Some(left) = self.verifier.allowance(to, self.now) else { return Gate::Send };
        if kind == TransmitKind::Stream {
            self.stats.amplification_limited += 1;
            return Gate::Refuse("unverified_stream");
        }
        if self.replying_to != Some(to) {
            return Gate::Send;
        }
        if len > left {
            self.stats.amplification_limited += 1;
            return Gate::Refuse("amplification_budget");
        }
        self.verifier.spend(to, len);
        Gate::Send
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 7946))
    }

    #[test]
    fn tokens_are_distinct_and_depend_on_the_key() {
        let v = Verifier::new(0x1234_5678_9abc_def0);
        let w = Verifier::new(0x0fed_cba9_8765_4321);
        let tokens: std::collections::HashSet<u32> = (0..10_000).map(|n| v.token(n)).collect();
        assert_eq!(tokens.len(), 10_000);
        assert!((0..100).filter(|n| v.token(*n) == w.token(*n)).count() < 2);
        assert!((1..100).all(|n| v.token(n) != v.token(n - 1).wrapping_add(1)));
    }

    #[test]
    fn an_unverified_address_gets_three_times_what_it_sent_and_a_verified_one_expires() {
        let mut v = Verifier::new(1);
        let now = Instant::ZERO;
        assert_eq!(v.allowance(addr(1), now), Some(0));
        v.received(addr(1), 20, now);
        assert_eq!(v.allowance(addr(1), now), Some(60));
        v.spend(addr(1), 50);
        assert_eq!(v.allowance(addr(1), now), Some(10));
        v.verify(addr(1), now);
        assert_eq!(v.allowance(addr(1), now), None);
        assert_eq!(v.allowance(addr(1), now + VERIFIED_TTL), Some(0), "the proof expired");
    }

    #[test]
    fn tables_are_bounded_and_evict_the_oldest() {
        let mut v = Verifier::new(1);
        let n = u16::try_from(VERIFIED_CAP.max(BUDGET_CAP) + 10).unwrap();
        for i in 0..n {
            let now = Instant::from_millis(u64::from(i));
            v.verify(addr(i), now);
            v.received(addr(i + n), 10, now);
        }
        assert_eq!(v.tables(), (VERIFIED_CAP, BUDGET_CAP));
        let now = Instant::from_millis(u64::from(n));
        assert!(!v.is_verified(addr(0), now), "the oldest verification was evicted");
        assert!(v.is_verified(addr(n - 1), now));
        assert_eq!(v.allowance(addr(n), now), Some(0), "the oldest budget was evicted");
        assert_eq!(v.allowance(addr(2 * n - 1), now), Some(30));
    }
}
