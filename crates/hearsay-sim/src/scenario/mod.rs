//! Scenarios: what happens in a run and what is measured.
//!
//! * [`spread`]: a formed cluster, one write, how fast and how expensively it reaches everyone.
//! * [`join`]: every node starts knowing only a seed; rounds until everyone knows everyone.
//! * [`faults`]: `partition-heal` and `churn`, with the checkers running every round and the
//!   rounds needed to re-converge once the faults stop.
//! * [`liveness`]: `detect` and `false-positives`; [`pause`]: one node paused, then resumed.
//!
//! This module owns the parameters shared by all scenarios and the dispatch of one run; the
//! aggregation over runs lives in [`crate::report`].

pub mod faults;
pub mod join;
pub mod liveness;
pub mod pause;
pub mod restart;
pub mod spread;

use std::fmt;
use std::str::FromStr;

use hearsay_core::{Config, ExchangeMode, PeerChoice, RumorConfig, RumorFeedback, RumorStop, Strategy};
use serde::Serialize;

use crate::check::Violation;
use crate::net::Latency;
use crate::sim::SimError;

/// Which scenario to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScenarioKind {
    /// One write spreads through a formed cluster.
    Spread,
    /// Nodes discover each other from one seed.
    Join,
    /// The cluster is cut in two, written on both sides, then healed.
    PartitionHeal,
    /// Crashes, restarts, joins, leaves, pauses and a hostile network, then calm.
    Churn,
    /// One node crashes in a formed cluster: time until every live node declares it dead.
    Detect,
    /// Only live nodes for `max_rounds` rounds (with loss and optional pauses): deaths and
    /// suspicions declared about them.
    FalsePositives,
    /// Every node restarts in turn with a new generation: time until each is alive again on
    /// every member, and suspicions and deaths on the way.
    RollingRestart,
    /// One node stops processing for `pause_secs`, then resumes: suspicions and deaths of it.
    Pause,
}

impl ScenarioKind {
    /// Every scenario.
    pub const ALL: [ScenarioKind; 8] = [
        ScenarioKind::Spread,
        ScenarioKind::Join,
        ScenarioKind::PartitionHeal,
        ScenarioKind::Churn,
        ScenarioKind::Detect,
        ScenarioKind::FalsePositives,
        ScenarioKind::RollingRestart,
        ScenarioKind::Pause,
    ];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            ScenarioKind::Spread => "spread",
            ScenarioKind::Join => "join",
            ScenarioKind::PartitionHeal => "partition-heal",
            ScenarioKind::Churn => "churn",
            ScenarioKind::Detect => "detect",
            ScenarioKind::FalsePositives => "false-positives",
            ScenarioKind::RollingRestart => "rolling-restart",
            ScenarioKind::Pause => "pause",
        }
    }
}

impl FromStr for ScenarioKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ScenarioKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            format!(
                "unknown scenario `{s}` (spread, join, partition-heal, churn, detect, false-positives, rolling-restart, pause)"
            )
        })
    }
}

