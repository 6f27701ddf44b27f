//! SWIM probing with Lifeguard's local health: where liveness comes from.
//!
//! Every probe interval a node pings one member, chosen by a shuffled round-robin over live
//! members, so each member is probed by someone about once per interval and by this node once
//! per cycle. A member that does not answer within its adaptive timeout (learned from its own
//! round-trip history, phi-accrual style: mean plus `y(phi threshold)` deviations) is probed
//! indirectly through `k` other members; with no answer by the end of the interval it becomes
//! suspect ([`crate::membership`]). Probes are a constant few dozen bytes, so the cost of
//! liveness per node does not grow with the cluster.
//!
//! Local health (Lifeguard): a node that fails probes without even receiving the relays'
//! nacks, that has to refute suspicions about itself, or that notices it woke up far later than
//! it asked to (paused, starved of CPU, backlogged), raises its health score. The score
//! stretches its probe interval and timeouts, and while it is at half the maximum or more the
//! node raises no suspicions at all: a sick node does not accuse healthy ones.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::seq::SliceRandom;

use crate::Instant;
use crate::node::Node;
use crate::peers::PeerSelector;
use crate::state::{MemberIdx, MemberStatus, SELF_IDX};
use crate::transmit::TransmitKind;
use crate::wire::{HEADER_LEN, Message, Nack, Ping, PingAck, PingReq, WireNodeId};

/// Round-trip statistics of one member (exponentially weighted, a few bytes).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rtt {
    mean: f32,
    variance: f32,
    samples: u16,
}

impl Rtt {
    /// No samples yet.
    pub(crate) const ZERO: Rtt = Rtt { mean: 0.0, variance: 0.0, samples: 0 };

    /// Mean and standard deviation in microseconds (zeros before the first sample).
    pub(crate) fn mean_std(&self) -> (f64, f64) {
        (f64::from(self.mean), f64::from(self.variance.max(0.0)).sqrt())
    }

    fn record(&mut self, rtt: Duration) {
        let x = rtt.as_micros() as u64 as f32;
        self.samples = self.samples.saturating_add(1);
        let alpha = 1.0 / f32::from(self.samples.min(32));
        let diff = x - self.mean;
        self.mean += alpha * diff;
        self.variance = (1.0 - alpha) * (self.variance + diff * alpha * diff);
    }
}

#[derive(Debug)]
struct Probe {
    seq: u32,
    target: MemberIdx,
    generation: u64,
    sent: Instant,
    direct_deadline: Instant,
    end: Instant,
    indirect_sent: bool,
    nacks_expected: usize,
    nacks: usize,
}

#[derive(Debug)]
struct Relay {
    seq: u32,
    requester: SocketAddr,
    requester_seq: u32,
    deadline: Instant,
}

/// Most indirect probes relayed at once for others.
const MAX_RELAYS: usize = 256;

/// Most suspects queued for an out-of-turn probe (the oldest go first when more come).
const MAX_PRIORITY: usize = 16;

/// Members a fresh membership update is pushed to at once (memberlist gossips its broadcasts
/// to 3 members per gossip interval).
const PUSH_FANOUT: usize = 3;

#[derive(Debug)]
pub(crate) struct Prober {
    selector: PeerSelector,
    next_probe: Instant,
    current: Option<Probe>,
    relays: VecDeque<Relay>,
    seq: u32,
    pub(crate) health: u32,
    /// Members suspected by someone else, probed next, out of turn and in order, so
    /// independent confirmations (or the lack of them) come within a round or two. A queue,
    /// not one slot: on a lossy network suspicions overlap, and a suspicion this node never
    /// probes may be one whose refutation it never hears.
    priority: VecDeque<(MemberIdx, u64)>,
    /// A member whose probe just failed, probed once more before it is suspected (see
    /// `advance_probe`).
    retry: Option<(MemberIdx, u64)>,
    /// The next member on the ring after a ring successor this node just suspected: probed at
    /// once, and suspected on its first failed probe (see `advance_probe`).
    chain: Option<(MemberIdx, u64)>,
    /// When this node last asked to be woken up: [`Node::poll_timeout`] after the last input
    /// (pause detection).
    expected_wake: Option<Instant>,
    /// Round-robin over live members for pushing fresh membership updates.
    push_selector: PeerSelector,
    /// No push of membership updates before this instant.
    push_not_before: Instant,
    /// Probes started, for `probe.successor_every`.
    turn: u32,
    /// Round trips of direct probes to any member: the expectation for a member probed fewer
    /// than three times (right after a join, every member is).
    rtt_any: Rtt,
}

