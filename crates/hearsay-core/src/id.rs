//! Node identity.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

/// Who a node is: a stable `name`, the `generation` of this incarnation of it, and the
/// address its gossip socket answers on.
///
/// `generation` must grow every time the process restarts (the agent persists a counter; the
/// start time in milliseconds is an acceptable fallback). Everything known about a lower
/// generation of the same name is replaced when a higher one is seen, so a restarted node never
/// loses to its own stale state and its old keys never come back.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeId {
    /// Stable, cluster-unique name.
    pub name: Arc<str>,
    /// Incarnation counter, larger after every restart.
    pub generation: u64,
    /// Gossip address (UDP datagrams and TCP streams).
    pub addr: SocketAddr,
}

impl NodeId {
    /// A node id from its parts.
    pub fn new(name: impl Into<Arc<str>>, generation: u64, addr: SocketAddr) -> Self {
        NodeId { name: name.into(), generation, addr }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}@{}", self.name, self.generation, self.addr)
    }
}

/// A portable 64-bit FNV-1a hash: the same on every platform and every run, so that digest
/// slices (owners whose name hash falls in a range) agree between nodes.
pub(crate) fn name_hash(name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // FNV's low bits mix poorly for short keys; finish with a multiply-xorshift.
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^ (hash >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_hash_is_stable_across_runs() {
        assert_eq!(name_hash("node-1"), name_hash("node-1"));
        assert_ne!(name_hash("node-1"), name_hash("node-2"));
    }
}
