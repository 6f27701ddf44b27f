//! `hearsay bench`: N library nodes in one process on loopback UDP, measured.
//!
//! Reports the time until every node sees every node, the time an update takes to reach every
//! node (p50/p99 over `--updates` writes, one at a time, from random nodes), protocol bytes per
//! node per second while idle and with one update per second (from the core's `bytes_sent`),
//! CPU cores used by the whole process (utime + stime from `/proc/self/stat` over wall time),
//! peak RSS (`VmHWM`) and every suspicion and death the nodes declared. Timestamps are taken
//! when a node's event reaches its subscriber task, so they include the driver's event
//! delivery; on a loaded machine they include scheduling delay too. See `docs/bench.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use hearsay::core::wire::MessageType;
use hearsay::{Cluster, Config, DriverStats, Event};
use serde::Serialize;
use tokio::time::Instant;

/// Arguments of `hearsay bench`.
#[derive(clap::Args, Debug)]
pub(crate) struct BenchArgs {
    /// Nodes to run in this process.
    #[arg(long, default_value_t = 10)]
    pub nodes: usize,
    /// Gossip interval in milliseconds (the detector is scaled to it).
    #[arg(long, default_value_t = 100)]
    pub interval: u64,
    /// Updates whose spreading time is measured, one at a time, each from a random node.
    #[arg(long, default_value_t = 20)]
    pub updates: usize,
    /// Seconds of each traffic window (idle, then one update per second).
    #[arg(long, default_value_t = 10)]
    pub idle_secs: u64,
    /// Seed of the bench's choices (which node writes) and of the nodes' RNGs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Override the preset's fanout (peers per rumor round).
    #[arg(long)]
    pub fanout: Option<usize>,
    /// Override the preset's rumor `k` (transmissions to peers that already knew before a
    /// rumor goes cold).
    #[arg(long)]
    pub rumor_k: Option<u32>,
    /// Override how many rounds pass between anti-entropy rounds.
    #[arg(long)]
    pub anti_entropy_every: Option<u32>,
    /// Override the SWIM probe interval, in milliseconds.
    #[arg(long)]
    pub probe_interval: Option<u64>,
    /// Override the shortest direct-probe timeout, in milliseconds.
    #[arg(long)]
    pub probe_min_timeout: Option<u64>,
    /// Override the preset's dissemination strategy.
    #[arg(long, value_enum)]
    pub strategy: Option<super::sim::StrategyArg>,
    /// Override how long Plumtree batches its lazy announcements, in milliseconds.
    #[arg(long)]
    pub ihave_delay: Option<u64>,
    /// Override how long Plumtree waits for an announced payload before grafting, in
    /// milliseconds.
    #[arg(long)]
    pub graft_timeout: Option<u64>,
    /// Milliseconds between node starts (0: every node starts at once, a join storm).
    #[arg(long, default_value_t = 0)]
    pub stagger_ms: u64,
    /// Run this preset (lan, wan or local) as it ships instead of `--interval`'s scaled
    /// configuration; the overrides above still apply.
    #[arg(long)]
    pub preset: Option<String>,
}

