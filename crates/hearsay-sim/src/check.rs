//! Invariant checkers, run throughout a simulation and at its end.
//!
//! The checker owns what it has seen of every replica and judges it against the write
//! [`Model`]; it never changes a node. Invariants:
//!
//! * **versions only grow**: per replica and owner, `(generation, max_version)` never goes
//!   back (a new generation resets `max_version` legitimately); per key, the version held
//!   never goes back.
//! * **no fabricated, deleted or older-generation value**: every live value a replica holds
//!   was written by that owner's generation at that version (model lookup); and a replica's
//!   `max_version` is truthful: every write at or below it is there (a value older than a
//!   write or delete at or below `max_version` is a stale or resurrected value).
//!   Exception, counted apart as an *anomaly*: a key the owner rewrote above that
//!   `max_version` may be missing or older for a while (a sender that stored the newer write out
//!   of order leaves the key out of blocks for lower ranges); it heals with the next delta.
//! * **convergence** (once faults stop): every live replica holds, for every live owner, that
//!   owner's current generation and exactly the map the model says it wrote.
//! * **everyone alive** (after a partition heals, [`all_alive`]): every live, unpaused node
//!   sees every other live node as alive, not suspect or dead.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::model::Model;
use crate::sim::Sim;

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which invariant: `versions_only_grow`, `no_resurrection`, `max_version_truthful`,
    /// `convergence`.
    pub invariant: &'static str,
    /// Virtual time (µs) of the check that saw it.
    pub time_us: u64,
    /// What exactly was seen.
    pub detail: String,
}

#[derive(Clone, Copy, Debug)]
struct Seen {
    generation: u64,
    max_version: u64,
    forgotten: bool,
}

/// The continuous checker. Feed it the simulation with [`Checker::check`] as often as wanted.
#[derive(Debug, Default)]
pub struct Checker {
    /// (replica slot, replica generation, owner) -> last seen.
    seen: HashMap<(usize, u64, Arc<str>), Seen>,
    /// (replica slot, replica generation, owner, owner generation, key) -> version.
    keys: HashMap<(usize, u64, Arc<str>, u64, String), u64>,
    /// Broken invariants found so far (the first few hundred).
    pub violations: Vec<Violation>,
    /// Replica views examined.
    pub checks: u64,
    /// Replica views that, below their `max_version`, lacked or held an older value of a key
    /// the owner later rewrote above it (see the module docs): counted, not a failure.
    pub anomalies: u64,
    /// The first few anomalies.
    pub anomaly_examples: Vec<Violation>,
}

const MAX_VIOLATIONS: usize = 200;

impl Checker {
    fn fail(&mut self, invariant: &'static str, time_us: u64, detail: String) {
        if self.violations.len() < MAX_VIOLATIONS {
            self.violations.push(Violation { invariant, time_us, detail });
        }
    }

