//! Join storms: every node starts at once and asks the same seed for the membership.

mod util;

use hearsay_core::Config;
use util::Cluster;

/// Catch-ups a node answers by stream per interval (`formation::CATCH_UPS_SERVED_PER_INTERVAL`).
const SHARE: u64 = 4;

#[test]
fn a_join_storm_spreads_catch_ups_over_the_cluster_and_no_node_serves_more_than_its_share() {
    let n = 150;
    let mut c = Cluster::new(n, Config::local(), 3);
    let mut formed = None;
    for round in 1..=40u64 {
        c.run(1);
        if c.nodes.iter().all(|node| node.member_count() >= n) {
            formed = Some(round);
            break;
        }
    }
    let rounds = formed.expect("every node knows every member within 40 rounds");
    let referrals: u64 = c.nodes.iter().map(|node| node.stats().catch_up_referrals).sum();
    eprintln!("{n} nodes formed in {rounds} rounds, {referrals} referrals followed");
    assert!(rounds <= 5, "{n} nodes took {rounds} rounds to know each other");
    let seed = c.nodes[0].stats();
    assert!(seed.catch_ups_deferred > 0, "the seed was asked by more nodes than its share");
    // The busy seed named the nodes it had answered, and askers caught up from them at once.
    assert!(referrals > 0, "no deferred asker followed a referral");
    for (i, node) in c.nodes.iter().enumerate() {
        let served = node.stats().catch_ups_served;
        assert!(served <= SHARE * (rounds + 1), "node {i} served {served} catch-ups in {rounds} rounds");
    }
    let by_others: u64 = c.nodes[1..].iter().map(|node| node.stats().catch_ups_served).sum();
    assert!(
        by_others > 4 * seed.catch_ups_served,
        "nodes other than the seed served most catch-ups ({by_others} against the seed's {})",
        seed.catch_ups_served
    );
}
