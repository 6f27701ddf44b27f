//! The [`Cluster`] handle: what the application holds, and the commands it sends to the node
//! task. Every call is a bounded-channel round trip; nothing here touches the core directly.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use hearsay_core::{
    Event, EventError, Key, Keyring, KeyringError, MemberInfo, NodeId, Stats, Tags, TagsError, VersionedValue,
    WriteError,
};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::Config;
use crate::builder::ClusterBuilder;
use crate::error::Error;
use crate::seeds::{Resolver, Seed};
use crate::subscription::Subscription;
use crate::view::View;

/// A request from a handle to the node task.
#[derive(Debug)]
pub(crate) enum Command {
    Set {
        key: String,
        value: Vec<u8>,
        ttl: Option<Duration>,
        reply: oneshot::Sender<Result<u64, WriteError>>,
    },
    Delete {
        key: String,
        reply: oneshot::Sender<Result<Option<u64>, WriteError>>,
    },
    Get {
        node: String,
        key: String,
        reply: oneshot::Sender<Option<VersionedValue>>,
    },
    Members {
        reply: oneshot::Sender<Vec<MemberInfo>>,
    },
    Snapshot {
        reply: oneshot::Sender<Snapshot>,
    },
    Stats {
        reply: oneshot::Sender<DriverStats>,
    },
    Leave {
        reply: oneshot::Sender<()>,
    },
    Join {
        addrs: Vec<SocketAddr>,
        reply: oneshot::Sender<()>,
    },
    Keyring {
        reply: oneshot::Sender<Option<Keyring>>,
    },
    ChangeKeyring {
        change: KeyringChange,
        reply: oneshot::Sender<Result<(), KeyringError>>,
    },
    SetTags {
        tags: Tags,
        reply: oneshot::Sender<Result<(), TagsError>>,
    },
    Query {
        name: String,
        payload: Vec<u8>,
        options: hearsay_core::QueryParams,
        reply: oneshot::Sender<Result<crate::query::QueryStream, hearsay_core::QueryError>>,
    },
    Respond {
        query: hearsay_core::QueryRef,
        payload: Vec<u8>,
        reply: oneshot::Sender<Result<(), hearsay_core::QueryError>>,
    },
    SendEvent {
        name: String,
        payload: Vec<u8>,
        coalesce: bool,
        reply: oneshot::Sender<Result<u64, EventError>>,
    },
}

/// A cluster-wide keyring change.
#[derive(Debug)]
pub(crate) enum KeyringChange {
    Install(Key),
    Use(Key),
    Remove(Key),
}

/// Counters kept outside the core (sockets, streams, subscribers), shared by the node task,
/// its connection tasks and the subscriptions.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) udp_datagrams_sent: AtomicU64,
    pub(crate) udp_datagrams_received: AtomicU64,
    pub(crate) udp_send_errors: AtomicU64,
    pub(crate) udp_recv_errors: AtomicU64,
    pub(crate) stream_frames_sent: AtomicU64,
    pub(crate) stream_frames_received: AtomicU64,
    pub(crate) stream_frames_rejected: AtomicU64,
    pub(crate) stream_frames_dropped: AtomicU64,
    pub(crate) stream_errors: AtomicU64,
    pub(crate) stream_connections_refused: AtomicU64,
    pub(crate) stream_budget_refused: AtomicU64,
    pub(crate) stream_slow_peers: AtomicU64,
    pub(crate) events_lagged: AtomicU64,
    pub(crate) name_conflicts: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, core: Stats, flow: FlowStats) -> DriverStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        DriverStats {
            core,
            udp_datagrams_sent: get(&self.udp_datagrams_sent),
            udp_datagrams_received: get(&self.udp_datagrams_received),
            udp_send_errors: get(&self.udp_send_errors),
            udp_recv_errors: get(&self.udp_recv_errors),
            stream_frames_sent: get(&self.stream_frames_sent),
            stream_frames_received: get(&self.stream_frames_received),
            stream_frames_rejected: get(&self.stream_frames_rejected),
            stream_frames_dropped: get(&self.stream_frames_dropped),
            stream_errors: get(&self.stream_errors),
            stream_connections_refused: get(&self.stream_connections_refused),
            stream_budget_refused: get(&self.stream_budget_refused),
            stream_slow_peers: get(&self.stream_slow_peers),
            events_lagged: get(&self.events_lagged),
            name_conflicts: get(&self.name_conflicts),
            write_rate: flow.write_rate,
            flow: flow.status,
            backlog_bytes: flow.backlog_bytes,
            pending_updates: flow.pending_updates,
            health_score: flow.health_score,
            isolated: flow.isolated,
        }
    }
}

