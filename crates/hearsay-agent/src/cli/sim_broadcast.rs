//! `hearsay sim broadcast`: RMR, LDH, delivery and duplicates of every strategy (see
//! `hearsay_sim::broadcast`), in four runs per strategy: one sender at `--nodes`, the same with
//! `--loss` (2 % unless given) and with 10 % of the nodes crashed mid-broadcast, and every node
//! sending at `--all-senders-nodes`. Prints a Markdown table (or `--json`).

use anyhow::{Context, Result};
use hearsay_core::Strategy;
use hearsay_sim::broadcast::{self, BroadcastParams, BroadcastReport, Senders};
use hearsay_sim::net::Latency;

use super::sim::SimArgs;

/// Measured writes of a single-sender run, after this many unmeasured ones.
const MESSAGES: usize = 20;
const WARMUP: usize = 10;

/// One row: the setup's name and its report.
#[derive(serde::Serialize)]
struct Row {
    setup: String,
    #[serde(flatten)]
    report: BroadcastReport,
}

pub(crate) fn run(args: &SimArgs) -> Result<bool> {
    let latency = Latency::parse_ms(&args.latency_ms).map_err(anyhow::Error::msg)?;
    let strategies: Vec<Strategy> = if args.compare.is_empty() {
        vec![Strategy::AntiEntropy, Strategy::Rumor, Strategy::Hybrid, Strategy::Plumtree]
    } else {
        args.compare.iter().map(|s| (*s).into()).collect()
    };
    let loss = if args.loss > 0.0 { args.loss } else { 0.02 };
    let one = Senders::One { messages: MESSAGES, warmup: WARMUP };
    let setups: Vec<(String, usize, Senders, f64, f64)> = vec![
        (format!("1 sender, N={}", args.nodes), args.nodes, one, 0.0, 0.0),
        (format!("1 sender, N={}, {:.0} % loss", args.nodes, loss * 100.0), args.nodes, one, loss, 0.0),
        (format!("1 sender, N={}, 10 % crash", args.nodes), args.nodes, one, 0.0, 0.1),
        (format!("all send, N={}", args.all_senders_nodes), args.all_senders_nodes, Senders::All, 0.0, 0.0),
    ];
    let mut rows = Vec::new();
    for (setup, nodes, senders, loss, crash_fraction) in setups {
        for &strategy in &strategies {
            let params = BroadcastParams {
                nodes,
                strategy,
                fanout: args.fanout.max(1),
                senders,
                loss,
                crash_fraction,
                latency,
                seed: args.seed,
                max_rounds: args.max_rounds,
            };
            let report = broadcast::run(&params).with_context(|| format!("{setup}, {}", strategy.as_str()))?;
            eprintln!("{setup}, {}: done", strategy.as_str());
            rows.push(Row { setup: setup.clone(), report });
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", table(&rows));
    }
    Ok(rows.iter().all(|r| r.report.delivery > 0.0))
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| setup | strategy | writes | delivery | RMR | first RMR | LDH mean / max | payload copies | duplicates | last delivery p50 / p99 ms | msgs/node |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for Row { setup, report: r } in rows {
        out.push_str(&format!(
            "| {setup} | {} | {} | {:.2} % | {:.2} | {} | {:.1} / {} | {} | {} | {:.0} / {:.0} | {:.1} |\n",
            r.strategy,
            r.writes,
            r.delivery * 100.0,
            r.rmr,
            r.first_rmr.map_or("-".to_string(), |x| format!("{x:.2}")),
            r.ldh_mean,
            r.ldh_max,
            r.payload_copies,
            r.duplicates,
            r.last_delivery_p50_ms,
            r.last_delivery_p99_ms,
            r.messages_per_node,
        ));
    }
    out
}
