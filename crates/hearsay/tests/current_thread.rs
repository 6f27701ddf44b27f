//! The library on a single-threaded runtime: embedders that run `current_thread` (or
//! `#[tokio::test]` with its default flavor) get a working node, not a hang.

mod common;

use common::{DEADLINE, all_see_each_other, eventually, localhost};
use hearsay::{Cluster, Config, Event};

#[tokio::test(flavor = "current_thread")]
async fn three_nodes_on_one_thread_form_replicate_notify_and_leave() {
    let first = Cluster::builder(Config::local()).bind(localhost()).spawn().await.unwrap();
    let mut nodes = vec![first];
    for _ in 0..2 {
        let seed = nodes[0].local_addr();
        nodes.push(Cluster::builder(Config::local()).bind(localhost()).seeds(vec![seed]).spawn().await.unwrap());
    }
    eventually("three nodes on one thread see each other", || all_see_each_other(&nodes)).await;

    let mut changes = nodes[2].subscribe_prefix("greeting");
    let version = nodes[0].set("greeting", "hello").await.unwrap();
    let writer = nodes[0].id().name.clone();
    let seen = tokio::time::timeout(DEADLINE, async {
        loop {
            match changes.recv().await {
                Some(Ok(Event::KeyChanged { owner, value, version, .. })) if owner.name == writer => {
                    return (value, version);
                }
                Some(_) => continue,
                None => panic!("the subscription ended"),
            }
        }
    })
    .await
    .expect("the write reaches the third node");
    assert_eq!(seen, (Some(b"hello".as_slice().into()), version));

    let leaver = nodes.pop().unwrap();
    tokio::time::timeout(DEADLINE, leaver.leave()).await.expect("leave finishes on one thread").unwrap();
    eventually("the others see the leaver gone", || async {
        let members = nodes[0].members().await.unwrap();
        members.iter().any(|m| m.id.name == leaver.id().name && m.status == hearsay::MemberStatus::Left)
    })
    .await;
    for node in &nodes {
        node.shutdown().await;
    }
}
