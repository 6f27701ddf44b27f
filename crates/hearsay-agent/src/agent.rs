//! The agent daemon: opens the store, starts the node with a fresh generation and what was
//! persisted, serves the HTTP API, keeps the store up to date, logs membership changes
//! (`membership_log.rs`), and leaves gracefully on SIGINT/SIGTERM or `POST /v1/leave`. If a
//! live member already holds its name, it stops without leaving and exits with code 2.
//!
//! Persistence paths: own writes are recorded by the HTTP handlers with the version the node
//! returned (`http/kv.rs`); deletions by TTL expiry, and the peers seen, are recorded here from
//! the node's event stream.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use hearsay::{Cluster, Event, Keyring, NodeId, Subscription};
use tokio::sync::watch;

use crate::config::AgentSettings;
use crate::http;
use crate::store::{Persisted, Store};

/// How long a graceful leave may take before the agent stops anyway.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the agent could not run; decides the exit code.
#[derive(Debug)]
pub(crate) enum AgentError {
    /// Bad configuration or an unusable store: exit code 2.
    Setup(anyhow::Error),
    /// Anything else (sockets, a crashed node): exit code 1.
    Runtime(anyhow::Error),
    /// A live member at another address holds this node's name: exit code 2.
    NameTaken(String),
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Opens the store and reads what the node starts from. Errors here are setup errors.
pub(crate) fn prepare(settings: &AgentSettings) -> anyhow::Result<(Arc<Store>, u64, Persisted)> {
    let store = Store::open(&settings.data_dir)?;
    let generation = store.begin_generation(unix_ms()).with_context(|| format!("store {}", store.path().display()))?;
    let persisted = store.load().with_context(|| format!("store {}", store.path().display()))?;
    Ok((Arc::new(store), generation, persisted))
}

/// Starts the node task on a thread of its own (a current-thread runtime) rather than on the
/// runtime serving HTTP. HTTP handlers that keep every worker of that runtime busy (say, many
/// clients listing 10,000 keys) would otherwise delay the node's probes and answers; on its own
/// thread the node gets its share of the CPU from the operating system whatever the HTTP load.
/// The thread ends when the node stops.
/// Returns a subscription made before the node started, so no event is missed.
async fn spawn_on_own_thread(builder: hearsay::ClusterBuilder) -> anyhow::Result<(Cluster, Subscription)> {
    let (started_tx, started) = tokio::sync::oneshot::channel();
    std::thread::Builder::new().name("hearsay-node".into()).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => {
                let _ = started_tx.send(Err(anyhow::anyhow!("cannot start the node's runtime: {e}")));
                return;
            }
        };
        runtime.block_on(async move {
            match builder.spawn_with_subscription().await {
                Ok((cluster, first_events)) => {
                    // A subscription ends when the node stops; it does not keep the node alive.
                    let mut events = cluster.subscribe();
                    if started_tx.send(Ok((cluster, first_events))).is_err() {
                        return;
                    }
                    while futures::StreamExt::next(&mut events).await.is_some() {}
                }
                Err(e) => {
                    let _ = started_tx.send(Err(e.into()));
                }
            }
        });
    })?;
    started.await.map_err(|_| anyhow::anyhow!("the node's thread ended before the node started"))?
}

