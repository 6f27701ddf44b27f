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
///
/// Build one with [`NodeId::new`]: it also caches the portable hash of the name that places the
/// node in digest slices. Equality, ordering and hashing look at the three public fields only.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "NodeIdParts", into = "NodeIdParts")]
pub struct NodeId {
    /// Stable, cluster-unique name.
    pub name: Arc<str>,
    /// Incarnation counter, larger after every restart.
    pub generation: u64,
    /// Gossip address (UDP datagrams and TCP streams).
    pub addr: SocketAddr,
    /// `name_hash(name)`, computed once.
    hash: u64,
}

impl NodeId {
    /// A node id from its parts.
    pub fn new(name: impl Into<Arc<str>>, generation: u64, addr: SocketAddr) -> Self {
        let name = name.into();
        NodeId { hash: name_hash(&name), name, generation, addr }
    }

    /// The portable hash of the name (digest slices, the name index).
    pub(crate) fn hash(&self) -> u64 {
        self.hash
    }

    /// Whether the cached hash still matches the name (a caller may have replaced `name`).
    pub(crate) fn hash_is_current(&self) -> bool {
        self.hash == name_hash(&self.name)
    }
}

impl PartialEq for NodeId {
    fn eq(&self, other: &Self) -> bool {
        (&self.name, self.generation, self.addr) == (&other.name, other.generation, other.addr)
    }
}

impl Eq for NodeId {}

impl std::hash::Hash for NodeId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (&self.name, self.generation, self.addr).hash(state);
    }
}

impl PartialOrd for NodeId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for NodeId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&self.name, self.generation, self.addr).cmp(&(&other.name, other.generation, other.addr))
    }
}

/// The serialized form of a [`NodeId`] (without the cached hash).
#[derive(Serialize, Deserialize)]
struct NodeIdParts {
    name: Arc<str>,
    generation: u64,
    addr: SocketAddr,
}

impl From<NodeIdParts> for NodeId {
    fn from(p: NodeIdParts) -> Self {
        NodeId::new(p.name, p.generation, p.addr)
    }
}

impl From<NodeId> for NodeIdParts {
    fn from(id: NodeId) -> Self {
        NodeIdParts { name: id.name, generation: id.generation, addr: id.addr }
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

    #[test]
    fn the_cached_hash_survives_serialization_and_is_ignored_by_equality() {
        let id = NodeId::new("node-1", 3, "10.0.0.1:7946".parse().unwrap());
        let bytes = postcard::to_allocvec(&id).unwrap();
        let parts = NodeIdParts { name: "node-1".into(), generation: 3, addr: id.addr };
        assert_eq!(bytes, postcard::to_allocvec(&parts).unwrap());
        let back: NodeId = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, id);
        assert!(back.hash_is_current());
        let mut renamed = id.clone();
        renamed.name = "node-2".into();
        assert!(!renamed.hash_is_current());
    }
}
