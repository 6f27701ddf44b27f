//! The replicated state: every member's map of versioned keys, interned by a small index.
//!
//! Each member (the local node included, at index 0) is a [`Member`]: its identity, liveness
//! bookkeeping, and the replica of its key/value map. Only the owner writes to its own map;
//! every write takes the next version of the owner's counter. `max_version` promises "every
//! version of this owner up to here that still matters is in this replica": a delta may raise it
//! only when it continues the replica with no gap.
//!
//! Members are interned: the protocol refers to them by [`MemberIdx`], a `u32`, and keeps a
//! name index for the wire. Digest and delta work then compares integers, not strings.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use crate::Instant;
use crate::detector::Detector;
use crate::id::{NodeId, name_hash};

/// Index of a member inside one node. Never sent on the wire.
pub(crate) type MemberIdx = u32;

/// The local node's index.
pub(crate) const SELF_IDX: MemberIdx = 0;

/// Keys starting with this are reserved for the protocol.
pub const RESERVED_PREFIX: &str = "__";
/// The reserved key an owner writes when it leaves gracefully.
pub(crate) const LEFT_KEY: &str = "__left";

/// A value with the version its owner gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionedValue {
    /// The value; empty for a tombstone.
    pub value: Arc<[u8]>,
    /// The owner's version of this write.
    pub version: u64,
    /// The key was deleted at this version.
    pub tombstone: bool,
}

/// Liveness of a member as this node sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemberStatus {
    /// Heartbeats arrive as expected.
    Alive,
    /// Phi crossed the threshold; not yet declared dead.
    Suspect,
    /// Suspect for longer than the suspicion timeout.
    Dead,
    /// Left gracefully.
    Left,
}

impl MemberStatus {
    /// Lower-case name for APIs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Alive => "alive",
            MemberStatus::Suspect => "suspect",
            MemberStatus::Dead => "dead",
            MemberStatus::Left => "left",
        }
    }
}

/// Everything this node knows about one member.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) id: NodeId,
    pub(crate) hash: u64,
    pub(crate) max_version: u64,
    pub(crate) last_gc_version: u64,
    pub(crate) heartbeat: u64,
    pub(crate) status: MemberStatus,
    /// When the status last changed (suspicion timeout, forgetting).
    pub(crate) status_since: Instant,
    pub(crate) detector: Detector,
    /// Refutation counter within the generation (SWIM incarnation).
    pub(crate) incarnation: u64,
    /// Present while the member is suspect.
    pub(crate) suspicion: Option<Box<crate::membership::Suspicion>>,
    /// Round-trip statistics of probes to this member.
    pub(crate) rtt: crate::probe::Rtt,
    pub(crate) keys: BTreeMap<Arc<str>, VersionedValue>,
    /// Live (non-tombstone) keys, for the per-node key limit.
    pub(crate) live_keys: usize,
}

impl Member {
    pub(crate) fn new(id: NodeId, now: Instant) -> Self {
        Member {
            hash: name_hash(&id.name),
            id,
            max_version: 0,
            last_gc_version: 0,
            heartbeat: 0,
            status: MemberStatus::Alive,
            status_since: now,
            detector: Detector::default(),
            incarnation: 0,
            suspicion: None,
            rtt: crate::probe::Rtt::default(),
            keys: BTreeMap::new(),
            live_keys: 0,
        }
    }

    /// Forgets the replica (a newer generation replaces it).
    pub(crate) fn reset(&mut self, id: NodeId, now: Instant) {
        *self = Member::new(id, now);
    }

    /// Fingerprint of what a digest says about this member, for checksums.
    pub(crate) fn fingerprint(&self) -> u64 {
        let mut x = self.hash ^ self.id.generation.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^= self.max_version.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        x ^= x >> 29;
        x.wrapping_mul(0x1656_67b1_9e37_79f9)
    }

    /// Stores `value` if it is newer than what is held; returns whether it was.
    pub(crate) fn store(&mut self, key: &str, value: VersionedValue) -> bool {
        match self.keys.get_mut(key) {
            Some(held) if held.version >= value.version => false,
            Some(held) => {
                match (held.tombstone, value.tombstone) {
                    (false, true) => self.live_keys -= 1,
                    (true, false) => self.live_keys += 1,
                    _ => {}
                }
                *held = value;
                true
            }
            None => {
                if !value.tombstone {
                    self.live_keys += 1;
                }
                self.keys.insert(Arc::from(key), value);
                true
            }
        }
    }