/// Gauges read from the core alongside its counters.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FlowStats {
    pub(crate) write_rate: f64,
    pub(crate) status: hearsay_core::FlowStatus,
    pub(crate) backlog_bytes: u64,
    pub(crate) pending_updates: u64,
    pub(crate) health_score: u32,
    pub(crate) isolated: bool,
}

/// Counters of one node: the protocol's own, plus the driver's sockets and subscribers.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct DriverStats {
    /// The core's counters (messages and bytes by type, drops by reason, rounds...).
    pub core: Stats,
    /// Datagrams handed to the UDP socket.
    pub udp_datagrams_sent: u64,
    /// Datagrams read from the UDP socket (valid or not).
    pub udp_datagrams_received: u64,
    /// Datagrams the socket refused to send.
    pub udp_send_errors: u64,
    /// Errors reading the UDP socket.
    pub udp_recv_errors: u64,
    /// Stream frames written to a peer.
    pub stream_frames_sent: u64,
    /// Stream frames read from a peer and handed to the core.
    pub stream_frames_received: u64,
    /// Inbound frames longer than `limits.max_stream_bytes` (the connection is closed).
    pub stream_frames_rejected: u64,
    /// Outbound frames dropped: the peer's queue was full or its connection failed.
    pub stream_frames_dropped: u64,
    /// Stream connections that failed: connect, IO, bad preamble, oversized frame.
    pub stream_errors: u64,
    /// Inbound connections refused because too many were open.
    pub stream_connections_refused: u64,
    /// Frames refused because the stream memory budget could not hold them (inbound: the
    /// connection is closed; outbound: the frame is dropped and also counted as dropped).
    pub stream_budget_refused: u64,
    /// Inbound connections cut because a frame did not arrive whole within the deadline.
    pub stream_slow_peers: u64,
    /// Events lost by subscribers that fell behind (oldest first).
    pub events_lagged: u64,
    /// [`Event::NameConflict`] events: claims of a name held by a live member, refused.
    pub name_conflicts: u64,
    /// Flow control: this node's share of the writes gossip carries, in bytes per round.
    pub write_rate: f64,
    /// Bytes of state peers lacked that the last overflowing delta could not carry.
    pub backlog_bytes: u64,
    /// Membership updates waiting to be piggybacked.
    pub pending_updates: u64,
    /// Lifeguard local health (0 is healthy; higher means this node doubts its own timeliness).
    pub health_score: u32,
    /// This node hears from no member (see [`Event::Isolated`]).
    pub isolated: bool,
    /// Flow control: capacity, share, demand, writers and the bytes writable at once
    /// (refusals are counted in `core.writes_refused`).
    pub flow: hearsay_core::FlowStatus,
}

/// Everything one node knows: every member and its live keys.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// Members in name order, the local node included.
    pub members: Vec<MemberSnapshot>,
}

/// One member in a [`Snapshot`].
#[derive(Clone, Debug, PartialEq)]
pub struct MemberSnapshot {
    /// Identity and liveness.
    pub info: MemberInfo,
    /// Live keys (no tombstones, no reserved keys).
    pub keys: BTreeMap<String, VersionedValue>,
}

#[derive(Debug)]
struct Inner {
    id: NodeId,
    local_addr: SocketAddr,
    commands: mpsc::Sender<Command>,
    stop: watch::Sender<bool>,
    done: watch::Receiver<()>,
    events: broadcast::WeakSender<Event>,
    counters: Arc<Counters>,
    view: Arc<ArcSwap<View>>,
    /// Set by every read of the view: the node task republishes only while someone reads.
    view_read: Arc<std::sync::atomic::AtomicBool>,
    /// For [`Cluster::join_names`].
    resolver: Resolver,
}

