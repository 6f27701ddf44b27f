//! A service that publishes its load under the key `load` every second and prints everyone
//! else's as it changes.
//!
//! ```text
//! cargo run -p hearsay --example load -- --bind 127.0.0.1:7000
//! cargo run -p hearsay --example load -- --bind 127.0.0.1:7001 --seed 127.0.0.1:7000
//! ```
//! Ctrl-C leaves the cluster gracefully.

use std::net::SocketAddr;
use std::time::Duration;

use hearsay::{Cluster, Config, Event};

struct Args {
    bind: SocketAddr,
    seeds: Vec<SocketAddr>,
    name: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { bind: SocketAddr::from(([127, 0, 0, 1], 7000)), seeds: Vec::new(), name: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--bind" => args.bind = value()?.parse().map_err(|e| format!("--bind: {e}"))?,
            "--seed" => args.seeds.push(value()?.parse().map_err(|e| format!("--seed: {e}"))?),
            "--name" => args.name = Some(value()?),
            other => return Err(format!("unknown argument {other}; use --bind ADDR [--seed ADDR]... [--name NAME]")),
        }
    }
    Ok(args)
}

/// The one-minute load average, or a made-up figure where /proc is missing.
fn current_load(tick: u64) -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| format!("{:.2}", (tick % 10) as f64 / 10.0))
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut builder = Cluster::builder(Config::local()).bind(args.bind).seeds(args.seeds);
    if let Some(name) = args.name {
        builder = builder.name(name);
    }
    let cluster = match builder.spawn().await {
        Ok(cluster) => cluster,
        Err(e) => {
            eprintln!("cannot start: {e}");
            std::process::exit(1);
        }
    };
    let me = cluster.id().clone();
    println!("{me} started");

    let mut events = cluster.subscribe_prefix("load");
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut count = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                count += 1;
                if let Err(e) = cluster.set("load", current_load(count)).await {
                    eprintln!("publishing load failed: {e}");
                }
            }
            event = events.recv() => match event {
                Some(Ok(Event::KeyChanged { owner, value, .. })) if owner.name != me.name => {
                    let text = value.map_or_else(|| "(gone)".to_owned(), |v| String::from_utf8_lossy(&v).into_owned());
                    println!("{:>12} load {text}", owner.name);
                }
                Some(Ok(Event::KeyChanged { .. })) => {}
                Some(Ok(other)) => println!("membership: {other:?}"),
                Some(Err(lagged)) => println!("{lagged}"),
                None => break,
            },
            _ = tokio::signal::ctrl_c() => {
                println!("leaving");
                if let Err(e) = cluster.leave().await {
                    eprintln!("leave failed: {e}");
                }
                break;
            }
        }
    }
}