    /// Entries with versions in `(from, to]`, ascending by version.
    pub(crate) fn entries_between(&self, from: u64, to: u64) -> Vec<(&Arc<str>, &VersionedValue)> {
        let mut entries: Vec<_> = self.keys.iter().filter(|(_, v)| v.version > from && v.version <= to).collect();
        entries.sort_unstable_by_key(|(_, v)| v.version);
        entries
    }
}

/// A tombstone waiting for garbage collection.
#[derive(Debug)]
struct PendingGc {
    at: Instant,
    member: MemberIdx,
    generation: u64,
    key: Arc<str>,
    version: u64,
}

/// All members, interned.
#[derive(Debug)]
pub(crate) struct Members {
    slots: Vec<Option<Member>>,
    free: Vec<MemberIdx>,
    by_name: HashMap<Arc<str>, MemberIdx>,
    /// Member indices sorted by name hash (digest slices are hash ranges); rebuilt lazily.
    by_hash: Vec<MemberIdx>,
    by_hash_dirty: bool,
    /// Sum of name lengths, to size digest slices.
    name_bytes: usize,
    count: usize,
    gc_queue: VecDeque<PendingGc>,
}

impl Members {
    pub(crate) fn new(me: Member) -> Self {
        let mut members = Members {
            slots: Vec::new(),
            free: Vec::new(),
            by_name: HashMap::new(),
            by_hash: Vec::new(),
            by_hash_dirty: true,
            name_bytes: 0,
            count: 0,
            gc_queue: VecDeque::new(),
        };
        members.insert(me);
        members
    }

    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Number of slots (an upper bound on indices; some may be free).
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn average_name_len(&self) -> usize {
        self.name_bytes / self.count.max(1)
    }

    pub(crate) fn lookup(&self, name: &str) -> Option<MemberIdx> {
        self.by_name.get(name).copied()
    }

    pub(crate) fn get(&self, idx: MemberIdx) -> Option<&Member> {
        self.slots.get(idx as usize).and_then(Option::as_ref)
    }

    pub(crate) fn get_mut(&mut self, idx: MemberIdx) -> Option<&mut Member> {
        self.slots.get_mut(idx as usize).and_then(Option::as_mut)
    }

    /// The local node. Index 0 is never removed.
    pub(crate) fn me(&self) -> &Member {
        match self.slots.first() {
            Some(Some(me)) => me,
            _ => unreachable!("the local member is inserted first and never removed"),
        }
    }

    pub(crate) fn me_mut(&mut self) -> &mut Member {
        match self.slots.first_mut() {
            Some(Some(me)) => me,
            _ => unreachable!("the local member is inserted first and never removed"),
        }
    }

    pub(crate) fn insert(&mut self, member: Member) -> MemberIdx {
        let name = member.id.name.clone();
        self.name_bytes += name.len();
        let idx = match self.free.pop() {
            Some(idx) => {
                self.slots[idx as usize] = Some(member);
                idx
            }
            None => {
                self.slots.push(Some(member));
                (self.slots.len() - 1) as MemberIdx
            }
        };
        self.by_name.insert(name, idx);
        self.by_hash_dirty = true;
        self.count += 1;
        idx
    }

    pub(crate) fn remove(&mut self, idx: MemberIdx) -> Option<Member> {
        if idx == SELF_IDX {
            return None;
        }
        let member = self.slots.get_mut(idx as usize)?.take()?;
        self.by_name.remove(&member.id.name);
        self.name_bytes -= member.id.name.len();
        self.free.push(idx);
        self.by_hash_dirty = true;
        self.count -= 1;
        Some(member)
    }

