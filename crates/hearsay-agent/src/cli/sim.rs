//! `hearsay sim`: the deterministic simulator (a thin layer over `hearsay_sim`).
//!
//! Parses flags into [`hearsay_sim::scenario::Params`], runs the batch (or the whole sweep with
//! `hearsay sim sweep`), shows a progress bar on stderr, prints a table or `--json`, and with
//! `--out DIR` writes `report.json`, SVG charts and `replay.html` (the run animated round by
//! round; for a sweep, push, pull and push-pull side by side). Exit status: 0 when every invariant held,
//! 1 when a run broke one (each failure is printed with the command that replays it), 2 on bad
//! input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use hearsay_core::{ExchangeMode, RumorConfig, RumorFeedback, RumorStop, Strategy};
use hearsay_sim::net::Latency;
use hearsay_sim::report::{Report, run_many};
use hearsay_sim::scenario::{Params, Preset, ScenarioKind};
use hearsay_sim::sweep::{self, SweepParams, SweepReport};
use hearsay_sim::{chart, replay};
use indicatif::{ProgressBar, ProgressStyle};

/// Exchange mode flag values.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum ExchangeArg {
    /// A sends B entries with values.
    Push,
    /// A sends a digest, B answers with what A lacks.
    Pull,
    /// Pull, then A sends what B lacks.
    PushPull,
}

/// Strategy flag values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum StrategyArg {
    /// Reconcile everything every round.
    AntiEntropy,
    /// Only hot rumors travel.
    Rumor,
    /// Rumors plus periodic anti-entropy.
    Hybrid,
    /// Epidemic broadcast trees plus periodic anti-entropy.
    Plumtree,
}

impl From<StrategyArg> for Strategy {
    fn from(arg: StrategyArg) -> Strategy {
        match arg {
            StrategyArg::AntiEntropy => Strategy::AntiEntropy,
            StrategyArg::Rumor => Strategy::Rumor,
            StrategyArg::Hybrid => Strategy::Hybrid,
            StrategyArg::Plumtree => Strategy::Plumtree,
        }
    }
}

/// Rumor feedback flag values.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum FeedbackArg {
    /// Count only transmissions to peers that already knew.
    Feedback,
    /// Count every transmission.
    Blind,
}

/// Rumor stop flag values.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum StopArg {
    /// Cold after k counted transmissions.
    Counter,
    /// Cold with probability 1/k per counted transmission.
    Coin,
}

/// Scenario flag values.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum ScenarioArg {
    /// One write spreads through a formed cluster.
    Spread,
    /// Nodes discover each other from one seed.
    Join,
    /// Two halves, written on both sides, then healed.
    PartitionHeal,
    /// Crashes, restarts, joins, leaves, pauses, a hostile network; then calm.
    Churn,
    /// One node crashes: time until every live node declares it dead.
    Detect,
    /// Only live nodes for --max-rounds rounds: false deaths and suspicions per node-hour.
    FalsePositives,
    /// Every node restarts in turn with a new generation: time until it is alive again everywhere.
    RollingRestart,
    /// One node stops for --pause-secs, then resumes: suspicions and deaths declared of it.
    Pause,
}

/// Preset flag values.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum PresetArg {
    /// Config::lan().
    Lan,
    /// Config::wan().
    Wan,
    /// Config::local().
    Local,
}

/// What to run.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Action {
    /// push/pull/push-pull x anti-entropy/rumor/hybrid x fanout 1,3 x N 100,1000,10000.
    Sweep,
    /// RMR, LDH, delivery and duplicates of every strategy: one sender at --nodes, with 2 %
    /// loss and with 10 % crashed, and every node sending at --all-senders-nodes.
    Broadcast,
    /// Staleness of replicas under overload, the MTU lowered mid-run, with flow control and
    /// without (the --flow-* flags; see docs/flow-control.md).
    Flow,
    /// Every rumor mongering variant of Demers et al. 1987 (push/pull x feedback/blind x
    /// counter/coin, k = 1..5) in the textbook setup, next to the paper's tables.
    Textbook,
}

