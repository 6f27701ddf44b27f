//! The exchanges: building and answering push, pull and push-pull messages.

use std::net::SocketAddr;

use crate::Instant;
use crate::config::RumorFeedback;
use crate::delta::Applied;
use crate::digest::{checksum_bits, compare};
use crate::node::{MAX_PENDING_SYNS, Node, PendingSyn};
use crate::state::{MemberIdx, MemberStatus, in_slice};
use crate::transmit::TransmitKind;
use crate::wire::{Ack, Block, Digest, EXPLICIT_DIGEST, HEADER_LEN, Message, Push, PushAck, Syn, SynAck};

/// Bytes of a message envelope besides digest and blocks (ids, flags, counts).
const ENVELOPE: usize = 16;

impl Node {
    pub(crate) fn datagram_budget(&self) -> usize {
        self.config.mtu.saturating_sub(HEADER_LEN + ENVELOPE + self.seal_overhead() + self.flow_room())
    }

    /// Budget for digests that only carry heartbeats and rumor feedback.
    fn small_digest_budget(&self) -> usize {
        self.datagram_budget() / 4
    }

    pub(crate) fn send_syn(&mut self, to: SocketAddr, push_pull: bool, rumor: bool, full_sync: bool) {
        // Sent in answer to an unverified address's packet, it fits that address's budget.
        let datagram = match self.replying_to {
            Some(peer) if peer == to => self.reply_room(to).unwrap_or(self.datagram_budget()),
            _ => self.datagram_budget(),
        };
        let mut updates = self.piggyback(datagram / 4);
        if full_sync {
            // Across a healed partition, tell a member we think dead what we think: it refutes.
            if let Some(m) = self.members.at_addr(to).filter(|m| m.status == MemberStatus::Dead) {
                updates.push(self.update_about(m, &self.members.me().id.name));
            }
        }
        let room = datagram.saturating_sub(updates_size(&updates));
        let digest_budget = if rumor { room.min(datagram / 4) } else { room };
        let mut bits = self.slice_bits_for(digest_budget);
        let mut checksums = Vec::new();
        if !rumor && bits > 0 {
            // Room for the slice checksums, then slices small enough for what is left.
            let vector = (1usize << checksum_bits(bits)) * 5 + 3;
            bits = self.slice_bits_for(digest_budget.saturating_sub(vector));
            checksums = self.slice_checksums(checksum_bits(bits));
        }
        let digest = if rumor && !push_pull && !self.config.informed_pull {
            // Demers et al.'s pull: the request names nothing, so the responder sends every
            // rumor it is infective for and learns from our answer which ones we knew.
            Digest { slice_bits: EXPLICIT_DIGEST, ..self.empty_digest() }
        } else if rumor && !push_pull {
            // A pull for rumors lists the peer itself and the owners that changed here
            // recently: the responder's hot rumors are its own news or recent news, so a
            // requester that has one lists it, and the responder counts that as feedback
            // whatever the owner's digest slice.
            let mut digest = self.recent_digest(digest_budget.saturating_sub(self.members.average_name_len() + 32));
            let peer = self.members.at_addr(to);
            if let Some(m) = peer.filter(|m| !digest.entries.iter().any(|e| *e.name == *m.id.name)) {
                digest.entries.insert(0, crate::digest::entry_of(m));
            }
            digest
        } else {
            let slice = self.next_slice(bits);
            let vector_bytes = checksums.len() * 5 + 3;
            let mut digest = self.build_digest(bits, slice, digest_budget.saturating_sub(vector_bytes));
            digest.slice_checksums = checksums;
            digest
        };
        let exchange_id = self.next_exchange_id();
        let mut blocks = Vec::new();
        if rumor && push_pull {
            let budget = room.saturating_sub(digest_size(&digest));
            // Cut to an unverified requester's budget is no sign of too many writes.
            let full_budget = datagram == self.datagram_budget();
            blocks = self.rumor_blocks(budget, |_| true, full_budget);
            self.after_rumor_send(exchange_id, &blocks);
        }
        self.remember_syn(exchange_id, to, push_pull, rumor);
        let flow = self.flow_report();
        let syn = Syn { exchange_id, push_pull, rumor, digest, blocks, updates, flow };
        self.send(to, TransmitKind::Datagram, &Message::Syn(syn));
    }

