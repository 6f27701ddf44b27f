//! Flow control (van Renesse et al. 2008, section 4): when deltas keep overflowing the MTU,
//! the update rate must come down, or replicas fall further behind every round.
//!
//! Each round the node checks whether any delta it built had to leave versions behind. If so
//! the advised local write rate is halved (multiplicative decrease); after a round without
//! overflow it grows by one write per round (additive increase). The advice and the backlog
//! are exported ([`crate::Node::write_rate`], [`crate::Node::backlog_bytes`]) so an
//! application or the agent can slow its writers down; the core does not refuse writes on its
//! own, since only the application knows which writes can wait.

/// Highest advised rate, in writes per gossip round.
const MAX_RATE: f64 = 1024.0;

#[derive(Debug, Clone)]
pub(crate) struct Flow {
    rate: f64,
    overflowed: bool,
    backlog_bytes: usize,
}

impl Default for Flow {
    fn default() -> Self {
        Flow { rate: MAX_RATE, overflowed: false, backlog_bytes: 0 }
    }
}

impl Flow {
    /// A delta left `missing` bytes behind.
    pub(crate) fn overflow(&mut self, missing: usize) {
        self.overflowed = true;
        self.backlog_bytes = self.backlog_bytes.max(missing);
    }

    /// Called once per round: AIMD on the advised rate.
    pub(crate) fn end_round(&mut self) {
        if self.overflowed {
            self.rate = (self.rate / 2.0).max(1.0);
        } else {
            self.rate = (self.rate + 1.0).min(MAX_RATE);
            self.backlog_bytes = 0;
        }
        self.overflowed = false;
    }

    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    pub(crate) fn backlog_bytes(&self) -> usize {
        self.backlog_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_halves_on_overflow_and_recovers_additively() {
        let mut f = Flow::default();
        f.overflow(5000);
        f.end_round();
        assert_eq!(f.rate(), 512.0);
        assert_eq!(f.backlog_bytes(), 5000);
        f.overflow(100);
        f.end_round();
        assert_eq!(f.rate(), 256.0);
        f.end_round();
        assert_eq!((f.rate(), f.backlog_bytes()), (257.0, 0));
    }
}
