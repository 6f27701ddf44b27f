//! Epidemic broadcast trees (Plumtree: Leitão, Pereira and Rodrigues, "Epidemic Broadcast
//! Trees", SRDS 2007), over the full membership, as a dissemination strategy for key/value
//! updates ([`crate::Strategy::Plumtree`]).
//!
//! # The mechanism
//!
//! Each node keeps a small *view* of peers drawn at random from the live members:
//! `eager_peers` **eager** links and `lazy_peers` **lazy** ones (see
//! [`crate::PlumtreeConfig`]). Both ends of an eager link know it: a node that makes a link
//! eager on its own (a draw, a promotion) tells the peer with an empty `Graft`, and a node that
//! gets a payload (`Gossip`), a `Graft` or an announcement from a peer outside its view adds
//! it; a `Graft` that finds the view full (or comes from a member not known here yet) is
//! answered with a `Prune`, so the grafter does not count on a push that will not come. An
//! eager link known at one end only is a branch missing from the tree: on real sockets, the
//! nodes it cut off got each payload only by a graft, a graft timeout later.
//!
//! A node draws its view when it first knows live members, which in a join storm may be its
//! seeds only, and draws it again from scratch whenever the live members have doubled since:
//! a view kept from the seeds would hang every joiner's eager links on them. Until a duplicate
//! payload has first pruned a link here (the tree is *shaped*), eager links refused or pruned
//! by a peer's redraw are made up from the lazy ones every round, so the first broadcast
//! starts from a well-connected graph of eager links instead of islands only a graft joins.
//!
//! * A fresh update — a local write, or versions that arrived in an eager `Gossip` — is
//!   pushed at once, as a [`Block`] of the new versions, to every eager peer but the one it
//!   came from, and announced lazily (`IHave`: owner, generation, version) to the lazy peers.
//!   Announcements wait `ihave_delay` so that several share one datagram and so that they do
//!   not compete with the eager wave for the receivers' time (announced at once, they doubled
//!   update p99 at N = 200 on one host). Members without a key are not announced. Versions learned
//!   otherwise (anti-entropy, a membership catch-up) are only announced: pushing them eagerly
//!   would hand tree neighbours payloads they mostly hold, and prune the tree for nothing.
//! * **Prune**: a `Gossip` that brings nothing new is a duplicate: the link it came over is
//!   redundant, so the receiver makes it lazy and tells the sender (`Prune`), which does the
//!   same. Duplicates thin the eager links down to a spanning tree, after which a payload
//!   costs one message per node (relative message redundancy near zero).
//! * **Graft**: a node that saw a version announced (or received a block it cannot apply
//!   because an earlier version is missing) and still lacks it after `graft_timeout` sends
//!   `Graft` to the first announcer, with the version it holds; the announcer makes the link
//!   eager and answers with the missing versions in a `Gossip`. If that does not arrive
//!   within half the timeout, the next announcer is grafted. A graft both recovers the
//!   payload and repairs the tree where a link was lost or pruned too eagerly.
//! * **Tree repair**: every round the view drops members that are no longer alive; a node
//!   that lost an eager link (or has none) promotes a lazy peer, and the view is refilled
//!   from live members, which is also how joiners enter it. The grafts above repair whatever
//!   the promotion does not.
//!
//! Anti-entropy still runs every `anti_entropy_every` rounds and is what guarantees
//! convergence: a payload whose announcements were all lost, or too large for one datagram
//! (such blocks are only announced), arrives by the next reconciliation.
//!
//! The tree is shared by all senders (the paper's single tree), and the eager payload is a
//! Scuttlebutt block, so a receiver applies it with the same gap rule as every other block
//! (see the `delta` module) and the message identity is the pair (owner, version).
//!
//! This module owns the view, the outbox of fresh versions, the queued announcements and the
//! missing-payload timers; it does not touch rumors, digests or probes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use rand::Rng;
use rand::seq::SliceRandom;

use crate::Instant;
use crate::delta::{Applied, block_size};
use crate::node::Node;
use crate::state::{MemberIdx, MemberStatus, SELF_IDX};
use crate::transmit::TransmitKind;
use crate::wire::{Announcement, Block, Message, Tree, size};

