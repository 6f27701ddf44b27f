//! Seeds given by name, and how the node task keeps their addresses fresh.
//!
//! A seed may be an address (`10.0.0.1:7946`) or a name (`n1:7946`, `hearsay.default.svc:7946`).
//! Names are what container platforms hand out, and they resolve only once the peer runs: in a
//! compose file or a Kubernetes StatefulSet a node often starts before its seeds exist. So names
//! are never resolved once and for all: the node task resolves them at start, again every
//! [`ClusterBuilder::seed_refresh`](crate::ClusterBuilder::seed_refresh) interval, and, while
//! the node knows no live member ([`hearsay_core::Node::is_lonely`]), every gossip interval with
//! a backoff up to [`MAX_LONELY_BACKOFF`]. Each resolution runs in a task of its own and sends
//! its answer back, so a slow DNS server never delays a probe. The answer replaces the core's
//! seed list (`Node::set_seeds`); a lonely node also contacts a few of the addresses that just
//! appeared at once, rather than at its next round.
//!
//! The lookup itself is a [`Resolve`], the system resolver by default; tests and programs with
//! their own discovery (a service registry) supply another.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Default time between two resolutions of the seed names while the node has company.
pub const DEFAULT_SEED_REFRESH: Duration = Duration::from_secs(30);
/// Longest pause between two resolutions while the node knows no live member.
pub const MAX_LONELY_BACKOFF: Duration = Duration::from_secs(5);
/// Longest wait for one name; a lookup still running after it counts as failed.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

/// One seed: an address, or a `host:port` name resolved again and again.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seed {
    /// A fixed address.
    Addr(SocketAddr),
    /// `host:port`, resolved by the node's [`Resolve`].
    Name(String),
}

/// A seed that is neither `ip:port` nor `host:port`. Nothing was started or sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a seed of the form ip:port or host:port")]
pub struct InvalidSeed {
    /// The text as given.
    pub text: String,
}

impl FromStr for Seed {
    type Err = InvalidSeed;

    fn from_str(text: &str) -> Result<Seed, InvalidSeed> {
        let text = text.trim();
        if let Ok(addr) = text.parse() {
            return Ok(Seed::Addr(addr));
        }
        let invalid = || InvalidSeed { text: text.to_owned() };
        let (host, port) = text.rsplit_once(':').ok_or_else(invalid)?;
        let host_ok = !host.is_empty()
            && !host.starts_with('[')
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !host_ok || port.parse::<u16>().is_err() {
            return Err(invalid());
        }
        Ok(Seed::Name(text.to_owned()))
    }
}

impl From<SocketAddr> for Seed {
    fn from(addr: SocketAddr) -> Seed {
        Seed::Addr(addr)
    }
}

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seed::Addr(addr) => addr.fmt(f),
            Seed::Name(name) => f.write_str(name),
        }
    }
}

/// Turns a seed name into the addresses it stands for now.
///
/// Implemented by [`SystemResolver`] (the default) and by any
/// `Fn(&str) -> impl Future<Output = io::Result<Vec<SocketAddr>>>`, so a test or a program
/// with its own discovery can answer instead of DNS.
pub trait Resolve: Send + Sync + 'static {
    /// The addresses `name` (`host:port`, as given) stands for. An error or an empty list
    /// means "not now": the name is asked again later.
    fn resolve(&self, name: &str) -> BoxFuture<'static, std::io::Result<Vec<SocketAddr>>>;
}

impl<F, Fut> Resolve for F
where
    F: Fn(&str) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'static,
{
    fn resolve(&self, name: &str) -> BoxFuture<'static, std::io::Result<Vec<SocketAddr>>> {
        Box::pin(self(name))
    }
}

/// The operating system's resolver (`getaddrinfo` on a blocking thread, through
/// [`tokio::net::lookup_host`]): `/etc/hosts`, DNS, and whatever else the system is set up for.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, name: &str) -> BoxFuture<'static, std::io::Result<Vec<SocketAddr>>> {
        let name = name.to_owned();
        Box::pin(async move { Ok(tokio::net::lookup_host(name).await?.collect()) })
    }
}

/// A shared [`Resolve`], printable so that the builder stays `Debug`.
#[derive(Clone)]
pub(crate) struct Resolver(pub(crate) Arc<dyn Resolve>);

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resolver")
    }
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver(Arc::new(SystemResolver))
    }
}

