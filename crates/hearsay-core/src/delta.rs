//! Deltas: building blocks of missing versions within a byte budget, and applying them.
//!
//! # Why the order matters
//!
//! A receiver may raise its `max_version` for an owner only when a block continues what it has
//! with no gap; otherwise `max_version` would promise versions it never received, and they
//! would never be sent again. So each block holds one owner's versions in ascending order,
//! starting right after what the peer has, and a block cut by the budget ends at the last
//! version it holds. Owners are served in scuttle-depth order (most missing versions first, as
//! in van Renesse et al.), so under a tight MTU the peers furthest behind catch up first and no
//! owner starves.
//!
//! A peer behind a garbage-collected tombstone (its `max_version` is below the owner's
//! `last_gc_version`) cannot be patched: it might still hold a key whose delete was forgotten.
//! It gets the owner's whole map from version 0 and replaces its replica.

use std::sync::Arc;

use crate::Instant;
use crate::digest::{PeerHas, depth};
use crate::event::Event;
use crate::node::Node;
use crate::state::{GC_OVERHEAD, LEFT_KEY, Member, MemberIdx, MemberStatus, SELF_IDX, VersionedValue, entry_cost};
use crate::wire::{Block, WireEntry, WireNodeId, size};

/// How many of `block`'s entries, applied in order to `m`'s replica (emptied first for a
/// `reset`), keep the owner within its key and byte limits and the node within its replica
/// budget; and the limit that stopped the rest, if one did. Only growth is refused: an entry
/// that shrinks or keeps what an over-limit replica holds is always taken. A tombstone is also
/// charged for its pending collection.
fn within_limits(
    m: &Member,
    reset: bool,
    total: usize,
    limits: &crate::Limits,
    block: &Block,
) -> (usize, Option<&'static str>) {
    let (mut live, mut live_bytes, mut total) =
        if reset { (0, 0, total - m.bytes()) } else { (m.live_keys(), m.live_bytes(), total) };
    for (i, e) in block.entries.iter().enumerate() {
        let held = if reset { None } else { m.keys().get(e.key.as_str()) };
        if held.is_some_and(|h| h.version >= e.version) {
            continue;
        }
        let key = e.key.len();
        let (old_live, old_bytes, old_cost) = match held {
            Some(h) if !h.tombstone => (1, key + h.value.len(), entry_cost(key, h.value.len())),
            Some(h) => (0, 0, entry_cost(key, h.value.len())),
            None => (0, 0, 0),
        };
        let (new_live, new_bytes, new_cost) = match &e.value {
            Some(v) => (1, key + v.len(), entry_cost(key, v.len())),
            None => (0, 0, entry_cost(key, 0) + key + GC_OVERHEAD),
        };
        live = live - old_live + new_live;
        live_bytes = live_bytes - old_bytes + new_bytes;
        total = total - old_cost + new_cost;
        if new_live > old_live && live > limits.max_keys_per_node {
            return (i, Some("owner_key_limit"));
        }
        if new_bytes > old_bytes && live_bytes > limits.max_bytes_per_node {
            return (i, Some("owner_byte_limit"));
        }
        if new_cost > old_cost && total > limits.max_replica_bytes {
            return (i, Some("replica_budget"));
        }
    }
    (block.entries.len(), None)
}

/// Encoded size of a block.
pub(crate) fn block_size(b: &Block) -> usize {
    size::block_head(
        b.owner.name.len(),
        b.owner.generation,
        &b.owner.addr,
        b.heartbeat,
        b.from_version,
        b.to_version,
        b.last_gc_version,
        b.entries.len(),
    ) + b.entries.iter().map(|e| size::entry(e.key.len(), e.version, e.value.as_ref().map(Vec::len))).sum::<usize>()
}

fn generation_of(members: &crate::state::Members, idx: MemberIdx) -> u64 {
    members.get(idx).map_or(0, |m| m.id.generation)
}

/// Outcome of applying one block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Applied {
    /// Nothing new: the receiver already had all of it.
    Known,
    /// Something new was stored.
    New,
    /// Rejected (invalid, about ourselves, stale generation, forgotten or over a limit).
    Ignored,
}