/// Most peers in a view (eager and lazy, incoming links included).
pub(crate) const MAX_VIEW: usize = 64;
/// Most fresh ranges waiting to be pushed or announced.
const MAX_OUTBOX: usize = 4096;
/// Most payloads awaited after an announcement.
const MAX_MISSING: usize = 4096;
/// Most announcements queued for one peer before they are sent regardless of `ihave_delay`.
const MAX_QUEUED_ANNOUNCEMENTS: usize = 256;
/// Most announcers remembered per awaited payload.
const MAX_ANNOUNCERS: usize = 8;

/// What a link to a peer in the view carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    /// Payloads, pushed on arrival.
    Eager,
    /// Announcements only.
    Lazy,
}

/// Fresh versions `(from, to]` of a member, to push and announce after the current input.
#[derive(Debug)]
struct Fresh {
    member: MemberIdx,
    generation: u64,
    from: u64,
    /// The peer whose `Gossip` brought them (not sent back there).
    sender: Option<SocketAddr>,
    /// Pushed to eager peers (local writes and eager arrivals) or only announced.
    eager: bool,
}

/// A payload seen announced but not yet held.
#[derive(Debug)]
struct Missing {
    version: u64,
    announcers: Vec<SocketAddr>,
    due: Instant,
}

/// The tree state of one node.
#[derive(Debug, Default)]
pub(crate) struct Plumtree {
    view: BTreeMap<SocketAddr, (MemberIdx, Link)>,
    outbox: Vec<Fresh>,
    announce: BTreeMap<SocketAddr, Vec<Announcement>>,
    announce_at: Option<Instant>,
    missing: BTreeMap<(Arc<str>, u64), Missing>,
    /// While an eager `Gossip` is being applied: who sent it.
    receiving_from: Option<SocketAddr>,
    /// Live members known when the view was last drawn (0: never drawn).
    drawn_from: usize,
    /// Whether a duplicate payload has pruned a link here: until then the node keeps its
    /// full count of eager links (see `tree_maintain`).
    shaped: bool,
}

impl Plumtree {
    /// When the node wants `handle_timeout` for the tree.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let missing = self.missing.values().map(|m| m.due).min();
        match (missing, self.announce_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether anything is still in flight here (the simulator waits for quiet).
    pub(crate) fn busy(&self) -> bool {
        !self.outbox.is_empty() || !self.announce.is_empty() || !self.missing.is_empty()
    }

    /// Peers by link, in address order.
    pub(crate) fn peers(&self, link: Link) -> Vec<SocketAddr> {
        self.view.iter().filter(|(_, (_, l))| *l == link).map(|(a, _)| *a).collect()
    }

    fn set_link(&mut self, peer: SocketAddr, link: Link) {
        if let Some(entry) = self.view.get_mut(&peer) {
            entry.1 = link;
        }
    }
}

fn is_live(status: MemberStatus) -> bool {
    matches!(status, MemberStatus::Alive | MemberStatus::Suspect)
}

fn announcement_size(a: &Announcement) -> usize {
    size::announcement(a.name.len(), a.generation, a.version)
}

impl Node {
    /// Versions `(from, to]` of `member` became known here (see `Node::advanced`).
    pub(crate) fn tree_advanced(&mut self, member: MemberIdx, generation: u64, from: u64) {
        let sender = self.tree.receiving_from;
        let eager = member == SELF_IDX || sender.is_some();
        let outbox = &mut self.tree.outbox;
        if let Some(f) =
            outbox.iter_mut().find(|f| f.member == member && f.generation == generation && f.sender == sender)
        {
            f.from = f.from.min(from);
            f.eager |= eager;
            return;
        }
        if outbox.len() >= MAX_OUTBOX {
            outbox.remove(0);
            self.stats.count_drop("tree_queue_full");
        }
        self.tree.outbox.push(Fresh { member, generation, from, sender, eager });
    }