    pub(crate) fn remember_syn(&mut self, id: u32, to: SocketAddr, push_pull: bool, rumor: bool) {
        if self.pending.len() >= MAX_PENDING_SYNS {
            self.pending.pop_front();
        }
        self.pending.push_back(PendingSyn { id, to, push_pull, rumor, sent_round: self.round });
    }

    pub(crate) fn send_push(&mut self, _now: Instant, to: SocketAddr, rumor: bool) {
        let updates = self.piggyback(self.datagram_budget() / 4);
        let room = self.datagram_budget().saturating_sub(updates_size(&updates));
        let digest_budget = self.small_digest_budget();
        let bits = self.slice_bits_for(digest_budget);
        let slice = self.next_slice(bits);
        let digest = self.build_digest(bits, slice, digest_budget);
        let budget = room.saturating_sub(digest_size(&digest));
        let exchange_id = self.next_exchange_id();
        let (blocks, want_ack) = if rumor {
            let blocks = self.rumor_blocks(budget, |_| true, true);
            let want_ack = self.config.rumor.feedback == RumorFeedback::Feedback && !blocks.is_empty();
            self.after_rumor_send(exchange_id, &blocks);
            (blocks, want_ack)
        } else {
            (self.anti_entropy_push_blocks(budget), false)
        };
        let flow = self.flow_report();
        let push = Push { exchange_id, want_ack, digest, blocks, updates, flow };
        self.send(to, TransmitKind::Datagram, &Message::Push(push));
    }

    /// Pushes the local `left` mark to live peers at once.
    pub(crate) fn push_leave(&mut self, now: Instant) {
        let peers = self.selector.select(&self.members, self.config.fanout * 2, &mut self.rng);
        for idx in peers {
            if let Some(addr) = self.members.get(idx).map(|m| m.id.addr) {
                self.send_push(now, addr, true);
            }
        }
    }

    /// Blocks for hot rumors whose member passes `wanted`, oldest rumor first. A rumor whose
    /// versions do not all fit is, with `count_overflow`, a flow-control overflow.
    fn rumor_blocks(
        &mut self,
        mut budget: usize,
        wanted: impl Fn(MemberIdx) -> bool,
        count_overflow: bool,
    ) -> Vec<Block> {
        let mut blocks = Vec::new();
        let mut cut = 0;
        for r in self.rumors.hot().to_vec() {
            if !wanted(r.member) {
                continue;
            }
            let Some(m) = self.members.get(r.member) else { continue };
            if m.id.generation != r.generation {
                continue;
            }
            let reset = r.from < m.last_gc_version();
            let from = if reset { 0 } else { r.from };
            let to = m.max_version().max(r.to);
            match self.block_for(m, from, to, reset, budget) {
                Some((block, used, complete)) => {
                    budget -= used;
                    blocks.push(block);
                    cut += usize::from(!complete);
                }
                None => cut += usize::from(to > from),
            }
        }
        if cut > 0 && count_overflow {
            self.stats.rumor_overflows += 1;
            self.flow.overflow(0);
        }
        blocks
    }

    /// Counts rumor transmissions: blind rumors count every send, feedback ones wait for the
    /// reply (remembered under the exchange id).
    fn after_rumor_send(&mut self, exchange_id: u32, blocks: &[Block]) {
        let sent: Vec<(MemberIdx, u64, u64)> = blocks
            .iter()
            .filter_map(|b| self.members.lookup(&b.owner.name).map(|i| (i, b.owner.generation, b.to_version)))
            .collect();
        match self.config.rumor.feedback {
            RumorFeedback::Blind => {
                for (idx, generation, to) in sent {
                    self.rumors.count(idx, generation, to, &self.config.rumor, &mut self.rng);
                }
            }
            RumorFeedback::Feedback => self.rumors.sent(exchange_id, sent),
        }
    }

