//! `hearsay sim textbook`: every rumor mongering variant of Demers et al. 1987 (push and pull,
//! feedback and blind, counter and coin, k = 1..5) in the textbook setup, one update per run,
//! with residue, traffic, t_ave and t_last averaged over `--runs` and put next to the paper's
//! Tables 1 and 2 (see `hearsay_sim::textbook`). Prints a Markdown table (or `--json`).

use anyhow::{Result, bail};
use hearsay_core::ExchangeMode;
use hearsay_sim::net::Latency;
use hearsay_sim::textbook::{self, TextbookParams, Variant};

use super::sim::{ExchangeArg, SimArgs};

pub(crate) fn run(args: &SimArgs) -> Result<bool> {
    if args.nodes < 2 || args.runs == 0 {
        bail!("--nodes must be at least 2 and --runs at least 1");
    }
    let latency = Latency::parse_ms(&args.latency_ms).map_err(anyhow::Error::msg)?;
    let exchanges: Vec<ExchangeMode> = if args.textbook_exchange.is_empty() {
        vec![ExchangeMode::Push, ExchangeMode::Pull]
    } else {
        args.textbook_exchange
            .iter()
            .map(|e| match e {
                ExchangeArg::Push => ExchangeMode::Push,
                ExchangeArg::Pull => ExchangeMode::Pull,
                ExchangeArg::PushPull => ExchangeMode::PushPull,
            })
            .collect()
    };
    let variants = exchanges
        .iter()
        .flat_map(|&exchange| {
            Variant::all()
                .into_iter()
                .filter(move |v| v.exchange == ExchangeMode::Push)
                .map(move |v| Variant { exchange, ..v })
        })
        .collect();
    let params = TextbookParams {
        nodes: args.nodes,
        runs: args.runs,
        seed: args.seed,
        max_rounds: args.max_rounds,
        latency,
        variants,
        ..TextbookParams::default()
    };
    let rows = textbook::run(&params, |row| {
        eprintln!(
            "{} k={}: residue {:.4}, traffic {:.2}, t_ave {:.2}, t_last {:.2}",
            row.variant, row.k, row.residue, row.traffic, row.t_ave, row.t_last
        );
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!(
            "{} nodes, {} runs per row from seed {}, fanout 1, textbook setup; paper: Demers et al. 1987, 1000 sites",
            params.nodes, params.runs, params.seed
        );
        print!("{}", textbook::markdown(&rows));
    }
    for row in rows.iter().filter(|r| r.unfinished_runs > 0) {
        eprintln!(
            "{} k={}: {} runs still had a hot rumor after --max-rounds {} (figures partial)",
            row.variant, row.k, row.unfinished_runs, params.max_rounds
        );
    }
    Ok(rows.iter().all(|r| r.violations == 0))
}
