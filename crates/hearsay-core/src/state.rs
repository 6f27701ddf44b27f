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

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use hashbrown::HashTable;

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

/// Bytes a stored entry is charged beyond its key and value: the map node's share, the
/// reference counts and the version. An estimate on the high side, so the replica budget
/// bounds real memory.
pub(crate) const ENTRY_OVERHEAD: usize = 160;
/// Bytes a pending garbage collection is charged beyond its key.
pub(crate) const GC_OVERHEAD: usize = 64;

/// What one stored entry is charged against the replica budget.
pub(crate) fn entry_cost(key_len: usize, value_len: usize) -> usize {
    key_len + value_len + ENTRY_OVERHEAD
}

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
///
/// Every node holds one of these per cluster member (the simulator holds N^2 of them), so the
/// record keeps only what every member needs: the identity (shared, reference-counted), the
/// replica's version, the heartbeat, the signs of life phi comes from, and the status. Everything that
/// only some members need (keys, a suspicion, probe round trips, a non-zero incarnation) lives
/// in [`Cold`], allocated the first time it is written.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) id: Arc<NodeId>,
    /// Written through [`Members`] only, which keeps the slice checksums in step.
    max_version: u64,
    /// Highest heartbeat seen (saturates at `u32::MAX`: 13 years of rounds at 100 ms).
    pub(crate) heartbeat: u32,
    pub(crate) detector: Detector,
    pub(crate) status: MemberStatus,
    cold: Option<Box<Cold>>,
}

/// The parts of a member record that most members never need.
#[derive(Debug, Default)]
pub(crate) struct Cold {
    /// Refutation counter within the generation (SWIM incarnation).
    pub(crate) incarnation: u64,
    /// When the status last changed (suspicion timeout, forgetting); zero if it never did.
    pub(crate) status_since: Instant,
    /// Present while the member is suspect.
    pub(crate) suspicion: Option<Box<crate::membership::Suspicion>>,
    /// Round-trip statistics of probes to this member.
    pub(crate) rtt: crate::probe::Rtt,
    pub(crate) keys: BTreeMap<Arc<str>, VersionedValue>,
    /// Live (non-tombstone) keys, for the per-node key limit.
    pub(crate) live_keys: usize,
    /// Bytes of live keys and values, for the per-node byte limit.
    pub(crate) live_bytes: usize,
    /// What every stored entry, tombstones included, is charged ([`entry_cost`]).
    pub(crate) bytes: usize,
    pub(crate) last_gc_version: u64,
}

/// What an absent [`Cold`] reads as.
static NO_COLD: Cold = Cold {
    incarnation: 0,
    status_since: Instant::ZERO,
    suspicion: None,
    rtt: crate::probe::Rtt::ZERO,
    keys: BTreeMap::new(),
    live_keys: 0,
    live_bytes: 0,
    bytes: 0,
    last_gc_version: 0,
};

impl Member {
    pub(crate) fn new(id: impl Into<Arc<NodeId>>) -> Self {
        let mut id = id.into();
        if !id.hash_is_current() {
            // A caller replaced the public name after building the id: rebuild the cache.
            id = Arc::new(NodeId::new(id.name.clone(), id.generation, id.addr));
        }
        Member {
            id,
            max_version: 0,
            heartbeat: 0,
            detector: Detector::default(),
            status: MemberStatus::Alive,
            cold: None,
        }
    }

    /// The portable hash of the member's name.
    pub(crate) fn hash(&self) -> u64 {
        self.id.hash()
    }

    /// Highest version up to which the replica is complete.
    pub(crate) fn max_version(&self) -> u64 {
        self.max_version
    }

    /// The rarely needed parts (defaults if never written).
    pub(crate) fn cold(&self) -> &Cold {
        self.cold.as_deref().unwrap_or(&NO_COLD)
    }

    /// The rarely needed parts, allocated on first write.
    pub(crate) fn cold_mut(&mut self) -> &mut Cold {
        self.cold.get_or_insert_with(Box::default)
    }

    pub(crate) fn incarnation(&self) -> u64 {
        self.cold().incarnation
    }

    pub(crate) fn status_since(&self) -> Instant {
        self.cold().status_since
    }

    pub(crate) fn keys(&self) -> &BTreeMap<Arc<str>, VersionedValue> {
        &self.cold().keys
    }

    pub(crate) fn live_keys(&self) -> usize {
        self.cold().live_keys
    }