impl Resolver {
    /// The addresses of every name, looked up at once; each failure with its name.
    pub(crate) async fn resolve_all(&self, names: &[String]) -> Vec<(String, std::io::Result<Vec<SocketAddr>>)> {
        let lookups = names.iter().map(|name| {
            let lookup = self.0.resolve(name);
            async move {
                let answer = match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
                    Ok(answer) => answer,
                    Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the lookup timed out")),
                };
                (name.clone(), answer)
            }
        });
        futures::future::join_all(lookups).await
    }
}

/// The answers of one round of lookups.
pub(crate) type Answers = Vec<(String, std::io::Result<Vec<SocketAddr>>)>;

/// The node task's side of name resolution: when to look up, and what the last answers were.
pub(crate) struct SeedNames {
    /// Seeds given as addresses: always in the core's seed list.
    fixed: Vec<SocketAddr>,
    /// Seeds given as names.
    names: Vec<String>,
    resolver: Resolver,
    refresh: Duration,
    /// First pause while lonely (the gossip interval); doubles up to [`MAX_LONELY_BACKOFF`].
    lonely_start: Duration,
    lonely_backoff: Duration,
    /// When the next lookup starts (if none is running).
    next_at: Instant,
    /// When the last lookup started.
    last_at: Option<Instant>,
    running: Option<tokio::task::JoinHandle<()>>,
    answers_tx: mpsc::Sender<Answers>,
    answers_rx: mpsc::Receiver<Answers>,
    /// The addresses of each name at its last successful lookup; a name absent never resolved.
    resolved: BTreeMap<String, Vec<SocketAddr>>,
    /// Names whose last lookup failed (logged once per failing stretch).
    failing: BTreeSet<String>,
}

impl SeedNames {
    /// Resolution state for `names`, first looked up at once. `None` without names.
    pub(crate) fn new(
        fixed: Vec<SocketAddr>,
        names: Vec<String>,
        resolver: Resolver,
        refresh: Duration,
        gossip_interval: Duration,
    ) -> Option<SeedNames> {
        if names.is_empty() {
            return None;
        }
        let lonely_start = gossip_interval.min(MAX_LONELY_BACKOFF);
        let (answers_tx, answers_rx) = mpsc::channel(1);
        Some(SeedNames {
            fixed,
            names,
            resolver,
            refresh,
            lonely_start,
            lonely_backoff: lonely_start,
            next_at: Instant::now(),
            last_at: None,
            running: None,
            answers_tx,
            answers_rx,
            resolved: BTreeMap::new(),
            failing: BTreeSet::new(),
        })
    }

    /// When the node task should wake up to start a lookup; `None` while one runs.
    pub(crate) fn next_at(&self) -> Option<Instant> {
        self.running.is_none().then_some(self.next_at)
    }

    /// Starts a lookup if one is due. A lonely node looks again after its backoff even if a
    /// refresh was planned later (everyone it knew may have gone while the names moved).
    pub(crate) fn tick(&mut self, now: Instant, lonely: bool) {
        if self.running.is_some() {
            return;
        }
        if lonely && let Some(last) = self.last_at {
            self.next_at = self.next_at.min(last + self.lonely_backoff);
        }
        if now < self.next_at {
            return;
        }
        self.last_at = Some(now);
        let (resolver, names, answers) = (self.resolver.clone(), self.names.clone(), self.answers_tx.clone());
        self.running = Some(tokio::spawn(async move {
            let _ = answers.send(resolver.resolve_all(&names).await).await;
        }));
    }

    /// The next answers of a lookup; pending while none is running.
    pub(crate) async fn answers(&mut self) -> Answers {
        match self.answers_rx.recv().await {
            Some(answers) => answers,
            // Unreachable: `self` holds a sender.
            None => std::future::pending().await,
        }
    }

    /// Takes the answers of a lookup: returns the seed list to hand to the core and the
    /// addresses that were not in it before. Logs names that start or stop resolving.
    pub(crate) fn apply(&mut self, now: Instant, answers: Answers, lonely: bool) -> (Vec<SocketAddr>, Vec<SocketAddr>) {
        self.running = None;
        let before = self.addresses();
        for (name, answer) in answers {
            match answer {
                Ok(addrs) if !addrs.is_empty() => {
                    if self.failing.remove(&name) || self.resolved.get(&name) != Some(&addrs) {
                        tracing::info!(seed = %name, addrs = ?addrs, "seed name resolved");
                    }
                    self.resolved.insert(name, addrs);
                }
                failed => {
                    let error = match failed {
                        Ok(_) => "no address".to_owned(),
                        Err(e) => e.to_string(),
                    };
                    // Keep the last addresses: a DNS hiccup must not empty the seed list.
                    if self.failing.insert(name.clone()) {
                        tracing::warn!(seed = %name, %error, "seed name does not resolve; trying again");
                    } else {
                        tracing::debug!(seed = %name, %error, "seed name still does not resolve");
                    }
                }
            }
        }
        if lonely {
            self.next_at = now + self.lonely_backoff;
            self.lonely_backoff = (self.lonely_backoff * 2).min(MAX_LONELY_BACKOFF);
        } else {
            self.next_at = now + self.refresh;
            self.lonely_backoff = self.lonely_start;
        }
        let after = self.addresses();
        let appeared = after.iter().filter(|a| !before.contains(a)).copied().collect();
        (after, appeared)
    }