    fn rumor_feedback(&mut self, exchange_id: u32, known: &[u16]) {
        let Some(sent) = self.rumors.take_inflight(exchange_id) else { return };
        for (i, &(idx, generation, to)) in sent.iter().enumerate() {
            if u16::try_from(i).is_ok_and(|i| known.contains(&i)) {
                self.rumors.count(idx, generation, to, &self.config.rumor, &mut self.rng);
            } else {
                self.rumors.news(idx, generation, to, &self.config.rumor);
            }
        }
    }

    /// Indices of the blocks of a rumor message that this node already knew, for the sender's
    /// feedback. News about this node itself is never news to it (the block is ignored, but the
    /// sender must learn that it was not needed, or a rumor about a node would stay hot for as
    /// long as only that node is told). In lockstep rounds a rumor learned earlier in the
    /// current cycle is news: the messages of one cycle are simultaneous (see
    /// `Config::lockstep_rounds`).
    fn feedback_known(&self, blocks: &[Block], outcomes: &[Applied]) -> Vec<u16> {
        let me = &self.members.me().id.name;
        let mut known: Vec<u16> = outcomes
            .iter()
            .zip(blocks)
            .enumerate()
            .filter(|(_, (o, b))| **o == Applied::Known || *b.owner.name == **me)
            .filter_map(|(i, _)| u16::try_from(i).ok())
            .collect();
        if self.config.lockstep_rounds {
            known.retain(|i| {
                let Some(b) = blocks.get(usize::from(*i)) else { return true };
                let learned_now = self
                    .members
                    .lookup(&b.owner.name)
                    .is_some_and(|idx| self.rumors.learned_in(idx, b.owner.generation, b.to_version, self.round));
                !learned_now
            });
        }
        known
    }

    /// Push anti-entropy: the newest advances first, then whole owners in rotation, so that
    /// everything is eventually repaired without any feedback from the receiver.
    fn anti_entropy_push_blocks(&mut self, mut budget: usize) -> Vec<Block> {
        let mut blocks = Vec::new();
        // Newest advance first; each member's range reaches back to its oldest recent advance.
        let mut ranges: Vec<(MemberIdx, u64, u64)> = Vec::new();
        for &(idx, generation, from, _) in self.recent.iter().rev() {
            match ranges.iter_mut().find(|r| r.0 == idx && r.1 == generation) {
                Some(r) => r.2 = r.2.min(from),
                None => ranges.push((idx, generation, from)),
            }
        }
        let mut included: Vec<MemberIdx> = Vec::new();
        for (idx, generation, from) in ranges {
            let Some(m) = self.members.get(idx) else { continue };
            if m.id.generation != generation {
                continue;
            }
            let reset = from < m.last_gc_version();
            let from = if reset { 0 } else { from };
            if let Some((block, used, _)) = self.block_for(m, from, m.max_version(), reset, budget) {
                budget -= used;
                if from == 0 {
                    included.push(idx);
                }
                blocks.push(block);
            }
        }
        let slots = self.members.slots();
        let mut tried = 0;
        while budget > 64 && tried < slots.min(64) {
            tried += 1;
            self.repair_cursor = self.repair_cursor.wrapping_add(1);
            let idx = (self.repair_cursor % slots.max(1)) as MemberIdx;
            let Some(m) = self.members.get(idx) else { continue };
            if included.contains(&idx) {
                continue;
            }
            let reset = m.last_gc_version() > 0;
            if let Some((block, used, _)) = self.block_for(m, 0, m.max_version(), reset, budget) {
                budget -= used;
                included.push(idx);
                blocks.push(block);
            } else {
                break;
            }
        }
        blocks
    }

