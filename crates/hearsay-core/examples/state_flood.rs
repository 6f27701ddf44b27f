//! Feeds a node a flood of crafted datagrams designed to grow its state, and prints what it
//! holds and the process's peak memory.
//!
//! Each datagram is an unencrypted `Push` carrying one block that continues a fake owner's
//! replica with 20 new keys of 40-byte values, round-robin over `owners` fake owners: every
//! datagram is accepted and, without limits on replicas, adds keys for ever.
//!
//! ```sh
//! cargo run --release -p hearsay-core --example state_flood -- 50000 64
//! ```

use std::net::SocketAddr;

use hearsay_core::wire::{Block, Codec, Digest, Message, Push, WireEntry, WireNodeId};
use hearsay_core::{Config, Instant, Node, NodeId};

const KEYS_PER_DATAGRAM: u64 = 20;

/// Peak resident set size in KiB (Linux; 0 elsewhere).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>().expect("numbers"));
    let datagrams = args.next().unwrap_or(50_000);
    let owners = args.next().unwrap_or(64).max(1);
    let config = Config::lan();
    let codec = Codec { cluster_id: config.cluster_id, max_len: config.mtu };
    let me: SocketAddr = "10.0.0.1:7946".parse().unwrap();
    let mut node = Node::new(config, NodeId::new("target", 1, me), vec![], 1, Instant::ZERO).unwrap();
    let mut next_version = vec![0u64; owners as usize];
    let mut rejected = 0;
    for i in 0..datagrams {
        let o = (i % owners) as usize;
        let from = next_version[o];
        let entries = (1..=KEYS_PER_DATAGRAM)
            .map(|k| WireEntry { key: format!("k{}", from + k), version: from + k, value: Some(vec![b'x'; 40]) })
            .collect();
        next_version[o] = from + KEYS_PER_DATAGRAM;
        let addr = SocketAddr::from(([10, 1, (o >> 8) as u8, o as u8], 7946));
        let block = Block {
            owner: WireNodeId { name: format!("flood-{o}"), generation: 1, addr },
            heartbeat: 1,
            from_version: from,
            to_version: from + KEYS_PER_DATAGRAM,
            last_gc_version: 0,
            entries,
        };
        let push = Push {
            exchange_id: 1,
            want_ack: false,
            digest: Digest::default(),
            blocks: vec![block],
            updates: vec![],
            flow: None,
        };
        let now = Instant::from_millis(i / 100);
        if node.handle_datagram(now, addr, &codec.encode(&Message::Push(push))).is_err() {
            rejected += 1;
        }
        while node.poll_transmit().is_some() {}
        while node.poll_event().is_some() {}
    }
    let members = node.members();
    let keys: usize = members.iter().map(|m| m.live_keys).sum();
    let bytes: usize =
        members.iter().filter_map(|m| node.keys(&m.id.name)).flatten().map(|(k, v)| k.len() + v.value.len()).sum();
    println!(
        "datagrams={datagrams} owners={owners} rejected={rejected} members={} live_keys={keys} key_value_bytes={bytes} peak_rss_kib={}",
        members.len(),
        peak_rss_kib()
    );
    println!("dropped={:?}", node.stats().dropped);
}
