//! Digests: what a node has, without values, sized to fit one datagram.
//!
//! A digest lists `(owner, generation, max_version, heartbeat)` for every owner in one slice of
//! the name-hash space. Small clusters use one slice (the whole membership); larger ones cut the
//! hash space in `2^b` slices with `b` chosen so a slice fits the byte budget, and rotate
//! through the slices exchange by exchange. The receiver knows exactly which owners a slice
//! covers, so an owner of the slice that is missing from the digest is one the sender does not
//! know — discovery keeps working at any size.
//!
//! The checksum XORs a fingerprint of `(owner, generation, max_version)` over the slice: two
//! nodes that agree on it are in sync for that slice and stop after one small message.

use crate::node::Node;
use crate::state::{Member, MemberIdx, in_slice};
use crate::wire::{Digest, DigestEntry, EXPLICIT_DIGEST, MAX_CHECKSUMMED_SLICES, size};

/// Fixed bytes of a digest around its entries (slice bits, slice, checksum, entry count).
const DIGEST_OVERHEAD: usize = 1 + 5 + 10 + 3 + 5;
/// Bytes of an entry besides the name, a generous estimate (generation as a millisecond
/// timestamp, versions and heartbeats of a long-lived node).
const ENTRY_ESTIMATE: usize = 1 + 7 + 3 + 4;

impl Node {
    /// Number of slice bits so that one slice of our membership fits `budget` bytes.
    pub(crate) fn slice_bits_for(&self, budget: usize) -> u8 {
        let per_entry = self.members.average_name_len() + ENTRY_ESTIMATE;
        let per_digest = budget.saturating_sub(DIGEST_OVERHEAD).max(per_entry) / per_entry;
        let mut bits = 0u8;
        // Aim at 3/4 of the budget: hash slices are not perfectly even.
        while bits < 24 && (self.members.len() >> bits) * 4 > per_digest * 3 {
            bits += 1;
        }
        bits
    }

    /// Our digest of slice `slice` out of `2^bits`, truncated to `budget` bytes if a slice is
    /// unusually crowded (a truncated digest only causes redundant data, never missing data).
    pub(crate) fn build_digest(&mut self, bits: u8, slice: u32, budget: usize) -> Digest {
        self.members.sort_by_hash();
        let idxs = self.members.slice(bits, slice);
        let mut digest =
            Digest { slice_bits: bits, slice, entries: Vec::with_capacity(idxs.len()), ..self.empty_digest() };
        let mut used = DIGEST_OVERHEAD;
        for &idx in idxs {
            let Some(m) = self.members.get(idx) else { continue };
            digest.checksum ^= m.fingerprint();
            let len = size::digest_entry(m.id.name.len(), m.id.generation, m.max_version(), u64::from(m.heartbeat));
            if used + len > budget {
                continue;
            }
            used += len;
            digest.entries.push(entry_of(m));
        }
        digest
    }

    /// A digest with no entries that still says how many live members we know.
    pub(crate) fn empty_digest(&self) -> Digest {
        Digest { members: self.advertised_members(), ..Digest::default() }
    }

    /// What our digests and probes say about the size of our membership.
    pub(crate) fn advertised_members(&self) -> u32 {
        u32::try_from(self.live_members()).unwrap_or(u32::MAX)
    }

    /// Our checksum over the slice a received digest covers.
    pub(crate) fn checksum_of(&mut self, bits: u8, slice: u32) -> u64 {
        if let Some(sum) = self.members.bucket_checksum(bits, slice) {
            debug_assert_eq!(sum, self.slow_checksum_of(bits, slice));
            return sum;
        }
        self.slow_checksum_of(bits, slice)
    }

    /// [`Node::checksum_of`] by visiting the slice's members.
    fn slow_checksum_of(&mut self, bits: u8, slice: u32) -> u64 {
        self.members.sort_by_hash();
        let idxs = self.members.slice(bits, slice);
        let mut checksum = 0;
        for idx in idxs {
            if let Some(m) = self.members.get(*idx) {
                checksum ^= m.fingerprint();
            }
        }
        checksum
    }