    /// Pushes and announces what the last input made fresh. Called after every input.
    pub(crate) fn tree_flush(&mut self, now: Instant) {
        if self.tree.outbox.is_empty() {
            return;
        }
        if self.tree.view.is_empty() {
            self.tree_maintain();
        }
        let outbox = std::mem::take(&mut self.tree.outbox);
        let budget = self.datagram_budget();
        let eager_peers = self.tree.peers(Link::Eager);
        let all_peers: Vec<SocketAddr> = self.tree.view.keys().copied().collect();
        // Per peer: blocks to push, announcements to queue.
        let mut pushes: BTreeMap<SocketAddr, Vec<Block>> = BTreeMap::new();
        let mut announcements: Vec<(SocketAddr, Announcement)> = Vec::new();
        for fresh in &outbox {
            let Some(m) = self.members.get(fresh.member) else { continue };
            if m.id.generation != fresh.generation || m.max_version() == 0 {
                // Another generation by now, or a member with no key yet: nothing to carry.
                continue;
            }
            let announcement =
                Announcement { name: m.id.name.to_string(), generation: m.id.generation, version: m.max_version() };
            let block = if fresh.eager {
                let reset = fresh.from < m.last_gc_version();
                let from = if reset { 0 } else { fresh.from };
                self.block_for(m, from, m.max_version(), reset, budget)
                    .filter(|(_, _, complete)| *complete)
                    .map(|(block, _, _)| block)
            } else {
                None
            };
            for peer in &all_peers {
                if Some(*peer) == fresh.sender {
                    continue;
                }
                match &block {
                    Some(block) if eager_peers.contains(peer) => {
                        pushes.entry(*peer).or_default().push(block.clone());
                    }
                    _ => announcements.push((*peer, announcement.clone())),
                }
            }
        }
        for (peer, blocks) in pushes {
            self.send_gossip(peer, blocks, budget);
        }
        for (peer, announcement) in announcements {
            let queue = self.tree.announce.entry(peer).or_default();
            queue.push(announcement);
            if queue.len() >= MAX_QUEUED_ANNOUNCEMENTS {
                self.send_announcements(peer);
            }
        }
        if !self.tree.announce.is_empty() {
            let delay = self.config.plumtree.ihave_delay;
            if delay.is_zero() {
                self.flush_announcements();
            } else if self.tree.announce_at.is_none() {
                self.tree.announce_at = Some(now + delay);
            }
        }
    }

    /// Sends `blocks` to `peer` in as few `Gossip` datagrams as fit.
    fn send_gossip(&mut self, peer: SocketAddr, blocks: Vec<Block>, budget: usize) {
        let mut batch: Vec<Block> = Vec::new();
        let mut used = 0;
        for block in blocks {
            let len = block_size(&block);
            if !batch.is_empty() && used + len > budget {
                let full = std::mem::take(&mut batch);
                self.send(peer, TransmitKind::Datagram, &Message::Tree(Tree::Gossip(full)));
                used = 0;
            }
            used += len;
            batch.push(block);
        }
        if !batch.is_empty() {
            self.send(peer, TransmitKind::Datagram, &Message::Tree(Tree::Gossip(batch)));
        }
    }

    fn flush_announcements(&mut self) {
        self.tree.announce_at = None;
        let peers: Vec<SocketAddr> = self.tree.announce.keys().copied().collect();
        for peer in peers {
            self.send_announcements(peer);
        }
    }

    fn send_announcements(&mut self, peer: SocketAddr) {
        let Some(queue) = self.tree.announce.remove(&peer) else { return };
        self.send_announcement_list(peer, queue, false);
    }

    /// `IHave` (or `Graft`) datagrams with `list`, packed to the datagram budget.
    fn send_announcement_list(&mut self, peer: SocketAddr, list: Vec<Announcement>, graft: bool) {
        let budget = self.datagram_budget();
        let wrap =
            |batch: Vec<Announcement>| Message::Tree(if graft { Tree::Graft(batch) } else { Tree::IHave(batch) });
        let mut batch: Vec<Announcement> = Vec::new();
        let mut used = 0;
        for a in list {
            let len = announcement_size(&a);
            if !batch.is_empty() && used + len > budget {
                self.send(peer, TransmitKind::Datagram, &wrap(std::mem::take(&mut batch)));
                used = 0;
            }
            used += len;
            batch.push(a);
        }
        if !batch.is_empty() {
            self.send(peer, TransmitKind::Datagram, &wrap(batch));
        }
    }

