//! Subcommands, one file each; `client.rs` holds what the client subcommands share.

pub(crate) mod agent;
pub(crate) mod bench;
pub(crate) mod client;
pub(crate) mod delete;
pub(crate) mod demo;
pub(crate) mod event;
pub(crate) mod get;
pub(crate) mod health;
pub(crate) mod info;
pub(crate) mod join;
pub(crate) mod keygen;
pub(crate) mod keys;
pub(crate) mod kv;
pub(crate) mod leave;
pub(crate) mod members;
pub(crate) mod query;
pub(crate) mod set;
pub(crate) mod sim;
pub(crate) mod sim_broadcast;
pub(crate) mod sim_flow;
pub(crate) mod sim_textbook;
pub(crate) mod tags;
pub(crate) mod watch;