    /// Bytes of live keys and values held.
    pub(crate) fn live_bytes(&self) -> usize {
        self.cold().live_bytes
    }

    /// What the stored entries are charged against the replica budget.
    pub(crate) fn bytes(&self) -> usize {
        self.cold().bytes
    }

    pub(crate) fn last_gc_version(&self) -> u64 {
        self.cold().last_gc_version
    }

    /// Changes the status and remembers when.
    pub(crate) fn set_status(&mut self, status: MemberStatus, now: Instant) {
        self.detector.status_changed(self.status, status, now);
        self.status = status;
        self.cold_mut().status_since = now;
    }

    /// Drops an open suspicion, if any (allocates nothing).
    pub(crate) fn clear_suspicion(&mut self) {
        if let Some(cold) = self.cold.as_mut() {
            cold.suspicion = None;
        }
    }

    /// Forgets every key (the replica is replaced from version 0). Call through
    /// [`Members::clear_keys`], which keeps the replica total.
    fn clear_keys(&mut self) {
        if let Some(cold) = self.cold.as_mut() {
            cold.keys.clear();
            cold.live_keys = 0;
            cold.live_bytes = 0;
            cold.bytes = 0;
        }
    }

    /// Fingerprint of what a digest says about this member, for checksums.
    pub(crate) fn fingerprint(&self) -> u64 {
        let mut x = self.hash() ^ self.id.generation.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^= self.max_version.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        x ^= x >> 29;
        x.wrapping_mul(0x1656_67b1_9e37_79f9)
    }

    /// Stores `value` if it is newer than what is held; returns whether it was. Call through
    /// [`Members::store`], which keeps the replica total.
    fn store(&mut self, key: &str, value: VersionedValue) -> bool {
        let cold = self.cold_mut();
        let (live, cost) = (!value.tombstone, entry_cost(key.len(), value.value.len()));
        match cold.keys.get_mut(key) {
            Some(held) if held.version >= value.version => false,
            Some(held) => {
                if !held.tombstone {
                    cold.live_keys -= 1;
                    cold.live_bytes -= key.len() + held.value.len();
                }
                cold.bytes -= entry_cost(key.len(), held.value.len());
                *held = value;
                if live {
                    cold.live_keys += 1;
                    cold.live_bytes += cost - ENTRY_OVERHEAD;
                }
                cold.bytes += cost;
                true
            }
            None => {
                if live {
                    cold.live_keys += 1;
                    cold.live_bytes += cost - ENTRY_OVERHEAD;
                }
                cold.bytes += cost;
                cold.keys.insert(Arc::from(key), value);
                true
            }
        }
    }

    /// Removes a collected tombstone; returns what it was charged.
    fn remove_tombstone(&mut self, key: &str, version: u64) -> Option<usize> {
        let cold = self.cold.as_mut()?;
        if !cold.keys.get(key).is_some_and(|v| v.tombstone && v.version == version) {
            return None;
        }
        let held = cold.keys.remove(key)?;
        let cost = entry_cost(key.len(), held.value.len());
        cold.bytes -= cost;
        cold.last_gc_version = cold.last_gc_version.max(version);
        Some(cost)
    }

