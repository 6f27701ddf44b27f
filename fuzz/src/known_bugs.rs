//! Inputs that hit core bugs already reported and not yet fixed.
//!
//! A fuzzer stops at its first crash, and a proptest that keeps finding the same known crash
//! hides every other one, so the node bodies skip packets matched here. Each entry names the
//! bug; its reproducer lives in `fuzz/artifacts-regressions/` and in an ignored test of
//! `crates/hearsay-core/tests/fuzz_bodies.rs`. Delete the entry once the core is fixed.

use hearsay_core::wire::{Block, Codec, MemberUpdate, Message, WireStatus};

use super::bodies::CLUSTER_ID;

/// The name and generation of the node under test.
const ME: (&str, u64) = ("me", 1);

/// Which known bug `packet` (plaintext, as delivered to the node under test) would hit.
pub fn matches(packet: &[u8]) -> Option<&'static str> {
    let codec = Codec { cluster_id: CLUSTER_ID, max_len: usize::MAX };
    let message = codec.decode(packet).ok()?;
    let (updates, blocks): (&[MemberUpdate], &[Block]) = match &message {
        Message::Syn(m) => (&m.updates, &m.blocks),
        Message::SynAck(m) => (&m.updates, &m.blocks),
        Message::Ack(m) => (&[], &m.blocks),
        Message::Push(m) => (&m.updates, &m.blocks),
        Message::Ping(m) => (&m.updates, &[]),
        Message::PingAck(m) => (&m.updates, &[]),
        Message::PingReq(m) => (&m.updates, &[]),
        Message::PushAck(_) | Message::Nack(_) => (&[], &[]),
    };
    // membership.rs `apply_update`: refuting an accusation computes `u.incarnation + 1`,
    // which overflows (panics with overflow checks, wraps to 0 without) at u64::MAX.
    let accused = updates.iter().any(|u| {
        u.node.name == ME.0
            && u.node.generation == ME.1
            && u.incarnation == u64::MAX
            && matches!(u.status, WireStatus::Suspect | WireStatus::Dead)
    });
    if accused {
        return Some("refute-incarnation-overflow");
    }
    // A block ending at u64::MAX raises a member's max_version to u64::MAX; the next digest
    // that does not list that member makes digest.rs `depth` compute `max_version + 1`.
    if blocks.iter().any(|b| b.to_version == u64::MAX) {
        return Some("delta-depth-overflow");
    }
    None
}
