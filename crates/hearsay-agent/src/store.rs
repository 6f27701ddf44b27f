//! What must survive a restart, in a redb database in the data directory: the generation, the
//! node's own keys with their versions and the `max_version`, and the peers seen.
//!
//! The generation handed to the protocol must be strictly larger than any earlier one of this
//! node, or peers would keep its stale state: [`Store::begin_generation`] reads, bumps and writes
//! it before anything else. Own keys are written with their version and only ever replaced by a
//! newer version, so a write persisted by the HTTP handler and the same write seen again as an
//! event (or an older event arriving late) cannot resurrect a deleted key; deletes are kept as
//! tombstones until the next start, when they are pruned (a new generation makes them moot).
//!
//! The store owns the database file and nothing else; it does not talk to the cluster.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use hearsay_core::NodeId;
use redb::{Database, ReadableTable, TableDefinition};

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys");
const PEERS: TableDefinition<&str, &str> = TableDefinition::new("peers");

const GENERATION: &str = "generation";
const MAX_VERSION: &str = "max_version";
const SCHEMA: &str = "schema";
const SCHEMA_VERSION: u64 = 1;

/// File name of the database inside the data directory.
pub(crate) const FILE_NAME: &str = "hearsay.redb";

/// One own key as persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredKey {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Vec<u8>,
    /// The version this node gave it.
    pub version: u64,
    /// When it expires (Unix milliseconds), for keys written with a TTL.
    pub expires_at_ms: Option<u64>,
}

/// Everything loaded at start.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Persisted {
    /// Live own keys.
    pub keys: Vec<StoredKey>,
    /// Highest version this node ever gave.
    pub max_version: u64,
    /// Peers seen, by name.
    pub peers: Vec<NodeId>,
}

/// A record in the keys table: flags (bit 0: tombstone), version, expiry (0: none), value.
fn encode_record(version: u64, tombstone: bool, expires_at_ms: Option<u64>, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(17 + value.len());
    out.push(u8::from(tombstone));
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&expires_at_ms.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(value);
    out
}

struct Record<'a> {
    version: u64,
    tombstone: bool,
    expires_at_ms: Option<u64>,
    value: &'a [u8],
}

fn decode_record(bytes: &[u8]) -> Option<Record<'_>> {
    let flags = *bytes.first()?;
    let version = u64::from_le_bytes(bytes.get(1..9)?.try_into().ok()?);
    let expires = u64::from_le_bytes(bytes.get(9..17)?.try_into().ok()?);
    Some(Record {
        version,
        tombstone: flags & 1 == 1,
        expires_at_ms: (expires != 0).then_some(expires),
        value: bytes.get(17..)?,
    })
}