    /// Input: a tree message from `from`.
    pub(crate) fn on_tree(&mut self, now: Instant, from: SocketAddr, message: Tree, kind: TransmitKind) {
        match message {
            Tree::Gossip(blocks) => {
                self.tree_touch(from);
                self.tree.receiving_from = (kind == TransmitKind::Datagram).then_some(from);
                let outcomes = self.apply_blocks(now, &blocks);
                self.tree.receiving_from = None;
                // Only payloads count: a block without entries announces a member's existence.
                let payloads: Vec<Applied> =
                    blocks.iter().zip(&outcomes).filter(|(b, _)| !b.entries.is_empty()).map(|(_, o)| *o).collect();
                if outcomes.contains(&Applied::New) {
                    self.tree.set_link(from, Link::Eager);
                } else if !payloads.is_empty() && payloads.iter().all(|o| *o == Applied::Known) {
                    // A duplicate: this payload reaches us another way.
                    self.tree.set_link(from, Link::Lazy);
                    self.tree.shaped = true;
                    self.stats.prunes += 1;
                    self.send(from, TransmitKind::Datagram, &Message::Tree(Tree::Prune));
                }
                // A block that could not be applied (an earlier version is missing here) is
                // awaited like an announced payload: a graft asks for the gap.
                for b in &blocks {
                    let key = (Arc::from(b.owner.name.as_str()), b.owner.generation);
                    let awaited = self.tree.missing.get(&key).map(|m| m.version);
                    if awaited.is_some_and(|v| !self.lacks(&key.0, key.1, v)) {
                        self.tree.missing.remove(&key);
                    }
                    self.await_payload(now, &b.owner.name, b.owner.generation, b.to_version, from);
                }
            }
            Tree::IHave(list) => {
                // The announcer holds us in its view: hold it in ours, so announcements flow
                // both ways.
                self.tree_touch(from);
                for a in &list {
                    self.await_payload(now, &a.name, a.generation, a.version, from);
                }
            }
            Tree::Graft(list) => {
                self.tree_touch(from);
                if self.tree.view.contains_key(&from) {
                    self.tree.set_link(from, Link::Eager);
                } else {
                    // No room (or not a live member here): the grafter must not count on us
                    // to push to it.
                    self.send(from, TransmitKind::Datagram, &Message::Tree(Tree::Prune));
                }
                self.answer_graft(from, &list);
            }
            Tree::Prune => self.tree.set_link(from, Link::Lazy),
        }
    }

    /// Adds `peer` to the view as a lazy link if it is a live member and there is room.
    fn tree_touch(&mut self, peer: SocketAddr) {
        if self.tree.view.contains_key(&peer) || self.tree.view.len() >= MAX_VIEW {
            return;
        }
        let found = self.members.iter().find(|(idx, m)| *idx != SELF_IDX && m.id.addr == peer && is_live(m.status));
        if let Some((idx, _)) = found {
            self.tree.view.insert(peer, (idx, Link::Lazy));
        }
    }

    /// Whether this node lacks version `version` of `name`'s `generation`.
    fn lacks(&self, name: &str, generation: u64, version: u64) -> bool {
        match self.members.lookup(name) {
            None => true,
            Some(SELF_IDX) => false,
            Some(idx) => self.members.get(idx).is_some_and(|m| {
                m.id.generation < generation || (m.id.generation == generation && m.max_version() < version)
            }),
        }
    }

