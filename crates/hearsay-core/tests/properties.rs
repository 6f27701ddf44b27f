//! Property: whatever the schedule of writes, deletes and lost messages, and whichever exchange
//! mode and strategy, once messages flow again every replica equals its owner's map.

mod util;

use hearsay_core::{Config, ExchangeMode, RumorConfig, RumorFeedback, RumorStop, Strategy as GossipStrategy};
use proptest::prelude::*;
use util::Cluster;

#[derive(Clone, Debug)]
enum Op {
    Set { node: usize, key: u8, value: u8 },
    Delete { node: usize, key: u8 },
    Loss(u8),
    Rounds(u8),
}

fn op(nodes: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..nodes, 0u8..6, any::<u8>()).prop_map(|(node, key, value)| Op::Set { node, key, value }),
        2 => (0..nodes, 0u8..6).prop_map(|(node, key)| Op::Delete { node, key }),
        1 => (0u8..=8).prop_map(Op::Loss),
        3 => (1u8..5).prop_map(Op::Rounds),
    ]
}

fn exchange() -> impl Strategy<Value = ExchangeMode> {
    prop_oneof![Just(ExchangeMode::Push), Just(ExchangeMode::Pull), Just(ExchangeMode::PushPull)]
}

fn strategy() -> impl Strategy<Value = GossipStrategy> {
    prop_oneof![Just(GossipStrategy::AntiEntropy), Just(GossipStrategy::Rumor), Just(GossipStrategy::Hybrid)]
}

fn rumor() -> impl Strategy<Value = RumorConfig> {
    (1u32..4, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(k, feedback, coin, consecutive)| RumorConfig {
        k,
        feedback: if feedback { RumorFeedback::Feedback } else { RumorFeedback::Blind },
        stop: if coin { RumorStop::Coin } else { RumorStop::Counter },
        consecutive,
    })
}

/// 32 cases in CI; `PROPTEST_CASES=N` runs more by hand.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(32)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn replicas_converge_to_owner_maps_once_messages_flow(
        nodes in 3usize..8,
        exchange in exchange(),
        strategy in strategy(),
        rumor in rumor(),
        fanout in 1usize..4,
        seed in any::<u64>(),
        ops in proptest::collection::vec(op(7), 1..40),
    ) {
        let mut config = Config::local();
        config.exchange = exchange;
        config.strategy = strategy;
        config.rumor = rumor;
        config.fanout = fanout;
        // Nobody may be forgotten while we test replica equality.
        config.detector.suspicion_timeout = std::time::Duration::from_secs(3600);
        let mut c = Cluster::new(nodes, config, seed);
        c.run(20);
        for op in ops {
            let now = c.now;
            match op {
                Op::Set { node, key, value } => {
                    c.nodes[node % nodes].set(now, &format!("k{key}"), &[value]).unwrap();
                }
                Op::Delete { node, key } => {
                    c.nodes[node % nodes].delete(now, &format!("k{key}")).unwrap();
                }
                Op::Loss(tenths) => c.loss = f64::from(tenths) / 10.0,
                Op::Rounds(r) => c.run(usize::from(r)),
            }
        }
        c.loss = 0.0;
        let result = c.run_until_converged(1500);
        prop_assert!(result.is_ok(), "{:?}", result);
    }
}
