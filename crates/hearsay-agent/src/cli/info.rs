//! `hearsay info`: the agent's identity, configuration and counters.

use std::process::ExitCode;

use super::client::{self, PlainArgs, print_json, printable};

/// Runs `hearsay info`.
pub(crate) fn run(args: PlainArgs) -> ExitCode {
    client::run(&args.opts, async |client| {
        let info = client.info().await?;
        if args.opts.json {
            return print_json(&info);
        }
        println!("name:          {}", printable(&info.name));
        println!("generation:    {}", info.generation);
        println!("gossip addr:   {}", printable(&info.addr));
        println!("http addr:     {}", printable(info.http.as_deref().unwrap_or("-")));
        println!("store:         {}", printable(info.store.as_deref().unwrap_or("none (not persisted)")));
        println!("encryption:    {}", if info.encrypted { "on" } else { "off" });
        println!("version:       {}", info.version);
        println!("uptime:        {} s", info.uptime_secs);
        let members: Vec<String> = info.members.iter().map(|(s, n)| format!("{n} {}", printable(s))).collect();
        println!("members:       {}", members.join(", "));
        println!("own keys:      {} (max_version {})", info.own_keys, info.max_version);
        println!("rounds:        {}", info.rounds);
        println!("messages:      {} sent, {} received", info.messages_sent, info.messages_received);
        println!("bytes:         {} sent, {} received", info.bytes_sent, info.bytes_received);
        println!("dropped:       {}", info.dropped);
        println!("config:");
        for (k, v) in &info.config {
            println!("  {} = {}", printable(k), printable(v));
        }
        Ok(())
    })
}
