//! Forgotten members: refusing stale news of them, and reaching across a long partition.
//!
//! A dead or left member is forgotten `dead_member_grace` after its death, and news of its
//! generation is refused for one more grace period, so a stale copy of its state still held by
//! a slower node cannot bring it back. A partition longer than the grace makes each side forget
//! the other: after the heal, both sides would refuse each other for that second grace period
//! (52 s after a 70 s cut at `Config::local()`), and with every dead member forgotten nothing
//! but seeds would bridge them. Two rules make such a partition heal within a few rounds:
//!
//! * **Proof of life.** A member's heartbeat rises by one every round it runs and stops when it
//!   crashes. A block whose heartbeat is more than half a grace period's worth of rounds past
//!   the last heartbeat known here was written long after this node gave the member up: it
//!   comes from a member that lived on behind a partition, not from a stale copy, and is
//!   admitted. A crashed member's heartbeat never gets that far (every copy of it is at most
//!   the few rounds of its detection ahead of ours).
//! * **Reaching out.** The address of a forgotten member is remembered as long as its news is
//!   refused, and a round that finds no dead member to gossip with (`dead_peer_probability`)
//!   makes a full exchange with a forgotten one instead, as foca announces itself to down
//!   members. Across a healed cut that exchange carries each side's members with their proof of
//!   life; a member that is really gone costs one unanswered datagram now and then.

use std::net::SocketAddr;
use std::time::Duration;

use rand::Rng;

use crate::Instant;
use crate::node::Node;
use crate::state::Member;

/// What this node keeps of a member it forgot.
#[derive(Clone, Debug)]
pub(crate) struct Forgotten {
    /// The forgotten generation: news of it or of an older one is refused.
    pub(crate) generation: u64,
    /// Until when news of it is refused and its address is remembered.
    pub(crate) until: Instant,
    /// Its last known address.
    pub(crate) addr: SocketAddr,
    /// The last heartbeat known here when it was forgotten.
    pub(crate) heartbeat: u64,
}

/// Rounds of heartbeat past the last known one that prove a forgotten member ran on: half the
/// grace period's worth, at least one.
pub(crate) fn proof_of_life_rounds(grace: Duration, interval: Duration) -> u64 {
    let rounds = grace.as_nanos() / interval.as_nanos().max(1) / 2;
    u64::try_from(rounds).unwrap_or(u64::MAX).max(1)
}

impl Node {
    /// Remembers `member`, just removed, as forgotten until `until`.
    pub(crate) fn remember_forgotten(&mut self, member: &Member, until: Instant) {
        let entry = Forgotten {
            generation: member.id.generation,
            until,
            addr: member.id.addr,
            heartbeat: u64::from(member.heartbeat),
        };
        self.forgotten.insert(member.id.name.clone(), entry);
    }

    /// Whether news of `name` at `generation` is refused because this node forgot that
    /// generation. `heartbeat` is the member's heartbeat when the news is its own block (see
    /// the module docs for why a high enough one is admitted).
    pub(crate) fn refuses_forgotten(&self, name: &str, generation: u64, heartbeat: Option<u64>) -> bool {
        let Some(f) = self.forgotten.get(name) else { return false };
        if generation > f.generation {
            return false;
        }
        let proof = proof_of_life_rounds(self.config.dead_member_grace, self.config.gossip_interval);
        let alive_since =
            generation == f.generation && heartbeat.is_some_and(|hb| hb > f.heartbeat.saturating_add(proof));
        !alive_since
    }

    /// The address of one forgotten member at random, if any.
    pub(crate) fn random_forgotten_addr(&mut self) -> Option<SocketAddr> {
        if self.forgotten.is_empty() {
            return None;
        }
        let pick = self.rng.random_range(0..self.forgotten.len());
        self.forgotten.values().nth(pick).map(|f| f.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_of_life_is_half_the_grace_in_rounds() {
        assert_eq!(proof_of_life_rounds(Duration::from_secs(60), Duration::from_millis(100)), 300);
        assert_eq!(proof_of_life_rounds(Duration::from_millis(10), Duration::from_secs(1)), 1);
        assert_eq!(proof_of_life_rounds(Duration::from_secs(1), Duration::ZERO), 500_000_000);
    }
}
