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
//! The answer can be large, and a node never dials a stream to, nor sends more than three times
//! what it received to, an address that has not proved it receives (see `verify`). So the node
//! catching up *pulls*: a peer it has not verified gets a plain exchange first (its answer is
//! the proof, and the catch-up follows at once); a verified peer gets the full digest over a
//! stream the node dials itself whenever the answer will not fit a datagram, and the peer's
//! driver, seeing the connection come from the claimed IP, verifies the node and answers by
//! stream. A node joining by datagram whose answer was cut to its budget catches up the same
//! way once the digest it got shows how far behind it is.
//!
//! A node answers at most [`CATCH_UPS_SERVED_PER_INTERVAL`] catch-ups by stream per gossip
//! interval. When a whole cluster starts at once, every node first asks one of a few seeds:
//! answering them all would put a thousand full copies of the membership in flight from three
//! nodes (connections, stream memory, and in one simulated process gigabytes). Beyond its
//! share, a node answers with one datagram instead: a random slice of its digest, the blocks
//! of a few members the asker lacks, a pull of the owners the asker knows and it does not, and
//! a *referral*: the names of the members it answered in full within the last two intervals
//! (their blocks first, so that the asker knows them). Those hold the membership; the asker
//! catches up from one of them at once instead of asking the busy seed again an interval
//! later, and a referred node that has used its share refers onwards in turn. The catch-ups
//! of a join storm so run down a tree of the nodes that already hold the membership, each
//! answering a few and naming them to the rest: the informed set multiplies by the share
//! plus one per round trip, not per gossip interval, and formation takes O(log N) round
//! trips while no node serves more than a few catch-ups at once. (Without referrals, askers
//! learned of informed nodes only by meeting them at random, and kept returning to the
//! seeds, whose member counts are the highest: the informed set grew by a roughly constant
//! number of nodes per interval.) A node follows at most
//! [`REFERRALS_FOLLOWED_PER_INTERVAL`] referrals per interval, and only to members it knows.
//!
//! [`Digest::members`]: crate::wire::Digest::members

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use rand::seq::IndexedRandom;

use crate::Instant;
use crate::digest::compare;
use crate::exchange::{digest_size, updates_size};
use crate::node::Node;
use crate::state::{MemberIdx, MemberStatus, SELF_IDX};
use crate::transmit::TransmitKind;
use crate::wire::{HEADER_LEN, MemberUpdate, Message, Syn, SynAck};

/// Gossip intervals a node stays a few members short (within the slack) before it catches up
/// in full anyway.
pub(crate) const BEHIND_INTERVALS: u32 = 2;

/// Catch-ups a node answers by stream per gossip interval; further ones get a datagram's
/// worth and catch up elsewhere. Four lets the informed part of a join storm grow about
/// fivefold per interval.
pub(crate) const CATCH_UPS_SERVED_PER_INTERVAL: u32 = 4;

/// Members a node names to the askers it is too busy for: the last it answered in full.
const REFERRALS: usize = 4;

/// Referrals a node follows per gossip interval (each costs one exchange).
const REFERRALS_FOLLOWED_PER_INTERVAL: u32 = 8;

/// A count that starts again every gossip interval.
#[derive(Debug, Default)]
struct PerInterval {
    since: Option<Instant>,
    count: u32,
}

impl PerInterval {
    /// Counts one more and says yes if fewer than `max` were counted in the current interval.
    fn take(&mut self, now: Instant, interval: Duration, max: u32) -> bool {
        if self.since.is_none_or(|since| now >= since + interval) {
            *self = PerInterval { since: Some(now), count: 0 };
        }
        if self.count >= max {
            return false;
        }
        self.count += 1;
        true
    }
}

/// Catch-ups answered by stream in the current interval and the members they went to, and
/// the referrals followed in the current interval.
#[derive(Debug, Default)]
pub(crate) struct Served {
    answered: PerInterval,
    /// When each of the last [`REFERRALS`] catch-ups was answered, and to whom; oldest first.
    recent: VecDeque<(Instant, Arc<str>)>,
    followed: PerInterval,
}

