//! Isolation: a node that hears from nobody learns that it is the one cut off.
//!
//! A node whose inbound traffic stops (a firewall dropping everything it receives, a broken
//! receive path) is declared dead by every other member within a suspicion timeout, yet in its
//! own view nothing changed: its failed probes raise its health score, so it soon stops
//! accusing anyone (rightly: it is the sick one), and every member stays alive in its view for
//! the whole cut. On a real network a host dropping all inbound traffic kept 4 of its 7 peers
//! alive in its own view.
//!
//! Every member is probed by someone about once per probe interval and probes one member per
//! interval, so a node that is part of a cluster of three or more hears something every
//! interval. A node that has other live members, keeps probing, and has decoded no message at
//! all for longer than `max(suspicion floor, 5 probe intervals)` is isolated: it emits
//! [`Event::Isolated`], counts it in
//! [`Stats::isolations`](crate::Stats::isolations), reports every alive member as suspect in
//! its own view (only there: nothing is broadcast, since it is the one cut off) and raises no
//! suspicion. The first message it decodes ends it ([`Event::Reconnected`]), and resets its
//! health score so it probes at the normal pace again.
//! A pause of the node itself is not silence from others: waking far later than asked resets
//! the clock. The price: a node all of whose peers crashed at once cannot tell that from being
//! cut off, and shows them suspect, not dead, until it hears from someone (with one peer left
//! the rule does not apply, and a crash is declared as always).

use std::time::Duration;

use crate::Instant;
use crate::event::Event;
use crate::node::Node;
use crate::state::{MemberStatus, SELF_IDX};

/// Fewest probe intervals of silence that make a node isolated.
const MIN_SILENT_INTERVALS: u32 = 5;

impl Node {
    /// Whether this node is isolated: it has heard from no member for longer than a
    /// suspicion lasts (see the module docs).
    pub fn is_isolated(&self) -> bool {
        self.isolated
    }

    /// How long a node with peers may hear nothing before it counts as isolated.
    pub(crate) fn isolation_after(&self) -> Duration {
        let p = &self.config.probe;
        let n = self.members.len().max(1) as f64;
        let floor = p.interval.mul_f64(f64::from(p.suspicion_mult) * n.log10().max(1.0));
        floor.max(p.interval * MIN_SILENT_INTERVALS)
    }

    /// A message decoded: this node is not cut off (any more).
    pub(crate) fn heard(&mut self, now: Instant) {
        self.last_heard = self.last_heard.max(now);
        if self.isolated {
            self.isolated = false;
            self.push_event(Event::Reconnected);
            // The failed probes that raised the health score were the cut's, which is over:
            // probe at once and at the normal pace again. Left stretched (up to nine probe
            // intervals), the node heard too little to stay out of isolation and flapped
            // between isolated and reconnected after the heal.
            self.prober.health = 0;
            self.prober.probe_now(now);
        }
    }

    /// Called on every tick: becomes isolated after a long silence from every peer.
    pub(crate) fn check_isolation(&mut self, now: Instant) {
        if self.isolated || self.left {
            return;
        }
        let peers = self
            .members
            .iter()
            .filter(|(i, m)| *i != SELF_IDX && matches!(m.status, MemberStatus::Alive | MemberStatus::Suspect))
            .count();
        // With one peer its crash and our isolation look the same; it is declared dead instead.
        if peers < 2 || now.saturating_duration_since(self.last_heard) < self.isolation_after() {
            return;
        }
        self.isolated = true;
        self.stats.isolations += 1;
        self.push_event(Event::Isolated);
    }
}