    fn await_payload(&mut self, now: Instant, name: &str, generation: u64, version: u64, announcer: SocketAddr) {
        // Version 0 is a member with no key yet: there is no payload to graft for.
        if version == 0 || !self.lacks(name, generation, version) {
            return;
        }
        let timeout = self.config.plumtree.graft_timeout;
        let key = (Arc::from(name), generation);
        let full = self.tree.missing.len() >= MAX_MISSING;
        match self.tree.missing.get_mut(&key) {
            Some(m) => {
                m.version = m.version.max(version);
                if !m.announcers.contains(&announcer) && m.announcers.len() < MAX_ANNOUNCERS {
                    m.announcers.push(announcer);
                }
            }
            None if full => self.stats.count_drop("tree_queue_full"),
            None => {
                self.tree.missing.insert(key, Missing { version, announcers: vec![announcer], due: now + timeout });
            }
        }
    }

    /// Answers a graft with what follows each announcement, as eager `Gossip`: in datagrams,
    /// or, to a verified peer that lacks more than `stream_threshold_bytes` (a node far
    /// behind, a member with a large state), in one stream message, as anti-entropy does.
    fn answer_graft(&mut self, to: SocketAddr, list: &[Announcement]) {
        let datagram_budget = self.datagram_budget();
        let stream_ok = self.verifier.is_verified(to, self.now);
        let budget = if stream_ok { self.stream_budget() } else { datagram_budget };
        let mut blocks = Vec::new();
        let mut total = 0;
        for a in list {
            let Some(idx) = self.members.lookup(&a.name) else { continue };
            let Some(m) = self.members.get(idx) else { continue };
            let has = if a.generation == m.id.generation {
                a.version
            } else if a.generation < m.id.generation {
                0
            } else {
                continue;
            };
            let reset = a.generation < m.id.generation || has < m.last_gc_version();
            let from = if reset { 0 } else { has };
            if m.max_version() <= from && !reset {
                continue;
            }
            // One stream message holds all the blocks; datagrams are packed per block.
            let room = if stream_ok { budget.saturating_sub(total) } else { budget };
            if let Some((block, _, _)) = self.block_for(m, from, m.max_version(), reset, room) {
                total += block_size(&block);
                blocks.push(block);
            }
        }
        if blocks.is_empty() {
            return;
        }
        let largest = blocks.iter().map(block_size).max().unwrap_or(0);
        if stream_ok && self.too_large_for_datagrams(total, largest, datagram_budget) {
            self.send(to, TransmitKind::Stream, &Message::Tree(Tree::Gossip(blocks)));
        } else {
            self.send_gossip(to, blocks, datagram_budget);
        }
    }

    /// Timers: queued announcements and awaited payloads.
    pub(crate) fn tree_timeout(&mut self, now: Instant) {
        if self.tree.announce_at.is_some_and(|at| at <= now) {
            self.flush_announcements();
        }
        let due: Vec<(Arc<str>, u64)> =
            self.tree.missing.iter().filter(|(_, m)| m.due <= now).map(|(k, _)| k.clone()).collect();
        let mut grafts: BTreeMap<SocketAddr, Vec<Announcement>> = BTreeMap::new();
        let retry = self.config.plumtree.graft_timeout / 2;
        for key in due {
            let Some(version) = self.tree.missing.get(&key).map(|m| m.version) else { continue };
            if !self.lacks(&key.0, key.1, version) {
                self.tree.missing.remove(&key);
                continue;
            }
            let Some(m) = self.tree.missing.get_mut(&key) else { continue };
            if m.announcers.is_empty() {
                // Every announcer was tried: anti-entropy will bring it.
                self.tree.missing.remove(&key);
                continue;
            }
            let peer = m.announcers.remove(0);
            m.due = now + retry;
            let has = self
                .members
                .lookup(&key.0)
                .and_then(|i| self.members.get(i))
                .filter(|m| m.id.generation == key.1)
                .map_or(0, |m| m.max_version());
            grafts.entry(peer).or_default().push(Announcement {
                name: key.0.to_string(),
                generation: key.1,
                version: has,
            });
        }
        for (peer, list) in grafts {
            self.tree_touch(peer);
            self.tree.set_link(peer, Link::Eager);
            self.stats.grafts += 1;
            self.send_announcement_list(peer, list, true);
        }
    }