impl Prober {
    pub(crate) fn new(start: Instant) -> Self {
        Prober {
            selector: PeerSelector::default(),
            next_probe: start,
            current: None,
            relays: VecDeque::new(),
            seq: 0,
            health: 0,
            priority: VecDeque::new(),
            retry: None,
            chain: None,
            expected_wake: None,
            push_selector: PeerSelector::default(),
            push_not_before: start,
            turn: 0,
            rtt_any: Rtt::ZERO,
        }
    }

    /// Probes `idx` after the members already queued, out of turn; at once if no probe is
    /// running, so a confirmation (or a refutation) comes within a probe's time, not after
    /// waiting for this node's next turn as well.
    pub(crate) fn probe_soon(&mut self, now: Instant, idx: MemberIdx, generation: u64) {
        if self.priority.contains(&(idx, generation)) {
            return;
        }
        if self.priority.len() >= MAX_PRIORITY {
            self.priority.pop_front();
        }
        self.priority.push_back((idx, generation));
        self.probe_now(now);
    }

    /// Probes `idx` next, before anything queued; at once if no probe is running.
    pub(crate) fn probe_next(&mut self, now: Instant, idx: MemberIdx, generation: u64) {
        self.priority.retain(|p| *p != (idx, generation));
        self.priority.push_front((idx, generation));
        self.priority.truncate(MAX_PRIORITY);
        self.probe_now(now);
    }

    /// Starts the next probe at once if none is running.
    pub(crate) fn probe_now(&mut self, now: Instant) {
        if self.current.is_none() {
            self.next_probe = self.next_probe.min(now);
        }
    }

    /// The earliest instant the prober needs to act.
    pub(crate) fn deadline(&self) -> Instant {
        let mut t = self.next_probe;
        if let Some(p) = &self.current {
            t = t.min(if p.indirect_sent { p.end } else { p.direct_deadline });
        }
        if let Some(r) = self.relays.iter().map(|r| r.deadline).min() {
            t = t.min(r);
        }
        t
    }
}

impl Node {
    fn health_multiplier(&self) -> u32 {
        self.prober.health + 1
    }

    pub(crate) fn health_penalty(&mut self, points: u32) {
        self.prober.health = (self.prober.health + points).min(self.config.probe.max_health_score);
    }

    fn health_reward(&mut self) {
        self.prober.health = self.prober.health.saturating_sub(1);
    }

    /// After every input: the wake-up this node now asks for, against which the next
    /// `probe_tick` measures how late it was woken.
    pub(crate) fn note_expected_wake(&mut self) {
        self.prober.expected_wake = self.poll_timeout();
    }

    /// Local health score (0 = healthy).
    pub fn health_score(&self) -> u32 {
        self.prober.health
    }

    fn healthy_enough_to_accuse(&self) -> bool {
        self.prober.health * 2 < self.config.probe.max_health_score && !self.isolated
    }

    fn next_seq(&mut self) -> u32 {
        self.prober.seq = self.prober.seq.wrapping_add(1);
        self.verifier.token(self.prober.seq)
    }

    fn me_wire(&self) -> WireNodeId {
        let me = &self.members.me().id;
        WireNodeId { name: me.name.to_string(), generation: me.generation, addr: me.addr }
    }

    fn probe_budget(&self) -> usize {
        // Saturating: a small MTU with long keys allowed leaves no room, never a wrapped one.
        self.config.mtu.saturating_sub(HEADER_LEN + 64 + 2 * self.config.limits.max_key_bytes + self.seal_overhead())
    }

