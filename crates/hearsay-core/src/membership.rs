//! Membership changes: SWIM updates with incarnations, Lifeguard suspicion, dissemination.
//!
//! A member's liveness is decided by probes ([`crate::probe`]) and spread as
//! [`MemberUpdate`]s piggybacked on every probe and gossip message. Precedence, for one member
//! name: a higher generation wins over everything about a lower one (a restarted process never
//! loses to stale news about its previous life); within a generation a higher incarnation wins;
//! at equal incarnation `dead` and `left` override `suspect`, which overrides `alive`. Only the
//! member itself raises its incarnation, to refute a suspicion about itself.
//!
//! Suspicion is not death. A suspect member is declared dead when its suspicion timeout runs
//! out; the timeout starts at `suspicion_max_mult` times the floor and shrinks toward the floor
//! (`max(suspicion_min, suspicion_mult * max(1, log10 N) * probe interval)`) as independent
//! members confirm the
//! suspicion (Lifeguard), so real failures are declared fast while a lone accuser with a bad
//! link gives the suspect time to refute. A suspicion whose timeout runs out before all
//! `indirect_checks + 1` confirmations came is not declared at once: this node first probes
//! the suspect itself (direct and indirect, carrying the suspicion), so a suspect that refuted
//! while the refutation missed this node answers with it; only a failed last probe makes it
//! dead. Fully confirmed suspicions, which is what a crash produces, die at the timeout.
//!
//! # Formation: why it took O(N) rounds, and how it takes O(log N)
//!
//! Members are learned two ways: from blocks (a member's own state, carried by anti-entropy
//! and rumors) and from membership updates. A joining node gets the whole membership in its
//! first exchange with a seed: its digest lists only itself, so the seed's answer carries every
//! owner, by stream when it does not fit a datagram. What was slow is what happens when many
//! nodes join at once (every node of a `hearsay bench`, a compose file, a StatefulSet): each
//! node that joined early learned each later join only from that join's rumor, and rumors
//! compete for room in a message. A 1,400-byte rumor message carries about fifteen owners'
//! blocks, hot rumors go out oldest first, and a node holding N fresh rumors needs about N / 15
//! messages to say each once, more to cool them; anti-entropy, the backstop, runs every 25
//! rounds and covers one digest slice per exchange. So formation cost grew linearly with N.
//!
//! Three changes make formation a pull epidemic of the whole membership instead:
//!
//! * Every digest and every probe says how many live members its sender knows
//!   ([`Digest::members`](crate::wire::Digest::members)). A node that hears of a peer knowing
//!   more than `max(1, N / 64)` members beyond everything it knows sends that peer its full
//!   digest (slice bits 0, by stream if needed) and gets every member it lacks in the answer
//!   (`formation`; a large answer is pulled over a stream the node dials itself, since nobody
//!   dials an address that has not proved it receives: see `verify`). Knowledge of the full list then spreads as in any pull epidemic: O(log N)
//!   rounds. A smaller gap starts an anti-entropy exchange whose answer covers a slice where
//!   the two differ, and the asker pulls what that answer shows it lacks.
//! * What a node learns in bulk (over a stream) is not made a hot rumor: the peer it came from
//!   already spreads it, and thousands of hot rumors would bury the news that matters.
//! * A node that learns a member from that member's own block, or a new generation of one,
//!   also broadcasts it on the membership plane (pushed at once to a few members and
//!   piggybacked on probes), and a node started with seeds contacts one at its first timeout
//!   rather than at its first jittered round: a restarted node is held alive everywhere in
//!   about an interval.
//!
//! Two more keep a join storm logarithmic once every node starts at once:
//!
//! * A node too busy to answer a catch-up in full (each answers a few per interval) names
//!   the members it answered lately, and the asker catches up from one of them at once
//!   (`formation`: referrals). Without them askers kept returning to the seeds, whose member
//!   counts are the highest, and the informed set grew by a constant number per interval
//!   (15-19 simulated rounds at N = 1,000; 2-4 with referrals).
//! * A node a few members short (within the slack) catches up in full once it has been
//!   behind for two intervals, even while rumors bring one member at a time.
//!
//! Figures before and after, simulated and on real sockets, are in docs/simulation.md and
//! docs/bench.md. A name is an identity, not a claim: a newer generation announced from
//! another address is only applied once the member's address stops answering to its name
//! (see `identity`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crate::Instant;
use crate::event::Event;
use crate::node::Node;
use crate::state::{Member, MemberIdx, MemberStatus, SELF_IDX};
use crate::wire::{MemberUpdate, WireNodeId, WireStatus, size};

