//! Names are identities, not claims: a second process cannot take a live member's name.
//!
//! A higher generation normally wins at once: it is how a restarted node replaces its
//! earlier life. But a higher generation is only a claim. When one arrives for a member this
//! node holds alive or suspect, from an address other than the member's, this node first asks
//! the member's address whether the name still answers there (a ping addressed to the name;
//! a node answers only pings for its own name). If it answers within a probe interval, two
//! processes claim the name: the claim is refused (nothing about the member changes), counted
//! in [`Stats::name_conflicts`](crate::Stats::name_conflicts), reported as
//! [`Event::NameConflict`], and both sides are told: the claimant hears about the live
//! member, the holder about the claimant. If it does not answer, the claim is accepted (a
//! restart on a new address, as a rescheduled pod gets) and the claimant's next message is
//! applied. A restart on the same address, or after the member was declared dead, is
//! accepted at once.
//!
//! The claimant checks too, so it refuses itself even where nobody told it: while it has not
//! yet been admitted (no peer has listed it at its own generation), news of its own name at
//! another generation and address makes it ping that address; an answer means the name is
//! taken, and the node stops ([`Node::is_refused`]) and reports
//! [`Event::NameConflict`] with `refused` set. A node already admitted never doubts itself on
//! such news: it is the holder, and only reports the conflict.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::Instant;
use crate::event::Event;
use crate::node::Node;
use crate::state::{MemberIdx, MemberStatus};
use crate::wire::{WireNodeId, WireStatus};

/// Most identity checks remembered; the oldest are forgotten beyond it.
const MAX_CHECKS: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Pending,
    Accepted,
    Refused,
}

#[derive(Debug)]
struct Check {
    name: Arc<str>,
    /// Generation and address of the process that claims the name.
    generation: u64,
    claimant: SocketAddr,
    /// Where the holder is asked.
    holder: SocketAddr,
    seq: u32,
    deadline: Instant,
    verdict: Verdict,
    /// This node is the claimant, checking whether the name is held elsewhere.
    ours: bool,
    /// When the check is forgotten.
    forget_at: Instant,
}

/// Identity checks in progress and their verdicts.
#[derive(Debug, Default)]
pub(crate) struct Identity {
    checks: Vec<Check>,
    /// Some peer listed us at our own generation: we hold our name.
    pub(crate) admitted: bool,
    /// Our name is held by a live member elsewhere: this node stopped.
    pub(crate) refused: bool,
}

impl Node {
    /// Whether a claim of a higher `generation` at `addr` for member `idx` may be applied now.
    /// Starts an identity check when it may not yet be.
    pub(crate) fn admit_generation(&mut self, now: Instant, idx: MemberIdx, generation: u64, addr: SocketAddr) -> bool {
        let Some(m) = self.members.get(idx) else { return false };
        if matches!(m.status, MemberStatus::Dead | MemberStatus::Left) || m.id.addr == addr {
            return true;
        }
        let name = m.id.name.clone();
        let holder = m.id.addr;
        if let Some(check) = self
            .identity
            .checks
            .iter()
            .find(|c| !c.ours && c.name == name && c.generation == generation && c.claimant == addr)
        {
            return check.verdict == Verdict::Accepted;
        }
        self.start_identity_check(now, name, generation, addr, holder, false);
        false
    }

