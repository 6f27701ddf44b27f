//! What a replay needs of a run, per round, in bounded memory: message counts and a sample of
//! message edges.
//!
//! The engine feeds every transmit to a [`Recorder`] when one is installed
//! ([`crate::Sim::record_messages`]). Rounds are counted from the recorder's start as the
//! scenarios count them (`ceil((t - start) / interval)`). Only edges between the first
//! `max_nodes` slots are kept (the nodes a replay draws), at most `max_edges` per round, chosen
//! by reservoir sampling with a hash of the message's rank, so the sample is uniform over the
//! round and the run stays a pure function of its seed (the network's RNG is not touched).

use serde::Serialize;

use crate::sim::mix;

/// One message of a round, between two drawn nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Edge {
    /// Sender slot.
    pub from: u32,
    /// Receiver slot.
    pub to: u32,
    /// It carried the watched update's value.
    pub carried: bool,
}

/// One round of a recording.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RoundRecord {
    /// Messages sent in the round (all slots, SWIM probes included).
    pub messages: u64,
    /// Of those, messages that carried the watched update's value.
    pub carriers: u64,
    /// A uniform sample of the round's messages between drawn nodes.
    pub edges: Vec<Edge>,
    /// Messages between drawn nodes seen in the round (the sample's population).
    #[serde(skip)]
    seen: u64,
}

/// Collects [`RoundRecord`]s.
#[derive(Clone, Debug)]
pub struct Recorder {
    start: u64,
    interval: u64,
    max_nodes: usize,
    max_edges: usize,
    max_rounds: usize,
    /// Round 0 is the instant of the start; round `r` ends `r` intervals after it.
    pub rounds: Vec<RoundRecord>,
}

impl Recorder {
    /// Records from `start` (µs) in rounds of `interval` µs, at most `max_rounds` rounds, edges
    /// between the first `max_nodes` slots, at most `max_edges` per round.
    pub fn new(start: u64, interval: u64, max_nodes: usize, max_edges: usize, max_rounds: usize) -> Recorder {
        Recorder { start, interval: interval.max(1), max_nodes, max_edges, max_rounds, rounds: Vec::new() }
    }

    /// A transmit from `from` to `to` at `now`.
    pub(crate) fn message(&mut self, now: u64, from: usize, to: Option<usize>, carried: bool) {
        let round = crate::scenario::rounds_between(self.start, now, self.interval) as usize;
        if round > self.max_rounds {
            return;
        }
        if self.rounds.len() <= round {
            self.rounds.resize_with(round + 1, RoundRecord::default);
        }
        let r = &mut self.rounds[round];
        r.messages += 1;
        r.carriers += u64::from(carried);
        let Some(to) = to.filter(|to| *to < self.max_nodes && from < self.max_nodes) else { return };
        let edge = Edge { from: from as u32, to: to as u32, carried };
        r.seen += 1;
        if r.edges.len() < self.max_edges {
            r.edges.push(edge);
        } else {
            let j = (mix(r.seen ^ (round as u64) << 40) % r.seen) as usize;
            if j < self.max_edges {
                r.edges[j] = edge;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_capped_per_round_and_counts_are_not() {
        let mut r = Recorder::new(1_000, 100, 10, 5, 50);
        for i in 0..1_000u64 {
            r.message(1_050, (i % 20) as usize, Some(((i + 1) % 20) as usize), i % 3 == 0);
        }
        r.message(1_000, 0, Some(1), false);
        assert_eq!(r.rounds.len(), 2);
        assert_eq!((r.rounds[0].messages, r.rounds[1].messages, r.rounds[1].carriers), (1, 1_000, 334));
        assert_eq!(r.rounds[1].edges.len(), 5);
        assert!(r.rounds[1].edges.iter().all(|e| e.from < 10 && e.to < 10));
        r.message(1_000 + 100 * 51, 0, Some(1), false);
        assert_eq!(r.rounds.len(), 2, "rounds beyond the cap are not recorded");
    }
}
