//! Peer selection: a shuffled round-robin over live members.
//!
//! Every member is chosen once per cycle before any is chosen again (the reference text: "each
//! time, spread to a node not yet sent to"), which spreads load evenly and bounds the time until
//! any given member is contacted. A round never picks the same peer twice.

use rand::Rng;
use rand::seq::SliceRandom;

use crate::config::PeerChoice;
use crate::state::{MemberIdx, MemberStatus, Members, SELF_IDX};

#[derive(Debug, Default)]
pub(crate) struct PeerSelector {
    order: Vec<MemberIdx>,
    pos: usize,
}

fn is_live(members: &Members, idx: MemberIdx) -> bool {
    idx != SELF_IDX && members.get(idx).is_some_and(|m| matches!(m.status, MemberStatus::Alive | MemberStatus::Suspect))
}

impl PeerSelector {
    /// Up to `fanout` distinct live members, picked as `choice` says.
    pub(crate) fn pick(
        &mut self,
        choice: PeerChoice,
        members: &Members,
        fanout: usize,
        rng: &mut impl Rng,
    ) -> Vec<MemberIdx> {
        match choice {
            PeerChoice::RoundRobin => self.select(members, fanout, rng),
            PeerChoice::Uniform => uniform(members, fanout, rng),
        }
    }

    /// Up to `fanout` distinct live members, in shuffled round-robin order.
    pub(crate) fn select(&mut self, members: &Members, fanout: usize, rng: &mut impl Rng) -> Vec<MemberIdx> {
        let mut chosen: Vec<MemberIdx> = Vec::with_capacity(fanout);
        let mut refilled = false;
        while chosen.len() < fanout {
            if self.pos >= self.order.len() {
                if refilled {
                    break; // fewer live members than fanout
                }
                // Refilled in place, sized exactly: one entry per member on every node.
                self.order.clear();
                self.order.reserve_exact(members.len());
                self.order.extend(members.iter().map(|(i, _)| i).filter(|i| is_live(members, *i)));
                self.order.shuffle(rng);
                self.pos = 0;
                refilled = true;
                if self.order.is_empty() {
                    break;
                }
            }
            let idx = self.order[self.pos];
            self.pos += 1;
            if is_live(members, idx) && !chosen.contains(&idx) {
                chosen.push(idx);
            }
        }
        chosen
    }
}

/// Up to `fanout` distinct live members, each drawn uniformly at random among the live members
/// not drawn yet, independently of earlier rounds.
fn uniform(members: &Members, fanout: usize, rng: &mut impl Rng) -> Vec<MemberIdx> {
    let mut chosen: Vec<MemberIdx> = Vec::with_capacity(fanout);
    let slots = members.slots();
    // Drawing slots until a live one comes up is uniform over live members and costs O(1) per
    // pick while most slots hold live members; past a few misses, draw from the full list.
    let mut misses = 0;
    while chosen.len() < fanout && misses < 8 * fanout + 8 && slots > 0 {
        let idx = rng.random_range(0..slots) as MemberIdx;
        if is_live(members, idx) && !chosen.contains(&idx) {
            chosen.push(idx);
        } else {
            misses += 1;
        }
    }
    if chosen.len() < fanout {
        let mut rest: Vec<MemberIdx> =
            members.iter().map(|(i, _)| i).filter(|i| is_live(members, *i) && !chosen.contains(i)).collect();
        while chosen.len() < fanout && !rest.is_empty() {
            chosen.push(rest.swap_remove(rng.random_range(0..rest.len())));
        }
    }
    chosen
}

/// One dead member at random among `candidates`, if any.
pub(crate) fn random_dead(members: &Members, candidates: &[MemberIdx], rng: &mut impl Rng) -> Option<MemberIdx> {
    let dead: Vec<MemberIdx> = candidates
        .iter()
        .copied()
        .filter(|i| members.get(*i).is_some_and(|m| m.status == MemberStatus::Dead))
        .collect();
    if dead.is_empty() { None } else { Some(dead[rng.random_range(0..dead.len())]) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NodeId;
    use crate::state::Member;
    use rand::SeedableRng;

    fn members(n: usize) -> Members {
        let addr = "127.0.0.1:1".parse().unwrap();
        let mut m = Members::new(Member::new(NodeId::new("me", 1, addr)), 1);
        for i in 0..n {
            m.insert(Member::new(NodeId::new(format!("n{i}"), 1, addr)));
        }
        m
    }

    #[test]
    fn every_live_member_is_chosen_once_per_cycle() {
        let members = members(10);
        let mut rng = rand_pcg::Pcg64::seed_from_u64(7);
        let mut selector = PeerSelector::default();
        let mut seen = Vec::new();
        for _ in 0..5 {
            let round = selector.select(&members, 2, &mut rng);
            assert_eq!(round.len(), 2);
            assert_ne!(round[0], round[1]);
            seen.extend(round);
        }
        seen.sort_unstable();
        assert_eq!(seen, (1..=10).collect::<Vec<_>>(), "one cycle covers each member exactly once");
    }

    #[test]
    fn uniform_choice_is_even_and_forgets_earlier_rounds() {
        let mut members = members(10);
        members.get_mut(4).unwrap().status = MemberStatus::Dead;
        let mut rng = rand_pcg::Pcg64::seed_from_u64(5);
        let mut selector = PeerSelector::default();
        let mut counts = [0u32; 11];
        let mut repeats = 0;
        let mut last = Vec::new();
        for _ in 0..9000 {
            let round = selector.pick(PeerChoice::Uniform, &members, 1, &mut rng);
            assert_eq!(round.len(), 1);
            repeats += u32::from(round == last);
            counts[round[0] as usize] += 1;
            last = round;
        }
        assert_eq!((counts[0], counts[4]), (0, 0), "never self, never dead");
        for (idx, count) in counts.iter().enumerate().filter(|(i, _)| ![0, 4].contains(i)) {
            assert!((900..1100).contains(count), "member {idx} drawn {count} times of 9000 (9 live)");
        }
        // With replacement, the same peer comes twice in a row about one round in nine; the
        // round-robin does so at most once per cycle.
        assert!((800..1200).contains(&repeats), "{repeats} immediate repeats");
        let mut round = selector.pick(PeerChoice::Uniform, &members, 20, &mut rng);
        round.sort_unstable();
        assert_eq!(round, vec![1, 2, 3, 5, 6, 7, 8, 9, 10], "fanout above the live count takes them all");
    }

    #[test]
    fn never_picks_self_dead_or_repeats_when_few_members() {
        let mut members = members(3);
        members.get_mut(2).unwrap().status = MemberStatus::Dead;
        let mut rng = rand_pcg::Pcg64::seed_from_u64(1);
        let mut selector = PeerSelector::default();
        for _ in 0..20 {
            let mut round = selector.select(&members, 5, &mut rng);
            round.sort_unstable();
            assert_eq!(round, vec![1, 3]);
        }
        assert_eq!(random_dead(&members, &[1, 2, 3], &mut rng), Some(2));
    }
}