    /// Direct-probe timeout for `idx`: mean round trip plus `y` deviations, where `y` is the
    /// standardized time at which phi reaches the threshold; between `min_timeout` and half the
    /// interval.
    fn probe_timeout(&self, idx: MemberIdx) -> Duration {
        let p = &self.config.probe;
        let cap = p.interval / 2;
        let Some(m) = self.members.get(idx) else { return cap };
        // A member probed fewer than three times is expected to answer like the others (it
        // shares their network): waiting half an interval instead made the first crash after
        // a join take about a second longer to detect.
        let rtt = if m.cold().rtt.samples >= 3 { m.cold().rtt } else { self.prober.rtt_any };
        if rtt.samples < 3 {
            return cap;
        }
        let mean = f64::from(rtt.mean);
        let std = f64::from(rtt.variance.max(0.0)).sqrt().max(mean / 4.0);
        let y = crate::detector::threshold_y(self.config.detector.phi_threshold);
        Duration::from_micros((mean + y * std) as u64).clamp(p.min_timeout, cap)
    }

    /// Drives probes, indirect probes, relays and suspicion timeouts.
    pub(crate) fn probe_tick(&mut self, now: Instant) {
        let interval = self.config.probe.interval;
        // Woken far later than asked: this node was paused or starved, and the silence it
        // observed says nothing about others.
        let late = self.prober.expected_wake.map_or(Duration::ZERO, |expected| now.saturating_duration_since(expected));
        if late > interval * 2 {
            self.health_penalty(self.config.probe.max_health_score / 2 + 1);
            self.prober.current = None;
            self.prober.next_probe = now;
            // The silence was our own.
            self.last_heard = self.last_heard.max(now);
        } else if late > self.config.probe.min_timeout {
            // Late by more than a probe may take: answers this node waits for may be waiting
            // on it (a starved process), so it trusts its own verdicts a little less.
            self.stats.late_wakeups += 1;
            self.health_penalty(1);
        }
        self.expire_relays(now);
        self.advance_probe(now);
        if self.prober.current.is_none() && now >= self.prober.next_probe {
            if self.left {
                // A node that left probes nobody, but its timer must still move on.
                self.prober.next_probe = now + self.config.probe.interval;
            } else {
                self.start_probe(now);
            }
        }
        self.check_isolation(now);
        self.expire_suspicions(now);
        self.push_member_updates(now);
    }

    fn expire_relays(&mut self, now: Instant) {
        while let Some(pos) = self.prober.relays.iter().position(|r| r.deadline <= now) {
            let Some(r) = self.prober.relays.remove(pos) else { break };
            self.send(r.requester, TransmitKind::Datagram, &Message::Nack(Nack { seq: r.requester_seq }));
        }
    }

    fn advance_probe(&mut self, now: Instant) {
        let Some(p) = &self.prober.current else { return };
        let (seq, target, generation) = (p.seq, p.target, p.generation);
        let still_there = self.members.get(target).is_some_and(|m| m.id.generation == generation);
        if !still_there {
            self.prober.current = None;
            return;
        }
        if !p.indirect_sent && now >= p.direct_deadline {
            let helpers = self.indirect_helpers(target);
            let Some(t) = self.members.get(target) else { return };
            let target_wire = WireNodeId { name: t.id.name.to_string(), generation: t.id.generation, addr: t.id.addr };
            for addr in &helpers {
                let updates = self.piggyback(self.probe_budget());
                let req = PingReq { seq, target: target_wire.clone(), updates };
                self.send(*addr, TransmitKind::Datagram, &Message::PingReq(req));
            }
            // A second direct ping with the same sequence number: on a lossy link a single
            // lost datagram must not be what starts a suspicion (memberlist retries over TCP).
            // It carries our suspicion of the target too, so its answer can carry the refutation.
            let checksum = self.state_checksum();
            let updates = self.buddy_update(target).into_iter().collect();
            let ping = Ping {
                seq,
                target: target_wire.name.clone(),
                source: self.me_wire(),
                checksum,
                members: self.advertised_members(),
                updates,
            };
            self.send(target_wire.addr, TransmitKind::Datagram, &Message::Ping(ping));
            if let Some(p) = &mut self.prober.current {
                p.indirect_sent = true;
                p.nacks_expected = helpers.len();
            }
            return;
        }
        if p.indirect_sent && now >= p.end {
            let nacks_missing = p.nacks_expected > 0 && p.nacks == 0;
            self.prober.current = None;
            self.stats.probes_failed += 1;
            if nacks_missing {
                // Not even the relays answered: the problem is more likely here than there.
                self.health_penalty(1);
            }
            // One failed probe of an alive member is not yet a suspicion: it is probed once
            // more, first thing next interval, and only a second failure in a row accuses it.
            // At 20 % loss a probe (two direct pings, three relays) fails about one time in
            // forty; two in a row, one in 1,500. A crash costs one probe interval more before
            // its first suspicion; a member already suspect is confirmed at once.
            let retried = self.prober.retry.take() == Some((target, generation));
            let chained = self.prober.chain.take() == Some((target, generation));
            let alive = self.members.get(target).is_some_and(|m| m.status == MemberStatus::Alive);
            if alive && !retried && !chained {
                self.prober.retry = Some((target, generation));
                self.stats.probes_retried += 1;
                return;
            }
            if self.healthy_enough_to_accuse() {
                let successor = alive && self.ring_successor() == Some(target);
                self.suspect_locally(now, target);
                if successor {
                    self.chain_ring(now);
                }
            } else {
                self.stats.suspicions_withheld += 1;
            }
        }
    }

