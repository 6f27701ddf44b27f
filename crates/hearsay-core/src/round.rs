//! One gossip round: housekeeping, liveness, then exchanges with the chosen peers.

use std::net::SocketAddr;

use rand::Rng;
use rand::seq::IndexedRandom;

use crate::Instant;
use crate::config::{ExchangeMode, Strategy};
use crate::event::Event;
use crate::node::Node;
use crate::peers::random_dead;
use crate::state::{MemberIdx, MemberStatus, SELF_IDX};

impl Node {
    pub(crate) fn run_round(&mut self, now: Instant) {
        self.round += 1;
        self.stats.rounds += 1;
        self.flow.end_round(self.round, self.config.mtu);
        if !self.left {
            let me = self.members.me_mut();
            me.heartbeat = me.heartbeat.saturating_add(1);
        }
        self.expire_ttl(now);
        self.members.collect_garbage(now);
        self.expire_suspicions(now);
        self.forget_departed(now);
        self.announce_round();
        let oldest_kept = self.round.saturating_sub(8);
        self.pending.retain(|p| p.sent_round >= oldest_kept);

        let anti_entropy = match self.config.strategy {
            Strategy::AntiEntropy => true,
            Strategy::Rumor => false,
            Strategy::Hybrid | Strategy::Plumtree => {
                self.round.is_multiple_of(u64::from(self.config.anti_entropy_every))
            }
        };
        if self.config.strategy == Strategy::Plumtree {
            self.tree_maintain();
        }
        let fanout = match self.config.strategy {
            Strategy::Hybrid | Strategy::Plumtree if anti_entropy => self.config.anti_entropy_fanout,
            _ => self.config.fanout,
        };
        // Rumor rounds with nothing hot stay silent in push and push-pull; pull must ask.
        let idle = !anti_entropy && self.rumors.is_empty() && self.config.exchange != ExchangeMode::Pull;
        let peers = if idle {
            Vec::new()
        } else {
            self.selector.pick(self.config.peer_choice, &self.members, fanout, &mut self.rng)
        };
        if !anti_entropy {
            // This round carries every hot rumor.
            self.eager_pending = false;
        }
        // (address, anti-entropy round, full three-way sync)
        let mut targets: Vec<(SocketAddr, bool, bool)> = Vec::with_capacity(peers.len() + 2);
        for idx in &peers {
            if let Some(m) = self.members.get(*idx) {
                targets.push((m.id.addr, anti_entropy, false));
            }
        }
        // Partitions heal through dead members, forgotten members (a cut longer than the
        // grace, see `forgotten`) and seeds; a node that knows nobody joins through the
        // seeds. These exchanges are always full anti-entropy.
        if self.rng.random_bool(self.config.dead_peer_probability) {
            let dead = random_dead(&self.members, &self.watch, &mut self.rng)
                .and_then(|i| self.members.get(i))
                .map(|m| m.id.addr);
            if let Some(addr) = dead.or_else(|| self.random_forgotten_addr()) {
                targets.push((addr, true, true));
            }
        }
        let lonely = self.is_lonely();
        if (lonely || self.rng.random_bool(self.config.seed_probability))
            && !self.seeds.is_empty()
            && let Some(seed) = self.seeds.choose(&mut self.rng).copied()
        {
            match targets.iter_mut().find(|(a, _, _)| *a == seed) {
                Some(target) => *target = (seed, true, true),
                None => targets.push((seed, true, true)),
            }
        }
        for (addr, anti_entropy, full_sync) in targets {
            self.start_exchange(now, addr, anti_entropy, full_sync);
        }
        self.spread_user_events(now);
    }

    /// Forwards fresh rumors now rather than at the next round (see `Config::eager_rumors`).
    pub(crate) fn eager_forward(&mut self, now: Instant) {
        self.push_member_updates(now);
        self.tree_flush(now);
        if !self.eager_pending || !self.config.eager_rumors || self.rumors.is_empty() || self.left {
            return;
        }
        if now < self.eager_not_before || self.health_score() > 0 {
            // The pending flag stays: the next round carries the rumors anyway. A node whose
            // local health is degraded (woken late, relays silent: see `probe`) sends no
            // extra rounds: when a process is starved of CPU, as a thousand nodes forming in
            // one process are, eager rounds only add to the load that starves it.
            return;
        }
        self.eager_pending = false;
        self.eager_not_before = now + self.config.gossip_interval / 2;
        let peers = self.selector.pick(self.config.peer_choice, &self.members, self.config.fanout, &mut self.rng);
        for idx in peers {
            if let Some(addr) = self.members.get(idx).map(|m| m.id.addr) {
                self.start_exchange(now, addr, false, false);
            }
        }
    }

    fn start_exchange(&mut self, now: Instant, to: SocketAddr, anti_entropy: bool, full_sync: bool) {
        if full_sync {
            // Joining, or reaching across a possible partition: a full three-way exchange, as
            // memberlist does on join, whatever the configured mode.
            return self.send_syn(to, true, false, true);
        }
        match (self.config.exchange, anti_entropy) {
            (ExchangeMode::Push, true) => self.send_push(now, to, false),
            (ExchangeMode::Push, false) => self.send_push(now, to, true),
            (ExchangeMode::Pull, _) => self.send_syn(to, false, !anti_entropy, false),
            (ExchangeMode::PushPull, _) => self.send_syn(to, true, !anti_entropy, false),
        }
    }

    fn expire_ttl(&mut self, now: Instant) {
        let expired: Vec<(std::sync::Arc<str>, u64)> =
            self.ttl.iter().filter(|(_, (at, _))| *at <= now).map(|(k, (_, v))| (k.clone(), *v)).collect();
        for (key, version) in expired {
            self.ttl.remove(&key);
            let current = self.members.me().keys().get(&key).map(|v| (v.version, v.tombstone));
            if current == Some((version, false)) {
                // A later write without TTL would have removed the entry; this one is still due.
                let _ = self.delete(now, &key);
            }
        }
    }

    fn forget_departed(&mut self, now: Instant) {
        let grace = self.config.dead_member_grace;
        let members = &self.members;
        self.watch.retain(|idx| members.get(*idx).is_some_and(|m| m.status != MemberStatus::Alive));
        self.watch.sort_unstable();
        self.watch.dedup();
        let gone: Vec<MemberIdx> = self
            .watch
            .iter()
            .copied()
            .filter(|idx| {
                *idx != SELF_IDX
                    && self.members.get(*idx).is_some_and(|m| {
                        matches!(m.status, MemberStatus::Dead | MemberStatus::Left) && now >= m.status_since() + grace
                    })
            })
            .collect();
        for idx in gone {
            if let Some(m) = self.members.remove(idx) {
                self.state_changed();
                self.rumors.forget_member(idx);
                self.recent.retain(|r| r.0 != idx);
                self.remember_forgotten(&m, now + grace);
                self.push_event(Event::MemberRemoved(crate::NodeId::clone(&m.id)));
            }
        }
        self.forgotten.retain(|_, f| f.until > now);
    }
}
