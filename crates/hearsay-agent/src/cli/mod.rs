//! Subcommands, one file each.

pub mod sim;