    pub(crate) fn handle_message(&mut self, now: Instant, from: SocketAddr, message: Message, kind: TransmitKind) {
        let members = match &message {
            Message::Syn(syn) => Some(syn.digest.members),
            Message::SynAck(ack) => ack.digest.as_ref().map(|d| d.members),
            Message::Push(push) => Some(push.digest.members),
            _ => None,
        };
        let flow = match &message {
            Message::Syn(m) => m.flow.as_ref(),
            Message::SynAck(m) => m.flow.as_ref(),
            Message::Ack(m) => m.flow.as_ref(),
            Message::Push(m) => m.flow.as_ref(),
            _ => None,
        };
        if let Some(report) = flow {
            self.learn_flow(from, report);
        }
        match message {
            Message::Syn(syn) => self.on_syn(now, from, syn),
            Message::SynAck(ack) => self.on_syn_ack(now, from, ack),
            Message::Ack(ack) => {
                self.apply_blocks(now, &ack.blocks);
            }
            Message::Push(push) => {
                self.apply_updates(now, &push.updates);
                self.learn_heartbeats(now, &push.digest);
                let outcomes = self.apply_blocks(now, &push.blocks);
                if push.want_ack && kind == TransmitKind::Datagram {
                    let known = self.feedback_known(&push.blocks, &outcomes);
                    let reply = PushAck { exchange_id: push.exchange_id, known };
                    self.send(from, TransmitKind::Datagram, &Message::PushAck(reply));
                }
            }
            Message::PushAck(ack) => self.rumor_feedback(ack.exchange_id, &ack.known),
            Message::Ping(ping) => self.on_ping(now, from, ping),
            Message::PingAck(ack) => self.on_ping_ack(now, from, ack),
            Message::PingReq(req) => self.on_ping_req(now, from, req),
            Message::Nack(nack) => self.on_nack(now, nack),
            Message::Tree(tree) => self.on_tree(now, from, tree, kind),
            Message::UserEvents(events) => self.on_user_events(now, events),
            Message::Query(query) => self.on_query(now, query),
            Message::QueryResponse(response) => self.on_query_response(now, response),
        }
        // After the message is applied: what it carried may already have closed the gap.
        if let Some(theirs) = members {
            self.compare_member_count(now, from, theirs);
        }
    }

    fn learn_heartbeats(&mut self, now: Instant, digest: &Digest) {
        let me = self.members.me();
        if !self.identity.admitted
            && digest.entries.iter().any(|e| *e.name == *me.id.name && e.generation == me.id.generation)
        {
            // A peer lists us at our own generation: the cluster holds our name as ours.
            self.identity.admitted = true;
        }
        for e in &digest.entries {
            if let Some(idx) = self.members.lookup(&e.name)
                && self.members.get(idx).is_some_and(|m| m.id.generation == e.generation)
            {
                self.heartbeat(now, idx, e.heartbeat);
            }
        }
    }

