//! `hearsay set KEY VALUE`: write a key of the agent's own node.

use std::process::ExitCode;

use super::client::{self, ClientOpts, print_json, printable};
use crate::client::ClientError;

/// `hearsay set KEY VALUE`.
#[derive(clap::Args, Debug)]
pub(crate) struct SetArgs {
    /// The key (owned by the agent's node).
    key: String,
    /// The value; `-` reads it from standard input.
    value: String,
    /// Delete the key after this many seconds.
    #[arg(long)]
    ttl: Option<u64>,
    #[command(flatten)]
    opts: ClientOpts,
}

/// Runs `hearsay set`.
pub(crate) fn run(args: SetArgs) -> ExitCode {
    let SetArgs { key, value, ttl, opts } = args;
    client::run(&opts, async |client| {
        let value = if value == "-" {
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
                .map_err(|e| ClientError::Other(format!("cannot read the value from standard input: {e}")))?;
            buf
        } else {
            value.into_bytes()
        };
        let written = client.set(&key, value, ttl).await?;
        if opts.json {
            print_json(&written)
        } else {
            println!("{}: set `{}` at version {}", printable(&written.node), printable(&written.key), written.version);
            Ok(())
        }
    })
}