    fn indirect_helpers(&mut self, target: MemberIdx) -> Vec<SocketAddr> {
        let mut live: Vec<SocketAddr> = self
            .members
            .iter()
            .filter(|(i, m)| *i != SELF_IDX && *i != target && m.status == MemberStatus::Alive)
            .map(|(_, m)| m.id.addr)
            .collect();
        live.shuffle(&mut self.rng);
        live.truncate(self.config.probe.indirect_checks);
        live
    }

    fn start_probe(&mut self, now: Instant) {
        let stretch = self.health_multiplier();
        let interval = self.config.probe.interval * stretch;
        self.prober.next_probe = now + interval;
        let mut urgent = self
            .prober
            .retry
            .filter(|(idx, generation)| self.members.get(*idx).is_some_and(|m| m.id.generation == *generation))
            .map(|(idx, _)| idx);
        if urgent.is_none() {
            self.prober.retry = None;
            urgent = self
                .prober
                .chain
                .filter(|(idx, generation)| {
                    self.members
                        .get(*idx)
                        .is_some_and(|m| m.id.generation == *generation && m.status == MemberStatus::Alive)
                })
                .map(|(idx, _)| idx);
            if urgent.is_none() {
                self.prober.chain = None;
            }
        }
        while let Some((idx, generation)) = urgent.is_none().then(|| self.prober.priority.pop_front()).flatten() {
            if self.members.get(idx).is_some_and(|m| m.id.generation == generation && m.status == MemberStatus::Suspect)
            {
                urgent = Some(idx);
                break;
            }
        }
        let every = self.config.probe.successor_every;
        self.prober.turn = self.prober.turn.wrapping_add(1);
        let successor_turn = every > 0 && self.prober.turn.is_multiple_of(every);
        let chosen = urgent
            .or_else(|| if successor_turn { self.ring_successor() } else { None })
            .or_else(|| self.prober.selector.select(&self.members, 1, &mut self.rng).first().copied());
        let Some(target) = chosen else {
            return;
        };
        let Some(m) = self.members.get(target) else { return };
        let (addr, generation, name) = (m.id.addr, m.id.generation, m.id.name.to_string());
        let timeout = self.probe_timeout(target) * stretch;
        let seq = self.next_seq();
        let mut updates = self.piggyback(self.probe_budget());
        if let Some(update) = self.buddy_update(target) {
            updates.insert(0, update);
        }
        let checksum = self.state_checksum();
        let ping =
            Ping { seq, target: name, source: self.me_wire(), checksum, members: self.advertised_members(), updates };
        self.send(addr, TransmitKind::Datagram, &Message::Ping(ping));
        self.prober.current = Some(Probe {
            seq,
            target,
            generation,
            sent: now,
            direct_deadline: now + timeout,
            end: now + interval.saturating_sub(interval / 10).max(timeout),
            indirect_sent: false,
            nacks_expected: 0,
            nacks: 0,
        });
    }

