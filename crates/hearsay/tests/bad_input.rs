//! Bad input on real sockets (127.0.0.1 only): truncated, oversized, garbage and foreign-cluster
//! datagrams and stream frames are dropped and counted under their reasons, a flood of garbage
//! loses no update, and a node with the wrong key never becomes a member.
//!
//! Nothing here asserts a duration: every wait polls a condition with a generous deadline.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use hearsay::core::wire::{Codec, Message, PushAck};
use hearsay::{Cluster, Config, DriverStats, Key, Keyring};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

mod common;
use common::*;

async fn spawn(config: Config, seeds: Vec<SocketAddr>, keyring: Option<Keyring>) -> Cluster {
    let mut builder = Cluster::builder(config).bind(localhost()).seeds(seeds);
    if let Some(keyring) = keyring {
        builder = builder.keyring(keyring);
    }
    builder.spawn().await.unwrap()
}

/// `n` nodes with `Config::local()`, all joining through the first.
async fn start(n: usize) -> Vec<Cluster> {
    let first = spawn(Config::local(), vec![], None).await;
    let seed = first.local_addr();
    let mut nodes = vec![first];
    for _ in 1..n {
        nodes.push(spawn(Config::local(), vec![seed], None).await);
    }
    nodes
}

async fn stats(node: &Cluster) -> DriverStats {
    node.stats().await.unwrap()
}

fn dropped(stats: &DriverStats, reason: &str) -> u64 {
    stats.core.dropped.get(reason).copied().unwrap_or(0)
}

async fn shutdown_all(nodes: &[Cluster]) {
    for node in nodes {
        node.shutdown().await;
    }
}

/// A well-formed packet (a `PushAck`) of cluster `cluster_id`, without encryption.
fn packet(cluster_id: u32, known: usize) -> Vec<u8> {
    let message = Message::PushAck(PushAck { exchange_id: 7, known: (0..known as u16).collect() });
    Codec { cluster_id, max_len: 64 * 1024 }.encode(&message)
}