/// The agent's persistent state.
#[derive(Debug)]
pub(crate) struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Opens (or creates) the store in `dir`. Fails with a message naming the file if it is
    /// unreadable, corrupt, of another format or in use by another process.
    pub(crate) fn open(dir: &Path) -> anyhow::Result<Store> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        let path = dir.join(FILE_NAME);
        let db = Database::create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                anyhow!("the store {} is in use by another process (another agent with this data dir?)", path.display())
            }
            e => anyhow!("cannot open the store {}: {e} (move the file away to start afresh)", path.display()),
        })?;
        let store = Store { db, path };
        store.init().with_context(|| format!("cannot initialise the store {}", store.path.display()))?;
        Ok(store)
    }

    /// Path of the database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn init(&self) -> anyhow::Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let schema = meta.get(SCHEMA)?.map(|v| v.value());
            match schema {
                None => {
                    meta.insert(SCHEMA, SCHEMA_VERSION)?;
                }
                Some(SCHEMA_VERSION) => {}
                Some(other) => bail!("schema version {other} is not supported (this build reads {SCHEMA_VERSION})"),
            }
            txn.open_table(KEYS)?;
            txn.open_table(PEERS)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Reads the last generation, stores and returns `max(last + 1, now_ms)`: strictly larger than
    /// any earlier one, and close to wall-clock time so a lost store still moves forward.
    pub(crate) fn begin_generation(&self, now_ms: u64) -> anyhow::Result<u64> {
        let txn = self.db.begin_write()?;
        let generation;
        {
            let mut meta = txn.open_table(META)?;
            let last = meta.get(GENERATION)?.map(|v| v.value()).unwrap_or(0);
            generation = last.saturating_add(1).max(now_ms);
            meta.insert(GENERATION, generation)?;
        }
        txn.commit()?;
        Ok(generation)
    }

    /// Loads own keys, `max_version` and peers, pruning tombstones (see the module docs).
    pub(crate) fn load(&self) -> anyhow::Result<Persisted> {
        let mut out = Persisted::default();
        let txn = self.db.begin_write()?;
        {
            let meta = txn.open_table(META)?;
            out.max_version = meta.get(MAX_VERSION)?.map(|v| v.value()).unwrap_or(0);
            let mut keys = txn.open_table(KEYS)?;
            let mut dead = Vec::new();
            for item in keys.iter()? {
                let (key, record) = item?;
                let key = key.value().to_string();
                let Some(record) = decode_record(record.value()) else {
                    bail!("the record of key `{key}` is corrupt");
                };
                if record.tombstone {
                    dead.push(key);
                    continue;
                }
                out.max_version = out.max_version.max(record.version);
                out.keys.push(StoredKey {
                    key,
                    value: record.value.to_vec(),
                    version: record.version,
                    expires_at_ms: record.expires_at_ms,
                });
            }
            for key in dead {
                keys.remove(key.as_str())?;
            }
            let peers = txn.open_table(PEERS)?;
            for item in peers.iter()? {
                let (name, json) = item?;
                let id: NodeId = serde_json::from_str(json.value())
                    .with_context(|| format!("the record of peer `{}` is corrupt", name.value()))?;
                out.peers.push(id);
            }
        }
        txn.commit()?;
        Ok(out)
    }

    /// Records an own write (or, with `value = None`, a delete) at `version`, unless the store
    /// already holds that key at the same or a newer version. Returns whether it was written.
    pub(crate) fn record_key(
        &self,
        key: &str,
        value: Option<&[u8]>,
        version: u64,
        expires_at_ms: Option<u64>,
    ) -> anyhow::Result<bool> {
        let txn = self.db.begin_write()?;
        let written;
        {
            let mut keys = txn.open_table(KEYS)?;
            let current = keys.get(key)?.and_then(|r| decode_record(r.value()).map(|r| r.version));
            written = current.is_none_or(|v| v < version);
            if written {
                let record = encode_record(version, value.is_none(), expires_at_ms, value.unwrap_or_default());
                keys.insert(key, record.as_slice())?;
            }
            let mut meta = txn.open_table(META)?;
            let max = meta.get(MAX_VERSION)?.map(|v| v.value()).unwrap_or(0);
            if version > max {
                meta.insert(MAX_VERSION, version)?;
            }
        }
        txn.commit()?;
        Ok(written)
    }

    /// Remembers `seen` and forgets `gone` in one transaction (one fsync for a whole batch of
    /// membership events, as when joining a large cluster).
    pub(crate) fn update_peers(&self, seen: &[NodeId], gone: &[&str]) -> anyhow::Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut peers = txn.open_table(PEERS)?;
            for id in seen {
                let json = serde_json::to_string(id)?;
                peers.insert(&*id.name, json.as_str())?;
            }
            for name in gone {
                peers.remove(*name)?;
            }
        }
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hearsay-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn generation_always_grows() {
        let dir = temp_dir("gen");
        let store = Store::open(&dir).unwrap();
        let first = store.begin_generation(1000).unwrap();
        assert_eq!(first, 1000);
        // The clock went backwards: the stored generation still wins.
        let second = store.begin_generation(5).unwrap();
        assert_eq!(second, 1001);
        drop(store);
        let store = Store::open(&dir).unwrap();
        assert_eq!(store.begin_generation(0).unwrap(), 1002);
        assert_eq!(store.begin_generation(9999).unwrap(), 9999);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn keys_survive_reopen_and_newer_versions_win() {
        let dir = temp_dir("keys");
        let store = Store::open(&dir).unwrap();
        assert!(store.record_key("a", Some(b"1"), 3, None).unwrap());
        assert!(store.record_key("b", Some(b"x"), 4, Some(42)).unwrap());
        assert!(store.record_key("a", None, 5, None).unwrap());
        // A late, older event for `a` must not bring it back.
        assert!(!store.record_key("a", Some(b"1"), 3, None).unwrap());
        assert!(store.record_key("c", Some(&[0xff, 0]), 6, None).unwrap());
        drop(store);
        let store = Store::open(&dir).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.max_version, 6);
        let keys: Vec<_> = loaded.keys.iter().map(|k| (k.key.as_str(), k.value.clone(), k.version)).collect();
        assert_eq!(keys, vec![("b", b"x".to_vec(), 4), ("c", vec![0xff, 0], 6)]);
        assert_eq!(loaded.keys[0].expires_at_ms, Some(42));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn peers_are_remembered_and_forgotten() {
        let dir = temp_dir("peers");
        let store = Store::open(&dir).unwrap();
        let a = NodeId::new("a", 7, "127.0.0.1:1".parse().unwrap());
        let b = NodeId::new("b", 8, "127.0.0.1:2".parse().unwrap());
        store.update_peers(&[a.clone(), b.clone()], &[]).unwrap();
        let c = NodeId::new("c", 9, "127.0.0.1:3".parse().unwrap());
        let b2 = NodeId::new("b", 10, "127.0.0.1:4".parse().unwrap());
        store.update_peers(&[c.clone(), b2.clone()], &["a"]).unwrap();
        drop(store);
        let store = Store::open(&dir).unwrap();
        assert_eq!(store.load().unwrap().peers, vec![b2, c]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn corrupt_file_is_a_clear_error() {
        let dir = temp_dir("corrupt");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(FILE_NAME), vec![0x42; 4096]).unwrap();
        let err = Store::open(&dir).unwrap_err();
        assert!(err.to_string().contains("cannot open the store"), "{err:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
