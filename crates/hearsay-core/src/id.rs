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

    /// A node id whose name passes [`check_name`]: what a driver building its own identity
    /// from configuration should call.
    pub fn try_new(name: impl Into<Arc<str>>, generation: u64, addr: SocketAddr) -> Result<Self, NameError> {
        let name = name.into();
        check_name(&name)?;
        Ok(NodeId::new(name, generation, addr))
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

/// Longest member name in bytes.
pub const MAX_NAME_BYTES: usize = 256;

/// Why a member name was refused. Nothing is created or changed when it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    #[error("member name is empty")]
    Empty,
    /// The name is longer than [`MAX_NAME_BYTES`].
    #[error("member name is {len} bytes, the limit is {MAX_NAME_BYTES}")]
    TooLong {
        /// Name length in bytes.
        len: usize,
    },
    /// The name holds a character that would reach logs and terminals as something else
    /// than itself.
    #[error("member name contains {ch:?}, a control or invisible formatting character")]
    BadChar {
        /// The first refused character.
        ch: char,
    },
}

/// Whether `c` may not appear in a member name: control characters (ESC sequences and line
/// breaks would reach operators' terminals and logs), and the invisible characters that make
/// one name display as another (zero-width, bidirectional overrides, byte order mark).
fn refused_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// Checks a member name: not empty, at most [`MAX_NAME_BYTES`], no control or invisible
/// formatting characters. Every name that enters a node, from configuration or the wire,
/// passes this check.
pub fn check_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong { len: name.len() });
    }
    match name.chars().find(|c| refused_char(*c)) {
        Some(ch) => Err(NameError::BadChar { ch }),
        None => Ok(()),
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
    fn names_with_control_or_invisible_characters_are_refused() {
        let addr: SocketAddr = "10.0.0.1:7946".parse().unwrap();
        assert!(NodeId::try_new("node-1.example/eu", 1, addr).is_ok());
        assert!(NodeId::try_new("nœud-ü", 1, addr).is_ok());
        assert_eq!(check_name(""), Err(NameError::Empty));
        assert_eq!(check_name(&"n".repeat(MAX_NAME_BYTES + 1)), Err(NameError::TooLong { len: MAX_NAME_BYTES + 1 }));
        for bad in [
            "a\nb",
            "\u{1b}[31mred",
            "tab\t",
            "nul\0",
            "del\u{7f}",
            "c1\u{9b}",
            "rtl\u{202e}gnp",
            "zw\u{200b}j",
            "\u{feff}bom",
        ] {
            assert!(matches!(check_name(bad), Err(NameError::BadChar { .. })), "{bad:?}");
            assert!(NodeId::try_new(bad, 1, addr).is_err(), "{bad:?}");
        }
    }

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
