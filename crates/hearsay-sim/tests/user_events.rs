//! User events in the simulator: every live member delivers an event exactly once, with loss,
//! at N = 10 to 100; the figures (time until the last member has it, bytes the cluster sent
//! for it) are printed for the record (`--nocapture`), never asserted.

use hearsay_core::Config;
use hearsay_core::wire::MessageType;
use hearsay_sim::net::NetConfig;
use hearsay_sim::{Bootstrap, Sim, SimConfig};

fn sim(nodes: usize, loss: f64, seed: u64) -> Sim {
    Sim::new(SimConfig {
        nodes,
        config: Config::lan(),
        net: NetConfig { loss, ..NetConfig::default() },
        seed,
        bootstrap: Bootstrap::FullMembership,
    })
    .unwrap()
}

fn event_bytes(sim: &Sim) -> u64 {
    (0..sim.slots().len()).filter_map(|i| sim.node(i)).map(|n| n.stats().sent_of(MessageType::UserEvents).bytes).sum()
}

/// Sends one event from slot 3 and runs until no node spreads it; returns (ms until the last
/// delivery, bytes of user-event messages sent by the whole cluster).
fn one_event(sim: &mut Sim, payload: &[u8]) -> (f64, u64) {
    sim.run_rounds(10);
    let before = event_bytes(sim);
    let start = sim.now();
    sim.send_event(3, "deploy", payload, false).unwrap();
    for _ in 0..100 {
        sim.run_rounds(1);
        if (0..sim.slots().len()).all(|i| sim.node(i).is_none_or(|n| n.queued_user_events() == 0)) {
            break;
        }
    }
    let n = sim.slots().len();
    let mut per_slot = vec![0usize; n];
    for d in &sim.user_events {
        assert_eq!((&*d.name, d.ltime), ("deploy", 0));
        per_slot[d.slot] += 1;
    }
    assert_eq!(per_slot, vec![1; n], "every member delivers the event exactly once");
    let last = sim.user_events.iter().map(|d| d.at).max().unwrap();
    ((last - start) as f64 / 1000.0, event_bytes(sim) - before)
}

#[test]
fn an_event_reaches_every_member_once_with_five_percent_loss() {
    for nodes in [10, 30, 60, 100] {
        for seed in 1..=3 {
            let mut sim = sim(nodes, 0.05, seed);
            let (ms, bytes) = one_event(&mut sim, b"v2");
            println!("n={nodes} loss=5% seed={seed}: last delivery after {ms:.1} ms, {bytes} bytes of events");
        }
    }
}

#[test]
fn figures_at_a_hundred_nodes_without_loss() {
    for payload in [16usize, 1024, 16 * 1024] {
        let mut sim = sim(100, 0.0, 9);
        let (ms, bytes) = one_event(&mut sim, &vec![b'x'; payload]);
        println!("n=100 payload={payload}: last delivery after {ms:.1} ms, {bytes} bytes of events");
    }
}