impl Node {
    /// Input: replaces the seed addresses (a driver re-resolving seed names calls it whenever
    /// the names resolve anew). Our own address is left out. Seeds are contacted when this
    /// node knows no live member and, now and then, to heal partitions.
    pub fn set_seeds(&mut self, seeds: Vec<SocketAddr>) {
        let me = self.members.me().id.addr;
        self.seeds = seeds.into_iter().filter(|s| *s != me).collect();
    }

    /// The seed addresses in use.
    pub fn seeds(&self) -> &[SocketAddr] {
        &self.seeds
    }

    /// Whether this node knows no live member besides itself (it is joining, or everyone
    /// else is gone): a driver resolving seed names should resolve them again.
    pub fn is_lonely(&self) -> bool {
        !self
            .members
            .iter()
            .any(|(i, m)| i != SELF_IDX && matches!(m.status, MemberStatus::Alive | MemberStatus::Suspect))
    }

    /// Input: join a cluster through `addrs` now (Serf's `join`): a full exchange with each,
    /// whatever this node already knows. Our own address is skipped.
    pub fn join(&mut self, addrs: &[SocketAddr]) {
        let me = self.members.me().id.addr;
        for addr in addrs.iter().copied().filter(|a| *a != me) {
            self.send_full_syn(addr, false);
        }
    }

    /// Alive and suspect members we know, ourselves included (what our digests advertise).
    /// Dead and left members are counted through [`Node::watch`], which holds every member
    /// that is not alive (perhaps twice until the next round dedups it: an undercount only
    /// makes peers less eager to catch up from us).
    pub(crate) fn live_members(&self) -> usize {
        let departed = self
            .watch
            .iter()
            .filter(|idx| {
                self.members.get(**idx).is_some_and(|m| matches!(m.status, MemberStatus::Dead | MemberStatus::Left))
            })
            .count();
        self.members.len().saturating_sub(departed)
    }

    /// Whether a peer with `theirs` live members surely knows clearly more members than we
    /// do. Their live count is compared with every member we know or recently forgot, so
    /// members that died or were forgotten at different times on different nodes never look
    /// like a gap.
    pub(crate) fn membership_gap(&self, theirs: u32) -> usize {
        let mine = self.members.len() + self.forgotten.len();
        usize::try_from(theirs).map_or(0, |theirs| theirs.saturating_sub(mine))
    }

    /// A peer's digest said it knows `theirs` live members: catch up with it if it is ahead.
    /// A gap of more than `max(1, N / 64)` members takes a full exchange; a smaller one, an
    /// anti-entropy exchange whose answer covers a slice where we differ (the slack leaves a
    /// single fresh join to its rumor).
    pub(crate) fn compare_member_count(&mut self, now: Instant, peer: SocketAddr, theirs: u32) {
        let gap = self.membership_gap(theirs);
        if self.behind_since.is_some_and(|(_, count)| self.membership_gap(count) == 0) {
            // We now know as many members as whoever left us behind.
            self.behind_since = None;
        }
        if self.left || gap == 0 {
            return;
        }
        if now < self.catch_up_not_before {
            // One catch-up per interval: with a verified peer, this one waits for its turn (see
            // `catch_up_timeout`) instead of for the next member count heard after it. (An
            // unverified one is only ever answered within its budget, while its packet is
            // handled.)
            if self.verifier.is_verified(peer, now) && self.catch_up_next.is_none_or(|(_, best)| theirs > best) {
                self.catch_up_next = Some((peer, theirs));
            }
            return;
        }
        self.catch_up_next = None;
        let mut slack = (self.members.len() / 64).max(1);
        if gap <= slack {
            // A few members short: left to the join rumors, unless they have not closed the
            // gap within `BEHIND_INTERVALS` (the last nodes of a join storm wait on no rumor,
            // or on rumors that bring one member at a time).
            match self.behind_since {
                Some((since, count)) => {
                    if now >= since + self.config.gossip_interval * BEHIND_INTERVALS {
                        slack = 0;
                        self.behind_since = None;
                    } else {
                        self.behind_since = Some((since, count.max(theirs)));
                    }
                }
                None => self.behind_since = Some((now, theirs)),
            }
        }
        self.catch_up_not_before = now + self.config.gossip_interval;
        if gap > slack && !self.verifier.is_verified(peer, now) {
            // Whoever claims to know more may not be at that address: a plain exchange first
            // (within the address's budget), whose answer proves it receives; the catch-up
            // follows at once (see `verify`).
            self.catch_up_verifying = Some(peer);
            self.send_syn(peer, true, false, false);
            return;
        }
        self.stats.catch_ups += 1;
        if gap > slack {
            // The answer lists about `gap` members: pulled by stream if it will not fit a
            // datagram (the peer answers a stream we dial with a stream).
            let answer = gap.saturating_mul(self.members.average_name_len() + 24);
            self.send_full_syn(peer, answer > self.datagram_budget());
        } else {
            self.send_syn(peer, true, false, false);
        }
    }