/// What a set of blocks would cost.
pub(crate) struct Plan {
    /// Candidates in scuttle-depth order with the version to start after.
    pub items: Vec<(MemberIdx, u64, bool)>,
    /// Bytes of everything missing.
    pub total_bytes: usize,
    /// Largest single block if it had to travel whole (a reset) or largest single entry.
    pub largest_unit: usize,
}

fn block_head(m: &Member, from: u64, to: u64, count: usize) -> usize {
    size::block_head(
        m.id.name.len(),
        m.id.generation,
        &m.id.addr,
        u64::from(m.heartbeat),
        from,
        to,
        m.last_gc_version(),
        count,
    )
}

fn entry_size(key: &str, v: &VersionedValue) -> usize {
    size::entry(key.len(), v.version, (!v.tombstone).then_some(v.value.len()))
}

impl Node {
    /// Orders what the peer lacks by scuttle depth and sizes it.
    pub(crate) fn plan(&self, mut lacking: Vec<(MemberIdx, Option<PeerHas>)>) -> Plan {
        lacking.sort_by_key(|(idx, has)| {
            let d = self.members.get(*idx).map_or(0, |m| depth(m, *has));
            (std::cmp::Reverse(d), *idx)
        });
        let mut plan = Plan { items: Vec::with_capacity(lacking.len()), total_bytes: 0, largest_unit: 0 };
        for (idx, has) in lacking {
            let Some(m) = self.members.get(idx) else { continue };
            let (from, reset) = match has {
                Some(h) if h.generation == m.id.generation && h.max_version >= m.last_gc_version() => {
                    (h.max_version, false)
                }
                Some(h) if h.generation == m.id.generation => (0, true),
                _ => (0, m.last_gc_version() > 0),
            };
            let mut bytes = block_head(m, from, m.max_version(), 0) + 3;
            let mut largest = 0;
            for (k, v) in m.keys().iter().filter(|(_, v)| v.version > from) {
                let e = entry_size(k, v);
                largest = largest.max(e);
                bytes += e;
            }
            let unit = if reset { bytes } else { largest + block_head(m, from, m.max_version(), 1) };
            plan.largest_unit = plan.largest_unit.max(unit);
            plan.total_bytes += bytes;
            plan.items.push((idx, from, reset));
        }
        plan
    }

    /// Blocks for `plan` within `budget` bytes. Returns the blocks and whether something did
    /// not fit.
    pub(crate) fn build_blocks(&self, plan: &Plan, mut budget: usize) -> (Vec<Block>, bool) {
        let mut blocks = Vec::new();
        let mut overflow = false;
        budget = budget.saturating_sub(3); // block count prefix
        for &(idx, from, reset) in &plan.items {
            let Some(m) = self.members.get(idx) else { continue };
            match self.block_for(m, from, m.max_version(), reset, budget) {
                Some((block, used, complete)) => {
                    budget -= used;
                    overflow |= !complete;
                    blocks.push(block);
                }
                None => overflow = true,
            }
            if budget < 32 {
                overflow |= blocks.len() < plan.items.len();
                break;
            }
        }
        (blocks, overflow)
    }

    /// One block of `m`'s versions in `(from, to]` within `budget`; `None` if not even the
    /// head and one entry fit, or if a reset block would be cut.
    pub(crate) fn block_for(
        &self,
        m: &Member,
        from: u64,
        to: u64,
        reset: bool,
        budget: usize,
    ) -> Option<(Block, usize, bool)> {
        let entries = m.entries_between(from, to);
        let head = block_head(m, from, to, entries.len());
        if head > budget {
            return None;
        }
        let mut used = head;
        let mut wire = Vec::with_capacity(entries.len());
        let mut last = from;
        for (k, v) in &entries {
            let e = entry_size(k, v);
            if used + e > budget {
                break;
            }
            used += e;
            last = v.version;
            wire.push(WireEntry {
                key: k.to_string(),
                version: v.version,
                value: (!v.tombstone).then(|| v.value.to_vec()),
            });
        }
        let complete = wire.len() == entries.len();
        if !complete && (reset || wire.is_empty()) {
            return None;
        }
        let block = Block {
            owner: WireNodeId { name: m.id.name.to_string(), generation: m.id.generation, addr: m.id.addr },
            heartbeat: u64::from(m.heartbeat),
            from_version: from,
            to_version: if complete { to } else { last },
            last_gc_version: m.last_gc_version(),
            entries: wire,
        };
        Some((block, used, complete))
    }

