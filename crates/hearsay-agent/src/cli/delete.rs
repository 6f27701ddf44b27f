//! `hearsay delete KEY`: delete a key of the agent's own node.

use std::process::ExitCode;

use super::client::{self, ClientOpts, print_json, printable};

/// `hearsay delete KEY`.
#[derive(clap::Args, Debug)]
pub(crate) struct DeleteArgs {
    /// The key (owned by the agent's node).
    key: String,
    #[command(flatten)]
    opts: ClientOpts,
}

/// Runs `hearsay delete`.
pub(crate) fn run(args: DeleteArgs) -> ExitCode {
    client::run(&args.opts, async |client| {
        let written = client.delete(&args.key).await?;
        if args.opts.json {
            print_json(&written)
        } else {
            println!(
                "{}: deleted `{}` at version {}",
                printable(&written.node),
                printable(&written.key),
                written.version
            );
            Ok(())
        }
    })
}