    fn on_syn(&mut self, now: Instant, from: SocketAddr, syn: Syn) {
        self.hint_restart(from, &syn);
        self.apply_updates(now, &syn.updates);
        self.learn_heartbeats(now, &syn.digest);
        let outcomes = self.apply_blocks(now, &syn.blocks);
        let known = self.feedback_known(&syn.blocks, &outcomes);
        let explicit = syn.digest.slice_bits == EXPLICIT_DIGEST;
        let bits = syn.digest.slice_bits.min(24);
        let slice = syn.digest.slice;
        // Towards an address that has not proved it receives, the reply fits its budget and
        // never goes by stream (see `verify`).
        let room = self.reply_room(from);
        let datagram = room.unwrap_or(self.datagram_budget());
        let updates = self.piggyback(datagram / 4);
        let (vector_bits, differing) = self.differing_slices(&syn.digest.slice_checksums);
        let all_slices_agree = differing.is_empty();
        if !explicit
            && !syn.rumor
            && syn.blocks.is_empty()
            && all_slices_agree
            && self.checksum_of(bits, slice) == syn.digest.checksum
        {
            self.stats.in_sync += 1;
            let reply = SynAck {
                exchange_id: syn.exchange_id,
                in_sync: true,
                digest: None,
                blocks: Vec::new(),
                known,
                updates,
                flow: self.flow_report(),
                refer: Vec::new(),
            };
            self.send(from, TransmitKind::Datagram, &Message::SynAck(reply));
            return;
        }
        // A full digest (slice bits 0) is answered with a full digest, by stream if it does not
        // fit a datagram: the requester is catching up on membership (see `formation`).
        let full = syn.push_pull && !syn.rumor && bits == 0;
        if room.is_some_and(|r| full || r < self.datagram_budget()) {
            self.stats.amplification_limited += 1;
        }
        // Only a verified peer can be answered by stream; those answers are rationed.
        if full && !explicit && room.is_none() && !self.may_serve_catch_up(now, from) {
            return self.defer_catch_up(from, &syn, known, updates);
        }
        let digest = match (syn.push_pull && !syn.rumor, explicit) {
            (false, _) => None,
            (true, true) => Some(self.answer_digest(&syn.digest, datagram / 2)),
            (true, false) if full => {
                Some(self.build_digest(0, 0, if room.is_some() { datagram / 2 } else { self.stream_budget() / 2 }))
            }
            (true, false) => {
                let mut checksums = self.slice_checksums(vector_bits);
                if checksums.len() * 5 + 3 > datagram / 2 {
                    checksums.clear();
                }
                let budget = (datagram / 2).saturating_sub(checksums.len() * 5 + 3);
                // The slice asked about agrees (or we would not be here with a match): answer
                // with our digest of a slice that differs instead, so the exchange repairs it.
                let slice = match differing.first() {
                    Some(&coarse) if self.checksum_of(bits, slice) == syn.digest.checksum => {
                        self.slice_within(bits, vector_bits, coarse)
                    }
                    _ => slice,
                };
                let mut digest = self.build_digest(bits, slice, budget);
                digest.slice_checksums = checksums;
                Some(digest)
            }
        };
        let reserved = digest.as_ref().map_or(0, digest_size) + 3 * known.len() + updates_size(&updates);
        let budget = datagram.saturating_sub(reserved);
        let (blocks, kind) = if syn.rumor {
            let pull = (!syn.push_pull).then_some(syn.exchange_id);
            (self.rumor_reply_blocks(pull, &syn.digest, budget, room.is_none()), TransmitKind::Datagram)
        } else if reserved > datagram && room.is_none() {
            self.anti_entropy_stream_blocks(&syn.digest, reserved)
        } else {
            self.anti_entropy_blocks(&syn.digest, budget, room.is_none())
        };
        let flow = self.flow_report();
        let reply = SynAck {
            exchange_id: syn.exchange_id,
            in_sync: false,
            digest,
            blocks,
            known,
            updates,
            flow,
            refer: Vec::new(),
        };
        self.send(from, kind, &Message::SynAck(reply));
    }

    fn on_syn_ack(&mut self, now: Instant, from: SocketAddr, ack: SynAck) {
        let pending = self
            .pending
            .iter()
            .position(|p| p.id == ack.exchange_id && p.to == from)
            .and_then(|i| self.pending.remove(i));
        if pending.is_some() {
            // It echoed the exchange id we sent to its address: it receives there.
            self.verifier.verify(from, now);
            self.catch_up_verified(now, from);
        }
        self.apply_updates(now, &ack.updates);
        if let Some(digest) = &ack.digest {
            self.learn_heartbeats(now, digest);
        }
        let outcomes = self.apply_blocks(now, &ack.blocks);
        let Some(pending) = pending else { return };
        if pending.push_pull && !ack.refer.is_empty() {
            let theirs = ack.digest.as_ref().map_or(0, |d| d.members);
            self.follow_referral(now, from, &ack.refer, theirs);
        }
        if pending.rumor {
            if self.config.rumor.feedback == RumorFeedback::Feedback {
                self.rumor_feedback(ack.exchange_id, &ack.known);
                if !pending.push_pull && !self.config.informed_pull && !ack.blocks.is_empty() {
                    // The responder sent its rumors blind to what we hold: say which we knew.
                    let known = self.feedback_known(&ack.blocks, &outcomes);
                    let reply = PushAck { exchange_id: ack.exchange_id, known };
                    self.send(from, TransmitKind::Datagram, &Message::PushAck(reply));
                }
            }
            return;
        }
        if let (true, Some(digest)) = (pending.push_pull, ack.digest) {
            let (blocks, kind) = self.anti_entropy_blocks(&digest, self.datagram_budget(), true);
            if !blocks.is_empty() {
                let flow = self.flow_report();
                self.send(from, kind, &Message::Ack(Ack { exchange_id: ack.exchange_id, blocks, flow }));
            }
            // Owners the peer listed where we are behind, or that we do not know at all,
            // are pulled (a sliced digest is otherwise only used to push).
            self.pull_behind(from, &digest);
        }
    }

