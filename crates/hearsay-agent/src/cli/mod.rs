//! Subcommands, one file each.

pub mod agent;
pub mod client;
pub mod demo;
pub mod sim;