    /// Makes the link to `peer` eager on our own initiative and tells the peer, with an empty
    /// `Graft`, so that it pushes to us too: an eager link only one end knows of is a branch
    /// the tree lacks (see `tree_maintain`).
    fn make_eager(&mut self, peer: SocketAddr) {
        self.tree.set_link(peer, Link::Eager);
        self.send(peer, TransmitKind::Datagram, &Message::Tree(Tree::Graft(Vec::new())));
    }

    /// Every round: drops departed peers, repairs a lost eager link and refills the view.
    ///
    /// The view is drawn again, from scratch, when the live members have at least doubled
    /// since it was drawn: a node draws its first view when it may know only its seeds, and a
    /// view kept from then would hang every joiner's eager links on the seeds (whose views
    /// fill up) instead of spreading them over the cluster. Eager links dropped by a redraw
    /// are pruned, new ones are announced with an empty `Graft`, so both ends of every eager
    /// link know it.
    pub(crate) fn tree_maintain(&mut self) {
        let members = &self.members;
        let mut lost_eager = false;
        self.tree.view.retain(|addr, (idx, link)| {
            let live = members.get(*idx).is_some_and(|m| m.id.addr == *addr && is_live(m.status));
            lost_eager |= !live && *link == Link::Eager;
            live
        });
        let live = self.live_members();
        if self.tree.drawn_from > 0 && live >= 2 * self.tree.drawn_from {
            for peer in self.tree.peers(Link::Eager) {
                self.send(peer, TransmitKind::Datagram, &Message::Tree(Tree::Prune));
            }
            self.tree.view.clear();
            lost_eager = false;
        }
        let first = self.tree.view.is_empty();
        let eager = self.tree.peers(Link::Eager).len();
        if !first {
            // Before any payload has shaped the tree here, eager links refused (a peer that did
            // not know us yet, or whose view was full) or pruned by a peer's redraw are made up
            // at once: otherwise a joiner could start its first broadcast with a single eager
            // link into a pair or a handful of nodes cut off from the rest, which only a graft
            // would join. Once shaped, only a lost last link or a departed eager peer is replaced.
            let want = if self.tree.shaped {
                usize::from(lost_eager || eager == 0)
            } else {
                self.config.plumtree.eager_peers.saturating_sub(eager)
            };
            let mut lazy = self.tree.peers(Link::Lazy);
            lazy.shuffle(&mut self.rng);
            for pick in lazy.into_iter().take(want) {
                self.make_eager(pick);
            }
        }
        let target = self.config.plumtree.eager_peers + self.config.plumtree.lazy_peers;
        if self.tree.view.len() >= target {
            return;
        }
        let wanted = |m: &crate::state::Member, view: &BTreeMap<SocketAddr, (MemberIdx, Link)>| {
            is_live(m.status) && !view.contains_key(&m.id.addr)
        };
        let slots = self.members.slots();
        let mut picked: Vec<MemberIdx> = Vec::new();
        if slots <= 8 * target {
            // A small cluster: shuffle every candidate.
            let view = &self.tree.view;
            picked = self.members.iter().filter(|(i, m)| *i != SELF_IDX && wanted(m, view)).map(|(i, _)| i).collect();
            picked.shuffle(&mut self.rng);
        } else {
            // A large one: sample slots at random (the view is a small fraction of them).
            for _ in 0..8 * target {
                let idx = self.rng.random_range(0..slots) as MemberIdx;
                if idx != SELF_IDX
                    && !picked.contains(&idx)
                    && self.members.get(idx).is_some_and(|m| wanted(m, &self.tree.view))
                {
                    picked.push(idx);
                }
            }
        }
        if first && !picked.is_empty() {
            self.tree.drawn_from = live;
        }
        // A first draw makes its first `eager_peers` picks eager.
        let mut eager_wanted = if first { self.config.plumtree.eager_peers } else { 0 };
        for idx in picked.into_iter().take(target - self.tree.view.len()) {
            let Some(m) = self.members.get(idx) else { continue };
            let addr = m.id.addr;
            self.tree.view.insert(addr, (idx, Link::Lazy));
            if eager_wanted > 0 {
                eager_wanted -= 1;
                self.make_eager(addr);
            }
        }
    }
}

#[cfg(test)]
#[path = "plumtree_tests.rs"]
mod tests;