    /// Everything the digest's sender lacks, in a stream frame that also carries `reserved`
    /// bytes of digest and updates.
    fn anti_entropy_stream_blocks(&mut self, digest: &Digest, reserved: usize) -> (Vec<Block>, TransmitKind) {
        let lacking = compare(self, digest);
        let plan = self.plan(lacking);
        let budget = self.stream_budget().saturating_sub(reserved);
        let (blocks, overflow) = self.build_blocks(&plan, budget);
        if overflow {
            self.stats.delta_overflows += 1;
            self.flow.overflow(plan.total_bytes.saturating_sub(budget));
        }
        (blocks, TransmitKind::Stream)
    }

    /// Whether blocks of `total` bytes, the largest `largest`, should go by stream (to a
    /// verified peer): more than `stream_threshold_bytes`, or one too large for a datagram.
    pub(crate) fn too_large_for_datagrams(&self, total: usize, largest: usize, datagram_budget: usize) -> bool {
        total > self.config.stream_threshold_bytes || largest > datagram_budget
    }

    /// Everything the digest's sender lacks, by datagram if it fits, else by stream if
    /// `stream_ok` (else as much as fits); then, with what room is left, our recent changes of
    /// owners in other slices that differ.
    fn anti_entropy_blocks(
        &mut self,
        digest: &Digest,
        datagram_budget: usize,
        stream_ok: bool,
    ) -> (Vec<Block>, TransmitKind) {
        let lacking = compare(self, digest);
        let (vector_bits, differing) = if digest.slice_bits == EXPLICIT_DIGEST {
            (0, Vec::new())
        } else {
            self.differing_slices(&digest.slice_checksums)
        };
        if lacking.is_empty() {
            let blocks = self.recent_blocks_in(vector_bits, &differing, &[], datagram_budget);
            return (blocks, TransmitKind::Datagram);
        }
        let plan = self.plan(lacking);
        let stream = stream_ok && self.too_large_for_datagrams(plan.total_bytes, plan.largest_unit, datagram_budget);
        let (budget, kind) = if stream {
            (self.stream_budget(), TransmitKind::Stream)
        } else {
            (datagram_budget, TransmitKind::Datagram)
        };
        let (mut blocks, overflow) = self.build_blocks(&plan, budget);
        if overflow {
            // Cut to an unverified requester's budget is no sign of too many writes: flow
            // control is not for whoever claims an address to steer.
            if stream_ok {
                self.stats.delta_overflows += 1;
                self.flow.overflow(plan.total_bytes.saturating_sub(budget));
            }
        } else if kind == TransmitKind::Datagram {
            let used: usize = blocks.iter().map(crate::delta::block_size).sum();
            let covered: Vec<MemberIdx> = plan.items.iter().map(|(idx, _, _)| *idx).collect();
            let extra = self.recent_blocks_in(vector_bits, &differing, &covered, budget.saturating_sub(used + 3));
            blocks.extend(extra);
        }
        (blocks, kind)
    }

