//! Subcommands, one file each.

pub mod agent;
pub mod bench;
pub mod client;
pub mod demo;
pub mod health;
pub mod keygen;
pub mod sim;