    /// Members in index order (deterministic).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (MemberIdx, &Member)> {
        self.slots.iter().enumerate().filter_map(|(i, m)| m.as_ref().map(|m| (i as MemberIdx, m)))
    }

    /// Rebuilds the hash order if membership changed; call before [`Members::slice`].
    pub(crate) fn sort_by_hash(&mut self) {
        if self.by_hash_dirty {
            let slots = &self.slots;
            self.by_hash = (0..slots.len() as MemberIdx).filter(|i| slots[*i as usize].is_some()).collect();
            self.by_hash.sort_unstable_by_key(|i| {
                let m = slots[*i as usize].as_ref().map_or(0, |m| m.hash);
                (m, *i)
            });
            self.by_hash_dirty = false;
        }
    }

    /// Members whose hash is in slice `slice` of `2^bits`, in hash order (as of the last
    /// [`Members::sort_by_hash`]).
    pub(crate) fn slice(&self, bits: u8, slice: u32) -> &[MemberIdx] {
        let (lo, hi) = slice_bounds(bits, slice);
        let slots = &self.slots;
        let hash_of = |i: &MemberIdx| slots[*i as usize].as_ref().map_or(0, |m| m.hash);
        let start = self.by_hash.partition_point(|i| hash_of(i) < lo);
        let end = match hi {
            Some(hi) => self.by_hash.partition_point(|i| hash_of(i) < hi),
            None => self.by_hash.len(),
        };
        &self.by_hash[start..end]
    }

    /// Remembers a tombstone for collection after `grace`.
    pub(crate) fn schedule_gc(&mut self, at: Instant, member: MemberIdx, key: Arc<str>, version: u64) {
        let generation = self.get(member).map_or(0, |m| m.id.generation);
        self.gc_queue.push_back(PendingGc { at, member, generation, key, version });
    }

    /// Drops tombstones whose grace ended before `now`; raises `last_gc_version`.
    pub(crate) fn collect_garbage(&mut self, now: Instant) -> usize {
        let mut collected = 0;
        while self.gc_queue.front().is_some_and(|p| p.at <= now) {
            let Some(p) = self.gc_queue.pop_front() else { break };
            let Some(member) = self.slots.get_mut(p.member as usize).and_then(Option::as_mut) else { continue };
            if member.id.generation != p.generation {
                continue;
            }
            if member.keys.get(&p.key).is_some_and(|v| v.tombstone && v.version == p.version) {
                member.keys.remove(&p.key);
                member.last_gc_version = member.last_gc_version.max(p.version);
                collected += 1;
            }
        }
        collected
    }
}

/// Hash range `[lo, hi)` of slice `slice` out of `2^bits` (`hi = None`: to the end).
pub(crate) fn slice_bounds(bits: u8, slice: u32) -> (u64, Option<u64>) {
    if bits == 0 {
        return (0, None);
    }
    let bits = u32::from(bits.min(32));
    let width = 1u64 << (64 - bits);
    let lo = u64::from(slice).wrapping_mul(width);
    let hi = if u64::from(slice) + 1 >= (1u64 << bits) { None } else { Some(lo + width) };
    (lo, hi)
}

/// Whether `hash` is in slice `slice` of `2^bits`.
pub(crate) fn in_slice(hash: u64, bits: u8, slice: u32) -> bool {
    let (lo, hi) = slice_bounds(bits, slice);
    hash >= lo && hi.is_none_or(|hi| hash < hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> NodeId {
        NodeId::new(name, 1, "127.0.0.1:1".parse().unwrap())
    }

    #[test]
    fn slices_partition_the_members() {
        let mut members = Members::new(Member::new(id("me"), Instant::ZERO));
        for i in 0..500 {
            members.insert(Member::new(id(&format!("n{i}")), Instant::ZERO));
        }
        for bits in 0..6u8 {
            let mut seen = 0;
            members.sort_by_hash();
            for slice in 0..(1u32 << bits) {
                let idxs = members.slice(bits, slice).to_vec();
                for i in &idxs {
                    assert!(in_slice(members.get(*i).unwrap().hash, bits, slice));
                }
                seen += idxs.len();
            }
            assert_eq!(seen, 501, "bits {bits}");
        }
    }

    #[test]
    fn store_keeps_only_newer_versions_and_counts_live_keys() {
        let mut m = Member::new(id("a"), Instant::ZERO);
        let v = |version, tombstone| VersionedValue { value: Arc::from(&b"x"[..]), version, tombstone };
        assert!(m.store("k", v(2, false)));
        assert!(!m.store("k", v(1, true)));
        assert_eq!(m.live_keys, 1);
        assert!(m.store("k", v(3, true)));
        assert_eq!(m.live_keys, 0);
        assert_eq!(m.entries_between(0, 3).len(), 1);
        assert_eq!(m.entries_between(3, 9).len(), 0);
    }

    #[test]
    fn tombstones_are_collected_after_grace_and_raise_last_gc_version() {
        let mut members = Members::new(Member::new(id("me"), Instant::ZERO));
        let me = members.me_mut();
        me.store("k", VersionedValue { value: Arc::from(&[][..]), version: 4, tombstone: true });
        members.schedule_gc(Instant::from_millis(10), SELF_IDX, Arc::from("k"), 4);
        assert_eq!(members.collect_garbage(Instant::from_millis(9)), 0);
        assert_eq!(members.collect_garbage(Instant::from_millis(10)), 1);
        assert!(members.me().keys.is_empty());
        assert_eq!(members.me().last_gc_version, 4);
    }
}
#[cfg(test)]
mod footprint {
    /// Every node holds one `Member` per cluster member: the simulator runs N^2 of them, so a
    /// larger record directly lowers the largest cluster it can simulate.
    #[test]
    fn member_record_does_not_grow_unnoticed() {
        assert!(std::mem::size_of::<super::Member>() <= 192, "{}", std::mem::size_of::<super::Member>());
    }
}