/// Runs the agent until it leaves. Returns once it has stopped.
pub(crate) async fn run(settings: AgentSettings) -> Result<(), AgentError> {
    let (store, generation, persisted) = prepare(&settings).map_err(AgentError::Setup)?;
    let now = unix_ms();
    let (restore, ttl_keys): (Vec<_>, Vec<_>) = persisted.keys.into_iter().partition(|k| k.expires_at_ms.is_none());
    let restore: Vec<(String, Vec<u8>, u64)> = restore.into_iter().map(|k| (k.key, k.value, k.version)).collect();
    let peers: Vec<NodeId> = persisted.peers.into_iter().filter(|p| *p.name != *settings.name).collect();
    tracing::info!(
        generation,
        keys = restore.len(),
        max_version = persisted.max_version,
        known_peers = peers.len(),
        store = %store.path().display(),
        "starting"
    );
    let mut builder = Cluster::builder(settings.core.clone())
        .name(settings.name.clone())
        .bind(settings.bind)
        .seed_names(settings.seeds.clone())
        .seed_refresh(settings.seed_refresh)
        .generation(generation)
        .restore(restore, persisted.max_version)
        .known_peers(peers)
        .tags(settings.tags.clone());
    if !settings.queries.is_empty() {
        builder = builder.query_handler(crate::query_command::handler(settings.queries.clone()));
    }
    if let Some(addr) = settings.advertise {
        builder = builder.advertise(addr);
    }
    if let Some(keyring) = settings.keyring.clone() {
        tracing::info!(primary = %keyring.primary().fingerprint(), keys = keyring.keys().len(), "packets are encrypted");
        builder = builder.keyring(keyring);
    }
    let (cluster, first_events) = spawn_on_own_thread(builder)
        .await
        .map_err(|e| AgentError::Runtime(anyhow::anyhow!("cannot start the node on {}: {e}", settings.bind)))?;
    let (refused_tx, mut refused) = watch::channel(None);
    let membership_log = tokio::spawn(crate::membership_log::run(first_events, refused_tx));
    let listener = match http::bind(settings.http).await {
        Ok(listener) => listener,
        Err(e) => {
            cluster.shutdown().await;
            return Err(AgentError::Runtime(e));
        }
    };
    let http_addr = listener.local_addr().map_err(|e| AgentError::Runtime(e.into()))?;
    tracing::info!(node = %cluster.id(), gossip = %cluster.local_addr(), http = %http_addr, "agent running");
    if unencrypted_exposure(cluster.local_addr(), settings.keyring.is_some()) {
        tracing::warn!(
            gossip = %cluster.local_addr(),
            "gossip is unencrypted and listens beyond loopback: anyone who reaches the port can join, read \
             and write the cluster's state; set keyring_file (create a key with `hearsay keygen`)"
        );
    }
    if http::unprotected_exposure(http_addr, settings.http_token.is_some()) {
        tracing::warn!(
            http = %http_addr,
            "the HTTP API listens beyond loopback without a token: anyone who reaches it can read and \
             write this node's state and rotate the cluster's keys; set http_token_file"
        );
    } else if settings.http_token.is_some() {
        tracing::info!("the HTTP API requires a bearer token");
    }

    // Keys written with a TTL come back with what is left of it (and a new version).
    for key in ttl_keys {
        let Some(remaining) = key.expires_at_ms.and_then(|at| at.checked_sub(now)).filter(|ms| *ms > 0) else {
            continue;
        };
        match cluster.set_with_ttl(&key.key, key.value.clone(), Duration::from_millis(remaining)).await {
            Ok(version) => {
                if let Err(e) = store.record_key(&key.key, Some(&key.value), version, key.expires_at_ms) {
                    tracing::error!(key = %key.key, error = %e, "cannot persist a restored key");
                }
            }
            Err(e) => tracing::warn!(key = %key.key, error = %e, "cannot restore a key"),
        }
    }

    let persister = tokio::spawn(persist_events(cluster.clone(), store.clone()));
    let keyring_sync = match (&settings.keyring_file, &settings.keyring) {
        (Some(path), Some(ring)) => Some(tokio::spawn(sync_keyring_file(cluster.clone(), path.clone(), ring.clone()))),
        _ => None,
    };
    let (left_tx, left_rx) = watch::channel(false);
    let mut left_wait = left_rx.clone();
    let (stop_http_tx, stop_http_rx) = watch::channel(false);
    let state = http::AppState::new(cluster.clone(), Some(store.clone()), settings.core.clone(), left_tx)
        .with_http_addr(http_addr)
        .with_token(settings.http_token.clone())
        .with_allowed_hosts(http::AllowedHosts::new(settings.http_allowed_hosts.clone()))
        .with_limits(settings.http_limits)
        .with_metrics_per_member(settings.metrics_per_member);
    let mut stop_rx = stop_http_rx.clone();
    let server = tokio::spawn(http::serve(listener, state, async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
    }));

    let reason = tokio::select! {
        r = shutdown_signal() => r,
        _ = refused.wait_for(Option::is_some) => "name already used by a live member",
        _ = left_wait.wait_for(|left| *left) => "leave requested over HTTP",
        _ = node_stopped(&cluster) => {
            // A leave over HTTP stops the node a moment before the flag is raised.
            tokio::time::sleep(Duration::from_millis(500)).await;
            if *left_rx.borrow() { "leave requested over HTTP" } else { "the node stopped unexpectedly" }
        }
    };
    tracing::info!(reason, "stopping");
    let crashed = reason == "the node stopped unexpectedly";
    // The refused node has stopped gossiping; a leave would announce the name as gone.
    let name_taken = refused.borrow().clone();
    if !*left_rx.borrow() && !crashed && name_taken.is_none() {
        match tokio::time::timeout(LEAVE_TIMEOUT, cluster.leave()).await {
            Ok(Ok(())) => tracing::info!("left the cluster"),
            Ok(Err(e)) => tracing::warn!(error = %e, "leave failed"),
            Err(_) => tracing::warn!("leave did not finish in time; stopping anyway"),
        }
    }
    cluster.shutdown().await;
    stop_http_tx.send_replace(true);
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "HTTP server error"),
        Err(_) => tracing::warn!("HTTP connections still open; stopping anyway"),
        _ => {}
    }
    persister.abort();
    membership_log.abort();
    if let Some(task) = keyring_sync {
        task.abort();
    }
    if let Some(message) = name_taken {
        return Err(AgentError::NameTaken(message));
    }
    if crashed {
        return Err(AgentError::Runtime(anyhow::anyhow!("the node stopped unexpectedly (see the log above)")));
    }
    tracing::info!("stopped");
    Ok(())
}

