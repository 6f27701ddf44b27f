//! Rumor mongering (Demers et al. 1987): fresh updates are "hot" and pushed until they go cold.
//!
//! A rumor is a range of one owner's versions `(from, to]` that this node learned recently.
//! Each counted transmission brings it closer to cold: with feedback, only transmissions to a
//! peer that already knew it count; blind, every transmission counts. With the counter rule a
//! rumor goes cold after `k` counted transmissions (with `consecutive`, `k` in a row: a
//! transmission that was news resets the count); with the coin rule, with probability `1/k` at
//! each. A rumor extended by a newer update of the same owner is hot again.

use rand::Rng;

use crate::config::{RumorConfig, RumorStop};
use crate::state::MemberIdx;

/// Most hot rumors kept; beyond it the oldest are dropped (anti-entropy still repairs).
const MAX_HOT: usize = 4096;
/// Most pushes awaiting feedback.
const MAX_INFLIGHT: usize = 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rumor {
    pub(crate) member: MemberIdx,
    pub(crate) generation: u64,
    pub(crate) from: u64,
    pub(crate) to: u64,
    counted: u32,
    /// The round this node was in when it learned the newest versions of the rumor.
    pub(crate) learned_round: u64,
}

#[derive(Debug)]
struct Inflight {
    id: u32,
    rumors: Vec<(MemberIdx, u64, u64)>,
}

#[derive(Debug, Default)]
pub(crate) struct Rumors {
    hot: Vec<Rumor>,
    inflight: std::collections::VecDeque<Inflight>,
    /// Rumors dropped because too many were hot.
    pub(crate) overflowed: u64,
}

impl Rumors {
    pub(crate) fn hot(&self) -> &[Rumor] {
        &self.hot
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.hot.is_empty()
    }

    /// A new range of versions of `member` became known in round `round`: make (or keep) it
    /// hot.
    pub(crate) fn add(&mut self, member: MemberIdx, generation: u64, from: u64, to: u64, round: u64) {
        if let Some(r) = self.hot.iter_mut().find(|r| r.member == member) {
            if r.generation == generation {
                r.from = r.from.min(from);
                r.to = r.to.max(to);
            } else {
                *r = Rumor { member, generation, from, to, counted: 0, learned_round: round };
            }
            r.counted = 0;
            r.learned_round = round;
            return;
        }
        if self.hot.len() >= MAX_HOT {
            self.hot.remove(0);
            self.overflowed += 1;
        }
        self.hot.push(Rumor { member, generation, from, to, counted: 0, learned_round: round });
    }

    /// Whether versions of `member` up to `to` were learned in round `round` (and are hot).
    pub(crate) fn learned_in(&self, member: MemberIdx, generation: u64, to: u64, round: u64) -> bool {
        self.hot
            .iter()
            .any(|r| r.member == member && r.generation == generation && r.to >= to && r.learned_round == round)
    }

    /// A transmission of the rumor about `member` up to `to` was news to its recipient: with
    /// the consecutive counter, the count starts again.
    pub(crate) fn news(&mut self, member: MemberIdx, generation: u64, to: u64, config: &RumorConfig) {
        if !(config.consecutive && config.stop == RumorStop::Counter) {
            return;
        }
        if let Some(r) = self.hot.iter_mut().find(|r| r.member == member && r.generation == generation && r.to <= to) {
            r.counted = 0;
        }
    }

    /// Forget rumors about a removed or replaced member.
    pub(crate) fn forget_member(&mut self, member: MemberIdx) {
        self.hot.retain(|r| r.member != member);
    }

    /// Counts one transmission of the rumor about `member` up to `to` and cools it per `config`.
    pub(crate) fn count(
        &mut self,
        member: MemberIdx,
        generation: u64,
        to: u64,
        config: &RumorConfig,
        rng: &mut impl Rng,
    ) {
        let Some(pos) = self.hot.iter().position(|r| r.member == member && r.generation == generation && r.to <= to)
        else {
            return;
        };
        let rumor = &mut self.hot[pos];
        rumor.counted += 1;
        let cold = match config.stop {
            RumorStop::Counter => rumor.counted >= config.k,
            RumorStop::Coin => rng.random_bool(1.0 / f64::from(config.k)),
        };
        if cold {
            self.hot.remove(pos);
        }
    }

