//! Subcommands, one file each; `client.rs` holds what the client subcommands share.

pub mod agent;
pub mod bench;
pub mod client;
pub mod delete;
pub mod demo;
pub mod get;
pub mod info;
pub mod keygen;
pub mod keys;
pub mod kv;
pub mod leave;
pub mod members;
pub mod set;
pub mod sim;
pub mod watch;