/// An open suspicion about a member.
#[derive(Clone, Debug)]
pub(crate) struct Suspicion {
    started: Instant,
    incarnation: u64,
    confirmers: Vec<Arc<str>>,
    deadline: Instant,
    /// The timeout ran out before every confirmation came, and this node went to probe the
    /// suspect itself once more (see [`Node::expire_suspicions`]).
    last_probe: bool,
}

/// Most updates queued for dissemination; the most transmitted are dropped beyond it.
const MAX_BROADCASTS: usize = 1024;

/// Membership updates waiting to be piggybacked, least transmitted first (oldest first among
/// equals). Every outgoing message takes from the front, so both taking and queueing cost
/// O(log n) per update rather than a sort or a scan of the queue: in a join storm each node
/// queues about one update per member, and messages go out by the thousand.
#[derive(Debug, Default)]
pub(crate) struct Broadcasts {
    /// (transmissions so far, queueing order) -> update.
    items: BTreeMap<(u32, u64), MemberUpdate>,
    /// The key of each queued member's update, by member name.
    by_name: HashMap<String, (u32, u64)>,
    next_seq: u64,
    pub(crate) dropped: u64,
    /// An update was queued since the last push to random members (see
    /// [`Node::push_member_updates`]).
    pub(crate) fresh: bool,
}

impl Broadcasts {
    fn push(&mut self, update: MemberUpdate) {
        // A newer update about a member invalidates the older one (memberlist does the same).
        if let Some(key) = self.by_name.remove(&update.node.name) {
            self.items.remove(&key);
        }
        if self.items.len() >= MAX_BROADCASTS
            && let Some(((_, _), dropped)) = self.items.pop_last()
        {
            // The one closest to retirement has reached the most members already.
            self.by_name.remove(&dropped.node.name);
            self.dropped += 1;
        }
        let key = (0, self.next_seq);
        self.next_seq += 1;
        self.by_name.insert(update.node.name.clone(), key);
        self.items.insert(key, update);
        self.fresh = true;
    }

    /// Least-transmitted updates first, within `budget` bytes; each taken update counts one
    /// transmission and is retired after `limit`.
    fn take(&mut self, mut budget: usize, limit: u32) -> Vec<MemberUpdate> {
        /// Updates looked at beyond the last that fitted before giving up on the budget.
        const MISSES: usize = 16;
        let mut taken = Vec::new();
        let mut misses = 0;
        for (key, update) in &self.items {
            let len = update_size(update);
            if len > budget {
                misses += 1;
                if misses > MISSES {
                    break;
                }
                continue;
            }
            budget -= len;
            taken.push(*key);
        }
        let mut out = Vec::with_capacity(taken.len());
        for key in taken {
            let Some(update) = self.items.remove(&key) else { continue };
            let sent = key.0 + 1;
            if sent < limit {
                let again = (sent, key.1);
                if let Some(k) = self.by_name.get_mut(&update.node.name) {
                    *k = again;
                }
                out.push(update.clone());
                self.items.insert(again, update);
            } else {
                self.by_name.remove(&update.node.name);
                out.push(update);
            }
        }
        out
    }

    pub(crate) fn pending(&self) -> usize {
        self.items.len()
    }
}

pub(crate) fn update_size(u: &MemberUpdate) -> usize {
    size::member_update(u.node.name.len(), u.node.generation, &u.node.addr, u.incarnation, u.from.len())
}

fn wire_status(status: MemberStatus) -> WireStatus {
    match status {
        MemberStatus::Alive => WireStatus::Alive,
        MemberStatus::Suspect => WireStatus::Suspect,
        MemberStatus::Dead => WireStatus::Dead,
        MemberStatus::Left => WireStatus::Left,
    }
}

