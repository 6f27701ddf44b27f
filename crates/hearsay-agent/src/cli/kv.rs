//! `hearsay kv`: the keys of every node (or one node, or a prefix).

use std::process::ExitCode;

use super::client::{self, ClientOpts, display_value, print_json, table};
use crate::api::EntryJson;

/// `hearsay kv`.
#[derive(clap::Args, Debug)]
pub(crate) struct KvArgs {
    /// Only this node's keys.
    #[arg(long)]
    node: Option<String>,
    /// Only keys starting with this.
    #[arg(long)]
    prefix: Option<String>,
    #[command(flatten)]
    opts: ClientOpts,
}

/// Runs `hearsay kv`.
pub(crate) fn run(args: KvArgs) -> ExitCode {
    client::run(&args.opts, async |client| {
        let entries = client.kv(args.node.as_deref(), args.prefix.as_deref()).await?;
        if args.opts.json {
            print_json(&entries)
        } else {
            print!("{}", kv_table(&entries));
            Ok(())
        }
    })
}

fn kv_table(entries: &[EntryJson]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| vec![e.node.clone(), e.key.clone(), e.version.to_string(), display_value(&e.value)])
        .collect();
    table(&["NODE", "KEY", "VERSION", "VALUE"], &rows)
}
