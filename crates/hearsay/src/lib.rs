//! Gossip membership, failure detection and replicated node state for tokio services.
//!
//! This crate drives the sans-IO protocol of [`hearsay_core`] over real sockets: one tokio
//! task per node owns the [`core::Node`], a UDP socket for datagrams and a TCP listener (same
//! port) for the large anti-entropy deltas that do not fit a datagram. The application talks to
//! that task through a cheap, cloneable [`Cluster`] handle.
//!
//! Start from [`Cluster::builder`] with a [`Config`] preset, then [`ClusterBuilder::spawn`]:
//!
//! ```no_run
//! # async fn demo() -> Result<(), hearsay::Error> {
//! use hearsay::{Cluster, Config};
//! let cluster = Cluster::builder(Config::lan())
//!     .bind("0.0.0.0:7946".parse().unwrap())
//!     .advertise("10.0.0.2:7946".parse().unwrap())
//!     .seed_names(["10.0.0.1:7946", "hearsay.default.svc.cluster.local:7946"])
//!     .spawn()
//!     .await?;
//! cluster.set("load", b"0.42".to_vec()).await?;
//! let mut events = cluster.subscribe_prefix("load");
//! while let Some(event) = events.recv().await {
//!     match event {
//!         Ok(event) => println!("{event:?}"),
//!         // Fell behind: rebuild what was derived from events from `cluster.members()`.
//!         Err(lagged) => eprintln!("{lagged}"),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Seeds may be addresses or `host:port` names; names are looked up again and again (at start,
//! periodically, and often while the node knows no live member), so a node started before its
//! seeds exist joins once they resolve. [`Cluster::join`] joins through given addresses later.
//!
//! A subscription made after `spawn` returns may miss the node's first events (its seeds answer
//! at once); [`ClusterBuilder::spawn_with_subscription`] returns one made before the task
//! starts.
//!
//! # Tags, user events and queries
//!
//! Each member carries key/value [`Tags`] ([`ClusterBuilder::tags`], [`Cluster::set_tags`]),
//! replicated to every member and shown in [`MemberInfo::tags`]. [`Cluster::send_event`]
//! delivers a named payload once to every live member ([`Event::User`]), best effort, spread
//! like membership news and retransmitted against loss. [`Cluster::query`] asks the members
//! that match a [`QueryOptions`] filter (names, tags) and streams their acks and answers until
//! the deadline; members answer with a [`ClusterBuilder::query_handler`]:
//!
//! ```no_run
//! # async fn demo() -> Result<(), hearsay::Error> {
//! use hearsay::{Cluster, Config, QueryOptions, QueryReply};
//! let cluster = Cluster::builder(Config::lan())
//!     .bind("10.0.0.2:7946".parse().unwrap())
//!     .tags([("role", "web")])
//!     .query_handler(|request| async move { (&*request.name == "load").then(|| b"0.42".to_vec()) })
//!     .spawn()
//!     .await?;
//! cluster.send_event("deploy", b"v2".to_vec()).await?;
//! let options = QueryOptions { filter_tags: vec![("role".into(), "web".into())], ..QueryOptions::default() };
//! let mut answers = cluster.query("load", Vec::new(), options).await?;
//! while let Some(reply) = answers.recv().await {
//!     if let QueryReply::Response { from, payload } = reply {
//!         println!("{from}: {}", String::from_utf8_lossy(&payload));
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! The task stops when [`Cluster::leave`] or [`Cluster::shutdown`] is called, or when every
//! handle has been dropped (without leaving: peers will see the node die).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub)]

mod builder;
mod clock;
mod cluster;
mod driver;
mod error;
mod query;
mod seeds;
mod stream;
mod subscription;
mod view;

pub use hearsay_core::{
    self as core, Config, Event, EventError, Key, Keyring, MemberInfo, MemberStatus, NodeId, Stats, Tags, TagsError,
    VersionedValue,
};

pub use builder::ClusterBuilder;
pub use cluster::{Cluster, DriverStats, MemberSnapshot, Snapshot};
pub use error::Error;
pub use hearsay_core::{QueryError, QueryId, QueryParams as QueryOptions, QueryRef};
pub use query::{QueryFuture, QueryHandler, QueryReply, QueryRequest, QueryStream};
pub use seeds::{DEFAULT_SEED_REFRESH, InvalidSeed, MAX_LONELY_BACKOFF, Resolve, Seed, SystemResolver};
pub use subscription::{Lagged, Subscription};
pub use view::{IDLE_PUBLISH_INTERVAL, PROBE_RTT_BUCKETS_MS, PUBLISH_INTERVAL, RttHistogram, View};