/// A handle to a running node. Cheap to clone; every clone talks to the same node task.
///
/// When the last handle is dropped, the node stops without leaving.
#[derive(Clone, Debug)]
pub struct Cluster {
    inner: Arc<Inner>,
}

/// The ends of the channels the node task keeps.
pub(crate) struct TaskEnds {
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) done: watch::Sender<()>,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) view: Arc<ArcSwap<View>>,
    pub(crate) view_read: Arc<std::sync::atomic::AtomicBool>,
    /// For answers computed off the node task (query handlers).
    pub(crate) commands_weak: mpsc::WeakSender<Command>,
}

/// Commands waiting for the node task; `send` waits when it is full.
const COMMAND_QUEUE: usize = 256;
/// Events buffered per subscriber before the oldest are lost. The ring is allocated up front
/// (about 130 bytes a slot), so this is also a fixed memory cost per node.
const EVENT_QUEUE: usize = 1024;

impl Cluster {
    /// A builder for a node with `config`.
    pub fn builder(config: Config) -> ClusterBuilder {
        ClusterBuilder::new(config)
    }

    /// A handle and the channel ends for its task.
    pub(crate) fn new_pair(
        id: NodeId,
        local_addr: SocketAddr,
        counters: Arc<Counters>,
        resolver: Resolver,
    ) -> (Cluster, TaskEnds) {
        let (commands_tx, commands) = mpsc::channel(COMMAND_QUEUE);
        let (stop_tx, stop) = watch::channel(false);
        let (done, done_rx) = watch::channel(());
        let (events, _) = broadcast::channel(EVENT_QUEUE);
        let view = Arc::new(ArcSwap::from_pointee(View::empty()));
        let view_read = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let inner = Inner {
            id,
            local_addr,
            commands: commands_tx,
            stop: stop_tx,
            done: done_rx,
            events: events.downgrade(),
            counters,
            view: view.clone(),
            view_read: view_read.clone(),
            resolver,
        };
        let commands_weak = inner.commands.downgrade();
        let ends = TaskEnds { commands, stop, done, events, view, view_read, commands_weak };
        (Cluster { inner: Arc::new(inner) }, ends)
    }

    /// This node's identity.
    pub fn id(&self) -> &NodeId {
        &self.inner.id
    }

    /// The address the sockets are bound to (UDP and TCP share the port).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    async fn request<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, Error> {
        let (tx, rx) = oneshot::channel();
        self.inner.commands.send(make(tx)).await.map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// Sets one of this node's keys; returns the version it took.
    ///
    /// A node writing faster than its share of what the cluster's gossip carries is refused
    /// with `Error::Write(WriteError::RateLimited { retry_after })` and nothing is stored:
    /// wait `retry_after` and retry, or drop the write if a later one supersedes it (see
    /// `hearsay_core`'s `flow` module; `Config::flow` turns it off). The same holds for
    /// [`Cluster::set_with_ttl`] and [`Cluster::delete`].
    pub async fn set(&self, key: &str, value: impl Into<Vec<u8>>) -> Result<u64, Error> {
        let (key, value) = (key.to_owned(), value.into());
        Ok(self.request(|reply| Command::Set { key, value, ttl: None, reply }).await??)
    }

    /// Sets one of this node's keys, deleted automatically after `ttl`.
    pub async fn set_with_ttl(&self, key: &str, value: impl Into<Vec<u8>>, ttl: Duration) -> Result<u64, Error> {
        let (key, value) = (key.to_owned(), value.into());
        Ok(self.request(|reply| Command::Set { key, value, ttl: Some(ttl), reply }).await??)
    }

    /// Deletes one of this node's keys; `None` if it did not exist (nothing changed).
    pub async fn delete(&self, key: &str) -> Result<Option<u64>, Error> {
        let key = key.to_owned();
        Ok(self.request(|reply| Command::Delete { key, reply }).await??)
    }

    /// This node's replica of `key` owned by the member named `node` (tombstones are `None`).
    pub async fn get(&self, node: &str, key: &str) -> Result<Option<VersionedValue>, Error> {
        let (node, key) = (node.to_owned(), key.to_owned());
        self.request(|reply| Command::Get { node, key, reply }).await
    }

    /// Every known member, the local node included, in name order.
    pub async fn members(&self) -> Result<Vec<MemberInfo>, Error> {
        self.request(|reply| Command::Members { reply }).await
    }

