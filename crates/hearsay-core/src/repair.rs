//! Fast repair of rumor residue: state checksums on probes, explicit digests of recent owners.
//!
//! Rumor mongering leaves a residue: a few nodes never hear a rumor before it goes cold
//! (Demers et al.). Periodic anti-entropy repairs them, but slowly, since one exchange covers
//! one slice of the owners. Probes give a cheaper signal: every ping and ping-ack carries the
//! sender's whole-state checksum (8 bytes), and each node exchanges a probe with about two
//! random members per interval. When a node with no hot rumors sees a checksum that differs
//! from its own, it starts a push-pull exchange whose digest names the owners it changed
//! recently, in full; the answer names the peer's recent owners, so whichever side holds the
//! newer versions pushes them, and a side that learns it is behind pulls what it misses. A
//! residue is usually repaired within a round or two of the rumor going quiet, and a converged,
//! idle cluster pays only the checksum bytes.
//!
//! Members that are dead or left are outside the checksum: nodes forget them at different
//! times, and that must not look like divergence. If a repair does not bring the checksums
//! together (the difference lies with owners outside both recent lists, as after a burst of
//! joins), the next attempt is an ordinary anti-entropy exchange over the next digest slice,
//! and attempts alternate between the two, a little further apart each time (at most four
//! rounds). While rumors are still hot here, attempts wait four times longer: the difference is
//! probably a rumor still on its way. With epidemic broadcast trees (no hot rumors), a
//! difference must last three graft timeouts before the first attempt.

use std::net::SocketAddr;

use crate::Instant;
use crate::digest::entry_of;
use crate::node::Node;
use crate::state::MemberStatus;
use crate::transmit::TransmitKind;
use crate::wire::{Digest, DigestEntry, EXPLICIT_DIGEST, Message, Syn, size};

#[derive(Debug)]
pub(crate) struct Repair {
    checksum: u64,
    dirty: bool,
    not_before: Instant,
    attempt: u32,
    /// When the current run of differing checksums began.
    differs_since: Option<Instant>,
}

impl Default for Repair {
    fn default() -> Self {
        Repair { checksum: 0, dirty: true, not_before: Instant::ZERO, attempt: 0, differs_since: None }
    }
}

impl Node {
    /// The state changed in a way digests show (a version, a generation, a member).
    pub(crate) fn state_changed(&mut self) {
        self.repair.dirty = true;
    }

    /// Checksum of `(owner, generation, max_version)` over live members.
    pub(crate) fn state_checksum(&mut self) -> u64 {
        if self.repair.dirty {
            self.repair.checksum = self
                .members
                .iter()
                .filter(|(_, m)| matches!(m.status, MemberStatus::Alive | MemberStatus::Suspect))
                .fold(0, |acc, (_, m)| acc ^ m.fingerprint());
            self.repair.dirty = false;
        }
        self.repair.checksum
    }

    /// A peer's checksum arrived on a probe.
    pub(crate) fn compare_checksum(&mut self, now: Instant, peer: SocketAddr, theirs: u64) {
        if !self.config.checksum_repair || theirs == self.state_checksum() {
            self.repair.attempt = 0;
            self.repair.differs_since = None;
            return;
        }
        let since = *self.repair.differs_since.get_or_insert(now);
        if self.config.strategy == crate::Strategy::Plumtree && now < since + self.config.plumtree.graft_timeout * 3 {
            // A broadcast tree has no hot rumors to tell a payload in flight from a residue:
            // a difference counts once it outlived a graft and its retries.
            return;
        }
        if now < self.repair.not_before || self.left {
            return;
        }
        let busy = if self.rumors.is_empty() { 1 } else { 4 };
        let attempt = self.repair.attempt;
        self.repair.attempt = attempt.saturating_add(1);
        self.repair.not_before = now + self.config.gossip_interval * (attempt.min(3) + 1) * busy;
        self.stats.repairs += 1;
        if attempt % 2 == 1 {
            self.send_syn(peer, true, false, false);
            return;
        }
        let digest = self.recent_digest(self.repair_budget());
        let exchange_id = self.next_exchange_id();
        self.remember_syn(exchange_id, peer, true, false);
        let flow = self.flow_report();
        let syn =
            Syn { exchange_id, push_pull: true, rumor: false, digest, blocks: Vec::new(), updates: Vec::new(), flow };
        self.send(peer, TransmitKind::Datagram, &Message::Syn(syn));
    }