impl Node {
    /// The update that states what we believe about `member`.
    pub(crate) fn update_about(&self, member: &Member, from: &str) -> MemberUpdate {
        MemberUpdate {
            node: WireNodeId {
                name: member.id.name.to_string(),
                generation: member.id.generation,
                addr: member.id.addr,
            },
            incarnation: member.incarnation(),
            status: wire_status(member.status),
            from: from.to_string(),
        }
    }

    pub(crate) fn broadcast(&mut self, update: MemberUpdate) {
        self.broadcasts.push(update);
    }

    /// A member joined or restarted (learned from a block, not from a bulk catch-up): say so
    /// on the membership plane too, which pushes fresh updates at once and piggybacks them on
    /// probes, so everyone holds it alive within a round or two, before its keys arrive.
    pub(crate) fn announce_member(&mut self, idx: MemberIdx) {
        let Some(m) = self.members.get(idx) else { return };
        let update = self.update_about(m, &self.members.me().id.name);
        self.broadcast(update);
    }

    fn retransmit_limit(&self) -> u32 {
        let n = self.members.len() as f64 + 1.0;
        self.config.probe.retransmit_mult * (n.log10().ceil().max(1.0) as u32)
    }

    /// Updates to piggyback on an outgoing message, within `budget` bytes.
    pub(crate) fn piggyback(&mut self, budget: usize) -> Vec<MemberUpdate> {
        let limit = self.retransmit_limit();
        self.broadcasts.take(budget.min(self.config.mtu / 3), limit)
    }

    /// Floor and ceiling of the suspicion timeout for the current cluster size.
    pub(crate) fn suspicion_bounds(&self) -> (Duration, Duration) {
        let p = &self.config.probe;
        let n = self.members.len().max(1) as f64;
        let min = p.interval.mul_f64(f64::from(p.suspicion_mult) * n.log10().max(1.0)).max(p.suspicion_min);
        let max = min * p.suspicion_max_mult;
        let cap = self.config.detector.suspicion_timeout;
        (min.min(cap), max.min(cap))
    }

    fn suspicion_deadline(&self, started: Instant, confirmations: usize) -> Instant {
        let (min, max) = self.suspicion_bounds();
        let k = self.config.probe.indirect_checks.max(1) as f64;
        let c = confirmations.saturating_sub(1) as f64;
        let fraction = ((c + 1.0).ln() / (k + 1.0).ln()).min(1.0);
        let timeout = max.saturating_sub((max.saturating_sub(min)).mul_f64(fraction)).max(min);
        started + timeout
    }

    /// Applies piggybacked updates in order.
    pub(crate) fn apply_updates(&mut self, now: Instant, updates: &[MemberUpdate]) {
        for update in updates {
            self.apply_update(now, update);
        }
    }

    /// This node failed to reach `idx` directly and indirectly: a new suspicion, or an
    /// independent confirmation of an open one (which shortens its timeout).
    pub(crate) fn suspect_locally(&mut self, now: Instant, idx: MemberIdx) {
        let Some(m) = self.members.get(idx) else { return };
        if !matches!(m.status, MemberStatus::Alive | MemberStatus::Suspect) {
            return;
        }
        let mut update = self.update_about(m, &self.members.me().id.name);
        update.status = WireStatus::Suspect;
        let (addr, name) = (m.id.addr, m.id.name.to_string());
        self.stats.suspicions_raised += 1;
        self.apply_update(now, &update);
        // Tell the suspect at once (Lifeguard's buddy system).
        self.tell(addr, &name, update);
    }