    /// Every member and its live keys, as this node sees them.
    pub async fn snapshot(&self) -> Result<Snapshot, Error> {
        self.request(|reply| Command::Snapshot { reply }).await
    }

    /// The view the node task last published: members, keys, counters and probe round trips,
    /// at most [`crate::PUBLISH_INTERVAL`] old while it is read regularly. Lock-free and
    /// without a round trip to the node task, so any number of readers cannot delay it; use it
    /// for scans and periodic reads. Building a view costs O(members), so the node task
    /// republishes every [`crate::PUBLISH_INTERVAL`] only while the view is being read, and
    /// otherwise every [`crate::IDLE_PUBLISH_INTERVAL`]: the first read after a quiet spell may
    /// see a view that old. Before the first publication (right after start) it is empty.
    pub fn view(&self) -> Arc<View> {
        self.inner.view_read.store(true, std::sync::atomic::Ordering::Relaxed);
        self.inner.view.load_full()
    }

    /// Protocol and driver counters.
    pub async fn stats(&self) -> Result<DriverStats, Error> {
        self.request(|reply| Command::Stats { reply }).await
    }

    /// Every event of this node. A subscriber that falls more than about a thousand events
    /// behind loses the oldest ones (counted in [`DriverStats::events_lagged`]); it never
    /// slows the node down. After the node stops, the subscription ends.
    pub fn subscribe(&self) -> Subscription {
        self.subscription(None)
    }

    /// Membership events, and [`Event::KeyChanged`] for keys starting with `prefix`.
    pub fn subscribe_prefix(&self, prefix: impl Into<String>) -> Subscription {
        self.subscription(Some(prefix.into()))
    }

    fn subscription(&self, prefix: Option<String>) -> Subscription {
        let receiver = match self.inner.events.upgrade() {
            Some(sender) => sender.subscribe(),
            // The node has stopped: a subscription that ends at once.
            None => broadcast::channel(1).0.subscribe(),
        };
        Subscription::new(receiver, prefix, self.inner.counters.clone())
    }

    /// Leaves gracefully: peers are told, the node keeps gossiping for about three rounds so
    /// the news spreads, then stops. Returns once the node has stopped.
    pub async fn leave(&self) -> Result<(), Error> {
        self.request(|reply| Command::Leave { reply }).await?;
        self.wait_stopped().await;
        Ok(())
    }

    /// Stops the node now, without telling anyone (peers will see it die). Returns once the
    /// node has stopped and its sockets are closed; harmless if it already had.
    pub async fn shutdown(&self) {
        self.inner.stop.send_replace(true);
        self.wait_stopped().await;
    }

    /// Joins a cluster through `addrs` now, whatever this node already knows (Serf's `join`):
    /// a full exchange with each, so both sides learn everything the other knows, and through
    /// gossip everyone else. Two running clusters merge this way. Returns once the node task
    /// has sent the exchanges; an address nobody answers at is not an error (the members that
    /// answered show up in [`Cluster::members`]).
    pub async fn join(&self, addrs: &[SocketAddr]) -> Result<(), Error> {
        let addrs = addrs.to_vec();
        self.request(|reply| Command::Join { addrs, reply }).await
    }

    /// Like [`Cluster::join`], with seeds written `host:port` or `ip:port`, resolved now by
    /// the node's resolver (see [`crate::ClusterBuilder::resolver`]). Returns the addresses
    /// contacted. Fails, contacting nobody, if any seed is malformed or resolves to nothing.
    pub async fn join_names<S: AsRef<str>>(&self, seeds: &[S]) -> Result<Vec<SocketAddr>, Error> {
        let mut addrs = Vec::new();
        let mut names = Vec::new();
        for text in seeds {
            match text.as_ref().parse::<Seed>() {
                Ok(Seed::Addr(addr)) => addrs.push(addr),
                Ok(Seed::Name(name)) => names.push(name),
                Err(e) => {
                    return Err(Error::Seed { seed: e.text, reason: "is not of the form ip:port or host:port".into() });
                }
            }
        }
        for (name, answer) in self.inner.resolver.resolve_all(&names).await {
            match answer {
                Ok(found) if !found.is_empty() => addrs.extend(found),
                Ok(_) => return Err(Error::Seed { seed: name, reason: "resolves to no address".into() }),
                Err(e) => return Err(Error::Seed { seed: name, reason: format!("does not resolve ({e})") }),
            }
        }
        addrs.sort_unstable();
        addrs.dedup();
        self.join(&addrs).await?;
        Ok(addrs)
    }

