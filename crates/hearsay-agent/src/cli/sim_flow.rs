//! `hearsay sim flow`: the flow-control experiment (see `hearsay_sim::flow`). Writers offer
//! more than gossip carries, the MTU is lowered mid-run; the same seed runs with flow control
//! and without. Prints a Markdown table of staleness per window of rounds (or `--json`);
//! `--out DIR` also writes `flow.json`, `flow.md` and the chart `flow.svg`.

use anyhow::{Context, Result, bail};
use hearsay_sim::chart;
use hearsay_sim::flow::{self, FlowParams};

use super::sim::{SimArgs, emit, params};

/// The `--flow-*` flags of `hearsay sim flow`.
#[derive(clap::Args, Debug)]
pub(crate) struct FlowArgs {
    /// flow: nodes that write.
    #[arg(long, default_value_t = 4)]
    pub flow_writers: usize,
    /// flow: writes each writer offers per round (refused ones are dropped).
    #[arg(long, default_value_t = 20)]
    pub flow_writes_per_round: u64,
    /// flow: bytes of each value.
    #[arg(long, default_value_t = 32)]
    pub flow_value_bytes: usize,
    /// flow: rounds measured.
    #[arg(long, default_value_t = 300)]
    pub flow_rounds: u64,
    /// flow: the round after which the MTU is lowered.
    #[arg(long, default_value_t = 150)]
    pub flow_mtu_change_round: u64,
    /// flow: the MTU from then on.
    #[arg(long, default_value_t = 700)]
    pub flow_mtu_after: usize,
}

fn flow_params(args: &SimArgs) -> Result<FlowParams> {
    let base = params(args)?;
    let f = &args.flow;
    if f.flow_writers == 0 || f.flow_writers >= args.nodes {
        bail!("--flow-writers must be within 1..{} (--nodes)", args.nodes);
    }
    if f.flow_writes_per_round == 0 || f.flow_rounds == 0 {
        bail!("--flow-writes-per-round and --flow-rounds must be at least 1");
    }
    if f.flow_mtu_change_round >= f.flow_rounds {
        bail!("--flow-mtu-change-round must be below --flow-rounds");
    }
    let mut config = base.node_config();
    config.mtu = f.flow_mtu_after;
    config.validate().context("--flow-mtu-after")?;
    if f.flow_value_bytes > config.limits.max_value_bytes {
        bail!("--flow-value-bytes must be at most {}", config.limits.max_value_bytes);
    }
    Ok(FlowParams {
        base,
        writers: f.flow_writers,
        writes_per_round: f.flow_writes_per_round,
        value_bytes: f.flow_value_bytes,
        rounds: f.flow_rounds,
        warmup_rounds: FlowParams::default().warmup_rounds,
        mtu_change_round: f.flow_mtu_change_round,
        mtu_after: f.flow_mtu_after,
    })
}

pub(crate) fn run(args: &SimArgs) -> Result<bool> {
    let params = flow_params(args)?;
    eprintln!("running with and without flow control: {}", params.command());
    let comparison = flow::compare(&params)?;
    let table = flow::table(&comparison);
    if args.json {
        emit(&(serde_json::to_string_pretty(&comparison)? + "\n"))?;
    } else {
        emit(&format!(
            "{} nodes, {} writers x {} writes/round of {} bytes, MTU {} -> {} after round {}, seed {}\n\n{table}",
            comparison.nodes,
            comparison.writers,
            comparison.writes_per_round,
            params.value_bytes,
            comparison.mtu_before,
            comparison.mtu_after,
            comparison.mtu_change_round,
            comparison.seed
        ))?;
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let json = dir.join("flow.json");
        std::fs::write(&json, serde_json::to_string_pretty(&comparison)? + "\n")
            .with_context(|| format!("writing {}", json.display()))?;
        let md = dir.join("flow.md");
        std::fs::write(&md, &table).with_context(|| format!("writing {}", md.display()))?;
        chart::flow_staleness(&dir.join("flow.svg"), &comparison)?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::sim::parse_for_tests as parse;

    #[test]
    fn flow_flags_map_onto_params_and_bad_ones_are_named() {
        let p =
            flow_params(&parse(&["flow", "--nodes", "20", "--flow-writers", "3", "--flow-mtu-after", "600"])).unwrap();
        assert_eq!((p.base.nodes, p.writers, p.mtu_after, p.rounds), (20, 3, 600, 300));
        assert!(p.command().contains("--flow-writers 3") && p.command().contains("--flow-mtu-after 600"));
        for (flags, flag) in [
            (&["flow", "--flow-writers", "0"][..], "--flow-writers"),
            (&["flow", "--flow-mtu-after", "20"][..], "--flow-mtu-after"),
            (&["flow", "--flow-mtu-change-round", "400"][..], "--flow-mtu-change-round"),
        ] {
            let message = format!("{:#}", flow_params(&parse(flags)).unwrap_err());
            assert!(message.contains(flag), "{flags:?}: {message}");
        }
    }
}