    fn apply_update(&mut self, now: Instant, u: &MemberUpdate) {
        let limits = self.config.limits;
        if u.node.name.is_empty() || u.node.name.len() > limits.max_key_bytes || u.from.len() > limits.max_key_bytes {
            self.stats.count_drop("invalid_update");
            return;
        }
        let me = self.members.me();
        if *me.id.name == *u.node.name {
            if u.node.generation != me.id.generation {
                self.own_name_claimed(now, u.node.generation, u.node.addr, u.status);
                return;
            }
            if u.node.addr == me.id.addr {
                // A peer speaks of us at our own generation and address: the cluster holds
                // our name as ours (as when a digest lists us, see `learn_heartbeats`).
                self.identity.admitted = true;
            }
            if u.node.generation == me.id.generation
                && matches!(u.status, WireStatus::Suspect | WireStatus::Dead)
                && !self.left
            {
                if u.incarnation >= me.incarnation() {
                    self.refute(u.incarnation.saturating_add(1), &u.from);
                } else {
                    // A stale accusation: whoever still believes it missed our refutation,
                    // which may have run out of retransmissions. Say it again.
                    let update = self.update_about(me, &me.id.name);
                    self.broadcast(update);
                }
            }
            return;
        }
        let idx = match self.members.lookup(&u.node.name) {
            Some(idx) => idx,
            None => {
                if u.status != WireStatus::Alive
                    || self.refuses_forgotten(u.node.name.as_str(), u.node.generation, None)
                {
                    return;
                }
                if self.members.len() >= limits.max_members {
                    self.stats.count_drop("member_limit");
                    return;
                }
                let id = crate::NodeId::new(u.node.name.as_str(), u.node.generation, u.node.addr);
                let mut member = Member::new(id.clone());
                if u.incarnation > 0 {
                    member.cold_mut().incarnation = u.incarnation;
                }
                let idx = self.members.insert(member);
                self.push_event(Event::MemberJoined(id));
                self.advanced(idx, u.node.generation, 0, 0);
                self.broadcast(u.clone());
                return;
            }
        };
        let Some(m) = self.members.get_mut(idx) else { return };
        if u.node.generation < m.id.generation {
            return;
        }
        if u.node.generation > m.id.generation {
            if !self.admit_generation(now, idx, u.node.generation, u.node.addr) {
                return;
            }
            let id = crate::NodeId::new(u.node.name.as_str(), u.node.generation, u.node.addr);
            self.members.reset(idx, id.clone());
            self.rumors.forget_member(idx);
            self.push_event(Event::MemberJoined(id));
            if u.status == WireStatus::Alive {
                self.broadcast(u.clone());
            }
        }
        let Some(m) = self.members.get_mut(idx) else { return };
        let id = crate::NodeId::clone(&m.id);
        let accepted = match u.status {
            WireStatus::Alive => {
                if u.incarnation <= m.incarnation() || m.status == MemberStatus::Left {
                    false
                } else {
                    m.cold_mut().incarnation = u.incarnation;
                    if m.status != MemberStatus::Alive {
                        m.set_status(MemberStatus::Alive, now);
                        m.clear_suspicion();
                        self.push_event(Event::MemberAlive(id));
                    }
                    true
                }
            }
            WireStatus::Suspect => self.apply_suspect(now, idx, u),
            WireStatus::Dead => {
                if u.incarnation < m.incarnation() || matches!(m.status, MemberStatus::Dead | MemberStatus::Left) {
                    false
                } else {
                    if u.incarnation > 0 {
                        m.cold_mut().incarnation = u.incarnation;
                    }
                    m.set_status(MemberStatus::Dead, now);
                    m.clear_suspicion();
                    self.push_event(Event::MemberDead(id));
                    true
                }
            }
            WireStatus::Left => {
                if m.status == MemberStatus::Left {
                    false
                } else {
                    m.set_status(MemberStatus::Left, now);
                    m.clear_suspicion();
                    self.push_event(Event::MemberLeft(id));
                    true
                }
            }
        };
        if accepted {
            self.state_changed();
            if u.status != WireStatus::Alive {
                self.watch.push(idx);
            }
            self.broadcast(u.clone());
        }
    }