    /// News about our own name at another generation and address arrived.
    pub(crate) fn own_name_claimed(&mut self, now: Instant, generation: u64, addr: SocketAddr, status: WireStatus) {
        let me = self.members.me();
        if addr == me.id.addr && generation < me.id.generation {
            // An older life of ours, still held by the cluster: we restarted.
            self.notice_restart();
            return;
        }
        if generation == me.id.generation || addr == me.id.addr || self.identity.refused {
            return;
        }
        let name = me.id.name.clone();
        let my_addr = me.id.addr;
        if self.identity.admitted {
            // We hold the name. A newer claim is a conflict to report (once per claimant);
            // news about an older life of ours is stale.
            if generation > me.id.generation && !self.identity.checks.iter().any(|c| c.ours && c.holder == addr) {
                self.stats.name_conflicts += 1;
                self.push_event(Event::NameConflict {
                    name: name.clone(),
                    holder: my_addr,
                    claimant: addr,
                    refused: false,
                });
                self.remember_check(now, name, generation, addr, addr, Verdict::Refused, true, 0);
            }
            return;
        }
        if matches!(status, WireStatus::Dead | WireStatus::Left)
            || self.identity.checks.iter().any(|c| c.ours && c.holder == addr)
        {
            return;
        }
        self.start_identity_check(now, name, generation, my_addr, addr, true);
    }

    fn start_identity_check(
        &mut self,
        now: Instant,
        name: Arc<str>,
        generation: u64,
        claimant: SocketAddr,
        holder: SocketAddr,
        ours: bool,
    ) {
        let seq = self.ping_carrying(holder, &name, Vec::new());
        self.remember_check(now, name, generation, claimant, holder, Verdict::Pending, ours, seq);
    }

    #[allow(clippy::too_many_arguments)]
    fn remember_check(
        &mut self,
        now: Instant,
        name: Arc<str>,
        generation: u64,
        claimant: SocketAddr,
        holder: SocketAddr,
        verdict: Verdict,
        ours: bool,
        seq: u32,
    ) {
        if self.identity.checks.len() >= MAX_CHECKS {
            self.identity.checks.remove(0);
        }
        let interval = self.config.probe.interval;
        self.identity.checks.push(Check {
            name,
            generation,
            claimant,
            holder,
            seq,
            deadline: now + interval,
            verdict,
            ours,
            forget_at: now + interval * 50,
        });
    }

    /// A ping ack arrived: if it answers an identity check, the name is held at `from`.
    /// Returns whether it did.
    pub(crate) fn identity_answer(&mut self, now: Instant, from: SocketAddr, seq: u32) -> bool {
        let Some(pos) = self
            .identity
            .checks
            .iter()
            .position(|c| c.verdict == Verdict::Pending && c.seq == seq && c.holder == from && now <= c.deadline)
        else {
            return false;
        };
        let check = &mut self.identity.checks[pos];
        check.verdict = Verdict::Refused;
        let (name, holder, claimant, generation, ours) =
            (check.name.clone(), check.holder, check.claimant, check.generation, check.ours);
        self.stats.name_conflicts += 1;
        self.push_event(Event::NameConflict { name: name.clone(), holder, claimant, refused: ours });
        if ours {
            self.identity.refused = true;
            return true;
        }
        // Tell both sides: the claimant learns the name is held (and checks it itself), the
        // holder learns that someone claimed it.
        let me: Arc<str> = self.members.me().id.name.clone();
        if let Some(idx) = self.members.lookup(&name)
            && let Some(m) = self.members.get(idx)
        {
            let about_holder = self.update_about(m, &me);
            let mut about_claimant = about_holder.clone();
            about_claimant.node = WireNodeId { name: name.to_string(), generation, addr: claimant };
            about_claimant.incarnation = 0;
            about_claimant.status = WireStatus::Alive;
            self.tell(claimant, &name, about_holder);
            self.tell(holder, &name, about_claimant);
        }
        true
    }

    /// Checks whose holder did not answer in time: the claim is accepted (or, for our own
    /// check, the name is free). Old verdicts are forgotten.
    pub(crate) fn expire_identity_checks(&mut self, now: Instant) {
        for check in &mut self.identity.checks {
            if check.verdict == Verdict::Pending && now > check.deadline {
                check.verdict = Verdict::Accepted;
            }
        }
        self.identity.checks.retain(|c| now < c.forget_at);
    }

    /// Our name is held by a live member at another address: this node stopped gossiping
    /// (see [`Event::NameConflict`]). It ignores every input from then on.
    pub fn is_refused(&self) -> bool {
        self.identity.refused
    }
}