    /// A catch-up held back by the one-per-interval pace is due: start it, if we are still
    /// behind that peer.
    pub(crate) fn catch_up_timeout(&mut self, now: Instant) {
        if now >= self.catch_up_not_before
            && let Some((peer, theirs)) = self.catch_up_next.take()
        {
            self.compare_member_count(now, peer, theirs);
        }
    }

    /// An exchange started to verify a peer before a catch-up was answered: catch up now.
    pub(crate) fn catch_up_verified(&mut self, now: Instant, peer: SocketAddr) {
        if self.catch_up_verifying == Some(peer) {
            self.catch_up_verifying = None;
            self.catch_up_not_before = now;
        }
    }

    /// A push-pull `Syn` with our full digest: by datagram if it fits and the answer is not
    /// to be `pull`ed, else by stream. A stream goes only to a verified address; an unverified
    /// one gets as much of the digest as a datagram holds (its answer verifies it, see `verify`).
    pub(crate) fn send_full_syn(&mut self, to: SocketAddr, pull: bool) {
        let updates = self.piggyback(self.datagram_budget() / 4);
        let verified = self.verifier.is_verified(to, self.now);
        let budget = if verified { self.stream_budget() / 2 } else { self.datagram_budget() / 2 };
        let digest = self.build_digest(0, 0, budget);
        let exchange_id = self.next_exchange_id();
        self.remember_syn(exchange_id, to, true, false);
        let size = digest_size(&digest) + updates_size(&updates);
        let fits = size <= self.datagram_budget();
        let kind = if verified && (pull || !fits) { TransmitKind::Stream } else { TransmitKind::Datagram };
        let flow = self.flow_report();
        let syn = Syn { exchange_id, push_pull: true, rumor: false, digest, blocks: Vec::new(), updates, flow };
        self.send(to, kind, &Message::Syn(syn));
    }

    /// Whether a full exchange asked of us now may be answered by stream: true while this
    /// interval's share lasts (and always when the whole answer fits a datagram, which costs
    /// no more than any exchange).
    pub(crate) fn may_serve_catch_up(&mut self, now: Instant, from: SocketAddr) -> bool {
        if self.slice_bits_for(self.datagram_budget() / 2) == 0 {
            return true;
        }
        if !self.catch_ups_served.answered.take(now, self.config.gossip_interval, CATCH_UPS_SERVED_PER_INTERVAL) {
            self.stats.catch_ups_deferred += 1;
            return false;
        }
        self.stats.catch_ups_served += 1;
        if let Some(name) = self.members.at_addr(from).map(|m| m.id.name.clone()) {
            let recent = &mut self.catch_ups_served.recent;
            if recent.len() >= REFERRALS {
                recent.pop_front();
            }
            recent.push_back((now, name));
        }
        true
    }

