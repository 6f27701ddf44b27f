//! [`ClusterBuilder`]: identity, addresses and start-up state of a node, then the sockets and
//! the node task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hearsay_core::{Keyring, Node, NodeId};
use rand::{RngCore, SeedableRng};
use tokio::net::{TcpListener, UdpSocket};

use crate::Config;
use crate::clock::Clock;
use crate::cluster::{Cluster, Counters};
use crate::driver::Driver;
use crate::error::Error;
use crate::seeds::{DEFAULT_SEED_REFRESH, Resolve, Resolver, Seed, SeedNames};
use crate::subscription::Subscription;

/// Attempts at finding a port free for both UDP and TCP when binding port 0.
const PORT_ATTEMPTS: usize = 32;

/// The node's own keys restored after a restart: `(key, value, version)`.
type OwnEntries = Vec<(String, Vec<u8>, u64)>;

/// Configures and starts a node. From [`Cluster::builder`].
#[derive(Debug)]
pub struct ClusterBuilder {
    config: Config,
    name: Option<String>,
    bind: SocketAddr,
    advertise: Option<SocketAddr>,
    seeds: Vec<SocketAddr>,
    seed_names: Vec<String>,
    resolver: Resolver,
    seed_refresh: Duration,
    generation: Option<u64>,
    rng_seed: Option<u64>,
    restore: Option<(OwnEntries, u64)>,
    known_peers: Vec<NodeId>,
    keyring: Option<Keyring>,
    tags: hearsay_core::Tags,
    query_handler: Option<crate::query::HandlerSlot>,
    stream_memory: usize,
    stream_frame_deadline: Duration,
}

impl ClusterBuilder {
    pub(crate) fn new(config: Config) -> Self {
        ClusterBuilder {
            config,
            name: None,
            bind: SocketAddr::from(([0, 0, 0, 0], 7946)),
            advertise: None,
            seeds: Vec::new(),
            seed_names: Vec::new(),
            resolver: Resolver::default(),
            seed_refresh: DEFAULT_SEED_REFRESH,
            generation: None,
            rng_seed: None,
            restore: None,
            known_peers: Vec::new(),
            keyring: None,
            tags: hearsay_core::Tags::new(),
            query_handler: None,
            stream_memory: crate::stream::STREAM_MEMORY,
            stream_frame_deadline: crate::stream::FRAME_DEADLINE,
        }
    }

    /// The node's stable, cluster-unique name. Default: `node-<port>`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Where to bind UDP and TCP (the same port). Port 0 picks a port free for both.
    /// Default: `0.0.0.0:7946`.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// The address peers should use. Default: the bound address (required when binding a
    /// wildcard address such as `0.0.0.0`).
    pub fn advertise(mut self, addr: SocketAddr) -> Self {
        self.advertise = Some(addr);
        self
    }

    /// Addresses to join through. Used with [`ClusterBuilder::seed_names`], both count.
    pub fn seeds(mut self, seeds: Vec<SocketAddr>) -> Self {
        self.seeds = seeds;
        self
    }

    /// Seeds written `host:port` (or `ip:port`): names are resolved at start, again every
    /// [`ClusterBuilder::seed_refresh`], and every gossip interval or so (backing off to a few
    /// seconds) while the node knows no live member, so a node started before its seeds exist
    /// joins as soon as they resolve. A name may stand for many addresses (a headless service):
    /// all are seeds. Lookups never delay the node; a lookup that fails keeps the addresses of
    /// the last one. Checked by [`ClusterBuilder::spawn`] (see [`Seed`]'s `FromStr`).
    pub fn seed_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.seed_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// How seed names are looked up. Default: [`crate::SystemResolver`] (the operating
    /// system's resolver). Also used by [`Cluster::join_names`].
    pub fn resolver(mut self, resolver: impl Resolve) -> Self {
        self.resolver = Resolver(Arc::new(resolver));
        self
    }

    /// Time between two lookups of the seed names while the node has company. Default: 30 s.
    pub fn seed_refresh(mut self, every: Duration) -> Self {
        self.seed_refresh = every;
        self
    }

