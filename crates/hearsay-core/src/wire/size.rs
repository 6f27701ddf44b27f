//! Exact postcard sizes of wire values, so deltas and digests can be packed up to the MTU
//! without serializing twice.

use std::net::SocketAddr;

/// Bytes of a postcard varint holding `value`.
pub(crate) fn varint(value: u64) -> usize {
    let bits = 64 - value.max(1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Bytes of a length-prefixed byte string.
pub(crate) fn bytes(len: usize) -> usize {
    varint(len as u64) + len
}

/// Bytes of a socket address (enum tag, address octets, port as varint).
pub(crate) fn addr(addr: &SocketAddr) -> usize {
    match addr {
        SocketAddr::V4(a) => 1 + 4 + varint(u64::from(a.port())),
        SocketAddr::V6(a) => 1 + 16 + varint(u64::from(a.port())),
    }
}

/// Bytes of one tree announcement.
pub(crate) fn announcement(name_len: usize, generation: u64, version: u64) -> usize {
    bytes(name_len) + varint(generation) + varint(version)
}

/// Bytes of one digest entry.
pub(crate) fn digest_entry(name_len: usize, generation: u64, max_version: u64, heartbeat: u64) -> usize {
    bytes(name_len) + varint(generation) + varint(max_version) + varint(heartbeat)
}

/// Bytes of one membership update.
pub(crate) fn member_update(
    name_len: usize,
    generation: u64,
    address: &SocketAddr,
    incarnation: u64,
    from_len: usize,
) -> usize {
    bytes(name_len) + varint(generation) + addr(address) + varint(incarnation) + 1 + bytes(from_len)
}

/// Bytes of one flow-control demand.
pub(crate) fn demand(name_len: usize, bytes_per_round: u64, age: u32) -> usize {
    bytes(name_len) + varint(bytes_per_round) + varint(u64::from(age))
}

/// Bytes of a present flow report (the `Some` tag included) without its demands but with
/// their count prefix for `count` demands.
pub(crate) fn flow_report_head(capacity: u64, count: usize) -> usize {
    1 + varint(capacity) + 1 + varint(count as u64)
}

/// Bytes of one block entry.
pub(crate) fn entry(key_len: usize, version: u64, value_len: Option<usize>) -> usize {
    bytes(key_len) + varint(version) + 1 + value_len.map_or(0, bytes)
}

/// Bytes of a block without its entries' contents but with the entry count prefix for `count`
/// entries.
// One parameter per field of the block header it sizes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn block_head(
    name_len: usize,
    generation: u64,
    address: &SocketAddr,
    heartbeat: u64,
    from: u64,
    to: u64,
    gc: u64,
    count: usize,
) -> usize {
    bytes(name_len)
        + varint(generation)
        + addr(address)
        + varint(heartbeat)
        + varint(from)
        + varint(to)
        + varint(gc)
        + varint(count as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Block, DigestEntry, WireEntry, WireNodeId};

    #[test]
    fn computed_sizes_match_postcard() {
        for value in [0u64, 1, 127, 128, 16_383, 16_384, u64::MAX] {
            assert_eq!(varint(value), postcard::to_allocvec(&value).unwrap().len(), "{value}");
        }
        let e = DigestEntry { name: "node-17".into(), generation: 1_700_000_000_000, max_version: 300, heartbeat: 9 };
        assert_eq!(digest_entry(7, e.generation, e.max_version, e.heartbeat), postcard::to_allocvec(&e).unwrap().len());
        let w = WireEntry { key: "load".into(), version: 129, value: Some(vec![7; 200]) };
        assert_eq!(entry(4, 129, Some(200)), postcard::to_allocvec(&w).unwrap().len());
        let u = crate::wire::MemberUpdate {
            node: WireNodeId { name: "abc".into(), generation: 99_999, addr: "10.0.0.1:7946".parse().unwrap() },
            incarnation: 300,
            status: crate::wire::WireStatus::Dead,
            from: "accuser".into(),
        };
        assert_eq!(member_update(3, 99_999, &u.node.addr, 300, 7), postcard::to_allocvec(&u).unwrap().len());
        let d = crate::wire::Demand { name: "writer-1".into(), bytes_per_round: 70_000, age: 3 };
        assert_eq!(demand(8, 70_000, 3), postcard::to_allocvec(&d).unwrap().len());
        let f = Some(crate::wire::FlowReport { capacity: 11_200, truncated: true, demands: vec![d.clone(), d] });
        assert_eq!(flow_report_head(11_200, 2) + 2 * demand(8, 70_000, 3), postcard::to_allocvec(&f).unwrap().len());
        let t = WireEntry { key: "gone".into(), version: 3, value: None };
        assert_eq!(entry(4, 3, None), postcard::to_allocvec(&t).unwrap().len());
        for address in ["10.0.0.1:7946".parse().unwrap(), "[::1]:80".parse::<SocketAddr>().unwrap()] {
            let b = Block {
                owner: WireNodeId { name: "n".into(), generation: 5, addr: address },
                heartbeat: 1000,
                from_version: 2,
                to_version: 400,
                last_gc_version: 1,
                entries: vec![w.clone(), t.clone()],
            };
            let expected =
                block_head(1, 5, &address, 1000, 2, 400, 1, 2) + entry(4, 129, Some(200)) + entry(4, 3, None);
            assert_eq!(expected, postcard::to_allocvec(&b).unwrap().len());
        }
    }
}
