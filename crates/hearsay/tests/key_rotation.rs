//! Key rotation on a running three-node cluster over real sockets (127.0.0.1): install, use and
//! remove spread by gossip while writes keep flowing, and no write is lost.
//!
//! Nothing here asserts a duration: every wait polls a condition with a generous deadline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hearsay::{Cluster, Config, Key, Keyring, MemberStatus};

mod common;
use common::*;

async fn spawn(seeds: Vec<SocketAddr>, key: Key) -> Cluster {
    Cluster::builder(Config::local())
        .bind("127.0.0.1:0".parse().unwrap())
        .seeds(seeds)
        .keyring(Keyring::new(key))
        .spawn()
        .await
        .unwrap()
}

async fn alive_count(node: &Cluster) -> usize {
    node.members().await.unwrap().iter().filter(|m| m.status == MemberStatus::Alive).count()
}

/// Whether every node's keyring is exactly `keys`, primary first.
async fn every_keyring_is(nodes: &[Cluster], keys: &[Key]) -> bool {
    for node in nodes {
        if node.keyring().await.unwrap().is_none_or(|ring| ring.keys() != keys) {
            return false;
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_on_a_running_cluster_without_losing_a_write() {
    let (old, new) = (Key::from_bytes([0xA1; 32]), Key::from_bytes([0xB2; 32]));
    let first = spawn(vec![], old.clone()).await;
    let seed = first.local_addr();
    let nodes = vec![first, spawn(vec![seed], old.clone()).await, spawn(vec![seed], old.clone()).await];
    eventually("the three nodes see each other", || async {
        for node in &nodes {
            if alive_count(node).await != 3 {
                return false;
            }
        }
        true
    })
    .await;

    // Writes on every node, all through the rotation.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (nodes, stop) = (nodes.clone(), stop.clone());
        tokio::spawn(async move {
            let mut written = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let node = &nodes[written % nodes.len()];
                node.set(&format!("w-{written:04}"), format!("v{written}")).await.unwrap();
                written += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            written
        })
    };

    let (both, new_first) = ([old.clone(), new.clone()], [new.clone(), old.clone()]);
    nodes[0].keyring_install(new.clone()).await.unwrap();
    eventually("every node accepts the new key", || every_keyring_is(&nodes, &both)).await;
    nodes[1].keyring_use(new.clone()).await.unwrap();
    eventually("every node seals with the new key", || every_keyring_is(&nodes, &new_first)).await;
    nodes[2].keyring_remove(old.clone()).await.unwrap();
    eventually("no node accepts the old key", || every_keyring_is(&nodes, std::slice::from_ref(&new))).await;

    stop.store(true, Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(written > 0);
    for i in 0..written {
        let owner = nodes[i % nodes.len()].id().name.to_string();
        let (key, want) = (format!("w-{i:04}"), format!("v{i}"));
        eventually(&format!("every node holds {owner}/{key}"), || async {
            for node in &nodes {
                if node.get(&owner, &key).await.unwrap().is_none_or(|v| *v.value != *want.as_bytes()) {
                    return false;
                }
            }
            true
        })
        .await;
    }
    for node in &nodes {
        assert_eq!(alive_count(node).await, 3, "the rotation cost no membership");
    }

    // A node that only has the retired key is now an outsider.
    let late = spawn(vec![seed], old).await;
    eventually("the retired key's packets are rejected", || async {
        nodes[0].stats().await.unwrap().core.dropped.get("decrypt").copied().unwrap_or(0) > 0
    })
    .await;
    assert!(late.members().await.unwrap().iter().all(|m| m.is_self), "the old key no longer opens the cluster");
    eprintln!("rotation: {written} writes during install/use/remove, all on every node");
    for node in nodes.iter().chain([&late]) {
        node.shutdown().await;
    }
}