    fn repair_budget(&self) -> usize {
        self.config.mtu.saturating_sub(crate::wire::HEADER_LEN + 32 + self.seal_overhead()) / 2
    }

    /// An explicit digest of the owners that changed here most recently, newest first.
    pub(crate) fn recent_digest(&self, budget: usize) -> Digest {
        let mut digest = Digest { slice_bits: EXPLICIT_DIGEST, entries: Vec::new(), ..self.empty_digest() };
        let mut used = 16;
        for &(idx, generation, _, _) in self.recent.iter().rev() {
            let Some(m) = self.members.get(idx) else { continue };
            if m.id.generation != generation || digest.entries.iter().any(|e| *e.name == *m.id.name) {
                continue;
            }
            let len = size::digest_entry(m.id.name.len(), m.id.generation, m.max_version(), u64::from(m.heartbeat));
            if used + len > budget {
                break;
            }
            used += len;
            digest.entries.push(entry_of(m));
        }
        digest
    }

    /// For an explicit digest received in a repair: our view of the owners it names, then our
    /// own recent owners, within `budget`.
    pub(crate) fn answer_digest(&self, theirs: &Digest, budget: usize) -> Digest {
        let mut digest = self.recent_digest(budget / 2);
        let mut used = 16 + digest.entries.iter().map(entry_size).sum::<usize>();
        for e in &theirs.entries {
            let Some(idx) = self.members.lookup(&e.name) else { continue };
            let Some(m) = self.members.get(idx) else { continue };
            if digest.entries.iter().any(|d| *d.name == *m.id.name) {
                continue;
            }
            let entry = entry_of(m);
            used += entry_size(&entry);
            if used > budget {
                break;
            }
            digest.entries.push(entry);
        }
        digest
    }

    /// After a repair answer: pull the owners the peer named where we are behind.
    pub(crate) fn pull_behind(&mut self, peer: SocketAddr, theirs: &Digest) {
        let mut want = Digest { slice_bits: EXPLICIT_DIGEST, entries: Vec::new(), ..self.empty_digest() };
        let mut used = 16;
        let budget = self.repair_budget();
        for e in &theirs.entries {
            let (generation, max_version) = match self.members.lookup(&e.name).and_then(|i| self.members.get(i)) {
                Some(m) if m.id.generation > e.generation => continue,
                Some(m) if m.id.generation == e.generation && m.max_version() >= e.max_version => continue,
                Some(m) if m.id.generation == e.generation => (m.id.generation, m.max_version()),
                // Unknown, or an older generation here: ask for everything.
                _ => (0, 0),
            };
            let entry = DigestEntry { name: e.name.clone(), generation, max_version, heartbeat: 0 };
            used += entry_size(&entry);
            if used > budget {
                break;
            }
            want.entries.push(entry);
        }
        if want.entries.is_empty() {
            return;
        }
        let exchange_id = self.next_exchange_id();
        self.remember_syn(exchange_id, peer, false, false);
        let flow = self.flow_report();
        let syn = Syn {
            exchange_id,
            push_pull: false,
            rumor: false,
            digest: want,
            blocks: Vec::new(),
            updates: Vec::new(),
            flow,
        };
        self.send(peer, TransmitKind::Datagram, &Message::Syn(syn));
    }
}

fn entry_size(e: &DigestEntry) -> usize {
    size::digest_entry(e.name.len(), e.generation, e.max_version, e.heartbeat)
}