    /// Low 32 bits of the checksum of each of the `2^bits` slices (`bits` at most 6: past 64
    /// slices the vector would crowd the digest out; see [`checksum_bits`]).
    pub(crate) fn slice_checksums(&mut self, bits: u8) -> Vec<u32> {
        let count = 1usize << bits.min(16);
        if bits == 0 || count > MAX_CHECKSUMMED_SLICES {
            return Vec::new();
        }
        (0..count as u32).map(|slice| self.checksum_of(bits, slice) as u32).collect()
    }

    /// The coarse slices (at the slicing the vector's length implies) whose checksum differs
    /// from ours, given a peer's vector: `(bits, slices)`, no slices if the vector is empty or
    /// malformed.
    pub(crate) fn differing_slices(&mut self, theirs: &[u32]) -> (u8, Vec<u32>) {
        let Some(bits) = vector_bits(theirs.len()) else { return (0, Vec::new()) };
        let ours = self.slice_checksums(bits);
        if ours.len() != theirs.len() {
            return (bits, Vec::new());
        }
        (bits, (0..ours.len() as u32).filter(|s| ours[*s as usize] != theirs[*s as usize]).collect())
    }

    /// A slice of `bits` bits inside coarse slice `coarse` of `coarse_bits` bits: the coarse
    /// slice itself when the slicings agree, else one of its sub-slices in rotation.
    pub(crate) fn slice_within(&mut self, bits: u8, coarse_bits: u8, coarse: u32) -> u32 {
        if bits <= coarse_bits {
            return coarse >> (coarse_bits - bits);
        }
        let sub_bits = (bits - coarse_bits).min(31);
        self.slice_cursor = self.slice_cursor.wrapping_add(1);
        (coarse << sub_bits) | (self.slice_cursor & ((1u32 << sub_bits) - 1))
    }

    /// The next slice to cover: rotates so that every slice is covered in turn.
    pub(crate) fn next_slice(&mut self, bits: u8) -> u32 {
        self.slice_cursor = self.slice_cursor.wrapping_add(1);
        if bits == 0 { 0 } else { self.slice_cursor & ((1u32 << bits.min(31)) - 1) }
    }
}

/// Slice bits of the checksum vector that rides with a digest of `bits` slice bits: the same
/// slicing while it has at most [`MAX_CHECKSUMMED_SLICES`] slices, else that many coarser slices
/// (each covering `2^(bits - 6)` digest slices). Either way an update in any slice travels in
/// the exchange that finds its coarse slice differing.
pub(crate) fn checksum_bits(bits: u8) -> u8 {
    bits.min(MAX_CHECKSUMMED_SLICES.trailing_zeros() as u8)
}

/// Slice bits implied by a checksum vector of `len` entries (a power of two from 2 to
/// [`MAX_CHECKSUMMED_SLICES`]); `None` for anything else.
fn vector_bits(len: usize) -> Option<u8> {
    ((2..=MAX_CHECKSUMMED_SLICES).contains(&len) && len.is_power_of_two()).then(|| len.trailing_zeros() as u8)
}

/// What this node says about `m` in a digest.
pub(crate) fn entry_of(m: &Member) -> DigestEntry {
    DigestEntry {
        name: m.id.name.to_string(),
        generation: m.id.generation,
        max_version: m.max_version(),
        heartbeat: u64::from(m.heartbeat),
    }
}

/// What a peer is known to hold for one owner, from its digest.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PeerHas {
    pub generation: u64,
    pub max_version: u64,
}

