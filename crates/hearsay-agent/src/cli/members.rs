//! `hearsay members`: the members as the agent sees them.

use std::process::ExitCode;

use super::client::{self, ClientOpts, print_json, table};
use crate::api::MemberJson;

/// `hearsay members`.
#[derive(clap::Args, Debug)]
pub(crate) struct MembersArgs {
    #[command(flatten)]
    opts: ClientOpts,
}

/// Runs `hearsay members`.
pub(crate) fn run(args: MembersArgs) -> ExitCode {
    let json = args.opts.json;
    client::run(&args.opts, async |client| {
        let members = client.members().await?;
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
                if m.is_self { format!("{} *", m.name) } else { m.name.clone() },
                m.status.clone(),
                match (m.is_self, m.phi) {
                    (true, _) => "-".to_string(),
                    (false, Some(phi)) => format!("{phi:.2}"),
                    (false, None) => "inf".to_string(),
                },
                m.generation.to_string(),
                m.addr.clone(),
                m.max_version.to_string(),
                m.live_keys.to_string(),
            ]
        })
        .collect();
    table(&["NAME", "STATUS", "PHI", "GENERATION", "ADDR", "MAX_VERSION", "KEYS"], &rows)
}
