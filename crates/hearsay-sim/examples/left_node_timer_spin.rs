//! Reproduces: after `Node::leave`, `poll_timeout` keeps returning an instant that is not after
//! the `handle_timeout` just called, so a driver that sleeps until it spins.
use hearsay_core::{Config, Instant, Node, NodeId};
fn main() {
    let addr = |i: u8| std::net::SocketAddr::from(([10, 0, 0, i], 7946));
    let mut node = Node::new(Config::local(), NodeId::new("a", 1, addr(1)), vec![], 1, Instant::ZERO).unwrap();
    node.add_member(Instant::ZERO, NodeId::new("b", 1, addr(2)));
    let mut now = Instant::from_millis(500);
    node.handle_timeout(now);
    node.leave(now);
    for step in 0..8 {
        let next = node.poll_timeout().unwrap();
        println!("step {step}: now {} us, poll_timeout {} us", now.as_micros(), next.as_micros());
        now = next.max(now);
        node.handle_timeout(now);
        while node.poll_transmit().is_some() {}
    }
}