/// For each of our members in the digest's slice: what the peer has (None: it does not know
/// the owner). Members whose generation is older than the peer's are skipped: the peer is ahead.
pub(crate) fn compare(node: &mut Node, digest: &Digest) -> Vec<(MemberIdx, Option<PeerHas>)> {
    if digest.slice_bits == EXPLICIT_DIGEST {
        return compare_explicit(node, digest);
    }
    let bits = digest.slice_bits;
    let mut peer: std::collections::HashMap<MemberIdx, PeerHas> = std::collections::HashMap::new();
    for e in &digest.entries {
        if let Some(idx) = node.members.lookup(&e.name) {
            peer.insert(idx, PeerHas { generation: e.generation, max_version: e.max_version });
        }
    }
    node.members.sort_by_hash();
    let idxs = node.members.slice(bits, digest.slice);
    let mut out = Vec::with_capacity(idxs.len());
    for &idx in idxs {
        let Some(m) = node.members.get(idx) else { continue };
        debug_assert!(in_slice(m.hash(), bits, digest.slice));
        match peer.get(&idx) {
            Some(has) if has.generation > m.id.generation => {}
            Some(has) if has.generation == m.id.generation && has.max_version >= m.max_version() => {}
            Some(has) => out.push((idx, Some(*has))),
            None => out.push((idx, None)),
        }
    }
    out
}

/// An explicit digest says nothing about owners it does not name: only named owners we know
/// better are lacking.
fn compare_explicit(node: &Node, digest: &Digest) -> Vec<(MemberIdx, Option<PeerHas>)> {
    let mut out = Vec::new();
    for e in &digest.entries {
        let Some(idx) = node.members.lookup(&e.name) else { continue };
        let Some(m) = node.members.get(idx) else { continue };
        let behind =
            e.generation < m.id.generation || (e.generation == m.id.generation && e.max_version < m.max_version());
        if behind && !out.iter().any(|(i, _)| *i == idx) {
            out.push((idx, Some(PeerHas { generation: e.generation, max_version: e.max_version })));
        }
    }
    out
}

/// How far behind the peer is for `member` (scuttle depth).
pub(crate) fn depth(member: &Member, has: Option<PeerHas>) -> u64 {
    match has {
        Some(h) if h.generation == member.id.generation => member.max_version().saturating_sub(h.max_version),
        _ => member.max_version().saturating_add(1),
    }
}

#[cfg(test)]
mod tests {
    use crate::wire::{Codec, Message, Syn};
    use crate::{Config, Instant, Node, NodeId};

    fn hub(members: usize) -> Node {
        let addr = "10.0.0.1:7946".parse().unwrap();
        let mut n = Node::new(Config::lan(), NodeId::new("hub", 1, addr), vec![], 1, Instant::ZERO).unwrap();
        for i in 0..members {
            n.add_member(Instant::ZERO, NodeId::new(format!("member-{i:05}"), 1_700_000_000_000, addr));
        }
        n
    }

    #[test]
    fn digests_of_large_clusters_fit_one_datagram_and_slices_cover_everyone() {
        for members in [10, 300, 5_000] {
            let mut n = hub(members);
            let budget = 1400 - 9 - 16;
            let bits = n.slice_bits_for(budget);
            let mut covered = 0;
            for slice in 0..(1u32 << bits) {
                let digest = n.build_digest(bits, slice, budget);
                covered += digest.entries.len();
                let syn = Message::Syn(Syn {
                    exchange_id: u32::MAX,
                    push_pull: true,
                    rumor: false,
                    digest,
                    blocks: vec![],
                    updates: vec![],
                    flow: None,
                });
                let len = Codec { cluster_id: 0, max_len: 1400 }.encode(&syn).len();
                assert!(len <= 1400, "{members} members: {len} bytes");
            }
            assert_eq!(covered, members + 1, "every member is in exactly one slice ({members} members, {bits} bits)");
        }
    }

    #[test]
    fn checksums_agree_iff_slices_agree() {
        let mut a = hub(50);
        let mut b = hub(50);
        assert_eq!(a.checksum_of(0, 0), b.checksum_of(0, 0));
        a.set(Instant::ZERO, "k", b"v").unwrap();
        b.set(Instant::ZERO, "other", b"v").unwrap();
        // Same versions (1 each) on an owner named alike: equal; a different history differs.
        assert_eq!(a.checksum_of(0, 0), b.checksum_of(0, 0));
        a.set(Instant::ZERO, "k2", b"v").unwrap();
        assert_ne!(a.checksum_of(0, 0), b.checksum_of(0, 0));
    }
}
