//! Unit tests of the epidemic broadcast tree on a few nodes and a hand-driven network.

use std::time::Duration;

use super::*;
use crate::wire::{Codec, MessageType};
use crate::{Config, NodeId, Strategy};

fn config(eager: usize, lazy: usize) -> Config {
    let mut c = Config::local();
    c.strategy = Strategy::Plumtree;
    c.plumtree.eager_peers = eager;
    c.plumtree.lazy_peers = lazy;
    c.plumtree.ihave_delay = Duration::ZERO;
    c
}

fn addr(i: usize) -> SocketAddr {
    format!("10.0.0.{}:7946", i + 1).parse().unwrap()
}

/// `n` nodes that know each other.
fn cluster(n: usize, config: &Config) -> Vec<Node> {
    let ids: Vec<NodeId> = (0..n).map(|i| NodeId::new(format!("n{i}"), 1, addr(i))).collect();
    (0..n)
        .map(|i| {
            let mut node = Node::new(config.clone(), ids[i].clone(), vec![], i as u64 + 7, Instant::ZERO).unwrap();
            for (j, id) in ids.iter().enumerate() {
                if j != i {
                    node.add_member(Instant::ZERO, id.clone());
                }
            }
            node.tree_maintain();
            node
        })
        .collect()
}

/// Delivers every pending transmit (and what it triggers) at `now`, except those `drop`
/// refuses; returns the message types delivered.
fn deliver(nodes: &mut [Node], now: Instant, drop: impl Fn(usize, usize, MessageType) -> bool) -> Vec<MessageType> {
    let mut delivered = Vec::new();
    loop {
        let mut batch = Vec::new();
        for (i, node) in nodes.iter_mut().enumerate() {
            while let Some(t) = node.poll_transmit() {
                batch.push((i, t));
            }
        }
        if batch.is_empty() {
            return delivered;
        }
        for (from, t) in batch {
            let Some(to) = (0..nodes.len()).find(|j| addr(*j) == t.to) else { continue };
            if t.message_type != MessageType::Tree || drop(from, to, t.message_type) {
                continue;
            }
            delivered.push(t.message_type);
            nodes[to].handle_datagram(now, addr(from), &t.payload).unwrap();
        }
    }
}

fn link(node: &Node, peer: usize) -> Option<Link> {
    node.tree.view.get(&addr(peer)).map(|(_, l)| *l)
}

#[test]
fn duplicate_payload_prunes_the_link_it_came_over() {
    let mut nodes = cluster(3, &config(2, 0));
    // Every node starts with both others eager: a triangle, one link too many for a tree.
    for (i, node) in nodes.iter().enumerate() {
        assert_eq!(node.tree.peers(Link::Eager).len(), 2, "node {i}");
    }
    let now = Instant::from_micros(1_000);
    deliver(&mut nodes, now, |_, _, _| false); // start-up announcements of existence
    nodes[0].set(now, "k", b"one").unwrap();
    deliver(&mut nodes, now, |_, _, _| false);
    assert!(nodes.iter().all(|n| n.get("n0", "k").is_some()));
    // n1 and n2 each got the payload from n0 and then from each other: both pruned that link.
    assert_eq!(nodes[1].stats().prunes + nodes[2].stats().prunes, 2);
    assert_eq!(link(&nodes[1], 2), Some(Link::Lazy));
    assert_eq!(link(&nodes[2], 1), Some(Link::Lazy));
    assert_eq!(link(&nodes[1], 0), Some(Link::Eager));
    assert_eq!(link(&nodes[0], 2), Some(Link::Eager));
    // The next payload follows the tree: no duplicate at all.
    let duplicates: u64 = nodes.iter().map(|n| n.stats().payload_duplicates).sum();
    nodes[0].set(now, "k", b"two").unwrap();
    deliver(&mut nodes, now, |_, _, _| false);
    assert!(nodes.iter().all(|n| n.get("n0", "k").is_some_and(|v| &*v.value == b"two")));
    assert_eq!(nodes.iter().map(|n| n.stats().payload_duplicates).sum::<u64>(), duplicates);
    // A write from a leaf travels the same tree the other way.
    nodes[2].set(now, "k", b"three").unwrap();
    deliver(&mut nodes, now, |_, _, _| false);
    assert!(nodes[1].get("n2", "k").is_some());
    assert_eq!(nodes.iter().map(|n| n.stats().payload_duplicates).sum::<u64>(), duplicates);
}

