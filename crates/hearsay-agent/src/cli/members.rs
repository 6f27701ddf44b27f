//! `hearsay members`: the members as the agent sees them.

use std::process::ExitCode;

use super::client::{self, ClientOpts, print_json, printable, table};
use crate::api::MemberJson;

/// `hearsay members [--tag k=v]...`.
#[derive(clap::Args, Debug)]
pub(crate) struct MembersArgs {
    /// Only members with this tag, key=value, exact value; repeat for more (all must hold).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = crate::tags::parse_pair)]
    tags: Vec<(String, String)>,
    #[command(flatten)]
    opts: ClientOpts,
}

/// Runs `hearsay members`.
pub(crate) fn run(args: MembersArgs) -> ExitCode {
    let json = args.opts.json;
    client::run(&args.opts, async |client| {
        let members = client.members(&args.tags).await?;
        if json {
            print_json(&members)
        } else {
            print!("{}", members_table(&members));
            Ok(())
        }
    })
}

fn members_table(members: &[MemberJson]) -> String {
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| {
            vec![
                if m.is_self { format!("{} *", printable(&m.name)) } else { printable(&m.name) },
                printable(&m.status),
                match (m.is_self, m.phi) {
                    (true, _) => "-".to_string(),
                    (false, Some(phi)) => format!("{phi:.2}"),
                    (false, None) => "inf".to_string(),
                },
                m.generation.to_string(),
                printable(&m.addr),
                m.max_version.to_string(),
                m.live_keys.to_string(),
                printable(&crate::tags::format_tags(&m.tags)),
            ]
        })
        .collect();
    table(&["NAME", "STATUS", "PHI", "GENERATION", "ADDR", "MAX_VERSION", "KEYS", "TAGS"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_cannot_drive_the_terminal() {
        let member: MemberJson = serde_json::from_value(serde_json::json!({
            "name": "evil\u{1b}]0;owned\u{7}\nfake-row alive",
            "generation": 1, "addr": "127.0.0.1:1\u{1b}[2J", "status": "alive", "phi": 0.5,
            "max_version": 0, "heartbeat": 0, "live_keys": 0, "is_self": false
        }))
        .unwrap();
        let text = members_table(&[member]);
        assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'), "{text:?}");
        assert_eq!(text.lines().count(), 2, "one header and one row: {text:?}");
        assert!(text.contains("evil\\u{1b}]0;owned\\u{7}\\nfake-row"), "{text:?}");
    }
}
