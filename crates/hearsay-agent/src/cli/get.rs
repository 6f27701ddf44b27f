//! `hearsay get NODE KEY`: one key of one node; the value goes to stdout as it is.

use std::io::Write;
use std::process::ExitCode;

use super::client::{self, ClientOpts, print_json};
use crate::client::ClientError;

/// `hearsay get NODE KEY`.
#[derive(clap::Args, Debug)]
pub(crate) struct GetArgs {
    /// Owner of the key.
    node: String,
    /// The key.
    key: String,
    #[command(flatten)]
    opts: ClientOpts,
}

/// Runs `hearsay get`.
pub(crate) fn run(args: GetArgs) -> ExitCode {
    client::run(&args.opts, async |client| {
        let entry = client.get(&args.node, &args.key).await?;
        if args.opts.json {
            return print_json(&entry);
        }
        match (&entry.value.value, entry.value.bytes()) {
            (Some(text), _) => println!("{text}"),
            // Binary values go to stdout as they are, so `hearsay get n k > file` works.
            (None, Some(bytes)) => {
                let mut out = std::io::stdout();
                out.write_all(&bytes).and_then(|_| out.flush()).map_err(|e| ClientError::Other(e.to_string()))?;
            }
            (None, None) => return Err(ClientError::Other("the agent sent a value that cannot be decoded".into())),
        }
        Ok(())
    })
}