#[test]
fn missed_announcement_grafts_after_the_timeout() {
    let config = config(1, 0);
    let mut nodes = cluster(2, &config);
    let now = Instant::from_micros(1_000);
    deliver(&mut nodes, now, |_, _, _| false);
    // n1's payload to n0 is lost; n0 only hears an announcement.
    nodes[1].set(now, "k", b"v").unwrap();
    let lost = deliver(&mut nodes, now, |from, _, _| from == 1);
    assert!(lost.is_empty());
    nodes[1].tree.set_link(addr(0), Link::Lazy);
    let ihave = Message::Tree(Tree::IHave(vec![Announcement { name: "n1".into(), generation: 1, version: 1 }]));
    let bytes = Codec { cluster_id: config.cluster_id, max_len: config.mtu }.encode(&ihave);
    nodes[0].handle_datagram(now, addr(1), &bytes).unwrap();
    assert_eq!(nodes[0].get("n1", "k"), None);
    let due = nodes[0].poll_timeout().unwrap();
    assert!(due <= now + config.plumtree.graft_timeout);
    // Not yet: no graft before the timeout.
    nodes[0].handle_timeout(now + config.plumtree.graft_timeout / 2);
    assert_eq!(nodes[0].stats().grafts, 0);
    let later = now + config.plumtree.graft_timeout;
    nodes[0].handle_timeout(later);
    assert_eq!(nodes[0].stats().grafts, 1);
    let delivered = deliver(&mut nodes, later, |_, _, _| false);
    assert!(delivered.len() >= 2, "graft and its answer: {delivered:?}");
    assert_eq!(nodes[0].get("n1", "k").map(|v| v.value.to_vec()), Some(b"v".to_vec()));
    // The grafted link is eager on both sides again.
    assert_eq!(link(&nodes[0], 1), Some(Link::Eager));
    assert_eq!(link(&nodes[1], 0), Some(Link::Eager));
    assert!(!nodes[0].tree.busy());
}

#[test]
fn block_with_a_gap_is_awaited_and_grafted() {
    let config = config(1, 0);
    let mut nodes = cluster(2, &config);
    let now = Instant::from_micros(1_000);
    deliver(&mut nodes, now, |_, _, _| false);
    nodes[1].set(now, "a", b"1").unwrap();
    deliver(&mut nodes, now, |_, _, _| true); // version 1 lost
    nodes[1].set(now, "b", b"2").unwrap();
    deliver(&mut nodes, now, |_, _, _| false); // version 2 arrives, cannot be applied
    assert_eq!(nodes[0].get("n1", "b"), None);
    let later = now + config.plumtree.graft_timeout;
    nodes[0].handle_timeout(later);
    deliver(&mut nodes, later, |_, _, _| false);
    assert!(nodes[0].get("n1", "a").is_some() && nodes[0].get("n1", "b").is_some());
}

#[test]
fn dead_eager_peer_is_replaced_by_a_lazy_one() {
    let mut nodes = cluster(8, &config(1, 4));
    let node = &mut nodes[0];
    assert_eq!(node.tree.peers(Link::Eager).len(), 1);
    assert_eq!(node.tree.peers(Link::Lazy).len(), 4);
    let parent = node.tree.peers(Link::Eager)[0];
    let lazy_before = node.tree.peers(Link::Lazy);
    let idx = node.members.iter().find(|(_, m)| m.id.addr == parent).map(|(i, _)| i).unwrap();
    node.members.get_mut(idx).unwrap().set_status(MemberStatus::Dead, Instant::ZERO);
    node.tree_maintain();
    assert!(!node.tree.view.contains_key(&parent), "a dead member leaves the view");
    let eager = node.tree.peers(Link::Eager);
    assert_eq!(eager.len(), 1);
    assert!(lazy_before.contains(&eager[0]), "a lazy peer was promoted");
    assert_eq!(node.tree.view.len(), 5, "the view was refilled");
}

#[test]
fn peers_outside_the_view_join_it_when_they_push() {
    let mut nodes = cluster(12, &config(1, 1));
    let outsider = (1..12).find(|i| !nodes[0].tree.view.contains_key(&addr(*i))).unwrap();
    let now = Instant::from_micros(1_000);
    let codec = Codec { cluster_id: 0, max_len: 1400 };
    let prune = codec.encode(&Message::Tree(Tree::Prune));
    nodes[0].handle_datagram(now, addr(outsider), &prune).unwrap();
    assert_eq!(link(&nodes[0], outsider), None, "a prune from outside the view changes nothing");
    let graft = codec.encode(&Message::Tree(Tree::Graft(vec![])));
    nodes[0].handle_datagram(now, addr(outsider), &graft).unwrap();
    assert_eq!(link(&nodes[0], outsider), Some(Link::Eager));
}