    /// Remembers what a push carried so its feedback can be matched.
    pub(crate) fn sent(&mut self, id: u32, rumors: Vec<(MemberIdx, u64, u64)>) {
        if self.inflight.len() >= MAX_INFLIGHT {
            self.inflight.pop_front();
        }
        self.inflight.push_back(Inflight { id, rumors });
    }

    /// The rumors carried by push `id` (consumed).
    pub(crate) fn take_inflight(&mut self, id: u32) -> Option<Vec<(MemberIdx, u64, u64)>> {
        let pos = self.inflight.iter().position(|f| f.id == id)?;
        self.inflight.remove(pos).map(|f| f.rumors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RumorFeedback;
    use rand::SeedableRng;

    #[test]
    fn counter_rule_cools_after_k_and_new_versions_reheat() {
        let config =
            RumorConfig { k: 2, feedback: RumorFeedback::Feedback, stop: RumorStop::Counter, consecutive: false };
        let mut rng = rand_pcg::Pcg64::seed_from_u64(3);
        let mut rumors = Rumors::default();
        rumors.add(4, 1, 0, 1, 0);
        rumors.count(4, 1, 1, &config, &mut rng);
        assert_eq!(rumors.hot().len(), 1);
        rumors.add(4, 1, 1, 2, 0); // a newer update of the same owner resets the counter
        rumors.count(4, 1, 2, &config, &mut rng);
        assert_eq!(rumors.hot().len(), 1);
        assert_eq!((rumors.hot()[0].from, rumors.hot()[0].to), (0, 2));
        rumors.count(4, 1, 2, &config, &mut rng);
        assert!(rumors.is_empty());
    }

    #[test]
    fn consecutive_counter_starts_again_after_news() {
        let mut config =
            RumorConfig { k: 2, feedback: RumorFeedback::Feedback, stop: RumorStop::Counter, consecutive: true };
        let mut rng = rand_pcg::Pcg64::seed_from_u64(3);
        let mut rumors = Rumors::default();
        rumors.add(4, 1, 0, 1, 7);
        assert!(rumors.learned_in(4, 1, 1, 7) && !rumors.learned_in(4, 1, 1, 8));
        rumors.count(4, 1, 1, &config, &mut rng);
        rumors.news(4, 1, 1, &config);
        rumors.count(4, 1, 1, &config, &mut rng);
        assert_eq!(rumors.hot().len(), 1, "one unnecessary transmission since the last useful one");
        rumors.count(4, 1, 1, &config, &mut rng);
        assert!(rumors.is_empty(), "two in a row");
        config.consecutive = false;
        rumors.add(4, 1, 0, 1, 9);
        rumors.count(4, 1, 1, &config, &mut rng);
        rumors.news(4, 1, 1, &config);
        rumors.count(4, 1, 1, &config, &mut rng);
        assert!(rumors.is_empty(), "without it, news changes nothing");
    }

    #[test]
    fn coin_rule_cools_with_probability_one_over_k() {
        let config = RumorConfig { k: 4, feedback: RumorFeedback::Blind, stop: RumorStop::Coin, consecutive: false };
        let mut rng = rand_pcg::Pcg64::seed_from_u64(9);
        let mut total = 0u32;
        for trial in 0..2000 {
            let mut rumors = Rumors::default();
            rumors.add(1, 1, 0, 1, 0);
            let mut sends = 0;
            while !rumors.is_empty() {
                rumors.count(1, 1, 1, &config, &mut rng);
                sends += 1;
            }
            total += sends;
            let _ = trial;
        }
        let mean = f64::from(total) / 2000.0;
        assert!((mean - 4.0).abs() < 0.3, "geometric mean {mean} should be close to k = 4");
    }
}
