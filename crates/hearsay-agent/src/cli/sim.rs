//! `hearsay sim`.

use std::process::ExitCode;

/// Arguments of `hearsay sim`.
#[derive(clap::Args, Debug)]
pub struct SimArgs {}

/// Runs the simulator.
pub fn run(_args: SimArgs) -> ExitCode {
    eprintln!("the simulator is not built yet");
    ExitCode::from(2)
}
