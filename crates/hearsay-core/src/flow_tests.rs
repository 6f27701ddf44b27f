use super::*;
use crate::{Config, Node, NodeId};

const MTU: usize = 1400;

fn report(capacity: u64, truncated: bool, demands: &[(&str, u64, u32)]) -> FlowReport {
    FlowReport {
        capacity,
        truncated,
        demands: demands
            .iter()
            .map(|(name, bytes_per_round, age)| Demand {
                name: name.to_string(),
                bytes_per_round: *bytes_per_round,
                age: *age,
            })
            .collect(),
    }
}

#[test]
fn capacity_halves_on_overflow_and_grows_additively_only_while_writers_want_it() {
    let mut f = Flow::new(MTU, Instant::ZERO);
    assert_eq!(f.capacity, 89_600.0, "a fresh node starts at the top");
    f.overflow(5000);
    f.end_round(1, MTU);
    f.overflow(5000);
    f.end_round(1, MTU);
    f.overflow(5000);
    f.end_round(1, MTU);
    assert_eq!(f.capacity, 11_200.0);
    f.overflow(5000);
    f.end_round(1, MTU);
    assert_eq!((f.capacity, f.backlog_bytes()), (5_600.0, 5000));
    // No overflow, nobody writing: the estimate is not inflated.
    f.end_round(2, MTU);
    assert_eq!((f.capacity, f.backlog_bytes()), (5_600.0, 0));
    // A writer wanting more than half of it: additive increase of an eighth of an MTU.
    f.attempted = 6_000.0;
    f.end_round(3, MTU);
    assert_eq!(f.demand, 3_000.0);
    assert_eq!(f.capacity, 5_775.0);
    // However many overflows, at least half an MTU per round remains.
    for round in 4..20 {
        f.overflow(1);
        f.end_round(round, MTU);
    }
    assert_eq!(f.capacity, 700.0);
}

#[test]
fn shares_are_max_min_fair_and_split_what_nobody_wants() {
    // Under capacity: each gets its demand plus an equal part of the rest.
    assert_eq!(fair_share(100.0, 10.0, &[10.0]), 50.0);
    // Over capacity: the small writer gets what it wants, the others split the rest.
    assert_eq!(fair_share(100.0, 10.0, &[80.0, 80.0]), 10.0);
    assert_eq!(fair_share(100.0, 80.0, &[10.0, 80.0]), 45.0);
    // Equal demands over capacity: equal shares, summing to the capacity.
    let shares: Vec<f64> = (0..4).map(|_| fair_share(120.0, 500.0, &[500.0, 500.0, 500.0])).collect();
    assert_eq!(shares, vec![30.0; 4]);
    assert_eq!(fair_share(120.0, 0.0, &[]), 120.0);
}

#[test]
fn a_refused_writer_reports_more_demand_than_its_share_so_shares_even_out() {
    let mut f = Flow::new(MTU, Instant::ZERO);
    f.share = 1_000.0;
    f.attempted = 600.0;
    f.refused_this_round = true;
    f.end_round(1, MTU);
    // Half of max(600, 2 * 1000) after one round of smoothing.
    assert_eq!(f.demand, 1_000.0);
}

#[test]
fn a_truncation_reported_by_a_peer_halves_capacity_and_is_not_echoed() {
    let mut f = Flow::new(MTU, Instant::ZERO);
    f.learn(&report(89_600, true, &[]), "me", 1, MTU);
    assert!(!f.report("me", 1, MAX_REPORT_BYTES).truncated, "a flag heard is not passed on");
    f.end_round(2, MTU);
    assert_eq!(f.capacity, 44_800.0);
    // Our own cut delta is reported once.
    f.overflow(10);
    assert!(f.report("me", 2, MAX_REPORT_BYTES).truncated);
    assert!(!f.report("me", 2, MAX_REPORT_BYTES).truncated);
}

#[test]
fn capacities_heard_are_averaged_within_bounds() {
    let mut f = Flow::new(MTU, Instant::ZERO);
    f.learn(&report(5_600, false, &[]), "me", 1, MTU);
    assert_eq!(f.capacity, 47_600.0);
    f.learn(&report(u64::MAX, false, &[]), "me", 1, MTU);
    assert_eq!(f.capacity, (47_600.0 + 64.0 * 1400.0) / 2.0, "a wild claim is clamped to 64 MTUs");
}

#[test]
fn demands_heard_set_the_share_and_expire() {
    let mut f = Flow::new(MTU, Instant::ZERO);
    f.attempted = 200_000.0;
    f.end_round(1, MTU);
    assert_eq!(f.share, f.capacity, "alone, a writer gets the whole capacity");
    let heard = report(11_200, false, &[("me", 1, 0), ("w1", 200_000, 0), ("w2", 200_000, 3)]);
    f.learn(&heard, "me", 1, MTU);
    f.attempted = 200_000.0;
    f.end_round(2, MTU);
    let status = f.status(Instant::ZERO, Duration::from_millis(100), &Config::local().flow);
    assert_eq!(status.writers, 3, "our own name is not taken from others");
    assert!((f.share - f.capacity / 3.0).abs() < 1e-6, "three writers wanting more than all: a third each");
    for round in 3..=2 + DEMAND_TTL_ROUNDS {
        f.attempted = 200_000.0;
        f.end_round(round, MTU);
    }
    assert_eq!(f.peers.len(), 0, "demands not refreshed are forgotten");
    assert_eq!(f.share, f.capacity);
}