    /// The fixed seeds and every resolved address, without duplicates.
    fn addresses(&self) -> Vec<SocketAddr> {
        let mut out = self.fixed.clone();
        for addr in self.resolved.values().flatten() {
            if !out.contains(addr) {
                out.push(*addr);
            }
        }
        out
    }
}

impl Drop for SeedNames {
    fn drop(&mut self) {
        if let Some(task) = self.running.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_as_addresses_or_names() {
        assert_eq!("10.0.0.1:7946".parse::<Seed>(), Ok(Seed::Addr("10.0.0.1:7946".parse().unwrap())));
        assert_eq!("[::1]:7946".parse::<Seed>(), Ok(Seed::Addr("[::1]:7946".parse().unwrap())));
        assert_eq!(" n1:7946 ".parse::<Seed>(), Ok(Seed::Name("n1:7946".into())));
        assert_eq!(
            "hearsay.default.svc.cluster.local:7946".parse::<Seed>(),
            Ok(Seed::Name("hearsay.default.svc.cluster.local:7946".into()))
        );
        for bad in ["", "n1", "n1:", ":7946", "n1:99999", "n1:port", "[::1]", "a b:1", "::bad", "http://n1:7946"] {
            assert_eq!(bad.parse::<Seed>(), Err(InvalidSeed { text: bad.trim().into() }), "{bad}");
        }
    }

    fn names(list: &[&str]) -> SeedNames {
        let list = list.iter().map(|s| s.to_string()).collect();
        let fixed = vec!["10.0.0.9:7946".parse().unwrap()];
        SeedNames::new(fixed, list, Resolver::default(), DEFAULT_SEED_REFRESH, Duration::from_millis(100)).unwrap()
    }

    fn ok(name: &str, addrs: &[&str]) -> (String, std::io::Result<Vec<SocketAddr>>) {
        (name.to_string(), Ok(addrs.iter().map(|a| a.parse().unwrap()).collect()))
    }

    #[test]
    fn answers_add_addresses_and_a_failed_lookup_keeps_the_last_ones() {
        let mut seeds = names(&["n1:7946", "n2:7946"]);
        let fail = ("n2:7946".to_string(), Err(std::io::Error::other("nxdomain")));
        let (all, appeared) = seeds.apply(Instant::now(), vec![ok("n1:7946", &["10.0.0.1:7946"]), fail], true);
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(all, vec![addr("10.0.0.9:7946"), addr("10.0.0.1:7946")]);
        assert_eq!(appeared, vec![addr("10.0.0.1:7946")]);
        let fail = ("n1:7946".to_string(), Err(std::io::Error::other("servfail")));
        let (all, appeared) = seeds.apply(Instant::now(), vec![fail, ok("n2:7946", &["10.0.0.2:7946"])], true);
        assert_eq!(all, vec![addr("10.0.0.9:7946"), addr("10.0.0.1:7946"), addr("10.0.0.2:7946")]);
        assert_eq!(appeared, vec![addr("10.0.0.2:7946")]);
    }

    #[test]
    fn lonely_nodes_look_again_soon_with_backoff_and_others_at_the_refresh_interval() {
        let mut seeds = names(&["n1:7946"]);
        let now = Instant::now();
        let ms = Duration::from_millis;
        seeds.apply(now, vec![], true);
        assert_eq!(seeds.next_at(), Some(now + ms(100)));
        seeds.apply(now, vec![], true);
        seeds.apply(now, vec![], true);
        assert_eq!(seeds.next_at(), Some(now + ms(400)));
        for _ in 0..10 {
            seeds.apply(now, vec![], true);
        }
        assert_eq!(seeds.next_at(), Some(now + MAX_LONELY_BACKOFF));
        seeds.apply(now, vec![], false);
        assert_eq!(seeds.next_at(), Some(now + DEFAULT_SEED_REFRESH));
        // Everyone left: the next tick pulls the lookup in to the (reset) lonely backoff.
        seeds.last_at = Some(now);
        seeds.tick(now, true);
        assert_eq!(seeds.next_at(), Some(now + ms(100)));
    }
}
