use std::net::SocketAddr;
use std::time::Duration;

use super::*;
use crate::{Config, NodeId};

pub(crate) fn addr(i: usize) -> SocketAddr {
    format!("10.0.0.{}:7946", i + 1).parse().unwrap()
}

/// `n` nodes that already know each other.
pub(crate) fn cluster(n: usize) -> Vec<Node> {
    let ids: Vec<NodeId> = (0..n).map(|i| NodeId::new(format!("n{i}"), 1, addr(i))).collect();
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            let mut node = Node::new(Config::lan(), id.clone(), vec![], i as u64 + 1, Instant::ZERO).unwrap();
            for other in &ids {
                if other != id {
                    node.add_member(Instant::ZERO, other.clone());
                }
            }
            while node.poll_event().is_some() {}
            node
        })
        .collect()
}

/// Delivers every pending transmit (datagram or stream), dropping those `lose` says to, until
/// no node has anything to send; returns the user events each node delivered.
fn settle(nodes: &mut [Node], now: Instant, lose: impl FnMut() -> bool) -> Vec<Vec<(String, u64, Vec<u8>)>> {
    settle_with(nodes, now, lose, |_, _| {})
}

/// [`settle`], handing every other event to `other` with the node's index.
pub(crate) fn settle_with(
    nodes: &mut [Node],
    now: Instant,
    mut lose: impl FnMut() -> bool,
    mut other: impl FnMut(usize, Event),
) -> Vec<Vec<(String, u64, Vec<u8>)>> {
    let mut delivered = vec![Vec::new(); nodes.len()];
    loop {
        let mut moved = false;
        for i in 0..nodes.len() {
            let from = addr(i);
            while let Some(t) = nodes[i].poll_transmit() {
                moved = true;
                if lose() {
                    continue;
                }
                let Some(j) = (0..nodes.len()).find(|j| addr(*j) == t.to) else { continue };
                let _ = match t.kind {
                    TransmitKind::Datagram => nodes[j].handle_datagram(now, from, &t.payload),
                    TransmitKind::Stream => nodes[j].handle_stream(now, from, &t.payload),
                };
            }
        }
        for (i, node) in nodes.iter_mut().enumerate() {
            while let Some(e) = node.poll_event() {
                match e {
                    Event::User { name, ltime, payload, .. } => {
                        delivered[i].push((name.to_string(), ltime, payload.to_vec()))
                    }
                    e => other(i, e),
                }
            }
        }
        if !moved {
            return delivered;
        }
    }
}

/// Runs rounds until no node spreads events any more; returns every node's deliveries.
fn run_until_quiet(nodes: &mut [Node], mut lose: impl FnMut() -> bool) -> Vec<Vec<(String, u64, Vec<u8>)>> {
    let mut all = settle(nodes, Instant::ZERO, &mut lose);
    let mut now = Instant::ZERO;
    for _ in 0..200 {
        if nodes.iter().all(|n| n.queued_user_events() == 0) {
            break;
        }
        now += Duration::from_millis(200);
        for node in nodes.iter_mut() {
            node.handle_timeout(now);
        }
        for (i, d) in settle(nodes, now, &mut lose).into_iter().enumerate() {
            all[i].extend(d);
        }
    }
    all
}

#[test]
fn an_event_reaches_every_member_exactly_once_even_with_loss() {
    let mut nodes = cluster(30);
    nodes[4].send_event(Instant::ZERO, "deploy", b"v2", false).unwrap();
    let mut rng = 7u64;
    // 5 % loss from a tiny deterministic generator.
    let lose = move || {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (rng >> 33) % 100 < 5
    };
    let delivered = run_until_quiet(&mut nodes, lose);
    for (i, d) in delivered.iter().enumerate() {
        assert_eq!(d, &vec![("deploy".to_string(), 0, b"v2".to_vec())], "node {i}");
    }
    let duplicates: u64 = nodes.iter().map(|n| n.stats().user_events_duplicate).sum();
    assert!(duplicates > 0, "retransmissions happened and were recognised as duplicates");
}

