//! Readable one-line summaries of packets, for `--trace-node` when debugging a replayed run.

use hearsay_core::TransmitKind;
use hearsay_core::wire::{Codec, Message, Tree};

/// A one-line summary of a received packet: type and, per block, owner, range and entries.
pub(crate) fn trace_line(
    now: u64,
    from: &str,
    kind: TransmitKind,
    payload: &[u8],
    codec: Codec,
    stream: Codec,
) -> String {
    let codec = if kind == TransmitKind::Stream { stream } else { codec };
    let message = match codec.decode(payload) {
        Ok(m) => m,
        Err(e) => return format!("{now} from {from}: rejected: {e}"),
    };
    let blocks = match &message {
        Message::Syn(m) => m.blocks.as_slice(),
        Message::SynAck(m) => m.blocks.as_slice(),
        Message::Ack(m) => m.blocks.as_slice(),
        Message::Push(m) => m.blocks.as_slice(),
        Message::Tree(Tree::Gossip(blocks)) => blocks.as_slice(),
        _ => &[],
    };
    let blocks: Vec<String> = blocks
        .iter()
        .map(|b| {
            let entries: Vec<String> = b.entries.iter().map(|e| format!("{}@{}", e.key, e.version)).collect();
            format!(
                "{}#{} ({}, {}] gc {} [{}]",
                b.owner.name,
                b.owner.generation,
                b.from_version,
                b.to_version,
                b.last_gc_version,
                entries.join(" ")
            )
        })
        .collect();
    format!("{now} from {from}: {:?} {kind:?} {}", message.message_type(), blocks.join("; "))
}
