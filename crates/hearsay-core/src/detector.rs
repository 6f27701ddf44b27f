//! Phi: how surprising the silence of a member is, on the phi accrual scale (Hayashibara et al.
//! 2004, as Cassandra and Akka use it): `phi = -log10(P(a live member would be silent this
//! long))`. phi 8 means a one-in-10^8 chance that a live member would be this late.
//!
//! What counts as a sign of life. A phi fed by heartbeats learned through gossip measures the
//! gossip schedule, not the member: heartbeats reach a node only with anti-entropy exchanges
//! (every 25 rounds, one digest slice at a time), irregularly, and in a large cluster a given
//! pair of nodes talks directly only once every few hundred intervals. What does reach every
//! node about every member, promptly, is SWIM's verdict: every member is probed by someone
//! about once per probe interval, and a probe that fails (direct, second direct and indirect
//! pings unanswered) is pushed to everyone at once as a suspicion. So:
//!
//! * while a member is held alive here, the cluster vouches for it: it answered a probe about
//!   one probe interval ago at most, and its silence is zero (phi about 0.01 at the defaults);
//! * from the moment it is doubted here (suspect, or dead, without being seen alive since),
//!   its last sign of life is taken as one probe interval before that moment (the failed
//!   probe started then), or a later message from the member itself (an answer to a probe of
//!   ours, direct or relayed, or a ping it sent us), and the silence grows from there.
//!
//! The silence is compared with what a live member's answer to a probe takes: its mean round
//! trip, learned by this node's probes of it, with a deviation of `min_std_deviation` (round
//! trips learned from a handful of probes are too noisy to widen it). At
//! `Config::local()` (0.1 s interval, 0.05 s floor, round trips of a few ms) a doubted member
//! is at phi 1.7 when the suspicion arrives and crosses phi 8 about 0.16 s later, before
//! Lifeguard's suspicion timeout floor (0.2 s at N = 100) has run out; a live member wrongly
//! suspected falls back to zero as soon as it refutes or answers. A member learned dead from
//! others without being suspected here first is at the threshold at once: the nodes that
//! declared it held it suspect longer than the crossing takes. `acceptable_pause`,
//! `window` and `max_interval` no longer enter phi: a paused member is first suspected and
//! given Lifeguard's suspicion timeout to refute. Memory: two instants per member, whatever
//! the cluster size.
//!
//! The normal tail uses the logistic approximation of Akka's detector. Its inverse
//! ([`threshold_y`]) also gives the adaptive probe timeout: the round trip after which phi,
//! over a member's own round-trip history, would cross the threshold.
//!
//! Liveness decisions come from probes ([`crate::probe`]) and Lifeguard's suspicion timeouts
//! ([`crate::membership`]); phi is the figure operators read and alert on.

use std::time::Duration;

use crate::Instant;
use crate::config::{Config, DetectorConfig};
use crate::state::{Member, MemberStatus};

/// What this node knows of one member's signs of life: 16 bytes (every node holds one per
/// member).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Detector {
    /// Last message received from the member itself; zero if none.
    last_sign: Instant,
    /// When the member stopped being held alive here, in µs, with [`CONVICTED`] set if it
    /// was learned dead without being suspected here first; zero while it is held alive.
    doubted_at: u64,
}

/// Marks a member learned dead from others (a virtual or real clock never reaches 2^63 µs).
const CONVICTED: u64 = 1 << 63;

impl Detector {
    /// A message from the member itself arrived at `now`: it is alive now.
    pub(crate) fn sign_of_life(&mut self, now: Instant) {
        self.last_sign = self.last_sign.max(now);
    }

    /// The member's status here changed from `from` to `to` at `now`.
    pub(crate) fn status_changed(&mut self, from: MemberStatus, to: MemberStatus, now: Instant) {
        match (from, to) {
            // Held alive again (refuted), or gone on purpose: nothing to be surprised about.
            (_, MemberStatus::Alive | MemberStatus::Left) => self.doubted_at = 0,
            (MemberStatus::Alive | MemberStatus::Left, doubt) => {
                // Zero means "not doubted": a doubt at the driver's origin is kept as 1 µs.
                let at = now.as_micros().clamp(1, CONVICTED - 1);
                self.doubted_at = if doubt == MemberStatus::Dead { at | CONVICTED } else { at };
            }
            // Suspect to dead, dead to suspect: the silence goes on.
            _ => {}
        }
    }

    /// The silence of a doubted member: the time since its last sign of life, at the latest
    /// the start of the probe that failed (one probe interval before it was doubted here).
    fn silence(&self, now: Instant, probe_interval: Duration) -> Duration {
        let micros = u64::try_from(probe_interval.as_micros()).unwrap_or(u64::MAX);
        let failed_probe = Instant::from_micros((self.doubted_at & !CONVICTED).saturating_sub(micros));
        now.saturating_duration_since(failed_probe.max(self.last_sign))
    }

    /// Phi at `now`: how unlikely a live member's answer is to come this late, the answer time
    /// being normal with the member's mean round trip (`rtt_mean`, µs, learned by probes; 0
    /// before the first) and a deviation of `min_std_deviation`.
    pub(crate) fn phi(&self, now: Instant, config: &DetectorConfig, probe_interval: Duration, rtt_mean: f64) -> f64 {
        if self.doubted_at == 0 {
            return 0.0;
        }
        let elapsed = self.silence(now, probe_interval).as_micros() as f64;
        let std = (config.min_std_deviation.as_micros() as f64).max(1.0);
        let phi = phi(elapsed, rtt_mean.clamp(0.0, std), std);
        let convicted = self.doubted_at & CONVICTED != 0 && self.last_sign.as_micros() < self.doubted_at & !CONVICTED;
        if convicted { phi.max(config.phi_threshold) } else { phi }
    }
}

