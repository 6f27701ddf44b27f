//! `hearsay event NAME [PAYLOAD|-]`: send a user event to every live member.

use std::process::ExitCode;

use super::client::{self, ClientOpts, print_json, printable};

/// `hearsay event NAME [PAYLOAD|-] [--coalesce]`.
#[derive(clap::Args, Debug)]
pub(crate) struct EventArgs {
    /// The event's name.
    name: String,
    /// The payload; `-` reads it from standard input [default: empty].
    payload: Option<String>,
    /// Replace older pending events of the same name (members that have not received those
    /// yet get only this one).
    #[arg(long)]
    coalesce: bool,
    #[command(flatten)]
    opts: ClientOpts,
}

/// Runs `hearsay event`.
pub(crate) fn run(args: EventArgs) -> ExitCode {
    let EventArgs { name, payload, coalesce, opts } = args;
    client::run(&opts, async |client| {
        let payload = client::read_payload(payload.as_deref())?;
        let sent = client.send_event(&name, payload, coalesce).await?;
        if opts.json {
            print_json(&sent)
        } else {
            println!("{}: sent event `{}` (lamport time {})", printable(&sent.node), printable(&sent.name), sent.ltime);
            Ok(())
        }
    })
}