impl fmt::Display for ScenarioKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything that defines a batch of runs. The CLI flags map one to one onto these fields.
#[derive(Clone, Debug)]
pub struct Params {
    /// Nodes at the start.
    pub nodes: usize,
    /// Exchange mode.
    pub exchange: ExchangeMode,
    /// Dissemination strategy.
    pub strategy: Strategy,
    /// Peers per round.
    pub fanout: usize,
    /// Rumor mongering variant.
    pub rumor: RumorConfig,
    /// Datagram loss probability.
    pub loss: f64,
    /// One-way latency.
    pub latency: Latency,
    /// Scenario.
    pub scenario: ScenarioKind,
    /// Number of runs; run `r` uses seed `seed + r`.
    pub runs: usize,
    /// Seed of run 0.
    pub seed: u64,
    /// Give up on a run after this many rounds of measurement.
    pub max_rounds: u64,
    /// Largest datagram, if not `Config::local()`'s (a larger MTU lets one digest cover more
    /// owners: the knob that shows what digest slicing costs).
    pub mtu: Option<usize>,
    /// Log every packet this slot receives into [`RunReport::trace`] (debugging a replay).
    pub trace_node: Option<usize>,
    /// Run the textbook model (Demers et al. 1987): only the configured exchange mode and
    /// strategy (no checksum repairs started by probes, no rumor forwarded before the next
    /// round), peers drawn uniformly at random each round, every node's rounds in lockstep
    /// (synchronous cycles), and pulls for rumors answered with every hot rumor (see
    /// `Config::informed_pull`). A spread run writes half an interval before a round, so the
    /// round in which a node learns the update is its cycle number.
    pub textbook: bool,
    /// Gossip and probe interval in milliseconds, if not `Config::local()`'s 100 ms; the
    /// probe timeout floor and the detector scale with it.
    pub interval_ms: Option<u64>,
    /// `false-positives`: pause one random node this long every `pause_every_secs` (0: no
    /// pauses).
    pub pause_secs: f64,
    /// `false-positives`: virtual seconds between two pauses (180: 1,800 rounds of 100 ms).
    pub pause_every_secs: f64,
    /// `partition-heal`: virtual seconds the cut lasts, if not [`faults::PARTITION_ROUNDS`]
    /// rounds.
    pub partition_secs: Option<f64>,
    /// `probe.suspicion_mult`, if not `Config::local()`'s.
    pub suspicion_mult: Option<u32>,
    /// `probe.suspicion_max_mult`, if not `Config::local()`'s.
    pub suspicion_max_mult: Option<u32>,
    /// `dead_member_grace` in seconds, if not `Config::local()`'s 60.
    pub dead_member_grace_secs: Option<f64>,
    /// Start from this preset as it ships (its exchange, strategy, fanout and rumor settings
    /// included) instead of `Config::local()` with the fields above.
    pub preset: Option<Preset>,
    /// `probe.interval` in milliseconds, after `interval_ms` (the probe timeout floor is
    /// kept within half of it).
    pub probe_interval_ms: Option<u64>,
    /// `probe.suspicion_min` in milliseconds.
    pub suspicion_min_ms: Option<u64>,
    /// `probe.successor_every`.
    pub successor_every: Option<u32>,
}

/// A named [`Config`] preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// [`Config::lan`].
    Lan,
    /// [`Config::wan`].
    Wan,
    /// [`Config::local`].
    Local,
}

impl Preset {
    /// The configuration.
    pub fn config(self) -> Config {
        match self {
            Preset::Lan => Config::lan(),
            Preset::Wan => Config::wan(),
            Preset::Local => Config::local(),
        }
    }

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Lan => "lan",
            Preset::Wan => "wan",
            Preset::Local => "local",
        }
    }
}

impl Default for Params {
    fn default() -> Self {
        Params {
            nodes: 100,
            exchange: ExchangeMode::PushPull,
            strategy: Strategy::AntiEntropy,
            fanout: 1,
            rumor: RumorConfig {
                k: 3,
                feedback: RumorFeedback::Feedback,
                stop: RumorStop::Counter,
                consecutive: false,
            },
            loss: 0.0,
            latency: Latency::Fixed(1_000),
            scenario: ScenarioKind::Spread,
            runs: 1,
            seed: 1,
            max_rounds: 1_000,
            mtu: None,
            trace_node: None,
            textbook: false,
            interval_ms: None,
            pause_secs: 0.0,
            pause_every_secs: 180.0,
            partition_secs: None,
            suspicion_mult: None,
            suspicion_max_mult: None,
            dead_member_grace_secs: None,
            preset: None,
            probe_interval_ms: None,
            suspicion_min_ms: None,
            successor_every: None,
        }
    }
}

