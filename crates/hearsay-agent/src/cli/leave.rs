//! `hearsay leave`: make the agent leave the cluster gracefully and stop.

use std::process::ExitCode;

use super::client::{self, PlainArgs, print_json, printable};

/// Runs `hearsay leave`.
pub(crate) fn run(args: PlainArgs) -> ExitCode {
    client::run(&args.opts, async |client| {
        let answer = client.leave().await?;
        if args.opts.json {
            print_json(&answer)
        } else {
            let node = answer.get("node").and_then(|n| n.as_str()).unwrap_or("the node");
            println!("{} left the cluster", printable(node));
            Ok(())
        }
    })
}