    /// Entries with versions in `(from, to]`, ascending by version.
    pub(crate) fn entries_between(&self, from: u64, to: u64) -> Vec<(&Arc<str>, &VersionedValue)> {
        let mut entries: Vec<_> = self.keys().iter().filter(|(_, v)| v.version > from && v.version <= to).collect();
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

impl PendingGc {
    fn cost(&self) -> usize {
        self.key.len() + GC_OVERHEAD
    }
}

/// Top bits of the name hash that pick a checksum bucket: the finest slicing whose checksums
/// a digest can carry.
const CHECKSUM_BITS: u32 = 6;
const _: () = assert!(1 << CHECKSUM_BITS == crate::wire::MAX_CHECKSUMMED_SLICES);

/// All members, interned.
#[derive(Debug)]
pub(crate) struct Members {
    slots: Vec<Option<Member>>,
    free: Vec<MemberIdx>,
    /// Name index: member indices hashed by the salted name hash.
    by_name: HashTable<MemberIdx>,
    /// Per-node salt of the name index, so crafted names cannot pile into one bucket.
    salt: u64,
    /// Member indices sorted by name hash (digest slices are hash ranges); rebuilt lazily.
    by_hash: Vec<MemberIdx>,
    by_hash_dirty: bool,
    /// Sum of name lengths, to size digest slices.
    name_bytes: usize,
    count: usize,
    /// XOR of member fingerprints per `2^CHECKSUM_BITS` hash slice, kept up to date by every
    /// change of membership, generation or `max_version`.
    checksums: [u64; 1 << CHECKSUM_BITS],
    gc_queue: VecDeque<PendingGc>,
    /// What all replicas and the pending collections are charged: the figure
    /// `limits.max_replica_bytes` bounds.
    bytes: usize,
}

/// The name index's hash of a member hash.
fn salted(hash: u64, salt: u64) -> u64 {
    let mut x = hash ^ salt;
    x ^= x >> 31;
    x = x.wrapping_mul(0x7fb5_d329_728e_a185);
    x ^ (x >> 27)
}

fn checksum_bucket(hash: u64) -> usize {
    (hash >> (64 - CHECKSUM_BITS)) as usize
}

impl Members {
    pub(crate) fn new(me: Member, salt: u64) -> Self {
        let mut members = Members {
            slots: Vec::new(),
            free: Vec::new(),
            by_name: HashTable::new(),
            salt,
            by_hash: Vec::new(),
            by_hash_dirty: true,
            name_bytes: 0,
            count: 0,
            checksums: [0; 1 << CHECKSUM_BITS],
            gc_queue: VecDeque::new(),
            bytes: 0,
        };
        members.insert(me);
        members
    }

    /// Makes room for `additional` more members at once (no growth slack).
    pub(crate) fn reserve(&mut self, additional: usize) {
        let wanted = self.count + additional;
        self.slots.reserve_exact(wanted.saturating_sub(self.slots.len()));
        self.by_hash.reserve_exact(wanted.saturating_sub(self.by_hash.len()));
        let (slots, salt) = (&self.slots, self.salt);
        self.by_name.reserve(additional, |i| Self::salted_hash_of(slots, salt, *i));
    }

    fn salted_hash_of(slots: &[Option<Member>], salt: u64, idx: MemberIdx) -> u64 {
        salted(slots.get(idx as usize).and_then(Option::as_ref).map_or(0, Member::hash), salt)
    }

    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// What all replicas (the local node's keys included) and pending collections are
    /// charged against `limits.max_replica_bytes`.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Stores `value` under `key` in member `idx`'s replica if it is newer; returns whether
    /// it was.
    pub(crate) fn store(&mut self, idx: MemberIdx, key: &str, value: VersionedValue) -> bool {
        let Some(m) = self.get_mut(idx) else { return false };
        let before = m.bytes();
        let stored = m.store(key, value);
        let after = m.bytes();
        self.bytes = self.bytes - before + after;
        stored
    }

    /// Forgets every key of member `idx` (its replica is replaced from version 0).
    pub(crate) fn clear_keys(&mut self, idx: MemberIdx) {
        let Some(m) = self.get_mut(idx) else { return };
        let before = m.bytes();
        m.clear_keys();
        self.bytes -= before;
    }

    /// Number of slots (an upper bound on indices; some may be free).
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn average_name_len(&self) -> usize {
        self.name_bytes / self.count.max(1)
    }

    pub(crate) fn lookup(&self, name: &str) -> Option<MemberIdx> {
        let slots = &self.slots;
        let is = |i: &MemberIdx| slots.get(*i as usize).and_then(Option::as_ref).is_some_and(|m| &*m.id.name == name);
        self.by_name.find(salted(name_hash(name), self.salt), is).copied()
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
        self.name_bytes += member.id.name.len();
        self.bytes += member.bytes();
        let hash = member.hash();
        self.checksums[checksum_bucket(hash)] ^= member.fingerprint();
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
        let (slots, salt) = (&self.slots, self.salt);
        self.by_name.insert_unique(salted(hash, salt), idx, |i| Self::salted_hash_of(slots, salt, *i));
        self.by_hash_dirty = true;
        self.count += 1;
        idx
    }

    pub(crate) fn remove(&mut self, idx: MemberIdx) -> Option<Member> {
        if idx == SELF_IDX {
            return None;
        }
        let hash = self.get(idx)?.hash();
        if let Ok(entry) = self.by_name.find_entry(salted(hash, self.salt), |i| *i == idx) {
            entry.remove();
        }
        let member = self.slots.get_mut(idx as usize)?.take()?;
        self.checksums[checksum_bucket(hash)] ^= member.fingerprint();
        self.name_bytes -= member.id.name.len();
        self.bytes -= member.bytes();
        self.free.push(idx);
        self.by_hash_dirty = true;
        self.count -= 1;
        Some(member)
    }

    /// Forgets the replica of member `idx` (a newer generation `id` replaces it).
    pub(crate) fn reset(&mut self, idx: MemberIdx, id: impl Into<Arc<NodeId>>) {
        let Some(m) = self.slots.get_mut(idx as usize).and_then(Option::as_mut) else { return };
        let fresh = Member::new(id);
        if fresh.id.name != m.id.name {
            debug_assert!(false, "reset must keep the name");
            return;
        }
        let bucket = checksum_bucket(m.hash());
        self.checksums[bucket] ^= m.fingerprint() ^ fresh.fingerprint();
        self.bytes -= m.bytes();
        *m = fresh;
    }

    /// Raises member `idx`'s `max_version` to `version` (never lowers it).
    pub(crate) fn raise_max_version(&mut self, idx: MemberIdx, version: u64) {
        let Some(m) = self.slots.get_mut(idx as usize).and_then(Option::as_mut) else { return };
        if version <= m.max_version {
            return;
        }
        let before = m.fingerprint();
        m.max_version = version;
        self.checksums[checksum_bucket(m.hash())] ^= before ^ m.fingerprint();
    }

    /// Checksum of slice `slice` out of `2^bits` for `bits <= 6`, from the kept buckets.
    pub(crate) fn bucket_checksum(&self, bits: u8, slice: u32) -> Option<u64> {
        let bits = u32::from(bits);
        if bits > CHECKSUM_BITS {
            return None;
        }
        let width = 1usize << (CHECKSUM_BITS - bits);
        let start = (slice as usize).checked_mul(width)?;
        let buckets = self.checksums.get(start..start + width)?;
        Some(buckets.iter().fold(0, |acc, c| acc ^ c))
    }

    /// The member whose gossip address is `addr`, if any (a scan: for occasional use).
    pub(crate) fn at_addr(&self, addr: std::net::SocketAddr) -> Option<&Member> {
        self.iter().map(|(_, m)| m).find(|m| m.id.addr == addr)
    }

    /// Members in index order (deterministic).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (MemberIdx, &Member)> {
        self.slots.iter().enumerate().filter_map(|(i, m)| m.as_ref().map(|m| (i as MemberIdx, m)))
    }

    /// Rebuilds the hash order if membership changed; call before [`Members::slice`].
    pub(crate) fn sort_by_hash(&mut self) {
        if self.by_hash_dirty {
            let mut keyed: Vec<(u64, MemberIdx)> = self.iter().map(|(i, m)| (m.hash(), i)).collect();
            keyed.sort_unstable();
            self.by_hash.clear();
            self.by_hash.reserve_exact(keyed.len());
            self.by_hash.extend(keyed.into_iter().map(|(_, i)| i));
            self.by_hash_dirty = false;
        }
    }

    /// Members whose hash is in slice `slice` of `2^bits`, in hash order (as of the last
    /// [`Members::sort_by_hash`]).
    pub(crate) fn slice(&self, bits: u8, slice: u32) -> &[MemberIdx] {
        let (lo, hi) = slice_bounds(bits, slice);
        let slots = &self.slots;
        let hash_of = |i: &MemberIdx| slots[*i as usize].as_ref().map_or(0, Member::hash);
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
        let pending = PendingGc { at, member, generation, key, version };
        self.bytes += pending.cost();
        self.gc_queue.push_back(pending);
    }

    /// Drops tombstones whose grace ended before `now`; raises `last_gc_version`.
    pub(crate) fn collect_garbage(&mut self, now: Instant) -> usize {
        let mut collected = 0;
        while self.gc_queue.front().is_some_and(|p| p.at <= now) {
            let Some(p) = self.gc_queue.pop_front() else { break };
            self.bytes -= p.cost();
            let Some(member) = self.slots.get_mut(p.member as usize).and_then(Option::as_mut) else { continue };
            if member.id.generation != p.generation {
                continue;
            }
            if let Some(cost) = member.remove_tombstone(&p.key, p.version) {
                self.bytes -= cost;
                collected += 1;
            }
        }
        collected
    }
}

#[cfg(test)]
impl Members {
    /// The replica total recomputed from scratch, to check the kept one.
    pub(crate) fn recount_bytes(&self) -> usize {
        let keys: usize =
            self.iter().flat_map(|(_, m)| m.keys().iter()).map(|(k, v)| entry_cost(k.len(), v.value.len())).sum();
        keys + self.gc_queue.iter().map(PendingGc::cost).sum::<usize>()
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
        let mut members = Members::new(Member::new(id("me")), 7);
        for i in 0..500 {
            members.insert(Member::new(id(&format!("n{i}"))));
        }
        for bits in 0..6u8 {
            let mut seen = 0;
            members.sort_by_hash();
            for slice in 0..(1u32 << bits) {
                let idxs = members.slice(bits, slice).to_vec();
                for i in &idxs {
                    assert!(in_slice(members.get(*i).unwrap().hash(), bits, slice));
                }
                seen += idxs.len();
            }
            assert_eq!(seen, 501, "bits {bits}");
        }
    }