    /// This node just suspected its ring successor. Members that fail together are often
    /// neighbours on the ring (a rack, one side of a partition), and the next one would
    /// otherwise be found a turn later and suspected a turn after that, one after another:
    /// the new successor is probed at once, and its first failed probe suspects it (the retry
    /// guards a lone lost probe; here a failure was just seen next to it).
    fn chain_ring(&mut self, now: Instant) {
        if self.config.probe.successor_every == 0 {
            return;
        }
        let Some(next) = self.ring_successor() else { return };
        let Some(m) = self.members.get(next) else { return };
        self.prober.chain = Some((next, m.id.generation));
        self.prober.probe_now(now);
    }

    /// The alive member whose name follows this node's, wrapping around: every node probing
    /// its successor probes every member once per interval. A suspect is skipped (everyone
    /// who heard the suspicion probes it out of turn), so when several neighbours on the ring
    /// fail together (a rack, a partition) the next one is probed at once instead of after
    /// the previous one's suspicion ran out.
    fn ring_successor(&self) -> Option<MemberIdx> {
        let me: &str = &self.members.me().id.name;
        let mut next: Option<(&str, MemberIdx)> = None;
        let mut first: Option<(&str, MemberIdx)> = None;
        for (idx, m) in self.members.iter() {
            if idx == SELF_IDX || m.status != MemberStatus::Alive {
                continue;
            }
            let name: &str = &m.id.name;
            if first.is_none_or(|(f, _)| name < f) {
                first = Some((name, idx));
            }
            if name > me && next.is_none_or(|(n, _)| name < n) {
                next = Some((name, idx));
            }
        }
        next.or(first).map(|(_, idx)| idx)
    }

    pub(crate) fn on_ping(&mut self, now: Instant, from: SocketAddr, ping: Ping) {
        self.apply_updates(now, &ping.updates);
        // A ping is the sender's own word: a sign of life for phi.
        if let Some(idx) = self.members.lookup(&ping.source.name)
            && let Some(m) = self.members.get_mut(idx)
            && m.id.generation == ping.source.generation
        {
            m.detector.sign_of_life(now);
        }
        if *self.members.me().id.name != *ping.target {
            self.stats.count_drop("misdirected_ping");
            return;
        }
        // An unverified prober's answer fits its budget (see `verify`): fewer updates.
        let room = self.reply_room(from).map_or(usize::MAX, |r| r.saturating_sub(16));
        let mut updates = self.piggyback(self.probe_budget().min(room));
        // A prober that believes we are dead at our current generation learns it so we refute;
        // a prober we believe dead learns that too, so it refutes.
        if let Some(idx) = self.members.lookup(&ping.source.name)
            && let Some(m) = self.members.get(idx)
            && m.id.generation == ping.source.generation
            && m.status == MemberStatus::Dead
        {
            let me: Arc<str> = self.members.me().id.name.clone();
            updates.push(self.update_about(m, &me));
        }
        let checksum = self.state_checksum();
        self.send(
            from,
            TransmitKind::Datagram,
            &Message::PingAck(PingAck { seq: ping.seq, checksum, members: self.advertised_members(), updates }),
        );
        self.compare_checksum(now, from, ping.checksum);
        self.compare_member_count(now, from, ping.members);
    }

    /// Lifeguard's buddy system: a member we suspect hears it from us directly, so it can
    /// refute before the suspicion times out.
    fn buddy_update(&self, target: MemberIdx) -> Option<crate::wire::MemberUpdate> {
        let m = self.members.get(target)?;
        (m.status == MemberStatus::Suspect).then(|| self.update_about(m, &self.members.me().id.name))
    }

