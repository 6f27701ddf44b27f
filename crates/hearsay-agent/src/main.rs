//! `hearsay`: the agent daemon, its CLI client, the local demo, the simulator and benchmarks.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cli;

/// hearsay: gossip membership, failure detection and replicated node state.
#[derive(Parser, Debug)]
#[command(name = "hearsay", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the deterministic simulator (see `hearsay sim --help`).
    Sim(cli::sim::SimArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Sim(args) => cli::sim::run(args),
    }
}
