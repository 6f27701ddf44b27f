//! Wall time of spread runs (`cargo bench -p hearsay-sim`): the scale figures of
//! docs/simulation.md. Peak memory is measured from outside with `/usr/bin/time -v`.
//!
//! Sizes come from the command line (`cargo bench -p hearsay-sim -- 100 1000 2000`); the
//! default is 100 and 1,000 nodes. Each size runs push anti-entropy, fanout 1, three runs.

use std::time::Instant;

use hearsay_core::ExchangeMode;
use hearsay_sim::scenario::{Params, run_one};

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![100, 1_000] } else { sizes };
    for nodes in sizes {
        let params = Params { nodes, exchange: ExchangeMode::Push, runs: 3, ..Params::default() };
        for run in 0..params.runs {
            let start = Instant::now();
            let report = match run_one(&params, run) {
                Ok(report) => report,
                Err(e) => {
                    eprintln!("N = {nodes}: {e}");
                    return;
                }
            };
            println!(
                "spread N = {nodes:>6} run {run}: {:>8.3} s wall, rounds to all {:?}",
                start.elapsed().as_secs_f64(),
                report.rounds_to_all
            );
        }
    }
}
