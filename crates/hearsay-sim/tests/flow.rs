//! The flow-control experiment at a size a test affords: writers offering more than gossip
//! carries, the MTU lowered mid-run. With flow control the replicas' staleness stays bounded;
//! without it, it grows round after round.

use hearsay_sim::flow::{FlowParams, compare, run};
use hearsay_sim::scenario::Params;

fn small(seed: u64) -> FlowParams {
    FlowParams {
        base: Params { nodes: 12, seed, ..Params::default() },
        writers: 3,
        writes_per_round: 20,
        value_bytes: 24,
        rounds: 120,
        warmup_rounds: 20,
        mtu_change_round: 60,
        mtu_after: 700,
    }
}

#[test]
fn with_flow_control_staleness_stays_bounded_and_without_it_grows() {
    for seed in [1, 2] {
        let c = compare(&small(seed)).unwrap();
        let (with, without) = (&c.with, &c.without);
        eprintln!("seed {seed}\n{}", hearsay_sim::flow::table(&c));
        // Without: once the MTU is lowered, every window further behind than the one before,
        // and far behind at the end. (At the first MTU the gossip nearly carries the load, and
        // the first two windows' maxima differ by noise either way.)
        let windows = [(1, 31), (31, 61), (61, 91), (91, 121)];
        let maxes: Vec<u64> = windows.iter().map(|(a, b)| without.max_behind(*a, *b)).collect();
        assert!(maxes[1] < maxes[2] && maxes[2] < maxes[3], "seed {seed}: without flow control {maxes:?}");
        assert!(maxes[3] > 4 * maxes[0], "seed {seed}: without flow control {maxes:?}");
        assert_eq!(without.refused, 0);
        // With: the last window, at the lower MTU, is no further behind than the first half
        // was, and an order of magnitude closer than without.
        let late = with.max_behind(91, 121);
        assert!(late <= with.max_behind(1, 61).max(60), "seed {seed}: {late} vs {}", with.max_behind(1, 61));
        assert!(late * 5 < maxes[3], "seed {seed}: with {late}, without {}", maxes[3]);
        assert!(with.refused > 0, "seed {seed}: the overload was refused");
        assert!(with.accepted_per_round(91, 121) > 0.0, "seed {seed}: writers still write");
        // Fair: no writer was admitted more than twice what another was.
        let (least, most) =
            (with.admitted_by_writer.iter().min().unwrap(), with.admitted_by_writer.iter().max().unwrap());
        assert!(most < &(2 * least), "seed {seed}: {:?}", with.admitted_by_writer);
        // The capacity is shared: each of the three writers gets well under all of it.
        let last = with.samples.last().unwrap();
        assert!(
            last.writer_share_bytes < 0.6 * last.capacity_bytes,
            "seed {seed}: share {} of capacity {}",
            last.writer_share_bytes,
            last.capacity_bytes
        );
    }
}

#[test]
fn a_flow_run_is_a_function_of_its_seed() {
    let mut params = small(5);
    params.rounds = 40;
    params.mtu_change_round = 20;
    assert_eq!(run(&params, true).unwrap(), run(&params, true).unwrap());
}