    /// Blocks of our recent changes (newest first, each owner from its oldest recent version)
    /// for owners in the listed slices, except `skip`.
    fn recent_blocks_in(&self, bits: u8, slices: &[u32], skip: &[MemberIdx], mut budget: usize) -> Vec<Block> {
        let mut blocks = Vec::new();
        if slices.is_empty() {
            return blocks;
        }
        let mut ranges: Vec<(MemberIdx, u64, u64)> = Vec::new();
        for &(idx, generation, from, _) in self.recent.iter().rev() {
            match ranges.iter_mut().find(|r| r.0 == idx && r.1 == generation) {
                Some(r) => r.2 = r.2.min(from),
                None => ranges.push((idx, generation, from)),
            }
        }
        for (idx, generation, from) in ranges {
            let Some(m) = self.members.get(idx) else { continue };
            if m.id.generation != generation || skip.contains(&idx) {
                continue;
            }
            if !slices.iter().any(|s| in_slice(m.hash(), bits, *s)) {
                continue;
            }
            let reset = from < m.last_gc_version();
            let from = if reset { 0 } else { from };
            if let Some((block, used, _)) = self.block_for(m, from, m.max_version(), reset, budget) {
                budget -= used;
                blocks.push(block);
            }
        }
        blocks
    }

    /// Pull rumor mongering: our hot rumors that the digest's sender lacks. Rumors it already
    /// has count as feedback. An explicit digest (a pull for rumors) covers the owners it lists;
    /// a sliced one, the owners of its slice; rumors of owners it does not cover are sent.
    /// Without `informed_pull`, rumors sent in answer to a pull (`pull`: its exchange id) await
    /// the requester's `PushAck`.
    fn rumor_reply_blocks(
        &mut self,
        pull: Option<u32>,
        digest: &Digest,
        budget: usize,
        count_overflow: bool,
    ) -> Vec<Block> {
        let mut lacking: Vec<MemberIdx> = Vec::new();
        // Owners the digest covers and shows behind: sending them is news to the requester.
        let mut behind: Vec<MemberIdx> = Vec::new();
        let mut already: Vec<(MemberIdx, u64, u64)> = Vec::new();
        let explicit = digest.slice_bits == EXPLICIT_DIGEST;
        for r in self.rumors.hot() {
            let Some(m) = self.members.get(r.member) else { continue };
            if !explicit && !in_slice(m.hash(), digest.slice_bits, digest.slice) {
                lacking.push(r.member);
                continue;
            }
            let has = digest.entries.iter().find(|e| *e.name == *m.id.name);
            match has {
                Some(e) if e.generation > r.generation || (e.generation == r.generation && e.max_version >= r.to) => {
                    already.push((r.member, r.generation, r.to));
                }
                _ => {
                    lacking.push(r.member);
                    behind.push(r.member);
                }
            }
        }
        if self.config.rumor.feedback == RumorFeedback::Feedback {
            for (idx, generation, to) in already {
                self.rumors.count(idx, generation, to, &self.config.rumor, &mut self.rng);
            }
        }
        let blocks = self.rumor_blocks(budget, |idx| lacking.contains(&idx), count_overflow);
        match self.config.rumor.feedback {
            RumorFeedback::Blind => self.after_rumor_send(0, &blocks),
            RumorFeedback::Feedback => {
                if let Some(exchange_id) = pull.filter(|_| !self.config.informed_pull && !blocks.is_empty()) {
                    self.after_rumor_send(exchange_id, &blocks);
                } else {
                    for b in &blocks {
                        if let Some(idx) = self.members.lookup(&b.owner.name).filter(|idx| behind.contains(idx)) {
                            self.rumors.news(idx, b.owner.generation, b.to_version, &self.config.rumor);
                        }
                    }
                }
            }
        }
        blocks
    }
}

pub(crate) fn updates_size(updates: &[crate::wire::MemberUpdate]) -> usize {
    updates.iter().map(crate::membership::update_size).sum::<usize>() + 3
}

pub(crate) fn digest_size(digest: &Digest) -> usize {
    use crate::wire::size;
    1 + size::varint(u64::from(digest.slice))
        + size::varint(digest.checksum)
        + size::varint(digest.slice_checksums.len() as u64)
        + digest.slice_checksums.iter().map(|c| size::varint(u64::from(*c))).sum::<usize>()
        + size::varint(digest.entries.len() as u64)
        + size::varint(u64::from(digest.members))
        + digest
            .entries
            .iter()
            .map(|e| size::digest_entry(e.name.len(), e.generation, e.max_version, e.heartbeat))
            .sum::<usize>()
}