    fn apply_suspect(&mut self, now: Instant, idx: MemberIdx, u: &MemberUpdate) -> bool {
        let Some(m) = self.members.get(idx) else { return false };
        if u.incarnation < m.incarnation() || matches!(m.status, MemberStatus::Dead | MemberStatus::Left) {
            return false;
        }
        let from: Arc<str> = Arc::from(u.from.as_str());
        let confirmers = match (&m.cold().suspicion, m.status) {
            (Some(s), MemberStatus::Suspect) if s.incarnation == u.incarnation => {
                if s.confirmers.contains(&from) {
                    return false;
                }
                let mut c = s.confirmers.clone();
                c.push(from.clone());
                c
            }
            _ => vec![from.clone()],
        };
        let fresh = confirmers.len() == 1;
        let started = if fresh { now } else { m.cold().suspicion.as_ref().map_or(now, |s| s.started) };
        let last_probe = !fresh && m.cold().suspicion.as_ref().is_some_and(|s| s.last_probe);
        let deadline = self.suspicion_deadline(started, confirmers.len());
        let phi = m.phi(now, &self.config);
        let Some(m) = self.members.get_mut(idx) else { return false };
        let cold = m.cold_mut();
        cold.incarnation = u.incarnation;
        cold.suspicion =
            Some(Box::new(Suspicion { started, incarnation: u.incarnation, confirmers, deadline, last_probe }));
        if fresh || m.status != MemberStatus::Suspect {
            m.set_status(MemberStatus::Suspect, now);
            let id = crate::NodeId::clone(&m.id);
            if *from != *self.members.me().id.name {
                self.prober.probe_soon(now, idx, id.generation);
            }
            self.push_event(Event::MemberSuspect { id, phi_centi: (phi.min(1e9) * 100.0) as u64, by: from });
        }
        true
    }

    fn refute(&mut self, incarnation: u64, accuser: &str) {
        let me = self.members.me_mut();
        me.cold_mut().incarnation = me.incarnation().max(incarnation);
        let update = self.update_about(self.members.me(), &self.members.me().id.name);
        self.stats.refutations += 1;
        self.health_penalty(1);
        // The accuser hears the refutation directly; everyone else by gossip.
        if let Some(m) = self.members.lookup(accuser).and_then(|i| self.members.get(i)) {
            let (addr, name) = (m.id.addr, m.id.name.to_string());
            self.tell(addr, &name, update.clone());
        }
        self.broadcast(update);
    }

