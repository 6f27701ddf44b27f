//! Helpers shared by the library's integration tests: real nodes on 127.0.0.1, polled with a
//! generous deadline instead of fixed sleeps.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hearsay::{Cluster, MemberStatus};

/// How long a condition may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Any free port on loopback.
pub fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Polls `check` until it holds, or panics naming `what` after [`DEADLINE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    while !check().await {
        assert!(start.elapsed() < DEADLINE, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Names of the members `node` sees alive.
pub async fn alive_names(node: &Cluster) -> BTreeSet<String> {
    node.members()
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.status == MemberStatus::Alive)
        .map(|m| m.id.name.to_string())
        .collect()
}

/// Whether every node sees exactly the given nodes alive.
pub async fn all_see_each_other(nodes: &[Cluster]) -> bool {
    let want: BTreeSet<String> = nodes.iter().map(|n| n.id().name.to_string()).collect();
    for node in nodes {
        if alive_names(node).await != want {
            return false;
        }
    }
    true
}
