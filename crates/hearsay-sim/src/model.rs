//! The model: every write the simulator issued, per owner and generation.
//!
//! The checkers compare replicas against this model, never against another node, so a bug that
//! corrupts an owner's own map is caught too. The model owns no node; the simulator records a
//! write here right after the owner's `set`/`delete` returned the version it took.

use std::collections::BTreeMap;

/// One write: `value` `None` is a delete (tombstone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// Key written.
    pub key: String,
    /// New value, or `None` for a delete.
    pub value: Option<Vec<u8>>,
}

/// Every write of one owner's generation, by version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenerationModel {
    /// version -> write.
    pub writes: BTreeMap<u64, Write>,
}

impl GenerationModel {
    /// The live map after every write up to and including `version`.
    pub fn map_at(&self, version: u64) -> BTreeMap<&str, (u64, &[u8])> {
        let mut map = BTreeMap::new();
        for (v, w) in self.writes.range(..=version) {
            match &w.value {
                Some(value) => {
                    map.insert(w.key.as_str(), (*v, value.as_slice()));
                }
                None => {
                    map.remove(w.key.as_str());
                }
            }
        }
        map
    }

    /// The live map after every write.
    pub fn map(&self) -> BTreeMap<&str, (u64, &[u8])> {
        self.map_at(u64::MAX)
    }

    /// Whether some write of `key` has a version above `version` (a later write or delete).
    pub fn written_after(&self, key: &str, version: u64) -> bool {
        self.writes.range(version + 1..).any(|(_, w)| w.key == key)
    }
}

/// Every owner's writes, each generation apart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    /// (owner name, generation) -> writes.
    pub owners: BTreeMap<(String, u64), GenerationModel>,
}

impl Model {
    /// Records that `owner`'s `generation` wrote `key` at `version` (`None`: deleted it).
    pub fn record(&mut self, owner: &str, generation: u64, version: u64, key: &str, value: Option<&[u8]>) {
        let entry = self.owners.entry((owner.to_string(), generation)).or_default();
        entry.writes.insert(version, Write { key: key.to_string(), value: value.map(<[u8]>::to_vec) });
    }

    /// The writes of one owner's generation (empty if it wrote nothing).
    pub fn generation(&self, owner: &str, generation: u64) -> Option<&GenerationModel> {
        self.owners.get(&(owner.to_string(), generation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_at_replays_writes_and_deletes_in_version_order() {
        let mut model = Model::default();
        model.record("a", 1, 1, "k", Some(b"1"));
        model.record("a", 1, 2, "j", Some(b"2"));
        model.record("a", 1, 3, "k", None);
        let g = model.generation("a", 1).unwrap();
        assert_eq!(g.map_at(2).get("k"), Some(&(1, &b"1"[..])));
        assert_eq!(g.map().get("k"), None);
        assert_eq!(g.map().get("j"), Some(&(2, &b"2"[..])));
        assert!(g.written_after("k", 1) && !g.written_after("j", 2));
        assert!(model.generation("a", 2).is_none());
    }
}
