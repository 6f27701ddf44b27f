//! `hearsay watch`: the agent's events (membership and key changes), one line each, until the
//! agent closes the stream.

use std::io::Write;
use std::process::ExitCode;

use super::client::{self, ClientOpts, display_value};
use crate::api::EventJson;
use crate::client::ClientError;

/// `hearsay watch`.
#[derive(clap::Args, Debug)]
pub(crate) struct WatchArgs {
    /// Only key changes for keys starting with this (membership events always show).
    #[arg(long)]
    prefix: Option<String>,
    #[command(flatten)]
    opts: ClientOpts,
}

/// Runs `hearsay watch`.
pub(crate) fn run(args: WatchArgs) -> ExitCode {
    let json = args.opts.json;
    client::run(&args.opts, async |client| {
        client
            .watch(args.prefix.as_deref(), |event, raw| {
                if json {
                    println!("{raw}");
                } else {
                    println!("{}", describe_event(event));
                }
                let _ = std::io::stdout().flush();
            })
            .await?;
        Err(ClientError::Other("the agent closed the event stream".into()))
    })
}

fn describe_event(e: &EventJson) -> String {
    let who = format!("{}#{}@{}", e.node, e.generation, e.addr);
    match e.kind.as_str() {
        "key_changed" => {
            let key = e.key.as_deref().unwrap_or("");
            let version = e.version.unwrap_or(0);
            if e.deleted == Some(true) {
                format!("key_changed   {} {key} deleted (version {version})", e.node)
            } else {
                format!("key_changed   {} {key} = {} (version {version})", e.node, display_value(&e.value))
            }
        }
        "member_suspect" => format!("{:<13} {who} (phi {:.2})", e.kind, e.phi.unwrap_or(0.0)),
        kind => format!("{kind:<13} {who}"),
    }
}