    /// Checks every running, unpaused replica's view of every slot's owner against what was
    /// seen before and against `model`.
    pub fn check(&mut self, sim: &Sim, model: &Model) {
        let now = sim.now();
        let owners: Vec<(Arc<str>, u64)> = sim.slots().iter().map(|s| (s.name.clone(), s.generation)).collect();
        for (r, slot) in sim.slots().iter().enumerate() {
            let Some(node) = slot.node.as_ref() else { continue };
            if slot.is_paused() {
                continue;
            }
            let replica_gen = node.id().generation;
            for (owner, owner_latest) in &owners {
                self.checks += 1;
                let key = (r, replica_gen, owner.clone());
                let Some(info) = node.member(owner) else {
                    if let Some(seen) = self.seen.get_mut(&key) {
                        seen.forgotten = true;
                    }
                    continue;
                };
                let (generation, max_version) = (info.id.generation, info.max_version);
                if generation > *owner_latest {
                    self.fail(
                        "no_resurrection",
                        now,
                        format!("{} holds {owner} generation {generation}, never started", slot.name),
                    );
                }
                if let Some(seen) = self.seen.get(&key).copied() {
                    let back = generation < seen.generation
                        || (generation == seen.generation && max_version < seen.max_version && !seen.forgotten);
                    if back {
                        self.fail(
                            "versions_only_grow",
                            now,
                            format!(
                                "{}'s replica of {owner} went from generation {} max_version {} to generation \
                                 {generation} max_version {max_version}",
                                slot.name, seen.generation, seen.max_version
                            ),
                        );
                    }
                }
                self.seen.insert(key, Seen { generation, max_version, forgotten: false });
                self.check_values(sim, model, r, replica_gen, owner, generation, max_version);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check_values(
        &mut self,
        sim: &Sim,
        model: &Model,
        r: usize,
        replica_gen: u64,
        owner: &Arc<str>,
        generation: u64,
        max_version: u64,
    ) {
        let now = sim.now();
        let Some(node) = sim.node(r) else { return };
        let name = &sim.slots()[r].name;
        let empty = Default::default();
        let writes = model.generation(owner, generation).unwrap_or(&empty);
        let Some(held) = node.keys(owner) else { return };
        let held: Vec<(String, u64, Vec<u8>)> =
            held.map(|(k, v)| (k.to_string(), v.version, v.value.to_vec())).collect();
        for (k, version, value) in &held {
            let written = writes.writes.get(version);
            if written.is_none_or(|w| w.key != *k || w.value.as_deref() != Some(value.as_slice())) {
                self.fail(
                    "no_resurrection",
                    now,
                    format!(
                        "{name} holds {owner}#{generation} {k}={} at version {version}, which that owner never \
                         wrote (model: {written:?})",
                        String::from_utf8_lossy(value)
                    ),
                );
            }
            let key = (r, replica_gen, owner.clone(), generation, k.clone());
            if let Some(prev) = self.keys.insert(key, *version)
                && prev > *version
            {
                self.fail(
                    "versions_only_grow",
                    now,
                    format!("{name}'s {owner}#{generation} {k} went from version {prev} back to {version}"),
                );
            }
        }
        // max_version is a promise: everything written up to it is here. A key the owner
        // rewrote above max_version may be missing or older: a sender that stored the newer
        // write out of order leaves it out of blocks covering lower ranges (an anomaly that
        // heals, counted apart); otherwise a missing or older value breaks the promise.
        let expected = writes.map_at(max_version);
        for (k, (w, _)) in &expected {
            let superseded = writes.written_after(k, max_version);
            let detail = match held.iter().find(|(hk, _, _)| hk == k) {
                Some((_, v, _)) if v >= w => continue,
                Some((_, v, _)) => format!(
                    "{name} holds {owner}#{generation} {k} at version {v}, but claims max_version {max_version} \
                     which includes version {w}"
                ),
                None if writes.writes.range(w + 1..).any(|(_, x)| x.key == **k && x.value.is_none()) => continue,
                None => format!(
                    "{name} lacks {owner}#{generation} {k} (version {w}) although its max_version is {max_version}"
                ),
            };
            if superseded {
                self.anomaly(now, detail);
            } else {
                self.fail("max_version_truthful", now, detail);
            }
        }
        for (k, v, _) in &held {
            if *v <= max_version && !expected.contains_key(k.as_str()) {
                let detail = format!(
                    "{name} holds {owner}#{generation} {k} at version {v}, deleted at or below max_version {max_version}"
                );
                if writes.written_after(k, max_version) {
                    self.anomaly(now, detail);
                } else {
                    self.fail("no_resurrection", now, detail);
                }
            }
        }
    }

    fn anomaly(&mut self, time_us: u64, detail: String) {
        self.anomalies += 1;
        if self.anomaly_examples.len() < 5 {
            self.anomaly_examples.push(Violation { invariant: "stale_below_max_version", time_us, detail });
        }
    }
}

/// Whether every live replica holds every live owner's current generation and exactly the
/// map `model` says that owner wrote. Returns the first difference.
pub fn converged(sim: &Sim, model: &Model) -> Result<(), Violation> {
    let now = sim.now();
    let fail = |detail: String| Err(Violation { invariant: "convergence", time_us: now, detail });
    let owners: Vec<_> = sim.slots().iter().filter(|s| s.is_live()).collect();
    for replica in sim.slots().iter().filter(|s| s.is_live() && !s.is_paused()) {
        let Some(node) = replica.node.as_ref() else { continue };
        for owner in &owners {
            let Some(info) = node.member(&owner.name) else {
                return fail(format!("{} does not know {}", replica.name, owner.name));
            };
            if info.id.generation != owner.generation {
                return fail(format!(
                    "{} holds {} generation {}, the owner runs generation {}",
                    replica.name, owner.name, info.id.generation, owner.generation
                ));
            }
            let empty = Default::default();
            let expected: Vec<(String, u64, Vec<u8>)> = model
                .generation(&owner.name, owner.generation)
                .unwrap_or(&empty)
                .map()
                .into_iter()
                .map(|(k, (v, value))| (k.to_string(), v, value.to_vec()))
                .collect();
            let held: Vec<(String, u64, Vec<u8>)> = node
                .keys(&owner.name)
                .map(|it| it.map(|(k, v)| (k.to_string(), v.version, v.value.to_vec())).collect())
                .unwrap_or_default();
            if held != expected {
                return fail(format!(
                    "{}'s replica of {}#{} differs from the model: holds {} keys, model has {} (first difference: {:?})",
                    replica.name,
                    owner.name,
                    owner.generation,
                    held.len(),
                    expected.len(),
                    first_difference(&held, &expected)
                ));
            }
        }
    }
    Ok(())
}

/// Every live, unpaused node sees every other live node alive (the liveness half of healing:
/// members declared dead across a partition must be alive again).
pub fn all_alive(sim: &Sim) -> Result<(), Violation> {
    let live: Vec<_> = sim.slots().iter().filter(|s| s.is_live()).collect();
    for observer in live.iter().filter(|s| !s.is_paused()) {
        let Some(node) = observer.node.as_ref() else { continue };
        for subject in live.iter().filter(|s| s.name != observer.name) {
            let status = node.member(&subject.name).filter(|m| m.id.generation == subject.generation).map(|m| m.status);
            if status != Some(hearsay_core::MemberStatus::Alive) {
                return Err(Violation {
                    invariant: "all_alive",
                    time_us: sim.now(),
                    detail: format!("{} sees {}#{} as {:?}", observer.name, subject.name, subject.generation, status),
                });
            }
        }
    }
    Ok(())
}

fn first_difference(held: &[(String, u64, Vec<u8>)], expected: &[(String, u64, Vec<u8>)]) -> String {
    for i in 0..held.len().max(expected.len()) {
        let (h, e) = (held.get(i), expected.get(i));
        if h != e {
            let show = |x: Option<&(String, u64, Vec<u8>)>| {
                x.map_or("nothing".to_string(), |(k, v, val)| format!("{k}@{v}={}", String::from_utf8_lossy(val)))
            };
            return format!("held {} vs model {}", show(h), show(e));
        }
    }
    String::new()
}
