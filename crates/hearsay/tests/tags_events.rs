//! Tags and user events on real clusters on 127.0.0.1.
//!
//! Nothing here asserts a duration: every wait polls a condition with a generous deadline.

use std::collections::BTreeMap;

use hearsay::{Cluster, Config, Error, Tags};

mod common;
use common::*;

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// `n` nodes with `Config::local()`, node `i` tagged `index=i` and `role=web` or `role=db`
/// (even/odd); every node but the first joins through the first.
async fn start(n: usize) -> Vec<Cluster> {
    let mut nodes: Vec<Cluster> = Vec::new();
    for i in 0..n {
        let role = if i.is_multiple_of(2) { "web" } else { "db" };
        let mut builder = Cluster::builder(Config::local())
            .bind(localhost())
            .rng_seed(1 + i as u64)
            .tags([("role", role.to_string()), ("index", i.to_string())]);
        if let Some(first) = nodes.first() {
            builder = builder.seeds(vec![first.local_addr()]);
        }
        nodes.push(builder.spawn().await.unwrap());
    }
    nodes
}

/// What `node` knows of every member's tags, by name.
async fn tags_seen(node: &Cluster) -> BTreeMap<String, Tags> {
    node.members().await.unwrap().into_iter().map(|m| (m.id.name.to_string(), m.tags)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_tags_and_tags_changed_at_run_time_are_seen_by_all() {
    let nodes = start(5).await;
    eventually("all five nodes see each other alive", || all_see_each_other(&nodes)).await;
    let expected =
        |i: usize| tags(&[("role", if i.is_multiple_of(2) { "web" } else { "db" }), ("index", &i.to_string())]);
    eventually("every node knows every node's start tags", || async {
        for node in &nodes {
            let seen = tags_seen(node).await;
            for (i, other) in nodes.iter().enumerate() {
                if seen.get(&*other.id().name) != Some(&expected(i)) {
                    return false;
                }
            }
        }
        true
    })
    .await;

    let changed = tags(&[("role", "cache"), ("zone", "b")]);
    nodes[3].set_tags(changed.clone()).await.unwrap();
    assert_eq!(nodes[3].tags().await.unwrap(), changed);
    let name = nodes[3].id().name.to_string();
    eventually("every node sees node 3's new tags", || async {
        for node in &nodes {
            if tags_seen(node).await.get(&name) != Some(&changed) {
                return false;
            }
        }
        true
    })
    .await;

    let too_many: Tags = (0..=hearsay::core::MAX_TAGS).map(|i| (format!("k{i}"), String::new())).collect();
    let refused = nodes[3].set_tags(too_many).await;
    assert!(matches!(refused, Err(Error::Tags(hearsay::TagsError::TooMany { .. }))), "{refused:?}");
    assert_eq!(nodes[3].tags().await.unwrap(), changed, "a refused set changes nothing");
    for node in &nodes {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_over_the_bounds_fail_the_spawn() {
    let result = Cluster::builder(Config::local()).bind(localhost()).tags([("bad=key", "v")]).spawn().await;
    assert!(matches!(result, Err(Error::Tags(hearsay::TagsError::InvalidKey { .. }))), "{result:?}");
}

/// Every user event `sub` yields until `count` have come or the deadline passes.
async fn user_events(sub: &mut hearsay::Subscription, count: usize) -> Vec<(String, String, Vec<u8>)> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while out.len() < count {
        let next = tokio::time::timeout_at(deadline, sub.recv()).await;
        match next {
            Ok(Some(Ok(hearsay::Event::User { origin, name, payload, .. }))) => {
                out.push((origin.to_string(), name.to_string(), payload.to_vec()))
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_event_reaches_every_node_once() {
    let nodes = start(6).await;
    eventually("all six nodes see each other alive", || all_see_each_other(&nodes)).await;
    let mut subs: Vec<_> = nodes.iter().map(|n| n.subscribe()).collect();
    nodes[2].send_event("deploy", b"v2".to_vec()).await.unwrap();
    let big = vec![b'x'; 30_000];
    nodes[4].send_event("bundle", big.clone()).await.unwrap();
    let origin2 = nodes[2].id().name.to_string();
    let origin4 = nodes[4].id().name.to_string();
    for (i, sub) in subs.iter_mut().enumerate() {
        let mut got = user_events(sub, 2).await;
        got.sort();
        let mut want = vec![
            (origin4.clone(), "bundle".to_string(), big.clone()),
            (origin2.clone(), "deploy".to_string(), b"v2".to_vec()),
        ];
        want.sort();
        assert_eq!(got, want, "node {i}");
    }
    // Retransmissions keep arriving for a while; none is delivered again.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    for (i, sub) in subs.iter_mut().enumerate() {
        while let Ok(Some(Ok(event))) = tokio::time::timeout(std::time::Duration::from_millis(10), sub.recv()).await {
            assert!(!matches!(event, hearsay::Event::User { .. }), "node {i} delivered an event twice: {event:?}");
        }
    }
    let refused = nodes[0].send_event("", b"".to_vec()).await;
    assert!(matches!(refused, Err(Error::Event(hearsay::EventError::InvalidName { .. }))), "{refused:?}");
    for node in &nodes {
        node.shutdown().await;
    }
}
