use std::collections::BTreeMap;

use super::*;
use crate::user_event::tests::{addr, cluster, settle_with};

/// Runs the cluster until quiet; node `i` answers every query it gets with `i` as text.
/// Returns what node 0 heard: acks and answers by member name.
fn run_query(nodes: &mut [Node], params: &QueryParams) -> (Vec<String>, BTreeMap<String, String>) {
    let mut acks = Vec::new();
    let mut answers = BTreeMap::new();
    let mut now = Instant::ZERO;
    nodes[0].query(now, "load", b"?", params).unwrap();
    for _ in 0..40 {
        let mut asked: Vec<(usize, QueryRef)> = Vec::new();
        settle_with(
            nodes,
            now,
            || false,
            |i, e| match e {
                Event::Query { query, .. } => asked.push((i, query)),
                Event::QueryAck { from, .. } if i == 0 => acks.push(from.to_string()),
                Event::QueryResponse { from, payload, .. } if i == 0 => {
                    assert!(answers.insert(from.to_string(), String::from_utf8(payload.to_vec()).unwrap()).is_none())
                }
                _ => {}
            },
        );
        for (i, query) in asked {
            nodes[i].respond(now, &query, i.to_string().as_bytes()).unwrap();
        }
        now += Duration::from_millis(200);
        for node in nodes.iter_mut() {
            node.handle_timeout(now);
        }
    }
    acks.sort();
    (acks, answers)
}

#[test]
fn every_member_answers_once_and_the_asker_hears_each_ack_and_answer_once() {
    let mut nodes = cluster(12);
    let (acks, answers) = run_query(&mut nodes, &QueryParams::default());
    assert_eq!(acks.len(), 12, "{acks:?}");
    let want: BTreeMap<String, String> = (0..12).map(|i| (format!("n{i}"), i.to_string())).collect();
    assert_eq!(answers, want);
}

#[test]
fn only_members_matching_the_name_and_tag_filters_answer() {
    let mut nodes = cluster(8);
    for (i, node) in nodes.iter_mut().enumerate() {
        let role = if i % 2 == 0 { "web" } else { "db" };
        node.set_tags(Instant::ZERO, [("role".to_string(), role.to_string())].into()).unwrap();
    }
    let params = QueryParams { filter_tags: vec![("role".into(), "web".into())], ..QueryParams::default() };
    let (acks, answers) = run_query(&mut nodes, &params);
    assert_eq!(answers.keys().cloned().collect::<Vec<_>>(), vec!["n0", "n2", "n4", "n6"]);
    assert_eq!(acks, vec!["n0", "n2", "n4", "n6"]);

    let mut nodes = cluster(5);
    let params = QueryParams { filter_names: vec!["n3".into()], request_ack: false, ..QueryParams::default() };
    let (acks, answers) = run_query(&mut nodes, &params);
    assert!(acks.is_empty(), "no ack was asked for");
    assert_eq!(answers.keys().cloned().collect::<Vec<_>>(), vec!["n3"]);
}

#[test]
fn answers_after_the_deadline_are_refused_and_late_ones_are_counted() {
    let mut nodes = cluster(2);
    let params = QueryParams { timeout: Duration::from_secs(1), ..QueryParams::default() };
    let id = nodes[0].query(Instant::ZERO, "q", b"", &params).unwrap();
    let late = Instant::ZERO + Duration::from_secs(2);
    let query =
        QueryRef { origin: "n0".into(), origin_addr: addr(0), id, deadline: Instant::ZERO + Duration::from_secs(1) };
    assert_eq!(nodes[1].respond(late, &query, b"x"), Err(QueryError::Expired));
    // An answer that arrives after the deadline is not delivered.
    let response = QueryResponse { id: id.id, ltime: id.ltime, from: "n1".into(), ack: false, payload: vec![] };
    nodes[0].on_query_response(late, response);
    assert_eq!(nodes[0].stats().dropped.get("late_query_response"), Some(&1));
    let big = vec![0u8; 2000];
    let fresh = QueryRef { deadline: late, ..query };
    assert!(matches!(nodes[1].respond(Instant::ZERO, &fresh, &big), Err(QueryError::ResponseTooLarge { .. })));
}