/// Arguments of `hearsay sim`.
#[derive(clap::Args, Debug)]
pub(crate) struct SimArgs {
    /// `sweep` runs the whole comparison instead of one configuration.
    #[arg(value_enum)]
    pub action: Option<Action>,
    /// Nodes in the cluster.
    #[arg(long, default_value_t = 100)]
    pub nodes: usize,
    /// Exchange mode.
    #[arg(long, value_enum, default_value = "push-pull")]
    pub exchange: ExchangeArg,
    /// Dissemination strategy.
    #[arg(long, value_enum, default_value = "anti-entropy")]
    pub strategy: StrategyArg,
    /// Peers contacted per round.
    #[arg(long, default_value_t = 1)]
    pub fanout: usize,
    /// Rumor mongering k.
    #[arg(long, default_value_t = 3)]
    pub rumor_k: u32,
    /// Rumor feedback.
    #[arg(long, value_enum, default_value = "feedback")]
    pub rumor_feedback: FeedbackArg,
    /// Rumor stop rule.
    #[arg(long, value_enum, default_value = "counter")]
    pub rumor_stop: StopArg,
    /// Feedback counter: count unnecessary transmissions in a row only (a useful one resets
    /// the count), as Demers et al.'s counter does; always on with --textbook.
    #[arg(long)]
    pub rumor_consecutive: bool,
    /// Datagram loss probability, 0..=1.
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// One-way latency in milliseconds: `A` or a uniform range `A..B`.
    #[arg(long, default_value = "1")]
    pub latency_ms: String,
    /// Scenario.
    #[arg(long, value_enum, default_value = "spread")]
    pub scenario: ScenarioArg,
    /// Runs; run r uses seed S + r.
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
    /// Seed of run 0.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Give up on a run after this many rounds.
    #[arg(long, default_value_t = 1000)]
    pub max_rounds: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// `broadcast`: nodes of the run where every node sends.
    #[arg(long, default_value_t = 2000)]
    pub all_senders_nodes: usize,
    /// `textbook`: exchange modes to run (comma-separated; default push,pull).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub textbook_exchange: Vec<ExchangeArg>,
    /// `broadcast`: strategies to compare (comma-separated; default all four).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub compare: Vec<StrategyArg>,
    /// Write report.json, SVG charts and replay.html (spread: the run animated) into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Sweep: cluster sizes.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
    pub sweep_nodes: Vec<usize>,
    /// Sweep: skip sizes whose full membership is estimated to need more GiB than this.
    #[arg(long, default_value_t = 8.0)]
    pub max_memory_gib: f64,
    /// Largest datagram in bytes (default: Config::local()'s 1400).
    #[arg(long)]
    pub mtu: Option<usize>,
    /// Print every packet this slot receives, run by run (debugging a replay).
    #[arg(long)]
    pub trace_node: Option<usize>,
    /// The textbook model (Demers et al. 1987): only the configured exchange and strategy (no
    /// probe-triggered checksum repairs, no rumor forwarded before the next round), peers drawn
    /// uniformly at random, rounds in lockstep, pulls answered with every hot rumor.
    #[arg(long)]
    pub textbook: bool,
    /// Gossip and probe interval in milliseconds (default: Config::local()'s 100); probe
    /// timeouts and the detector scale with it.
    #[arg(long)]
    pub interval_ms: Option<u64>,
    /// false-positives: pause one random node this many seconds every --pause-every-secs;
    /// pause: how long the node is paused.
    #[arg(long, default_value_t = 0.0)]
    pub pause_secs: f64,
    /// false-positives: virtual seconds between two pauses (180 is 1,800 rounds of 100 ms).
    #[arg(long, default_value_t = 180.0)]
    pub pause_every_secs: f64,
    /// partition-heal: virtual seconds the cut lasts (default: 30 rounds).
    #[arg(long)]
    pub partition_secs: Option<f64>,
    /// Suspicion timeout floor in probe intervals per log10 N (default: Config::local()'s 1).
    #[arg(long)]
    pub suspicion_mult: Option<u32>,
    /// Suspicion timeout ceiling as a multiple of the floor (default: Config::local()'s 6).
    #[arg(long)]
    pub suspicion_max_mult: Option<u32>,
    /// Seconds dead members are kept before they are forgotten (default: Config::local()'s 60).
    #[arg(long)]
    pub dead_member_grace_secs: Option<f64>,
    /// Start from this preset as it ships, its exchange, strategy, fanout and rumor settings
    /// included (--exchange, --strategy, --fanout and --rumor-* are then not used); the other
    /// overrides still apply. Default: Config::local() with those flags.
    #[arg(long)]
    pub preset: Option<PresetArg>,
    /// SWIM probe interval in milliseconds, after --interval-ms (default: the preset's).
    #[arg(long)]
    pub probe_interval_ms: Option<u64>,
    /// Lower bound of the suspicion timeout floor in milliseconds (default: the preset's).
    #[arg(long)]
    pub suspicion_min_ms: Option<u64>,
    /// One probe in this many goes to the ring successor, 0 never (default: the preset's).
    #[arg(long)]
    pub successor_every: Option<u32>,
    #[command(flatten)]
    pub flow: super::sim_flow::FlowArgs,
}

