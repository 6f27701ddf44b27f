//! `hearsay demo`: a local cluster in one process, narrated live in the terminal.
//!
//! It starts `--nodes` nodes on loopback (each with its HTTP API and dashboard), then shows how
//! membership converges, how a key written on one node spreads to all, how a node killed
//! without leaving is suspected and declared dead, and how it comes back with a higher
//! generation and its keys at their versions. Then it keeps updating a counter key until
//! Ctrl-C or `--duration`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use hearsay::{Cluster, Config, MemberStatus};
use tokio::sync::watch;

use crate::http;

/// Arguments of `hearsay demo`.
#[derive(clap::Args, Debug)]
pub(crate) struct DemoArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = 5)]
    pub nodes: usize,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub duration: Option<u64>,
    /// First HTTP port: node i listens on this + i (a busy port falls back to any free one).
    #[arg(long, default_value_t = 7950)]
    pub http_port: u16,
}

/// Own keys `(key, value, version)` and the `max_version` a restarted node continues from.
type Restore = (Vec<(String, Vec<u8>, u64)>, u64);

/// One demo node: its cluster and the HTTP server in front of it.
struct DemoNode {
    name: String,
    cluster: Cluster,
    gossip: SocketAddr,
    http: SocketAddr,
    stop_http: watch::Sender<bool>,
}