impl Params {
    /// The node configuration: `Config::local()` with the chosen exchange, strategy, fanout and
    /// rumor settings, or the chosen preset as it ships; then the overrides.
    pub fn node_config(&self) -> Config {
        let mut config = match self.preset {
            Some(preset) => preset.config(),
            None => {
                let mut config = Config::local();
                config.exchange = self.exchange;
                config.strategy = self.strategy;
                config.fanout = self.fanout;
                config.rumor = self.rumor;
                config
            }
        };
        if self.textbook {
            config.checksum_repair = false;
            config.eager_rumors = false;
            config.peer_choice = PeerChoice::Uniform;
            config.lockstep_rounds = true;
            config.informed_pull = false;
            config.rumor.consecutive = true;
        }
        if let Some(ms) = self.interval_ms {
            let interval = std::time::Duration::from_millis(ms.max(1));
            config.gossip_interval = interval;
            config.probe.interval = interval;
            config.probe.min_timeout = interval * 2 / 5;
            config.detector.min_std_deviation = interval / 2;
            config.detector.max_interval = interval * 10;
            config.detector.acceptable_pause = interval * 2;
            config.detector.suspicion_timeout = interval * 100;
        }
        if let Some(mult) = self.suspicion_mult {
            config.probe.suspicion_mult = mult;
        }
        if let Some(mult) = self.suspicion_max_mult {
            config.probe.suspicion_max_mult = mult;
        }
        if let Some(secs) = self.dead_member_grace_secs {
            config.dead_member_grace = std::time::Duration::from_secs_f64(secs.max(0.0));
        }
        if let Some(ms) = self.probe_interval_ms {
            config.probe.interval = std::time::Duration::from_millis(ms.max(2));
            config.probe.min_timeout = config.probe.min_timeout.min(config.probe.interval / 2);
        }
        if let Some(ms) = self.suspicion_min_ms {
            config.probe.suspicion_min = std::time::Duration::from_millis(ms);
        }
        if let Some(every) = self.successor_every {
            config.probe.successor_every = every;
        }
        if let Some(mtu) = self.mtu {
            config.mtu = mtu;
        }
        config
    }

    /// The seed of run `run`.
    pub fn run_seed(&self, run: usize) -> u64 {
        self.seed.wrapping_add(run as u64)
    }

    fn extra_flags(&self) -> String {
        let mut flags = String::new();
        if let Some(preset) = self.preset {
            flags.push_str(&format!(" --preset {}", preset.name()));
        }
        if self.textbook {
            flags.push_str(" --textbook");
        } else if self.rumor.consecutive && self.preset.is_none() {
            flags.push_str(" --rumor-consecutive");
        }
        if let Some(ms) = self.interval_ms {
            flags.push_str(&format!(" --interval-ms {ms}"));
        }
        if self.scenario == ScenarioKind::Pause {
            flags.push_str(&format!(" --pause-secs {}", self.pause_secs));
        } else if self.pause_secs > 0.0 {
            flags.push_str(&format!(" --pause-secs {} --pause-every-secs {}", self.pause_secs, self.pause_every_secs));
        }
        if let Some(secs) = self.partition_secs {
            flags.push_str(&format!(" --partition-secs {secs}"));
        }
        if let Some(mult) = self.suspicion_mult {
            flags.push_str(&format!(" --suspicion-mult {mult}"));
        }
        if let Some(mult) = self.suspicion_max_mult {
            flags.push_str(&format!(" --suspicion-max-mult {mult}"));
        }
        if let Some(secs) = self.dead_member_grace_secs {
            flags.push_str(&format!(" --dead-member-grace-secs {secs}"));
        }
        if let Some(ms) = self.probe_interval_ms {
            flags.push_str(&format!(" --probe-interval-ms {ms}"));
        }
        if let Some(ms) = self.suspicion_min_ms {
            flags.push_str(&format!(" --suspicion-min-ms {ms}"));
        }
        if let Some(every) = self.successor_every {
            flags.push_str(&format!(" --successor-every {every}"));
        }
        flags
    }

    /// The command that replays run `run` alone.
    pub fn replay_command(&self, run: usize) -> String {
        let latency = match self.latency {
            Latency::Fixed(us) => format!("{}", us as f64 / 1000.0),
            Latency::Uniform(lo, hi) => format!("{}..{}", lo as f64 / 1000.0, hi as f64 / 1000.0),
        };
        format!(
            "hearsay sim --scenario {} --nodes {} --exchange {} --strategy {} --fanout {} --rumor-k {} \
             --rumor-feedback {} --rumor-stop {} --loss {} --latency-ms {} --max-rounds {}{}{} --runs 1 --seed {}",
            self.scenario,
            self.nodes,
            self.exchange.as_str(),
            self.strategy.as_str(),
            self.fanout,
            self.rumor.k,
            match self.rumor.feedback {
                RumorFeedback::Feedback => "feedback",
                RumorFeedback::Blind => "blind",
            },
            match self.rumor.stop {
                RumorStop::Counter => "counter",
                RumorStop::Coin => "coin",
            },
            self.loss,
            latency,
            self.max_rounds,
            self.mtu.map_or(String::new(), |m| format!(" --mtu {m}")),
            self.extra_flags(),
            self.run_seed(run)
        )
    }
}