pub(super) fn params(args: &SimArgs) -> Result<Params> {
    if args.nodes < 2 {
        bail!("--nodes must be at least 2");
    }
    if args.fanout == 0 {
        bail!("--fanout must be at least 1");
    }
    if args.rumor_k == 0 {
        bail!("--rumor-k must be at least 1");
    }
    if !(0.0..=1.0).contains(&args.loss) {
        bail!("--loss must be within 0..=1, got {}", args.loss);
    }
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    if !(args.pause_secs.is_finite() && args.pause_secs >= 0.0) {
        bail!("--pause-secs must be a number of seconds, at least 0");
    }
    if !(args.pause_every_secs.is_finite() && args.pause_every_secs > args.pause_secs) {
        bail!("--pause-every-secs must be longer than --pause-secs");
    }
    if matches!(args.scenario, ScenarioArg::Pause) && args.pause_secs <= 0.0 {
        bail!("--scenario pause needs --pause-secs above 0");
    }
    if args.probe_interval_ms.is_some_and(|ms| ms < 2) {
        bail!("--probe-interval-ms must be at least 2");
    }
    if args.partition_secs.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
        bail!("--partition-secs must be a number of seconds above 0");
    }
    if args.suspicion_mult == Some(0) || args.suspicion_max_mult == Some(0) {
        bail!("--suspicion-mult and --suspicion-max-mult must be at least 1");
    }
    if args.dead_member_grace_secs.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
        bail!("--dead-member-grace-secs must be a number of seconds above 0");
    }
    if let Some(mtu) = args.mtu {
        let mut config = hearsay_core::Config::local();
        config.mtu = mtu;
        config.validate().context("--mtu")?;
    }
    let latency = Latency::parse_ms(&args.latency_ms).map_err(anyhow::Error::msg).context("--latency-ms")?;
    let preset = args.preset.map(|p| match p {
        PresetArg::Lan => Preset::Lan,
        PresetArg::Wan => Preset::Wan,
        PresetArg::Local => Preset::Local,
    });
    let mut params = Params {
        nodes: args.nodes,
        exchange: match args.exchange {
            ExchangeArg::Push => ExchangeMode::Push,
            ExchangeArg::Pull => ExchangeMode::Pull,
            ExchangeArg::PushPull => ExchangeMode::PushPull,
        },
        strategy: args.strategy.into(),
        fanout: args.fanout,
        rumor: RumorConfig {
            k: args.rumor_k,
            feedback: match args.rumor_feedback {
                FeedbackArg::Feedback => RumorFeedback::Feedback,
                FeedbackArg::Blind => RumorFeedback::Blind,
            },
            stop: match args.rumor_stop {
                StopArg::Counter => RumorStop::Counter,
                StopArg::Coin => RumorStop::Coin,
            },
            consecutive: args.rumor_consecutive,
        },
        loss: args.loss,
        latency,
        scenario: match args.scenario {
            ScenarioArg::Spread => ScenarioKind::Spread,
            ScenarioArg::Join => ScenarioKind::Join,
            ScenarioArg::PartitionHeal => ScenarioKind::PartitionHeal,
            ScenarioArg::Churn => ScenarioKind::Churn,
            ScenarioArg::Detect => ScenarioKind::Detect,
            ScenarioArg::FalsePositives => ScenarioKind::FalsePositives,
            ScenarioArg::RollingRestart => ScenarioKind::RollingRestart,
            ScenarioArg::Pause => ScenarioKind::Pause,
        },
        runs: args.runs,
        seed: args.seed,
        max_rounds: args.max_rounds,
        mtu: args.mtu,
        trace_node: args.trace_node,
        textbook: args.textbook,
        interval_ms: args.interval_ms,
        pause_secs: args.pause_secs,
        pause_every_secs: args.pause_every_secs,
        partition_secs: args.partition_secs,
        suspicion_mult: args.suspicion_mult,
        suspicion_max_mult: args.suspicion_max_mult,
        dead_member_grace_secs: args.dead_member_grace_secs,
        preset,
        probe_interval_ms: args.probe_interval_ms,
        suspicion_min_ms: args.suspicion_min_ms,
        successor_every: args.successor_every,
    };
    if let Some(preset) = preset {
        // Reports name what ran: the preset's own exchange, strategy, fanout and rumor.
        let config = preset.config();
        params.exchange = config.exchange;
        params.strategy = config.strategy;
        params.fanout = config.fanout;
        params.rumor = config.rumor;
    }
    Ok(params)
}

