//! Measures the amplification factor of a node towards an address that never proved it
//! receives: bytes the node sends to that address per byte it received from it.
//!
//! The node holds `keys` keys of `value_bytes` bytes each (its own state) and knows
//! `members` other members; it is then fed one small unencrypted push-pull `Syn` with an
//! empty digest (slice bits 0: "I know nothing, send me everything") from an address it has
//! never heard of, and runs `rounds` gossip rounds afterwards (to catch delayed answers).
//!
//! ```sh
//! cargo run --release -p hearsay-core --example amplification -- 200 100 400
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use hearsay_core::wire::{Codec, Digest, Message, Syn};
use hearsay_core::{Config, Instant, Node, NodeId, TransmitKind};

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().expect("numbers"));
    let members = args.next().unwrap_or(200);
    let keys = args.next().unwrap_or(100);
    let value_bytes = args.next().unwrap_or(400);
    let rounds = 10;
    let config = Config::lan();
    let interval = config.gossip_interval;
    let codec = Codec { cluster_id: config.cluster_id, max_len: config.mtu };
    let me: SocketAddr = "10.0.0.1:7946".parse().expect("address");
    let mut node = Node::new(config, NodeId::new("target", 1, me), vec![], 1, Instant::ZERO).expect("node");
    for i in 0..members {
        let addr = SocketAddr::from(([10, 2, (i >> 8) as u8, i as u8], 7946));
        node.add_member(Instant::ZERO, NodeId::new(format!("member-{i:05}"), 1, addr));
    }
    let value = vec![b'v'; value_bytes];
    for k in 0..keys {
        node.set(Instant::ZERO, &format!("key-{k:05}"), &value).expect("write");
    }
    while node.poll_transmit().is_some() {}
    while node.poll_event().is_some() {}

    let victim: SocketAddr = "192.0.2.7:7946".parse().expect("address");
    let syn = Syn {
        exchange_id: 7,
        push_pull: true,
        rumor: false,
        digest: Digest::default(),
        blocks: vec![],
        updates: vec![],
        flow: None,
    };
    let packet = codec.encode(&Message::Syn(syn));
    let now = Instant::from_millis(1);
    node.handle_datagram(now, victim, &packet).expect("the syn decodes");
    let (mut out_datagram, mut out_stream) = (0usize, 0usize);
    let mut drain = |node: &mut Node| {
        while let Some(t) = node.poll_transmit() {
            if t.to == victim {
                match t.kind {
                    TransmitKind::Datagram => out_datagram += t.payload.len(),
                    TransmitKind::Stream => out_stream += t.payload.len(),
                }
            }
        }
    };
    drain(&mut node);
    for r in 1..=rounds {
        node.handle_timeout(now + interval * r + Duration::from_millis(1));
        drain(&mut node);
    }
    let out = out_datagram + out_stream;
    println!(
        "members={members} keys={keys} value_bytes={value_bytes} in={} out_datagram={out_datagram} out_stream={out_stream} factor={:.1}",
        packet.len(),
        out as f64 / packet.len() as f64
    );
}