    /// This incarnation's generation; must grow on every restart. Default: Unix time in ms.
    pub fn generation(mut self, generation: u64) -> Self {
        self.generation = Some(generation);
        self
    }

    /// Seed of the node's random choices. Default: from the OS.
    pub fn rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = Some(seed);
        self
    }

    /// The node's own keys from before a restart; versions continue after `max_version`.
    pub fn restore(mut self, entries: Vec<(String, Vec<u8>, u64)>, max_version: u64) -> Self {
        self.restore = Some((entries, max_version));
        self
    }

    /// Members known from a previous run, contacted from the start.
    pub fn known_peers(mut self, peers: Vec<NodeId>) -> Self {
        self.known_peers = peers;
        self
    }

    /// The node's tags from the start (see [`Cluster::set_tags`]). Checked when the node
    /// spawns: tags over the bounds ([`hearsay_core::MAX_TAGS`],
    /// [`hearsay_core::MAX_TAGS_BYTES`]) fail the spawn with [`Error::Tags`].
    pub fn tags<K: Into<String>, V: Into<String>>(mut self, tags: impl IntoIterator<Item = (K, V)>) -> Self {
        self.tags = tags.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        self
    }

    /// Answers the queries this node matches with `handler` (see [`Cluster::query`]): it runs
    /// on its own task per query, and what it returns before the deadline is sent back.
    pub fn query_handler<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(crate::QueryRequest) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Option<Vec<u8>>> + Send + 'static,
    {
        let handler: crate::QueryHandler = Arc::new(move |request| Box::pin(handler(request)));
        self.query_handler = Some(crate::query::HandlerSlot(handler));
        self
    }

    /// Encrypts and authenticates every packet with `keyring` (XChaCha20-Poly1305). Every
    /// node of the cluster needs a keyring holding the primary key. Default: no encryption.
    pub fn keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// Bytes of stream frames buffered at once, inbound and outbound together: what bounds
    /// the memory peers can make the node hold in streams. At least
    /// `limits.max_stream_bytes`. Default: 64 MiB.
    pub fn stream_memory(mut self, bytes: usize) -> Self {
        self.stream_memory = bytes;
        self
    }

    /// Time a peer has to deliver a stream frame whole once its length arrived; a slower
    /// peer is cut off and counted. Default: 10 s.
    pub fn stream_frame_deadline(mut self, deadline: Duration) -> Self {
        self.stream_frame_deadline = deadline;
        self
    }

    /// Binds the sockets and starts the node task on the current tokio runtime.
    ///
    /// The node starts talking at once, so a [`Cluster::subscribe`] made after this returns
    /// may miss the first events (members learned from the seeds' first answer); use
    /// [`ClusterBuilder::spawn_with_subscription`] to see every event.
    pub async fn spawn(self) -> Result<Cluster, Error> {
        Ok(self.spawn_with_subscription().await?.0)
    }

    /// Like [`ClusterBuilder::spawn`], plus a subscription to every event, made before the
    /// node task starts so that none is missed.
    pub async fn spawn_with_subscription(self) -> Result<(Cluster, Subscription), Error> {
        self.config.validate()?;
        hearsay_core::check_tags(&self.tags)?;
        let max_frame = self.config.limits.max_stream_bytes;
        if self.stream_memory < max_frame || u32::try_from(max_frame).is_err() {
            let reason = format!("{} bytes cannot hold one frame of limits.max_stream_bytes", self.stream_memory);
            return Err(hearsay_core::ConfigError::Invalid { field: "stream_memory", reason }.into());
        }
        let stream_limits = crate::stream::StreamLimits {
            max_frame,
            frame_deadline: self.stream_frame_deadline,
            budget: Arc::new(tokio::sync::Semaphore::new(self.stream_memory.min(tokio::sync::Semaphore::MAX_PERMITS))),
        };
        if self.seed_refresh.is_zero() {
            let reason = "must be longer than zero".to_owned();
            return Err(hearsay_core::ConfigError::Invalid { field: "seed_refresh", reason }.into());
        }
        let mut seeds = self.seeds;
        let mut names = Vec::new();
        for text in &self.seed_names {
            match text.parse::<Seed>() {
                Ok(Seed::Addr(addr)) => seeds.push(addr),
                Ok(Seed::Name(name)) => names.push(name),
                Err(e) => {
                    return Err(hearsay_core::ConfigError::Invalid { field: "seeds", reason: e.to_string() }.into());
                }
            }
        }
        let gossip_interval = self.config.gossip_interval;
        let seed_names =
            SeedNames::new(seeds.clone(), names, self.resolver.clone(), self.seed_refresh, gossip_interval);
        let (udp, listener) = bind_pair(self.bind).await?;
        let local_addr = udp.local_addr()?;
        let advertise = match self.advertise {
            Some(addr) => addr,
            None if local_addr.ip().is_unspecified() => {
                return Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("bound to the wildcard address {local_addr}: set an advertise address peers can reach"),
                )));
            }
            None => local_addr,
        };
        let name = self.name.unwrap_or_else(|| format!("node-{}", advertise.port()));
        let generation = self.generation.unwrap_or_else(unix_millis);
        let rng_seed = self.rng_seed.unwrap_or_else(os_seed);
        let id = NodeId::new(name, generation, advertise);
        let clock = Clock::start();
        let now = clock.now();
        let mut node = Node::new(self.config, id.clone(), seeds, rng_seed, now)?;
        node.set_keyring(self.keyring);
        if let Some((entries, max_version)) = self.restore {
            let skipped = node.restore_own(entries, max_version);
            if skipped > 0 {
                tracing::warn!(skipped, "restored entries skipped (over a limit or above max_version)");
            }
        }
        if !self.tags.is_empty() {
            node.set_tags(now, self.tags)?;
        }
        for peer in self.known_peers {
            node.add_member(now, peer);
        }
        let counters = Arc::new(Counters::default());
        let (cluster, ends) = Cluster::new_pair(id, local_addr, counters.clone(), self.resolver);
        let subscription = cluster.subscribe();
        let driver = Driver::new(node, clock, (udp, listener), advertise, ends, counters, stream_limits)
            .with_seed_names(seed_names)
            .with_query_handler(self.query_handler);
        tokio::spawn(driver.run());
        Ok((cluster, subscription))
    }
}