fn bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} runs {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// Runs the simulator.
pub(crate) fn run(args: SimArgs) -> ExitCode {
    let result = match args.action {
        Some(Action::Sweep) => run_sweep(&args),
        Some(Action::Broadcast) => super::sim_broadcast::run(&args),
        Some(Action::Flow) => super::sim_flow::run(&args),
        Some(Action::Textbook) => super::sim_textbook::run(&args),
        None => run_batch(&args),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("hearsay sim: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run_batch(args: &SimArgs) -> Result<bool> {
    let params = params(args)?;
    let bar = bar(params.runs as u64);
    let report = run_many(&params, |_, run| {
        bar.inc(1);
        if let Some(r) = run.rounds_to_all {
            bar.set_message(format!("last run: {r} rounds"));
        }
        for line in &run.trace {
            eprintln!("run {} trace: {line}", run.run);
        }
    })?;
    bar.finish_and_clear();
    if args.json {
        emit(&(serde_json::to_string_pretty(&report)? + "\n"))?;
    } else {
        emit(&table(&report))?;
    }
    if let Some(dir) = &args.out {
        write_batch(dir, &report)?;
        if params.scenario == ScenarioKind::Spread {
            let label =
                format!("{} nodes, {}", params.nodes, sweep::label(params.exchange, params.strategy, params.fanout));
            let panel = replay::panel(&params, 0, label)?;
            write_replay(dir, &params, vec![panel])?;
        } else {
            eprintln!("replay.html not written: only the spread scenario has an update to follow");
        }
    }
    for failure in &report.failures {
        eprintln!("run {} (seed {}) broke an invariant:", failure.run, failure.seed);
        for v in &failure.violations {
            eprintln!("  {} at {} us: {}", v.invariant, v.time_us, v.detail);
        }
        eprintln!("  replay: {}", failure.replay);
    }
    Ok(report.passed())
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
pub(super) fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}

fn write_batch(dir: &Path, report: &Report) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("report.json");
    std::fs::write(&path, serde_json::to_string_pretty(report)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    chart::infection_curves(&dir.join("infection.svg"), report)?;
    Ok(())
}

/// Writes `replay.html` with `panels` side by side.
fn write_replay(dir: &Path, params: &Params, panels: Vec<replay::Panel>) -> Result<()> {
    let replay = replay::Replay {
        title: format!("hearsay sim: one update spreading through {} nodes", params.nodes),
        interval_ms: params.node_config().gossip_interval.as_millis() as u64,
        seed: params.run_seed(0),
        panels,
    };
    let path = dir.join("replay.html");
    std::fs::write(&path, replay::html(&replay)?).with_context(|| format!("writing {}", path.display()))
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or("-".to_string(), |v| format!("{v:.2}"))
}

fn table(report: &Report) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "scenario {} | {} nodes | {} / {} | fanout {} | rumor k={} {} {} | loss {} | latency {} ms | mtu {} | {} runs from seed {}\n",
        report.scenario,
        report.nodes,
        report.exchange,
        report.strategy,
        report.fanout,
        report.rumor.k,
        report.rumor.feedback,
        report.rumor.stop,
        report.loss,
        report.latency_ms,
        report.mtu,
        report.runs,
        report.seed
    ));
    let q = &report.rounds_to_all;
    let rows = [
        ("rounds to all (mean)", fmt_opt(q.mean)),
        ("rounds to all (p50 / p99 / max)", format!("{} / {} / {}", fmt_opt(q.p50), fmt_opt(q.p99), fmt_opt(q.max))),
        ("runs that reached everyone", format!("{} of {}", q.samples, report.runs)),
        ("theory rounds to all", format!("{} ({})", fmt_opt(report.theory.rounds_to_all), report.theory.formula)),
        ("t_avg / t_last (mean)", format!("{:.2} / {:.2}", report.t_avg.mean, report.t_last.mean)),
        ("residue (mean / max)", format!("{:.4} / {:.4}", report.residue.mean, report.residue.max)),
        (
            "messages per node (all / gossip)",
            format!("{:.2} / {:.2}", report.messages_per_node.mean, report.gossip_messages_per_node.mean),
        ),
        ("updates sent per node", format!("{:.2}", report.updates_sent_per_node.mean)),
        ("bytes per node", format!("{:.0}", report.bytes_per_node.mean)),
        ("invariant violations", report.violations.to_string()),
        ("stale views below max_version", report.anomalies.to_string()),
        ("false deaths / suspicions", format!("{} / {}", report.false_deaths, report.suspicions)),
        (
            "per node-hour",
            if report.node_hours > 0.0 {
                format!(
                    "{:.4} / {:.4} ({:.1} node-hours)",
                    report.false_deaths as f64 / report.node_hours,
                    report.suspicions as f64 / report.node_hours,
                    report.node_hours
                )
            } else {
                "-".into()
            },
        ),
    ];
    for (name, value) in rows {
        out.push_str(&format!("  {name:<34} {value}\n"));
    }
    if let (Some(p50), Some(p99)) = (report.phi_alive_p50, report.phi_alive_p99) {
        out.push_str(&format!("  {:<34} {p50:.3} / {p99:.3} (largest over runs)\n", "phi of live members (p50 / p99)"));
    }
    if report.scenario == "detect" {
        let q = &report.phi_crossing;
        out.push_str(&format!(
            "  {:<34} {} / {} / {} intervals ({} of {} runs crossed)\n",
            "crashed node phi >= threshold at all (mean / p99 / max)",
            fmt_opt(q.mean),
            fmt_opt(q.p99),
            fmt_opt(q.max),
            q.samples,
            report.runs
        ));
    }
    out
}