    /// What all replicas, this node's own keys included, and the pending garbage collections
    /// are charged against `limits.max_replica_bytes` (an estimate of their memory).
    pub fn replica_bytes(&self) -> usize {
        self.members.bytes()
    }

    /// Applies received blocks in order; one outcome per block.
    pub(crate) fn apply_blocks(&mut self, now: Instant, blocks: &[Block]) -> Vec<Applied> {
        blocks
            .iter()
            .map(|b| {
                let applied = self.apply_block(now, b);
                if !b.entries.is_empty() {
                    self.stats.payload_blocks += 1;
                    self.stats.payload_duplicates += u64::from(applied == Applied::Known);
                }
                applied
            })
            .collect()
    }

    fn valid(&self, block: &Block) -> bool {
        let limits = &self.config.limits;
        // An owner's map holds each key once, so a block built from it does too; a block that
        // repeats a key would defeat the limit checks, which look at each key's held value.
        let mut keys = std::collections::HashSet::with_capacity(block.entries.len());
        if !block.entries.iter().all(|e| keys.insert(e.key.as_str())) {
            return false;
        }
        if block.owner.name.is_empty()
            || block.owner.name.len() > limits.max_key_bytes
            || block.from_version > block.to_version
        {
            return false;
        }
        let mut prev = block.from_version;
        for e in &block.entries {
            if e.version <= prev
                || e.version > block.to_version
                || e.key.is_empty()
                || e.key.len() > limits.max_key_bytes
            {
                return false;
            }
            if e.value.as_ref().is_some_and(|v| v.len() > limits.max_value_bytes) {
                return false;
            }
            prev = e.version;
        }
        // The number of entries is not checked here: a legitimate block may carry tombstones
        // besides the live keys, and `within_limits` bounds what is stored.
        true
    }