#[test]
fn both_ends_of_every_eager_link_know_it() {
    let mut nodes = cluster(20, &config(3, 3));
    deliver(&mut nodes, Instant::from_micros(1_000), |_, _, _| false);
    for (i, node) in nodes.iter().enumerate() {
        let eager = node.tree.peers(Link::Eager);
        assert!(!eager.is_empty(), "node {i} has no eager link");
        for peer in eager {
            let j = (0..20).find(|j| addr(*j) == peer).unwrap();
            assert_eq!(link(&nodes[j], i), Some(Link::Eager), "n{i} pushes to n{j}, which does not push back");
        }
    }
}

#[test]
fn a_view_drawn_from_few_members_is_drawn_again_when_they_double() {
    let config = config(2, 2);
    let ids: Vec<NodeId> = (0..30).map(|i| NodeId::new(format!("n{i}"), 1, addr(i))).collect();
    let mut node = Node::new(config, ids[0].clone(), vec![], 7, Instant::ZERO).unwrap();
    // It knows its two seeds only: both become eager, each told so with an empty graft.
    node.add_member(Instant::ZERO, ids[1].clone());
    node.add_member(Instant::ZERO, ids[2].clone());
    node.tree_maintain();
    assert_eq!(node.tree.peers(Link::Eager), vec![addr(1), addr(2)]);
    let sent = |node: &mut Node| {
        let codec = Codec { cluster_id: 0, max_len: 1400 };
        let mut out = Vec::new();
        while let Some(t) = node.poll_transmit() {
            if t.message_type == MessageType::Tree {
                out.push((t.to, codec.decode(&t.payload).unwrap()));
            }
        }
        out
    };
    let first = sent(&mut node);
    assert!(first.iter().all(|(_, m)| matches!(m, Message::Tree(Tree::Graft(l)) if l.is_empty())));
    assert_eq!(first.len(), 2);
    // Catching up brings 27 more: the seeds' links are pruned and the view drawn from all.
    for id in &ids[3..] {
        node.add_member(Instant::ZERO, id.clone());
    }
    node.tree_maintain();
    let second = sent(&mut node);
    let pruned: Vec<SocketAddr> =
        second.iter().filter(|(_, m)| matches!(m, Message::Tree(Tree::Prune))).map(|(to, _)| *to).collect();
    assert_eq!(pruned, vec![addr(1), addr(2)]);
    let mut grafted: Vec<SocketAddr> =
        second.iter().filter(|(_, m)| matches!(m, Message::Tree(Tree::Graft(_)))).map(|(to, _)| *to).collect();
    grafted.sort();
    assert_eq!(grafted, node.tree.peers(Link::Eager));
    assert_eq!(grafted.len(), 2);
    assert_eq!(node.tree.view.len(), 4);
    // No redraw while the membership stays the same.
    node.tree_maintain();
    assert!(sent(&mut node).is_empty());
}

#[test]
fn a_graft_that_finds_the_view_full_is_pruned() {
    let mut nodes = cluster(3, &config(1, 0));
    let codec = Codec { cluster_id: 0, max_len: 1400 };
    // Fill n0's view with strangers' links (it holds at most MAX_VIEW).
    for k in 0..MAX_VIEW {
        let a: SocketAddr = format!("10.1.{}.{}:7946", k / 200, k % 200 + 1).parse().unwrap();
        nodes[0].add_member(Instant::ZERO, NodeId::new(format!("x{k}"), 1, a));
        nodes[0].tree.view.insert(a, (1, Link::Lazy));
    }
    while nodes[0].poll_transmit().is_some() {}
    nodes[0].tree.view.remove(&addr(2));
    let graft = codec.encode(&Message::Tree(Tree::Graft(vec![])));
    nodes[0].handle_datagram(Instant::from_micros(1_000), addr(2), &graft).unwrap();
    let mut answers = Vec::new();
    while let Some(t) = nodes[0].poll_transmit() {
        if t.to == addr(2) && t.message_type == MessageType::Tree {
            answers.push(codec.decode(&t.payload).unwrap());
        }
    }
    assert_eq!(answers, vec![Message::Tree(Tree::Prune)], "the grafter is told the link is not there");
}