fn run_sweep(args: &SimArgs) -> Result<bool> {
    let base = params(args)?;
    let mut sweep = SweepParams::standard(base);
    sweep.nodes = args.sweep_nodes.clone();
    sweep.max_memory_gib = args.max_memory_gib;
    for skipped in sweep.skipped() {
        eprintln!("skipping N = {}: {}", skipped.nodes, skipped.reason);
    }
    let configurations = sweep.configurations().len();
    let bar = bar((configurations * args.runs) as u64);
    let report = sweep::run(&sweep, |i, total, params, _| {
        bar.inc(1);
        bar.set_message(format!(
            "config {}/{}: N={} {}",
            i + 1,
            total,
            params.nodes,
            sweep::label(params.exchange, params.strategy, params.fanout)
        ));
    })?;
    bar.finish_and_clear();
    if args.json {
        emit(&(serde_json::to_string_pretty(&report)? + "\n"))?;
    } else {
        emit(&sweep_table(&report))?;
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("report.json");
        std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        std::fs::write(dir.join("sweep.md"), sweep_table(&report))
            .with_context(|| format!("writing {}", dir.join("sweep.md").display()))?;
        for strategy in [Strategy::AntiEntropy, Strategy::Rumor, Strategy::Hybrid] {
            let name = strategy.as_str();
            chart::sweep_rounds(&dir.join(format!("sweep-{name}.svg")), &report, strategy)?;
        }
        // The replay compares the exchange modes at the smallest size swept, anti-entropy,
        // fanout 1: the textbook picture of push, pull and push-pull.
        let nodes = sweep.nodes.iter().copied().min().unwrap_or(sweep.base.nodes);
        let base = Params {
            nodes,
            scenario: ScenarioKind::Spread,
            strategy: Strategy::AntiEntropy,
            fanout: 1,
            ..sweep.base.clone()
        };
        let mut panels = Vec::new();
        for exchange in [ExchangeMode::Push, ExchangeMode::Pull, ExchangeMode::PushPull] {
            let params = Params { exchange, ..base.clone() };
            let label = format!("{nodes} nodes, {}", sweep::label(exchange, Strategy::AntiEntropy, 1));
            panels.push(replay::panel(&params, 0, label)?);
        }
        write_replay(dir, &base, panels)?;
    }
    let failed: Vec<_> = report.rows.iter().flat_map(|r| r.failures.iter()).collect();
    for failure in &failed {
        eprintln!("run {} (seed {}) broke an invariant; replay: {}", failure.run, failure.seed, failure.replay);
    }
    Ok(failed.is_empty())
}

