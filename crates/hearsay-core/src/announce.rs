//! Telling every member at once that this node restarted.
//!
//! A node that restarts (a new generation on the same address, as a rolling update does)
//! is still held alive at its previous generation by every member. The news of its new
//! life travels as a join rumor, which reaches most members within a round and the last few
//! only when a checksum repair finds them, several intervals later: in a simulated rolling
//! restart of 50 nodes, one restart in six was still unknown to someone after two intervals,
//! and one was after ten.
//!
//! A restarted node cannot tell by itself that it restarted (an agent's generation is a
//! timestamp, and the peers it joins through replace its older life before answering). So a
//! peer that replaces a member's live older generation at the same address on that member's
//! own word in a `Syn` (its join, or a round) answers with one extra ping carrying the older
//! life it replaced: the restart hint. A node that learns the cluster holds an older
//! generation of itself at its own address (from that hint, any member update or a digest's
//! owner, see `identity`) knows it restarted, and tells every live member it knows directly: one ping carrying its own
//! `alive` update, the same update the rumor carries. Members it learns of later (its
//! catch-up is still arriving) are told at the following rounds, for [`ANNOUNCE_ROUNDS`]
//! rounds. At most [`ANNOUNCE_PER_ROUND`] pings go out per round, so a very large cluster is
//! told over several rounds and the rumor covers the rest. The answers are pings' answers:
//! they prove the member receives at its address, so the restarted node starts with its
//! peers verified (see `verify`) instead of answering them on a budget.
//!
//! A node started for the first time finds no older life of itself and announces nothing:
//! a join storm costs nothing more.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::Instant;
use crate::node::Node;
use crate::state::{MemberStatus, SELF_IDX};
use crate::wire::Syn;

/// Rounds after the restart was noticed during which newly learned members are told.
pub(crate) const ANNOUNCE_ROUNDS: u64 = 3;
/// Most announcement pings per round.
pub(crate) const ANNOUNCE_PER_ROUND: usize = 1024;
/// Announcement pings whose answers are still awaited, at most.
const MAX_AWAITED: usize = 2 * ANNOUNCE_PER_ROUND;

/// Restart announcement state.
#[derive(Debug, Default)]
pub(crate) struct Announce {
    /// The round the restart was noticed, while announcing.
    since: Option<u64>,
    /// Whether a restart was ever noticed (announce once per life).
    noticed: bool,
    /// Members already told.
    told: HashSet<Arc<str>>,
    /// Members known when they were last told (new ones are told after each input).
    known: usize,
    /// (sequence number, address) of the pings sent, to verify the answers.
    awaited: Vec<(u32, SocketAddr)>,
}

impl Node {
    /// The cluster holds an older generation of this node at its own address: this node
    /// restarted. Starts announcing (once per life).
    pub(crate) fn notice_restart(&mut self) {
        if self.announce.noticed || self.left {
            return;
        }
        self.announce.noticed = true;
        self.announce.since = Some(self.round);
        self.stats.restart_announcements += 1;
        self.announce_round();
    }

    /// Tells the live members not told yet; called when the restart is noticed and at each
    /// round until [`ANNOUNCE_ROUNDS`] have passed.
    pub(crate) fn announce_round(&mut self) {
        let Some(since) = self.announce.since else { return };
        if self.round > since + ANNOUNCE_ROUNDS || self.left {
            self.announce.since = None;
            self.announce.told = HashSet::new();
            return;
        }
        self.announce.known = self.members.len();
        let me = self.members.me();
        let update = self.update_about(me, &me.id.name);
        let targets: Vec<(SocketAddr, Arc<str>)> = self
            .members
            .iter()
            .filter(|(idx, m)| {
                *idx != SELF_IDX
                    && matches!(m.status, MemberStatus::Alive | MemberStatus::Suspect)
                    && !self.announce.told.contains(&m.id.name)
            })
            .map(|(_, m)| (m.id.addr, m.id.name.clone()))
            .take(ANNOUNCE_PER_ROUND)
            .collect();
        for (addr, name) in targets {
            let seq = self.ping_carrying(addr, &name, vec![update.clone()]);
            if self.announce.awaited.len() >= MAX_AWAITED {
                self.announce.awaited.remove(0);
            }
            self.announce.awaited.push((seq, addr));
            self.announce.told.insert(name);
        }
    }

    /// A `Syn` came from `from`: if its sender speaks for itself at a new generation (its own
    /// membership update, a block of its own state or its own digest entry: a member this
    /// node holds at `from` with a newer generation) while this node holds it alive or
    /// suspect at an older one, sends it the restart hint: one ping carrying the older life.
    pub(crate) fn hint_restart(&mut self, from: SocketAddr, syn: &Syn) {
        let updates = syn.updates.iter().filter(|u| u.from == u.node.name).map(|u| (&*u.node.name, u.node.generation));
        let blocks = syn.blocks.iter().map(|b| (&*b.owner.name, b.owner.generation));
        let entries = syn.digest.entries.iter().map(|e| (&*e.name, e.generation));
        let older = updates.chain(blocks).chain(entries).find_map(|(name, generation)| {
            let idx = self.members.lookup(name).filter(|&idx| idx != SELF_IDX)?;
            let m = self.members.get(idx)?;
            let live = matches!(m.status, MemberStatus::Alive | MemberStatus::Suspect);
            (live && m.id.addr == from && m.id.generation < generation).then_some(m)
        });
        if let Some(m) = older {
            let older = self.update_about(m, &self.members.me().id.name);
            let name = older.node.name.clone();
            self.tell(from, &name, older);
        }
    }

    /// After an input: while announcing, members learned from it are told at once.
    pub(crate) fn announce_learned(&mut self) {
        if self.announce.since.is_some() && self.members.len() != self.announce.known {
            self.announce_round();
        }
    }

    /// A ping answer: if it answers an announcement from the address it went to, that
    /// address receives. Returns whether it did.
    pub(crate) fn announcement_answered(&mut self, now: Instant, from: SocketAddr, seq: u32) -> bool {
        let Some(pos) = self.announce.awaited.iter().position(|&(s, a)| s == seq && a == from) else {
            return false;
        };
        self.announce.awaited.swap_remove(pos);
        self.verifier.verify(from, now);
        true
    }
}
