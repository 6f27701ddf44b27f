//! `hearsay kv`: the keys of every node (or one node, or a prefix).

use std::process::ExitCode;

use super::client::{self, ClientOpts, display_value, print_json, printable, table};
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
        .map(|e| vec![printable(&e.node), printable(&e.key), e.version.to_string(), display_value(&e.value)])
        .collect();
    table(&["NODE", "KEY", "VERSION", "VALUE"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ValueJson;

    #[test]
    fn keys_and_node_names_cannot_drive_the_terminal() {
        let entry = EntryJson {
            node: "n\u{1b}[31m1".into(),
            key: "k\r\nn2  forged  9  value\u{1b}[0m".into(),
            value: ValueJson::new(b"v"),
            version: 1,
        };
        let text = kv_table(&[entry]);
        assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text:?}");
        assert_eq!(text.lines().count(), 2, "no forged row: {text:?}");
        assert!(text.contains("n\\u{1b}[31m1") && text.contains("k\\r\\nn2"), "{text:?}");
    }
}
