//! Inputs that hit core bugs already reported and not yet fixed.
//!
//! A fuzzer stops at its first crash, and a proptest that keeps finding the same known crash
//! hides every other one, so the node bodies skip packets matched here. Each entry names the
//! bug; its reproducer lives in `fuzz/artifacts-regressions/` and in an ignored test of
//! `crates/hearsay-core/tests/fuzz_bodies.rs`. Delete the entry once the core is fixed.

use hearsay_core::wire::{Codec, MemberUpdate, Message, WireStatus};

use super::bodies::CLUSTER_ID;

/// The name and generation of the node under test.
const ME: (&str, u64) = ("me", 1);

/// Which known bug `packet` (plaintext, as delivered to the node under test) would hit.
pub fn matches(packet: &[u8]) -> Option<&'static str> {
    let codec = Codec { cluster_id: CLUSTER_ID, max_len: usize::MAX };
    let message = codec.decode(packet).ok()?;
    let updates: &[MemberUpdate] = match &message {
        Message::Syn(m) => &m.updates,
        Message::SynAck(m) => &m.updates,
        Message::Push(m) => &m.updates,
        Message::Ping(m) => &m.updates,
        Message::PingAck(m) => &m.updates,
        Message::PingReq(m) => &m.updates,
        Message::Ack(_) | Message::PushAck(_) | Message::Nack(_) => &[],
    };
    // membership.rs `apply_update`: refuting an accusation computes `u.incarnation + 1`,
    // which overflows (panics with overflow checks, wraps to 0 without) at u64::MAX.
    updates
        .iter()
        .any(|u| {
            u.node.name == ME.0
                && u.node.generation == ME.1
                && u.incarnation == u64::MAX
                && matches!(u.status, WireStatus::Suspect | WireStatus::Dead)
        })
        .then_some("refute-incarnation-overflow")
}