/// The stream preamble a dialer sends: magic, address length, the address as text.
fn preamble(from: &str) -> Vec<u8> {
    let mut out = b"HSS1".to_vec();
    out.extend_from_slice(&(from.len() as u16).to_be_bytes());
    out.extend_from_slice(from.as_bytes());
    out
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_datagrams_are_dropped_and_counted_by_reason_and_the_node_keeps_working() {
    let nodes = start(2).await;
    eventually("both nodes see each other alive", || all_see_each_other(&nodes)).await;
    let target = &nodes[1];
    let mtu = Config::local().mtu;
    let before = stats(target).await;

    let mut oversized = packet(0, 0);
    oversized.resize(mtu + 1, 0);
    let whole = packet(0, 100);
    let cases: [(&str, Vec<Vec<u8>>); 4] = [
        // Shorter than the header, and a header whose body stops half-way.
        ("truncated", vec![b"HS\x01".to_vec(), whole[..whole.len() / 2].to_vec()]),
        ("oversized", vec![oversized, vec![0xAB; 9000]]),
        ("bad_magic", vec![b"this is not a hearsay packet".to_vec(), vec![0u8; 64]]),
        ("foreign_cluster", vec![packet(1, 3), packet(0xDEAD_BEEF, 0)]),
    ];
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for (_, packets) in &cases {
        for p in packets {
            socket.send_to(p, target.local_addr()).unwrap();
        }
    }
    eventually("every bad datagram is counted under its reason", || async {
        let now = stats(target).await;
        cases.iter().all(|(reason, packets)| dropped(&now, reason) >= dropped(&before, reason) + packets.len() as u64)
    })
    .await;
    let after = stats(target).await;
    for (reason, packets) in &cases {
        assert_eq!(
            dropped(&after, reason) - dropped(&before, reason),
            packets.len() as u64,
            "{reason}: {:?}",
            after.core.dropped
        );
    }

    let owner = target.id().name.to_string();
    target.set("after-bad-datagrams", "ok").await.unwrap();
    eventually("a write after the bad datagrams spreads", || async {
        nodes[0].get(&owner, "after-bad-datagrams").await.unwrap().is_some_and(|v| &*v.value == b"ok")
    })
    .await;
    assert!(all_see_each_other(&nodes).await, "the bad datagrams cost no membership");
    shutdown_all(&nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_stream_frames_are_dropped_and_counted_and_streams_still_work() {
    let target = spawn(Config::local(), vec![], None).await;
    let addr = target.local_addr();
    let max = Config::local().limits.max_stream_bytes as u32;

    // Three frames the core drops by reason, each on its own connection (a rejected frame
    // closes its connection), then a length over the limit, which closes the connection
    // before anything is read or allocated.
    // A well-formed datagram-only message is refused on a stream.
    for bad in [b"a frame of garbage, not a packet".to_vec(), packet(42, 2), packet(0, 2)] {
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(&preamble("127.0.0.1:9")).await.unwrap();
        conn.write_all(&frame(&bad)).await.unwrap();
    }
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(&preamble("127.0.0.1:9")).await.unwrap();
    conn.write_all(&(max + 1).to_be_bytes()).await.unwrap();
    eventually("the garbage frames are counted and the oversized one rejected", || async {
        let s = stats(&target).await;
        dropped(&s, "bad_magic") == 1
            && dropped(&s, "foreign_cluster") == 1
            && dropped(&s, "wrong_transport") == 1
            && s.stream_frames_rejected == 1
    })
    .await;
    assert_eq!(stats(&target).await.stream_frames_received, 3, "only the three complete frames reached the core");

    // A frame cut short by the peer closing: an error, never a short frame.
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(&preamble("127.0.0.1:9")).await.unwrap();
    conn.write_all(&100u32.to_be_bytes()).await.unwrap();
    conn.write_all(&[0x55; 10]).await.unwrap();
    conn.shutdown().await.unwrap();
    drop(conn);
    // A connection that is not a hearsay stream at all.
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    eventually("the truncated frame and the bad preamble are counted as stream errors", || async {
        stats(&target).await.stream_errors >= 3
    })
    .await;
    let s = stats(&target).await;
    assert_eq!(s.stream_errors, 3, "oversized, truncated, bad preamble: {s:?}");
    assert_eq!(s.stream_frames_received, 3, "the truncated frame never reached the core");
    assert!(target.members().await.unwrap().iter().all(|m| m.is_self), "no bad frame made a member");

    // Streams still work: a node with a large state joins and its keys arrive over a stream.
    // Its keys are written before it joins: written after, each would go down the
    // broadcast tree on its own, in a datagram.
    let big = spawn(Config::local(), vec![], None).await;
    let value = vec![7u8; 1000];
    for i in 0..200 {
        big.set(&format!("key-{i:03}"), value.clone()).await.unwrap();
    }
    big.join(&[addr]).await.unwrap();
    let owner = big.id().name.to_string();
    eventually("the attacked node holds all 200 keys of the new node", || async {
        let snapshot = target.snapshot().await.unwrap();
        snapshot.members.iter().find(|m| *m.info.id.name == *owner).is_some_and(|m| m.keys.len() == 200)
    })
    .await;
    assert!(stats(&target).await.stream_frames_received > 3, "the state came over a stream");
    shutdown_all(&[target, big]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_garbage_datagrams_loses_no_update() {
    const FLOOD: usize = 20_000;
    const WRITES: usize = 50;
    let nodes = start(3).await;
    eventually("the three nodes see each other alive", || all_see_each_other(&nodes)).await;
    let targets: Vec<SocketAddr> = nodes.iter().map(|n| n.local_addr()).collect();
    let before: u64 = {
        let mut sum = 0;
        for node in &nodes {
            sum += stats(node).await.core.dropped.values().sum::<u64>();
        }
        sum
    };

    // ~2 s of garbage from one socket, spread over the three nodes: 100 packets every 10 ms.
    let flood = tokio::task::spawn_blocking(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut sent = 0;
        for i in 0..FLOOD {
            let garbage = [(i % 251) as u8; 200];
            if socket.send_to(&garbage, targets[i % targets.len()]).is_ok() {
                sent += 1;
            }
            if i % 100 == 99 {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        sent
    });
    // Meanwhile, 50 writes spread over the three nodes.
    for i in 0..WRITES {
        nodes[i % nodes.len()].set(&format!("update-{i:02}"), format!("value-{i}")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let sent = flood.await.unwrap();
    assert_eq!(sent, FLOOD);

    for (i, writer) in (0..WRITES).map(|i| (i, nodes[i % nodes.len()].id().name.to_string())) {
        let key = format!("update-{i:02}");
        let want = format!("value-{i}");
        eventually(&format!("every node holds {writer}/{key}"), || async {
            for node in &nodes {
                let got = node.get(&writer, &key).await.unwrap();
                if got.is_none_or(|v| *v.value != *want.as_bytes()) {
                    return false;
                }
            }
            true
        })
        .await;
    }
    let mut counted = 0;
    for node in &nodes {
        counted += stats(node).await.core.dropped.values().sum::<u64>();
    }
    // The kernel may drop some of the flood before it reaches a socket; what arrives is counted.
    assert!(counted > before, "the flood was dropped and counted ({} counted of {FLOOD} sent)", counted - before);
    eprintln!("flood: {FLOOD} garbage datagrams sent, {} counted as dropped by the nodes", counted - before);
    assert!(all_see_each_other(&nodes).await, "the flood cost no membership");
    shutdown_all(&nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_a_wrong_key_or_another_cluster_id_never_becomes_a_member() {
    let key = Key::from_bytes([0x11; 32]);
    let a = spawn(Config::local(), vec![], Some(Keyring::new(key.clone()))).await;
    let b = spawn(Config::local(), vec![a.local_addr()], Some(Keyring::new(key.clone()))).await;
    let pair = [a.clone(), b.clone()];
    eventually("the two nodes with the key see each other", || all_see_each_other(&pair)).await;

    let wrong =
        spawn(Config::local(), vec![a.local_addr(), b.local_addr()], Some(Keyring::new(Key::from_bytes([0x22; 32]))))
            .await;
    let other_cluster =
        spawn(Config { cluster_id: 9, ..Config::local() }, vec![a.local_addr()], Some(Keyring::new(key.clone()))).await;
    eventually("both keyed nodes reject the wrong key's packets as `decrypt`", || async {
        dropped(&stats(&a).await, "decrypt") >= 5 && dropped(&stats(&b).await, "decrypt") >= 5
    })
    .await;
    eventually("the other cluster's packets are rejected as `foreign_cluster`", || async {
        dropped(&stats(&a).await, "foreign_cluster") >= 3
    })
    .await;

    // Writes still flow between the members while the outsiders keep knocking.
    a.set("members-only", "yes").await.unwrap();
    let owner = a.id().name.to_string();
    eventually("the keyed peer holds the write", || async {
        b.get(&owner, "members-only").await.unwrap().is_some_and(|v| &*v.value == b"yes")
    })
    .await;
    let outsiders = [wrong.id().name.to_string(), other_cluster.id().name.to_string()];
    for node in [&a, &b] {
        let known: Vec<String> = node.members().await.unwrap().into_iter().map(|m| m.id.name.to_string()).collect();
        assert!(!known.iter().any(|n| outsiders.contains(n)), "an outsider became a member: {known:?}");
    }
    for outsider in [&wrong, &other_cluster] {
        let known = outsider.members().await.unwrap();
        assert!(known.iter().all(|m| m.is_self), "an outsider learned of the cluster: {known:?}");
        assert!(outsider.get(&owner, "members-only").await.unwrap().is_none());
    }
    shutdown_all(&[a, b, wrong, other_cluster]).await;
}
