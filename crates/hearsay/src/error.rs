//! The library's error type.

use thiserror::Error;

/// Why a [`crate::Cluster`] call failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The node refused a local write; nothing changed.
    #[error("write refused: {0}")]
    Write(#[from] hearsay_core::WriteError),
    /// A keyring change was refused; nothing changed.
    #[error("keyring change refused: {0}")]
    Keyring(#[from] hearsay_core::KeyringError),
    /// A set of tags was refused; nothing changed.
    #[error("tags refused: {0}")]
    Tags(#[from] hearsay_core::TagsError),
    /// A user event was refused; nothing was sent.
    #[error("event refused: {0}")]
    Event(#[from] hearsay_core::EventError),
    /// A query or an answer was refused; nothing was sent.
    #[error("query refused: {0}")]
    Query(#[from] hearsay_core::QueryError),
    /// The configuration cannot work; no node was started.
    #[error("invalid configuration: {0}")]
    Config(#[from] hearsay_core::ConfigError),
    /// A socket could not be bound or queried; no node was started.
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
    /// A seed given to [`crate::Cluster::join_names`] is malformed or does not resolve;
    /// nobody was contacted.
    #[error("seed `{seed}` {reason}")]
    Seed {
        /// The seed as given.
        seed: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The node task has stopped (after `leave`, `shutdown`, or a fatal socket error); the call
    /// had no effect.
    #[error("the node has stopped")]
    Stopped,
}