impl Member {
    /// This member's phi at `now` (see the module docs).
    pub(crate) fn phi(&self, now: Instant, config: &Config) -> f64 {
        let (mean, _) = self.cold().rtt.mean_std();
        self.detector.phi(now, &config.detector, config.probe.interval, mean)
    }
}

/// phi for an elapsed time given the interval mean and standard deviation (same unit).
pub(crate) fn phi(elapsed: f64, mean: f64, std: f64) -> f64 {
    let y = (elapsed - mean) / std;
    let e = (-y * (1.5976 + 0.070566 * y * y)).exp();
    let p_later = if elapsed > mean { e / (1.0 + e) } else { 1.0 - 1.0 / (1.0 + e) };
    if p_later <= 0.0 { f64::INFINITY } else { -p_later.log10() }
}

/// The standardized elapsed time `y` at which phi equals `threshold` (inverse of [`phi`]).
pub(crate) fn threshold_y(threshold: f64) -> f64 {
    // p = e/(1+e) = 10^-threshold  =>  y (1.5976 + 0.070566 y^2) = ln((1-p)/p)
    let p = 10f64.powf(-threshold);
    let target = ((1.0 - p) / p).ln();
    let mut y = 3.0f64;
    for _ in 0..50 {
        let f = y * (1.5976 + 0.070566 * y * y) - target;
        let df = 1.5976 + 3.0 * 0.070566 * y * y;
        y -= f / df;
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn phi_matches_hand_computed_figures() {
        // elapsed = mean: y = 0, e = 1, p = 1 - 1/2 = 0.5, phi = log10(2) = 0.30103
        assert!((phi(1000.0, 1000.0, 100.0) - std::f64::consts::LOG10_2).abs() < 1e-9);
        // y = 1: e = exp(-1.668166) = 0.188596, p = e/(1+e) = 0.158671, phi = 0.799503
        assert!((phi(1100.0, 1000.0, 100.0) - 0.799_5).abs() < 1e-3);
        // y = 3: e = exp(-(3*1.5976 + 0.070566*27)) = exp(-6.698082) = 0.0012319,
        // p = 0.0012304, phi = 2.90995
        assert!((phi(1300.0, 1000.0, 100.0) - 2.910).abs() < 1e-2);
        // far below the mean phi is ~0
        assert!(phi(0.0, 1000.0, 100.0) < 1e-6);
    }

    #[test]
    fn crossing_time_is_where_phi_reaches_the_threshold() {
        for threshold in [1.0, 5.0, 8.0, 12.0] {
            let y = threshold_y(threshold);
            assert!((phi(1000.0 + y * 100.0, 1000.0, 100.0) - threshold).abs() < 1e-6, "{threshold}");
        }
    }

    const INTERVAL: Duration = Duration::from_millis(100);

    fn phi_of(d: &Detector, now: Instant) -> f64 {
        d.phi(now, &Config::local().detector, INTERVAL, 2_000.0)
    }

    #[test]
    fn a_member_held_alive_has_phi_near_zero_however_long_it_was_silent() {
        assert_eq!(phi_of(&Detector::default(), Instant::from_millis(600_000)), 0.0);
    }

    #[test]
    fn a_member_learned_dead_from_others_is_at_the_threshold_until_it_shows_life() {
        let config = Config::local().detector;
        let mut d = Detector::default();
        let at = Instant::from_millis(5_000);
        d.status_changed(MemberStatus::Alive, MemberStatus::Dead, at);
        assert!(phi_of(&d, at) >= config.phi_threshold);
        d.sign_of_life(at + Duration::from_millis(1));
        assert!(phi_of(&d, at + Duration::from_millis(1)) < 0.5);
    }

    #[test]
    fn a_doubted_member_crosses_the_threshold_and_a_sign_of_life_brings_it_back() {
        let config = Config::local().detector;
        let mut d = Detector::default();
        let doubted = Instant::from_millis(10_000);
        d.status_changed(MemberStatus::Alive, MemberStatus::Suspect, doubted);
        // Silent since the failed probe began, one interval ago: overdue, not yet convicted.
        let at_doubt = phi_of(&d, doubted);
        assert!(at_doubt > 1.0 && at_doubt < 3.0, "{at_doubt}");
        // Crossing: round trip + y(8) deviations after the failed probe began.
        let crossing = 2_000.0 + threshold_y(config.phi_threshold) * config.min_std_deviation.as_micros() as f64
            - INTERVAL.as_micros() as f64;
        let before = doubted + Duration::from_micros(crossing as u64 - 10_000);
        let after = doubted + Duration::from_micros(crossing as u64 + 10_000);
        assert!(phi_of(&d, before) < config.phi_threshold);
        assert!(phi_of(&d, after) > config.phi_threshold);
        // Declared dead: the silence goes on.
        d.status_changed(MemberStatus::Suspect, MemberStatus::Dead, after);
        assert!(phi_of(&d, after) > config.phi_threshold);
        // It answers a probe: the silence starts again from that answer.
        d.sign_of_life(after);
        assert!(phi_of(&d, after) < 0.5);
        d.status_changed(MemberStatus::Dead, MemberStatus::Alive, after);
        assert!(phi_of(&d, after + Duration::from_secs(60)) < 0.05);
    }
}