/// Runs the benchmark on its own multi-thread runtime and prints the report.
pub(crate) fn run(args: BenchArgs) -> anyhow::Result<()> {
    ensure!(args.nodes >= 2, "--nodes must be at least 2");
    ensure!(args.interval >= 1, "--interval must be at least 1 ms");
    ensure!(args.updates >= 1, "--updates must be at least 1");
    ensure!(args.idle_secs >= 1, "--idle-secs must be at least 1");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
    let report = runtime.block_on(bench(&args))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

/// `Config::lan()` with the interval from the command line, and the liveness timings of
/// `Config::local()` (detector and SWIM probes) scaled to it: at 100 ms they are exactly
/// `Config::local()`'s.
pub(crate) fn bench_config(interval: Duration) -> Config {
    let local = Config::local();
    let ratio = interval.as_secs_f64() / local.gossip_interval.as_secs_f64();
    let scale = |d: Duration| d.mul_f64(ratio);
    let mut config = Config::lan();
    config.gossip_interval = interval;
    config.detector = local.detector;
    config.detector.min_std_deviation = scale(local.detector.min_std_deviation);
    config.detector.max_interval = scale(local.detector.max_interval);
    config.detector.acceptable_pause = scale(local.detector.acceptable_pause);
    config.detector.suspicion_timeout = scale(local.detector.suspicion_timeout);
    config.probe = local.probe;
    config.probe.interval = scale(local.probe.interval);
    config.probe.min_timeout = scale(local.probe.min_timeout);
    config
}

/// What one node's subscriber saw.
#[derive(Default)]
struct NodeLog {
    /// Other members currently believed present.
    present: BTreeSet<String>,
    /// When `present` first held every other node.
    saw_everyone: Option<Instant>,
    dead_events: u64,
    suspect_events: u64,
    /// Key `bench`: owner -> (version, first seen), ascending.
    bench_key: BTreeMap<String, Vec<(u64, Instant)>>,
}

type Logs = Arc<Vec<Mutex<NodeLog>>>;

fn log_event(logs: &Logs, node: usize, others: usize, event: Event) {
    let now = Instant::now();
    let Ok(mut log) = logs[node].lock() else { return };
    match event {
        Event::MemberJoined(id) | Event::MemberAlive(id) => {
            log.present.insert(id.name.to_string());
            if log.saw_everyone.is_none() && log.present.len() >= others {
                log.saw_everyone = Some(now);
            }
        }
        Event::MemberSuspect { .. } => log.suspect_events += 1,
        Event::MemberDead(id) => {
            log.dead_events += 1;
            log.present.remove(&*id.name);
        }
        Event::MemberLeft(id) | Event::MemberRemoved(id) => {
            log.present.remove(&*id.name);
        }
        Event::KeyChanged { owner, key, version, .. } if &*key == "bench" => {
            log.bench_key.entry(owner.name.to_string()).or_default().push((version, now));
        }
        _ => {}
    }
}

/// When `node` first held `owner`'s key `bench` at `version` or later.
fn seen_at(logs: &Logs, node: usize, owner: &str, version: u64) -> Option<Instant> {
    let log = logs[node].lock().ok()?;
    log.bench_key.get(owner)?.iter().find(|(v, _)| *v >= version).map(|(_, at)| *at)
}

/// A small deterministic generator (splitmix64) for the bench's own choices.
struct Choices(u64);

impl Choices {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

/// Traffic and CPU over one window.
#[derive(Serialize, Debug)]
pub(crate) struct Traffic {
    /// Length of the window in seconds.
    pub secs: f64,
    /// Protocol bytes sent (UDP payloads and stream frames, headers included) per node per second.
    pub bytes_per_node_per_sec: f64,
    /// Messages sent per node per second.
    pub messages_per_node_per_sec: f64,
    /// Process CPU time over wall time, all nodes together.
    pub cpu_cores: f64,
    /// Bytes per node per second by message type.
    pub bytes_by_type: BTreeMap<&'static str, f64>,
    /// Messages per node per second by message type.
    pub messages_by_type: BTreeMap<&'static str, f64>,
}

/// Everything `hearsay bench` measured.
#[derive(Serialize, Debug)]
pub(crate) struct Report {
    /// Nodes run.
    pub nodes: usize,
    /// Gossip interval, ms.
    pub interval_ms: u64,
    /// Fanout of the configuration used.
    pub fanout: usize,
    /// Dissemination strategy.
    pub strategy: &'static str,
    /// Rumor `k` of the configuration used.
    pub rumor_k: u32,
    /// Rounds between anti-entropy rounds in the configuration used.
    pub anti_entropy_every: u32,
    /// SWIM probe interval of the configuration used, ms.
    pub probe_interval_ms: u64,
    /// Shortest direct-probe timeout of the configuration used, ms.
    pub probe_min_timeout_ms: u64,
    /// Seed.
    pub seed: u64,
    /// Logical CPUs of the machine and its 1-minute load average when the bench started.
    pub machine_cpus: usize,
    /// The 1-minute load average at start (other processes share the machine).
    pub loadavg_at_start: f64,
    /// From the first spawn until every node saw every other node, ms (`None`: not reached).
    pub membership_ms: Option<f64>,
    /// From the last node's start until every node saw every other node, ms (with
    /// `--stagger-ms`, how long the cluster lags the last join).
    pub membership_after_last_start_ms: Option<f64>,
    /// Milliseconds between node starts.
    pub stagger_ms: u64,
    /// From the first spawn until the last node was started, ms.
    pub all_started_ms: f64,
    /// Formation over time: (ms since the first spawn, nodes that had seen every other node,
    /// the fewest and the median number of members a node held alive), sampled every 250 ms
    /// while membership was incomplete.
    pub membership_curve: Vec<(f64, usize, usize, usize)>,
    /// Nodes that saw every other node within the deadline.
    pub membership_complete_nodes: usize,
    /// For nodes that did not: whom they were missing and how `members()` lists them.
    pub membership_missing: Vec<String>,
    /// Update latency until the last node has it: samples in ms, in write order.
    pub update_ms: Vec<f64>,
    /// Updates that did not reach every node within the deadline.
    pub updates_missed: usize,
    /// Nearest-rank p50 of `update_ms`.
    pub update_p50_ms: f64,
    /// Nearest-rank p99 of `update_ms`.
    pub update_p99_ms: f64,
    /// p50 in gossip intervals.
    pub update_p50_intervals: f64,
    /// p99 in gossip intervals.
    pub update_p99_intervals: f64,
    /// Per update, ms until 90% of the other nodes had it, in write order.
    pub update_90pct_ms: Vec<f64>,
    /// Nearest-rank p50 of `update_90pct_ms`.
    pub update_90pct_p50_ms: f64,
    /// Nearest-rank p99 of `update_90pct_ms`.
    pub update_90pct_p99_ms: f64,
    /// Per update, what the nodes did to carry it (all nodes, from the write until the last
    /// node had it): payload duplicates received, tree grafts and prunes sent.
    pub update_costs: Vec<UpdateCost>,
    /// Traffic with no writes.
    pub idle: Traffic,
    /// Traffic with one write per second (cluster-wide).
    pub one_update_per_sec: Traffic,
    /// `MemberSuspect` events over the whole run, all nodes.
    pub suspect_events: u64,
    /// `MemberDead` events over the whole run, all nodes.
    pub dead_events: u64,
    /// Peak resident set size of the process, KiB.
    pub peak_rss_kib: u64,
    /// Events lost by lagging subscribers (the bench's own), all nodes.
    pub events_lagged: u64,
    /// Datagrams the sockets refused, all nodes.
    pub udp_send_errors: u64,
    /// Stream frames sent, all nodes.
    pub stream_frames_sent: u64,
    /// Inputs the cores dropped, by reason, all nodes.
    pub dropped: BTreeMap<&'static str, u64>,
    /// Stream and catch-up counters of all nodes, taken once membership was complete (or its
    /// deadline passed): what forming the cluster cost the stream path.
    pub formation: FormationCounters,
}

/// Dissemination counters of one update, summed over all nodes.
#[derive(Serialize, Debug, Default, Clone, Copy)]
pub(crate) struct UpdateCost {
    pub duplicates: u64,
    pub grafts: u64,
    pub prunes: u64,
}

impl UpdateCost {
    fn sum(stats: &[DriverStats]) -> Self {
        stats.iter().fold(UpdateCost::default(), |c, s| UpdateCost {
            duplicates: c.duplicates + s.core.payload_duplicates,
            grafts: c.grafts + s.core.grafts,
            prunes: c.prunes + s.core.prunes,
        })
    }

    fn since(self, before: UpdateCost) -> Self {
        UpdateCost {
            duplicates: self.duplicates.saturating_sub(before.duplicates),
            grafts: self.grafts.saturating_sub(before.grafts),
            prunes: self.prunes.saturating_sub(before.prunes),
        }
    }
}

/// Stream and catch-up counters summed over all nodes at one moment.
#[derive(Serialize, Debug, Default)]
pub(crate) struct FormationCounters {
    /// Catch-ups started (full or anti-entropy exchanges with a peer that knew more members).
    pub catch_ups: u64,
    /// Catch-ups answered in part only, because the answering node had served its share.
    pub catch_ups_deferred: u64,
    /// Referrals followed to a member that held the membership after a deferred catch-up.
    pub catch_up_referrals: u64,
    /// Stream frames written.
    pub stream_frames_sent: u64,
    /// Outbound stream frames dropped (queue full, connection cap, failed connection).
    pub stream_frames_dropped: u64,
    /// Frames refused by the stream memory budget.
    pub stream_budget_refused: u64,
    /// Inbound connections refused at the connection cap.
    pub stream_connections_refused: u64,
    /// Stream connections that failed.
    pub stream_errors: u64,
    /// Messages sent per node until then, by message type.
    pub messages_per_node_by_type: BTreeMap<&'static str, f64>,
    /// Bytes sent per node until then, by message type.
    pub bytes_per_node_by_type: BTreeMap<&'static str, f64>,
}

impl FormationCounters {
    fn sum(stats: &[DriverStats]) -> Self {
        let mut c = FormationCounters::default();
        for s in stats {
            c.catch_ups += s.core.catch_ups;
            c.catch_ups_deferred += s.core.catch_ups_deferred;
            c.catch_up_referrals += s.core.catch_up_referrals;
            c.stream_frames_sent += s.stream_frames_sent;
            c.stream_frames_dropped += s.stream_frames_dropped;
            c.stream_budget_refused += s.stream_budget_refused;
            c.stream_connections_refused += s.stream_connections_refused;
            c.stream_errors += s.stream_errors;
        }
        let per_node = |total: u64| total as f64 / stats.len().max(1) as f64;
        for t in MessageType::ALL {
            c.messages_per_node_by_type
                .insert(t.as_str(), per_node(stats.iter().map(|s| s.core.sent_of(t).messages).sum()));
            c.bytes_per_node_by_type.insert(t.as_str(), per_node(stats.iter().map(|s| s.core.sent_of(t).bytes).sum()));
        }
        c
    }
}

async fn bench(args: &BenchArgs) -> anyhow::Result<Report> {
    let n = args.nodes;
    let mut config = match &args.preset {
        Some(name) => crate::config::preset(name).map_err(|e| anyhow::anyhow!("--preset: {e}"))?,
        None => bench_config(Duration::from_millis(args.interval)),
    };
    let interval = config.gossip_interval;
    let interval_ms = interval.as_millis() as u64;
    if let Some(fanout) = args.fanout {
        config.fanout = fanout;
    }
    if let Some(strategy) = args.strategy {
        config.strategy = strategy.into();
    }
    if let Some(k) = args.rumor_k {
        config.rumor.k = k;
    }
    if let Some(ms) = args.ihave_delay {
        config.plumtree.ihave_delay = Duration::from_millis(ms);
    }
    if let Some(ms) = args.graft_timeout {
        config.plumtree.graft_timeout = Duration::from_millis(ms);
    }
    if let Some(every) = args.anti_entropy_every {
        config.anti_entropy_every = every;
    }
    if let Some(ms) = args.probe_interval {
        config.probe.interval = Duration::from_millis(ms);
    }
    if let Some(ms) = args.probe_min_timeout {
        config.probe.min_timeout = Duration::from_millis(ms);
    }
    config.validate().context("the configuration with these overrides")?;
    let loadavg_at_start = loadavg();
    let deadline = Duration::from_secs(60).max(interval * 300);

    let logs: Logs = Arc::new((0..n).map(|_| Mutex::new(NodeLog::default())).collect());
    let start = Instant::now();
    let mut nodes: Vec<Cluster> = Vec::with_capacity(n);
    let mut seeds: Vec<SocketAddr> = Vec::new();
    for i in 0..n {
        let (node, mut events) = Cluster::builder(config.clone())
            .name(format!("bench-{i:04}"))
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .seeds(seeds.clone())
            .generation(1)
            .rng_seed(args.seed.wrapping_mul(1_000_003).wrapping_add(i as u64))
            .spawn_with_subscription()
            .await
            .with_context(|| format!("starting node {i}"))?;
        let logs = logs.clone();
        tokio::spawn(async move {
            // A lagged bench subscriber is counted in `events_lagged` and reported.
            while let Some(event) = events.recv().await {
                if let Ok(event) = event {
                    log_event(&logs, i, n - 1, event);
                }
            }
        });
        if seeds.len() < 3 {
            seeds.push(node.local_addr());
        }
        nodes.push(node);
        if args.stagger_ms > 0 && i + 1 < n {
            tokio::time::sleep(Duration::from_millis(args.stagger_ms)).await;
        }
    }
    let last_start = Instant::now();

    // Membership.
    let complete = |logs: &Logs| logs.iter().filter(|l| l.lock().is_ok_and(|l| l.saw_everyone.is_some())).count();
    let mut membership_curve = Vec::new();
    let mut next_sample = last_start;
    loop {
        let done = complete(&logs);
        if Instant::now() >= next_sample || done == n {
            let mut held: Vec<usize> = logs.iter().map(|l| l.lock().map_or(0, |l| l.present.len())).collect();
            held.sort_unstable();
            membership_curve.push((ms(start.elapsed()), done, held[0], held[n / 2]));
            next_sample += Duration::from_millis(250);
        }
        if done >= n || start.elapsed() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let membership_complete_nodes = complete(&logs);
    let last_saw_everyone = (membership_complete_nodes == n)
        .then(|| logs.iter().filter_map(|l| l.lock().ok().and_then(|l| l.saw_everyone)).max());
    let membership_ms = last_saw_everyone.map(|last| ms(last.unwrap_or(start) - start));
    let membership_after_last_start_ms =
        last_saw_everyone.map(|last| ms(last.unwrap_or(last_start).saturating_duration_since(last_start)));
    let formation = FormationCounters::sum(&all_stats(&nodes).await?);
    let membership_missing = missing_members(&nodes, &logs).await?;
    // Let join rumors go cold before measuring idle traffic.
    tokio::time::sleep(Duration::from_secs(2).max(interval * 20)).await;

    let idle = measure(&nodes, Duration::from_secs(args.idle_secs), None).await?;

    // Update latency, one write at a time.
    let mut choices = Choices(args.seed);
    let mut update_ms = Vec::new();
    let mut update_90pct_ms = Vec::new();
    let mut updates_missed = 0;
    let mut update_costs = Vec::new();
    for u in 0..args.updates {
        let before = UpdateCost::sum(&all_stats(&nodes).await?);
        let writer = choices.below(n);
        let owner = nodes[writer].id().name.to_string();
        let written = Instant::now();
        let version = nodes[writer].set("bench", format!("update-{u}")).await?;
        let seen = loop {
            let seen: Vec<Option<Instant>> =
                (0..n).filter(|&i| i != writer).map(|i| seen_at(&logs, i, &owner, version)).collect();
            if seen.iter().all(Option::is_some) || written.elapsed() > deadline {
                break seen;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let mut latencies: Vec<f64> =
            seen.iter().flatten().map(|at| ms(at.saturating_duration_since(written))).collect();
        latencies.sort_by(f64::total_cmp);
        let ninety = (seen.len() * 9).div_ceil(10);
        if let Some(at) = latencies.get(ninety.max(1) - 1) {
            update_90pct_ms.push(*at);
        }
        match (latencies.len() == seen.len(), latencies.last()) {
            (true, Some(last)) => update_ms.push(*last),
            _ => updates_missed += 1,
        }
        update_costs.push(UpdateCost::sum(&all_stats(&nodes).await?).since(before));
        tokio::time::sleep(interval).await;
    }
    let mut sorted = update_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let (p50, p99) = (nearest_rank(&sorted, 0.50), nearest_rank(&sorted, 0.99));
    let mut sorted = update_90pct_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let (p50_90pct, p99_90pct) = (nearest_rank(&sorted, 0.50), nearest_rank(&sorted, 0.99));

    let one_update_per_sec = measure(&nodes, Duration::from_secs(args.idle_secs), Some(&mut choices)).await?;

    let stats = all_stats(&nodes).await?;
    let mut dropped = BTreeMap::new();
    for s in &stats {
        for (reason, count) in &s.core.dropped {
            *dropped.entry(*reason).or_default() += count;
        }
    }
    let (suspect_events, dead_events) = logs.iter().fold((0, 0), |(s, d), l| match l.lock() {
        Ok(l) => (s + l.suspect_events, d + l.dead_events),
        Err(_) => (s, d),
    });
    let report = Report {
        nodes: n,
        interval_ms,
        fanout: config.fanout,
        strategy: config.strategy.as_str(),
        rumor_k: config.rumor.k,
        anti_entropy_every: config.anti_entropy_every,
        probe_interval_ms: config.probe.interval.as_millis() as u64,
        probe_min_timeout_ms: config.probe.min_timeout.as_millis() as u64,
        seed: args.seed,
        machine_cpus: std::thread::available_parallelism().map_or(1, |c| c.get()),
        loadavg_at_start,
        membership_ms,
        membership_after_last_start_ms,
        stagger_ms: args.stagger_ms,
        all_started_ms: ms(last_start - start),
        membership_curve,
        membership_complete_nodes,
        membership_missing,
        update_ms,
        updates_missed,
        update_p50_ms: p50,
        update_p99_ms: p99,
        update_p50_intervals: p50 / interval_ms as f64,
        update_p99_intervals: p99 / interval_ms as f64,
        update_90pct_ms,
        update_90pct_p50_ms: p50_90pct,
        update_90pct_p99_ms: p99_90pct,
        update_costs,
        idle,
        one_update_per_sec,
        suspect_events,
        dead_events,
        peak_rss_kib: peak_rss_kib()?,
        events_lagged: stats.iter().map(|s| s.events_lagged).sum(),
        udp_send_errors: stats.iter().map(|s| s.udp_send_errors).sum(),
        stream_frames_sent: stats.iter().map(|s| s.stream_frames_sent).sum(),
        dropped,
        formation,
    };
    futures::future::join_all(nodes.iter().map(|node| node.shutdown())).await;
    Ok(report)
}

/// For up to five nodes that never saw everyone: who is missing from their events, and how
/// their `members()` lists that member.
async fn missing_members(nodes: &[Cluster], logs: &Logs) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let present = match logs[i].lock() {
            Ok(log) if log.saw_everyone.is_none() => log.present.clone(),
            _ => continue,
        };
        let members = node.members().await?;
        for other in nodes.iter().filter(|o| o.id().name != node.id().name && !present.contains(&*o.id().name)) {
            let listed = members.iter().find(|m| m.id.name == other.id().name);
            let status = listed.map_or("absent", |m| m.status.as_str());
            out.push(format!("{} lacks {} (members(): {status})", node.id().name, other.id().name));
        }
        if out.len() >= 5 {
            break;
        }
    }
    Ok(out)
}

async fn all_stats(nodes: &[Cluster]) -> anyhow::Result<Vec<DriverStats>> {
    let mut out = Vec::with_capacity(nodes.len());
    for node in nodes {
        out.push(node.stats().await?);
    }
    Ok(out)
}

/// Traffic and CPU over `window`; with `writes`, one random node writes every second.
async fn measure(nodes: &[Cluster], window: Duration, mut writes: Option<&mut Choices>) -> anyhow::Result<Traffic> {
    let before = all_stats(nodes).await?;
    let (cpu_before, started) = (cpu_seconds()?, Instant::now());
    let mut second = 0u64;
    loop {
        if let Some(choices) = writes.as_deref_mut() {
            let writer = choices.below(nodes.len());
            nodes[writer].set("bench", format!("tick-{second}")).await?;
        }
        second += 1;
        let next = started + Duration::from_secs(second);
        if next > started + window {
            break;
        }
        tokio::time::sleep_until(next).await;
    }
    tokio::time::sleep_until(started + window).await;
    let after = all_stats(nodes).await?;
    let (cpu_after, secs) = (cpu_seconds()?, started.elapsed().as_secs_f64());
    let per_node_sec = |total: u64| total as f64 / nodes.len() as f64 / secs;
    let delta = |f: &dyn Fn(&DriverStats) -> u64| -> u64 {
        after.iter().zip(&before).map(|(a, b)| f(a).saturating_sub(f(b))).sum()
    };
    let mut bytes_by_type = BTreeMap::new();
    let mut messages_by_type = BTreeMap::new();
    for t in MessageType::ALL {
        bytes_by_type.insert(t.as_str(), per_node_sec(delta(&|s| s.core.sent_of(t).bytes)));
        messages_by_type.insert(t.as_str(), per_node_sec(delta(&|s| s.core.sent_of(t).messages)));
    }
    Ok(Traffic {
        secs,
        bytes_per_node_per_sec: per_node_sec(delta(&|s| s.core.bytes_sent())),
        messages_per_node_per_sec: per_node_sec(delta(&|s| s.core.messages_sent())),
        cpu_cores: (cpu_after - cpu_before) / secs,
        bytes_by_type,
        messages_by_type,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile of sorted samples (0 when there are none).
fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// User plus system CPU time of this process, from `/proc/self/stat` (USER_HZ = 100 on Linux).
fn cpu_seconds() -> anyhow::Result<f64> {
    const USER_HZ: f64 = 100.0;
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat (Linux only)")?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).context("malformed /proc/self/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    let (Some(utime), Some(stime)) = (fields.get(11), fields.get(12)) else {
        bail!("/proc/self/stat has too few fields");
    };
    let ticks: f64 = utime.parse::<f64>()? + stime.parse::<f64>()?;
    Ok(ticks / USER_HZ)
}

/// Peak resident set size (`VmHWM`) in KiB.
fn peak_rss_kib() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status (Linux only)")?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("no VmHWM in /proc/self/status")?;
    let kib = line.split_whitespace().nth(1).context("malformed VmHWM line")?;
    Ok(kib.parse()?)
}

fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|f| f.parse().ok()))
        .unwrap_or(f64::NAN)
}

fn print_traffic(name: &str, t: &Traffic) {
    println!(
        "{name}: {:.0} B/s per node ({:.1} KB/s), {:.1} msgs/s per node, {:.3} CPU cores, over {:.1} s",
        t.bytes_per_node_per_sec,
        t.bytes_per_node_per_sec / 1000.0,
        t.messages_per_node_per_sec,
        t.cpu_cores,
        t.secs
    );
    let by_type: Vec<String> = t
        .bytes_by_type
        .iter()
        .filter(|(_, b)| **b > 0.0)
        .map(|(k, b)| format!("{k} {:.0} B/s ({:.1} msgs/s)", b, t.messages_by_type.get(k).copied().unwrap_or(0.0)))
        .collect();
    println!("    by type: {}", by_type.join(", "));
}

fn print_report(r: &Report) {
    println!(
        "hearsay bench: {} nodes, interval {} ms, strategy {}, fanout {}, rumor k {}, anti-entropy every {} rounds, probes every {} ms (timeout from {} ms), seed {} ({} CPUs, load {:.2} at start)",
        r.nodes,
        r.interval_ms,
        r.strategy,
        r.fanout,
        r.rumor_k,
        r.anti_entropy_every,
        r.probe_interval_ms,
        r.probe_min_timeout_ms,
        r.seed,
        r.machine_cpus,
        r.loadavg_at_start
    );
    match r.membership_ms {
        Some(ms) => println!(
            "membership: every node saw every node after {ms:.0} ms ({:.0} ms after the last start; starts {} ms apart)",
            r.membership_after_last_start_ms.unwrap_or(ms),
            r.stagger_ms
        ),
        None => println!(
            "membership: only {}/{} nodes saw every node before the deadline: {}",
            r.membership_complete_nodes,
            r.nodes,
            r.membership_missing.join("; ")
        ),
    }
    println!(
        "updates: {} measured, {} missed; p50 {:.0} ms ({:.1} intervals), p99 {:.0} ms ({:.1} intervals)",
        r.update_ms.len(),
        r.updates_missed,
        r.update_p50_ms,
        r.update_p50_intervals,
        r.update_p99_ms,
        r.update_p99_intervals
    );
    println!(
        "updates reaching 90% of nodes: p50 {:.0} ms, p99 {:.0} ms; all samples (ms, until every node): {:?}",
        r.update_90pct_p50_ms,
        r.update_90pct_p99_ms,
        r.update_ms.iter().map(|m| m.round() as u64).collect::<Vec<_>>()
    );
    if r.update_costs.iter().any(|c| c.grafts + c.prunes + c.duplicates > 0) {
        println!(
            "per update (duplicates/grafts/prunes): {}",
            r.update_costs
                .iter()
                .map(|c| format!("{}/{}/{}", c.duplicates, c.grafts, c.prunes))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    print_traffic("idle", &r.idle);
    print_traffic("1 update/s", &r.one_update_per_sec);
    println!(
        "failure detector: {} suspect events, {} dead events; peak RSS {:.1} MiB",
        r.suspect_events,
        r.dead_events,
        r.peak_rss_kib as f64 / 1024.0
    );
    println!(
        "driver: {} events lagged, {} udp send errors, {} stream frames sent, dropped {:?}",
        r.events_lagged, r.udp_send_errors, r.stream_frames_sent, r.dropped
    );
    println!("formation: {:?}", r.formation);
    println!(
        "| {} | {} | {} | {:.0} / {:.0} ({:.1} / {:.1}) | {:.1} | {:.1} | {:.3} | {:.3} | {:.0} | {} / {} |",
        r.nodes,
        r.interval_ms,
        r.membership_ms.map_or_else(|| "-".to_owned(), |ms| format!("{ms:.0}")),
        r.update_p50_ms,
        r.update_p99_ms,
        r.update_p50_intervals,
        r.update_p99_intervals,
        r.idle.bytes_per_node_per_sec / 1000.0,
        r.one_update_per_sec.bytes_per_node_per_sec / 1000.0,
        r.idle.cpu_cores,
        r.one_update_per_sec.cpu_cores,
        r.peak_rss_kib as f64 / 1024.0,
        r.suspect_events,
        r.dead_events
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(nearest_rank(&samples, 0.50), 10.0);
        assert_eq!(nearest_rank(&samples, 0.99), 20.0);
        assert_eq!(nearest_rank(&[3.0], 0.99), 3.0);
        assert_eq!(nearest_rank(&[], 0.5), 0.0);
    }

    #[test]
    fn bench_config_at_100ms_has_the_local_liveness_timings() {
        let config = bench_config(Duration::from_millis(100));
        assert_eq!((config.detector, config.probe), (Config::local().detector, Config::local().probe));
        assert_eq!(config.anti_entropy_every, Config::lan().anti_entropy_every);
        assert!(config.validate().is_ok());
        let slow = bench_config(Duration::from_millis(400));
        assert_eq!(slow.probe.interval, Config::local().probe.interval * 4);
        assert!(slow.validate().is_ok());
    }

    #[test]
    fn proc_readings_parse() {
        assert!(cpu_seconds().unwrap() >= 0.0);
        assert!(peak_rss_kib().unwrap() > 0);
    }
}
