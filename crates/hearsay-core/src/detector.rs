//! Phi accrual failure detection (Hayashibara et al. 2004), as Cassandra and Akka use it.
//!
//! For each member the detector learns the distribution of intervals between heartbeat
//! arrivals and answers "how surprised should I be that nothing arrived for `t`?" as
//! `phi = -log10(P(interval > t))`. phi 8 means a one-in-10^8 chance that a live member would be
//! this late.
//!
//! Safeguards: the mean and variance are exponentially weighted over about `window` recent
//! intervals (bounded memory: a few words per member, whatever the window); the standard
//! deviation has a floor (`min_std_deviation`) so a very regular member is not convicted by a
//! little jitter; recorded intervals are capped (`max_interval`) so one long silence does not
//! teach the detector to wait even longer; and an `acceptable_pause` is subtracted from the
//! elapsed time before phi is computed.
//!
//! The normal tail uses the logistic approximation of Akka's detector. Its inverse
//! ([`threshold_y`]) gives the adaptive probe timeout: the round trip after which phi, over a
//! member's own round-trip history, would cross the threshold.
//!
//! phi over heartbeat arrivals is exported per member as a figure for operators; liveness
//! decisions come from probes ([`crate::probe`]), which cost the same whatever the cluster size.

use std::time::Duration;

use crate::Instant;
use crate::config::DetectorConfig;

/// Arrival statistics of one member: 18 bytes, packed (every node holds one per member).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, packed(2))]
pub(crate) struct Detector {
    /// Meaningful once `samples > 0`.
    last_arrival: Instant,
    /// Mean interval, microseconds.
    mean: f32,
    /// Variance, microseconds squared.
    variance: f32,
    samples: u16,
}

impl Detector {
    /// Records a heartbeat arrival at `now`.
    ///
    /// `prior` seeds the statistics before the second arrival (the expected interval).
    pub(crate) fn arrival(&mut self, now: Instant, config: &DetectorConfig, prior: Duration) {
        match self.samples {
            0 => {
                let mean = prior.as_micros() as u64 as f32;
                self.mean = mean;
                self.variance = (mean / 4.0) * (mean / 4.0);
                self.samples = 1;
            }
            _ => {
                let last = self.last_arrival;
                let interval = now.saturating_duration_since(last).min(config.max_interval);
                let x = interval.as_micros() as u64 as f32;
                self.samples = self.samples.saturating_add(1);
                // Plain averaging until the window is full, then exponential weighting, so
                // early estimates are not dominated by the prior.
                let alpha = 1.0 / (u32::from(self.samples).min(config.window).max(2) as f32);
                let diff = x - self.mean;
                let incr = alpha * diff;
                self.mean += incr;
                self.variance = (1.0 - alpha) * (self.variance + diff * incr);
            }
        }
        self.last_arrival = now;
    }

    /// Mean and standard deviation in microseconds, with the deviation floor applied.
    fn stats(&self, config: &DetectorConfig) -> (f64, f64) {
        let floor = config.min_std_deviation.as_micros() as f64;
        let (mean, variance) = (self.mean, self.variance);
        (f64::from(mean), f64::from(variance.max(0.0)).sqrt().max(floor))
    }

    /// Phi at `now`; 0 before the first arrival.
    pub(crate) fn phi(&self, now: Instant, config: &DetectorConfig) -> f64 {
        if self.samples == 0 {
            return 0.0;
        }
        let last = self.last_arrival;
        let elapsed = now.saturating_duration_since(last).saturating_sub(config.acceptable_pause);
        let (mean, std) = self.stats(config);
        phi(elapsed.as_micros() as f64, mean, std)
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

    #[test]
    fn regular_heartbeats_keep_phi_low_and_silence_raises_it() {
        let config = Config::lan().detector;
        let mut d = Detector::default();
        let mut now = Instant::ZERO;
        for _ in 0..50 {
            d.arrival(now, &config, Duration::from_millis(200));
            now += Duration::from_millis(200);
        }
        assert!(d.phi(now, &config) < 1.0);
        assert!(d.phi(now + Duration::from_secs(5), &config) > config.phi_threshold);
    }

    #[test]
    fn intervals_are_capped_and_deviation_has_a_floor() {
        let config = Config::lan().detector;
        let mut d = Detector::default();
        d.arrival(Instant::ZERO, &config, Duration::from_millis(200));
        d.arrival(Instant::from_millis(60_000), &config, Duration::from_millis(200));
        let (mean, std) = d.stats(&config);
        assert!(mean <= config.max_interval.as_micros() as f64);
        assert!(std >= config.min_std_deviation.as_micros() as f64);
    }
}