    pub(crate) fn on_ping_ack(&mut self, now: Instant, from: SocketAddr, ack: PingAck) {
        self.apply_updates(now, &ack.updates);
        if self.identity_answer(now, from, ack.seq) {
            return;
        }
        if self.announcement_answered(now, from, ack.seq) {
            // A restarted node still catching up hears here who knows more than it does.
            self.compare_member_count(now, from, ack.members);
            return;
        }
        if let Some(p) = &self.prober.current
            && p.seq == ack.seq
        {
            let (target, rtt) = (p.target, now.saturating_duration_since(p.sent));
            self.prober.current = None;
            if self.prober.retry.is_some_and(|(idx, _)| idx == target) {
                self.prober.retry = None;
            }
            self.stats.probes_ok += 1;
            self.health_reward();
            let mut direct = false;
            if let Some(m) = self.members.get_mut(target) {
                // Direct or relayed, the answer is the target's own: a sign of life for phi.
                m.detector.sign_of_life(now);
                // Relayed answers take longer and say nothing about the link to the target.
                direct = m.id.addr == from;
                if direct {
                    m.cold_mut().rtt.record(rtt);
                }
            }
            if direct {
                self.prober.rtt_any.record(rtt);
                // It echoed the sequence number we sent to its address: it receives there.
                self.verifier.verify(from, now);
                self.compare_checksum(now, from, ack.checksum);
                self.compare_member_count(now, from, ack.members);
            }
            // It answered, yet we still hold it suspect: its refutation has not reached us (it
            // may have retired it, or never heard of this suspicion). Tell it again; its answer
            // to that carries the refutation.
            if let Some(update) = self.buddy_update(target)
                && let Some(m) = self.members.get(target)
            {
                let (addr, name) = (m.id.addr, m.id.name.to_string());
                self.tell(addr, &name, update);
            }
            return;
        }
        if let Some(pos) = self.prober.relays.iter().position(|r| r.seq == ack.seq)
            && let Some(r) = self.prober.relays.remove(pos)
        {
            let updates = self.piggyback(self.probe_budget());
            let relayed =
                PingAck { seq: r.requester_seq, checksum: ack.checksum, members: self.advertised_members(), updates };
            self.send(r.requester, TransmitKind::Datagram, &Message::PingAck(relayed));
        }
    }

    pub(crate) fn on_ping_req(&mut self, now: Instant, from: SocketAddr, req: PingReq) {
        self.apply_updates(now, &req.updates);
        if self.prober.relays.len() >= MAX_RELAYS {
            self.stats.count_drop("relay_queue_full");
            return;
        }
        let seq = self.next_seq();
        let deadline = now + self.config.probe.interval / 2;
        self.prober.relays.push_back(Relay { seq, requester: from, requester_seq: req.seq, deadline });
        let checksum = self.state_checksum();
        let ping = Ping {
            seq,
            target: req.target.name,
            source: self.me_wire(),
            checksum,
            members: self.advertised_members(),
            updates: Vec::new(),
        };
        self.send(req.target.addr, TransmitKind::Datagram, &Message::Ping(ping));
    }

    /// Sends `update` straight to `to` on a ping (the answer is ignored): for news its
    /// receiver must not miss, such as a suspicion about itself or its refutation.
    pub(crate) fn tell(&mut self, to: SocketAddr, target: &str, update: crate::wire::MemberUpdate) {
        self.ping_carrying(to, target, vec![update]);
    }

    /// Sends `to` a ping for the member named `target`, carrying `updates`; returns its
    /// sequence number (an answer comes only from a node of that name).
    pub(crate) fn ping_carrying(
        &mut self,
        to: SocketAddr,
        target: &str,
        updates: Vec<crate::wire::MemberUpdate>,
    ) -> u32 {
        let seq = self.next_seq();
        let checksum = self.state_checksum();
        let ping = Ping {
            seq,
            target: target.to_string(),
            source: self.me_wire(),
            checksum,
            members: self.advertised_members(),
            updates,
        };
        self.send(to, TransmitKind::Datagram, &Message::Ping(ping));
        seq
    }

