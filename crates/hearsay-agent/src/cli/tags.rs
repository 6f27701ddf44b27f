//! `hearsay tags [set k=v... | delete k...]`: show or change the agent's tags.
//!
//! `set` and `delete` read the agent's tags, change the named ones and write the whole set
//! back (`PUT /v1/tags`), so the other tags stay as they were.

use std::process::ExitCode;

use super::client::{self, ClientOpts, print_json, printable};
use crate::api::TagsJson;

/// What `hearsay tags` does.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum TagsAction {
    /// Set tags, key=value (other tags are kept).
    Set {
        /// key=value pairs.
        #[arg(required = true, value_parser = crate::tags::parse_pair)]
        pairs: Vec<(String, String)>,
    },
    /// Remove tags by key.
    Delete {
        /// Keys.
        #[arg(required = true)]
        keys: Vec<String>,
    },
}

/// `hearsay tags`.
#[derive(clap::Args, Debug)]
pub(crate) struct TagsArgs {
    #[command(subcommand)]
    action: Option<TagsAction>,
    #[command(flatten)]
    opts: ClientOpts,
}

/// Runs `hearsay tags`.
pub(crate) fn run(args: TagsArgs) -> ExitCode {
    let json = args.opts.json;
    client::run(&args.opts, async |client| {
        let mut tags = client.tags().await?.tags;
        match args.action {
            None => {}
            Some(TagsAction::Set { pairs }) => {
                tags.extend(pairs);
                tags = client.set_tags(TagsJson { tags }).await?.tags;
            }
            Some(TagsAction::Delete { keys }) => {
                for key in &keys {
                    tags.remove(key);
                }
                tags = client.set_tags(TagsJson { tags }).await?.tags;
            }
        }
        if json {
            print_json(&TagsJson { tags })
        } else {
            for (k, v) in &tags {
                println!("{}={}", printable(k), printable(v));
            }
            Ok(())
        }
    })
}
