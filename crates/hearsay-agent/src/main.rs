//! `hearsay`: the agent daemon, its CLI client, the local demo, the simulator and benchmarks.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(unreachable_pub)]

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod agent;
mod api;
mod b64;
mod cli;
mod client;
mod config;
mod history;
mod http;
mod membership_log;
mod process;
mod query_command;
mod store;
mod tags;

/// hearsay: gossip membership, failure detection and replicated node state.
#[derive(Parser, Debug)]
#[command(name = "hearsay", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run an agent: join a cluster and serve the HTTP API (see docs/agent.md).
    Agent(Box<cli::agent::AgentArgs>),
    /// List the members as the agent sees them.
    Members(cli::members::MembersArgs),
    /// List keys of every node (or one node, or a prefix).
    Kv(cli::kv::KvArgs),
    /// Read one key of one node.
    Get(cli::get::GetArgs),
    /// Write a key of the agent's own node.
    Set(cli::set::SetArgs),
    /// Delete a key of the agent's own node.
    Delete(cli::delete::DeleteArgs),
    /// Stream the agent's events (membership and key changes).
    Watch(cli::watch::WatchArgs),
    /// Make the agent join a cluster through these gossip addresses now.
    Join(cli::join::JoinArgs),
    /// Make the agent leave the cluster gracefully and stop.
    Leave(cli::client::PlainArgs),
    /// Show the agent's identity, configuration and counters.
    Info(cli::client::PlainArgs),
    /// Send a user event to every live member (`hearsay event deploy v2`).
    Event(cli::event::EventArgs),
    /// Ask the members a query and print their answers as they arrive.
    Query(cli::query::QueryArgs),
    /// Show or change the agent's tags (`hearsay tags set role=web`).
    Tags(cli::tags::TagsArgs),
    /// Show or rotate the cluster's encryption keys (list, install, use, remove).
    #[command(alias = "keyring")]
    Keys(cli::keys::KeysArgs),
    /// Exit 0 if the local agent answers its health check, 1 otherwise (container health checks).
    Health(cli::health::HealthArgs),
    /// Print a new random cluster key for `keyring_file`.
    Keygen(cli::keygen::KeygenArgs),
    /// Start a local cluster in this process and narrate membership, spreading and failure detection.
    Demo(cli::demo::DemoArgs),
    /// Run benchmarks (see `hearsay bench --help`).
    Bench(cli::bench::BenchArgs),
    /// Run the deterministic simulator (see `hearsay sim --help`).
    Sim(Box<cli::sim::SimArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Agent(args) => cli::agent::run(*args),
        Command::Members(args) => cli::members::run(args),
        Command::Kv(args) => cli::kv::run(args),
        Command::Get(args) => cli::get::run(args),
        Command::Set(args) => cli::set::run(args),
        Command::Delete(args) => cli::delete::run(args),
        Command::Watch(args) => cli::watch::run(args),
        Command::Join(args) => cli::join::run(args),
        Command::Leave(args) => cli::leave::run(args),
        Command::Info(args) => cli::info::run(args),
        Command::Keys(args) => cli::keys::run(args),
        Command::Tags(args) => cli::tags::run(args),
        Command::Event(args) => cli::event::run(args),
        Command::Query(args) => cli::query::run(args),
        Command::Health(args) => cli::health::run(args),
        Command::Keygen(args) => cli::keygen::run(args),
        Command::Demo(args) => cli::demo::run(args),
        Command::Sim(args) => cli::sim::run(*args),
        Command::Bench(args) => match cli::bench::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("hearsay bench: {e:#}");
                ExitCode::from(1)
            }
        },
    }
}
