//! `hearsay query NAME [PAYLOAD|-]`: ask the members a query, print their answers as they
//! arrive, then a summary (asked, acked, answered, missing).

use std::io::Write;
use std::process::ExitCode;

use super::client::{self, ClientOpts, display_value, printable};

/// `hearsay query NAME [PAYLOAD|-] [--tag k=v]... [--node NAME]... [--timeout-ms MS] [--no-ack]`.
#[derive(clap::Args, Debug)]
pub(crate) struct QueryArgs {
    /// The query's name.
    name: String,
    /// The payload; `-` reads it from standard input [default: empty].
    payload: Option<String>,
    /// Only members with this tag, key=value, exact value; repeat for more (all must hold).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = crate::tags::parse_pair)]
    tags: Vec<(String, String)>,
    /// Only these members (repeat for more).
    #[arg(long = "node", value_name = "NAME")]
    nodes: Vec<String>,
    /// How long to gather answers, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// Do not ask members to acknowledge.
    #[arg(long)]
    no_ack: bool,
    #[command(flatten)]
    opts: ClientOpts,
}

/// Runs `hearsay query`.
pub(crate) fn run(args: QueryArgs) -> ExitCode {
    let json = args.opts.json;
    client::run(&args.opts, async |client| {
        let payload = client::read_payload(args.payload.as_deref())?;
        let mut params: Vec<(&str, String)> = vec![("timeout_ms", args.timeout_ms.to_string())];
        params.extend(args.tags.iter().map(|(k, v)| ("tag", format!("{k}={v}"))));
        params.extend(args.nodes.iter().map(|n| ("node", n.clone())));
        if args.no_ack {
            params.push(("ack", "false".into()));
        }
        client
            .query(&args.name, payload, &params, |line, raw| {
                if json {
                    println!("{raw}");
                } else {
                    let from = printable(line.from.as_deref().unwrap_or(""));
                    match line.kind.as_str() {
                        "ack" => println!("ack       {from}"),
                        "response" => println!("response  {from}: {}", display_value(&line.value)),
                        "summary" => {
                            let missing = line.missing.clone().unwrap_or_default();
                            let missing =
                                if missing.is_empty() { "-".to_string() } else { printable(&missing.join(",")) };
                            println!(
                                "asked {}, acked {}, answered {}, missing: {missing}",
                                line.asked.unwrap_or(0),
                                line.acked.unwrap_or(0),
                                line.answered.unwrap_or(0)
                            );
                        }
                        other => println!("{}", printable(other)),
                    }
                }
                let _ = std::io::stdout().flush();
            })
            .await
    })
}
