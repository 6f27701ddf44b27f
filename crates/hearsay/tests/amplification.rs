//! No amplification on real sockets (127.0.0.1 only): a small `Syn` with an empty digest,
//! sent by a raw UDP socket to a node holding well over 16 KiB, gets at most three times its
//! size back and no TCP connection; and a node joining a cluster with that much state still
//! gets all of it.
//!
//! Nothing here asserts a duration: every wait polls a condition with a generous deadline.

use std::net::SocketAddr;
use std::time::Duration;

use hearsay::core::AMPLIFICATION_FACTOR;
use hearsay::core::wire::{Codec, Digest, Message, Syn};
use hearsay::{Cluster, Config};
use tokio::net::{TcpListener, UdpSocket};

mod common;
use common::*;

const KEYS: usize = 100;
const VALUE_BYTES: usize = 400;

/// A node holding `KEYS` keys of `VALUE_BYTES` bytes (40 KB, past the 16 KiB stream threshold).
async fn big_node(seeds: Vec<SocketAddr>) -> Cluster {
    let node = Cluster::builder(Config::local()).bind(localhost()).seeds(seeds).spawn().await.unwrap();
    for k in 0..KEYS {
        node.set(&format!("key-{k:04}"), vec![b'v'; VALUE_BYTES]).await.unwrap();
    }
    node
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_syn_from_a_raw_socket_gets_at_most_three_times_its_size_and_no_connection() {
    let node = big_node(vec![]).await;
    let config = Config::local();
    // The claimed sender: a UDP socket, and a TCP listener on the same port to catch a dial.
    let udp = UdpSocket::bind(localhost()).await.unwrap();
    let victim = udp.local_addr().unwrap();
    let tcp = TcpListener::bind(victim).await.unwrap();

    let syn = Syn {
        exchange_id: 7,
        push_pull: true,
        rumor: false,
        digest: Digest::default(),
        blocks: vec![],
        updates: vec![],
        flow: None,
    };
    let packet = Codec { cluster_id: config.cluster_id, max_len: config.mtu }.encode(&Message::Syn(syn));
    assert!(packet.len() <= 24, "a ~20-byte syn, got {} bytes", packet.len());
    udp.send_to(&packet, node.local_addr()).await.unwrap();

    // Everything that comes back (or connects) within several gossip intervals.
    let watch = (config.gossip_interval * 10).max(Duration::from_secs(2));
    let deadline = tokio::time::Instant::now() + watch;
    let (mut received, mut buf) = (0usize, vec![0u8; 65_536]);
    loop {
        tokio::select! {
            got = udp.recv_from(&mut buf) => {
                let (len, _) = got.unwrap();
                received += len;
            }
            accepted = tcp.accept() => {
                panic!("the node dialled the unverified address: {:?}", accepted.map(|(_, peer)| peer));
            }
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    assert!(
        received as u64 <= AMPLIFICATION_FACTOR * packet.len() as u64,
        "{received} bytes came back for {} sent",
        packet.len()
    );
    let stats = node.stats().await.unwrap();
    assert!(stats.core.amplification_limited >= 1, "the cut reply is counted");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_joining_a_node_with_big_state_get_all_of_it() {
    let first = big_node(vec![]).await;
    let seed = first.local_addr();
    let second = Cluster::builder(Config::local()).bind(localhost()).seeds(vec![seed]).spawn().await.unwrap();
    let third = Cluster::builder(Config::local()).bind(localhost()).spawn().await.unwrap();
    third.join(&[seed]).await.unwrap();
    let name = first.id().name.to_string();
    let nodes = [first, second, third];
    eventually("all three see each other alive", || all_see_each_other(&nodes)).await;
    for joiner in &nodes[1..] {
        eventually("the joiner holds every key of the first node", || async {
            let snapshot = joiner.snapshot().await.unwrap();
            snapshot.members.iter().find(|m| *m.info.id.name == *name).is_some_and(|m| m.keys.len() == KEYS)
        })
        .await;
    }
    let streamed: u64 = {
        let mut total = 0;
        for node in &nodes {
            total += node.stats().await.unwrap().core.stream_transmits;
        }
        total
    };
    assert!(streamed >= 1, "the state went by stream");
    for node in &nodes {
        node.shutdown().await;
    }
}