    /// The cluster keyring in force, `None` when encryption is off.
    pub async fn keyring(&self) -> Result<Option<Keyring>, Error> {
        self.request(|reply| Command::Keyring { reply }).await
    }

    /// Installs `key` on every node (accepted for opening packets; sealing keeps the primary).
    pub async fn keyring_install(&self, key: Key) -> Result<(), Error> {
        self.change_keyring(KeyringChange::Install(key)).await
    }

    /// Makes an installed `key` the primary on every node.
    pub async fn keyring_use(&self, key: Key) -> Result<(), Error> {
        self.change_keyring(KeyringChange::Use(key)).await
    }

    /// Removes `key` from every node.
    pub async fn keyring_remove(&self, key: Key) -> Result<(), Error> {
        self.change_keyring(KeyringChange::Remove(key)).await
    }

    /// Replaces this node's tags; every member learns them by gossip (as fast as a key
    /// write) and sees [`Event::TagsChanged`]. Refused, changing nothing, over the bounds.
    pub async fn set_tags(&self, tags: Tags) -> Result<(), Error> {
        Ok(self.request(|reply| Command::SetTags { tags, reply }).await??)
    }

    /// This node's tags.
    pub async fn tags(&self) -> Result<Tags, Error> {
        let name = self.inner.id.name.to_string();
        let members = self.members().await?;
        Ok(members.into_iter().find(|m| *m.id.name == *name).map(|m| m.tags).unwrap_or_default())
    }

    /// Sends a user event to every live member, this one included: each delivers it once
    /// to its subscribers as [`Event::User`]. Best effort (a member down while it spreads
    /// never sees it), spread like membership news in O(log N) rounds and retransmitted
    /// against loss. Payloads up to `limits.max_event_bytes` (64 KiB by default); one larger
    /// than a datagram travels by stream. Returns the event's Lamport time.
    pub async fn send_event(&self, name: &str, payload: impl Into<Vec<u8>>) -> Result<u64, Error> {
        self.event(name, payload.into(), false).await
    }

    /// Like [`Cluster::send_event`], but the event replaces older coalescing events of the
    /// same name still being spread: members that had not received those yet get only this one.
    pub async fn send_coalescing_event(&self, name: &str, payload: impl Into<Vec<u8>>) -> Result<u64, Error> {
        self.event(name, payload.into(), true).await
    }

    async fn event(&self, name: &str, payload: Vec<u8>, coalesce: bool) -> Result<u64, Error> {
        let name = name.to_owned();
        Ok(self.request(|reply| Command::SendEvent { name, payload, coalesce, reply }).await??)
    }

    /// Asks every live member matching `options` the query `name` (this node too, if it
    /// matches). Members answer through their [`crate::QueryHandler`] or
    /// [`Cluster::respond`]; acks and answers come back by datagram straight to this node and
    /// arrive on the returned stream, which ends at `options.timeout`.
    pub async fn query(
        &self,
        name: &str,
        payload: impl Into<Vec<u8>>,
        options: crate::QueryOptions,
    ) -> Result<crate::QueryStream, Error> {
        let (name, payload) = (name.to_owned(), payload.into());
        Ok(self.request(|reply| Command::Query { name, payload, options, reply }).await??)
    }

    /// Answers a query received as [`Event::Query`] (one datagram to the asker).
    pub async fn respond(&self, query: hearsay_core::QueryRef, payload: impl Into<Vec<u8>>) -> Result<(), Error> {
        let payload = payload.into();
        Ok(self.request(|reply| Command::Respond { query, payload, reply }).await??)
    }

    async fn change_keyring(&self, change: KeyringChange) -> Result<(), Error> {
        Ok(self.request(|reply| Command::ChangeKeyring { change, reply }).await??)
    }

    async fn wait_stopped(&self) {
        let mut done = self.inner.done.clone();
        // `changed` fails once the task has dropped its end.
        while done.changed().await.is_ok() {}
    }
}