/// The sweep as a Markdown table.
pub(crate) fn sweep_table(report: &SweepReport) -> String {
    let mut out = String::from(
        "| N | exchange | strategy | fanout | rounds to all mean | p50 | p99 | max | reached all | theory | t_avg | \
         residue mean | residue max | msgs/node | gossip msgs/node | updates/node | bytes/node |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in &report.rows {
        let q = &r.rounds_to_all;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {}/{} | {} | {:.2} | {:.4} | {:.4} | {:.1} | {:.1} | {:.2} | {:.0} |\n",
            r.nodes,
            r.exchange,
            r.strategy,
            r.fanout,
            fmt_opt(q.mean),
            fmt_opt(q.p50),
            fmt_opt(q.p99),
            fmt_opt(q.max),
            q.samples,
            r.runs,
            fmt_opt(r.theory.rounds_to_all),
            r.t_avg.mean,
            r.residue.mean,
            r.residue.max,
            r.messages_per_node.mean,
            r.gossip_messages_per_node.mean,
            r.updates_sent_per_node.mean,
            r.bytes_per_node.mean
        ));
    }
    for s in &report.skipped {
        out.push_str(&format!("\nN = {} not run: {}\n", s.nodes, s.reason));
    }
    out
}

/// `hearsay sim FLAGS...` parsed, for the tests of the sim subcommands.
#[cfg(test)]
pub(crate) fn parse_for_tests(flags: &[&str]) -> SimArgs {
    use clap::Parser;
    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: SimArgs,
    }
    Wrapper::try_parse_from(std::iter::once("sim").chain(flags.iter().copied())).unwrap().args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(flags: &[&str]) -> SimArgs {
        parse_for_tests(flags)
    }

    #[test]
    fn flags_map_onto_params() {
        let args = parse(&[
            "--nodes",
            "50",
            "--exchange",
            "pull",
            "--strategy",
            "rumor",
            "--fanout",
            "3",
            "--rumor-k",
            "4",
            "--rumor-feedback",
            "blind",
            "--rumor-stop",
            "coin",
            "--loss",
            "0.1",
            "--latency-ms",
            "1..5",
            "--scenario",
            "partition-heal",
            "--runs",
            "7",
            "--seed",
            "9",
        ]);
        let p = params(&args).unwrap();
        assert_eq!((p.nodes, p.fanout, p.runs, p.seed), (50, 3, 7, 9));
        assert_eq!((p.exchange, p.strategy), (ExchangeMode::Pull, Strategy::Rumor));
        assert_eq!(
            p.rumor,
            RumorConfig { k: 4, feedback: RumorFeedback::Blind, stop: RumorStop::Coin, consecutive: false }
        );
        assert_eq!(p.latency, Latency::Uniform(1_000, 5_000));
        assert_eq!(p.scenario, ScenarioKind::PartitionHeal);
        assert!(p.replay_command(2).contains("--scenario partition-heal --nodes 50 --exchange pull"));
        assert!(p.replay_command(2).ends_with("--runs 1 --seed 11"));
    }

    #[test]
    fn liveness_flags_map_onto_params_the_config_and_the_replay_command() {
        let args = parse(&[
            "--scenario",
            "false-positives",
            "--interval-ms",
            "1250",
            "--suspicion-mult",
            "2",
            "--suspicion-max-mult",
            "5",
            "--pause-secs",
            "5",
            "--pause-every-secs",
            "120",
        ]);
        let p = params(&args).unwrap();
        let config = p.node_config();
        assert_eq!((config.probe.suspicion_mult, config.probe.suspicion_max_mult), (2, 5));
        assert_eq!((p.pause_secs, p.pause_every_secs), (5.0, 120.0));
        let replay = p.replay_command(0);
        for flag in ["--suspicion-mult 2", "--suspicion-max-mult 5", "--pause-secs 5 --pause-every-secs 120"] {
            assert!(replay.contains(flag), "{replay}");
        }
        let heal = params(&parse(&["--scenario", "partition-heal", "--partition-secs", "60"])).unwrap();
        assert!(heal.replay_command(0).contains("--partition-secs 60"));
    }

    #[test]
    fn bad_input_is_refused_with_the_flag_named() {
        for (flags, flag) in [
            (&["--loss", "1.5"][..], "--loss"),
            (&["--latency-ms", "9..2"][..], "--latency-ms"),
            (&["--nodes", "1"][..], "--nodes"),
            (&["--mtu", "20"][..], "--mtu"),
            (&["--runs", "0"][..], "--runs"),
            (&["--suspicion-mult", "0"][..], "--suspicion-mult"),
            (&["--partition-secs", "0"][..], "--partition-secs"),
            (&["--pause-secs", "5", "--pause-every-secs", "5"][..], "--pause-every-secs"),
        ] {
            let message = format!("{:#}", params(&parse(flags)).unwrap_err());
            assert!(message.contains(flag), "{flags:?}: {message}");
        }
    }

    #[test]
    fn out_writes_a_self_contained_replay_with_every_round() {
        let dir = std::env::temp_dir().join(format!("hearsay-replay-test-{}", std::process::id()));
        let out = dir.to_str().unwrap();
        let args = parse(&["--nodes", "40", "--exchange", "push", "--seed", "3", "--out", out]);
        assert!(run_batch(&args).unwrap());
        let page = std::fs::read_to_string(dir.join("replay.html")).unwrap();
        assert!(!page.contains("http://") && !page.contains("https://"), "the page must need no network");
        assert!(!page.contains("<script src") && !page.contains("<link"), "script and style are inline");
        let start = page.find(r#"<script type="application/json" id="replay-data">"#).unwrap();
        let json = &page[start..];
        let json = &json[json.find('>').unwrap() + 1..json.find("</script>").unwrap()];
        let data: serde_json::Value = serde_json::from_str(json).unwrap();
        let panel = &data["panels"][0];
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
        let curve = report["run_reports"][0]["informed"].as_array().unwrap();
        assert_eq!(panel["curve"].as_array().unwrap(), curve, "the replay is run 0 again");
        let rounds = curve.len();
        assert!(rounds > 3);
        assert_eq!(panel["messages"].as_array().unwrap().len(), rounds, "message counts for every round");
        assert_eq!(panel["edges"].as_array().unwrap().len(), rounds, "edges for every round");
        let informed = panel["informed_round"].as_array().unwrap();
        assert_eq!(informed.len(), 40);
        assert!(informed.iter().all(|r| r.as_u64().is_some_and(|r| (r as usize) < rounds)));
        assert!(panel["carriers"].as_array().unwrap().iter().any(|c| c.as_u64() > Some(0)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn table_shows_the_measurements() {
        let p = params(&parse(&["--nodes", "12", "--runs", "2", "--exchange", "push"])).unwrap();
        let report = run_many(&p, |_, _| {}).unwrap();
        let text = table(&report);
        assert!(text.contains("12 nodes") && text.contains("rounds to all (mean)"), "{text}");
        assert!(text.contains("invariant violations               0"), "{text}");
    }
}