    /// Members we answered a full exchange for within the last two intervals (they hold the
    /// membership as of then), except the one at `asker`, newest first.
    fn referrals(&self, now: Instant, asker: SocketAddr) -> Vec<MemberIdx> {
        let fresh = self.config.gossip_interval * 2;
        self.catch_ups_served
            .recent
            .iter()
            .rev()
            .filter(|(at, _)| *at + fresh >= now)
            .filter_map(|(_, name)| self.members.lookup(name))
            .filter(|idx| self.members.get(*idx).is_some_and(|m| m.id.addr != asker && m.status == MemberStatus::Alive))
            .collect()
    }

    /// A peer too busy to answer our full exchange named members it answered lately: catch up
    /// from one of them now, instead of asking the busy peer again next interval. Busy peers
    /// refer onwards, so the catch-ups of a join storm spread down a tree of the nodes that
    /// already hold the membership within the interval (see the module docs). At most
    /// [`REFERRALS_FOLLOWED_PER_INTERVAL`] per interval.
    pub(crate) fn follow_referral(&mut self, now: Instant, from: SocketAddr, names: &[String], theirs: u32) {
        if self.left || self.membership_gap(theirs) == 0 {
            return;
        }
        let me = self.members.me().id.addr;
        let candidates: Vec<SocketAddr> = names
            .iter()
            .take(REFERRALS)
            .filter_map(|name| self.members.lookup(name))
            .filter_map(|idx| self.members.get(idx))
            .filter(|m| m.status == MemberStatus::Alive && m.id.addr != me && m.id.addr != from)
            .map(|m| m.id.addr)
            .collect();
        let Some(&peer) = candidates.choose(&mut self.rng) else { return };
        if !self.catch_ups_served.followed.take(now, self.config.gossip_interval, REFERRALS_FOLLOWED_PER_INTERVAL) {
            return;
        }
        self.stats.catch_up_referrals += 1;
        self.catch_up_not_before = now;
        self.catch_up_next = None;
        self.compare_member_count(now, peer, theirs);
    }

    /// Answers a full exchange beyond our share with one datagram: a random slice of our
    /// digest, blocks of members the asker lacks from a random one on, and a pull of what its
    /// digest lists that we lack (see the module docs).
    pub(crate) fn defer_catch_up(&mut self, from: SocketAddr, syn: &Syn, known: Vec<u16>, updates: Vec<MemberUpdate>) {
        let referrals = self.referrals(self.now, from);
        let refer: Vec<String> =
            referrals.iter().filter_map(|idx| self.members.get(*idx)).map(|m| m.id.name.to_string()).collect();
        let refer_size = 1 + refer.iter().map(|name| name.len() + 2).sum::<usize>();
        let budget = self.datagram_budget().saturating_sub(updates_size(&updates) + 3 * known.len() + refer_size);
        let bits = self.slice_bits_for(budget / 2);
        let slice = self.rng.random_range(0..1u32 << bits);
        let digest = self.build_digest(bits, slice, budget / 2);
        let lacking = compare(self, &syn.digest);
        let mut plan = self.plan(lacking);
        if !plan.items.is_empty() {
            let start = self.rng.random_range(0..plan.items.len());
            plan.items.rotate_left(start);
        }
        // The members we refer the asker to go first, so that it knows them.
        plan.items.sort_by_key(|(idx, _, _)| !referrals.contains(idx));
        let (blocks, _) = self.build_blocks(&plan, budget.saturating_sub(digest_size(&digest)));
        let flow = self.flow_report();
        let reply = SynAck {
            exchange_id: syn.exchange_id,
            in_sync: false,
            digest: Some(digest),
            blocks,
            known,
            updates,
            flow,
            refer,
        };
        self.send(from, TransmitKind::Datagram, &Message::SynAck(reply));
        self.pull_behind(from, &syn.digest);
    }

    /// Bytes a stream frame can carry besides the header and envelope.
    pub(crate) fn stream_budget(&self) -> usize {
        self.config.limits.max_stream_bytes.saturating_sub(HEADER_LEN + 16 + self.seal_overhead())
    }
}