    #[test]
    fn kept_slice_checksums_follow_every_change() {
        let slow = |members: &Members, bits: u8, slice: u32| {
            members.iter().filter(|(_, m)| in_slice(m.hash(), bits, slice)).fold(0, |acc, (_, m)| acc ^ m.fingerprint())
        };
        let check = |members: &Members| {
            for bits in 0..=6u8 {
                for slice in 0..(1u32 << bits) {
                    assert_eq!(
                        members.bucket_checksum(bits, slice),
                        Some(slow(members, bits, slice)),
                        "{bits}/{slice}"
                    );
                }
            }
            assert_eq!(members.bucket_checksum(7, 0), None);
        };
        let mut members = Members::new(Member::new(id("me")), 3);
        let idxs: Vec<MemberIdx> = (0..300).map(|i| members.insert(Member::new(id(&format!("n{i}"))))).collect();
        check(&members);
        for (n, idx) in idxs.iter().enumerate() {
            members.raise_max_version(*idx, n as u64 % 7);
        }
        members.raise_max_version(idxs[5], 1); // lowering is ignored
        check(&members);
        for idx in idxs.iter().step_by(3) {
            members.remove(*idx);
        }
        check(&members);
        members.reset(idxs[1], NodeId::new("n1", 9, "127.0.0.1:1".parse().unwrap()));
        assert_eq!(members.get(idxs[1]).unwrap().max_version(), 0);
        check(&members);
        assert_eq!(members.lookup("n1"), Some(idxs[1]));
        assert_eq!(members.lookup("n0"), None);
        let again = members.insert(Member::new(id("n0")));
        assert_eq!(members.lookup("n0"), Some(again));
        check(&members);
    }