/// What one run measured. Every field is a pure function of the parameters and the run seed.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RunReport {
    /// Run index.
    pub run: usize,
    /// Seed of this run.
    pub seed: u64,
    /// Spread: rounds until every live node held the update. Join: rounds until everyone knew
    /// everyone. Faults: rounds after the faults stopped until convergence. `None`: never.
    pub rounds_to_all: Option<u64>,
    /// Mean round at which a node first held the update (nodes that got it, writer excluded).
    pub t_avg: f64,
    /// Round at which the last informed node got it.
    pub t_last: f64,
    /// Fraction of live nodes without the update when the run ended.
    pub residue: f64,
    /// Messages sent per node over the measurement window (SWIM probes included).
    pub messages_per_node: f64,
    /// Of those, gossip exchange messages (Syn, SynAck, Ack, Push, PushAck).
    pub gossip_messages_per_node: f64,
    /// Transmits per node that carried the update's value.
    pub updates_sent_per_node: f64,
    /// Payload bytes sent per node over the measurement window.
    pub bytes_per_node: f64,
    /// Informed fraction at the end of each round (round 0: the write).
    pub informed: Vec<f64>,
    /// Broken invariants (empty for a passing run).
    pub violations: Vec<Violation>,
    /// Times a node asked to be woken at the instant it had just been woken at (a core bug
    /// the engine works around; see [`crate::TIMER_SPIN_DELAY_US`]).
    pub timer_spins: u64,
    /// Transient stale views below `max_version` (see [`crate::check::Checker::anomalies`]).
    pub anomalies: u64,
    /// The first few of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anomaly_examples: Vec<Violation>,
    /// Detect and false-positives: deaths declared about live nodes.
    pub false_deaths: u64,
    /// Detect and false-positives: suspicions declared about live nodes.
    pub suspicions: u64,
    /// Detect and false-positives: live nodes times virtual hours observed.
    pub node_hours: f64,
    /// Detect and false-positives: phi of members that are up, as up to [`liveness::PHI_OBSERVERS`]
    /// nodes see them, sampled every round: median, 99th percentile and maximum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phi_alive: Option<PhiFigures>,
    /// Detect: intervals from the crash until every live node's phi of the crashed node had
    /// reached the threshold (`None`: not all of them by the time the last node declared it
    /// dead).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phi_crossing: Option<f64>,
    /// Packets received by `Params::trace_node`, one line each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trace: Vec<String>,
}

/// Phi figures of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct PhiFigures {
    /// Median.
    pub p50: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Maximum (infinite is reported as `null` in JSON).
    pub max: f64,
    /// Samples.
    pub samples: usize,
}

/// Why a run could not be carried out at all (as opposed to a run that found a violation).
pub type RunError = SimError;

/// Runs scenario `params.scenario` once with the seed of run `run`.
pub fn run_one(params: &Params, run: usize) -> Result<RunReport, RunError> {
    let mut report = match params.scenario {
        ScenarioKind::Spread => spread::run(params, params.run_seed(run))?,
        ScenarioKind::Join => join::run(params, params.run_seed(run))?,
        ScenarioKind::PartitionHeal => faults::partition_heal(params, params.run_seed(run))?,
        ScenarioKind::Churn => faults::churn(params, params.run_seed(run))?,
        ScenarioKind::Detect => liveness::detect(params, params.run_seed(run))?,
        ScenarioKind::RollingRestart => restart::run(params, params.run_seed(run))?,
        ScenarioKind::FalsePositives => liveness::false_positives(params, params.run_seed(run))?,
        ScenarioKind::Pause => pause::run(params, params.run_seed(run))?,
    };
    report.run = run;
    report.seed = params.run_seed(run);
    Ok(report)
}

/// Rounds, rounded up, from `since` to `at` (µs) with rounds of `interval` µs.
pub(crate) fn rounds_between(since: u64, at: u64, interval: u64) -> u64 {
    at.saturating_sub(since).div_ceil(interval.max(1))
}
