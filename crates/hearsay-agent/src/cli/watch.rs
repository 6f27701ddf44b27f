//! `hearsay watch`: the agent's events (membership and key changes), one line each, until the
//! agent closes the stream.

use std::io::Write;
use std::process::ExitCode;

use super::client::{self, ClientOpts, display_value, printable};
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
    let node = printable(&e.node);
    let who = format!("{node}#{}@{}", e.generation, printable(&e.addr));
    match e.kind.as_str() {
        "key_changed" => {
            let key = printable(e.key.as_deref().unwrap_or(""));
            let version = e.version.unwrap_or(0);
            if e.deleted == Some(true) {
                format!("key_changed   {node} {key} deleted (version {version})")
            } else {
                format!("key_changed   {node} {key} = {} (version {version})", display_value(&e.value))
            }
        }
        "member_suspect" => format!("{:<13} {who} (phi {:.2})", e.kind, e.phi.unwrap_or(0.0)),
        "name_conflict" => {
            let holder = printable(e.holder.as_deref().unwrap_or("?"));
            let claimant = printable(&e.addr);
            let refused = if e.refused == Some(true) { " (this node is refused)" } else { "" };
            format!("name_conflict {node} kept by {holder}, refused to {claimant}{refused}")
        }
        "isolated" => format!("isolated      {who} hears from no member"),
        "reconnected" => format!("reconnected   {who}"),
        "user_event" => format!(
            "user_event    {} from {node} = {} (lamport time {})",
            printable(e.name.as_deref().unwrap_or("")),
            display_value(&e.value),
            e.ltime.unwrap_or(0)
        ),
        "tags_changed" => {
            format!("tags_changed  {who} {}", printable(&crate::tags::format_tags(&e.tags.clone().unwrap_or_default())))
        }
        "lagged" => format!("lagged        {} events missed: this stream fell behind", e.missed.unwrap_or(0)),
        kind => format!("{:<13} {who}", printable(kind)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: serde_json::Value) -> EventJson {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn event_lines_cannot_drive_the_terminal() {
        let changed = event(serde_json::json!({
            "kind": "key_changed", "node": "n\u{1b}[1m", "generation": 1, "addr": "127.0.0.1:1",
            "key": "k\nmember_left   n9", "value": "v\u{1b}[0m", "version": 2
        }));
        let joined = event(serde_json::json!({
            "kind": "member_joined", "node": "x\u{8}\u{8}y", "generation": 1, "addr": "a\nb"
        }));
        for line in [describe_event(&changed), describe_event(&joined)] {
            assert!(!line.chars().any(char::is_control), "{line:?}");
        }
        assert!(describe_event(&changed).contains("k\\nmember_left"));
    }

    #[test]
    fn conflicts_isolation_and_lag_have_their_own_lines() {
        let conflict = event(serde_json::json!({
            "kind": "name_conflict", "node": "web\u{1b}]0;x", "generation": 0, "addr": "10.0.0.9:7946",
            "holder": "10.0.0.1:7946", "refused": true
        }));
        let line = describe_event(&conflict);
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(line.contains("kept by 10.0.0.1:7946, refused to 10.0.0.9:7946 (this node is refused)"), "{line}");
        let lagged = event(serde_json::json!({"kind": "lagged", "node": "", "generation": 0, "addr": "", "missed": 7}));
        assert!(describe_event(&lagged).contains("7 events missed"));
        let isolated =
            event(serde_json::json!({"kind": "isolated", "node": "a", "generation": 2, "addr": "127.0.0.1:1"}));
        assert_eq!(describe_event(&isolated), "isolated      a#2@127.0.0.1:1 hears from no member");
    }
}
