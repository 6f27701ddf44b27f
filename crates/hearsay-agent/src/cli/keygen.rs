//! `hearsay keygen`: prints a new random cluster key (64 hex digits) for `keyring_file`.

use std::io::Read;
use std::process::ExitCode;

/// Arguments of `hearsay keygen`.
#[derive(clap::Args, Debug)]
pub(crate) struct KeygenArgs {}

/// Prints a key read from the operating system's random source.
pub(crate) fn run(_args: KeygenArgs) -> ExitCode {
    let mut bytes = [0u8; 32];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if let Err(e) = read {
        eprintln!("hearsay keygen: cannot read /dev/urandom: {e}");
        return ExitCode::from(1);
    }
    println!("{}", hearsay_core::Key::from_bytes(bytes).to_hex());
    ExitCode::SUCCESS
}