#[test]
fn a_stale_demand_does_not_replace_a_fresh_one_and_the_table_is_bounded() {
    let mut f = Flow::new(MTU, Instant::ZERO);
    f.learn(&report(11_200, false, &[("w1", 500, 0)]), "me", 10, MTU);
    f.learn(&report(11_200, false, &[("w1", 9_000, 4)]), "me", 10, MTU);
    assert_eq!(f.peers["w1"].bytes_per_round, 500);
    for i in 0..MAX_DEMANDS + 10 {
        f.learn(&report(11_200, false, &[(&format!("x{i}"), 100, 0)]), "me", 20 + i as u64, MTU);
    }
    assert_eq!(f.peers.len(), MAX_DEMANDS);
    assert!(!f.peers.contains_key("w1"), "the stalest went first");
}

#[test]
fn reports_fit_their_room_and_their_size_is_exact() {
    let mut f = Flow::new(MTU, Instant::ZERO);
    let long = "n".repeat(100);
    f.learn(&report(11_200, false, &[(&long, 3_000, 1), ("w1", 70_000, 2), ("w2", 1, 0)]), "me", 5, MTU);
    f.attempted = 4_000.0;
    f.end_round(6, MTU);
    let size = f.report_size("me", 6, MAX_REPORT_BYTES);
    let r = f.report("me", 6, MAX_REPORT_BYTES);
    assert_eq!(size, postcard::to_allocvec(&Some(r.clone())).unwrap().len());
    assert!(size <= MAX_REPORT_BYTES, "{size} bytes");
    assert_eq!(r.demands[0].name, "me", "our own demand comes first");
    assert_eq!(r.demands[0].age, 0);
    assert!(r.demands.iter().any(|d| d.name == "w1" && d.age == 3), "ages grow with our rounds: {r:?}");
    // A small MTU leaves a small room: the demands that do not fit are left out.
    let small = f.report("me", 6, 40);
    assert!(postcard::to_allocvec(&Some(small.clone())).unwrap().len() <= 40, "{small:?}");
    assert!(small.demands.len() < r.demands.len());
}

fn node(config: Config) -> Node {
    Node::new(config, NodeId::new("me", 1, "127.0.0.1:7946".parse().unwrap()), vec![], 1, Instant::ZERO).unwrap()
}

#[test]
fn writes_beyond_the_share_are_refused_with_the_wait_and_change_nothing() {
    let mut config = Config::local();
    config.flow.burst_rounds = 1;
    config.flow.min_burst_bytes = 1000;
    let mut n = node(config);
    let value = [7u8; 100];
    let mut written = 0;
    let refusal = loop {
        match n.set(Instant::ZERO, &format!("k{written}"), &value) {
            Ok(_) => written += 1,
            Err(e) => break e,
        }
        assert!(written < 1000, "never refused");
    };
    // A bucket of one round of a fresh node's share (89,600 bytes), writes of 100 bytes, a
    // key of 2 to 4 and 8 more: admitted while the bucket is not empty.
    assert_eq!(written, 801);
    let WriteError::RateLimited { retry_after } = refusal else { panic!("{refusal:?}") };
    assert!(retry_after > Duration::ZERO && retry_after < Duration::from_millis(100), "{retry_after:?}");
    assert_eq!(n.member("me").unwrap().max_version, written, "a refused write stores nothing");
    assert_eq!(n.get("me", "k801"), None);
    assert_eq!(n.stats().writes_refused, 1);
    // Just before the wait is over it is still refused; once over, admitted.
    let early = Instant::ZERO + (retry_after - Duration::from_micros(1));
    assert!(matches!(n.set(early, "k801", &value), Err(WriteError::RateLimited { .. })));
    assert!(n.set(Instant::ZERO + retry_after, "k801", &value).is_ok());
    // Deletes pay too; a delete of nothing is free and not refused.
    assert_eq!(n.delete(Instant::ZERO + retry_after, "absent"), Ok(None));
    assert!(matches!(n.delete(Instant::ZERO + retry_after, "k0"), Err(WriteError::RateLimited { .. })));
    assert_eq!(n.stats().writes_refused, 3);
}

#[test]
fn without_flow_control_nothing_is_refused_and_nothing_is_reported() {
    let mut config = Config::local();
    config.flow.enabled = false;
    let mut n = node(config);
    for i in 0..2000 {
        n.set(Instant::ZERO, &format!("k{i}"), &[1; 100]).unwrap();
    }
    assert_eq!(n.stats().writes_refused, 0);
    assert!(n.flow_report().is_none());
    assert_eq!(n.flow_room(), 0);
}

#[test]
fn set_mtu_validates_and_changes_the_datagram_limit() {
    let mut n = node(Config::local());
    assert!(n.set_mtu(20).is_err());
    assert_eq!(n.config().mtu, 1400);
    n.set_mtu(700).unwrap();
    assert_eq!((n.config().mtu, n.codec.max_len), (700, 700));
}