#[test]
fn a_payload_larger_than_a_datagram_travels_by_stream() {
    let mut nodes = cluster(5);
    let payload = vec![7u8; 20_000];
    nodes[0].send_event(Instant::ZERO, "big", &payload, false).unwrap();
    let delivered = run_until_quiet(&mut nodes, || false);
    for d in &delivered {
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].2, payload);
    }
    assert!(nodes[0].stats().stream_transmits > 0);
}

#[test]
fn lamport_times_order_events_and_rise_past_what_was_seen() {
    let mut nodes = cluster(3);
    assert_eq!(nodes[0].send_event(Instant::ZERO, "a", b"", false), Ok(0));
    assert_eq!(nodes[0].send_event(Instant::ZERO, "a", b"", false), Ok(1));
    settle(&mut nodes, Instant::ZERO, || false);
    // n1 saw times 0 and 1: its own next event comes after them.
    assert_eq!(nodes[1].send_event(Instant::ZERO, "b", b"", false), Ok(2));
}

#[test]
fn a_duplicate_is_not_delivered_twice() {
    let mut nodes = cluster(2);
    nodes[0].send_event(Instant::ZERO, "e", b"x", false).unwrap();
    let t = nodes[0].poll_transmit().unwrap();
    nodes[1].handle_datagram(Instant::ZERO, addr(0), &t.payload).unwrap();
    nodes[1].handle_datagram(Instant::ZERO, addr(0), &t.payload).unwrap();
    let users = std::iter::from_fn(|| nodes[1].poll_event()).filter(|e| matches!(e, Event::User { .. })).count();
    assert_eq!(users, 1);
    assert_eq!(nodes[1].stats().user_events_duplicate, 1);
}

#[test]
fn coalescing_keeps_only_the_newest_pending_event_of_a_name() {
    let mut state = UserEventState::default();
    let event = |name: &str, ltime: u64, coalesce: bool| WireUserEvent {
        origin: "o".into(),
        generation: 1,
        ltime,
        name: name.into(),
        payload: vec![],
        coalesce,
    };
    state.enqueue(Spread::Event(event("cfg", 1, true)));
    state.enqueue(Spread::Event(event("cfg", 3, true)));
    state.enqueue(Spread::Event(event("cfg", 2, true))); // older than the queued one: not queued
    state.enqueue(Spread::Event(event("other", 4, true)));
    state.enqueue(Spread::Event(event("cfg", 5, false))); // not coalescing: kept beside
    let queued: Vec<(String, u64)> = state
        .queue
        .iter()
        .filter_map(|q| match &q.item {
            Spread::Event(e) => Some((e.name.clone(), e.ltime)),
            Spread::Query(_) => None,
        })
        .collect();
    assert_eq!(queued, vec![("cfg".into(), 3), ("other".into(), 4), ("cfg".into(), 5)]);
}

#[test]
fn bad_names_big_payloads_and_a_left_node_are_refused() {
    let mut nodes = cluster(1);
    let node = &mut nodes[0];
    assert!(matches!(node.send_event(Instant::ZERO, "", b"", false), Err(EventError::InvalidName { .. })));
    assert!(matches!(node.send_event(Instant::ZERO, "a\nb", b"", false), Err(EventError::InvalidName { .. })));
    let limit = node.config().limits.max_event_bytes;
    let big = vec![0u8; limit + 1];
    assert_eq!(
        node.send_event(Instant::ZERO, "e", &big, false),
        Err(EventError::PayloadTooLarge { len: limit + 1, limit })
    );
    assert_eq!(node.stats().user_events_sent, 0, "refused events are not sent");
    node.leave(Instant::ZERO);
    assert_eq!(node.send_event(Instant::ZERO, "e", b"", false), Err(EventError::Write(WriteError::Left)));
}