/// Runs the demo.
pub(crate) fn run(args: DemoArgs) -> ExitCode {
    if args.nodes < 2 {
        eprintln!("hearsay demo: --nodes must be at least 2");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("hearsay demo: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(demo(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hearsay demo: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn config() -> Config {
    Config::local()
}

async fn start_node(
    name: &str,
    generation: u64,
    gossip: SocketAddr,
    seeds: Vec<SocketAddr>,
    http_addr: SocketAddr,
    restore: Option<Restore>,
) -> anyhow::Result<DemoNode> {
    let mut builder = Cluster::builder(config())
        .name(name.to_string())
        .bind(gossip)
        .seeds(seeds)
        .generation(generation)
        .rng_seed(generation);
    if let Some((entries, max_version)) = restore {
        builder = builder.restore(entries, max_version);
    }
    let cluster = builder.spawn().await.map_err(|e| anyhow::anyhow!("cannot start {name}: {e}"))?;
    let listener = match tokio::net::TcpListener::bind(http_addr).await {
        Ok(l) => l,
        Err(_) => http::bind(SocketAddr::new(http_addr.ip(), 0)).await?,
    };
    let http = listener.local_addr()?;
    let (left_tx, _) = watch::channel(false);
    let (stop_http, mut stop_rx) = watch::channel(false);
    let state = http::AppState::new(cluster.clone(), None, config(), left_tx).with_http_addr(http);
    tokio::spawn(http::serve(listener, state, async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));
    let gossip = cluster.local_addr();
    Ok(DemoNode { name: name.to_string(), cluster, gossip, http, stop_http })
}

/// Prints a line prefixed with the time since the demo started.
struct Clock(Instant);

impl Clock {
    fn say(&self, text: impl AsRef<str>) {
        println!("[{:>7.2}s] {}", self.0.elapsed().as_secs_f64(), text.as_ref());
    }
}

/// Polls `check` every 50 ms until it returns `Some`, or gives up after `limit`.
async fn wait_for<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(v) = check().await {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// How many of `nodes` see `name` with `status` (and, if given, `generation`).
async fn count_seeing(nodes: &[&DemoNode], name: &str, status: MemberStatus, generation: Option<u64>) -> usize {
    let mut n = 0;
    for node in nodes {
        if let Ok(members) = node.cluster.members().await
            && members
                .iter()
                .any(|m| &*m.id.name == name && m.status == status && generation.is_none_or(|g| m.id.generation == g))
        {
            n += 1;
        }
    }
    n
}

/// How many of `nodes` hold `owner`'s `key` at `version` or later.
async fn count_key(nodes: &[&DemoNode], owner: &str, key: &str, version: u64) -> usize {
    let mut n = 0;
    for node in nodes {
        if let Ok(Some(v)) = node.cluster.get(owner, key).await
            && v.version >= version
            && !v.tombstone
        {
            n += 1;
        }
    }
    n
}

/// Waits until all of `nodes` hold the key, narrating progress.
async fn watch_spread(clock: &Clock, nodes: &[&DemoNode], owner: &str, key: &str, version: u64) {
    let started = Instant::now();
    let total = nodes.len();
    let last = &std::cell::Cell::new(0);
    let done = wait_for(Duration::from_secs(20), || async move {
        let n = count_key(nodes, owner, key, version).await;
        if n != last.get() {
            last.set(n);
            if n < total {
                clock.say(format!("  {key} v{version} seen by {n}/{total} nodes"));
            }
        }
        (n == total).then_some(())
    })
    .await;
    match done {
        Some(()) => clock.say(format!(
            "  {key} v{version} seen by {total}/{total} nodes (spread in {} ms)",
            started.elapsed().as_millis()
        )),
        None => clock.say(format!("  {key} v{version} did not reach every node within 20 s")),
    }
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let c = config();
    println!(
        "hearsay demo: {} nodes on 127.0.0.1 ({} ms rounds, fanout {}, {} {}, phi threshold {})",
        args.nodes,
        c.gossip_interval.as_millis(),
        c.fanout,
        c.strategy.as_str(),
        c.exchange.as_str(),
        c.detector.phi_threshold
    );
    let clock = Clock(Instant::now());
    let mut nodes: Vec<DemoNode> = Vec::new();
    let loopback = std::net::Ipv4Addr::LOCALHOST;
    for i in 0..args.nodes {
        let name = format!("node-{}", i + 1);
        let seeds = nodes.first().map(|n| vec![n.gossip]).unwrap_or_default();
        let http_addr = SocketAddr::from((loopback, args.http_port.saturating_add(i as u16)));
        let node = start_node(&name, 1, SocketAddr::from((loopback, 0)), seeds, http_addr, None).await?;
        nodes.push(node);
    }
    for node in &nodes {
        println!("  {:<8} gossip {}  http {}  dashboard http://{}/", node.name, node.gossip, node.http, node.http);
    }
    if let Some(first) = nodes.first() {
        println!("try, in another terminal:");
        println!("  hearsay members --http {}", first.http);
        println!("  hearsay set greeting hello --http {}", first.http);
        println!("  hearsay watch --http {}", first.http);
    }
    println!();

    let stop = async {
        match args.duration {
            Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    tokio::select! {
        r = script(&clock, &mut nodes) => r?,
        _ = stop => {}
    }
    clock.say("stopping");
    for node in &nodes {
        node.stop_http.send_replace(true);
        node.cluster.shutdown().await;
    }
    Ok(())
}

/// The narrated sequence; runs until the demo is stopped.
async fn script(clock: &Clock, nodes: &mut [DemoNode]) -> anyhow::Result<()> {
    let total = nodes.len();
    // 1. Membership.
    let started = Instant::now();
    let last = &std::cell::Cell::new(0);
    let view: &[DemoNode] = nodes;
    let converged = wait_for(Duration::from_secs(30), || {
        let nodes = view;
        async move {
            let mut full = 0;
            for node in nodes {
                if let Ok(m) = node.cluster.members().await
                    && m.iter().filter(|m| m.status == MemberStatus::Alive).count() == total
                {
                    full += 1;
                }
            }
            if full != last.get() {
                last.set(full);
                if full < total {
                    clock.say(format!("membership: {full}/{total} nodes see all {total} members alive"));
                }
            }
            (full == total).then_some(())
        }
    })
    .await;
    match converged {
        Some(()) => clock.say(format!(
            "membership: {total}/{total} nodes see all {total} members alive (converged in {} ms)",
            started.elapsed().as_millis()
        )),
        None => clock.say("membership did not converge within 30 s"),
    }

    // 2. A key spreads.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let writer = &nodes[1 % total];
    let version = writer.cluster.set("demo/greeting", format!("hello from {}", writer.name)).await?;
    clock.say(format!("{} sets demo/greeting = \"hello from {}\" (version {version})", writer.name, writer.name));
    let writer_name = writer.name.clone();
    {
        let all: Vec<&DemoNode> = nodes.iter().collect();
        watch_spread(clock, &all, &writer_name, "demo/greeting", version).await;
    }

    // 3. A node dies without leaving.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let victim_idx = total - 1;
    let victim_name = nodes[victim_idx].name.clone();
    nodes[victim_idx].cluster.set("demo/owner", victim_name.clone()).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let snapshot = nodes[victim_idx].cluster.snapshot().await?;
    let (own_keys, max_version) = snapshot
        .members
        .iter()
        .find(|m| m.info.is_self)
        .map(|m| {
            let keys: Vec<(String, Vec<u8>, u64)> = m
                .keys
                .iter()
                .filter(|(_, v)| !v.tombstone)
                .map(|(k, v)| (k.clone(), v.value.to_vec(), v.version))
                .collect();
            (keys, m.info.max_version)
        })
        .unwrap_or_default();
    let victim_gossip = nodes[victim_idx].gossip;
    let victim_http = nodes[victim_idx].http;
    let old_generation = nodes[victim_idx].cluster.id().generation;
    clock.say(format!("killing {victim_name} (no leave: the others must notice on their own)"));
    nodes[victim_idx].stop_http.send_replace(true);
    nodes[victim_idx].cluster.shutdown().await;
    let killed_at = Instant::now();
    {
        let survivors: Vec<&DemoNode> = nodes[..victim_idx].iter().collect();
        let n = survivors.len();
        let last = &std::cell::Cell::new((0, 0));
        let detected = wait_for(Duration::from_secs(60), || {
            let survivors = &survivors;
            let victim_name = &victim_name;
            async move {
                let suspect = count_seeing(survivors, victim_name, MemberStatus::Suspect, None).await;
                let dead = count_seeing(survivors, victim_name, MemberStatus::Dead, None).await;
                if (suspect, dead) != last.get() {
                    last.set((suspect, dead));
                    clock.say(format!("  {victim_name}: suspect on {suspect}/{n}, dead on {dead}/{n} survivors"));
                }
                (dead == n).then_some(())
            }
        })
        .await;
        match detected {
            Some(()) => clock.say(format!(
                "{victim_name} declared dead by all {n} survivors ({:.1} s after the kill)",
                killed_at.elapsed().as_secs_f64()
            )),
            None => clock.say(format!("{victim_name} was not declared dead everywhere within 60 s")),
        }
    }

    // 4. It comes back with a higher generation and its keys.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let generation = old_generation + 1;
    clock.say(format!(
        "restarting {victim_name} with generation {generation} (own keys restored: {}; versions continue after {max_version})",
        own_keys.len()
    ));
    let seeds = vec![nodes[0].gossip];
    let restarted =
        start_node(&victim_name, generation, victim_gossip, seeds, victim_http, Some((own_keys, max_version))).await?;
    nodes[victim_idx] = restarted;
    let rejoin = Instant::now();
    {
        let all: Vec<&DemoNode> = nodes.iter().collect();
        let all = &all;
        let victim_name = &victim_name;
        let back = wait_for(Duration::from_secs(30), || async move {
            (count_seeing(all, victim_name, MemberStatus::Alive, Some(generation)).await == total).then_some(())
        })
        .await;
        match back {
            Some(()) => clock.say(format!(
                "{victim_name}#{generation} alive on {total}/{total} nodes (rejoined in {} ms)",
                rejoin.elapsed().as_millis()
            )),
            None => clock.say(format!("{victim_name}#{generation} not seen alive everywhere within 30 s")),
        }
        let version = nodes[victim_idx].cluster.set("demo/owner", format!("{victim_name}, back")).await?;
        clock.say(format!("{victim_name} writes demo/owner again: version {version} (after {max_version})"));
        watch_spread(clock, all, victim_name, "demo/owner", version).await;
    }

    // 5. Steady state: a counter, until stopped.
    clock.say("now updating demo/counter on node-1 every 3 s; open a dashboard or try the CLI (Ctrl-C to stop)");
    let all: Vec<&DemoNode> = nodes.iter().collect();
    let mut i: u64 = 0;
    loop {
        tokio::time::sleep(Duration::from_secs(3)).await;
        i += 1;
        let version = all[0].cluster.set("demo/counter", i.to_string()).await?;
        clock.say(format!("node-1 sets demo/counter = {i} (version {version})"));
        watch_spread(clock, &all, &all[0].name, "demo/counter", version).await;
    }
}