    /// Pushes freshly queued membership updates at once to [`PUSH_FANOUT`] live members, on
    /// pings whose acks bring the receivers' own updates back; at most once per half probe
    /// interval, and only with `eager_rumors`. Piggybacking alone moves an update a hop or two
    /// per probe interval, so a refutation could reach the last holders of a suspicion only
    /// after their timers ran out (and a death only after several intervals); pushed, both
    /// cross the cluster in a few network round trips. Each push counts toward the update's
    /// retransmission limit, so the total number of transmissions does not grow.
    pub(crate) fn push_member_updates(&mut self, now: Instant) {
        if !self.broadcasts.fresh || !self.config.eager_rumors || self.left || now < self.prober.push_not_before {
            return;
        }
        self.broadcasts.fresh = false;
        self.prober.push_not_before = now + self.config.probe.interval / 2;
        let peers = self.prober.push_selector.select(&self.members, PUSH_FANOUT, &mut self.rng);
        for idx in peers {
            let Some(m) = self.members.get(idx) else { continue };
            let (addr, name) = (m.id.addr, m.id.name.to_string());
            let updates = self.piggyback(self.probe_budget());
            if updates.is_empty() {
                break;
            }
            let seq = self.next_seq();
            let checksum = self.state_checksum();
            let ping = Ping {
                seq,
                target: name,
                source: self.me_wire(),
                checksum,
                members: self.advertised_members(),
                updates,
            };
            self.send(addr, TransmitKind::Datagram, &Message::Ping(ping));
        }
    }

    pub(crate) fn on_nack(&mut self, now: Instant, nack: Nack) {
        if let Some(p) = &mut self.prober.current
            && p.seq == nack.seq
        {
            p.nacks += 1;
            // Every relay reached the target no more than we did, after our direct timeout:
            // nothing is left to wait for. The probe fails now rather than at the end of the
            // interval, which takes about a third of a second off every crash detection.
            if p.indirect_sent && p.nacks >= p.nacks_expected {
                p.end = p.end.min(now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, NodeId};

    #[test]
    fn the_ring_successor_is_the_next_live_member_by_name_wrapping_around() {
        let addr = |i: u8| SocketAddr::from(([10, 0, 0, i], 1));
        let mut n = Node::new(Config::lan(), NodeId::new("m", 1, addr(1)), vec![], 1, Instant::ZERO).unwrap();
        let name_of =
            |n: &Node, idx: Option<MemberIdx>| idx.and_then(|i| n.members.get(i)).map(|m| m.id.name.to_string());
        assert_eq!(n.ring_successor(), None, "alone");
        for (i, name) in ["a", "q", "z", "p"].into_iter().enumerate() {
            n.add_member(Instant::ZERO, NodeId::new(name, 1, addr(i as u8 + 2)));
        }
        assert_eq!(name_of(&n, n.ring_successor()).as_deref(), Some("p"));
        let p = n.members.lookup("p").unwrap();
        n.members.get_mut(p).unwrap().status = MemberStatus::Suspect;
        assert_eq!(name_of(&n, n.ring_successor()).as_deref(), Some("q"), "a suspect is skipped");
        n.members.get_mut(p).unwrap().status = MemberStatus::Dead;
        assert_eq!(name_of(&n, n.ring_successor()).as_deref(), Some("q"), "a dead member is skipped");
        for name in ["q", "z"] {
            let idx = n.members.lookup(name).unwrap();
            n.members.get_mut(idx).unwrap().status = MemberStatus::Dead;
        }
        assert_eq!(name_of(&n, n.ring_successor()).as_deref(), Some("a"), "wraps around to the first name");
    }

    #[test]
    fn with_successor_every_1_every_probe_goes_to_the_successor() {
        let addr = |i: u8| SocketAddr::from(([10, 0, 0, i], 1));
        let mut config = Config::lan();
        config.probe.successor_every = 1;
        let mut n = Node::new(config, NodeId::new("b", 1, addr(1)), vec![], 1, Instant::ZERO).unwrap();
        for (i, name) in ["a", "c", "d", "e"].into_iter().enumerate() {
            n.add_member(Instant::ZERO, NodeId::new(name, 1, addr(i as u8 + 2)));
        }
        let c = n.members.lookup("c").unwrap();
        let mut now = Instant::ZERO;
        for _ in 0..8 {
            n.prober.current = None;
            n.start_probe(now);
            assert_eq!(n.prober.current.as_ref().map(|p| p.target), Some(c));
            now += n.config.probe.interval;
        }
    }

    #[test]
    fn rtt_statistics_follow_the_samples() {
        let mut rtt = Rtt::default();
        for _ in 0..50 {
            rtt.record(Duration::from_millis(2));
        }
        assert!((rtt.mean - 2000.0).abs() < 1.0);
        assert!(rtt.variance < 1.0);
    }
}