    #[test]
    fn store_keeps_only_newer_versions_and_counts_live_keys() {
        let mut m = Member::new(id("a"));
        let v = |version, tombstone| VersionedValue { value: Arc::from(&b"x"[..]), version, tombstone };
        assert!(m.store("k", v(2, false)));
        assert!(!m.store("k", v(1, true)));
        assert_eq!(m.live_keys(), 1);
        assert!(m.store("k", v(3, true)));
        assert_eq!(m.live_keys(), 0);
        assert_eq!(m.entries_between(0, 3).len(), 1);
        assert_eq!(m.entries_between(3, 9).len(), 0);
    }

    #[test]
    fn tombstones_are_collected_after_grace_and_raise_last_gc_version() {
        let mut members = Members::new(Member::new(id("me")), 7);
        members.store(SELF_IDX, "k", VersionedValue { value: Arc::from(&[][..]), version: 4, tombstone: true });
        members.schedule_gc(Instant::from_millis(10), SELF_IDX, Arc::from("k"), 4);
        assert_eq!(members.collect_garbage(Instant::from_millis(9)), 0);
        assert_eq!(members.collect_garbage(Instant::from_millis(10)), 1);
        assert!(members.me().keys().is_empty());
        assert_eq!(members.me().last_gc_version(), 4);
    }
}
#[cfg(test)]
mod footprint {
    /// Every node holds one `Member` per cluster member: the simulator runs N^2 of them, so a
    /// larger record directly lowers the largest cluster it can simulate.
    #[test]
    fn member_record_does_not_grow_unnoticed() {
        assert!(std::mem::size_of::<Option<super::Member>>() <= 48, "{}", std::mem::size_of::<super::Member>());
    }
}
