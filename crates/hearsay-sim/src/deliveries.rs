//! Per-write delivery tracking: when, and over how many hops, each tracked write first reached
//! each node. Strategy-agnostic: it watches the application events (`KeyChanged`) and the
//! packet that caused them, not the protocol's messages, so rumor mongering, anti-entropy and
//! broadcast trees are measured alike.
//!
//! The hop count of a delivery is the hop count at which the sending node got the write, plus
//! one; the writer is at hop 0. The last delivery hop (LDH) of a write is the largest hop count
//! among the nodes it reached.

use std::collections::BTreeMap;
use std::sync::Arc;

/// One tracked write.
#[derive(Clone, Debug)]
pub struct Tracked {
    /// The owner's version of the write.
    pub version: u64,
    /// Virtual time (µs) of the write.
    pub written_at: u64,
    /// The writer's slot.
    pub writer: usize,
    /// Per slot: first delivery time (µs) and hop count (`None` when the packet that brought it
    /// is unknown, e.g. replayed from a pause backlog).
    pub first: Vec<Option<(u64, Option<u32>)>>,
}

impl Tracked {
    /// Nodes the write reached, the writer included.
    pub fn reached(&self) -> usize {
        self.first.iter().filter(|f| f.is_some()).count()
    }

    /// Largest known hop count (the LDH).
    pub fn last_delivery_hop(&self) -> u32 {
        self.first.iter().filter_map(|f| f.and_then(|(_, h)| h)).max().unwrap_or(0)
    }

    /// Time (µs) from the write to its last delivery.
    pub fn last_delivery_after(&self) -> u64 {
        self.first.iter().filter_map(|f| f.map(|(t, _)| t)).max().unwrap_or(self.written_at) - self.written_at
    }
}

/// Every tracked write, by (owner, key).
#[derive(Clone, Debug, Default)]
pub struct Deliveries {
    prefix: String,
    /// The writes, by (owner name, key).
    pub writes: BTreeMap<(Arc<str>, Arc<str>), Tracked>,
}

impl Deliveries {
    /// Tracks keys that start with `prefix`.
    pub fn new(prefix: &str) -> Self {
        Deliveries { prefix: prefix.to_string(), writes: BTreeMap::new() }
    }

    /// `slot` emitted `KeyChanged` for `owner`'s `key` at `version`, while handling a packet
    /// from `from` (`None`: a local write or an unknown packet).
    pub(crate) fn delivered(
        &mut self,
        slot: usize,
        owner: &Arc<str>,
        key: &Arc<str>,
        version: u64,
        from: Option<usize>,
        now: u64,
    ) {
        if !key.starts_with(self.prefix.as_str()) {
            return;
        }
        let tracked = self.writes.entry((owner.clone(), key.clone())).or_insert_with(|| Tracked {
            version,
            written_at: now,
            writer: slot,
            first: Vec::new(),
        });
        if version < tracked.version {
            return;
        }
        let len = tracked.first.len().max(slot + 1).max(from.map_or(0, |f| f + 1));
        tracked.first.resize(len, None);
        if tracked.first[slot].is_some() {
            return;
        }
        let hop = match from {
            None if slot == tracked.writer => Some(0),
            None => None,
            Some(f) => tracked.first[f].and_then(|(_, h)| h).map(|h| h + 1),
        };
        tracked.first[slot] = Some((now, hop));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_follow_the_delivering_packets() {
        let mut d = Deliveries::new("b-");
        let (owner, key): (Arc<str>, Arc<str>) = (Arc::from("n0"), Arc::from("b-1"));
        d.delivered(0, &owner, &key, 4, None, 100);
        d.delivered(2, &owner, &key, 4, Some(0), 150);
        d.delivered(1, &owner, &key, 4, Some(2), 180);
        d.delivered(1, &owner, &key, 4, Some(0), 190); // a later copy changes nothing
        d.delivered(3, &owner, &Arc::from("other"), 1, Some(0), 190); // untracked key
        let t = &d.writes[&(owner, key)];
        assert_eq!(t.reached(), 3);
        assert_eq!(t.last_delivery_hop(), 2);
        assert_eq!(t.last_delivery_after(), 80);
        assert_eq!(d.writes.len(), 1);
    }
}