/// Receive buffer asked of the kernel for the UDP socket (memberlist asks 2 MiB too). The
/// default (about 208 KiB on Linux) overflows when a seed is joined by hundreds of nodes at
/// once and drops their joins; the kernel caps the request at `net.core.rmem_max` and a
/// buffer only holds memory while datagrams wait in it.
const UDP_RECV_BUFFER: usize = 2 * 1024 * 1024;

/// Binds a UDP socket with [`UDP_RECV_BUFFER`] (best effort: a smaller buffer is logged).
async fn bind_udp(addr: SocketAddr) -> Result<UdpSocket, Error> {
    let udp = UdpSocket::bind(addr).await?;
    if let Err(e) = socket2::SockRef::from(&udp).set_recv_buffer_size(UDP_RECV_BUFFER) {
        tracing::debug!(error = %e, "could not enlarge the UDP receive buffer");
    }
    Ok(udp)
}

/// Binds UDP and TCP on the same port.
async fn bind_pair(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), Error> {
    if addr.port() != 0 {
        let udp = bind_udp(addr).await?;
        let tcp = TcpListener::bind(addr).await?;
        return Ok((udp, tcp));
    }
    let mut last_error = None;
    for _ in 0..PORT_ATTEMPTS {
        let udp = bind_udp(addr).await?;
        let port_addr = udp.local_addr()?;
        match TcpListener::bind(port_addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last_error = Some(e),
        }
    }
    Err(Error::Io(last_error.unwrap_or_else(|| std::io::Error::from(std::io::ErrorKind::AddrInUse))))
}

fn unix_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A seed from the OS, or from the clock if the OS has no randomness to give.
fn os_seed() -> u64 {
    match rand::rngs::StdRng::try_from_os_rng() {
        Ok(mut rng) => rng.next_u64(),
        Err(_) => SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64),
    }
}