    /// Suspects whose timeout ran out become dead; those not fully confirmed are first probed
    /// once more by this node (their deadline moves past the end of that probe).
    pub(crate) fn expire_suspicions(&mut self, now: Instant) {
        let expired: Vec<MemberIdx> = self
            .watch
            .iter()
            .copied()
            .filter(|idx| {
                *idx != SELF_IDX
                    && self.members.get(*idx).is_some_and(|m| {
                        m.status == MemberStatus::Suspect
                            && m.cold().suspicion.as_ref().is_some_and(|s| now >= s.deadline)
                    })
            })
            .collect();
        let me: Arc<str> = self.members.me().id.name.clone();
        let confirmed = self.config.probe.indirect_checks + 1;
        // The probe starts at the latest when the current one ends and lasts an interval.
        let last_probe_time = self.config.probe.interval * 2 * (self.prober.health + 1);
        for idx in expired {
            let Some(m) = self.members.get_mut(idx) else { continue };
            if self.isolated
                && let Some(s) = m.cold_mut().suspicion.as_mut()
            {
                // Cut off, this node cannot hear a refutation: it declares nobody dead, and
                // probes the suspect once more when it can hear again.
                s.last_probe = false;
                s.deadline = now + last_probe_time;
                continue;
            }
            if let Some(s) = m.cold_mut().suspicion.as_mut()
                && !s.last_probe
                && s.confirmers.len() < confirmed
            {
                s.last_probe = true;
                s.deadline = now + last_probe_time;
                let generation = m.id.generation;
                self.prober.probe_next(now, idx, generation);
                continue;
            }
            let Some(m) = self.members.get(idx) else { continue };
            let mut update = self.update_about(m, &me);
            update.status = WireStatus::Dead;
            self.apply_update(now, &update);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::{Config, NodeId};

    fn node() -> Node {
        let addr = "10.0.0.1:1".parse().unwrap();
        let mut n = Node::new(Config::lan(), NodeId::new("me", 5, addr), vec![], 1, Instant::ZERO).unwrap();
        n.add_member(Instant::ZERO, NodeId::new("x", 2, "10.0.0.2:1".parse().unwrap()));
        n
    }

    fn update(name: &str, generation: u64, incarnation: u64, status: WireStatus, from: &str) -> MemberUpdate {
        MemberUpdate {
            node: WireNodeId { name: name.into(), generation, addr: "10.0.0.2:1".parse().unwrap() },
            incarnation,
            status,
            from: from.into(),
        }
    }

    #[test]
    fn incarnation_and_generation_decide_precedence() {
        let mut n = node();
        let t = Instant::ZERO;
        n.apply_update(t, &update("x", 2, 0, WireStatus::Suspect, "a"));
        assert_eq!(n.member("x").unwrap().status, MemberStatus::Suspect);
        // An alive at the same incarnation does not clear the suspicion; a higher one does.
        n.apply_update(t, &update("x", 2, 0, WireStatus::Alive, "x"));
        assert_eq!(n.member("x").unwrap().status, MemberStatus::Suspect);
        n.apply_update(t, &update("x", 2, 1, WireStatus::Alive, "x"));
        assert_eq!(n.member("x").unwrap().status, MemberStatus::Alive);
        // Stale news about the old generation cannot touch a restarted member.
        n.apply_update(t, &update("x", 3, 0, WireStatus::Alive, "x"));
        n.apply_update(t, &update("x", 2, 9, WireStatus::Dead, "a"));
        let m = n.member("x").unwrap();
        assert_eq!((m.id.generation, m.status), (3, MemberStatus::Alive));
    }

    #[test]
    fn a_node_refutes_suspicion_about_itself_with_a_higher_incarnation() {
        let mut n = node();
        n.apply_update(Instant::ZERO, &update("me", 5, 0, WireStatus::Suspect, "x"));
        assert_eq!(n.members.me().incarnation(), 1);
        assert_eq!(n.stats().refutations, 1);
        let out = n.piggyback(1400);
        assert!(out.iter().any(|u| u.node.name == "me" && u.status == WireStatus::Alive && u.incarnation == 1));
        // Suspicion about an older generation of us is ignored.
        n.apply_update(Instant::ZERO, &update("me", 4, 7, WireStatus::Dead, "x"));
        assert_eq!(n.members.me().incarnation(), 1);
    }

    #[test]
    fn an_accusation_at_the_largest_incarnation_does_not_overflow() {
        let mut n = node();
        n.apply_update(Instant::ZERO, &update("me", 5, u64::MAX, WireStatus::Dead, "x"));
        assert_eq!(n.members.me().incarnation(), u64::MAX);
    }

    #[test]
    fn suspicion_min_bounds_the_floor_whatever_the_cluster_size() {
        let mut n = node();
        let formula = n.config.probe.interval * n.config.probe.suspicion_mult;
        n.config.probe.suspicion_min = Duration::ZERO;
        assert_eq!(n.suspicion_bounds().0, formula);
        n.config.probe.suspicion_min = formula * 7;
        let (min, max) = n.suspicion_bounds();
        assert_eq!(min, (formula * 7).min(n.config.detector.suspicion_timeout));
        assert_eq!(max, (min * n.config.probe.suspicion_max_mult).min(n.config.detector.suspicion_timeout));
    }

    #[test]
    fn confirmations_shrink_the_suspicion_timeout_toward_the_floor() {
        let n = node();
        let (min, max) = n.suspicion_bounds();
        assert!(max > min);
        let one = n.suspicion_deadline(Instant::ZERO, 1);
        let two = n.suspicion_deadline(Instant::ZERO, 2);
        let four = n.suspicion_deadline(Instant::ZERO, 4);
        assert_eq!(one, Instant::ZERO + max);
        assert!(two < one && four < two);
        assert_eq!(four, Instant::ZERO + min);
    }

    #[test]
    fn an_unconfirmed_suspicion_is_probed_once_more_before_it_expires_into_death() {
        let mut n = node();
        n.apply_update(Instant::ZERO, &update("x", 2, 0, WireStatus::Suspect, "a"));
        let (_, max) = n.suspicion_bounds();
        n.expire_suspicions(Instant::ZERO + max / 2);
        assert_eq!(n.member("x").unwrap().status, MemberStatus::Suspect);
        // The timeout ran out with one accuser: this node probes x itself first.
        n.expire_suspicions(Instant::ZERO + max);
        assert_eq!(n.member("x").unwrap().status, MemberStatus::Suspect);
        while n.poll_transmit().is_some() {}
        n.probe_tick(Instant::ZERO + max);
        let x: SocketAddr = "10.0.0.2:1".parse().unwrap();
        let probe = n.poll_transmit().expect("a probe of the suspect");
        assert_eq!(probe.to, x);
        // No answer within the last probe's time: dead.
        let interval = n.config.probe.interval;
        n.expire_suspicions(Instant::ZERO + max + interval * 2);
        assert_eq!(n.member("x").unwrap().status, MemberStatus::Dead);
    }

    #[test]
    fn a_fully_confirmed_suspicion_dies_at_the_floor_without_a_last_probe() {
        let mut n = node();
        for accuser in ["a", "b", "c", "d"] {
            n.apply_update(Instant::ZERO, &update("x", 2, 0, WireStatus::Suspect, accuser));
        }
        let (min, _) = n.suspicion_bounds();
        n.expire_suspicions(Instant::ZERO + min);
        assert_eq!(n.member("x").unwrap().status, MemberStatus::Dead);
    }

    #[test]
    fn every_suspect_heard_of_is_probed_out_of_turn_in_the_order_heard() {
        let mut n = node();
        let y: SocketAddr = "10.0.0.3:1".parse().unwrap();
        n.add_member(Instant::ZERO, NodeId::new("y", 1, y));
        n.apply_update(Instant::ZERO, &update("x", 2, 0, WireStatus::Suspect, "a"));
        n.apply_update(Instant::ZERO, &update("y", 1, 0, WireStatus::Suspect, "a"));
        while n.poll_transmit().is_some() {}
        // The first probe (its start is jittered) goes to x.
        let step = Duration::from_millis(1);
        let mut t = Instant::ZERO;
        let first = loop {
            n.probe_tick(t);
            if let Some(transmit) = n.poll_transmit() {
                break transmit.to;
            }
            t += step;
        };
        assert_eq!(first, "10.0.0.2:1".parse().unwrap());
        // It runs its course (nobody answers); the next probe goes to y, not to a member of
        // the round-robin.
        let start = t;
        let interval = n.config.probe.interval;
        while t + step < start + interval {
            t += step;
            n.probe_tick(t);
            while n.poll_transmit().is_some() {}
        }
        n.probe_tick(start + interval);
        assert_eq!(n.poll_transmit().map(|t| t.to), Some(y));
    }

    #[test]
    fn a_fresh_membership_update_is_pushed_at_once_to_three_members_then_rate_limited() {
        let mut n = node();
        for (i, name) in ["y", "z", "w"].iter().enumerate() {
            let addr = format!("10.0.0.{}:1", i + 3).parse().unwrap();
            n.add_member(Instant::ZERO, NodeId::new(*name, 1, addr));
        }
        while n.poll_transmit().is_some() {}
        let t = Instant::ZERO + Duration::from_secs(1);
        n.apply_update(t, &update("x", 2, 0, WireStatus::Suspect, "a"));
        n.push_member_updates(t);
        let mut to = Vec::new();
        while let Some(transmit) = n.poll_transmit() {
            to.push(transmit.to);
        }
        to.sort();
        to.dedup();
        assert_eq!(to.len(), 3, "{to:?}");
        // Another change within half an interval waits for the next push.
        n.apply_update(t, &update("y", 1, 0, WireStatus::Suspect, "a"));
        n.push_member_updates(t);
        assert!(n.poll_transmit().is_none());
        n.push_member_updates(t + n.config.probe.interval / 2);
        assert!(n.poll_transmit().is_some());
    }

    #[test]
    fn broadcasts_retire_after_the_retransmit_limit_and_newer_replace_older() {
        let mut b = Broadcasts::default();
        b.push(update("x", 2, 0, WireStatus::Suspect, "a"));
        b.push(update("x", 2, 0, WireStatus::Dead, "a"));
        assert_eq!(b.pending(), 1);
        for _ in 0..3 {
            assert_eq!(b.take(1000, 3)[0].status, WireStatus::Dead);
        }
        assert!(b.take(1000, 3).is_empty());
    }
}
