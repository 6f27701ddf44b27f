//! Real clusters on 127.0.0.1: several nodes in one process, talking UDP and TCP.
//!
//! Nothing here asserts a duration: every wait polls a condition with a generous deadline.

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use hearsay::{Cluster, Config, Error, Event, MemberStatus};
use tokio::io::AsyncWriteExt;

mod common;
use common::*;

/// `n` nodes with `Config::local()`; every node but the first joins through the first.
async fn start(n: usize) -> Vec<Cluster> {
    let first = Cluster::builder(Config::local()).bind(localhost()).rng_seed(1).spawn().await.unwrap();
    let seed = first.local_addr();
    let mut nodes = vec![first];
    for i in 1..n {
        let node = Cluster::builder(Config::local())
            .bind(localhost())
            .seeds(vec![seed])
            .rng_seed(1 + i as u64)
            .spawn()
            .await
            .unwrap();
        nodes.push(node);
    }
    nodes
}

async fn value_everywhere(nodes: &[Cluster], owner: &str, key: &str) -> Vec<Option<Vec<u8>>> {
    let mut out = Vec::new();
    for node in nodes {
        out.push(node.get(owner, key).await.unwrap().map(|v| v.value.to_vec()));
    }
    out
}

async fn shutdown_all(nodes: &[Cluster]) {
    for node in nodes {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_converge_and_see_sets_and_deletes_everywhere() {
    let nodes = start(4).await;
    eventually("all four nodes see each other alive", || all_see_each_other(&nodes)).await;

    let owner = nodes[2].id().name.to_string();
    let version = nodes[2].set("color", "blue").await.unwrap();
    assert_eq!(version, nodes[2].get(&owner, "color").await.unwrap().unwrap().version);
    eventually("every node holds color=blue", || async {
        value_everywhere(&nodes, &owner, "color").await.iter().all(|v| v.as_deref() == Some(&b"blue"[..]))
    })
    .await;

    assert!(nodes[2].delete("color").await.unwrap().is_some());
    assert_eq!(nodes[2].delete("color").await.unwrap(), None, "deleting a missing key changes nothing");
    eventually("every node saw the delete", || async {
        value_everywhere(&nodes, &owner, "color").await.iter().all(Option::is_none)
    })
    .await;

    let snapshot = nodes[0].snapshot().await.unwrap();
    assert_eq!(snapshot.members.len(), 4);
    assert!(snapshot.members.iter().all(|m| !m.keys.contains_key("color")));
    shutdown_all(&nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shut_down_node_is_declared_dead_by_the_others() {
    let nodes = start(3).await;
    eventually("all three nodes see each other alive", || all_see_each_other(&nodes)).await;
    let victim = nodes[2].id().name.to_string();
    let mut events = nodes[0].subscribe();
    nodes[2].shutdown().await;
    assert!(matches!(nodes[2].members().await, Err(Error::Stopped)));

    eventually("the survivors mark the stopped node dead", || async {
        for node in &nodes[..2] {
            let members = node.members().await.unwrap();
            let status = members.iter().find(|m| *m.id.name == *victim).map(|m| m.status);
            if status != Some(MemberStatus::Dead) {
                return false;
            }
        }
        true
    })
    .await;
    let mut saw_dead = false;
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(10), events.recv()).await {
        saw_dead |= matches!(&event, Ok(Event::MemberDead(id)) if *id.name == *victim);
    }
    assert!(saw_dead, "a subscriber was told about the death");
    shutdown_all(&nodes[..2]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_node_is_seen_as_left() {
    let nodes = start(3).await;
    eventually("all three nodes see each other alive", || all_see_each_other(&nodes)).await;
    let leaver = nodes[1].id().name.to_string();
    nodes[1].leave().await.unwrap();
    assert!(matches!(nodes[1].set("k", "v").await, Err(Error::Stopped)), "a left node's task has stopped");

    for node in [&nodes[0], &nodes[2]] {
        eventually("the others see the node as left", || async {
            let members = node.members().await.unwrap();
            members.iter().any(|m| *m.id.name == *leaver && m.status == MemberStatus::Left)
        })
        .await;
    }
    shutdown_all(&nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_node_gets_a_large_state_over_a_stream() {
    let nodes = start(1).await;
    let big = &nodes[0];
    let value = vec![7u8; 1000];
    for i in 0..200 {
        big.set(&format!("key-{i:03}"), value.clone()).await.unwrap();
    }
    let late = Cluster::builder(Config::local()).bind(localhost()).seeds(vec![big.local_addr()]).spawn().await.unwrap();
    let owner = big.id().name.to_string();
    eventually("the joining node holds all 200 keys", || async {
        let snapshot = late.snapshot().await.unwrap();
        snapshot.members.iter().find(|m| *m.info.id.name == *owner).is_some_and(|m| m.keys.len() == 200)
    })
    .await;
    assert_eq!(late.get(&owner, "key-199").await.unwrap().unwrap().value.to_vec(), value);

    let (sender, receiver) = (big.stats().await.unwrap(), late.stats().await.unwrap());
    assert!(sender.stream_frames_sent > 0, "the big node sent stream frames: {sender:?}");
    assert!(receiver.stream_frames_received > 0, "the joining node received stream frames: {receiver:?}");
    assert!(sender.core.stream_transmits > 0);
    assert_eq!(receiver.stream_errors, 0);
    late.shutdown().await;
    shutdown_all(&nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_datagrams_are_dropped_and_counted_and_the_node_keeps_working() {
    let nodes = start(2).await;
    eventually("both nodes see each other alive", || all_see_each_other(&nodes)).await;
    let target = nodes[1].local_addr();
    let dropped_before: u64 = nodes[1].stats().await.unwrap().core.dropped.values().sum();

    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let garbage: [&[u8]; 5] = [b"", b"hello", b"HS\x01\x01\x00\x00\x00\x00\x00\xff\xff\xff", &[0xff; 1500], b"HS"];
    for packet in garbage {
        socket.send_to(packet, target).unwrap();
    }
    eventually("the garbage is counted as dropped", || async {
        let dropped: u64 = nodes[1].stats().await.unwrap().core.dropped.values().sum();
        dropped >= dropped_before + garbage.len() as u64
    })
    .await;

    let owner = nodes[1].id().name.to_string();
    nodes[1].set("after-garbage", "ok").await.unwrap();
    eventually("a write after the garbage still spreads", || async {
        value_everywhere(&nodes, &owner, "after-garbage").await.iter().all(|v| v.as_deref() == Some(&b"ok"[..]))
    })
    .await;
    shutdown_all(&nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_stream_frame_is_rejected_and_counted() {
    let nodes = start(1).await;
    let node = &nodes[0];
    let max = Config::local().limits.max_stream_bytes as u32;
    let mut conn = tokio::net::TcpStream::connect(node.local_addr()).await.unwrap();
    let from = b"127.0.0.1:9";
    let mut preamble = b"HSS1".to_vec();
    preamble.extend_from_slice(&(from.len() as u16).to_be_bytes());
    preamble.extend_from_slice(from);
    conn.write_all(&preamble).await.unwrap();
    conn.write_all(&(max + 1).to_be_bytes()).await.unwrap();
    eventually("the oversized frame is counted", || async {
        let stats = node.stats().await.unwrap();
        stats.stream_frames_rejected == 1 && stats.stream_errors == 1
    })
    .await;
    assert_eq!(node.stats().await.unwrap().stream_frames_received, 0);
    node.set("still", "alive").await.unwrap();
    shutdown_all(&nodes).await;
}

type KeyChange = (hearsay::NodeId, String, Option<Vec<u8>>, u64);

/// The next `KeyChanged` event of `sub`, skipping membership events.
async fn next_key_change(sub: &mut hearsay::Subscription) -> KeyChange {
    loop {
        match tokio::time::timeout(DEADLINE, sub.recv()).await.expect("an event before the deadline") {
            Some(Ok(Event::KeyChanged { owner, key, value, version })) => {
                return (owner, key.to_string(), value.map(|v| v.to_vec()), version);
            }
            Some(_) => continue,
            None => panic!("subscription ended"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_receive_key_changes_and_prefix_filters_them() {
    let nodes = start(2).await;
    eventually("both nodes see each other alive", || all_see_each_other(&nodes)).await;
    let mut all = nodes[0].subscribe();
    let mut loads = nodes[0].subscribe_prefix("load");
    let writer = nodes[1].id().clone();
    nodes[1].set("other", "x").await.unwrap();
    let version = nodes[1].set("load", "0.5").await.unwrap();

    let mut seen = Vec::new();
    while seen.len() < 2 {
        seen.push(next_key_change(&mut all).await);
    }
    seen.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(seen[0], (writer.clone(), "load".to_string(), Some(b"0.5".to_vec()), version));
    assert_eq!(seen[1].1, "other");

    let (owner, key, value, _) = next_key_change(&mut loads).await;
    assert_eq!((owner, key.as_str(), value.as_deref()), (writer, "load", Some(&b"0.5"[..])));
    shutdown_all(&nodes).await;
    tokio::time::timeout(DEADLINE, async { while all.recv().await.is_some() {} })
        .await
        .expect("a subscription ends once its node has stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_zero_binds_udp_and_tcp_on_one_port_and_bad_writes_are_refused() {
    let nodes = start(1).await;
    let node = &nodes[0];
    let addr = node.local_addr();
    assert_ne!(addr.port(), 0);
    assert_eq!(node.id().addr, addr);
    assert_eq!(&*node.id().name, format!("node-{}", addr.port()));
    tokio::net::TcpStream::connect(addr).await.expect("the TCP listener shares the UDP port");

    assert!(matches!(node.set("__reserved", "x").await, Err(Error::Write(_))));
    assert!(matches!(node.set("", "x").await, Err(Error::Write(_))));
    assert!(matches!(node.set("k", vec![0u8; 1 << 20]).await, Err(Error::Write(_))));
    assert!(node.get(&node.id().name, "k").await.unwrap().is_none(), "a refused write leaves nothing");

    node.shutdown().await;
    node.shutdown().await;
    assert!(matches!(node.set("k", "v").await, Err(Error::Stopped)));
    let mut late = node.subscribe();
    assert_eq!(late.recv().await, None, "subscribing to a stopped node ends at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_nodes_converge_and_a_node_without_the_key_is_kept_out() {
    let key = hearsay::Key::from_bytes([42; 32]);
    let spawn = |seeds: Vec<SocketAddr>, keyring: Option<hearsay::Keyring>| async move {
        let mut builder = Cluster::builder(Config::local()).bind(localhost()).seeds(seeds);
        if let Some(keyring) = keyring {
            builder = builder.keyring(keyring);
        }
        builder.spawn().await.unwrap()
    };
    let a = spawn(vec![], Some(hearsay::Keyring::new(key.clone()))).await;
    let b = spawn(vec![a.local_addr()], Some(hearsay::Keyring::new(key.clone()))).await;
    let outsider = spawn(vec![a.local_addr()], None).await;
    let pair = [a.clone(), b.clone()];
    eventually("the two keyed nodes see each other", || all_see_each_other(&pair)).await;
    let owner = a.id().name.to_string();
    a.set("secret", "s").await.unwrap();
    eventually("the keyed peer holds the value", || async {
        b.get(&owner, "secret").await.unwrap().is_some_and(|v| &*v.value == b"s")
    })
    .await;
    eventually("the keyed node drops the outsider's packets", || async {
        a.stats().await.unwrap().core.dropped.values().sum::<u64>() > 0
    })
    .await;
    assert!(outsider.get(&owner, "secret").await.unwrap().is_none());
    assert_eq!(alive_names(&a).await.len(), 2, "the outsider never became a member");
    assert_eq!(a.keyring().await.unwrap().map(|k| k.primary().clone()), Some(key));
    assert!(matches!(outsider.keyring_install(hearsay::Key::from_bytes([1; 32])).await, Err(Error::Keyring(_))));
    shutdown_all(&[a, b, outsider]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_made_at_spawn_sees_every_member_joined() {
    let nodes = start(3).await;
    eventually("the first three see each other", || all_see_each_other(&nodes)).await;
    let (late, mut events) = Cluster::builder(Config::local())
        .bind(localhost())
        .seeds(vec![nodes[0].local_addr()])
        .spawn_with_subscription()
        .await
        .unwrap();
    let mut joined = BTreeSet::new();
    while joined.len() < 3 {
        match tokio::time::timeout(DEADLINE, events.recv()).await.expect("joins before the deadline") {
            Some(Ok(Event::MemberJoined(id))) => {
                joined.insert(id.name.to_string());
            }
            Some(_) => {}
            None => panic!("subscription ended"),
        }
    }
    let want: BTreeSet<String> = nodes.iter().map(|n| n.id().name.to_string()).collect();
    assert_eq!(joined, want);
    late.shutdown().await;
    shutdown_all(&nodes).await;
}