/// Whether gossip on `addr` is reachable from other machines with nothing sealing it.
fn unencrypted_exposure(addr: std::net::SocketAddr, has_keyring: bool) -> bool {
    !has_keyring && !addr.ip().is_loopback()
}

/// Resolves if the node task stops on its own (a fatal socket error).
async fn node_stopped(cluster: &Cluster) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Err(hearsay::Error::Stopped) = cluster.members().await {
            return;
        }
    }
}

/// Resolves on SIGINT or SIGTERM, with the signal's name.
async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "ctrl-c"
    }
}

/// Rewrites the keyring file whenever the cluster's keyring changes (keys rotate by gossip),
/// so that a restarted agent opens the packets its peers seal now.
async fn sync_keyring_file(cluster: Cluster, path: PathBuf, mut last: Keyring) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let ring = match cluster.keyring().await {
            Ok(Some(ring)) => ring,
            Ok(None) => continue,
            Err(_) => return,
        };
        if ring == last {
            continue;
        }
        let (p, r) = (path.clone(), ring.clone());
        match tokio::task::spawn_blocking(move || crate::config::write_keyring(&p, &r)).await {
            Ok(Ok(())) => tracing::info!(
                primary = %ring.primary().fingerprint(),
                keys = ring.keys().len(),
                file = %path.display(),
                "keyring changed; file rewritten"
            ),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, file = %path.display(), "keyring changed but the file cannot be rewritten")
            }
            Err(e) => tracing::warn!(error = %e, "keyring file task failed"),
        }
        last = ring;
    }
}

/// Most events persisted in one store transaction.
const PERSIST_BATCH: usize = 512;

/// Records own deletions seen as events (TTL expiry) and the peers seen. Events that are
/// already waiting are handled together, in one transaction.
async fn persist_events(cluster: Cluster, store: Arc<Store>) {
    use futures::FutureExt;
    let me = cluster.id().clone();
    let mut events = cluster.subscribe();
    while let Some(first) = events.recv().await {
        let mut lagged = first.is_err();
        let mut batch: Vec<Event> = first.into_iter().collect();
        while batch.len() < PERSIST_BATCH {
            match events.recv().now_or_never() {
                Some(Some(Ok(event))) => batch.push(event),
                Some(Some(Err(_))) => lagged = true,
                _ => break,
            }
        }
        if lagged {
            // Membership events were lost: remember every member known now instead.
            tracing::warn!("persistence fell behind the node's events; re-reading the member list");
            if let Ok(members) = cluster.members().await {
                batch.extend(members.into_iter().map(|m| match m.status {
                    hearsay::MemberStatus::Left => Event::MemberLeft(m.id),
                    _ => Event::MemberAlive(m.id),
                }));
            }
        }
        let store = store.clone();
        let me = me.clone();
        let result = tokio::task::spawn_blocking(move || persist_batch(&store, &me, batch)).await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "cannot persist"),
            Err(e) => tracing::error!(error = %e, "persistence task failed"),
        }
    }
}

fn persist_batch(store: &Store, me: &NodeId, batch: Vec<Event>) -> anyhow::Result<()> {
    let mut seen: Vec<NodeId> = Vec::new();
    let mut gone: Vec<String> = Vec::new();
    for event in batch {
        match event {
            Event::KeyChanged { owner, key, value: None, version } if owner == *me => {
                store.record_key(&key, None, version, None)?;
            }
            Event::MemberJoined(id) | Event::MemberAlive(id) if id.name != me.name => {
                gone.retain(|n| **n != *id.name);
                seen.retain(|s| s.name != id.name);
                seen.push(id);
            }
            Event::MemberLeft(id) | Event::MemberRemoved(id) if id.name != me.name => {
                seen.retain(|s| s.name != id.name);
                gone.push(id.name.to_string());
            }
            _ => {}
        }
    }
    if seen.is_empty() && gone.is_empty() {
        return Ok(());
    }
    let gone: Vec<&str> = gone.iter().map(String::as_str).collect();
    store.update_peers(&seen, &gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unencrypted_gossip_beyond_loopback_is_flagged() {
        let at = |s: &str| s.parse::<std::net::SocketAddr>().unwrap();
        assert!(unencrypted_exposure(at("0.0.0.0:7946"), false));
        assert!(unencrypted_exposure(at("10.0.0.5:7946"), false));
        assert!(unencrypted_exposure(at("[::]:7946"), false));
        assert!(!unencrypted_exposure(at("0.0.0.0:7946"), true));
        assert!(!unencrypted_exposure(at("127.0.0.1:7946"), false));
        assert!(!unencrypted_exposure(at("[::1]:7946"), false));
    }
}
