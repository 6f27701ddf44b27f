//! Flow control across nodes: writers' demands travel in gossip and the capacity is shared.

mod util;

use hearsay_core::{Config, WriteError};
use util::Cluster;

#[test]
fn writers_demands_reach_every_node_and_two_writers_split_the_capacity() {
    let mut c = Cluster::new(8, Config::local(), 3);
    c.run(30);
    let interval = c.nodes[0].config().gossip_interval;
    let value = [b'v'; 40];
    let (mut admitted, mut refused) = (0, 0);
    for round in 0..40 {
        for quarter in 0..4 {
            for writer in [0, 5] {
                for k in 0..8 {
                    let key = format!("r{round}-q{quarter}-k{k}");
                    match c.nodes[writer].set(c.now, &key, &value) {
                        Ok(_) => admitted += 1,
                        Err(WriteError::RateLimited { retry_after }) => {
                            assert!(retry_after > std::time::Duration::ZERO);
                            refused += 1;
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            c.step(interval / 4);
        }
    }
    assert!(admitted > 0);
    for (i, node) in c.nodes.iter().enumerate() {
        let status = node.flow_status();
        assert_eq!(status.writers, 2, "node {i} knows both writers: {status:?}");
        assert!(status.enabled);
    }
    let (a, b) = (c.nodes[0].flow_status(), c.nodes[5].flow_status());
    assert!(a.share_bytes < 0.75 * a.capacity_bytes && b.share_bytes < 0.75 * b.capacity_bytes, "{a:?} {b:?}");
    let ratio = a.share_bytes / b.share_bytes;
    assert!((0.5..2.0).contains(&ratio), "equal demands, comparable shares: {a:?} {b:?}");
    assert_eq!(c.nodes[0].stats().writes_refused + c.nodes[5].stats().writes_refused, refused);
}