    fn apply_block(&mut self, now: Instant, block: &Block) -> Applied {
        if !self.valid(block) {
            self.stats.count_drop("invalid_block");
            return Applied::Ignored;
        }
        let owner = &block.owner;
        let mut created = false;
        let idx = match self.members.lookup(&owner.name) {
            Some(SELF_IDX) => {
                self.own_name_claimed(now, owner.generation, owner.addr, crate::wire::WireStatus::Alive);
                return Applied::Ignored;
            }
            Some(idx) => idx,
            None => {
                if self.refuses_forgotten(owner.name.as_str(), owner.generation, Some(block.heartbeat)) {
                    return Applied::Ignored;
                }
                if self.members.len() >= self.config.limits.max_members {
                    self.stats.count_drop("member_limit");
                    return Applied::Ignored;
                }
                let id = crate::NodeId::new(owner.name.as_str(), owner.generation, owner.addr);
                self.forgotten.remove(owner.name.as_str());
                let idx = self.members.insert(Member::new(id.clone()));
                self.push_event(Event::MemberJoined(id));
                created = true;
                idx
            }
        };
        let Some(m) = self.members.get(idx) else { return Applied::Ignored };
        if owner.generation < m.id.generation {
            return Applied::Ignored;
        }
        if owner.generation > m.id.generation {
            if !self.admit_generation(now, idx, owner.generation, owner.addr) {
                return Applied::Ignored;
            }
            // A restart: everything about the old generation goes.
            let id = crate::NodeId::new(owner.name.as_str(), owner.generation, owner.addr);
            self.rumors.forget_member(idx);
            self.members.reset(idx, id.clone());
            self.push_event(Event::MemberJoined(id));
            created = true;
        }
        self.heartbeat(now, idx, block.heartbeat);
        if created && !self.applying_bulk {
            self.announce_member(idx);
        }

        let grace = self.config.tombstone_grace;
        let total = self.members.bytes();
        let Some(m) = self.members.get(idx) else { return Applied::Ignored };
        let before = m.max_version();
        if block.to_version <= before && before >= block.last_gc_version && !created {
            return Applied::Known;
        }
        let contiguous = block.from_version <= before;
        let reset = before < block.last_gc_version;
        let advance =
            if reset { block.from_version == 0 && block.to_version >= block.last_gc_version } else { contiguous };
        if !advance {
            // A block that does not continue the replica is dropped whole: storing its entries
            // would put versions above max_version into the replica, and blocks built from it
            // for a lower range would then silently omit those keys.
            if created {
                self.advanced(idx, generation_of(&self.members, idx), 0, 0);
                return Applied::New;
            }
            return Applied::Ignored;
        }
        let (fit, over) = within_limits(m, reset, total, &self.config.limits, block);
        if let Some(reason) = over {
            self.stats.count_drop(reason);
        }
        // A cut block still raises max_version truthfully: every version up to its last
        // stored entry is stored or superseded. A reset block replaces the replica, so it is
        // taken whole or not at all.
        if fit < block.entries.len() && (fit == 0 || reset) {
            if created {
                self.advanced(idx, generation_of(&self.members, idx), 0, 0);
                return Applied::New;
            }
            return Applied::Ignored;
        }
        let entries = &block.entries[..fit];
        let to_version = if fit == block.entries.len() { block.to_version } else { entries[fit - 1].version };
        if reset {
            self.members.clear_keys(idx);
        }
        let mut changed: Vec<(Arc<str>, VersionedValue)> = Vec::new();
        for e in entries {
            let value = VersionedValue {
                value: Arc::from(e.value.as_deref().unwrap_or_default()),
                version: e.version,
                tombstone: e.value.is_none(),
            };
            if self.members.store(idx, &e.key, value.clone()) {
                changed.push((Arc::from(e.key.as_str()), value));
            }
        }
        let Some(m) = self.members.get_mut(idx) else { return Applied::Ignored };
        let generation = m.id.generation;
        if block.last_gc_version > m.last_gc_version() {
            m.cold_mut().last_gc_version = block.last_gc_version;
        }
        let after = m.max_version().max(to_version);
        let id = crate::NodeId::clone(&m.id);
        let newly_left =
            changed.iter().any(|(k, v)| &**k == LEFT_KEY && !v.tombstone) && m.status != MemberStatus::Left;
        if newly_left {
            m.set_status(MemberStatus::Left, now);
        }
        self.members.raise_max_version(idx, after);
        self.stats.entries_applied += changed.len() as u64;
        for (key, value) in changed {
            if value.tombstone {
                self.members.schedule_gc(now + grace, idx, key.clone(), value.version);
            }
            if &*key == crate::keys::KEYRING_KEY && !value.tombstone {
                let origin = id.name.clone();
                self.keyring_published(&origin, &value.value);
                continue;
            }
            if &*key == crate::tags::TAGS_KEY && !value.tombstone {
                self.tags_published(id.clone(), &value.value);
                continue;
            }
            if key.starts_with(crate::state::RESERVED_PREFIX) {
                continue;
            }
            self.push_event(Event::KeyChanged {
                owner: id.clone(),
                key,
                value: (!value.tombstone).then_some(value.value),
                version: value.version,
            });
        }
        if newly_left {
            self.watch.push(idx);
            self.push_event(Event::MemberLeft(id));
        }
        if after > before || created {
            // A new member is news too: its existence spreads as a rumor.
            self.advanced(idx, generation, before, after);
            Applied::New
        } else if entries.is_empty() {
            Applied::Known
        } else {
            Applied::New
        }
    }

    /// A heartbeat value for member `idx` was seen. Not a sign of life for the detector: a
    /// heartbeat learned through gossip may be many seconds old.
    pub(crate) fn heartbeat(&mut self, _now: Instant, idx: MemberIdx, heartbeat: u64) {
        if idx == SELF_IDX {
            return;
        }
        let Some(m) = self.members.get_mut(idx) else { return };
        if heartbeat <= u64::from(m.heartbeat) {
            return;
        }
        m.heartbeat = u32::try_from(heartbeat).unwrap_or(u32::MAX);
    }
}

#[cfg(test)]
#[path = "delta_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "delta_limits_tests.rs"]
mod limits_tests;
