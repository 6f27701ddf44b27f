//! Seeds by name and `Cluster::join`: nodes on 127.0.0.1 whose seed names are answered by a
//! resolver the test controls, so a name can "appear" while the node runs.
//!
//! Nothing here asserts a duration: every wait polls a condition with a generous deadline.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearsay::{Cluster, Config, Error};

mod common;
use common::*;

/// A name table the test edits while nodes run, counting lookups.
#[derive(Clone, Default)]
struct Names {
    table: Arc<Mutex<HashMap<String, Vec<SocketAddr>>>>,
    lookups: Arc<AtomicU64>,
}

impl Names {
    fn set(&self, name: &str, addrs: Vec<SocketAddr>) {
        self.table.lock().unwrap().insert(name.to_string(), addrs);
    }

    fn lookups(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
    }

    /// A resolver answering from the table: unknown names fail as DNS would.
    fn resolver(&self) -> impl hearsay::Resolve {
        let names = self.clone();
        move |name: &str| {
            names.lookups.fetch_add(1, Ordering::Relaxed);
            let answer = names.table.lock().unwrap().get(name).cloned();
            async move { answer.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such host")) }
        }
    }
}

fn node(seed: u64) -> hearsay::ClusterBuilder {
    Cluster::builder(Config::local()).bind(localhost()).rng_seed(seed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_started_before_its_seed_name_resolves_joins_once_it_does() {
    let names = Names::default();
    let late = node(1).seed_names(["first.test:7946"]).resolver(names.resolver()).spawn().await.unwrap();
    let first = node(2).spawn().await.unwrap();

    // The name does not resolve: the node keeps asking (lonely, so every round or so) and
    // stays alone.
    let asked = names.lookups();
    eventually("the lonely node looks the name up again", || async { names.lookups() >= asked + 3 }).await;
    assert_eq!(alive_names(&late).await.len(), 1);

    // The seed appears under that name: the node joins it.
    names.set("first.test:7946", vec![first.local_addr()]);
    let both = [late.clone(), first.clone()];
    eventually("both nodes see each other", || all_see_each_other(&both)).await;
    late.shutdown().await;
    first.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_halves_meet_once_a_seed_name_resolves_to_the_other_half() {
    // Each half formed on its own; half b names half a's seed, which resolves only later.
    // Nobody in b is lonely, so only the periodic refresh brings the new address in.
    let names = Names::default();
    let a1 = node(1).spawn().await.unwrap();
    let a2 = node(2).seeds(vec![a1.local_addr()]).spawn().await.unwrap();
    let b1 = node(3).spawn().await.unwrap();
    let b2 = node(4)
        .seeds(vec![b1.local_addr()])
        .seed_names(["a.test:7946"])
        .resolver(names.resolver())
        .seed_refresh(Duration::from_millis(200))
        .spawn()
        .await
        .unwrap();
    let (half_a, half_b) = ([a1.clone(), a2.clone()], [b1.clone(), b2.clone()]);
    eventually("half a forms", || all_see_each_other(&half_a)).await;
    eventually("half b forms", || all_see_each_other(&half_b)).await;
    let asked = names.lookups();
    eventually("the name is looked up again while b has company", || async { names.lookups() >= asked + 2 }).await;
    assert_eq!(alive_names(&b2).await.len(), 2);

    names.set("a.test:7946", vec![a1.local_addr()]);
    let all = [a1, a2, b1, b2];
    eventually("the halves merge", || all_see_each_other(&all)).await;
    for node in &all {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_names_that_are_not_host_port_are_refused_at_spawn() {
    for bad in ["no-port", "n1:http", ":7946"] {
        let err = node(1).seed_names([bad]).spawn().await.unwrap_err();
        assert!(matches!(&err, Error::Config(_)), "{bad}: {err}");
        assert!(err.to_string().contains("seeds"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_merges_two_nodes_started_without_seeds() {
    let a = node(1).spawn().await.unwrap();
    let b = node(2).spawn().await.unwrap();
    b.join(&[a.local_addr()]).await.unwrap();
    let both = [a.clone(), b.clone()];
    eventually("both nodes see each other", || all_see_each_other(&both)).await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_names_resolves_names_and_refuses_bad_ones_without_contacting_anyone() {
    let names = Names::default();
    let a = node(1).spawn().await.unwrap();
    let b = node(2).resolver(names.resolver()).spawn().await.unwrap();

    let err = b.join_names(&["nowhere.test:7946"]).await.unwrap_err();
    assert!(matches!(&err, Error::Seed { seed, .. } if seed == "nowhere.test:7946"), "{err}");
    let err = b.join_names(&["not an address"]).await.unwrap_err();
    assert!(matches!(&err, Error::Seed { .. }), "{err}");
    assert_eq!(alive_names(&b).await.len(), 1);

    names.set("a.test:7946", vec![a.local_addr()]);
    let contacted = b.join_names(&["a.test:7946"]).await.unwrap();
    assert_eq!(contacted, vec![a.local_addr()]);
    let both = [a.clone(), b.clone()];
    eventually("both nodes see each other", || all_see_each_other(&both)).await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_on_a_stopped_node_says_so() {
    let a = node(1).spawn().await.unwrap();
    a.shutdown().await;
    assert!(matches!(a.join(&[localhost()]).await, Err(Error::Stopped)));
}
