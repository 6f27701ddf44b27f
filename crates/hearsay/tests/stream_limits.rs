//! Stream memory is bounded in bytes and slow or lying peers lose their connection
//! (127.0.0.1 only). Nothing here asserts a duration: every wait polls a condition with a
//! generous deadline.

use std::time::Duration;

use hearsay::{Cluster, Config, DriverStats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod common;
use common::*;

async fn stats(node: &Cluster) -> DriverStats {
    node.stats().await.unwrap()
}

fn preamble() -> Vec<u8> {
    let from = "127.0.0.1:9";
    let mut out = b"HSS1".to_vec();
    out.extend_from_slice(&(from.len() as u16).to_be_bytes());
    out.extend_from_slice(from.as_bytes());
    out
}

/// Whether the node closed `conn` (a read sees the end or an error within the deadline).
async fn closed_by_node(conn: &mut TcpStream) -> bool {
    let mut buf = [0u8; 16];
    matches!(tokio::time::timeout(DEADLINE, conn.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_trickles_a_frame_is_cut_after_the_deadline() {
    let node = Cluster::builder(Config::local())
        .bind(localhost())
        .stream_frame_deadline(Duration::from_secs(1))
        .spawn()
        .await
        .unwrap();
    let mut conn = TcpStream::connect(node.local_addr()).await.unwrap();
    conn.write_all(&preamble()).await.unwrap();
    conn.write_all(&1000u32.to_be_bytes()).await.unwrap();
    // One byte every 100 ms: the connection is alive, the frame never completes in time.
    let trickle = async {
        for _ in 0..1000 {
            if conn.write_all(&[0]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let _ = tokio::time::timeout(DEADLINE, trickle).await;
    let s = stats(&node).await;
    assert_eq!(s.stream_slow_peers, 1, "{s:?}");
    assert_eq!(s.stream_frames_received, 0);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_together_cannot_buffer_more_than_the_stream_budget() {
    let config = Config::local();
    let max = config.limits.max_stream_bytes;
    // Room for exactly two of the largest frames.
    let node = Cluster::builder(config)
        .bind(localhost())
        .stream_memory(2 * max)
        .stream_frame_deadline(Duration::from_secs(120))
        .spawn()
        .await
        .unwrap();
    let mut open = Vec::new();
    for _ in 0..5 {
        let mut conn = TcpStream::connect(node.local_addr()).await.unwrap();
        conn.write_all(&preamble()).await.unwrap();
        // Announce the largest frame and send a little of it.
        conn.write_all(&(max as u32).to_be_bytes()).await.unwrap();
        conn.write_all(&[0; 100]).await.unwrap();
        open.push(conn);
    }
    eventually("three of the five frames are refused by the budget", || async {
        stats(&node).await.stream_budget_refused == 3
    })
    .await;
    // The refused connections are closed; the two that hold the budget stay open.
    let mut closed = 0;
    for conn in &mut open {
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(2), conn.read(&mut buf)).await;
        closed += usize::from(matches!(read, Ok(Ok(0) | Err(_))));
    }
    assert_eq!(closed, 3);
    let s = stats(&node).await;
    assert_eq!((s.stream_budget_refused, s.stream_frames_received), (3, 0), "{s:?}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_announced_frame_is_refused_without_being_charged() {
    let node = Cluster::builder(Config::local()).bind(localhost()).spawn().await.unwrap();
    let mut conn = TcpStream::connect(node.local_addr()).await.unwrap();
    conn.write_all(&preamble()).await.unwrap();
    conn.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
    assert!(closed_by_node(&mut conn).await);
    let s = stats(&node).await;
    assert_eq!((s.stream_frames_rejected, s.stream_budget_refused), (1, 0), "{s:?}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_whose_frame_the_core_rejects_is_closed() {
    let node = Cluster::builder(Config::local()).bind(localhost()).spawn().await.unwrap();
    let mut conn = TcpStream::connect(node.local_addr()).await.unwrap();
    conn.write_all(&preamble()).await.unwrap();
    let garbage = b"not a packet";
    conn.write_all(&(garbage.len() as u32).to_be_bytes()).await.unwrap();
    conn.write_all(garbage).await.unwrap();
    assert!(closed_by_node(&mut conn).await, "the node kept a connection that sent garbage");
    assert_eq!(stats(&node).await.core.dropped.get("bad_magic"), Some(&1));
    node.shutdown().await;
}
