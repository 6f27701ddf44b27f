//! Queries on real clusters on 127.0.0.1: answers from the members the filters pick, each
//! once, and a stream that ends at the deadline.
//!
//! Nothing here asserts a duration: every wait polls a condition with a generous deadline.

use std::collections::BTreeMap;
use std::time::Duration;

use hearsay::{Cluster, Config, QueryOptions, QueryReply};

mod common;
use common::*;

/// `n` nodes tagged `role=web` (even) or `role=db` (odd); each answers the query `whoami`
/// with its name, and ignores other queries.
async fn start(n: usize) -> Vec<Cluster> {
    let mut nodes: Vec<Cluster> = Vec::new();
    for i in 0..n {
        let role = if i.is_multiple_of(2) { "web" } else { "db" };
        let name = format!("q{i}");
        let answer = name.clone();
        let mut builder = Cluster::builder(Config::local())
            .bind(localhost())
            .name(name)
            .rng_seed(1 + i as u64)
            .tags([("role", role)])
            .query_handler(move |request| {
                let answer = answer.clone();
                async move { (&*request.name == "whoami").then(|| answer.into_bytes()) }
            });
        if let Some(first) = nodes.first() {
            builder = builder.seeds(vec![first.local_addr()]);
        }
        nodes.push(builder.spawn().await.unwrap());
    }
    nodes
}

async fn tags_known_everywhere(nodes: &[Cluster]) -> bool {
    for node in nodes {
        let members = node.members().await.unwrap();
        if members.len() != nodes.len() || members.iter().any(|m| m.tags.is_empty()) {
            return false;
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_with_a_tag_filter_gets_one_answer_from_each_match_and_ends_at_the_deadline() {
    let nodes = start(7).await;
    eventually("all seven nodes see each other alive", || all_see_each_other(&nodes)).await;
    eventually("every node knows every node's tags", || tags_known_everywhere(&nodes)).await;
    let options = QueryOptions {
        filter_tags: vec![("role".into(), "web".into())],
        timeout: Duration::from_secs(3),
        ..QueryOptions::default()
    };
    let mut stream = nodes[1].query("whoami", b"".to_vec(), options).await.unwrap();
    assert_eq!(stream.asked(), ["q0", "q2", "q4", "q6"]);
    let mut acks = Vec::new();
    let mut answers = BTreeMap::new();
    // The stream ends by itself at the deadline.
    while let Some(reply) =
        tokio::time::timeout(DEADLINE, stream.recv()).await.expect("the stream ends at its deadline")
    {
        match reply {
            QueryReply::Ack { from } => acks.push(from.to_string()),
            QueryReply::Response { from, payload } => {
                let previous = answers.insert(from.to_string(), String::from_utf8(payload.to_vec()).unwrap());
                assert!(previous.is_none(), "{from} answered twice");
            }
        }
    }
    acks.sort();
    assert_eq!(acks, ["q0", "q2", "q4", "q6"]);
    let want: BTreeMap<String, String> =
        ["q0", "q2", "q4", "q6"].iter().map(|n| (n.to_string(), n.to_string())).collect();
    assert_eq!(answers, want);
    for node in &nodes {
        node.shutdown().await;
    }
}
