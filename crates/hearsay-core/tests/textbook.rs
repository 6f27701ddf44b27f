//! The switches that give the textbook model of Demers et al.: lockstep rounds and pulls
//! answered with every hot rumor (uniform peer choice is unit-tested in `peers`).

mod util;

use hearsay_core::wire::MessageType;
use hearsay_core::{Config, ExchangeMode, RumorConfig, RumorFeedback, RumorStop, Strategy};
use util::{Cluster, name};

fn pull_rumors(informed_pull: bool) -> Config {
    let mut config = Config::local();
    config.strategy = Strategy::Rumor;
    config.exchange = ExchangeMode::Pull;
    config.fanout = 1;
    config.rumor =
        RumorConfig { k: 2, feedback: RumorFeedback::Feedback, stop: RumorStop::Counter, consecutive: false };
    config.checksum_repair = false;
    config.eager_rumors = false;
    config.informed_pull = informed_pull;
    config
}

#[test]
fn uninformed_pull_resends_the_rumor_and_cools_on_the_requesters_answers() {
    for informed_pull in [true, false] {
        let mut c = Cluster::new(2, pull_rumors(informed_pull), 7);
        c.run(40);
        assert!(c.nodes.iter().all(|n| !n.has_hot_rumors()), "start-up rumors cool ({informed_pull})");
        let answers_before = c.nodes[1].stats().sent_of(MessageType::PushAck).messages;
        let now = c.now;
        c.nodes[0].set(now, "color", b"blue").unwrap();
        c.run(20);
        assert_eq!(c.nodes[1].get(&name(0), "color").map(|v| &*v.value), Some(&b"blue"[..]));
        assert!(c.nodes.iter().all(|n| !n.has_hot_rumors()), "k = 2 unnecessary responses cool it");
        let answers = c.nodes[1].stats().sent_of(MessageType::PushAck).messages - answers_before;
        if informed_pull {
            // The requester's digest names what it holds: nothing is sent twice, no answer.
            assert_eq!(answers, 0);
        } else {
            // Sent once when new and twice more to a requester that knew it, each answered.
            assert!(answers >= 3, "{answers} answers");
        }
    }
}

#[test]
fn lockstep_nodes_started_together_run_their_rounds_at_the_same_instants() {
    for lockstep_rounds in [true, false] {
        let config = Config { lockstep_rounds, ..Config::local() };
        let mut c = Cluster::new(12, config.clone(), 3);
        let mut apart = 0;
        for _ in 0..40 {
            c.step(config.gossip_interval / 4);
            let rounds: Vec<u64> = c.nodes.iter().map(|n| n.round()).collect();
            apart += usize::from(rounds.iter().any(|r| *r != rounds[0]));
        }
        if lockstep_rounds {
            assert_eq!(apart, 0, "every node runs round r at the same instant");
        } else {
            assert!(apart > 10, "jittered first rounds put nodes apart ({apart} of 40 steps)");
        }
    }
}
