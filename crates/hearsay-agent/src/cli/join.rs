//! `hearsay join ADDR...`: make the agent join a cluster through these addresses now (to add
//! an agent started without seeds, or to merge two clusters).

use std::process::ExitCode;

use super::client::{self, ClientOpts, print_json, printable};

/// `hearsay join ADDR...`.
#[derive(clap::Args, Debug)]
pub(crate) struct JoinArgs {
    /// Gossip addresses of members to join through: ip:port or host:port (resolved by the agent).
    #[arg(required = true, value_name = "ADDR")]
    addrs: Vec<String>,
    #[command(flatten)]
    opts: ClientOpts,
}

/// Runs `hearsay join`.
pub(crate) fn run(args: JoinArgs) -> ExitCode {
    let JoinArgs { addrs, opts } = args;
    client::run(&opts, async |client| {
        let answer = client.join(addrs).await?;
        if opts.json {
            print_json(&answer)
        } else {
            let contacted: Vec<String> = answer.contacted.iter().map(|a| printable(a)).collect();
            println!("joining through {} (`hearsay members` shows who answered)", contacted.join(", "));
            Ok(())
        }
    })
}
