//! Cluster keys at runtime: sealing and opening packets, and rotating keys by gossip.
//!
//! A key change made on one node (install, use, remove) is published as that node's reserved
//! `__keyring` entry, stamped with an epoch one above the highest seen. Every node with
//! encryption enabled adopts the keyring with the highest `(epoch, origin name)`, so all nodes
//! converge on the same keyring with no extra protocol: the change travels in the encrypted
//! gossip it protects. Reserved keys are never shown to applications.

use std::sync::Arc;

use crate::event::Event;
use crate::node::Node;
use crate::wire::DecodeError;
use crate::wire::crypto::{KEY_LEN, Key, KeyError, Keyring, SEAL_OVERHEAD, open};
use crate::{Instant, WriteError};

/// The reserved key that carries a node's published keyring.
pub(crate) const KEYRING_KEY: &str = "__keyring";

fn encode(epoch: u64, ring: &Keyring) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + ring.keys().len() * KEY_LEN);
    out.extend_from_slice(&epoch.to_be_bytes());
    for key in ring.keys() {
        out.extend_from_slice(key.as_bytes());
    }
    out
}

fn decode(value: &[u8]) -> Option<(u64, Keyring)> {
    let epoch = u64::from_be_bytes(value.get(..8)?.try_into().ok()?);
    let rest = value.get(8..)?;
    if rest.is_empty() || !rest.len().is_multiple_of(KEY_LEN) || rest.len() / KEY_LEN > 64 {
        return None;
    }
    let mut keys = rest.chunks_exact(KEY_LEN).map(|c| {
        let mut bytes = [0u8; KEY_LEN];
        bytes.copy_from_slice(c);
        Key::from_bytes(bytes)
    });
    let primary = keys.next()?;
    Some((epoch, Keyring::with_keys(primary, keys)))
}

/// Why a keyring change was refused. Nothing changes when it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// Encryption is off on this node: there is no keyring to change.
    #[error("encryption is not enabled on this node")]
    NotEncrypted,
    /// The key operation itself was refused.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The node cannot publish the change.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The epoch in force is the largest there is, so no change can outrank it.
    #[error("the keyring epoch is exhausted; restart the cluster's keyring with new nodes")]
    EpochExhausted,
}

impl Node {
    /// The keyring in force, if encryption is enabled.
    pub fn keyring(&self) -> Option<&Keyring> {
        self.keyring.as_ref()
    }

    /// Enables (or with `None` disables) encryption locally, without publishing anything:
    /// the starting configuration of a node, before it talks to anyone.
    pub fn set_keyring(&mut self, keyring: Option<Keyring>) {
        self.keyring = keyring;
    }

    /// Installs `key` on every node (it is accepted for opening; sealing still uses the primary).
    pub fn keyring_install(&mut self, now: Instant, key: Key) -> Result<(), KeyringError> {
        self.change_keyring(now, |ring| {
            ring.install(key);
            Ok(())
        })
    }

    /// Makes an installed `key` the primary on every node.
    pub fn keyring_use(&mut self, now: Instant, key: &Key) -> Result<(), KeyringError> {
        self.change_keyring(now, |ring| ring.use_key(key))
    }

    /// Removes `key` from every node.
    pub fn keyring_remove(&mut self, now: Instant, key: &Key) -> Result<(), KeyringError> {
        self.change_keyring(now, |ring| ring.remove(key))
    }

    fn change_keyring(
        &mut self,
        now: Instant,
        op: impl FnOnce(&mut Keyring) -> Result<(), KeyError>,
    ) -> Result<(), KeyringError> {
        if self.left {
            return Err(WriteError::Left.into());
        }
        let mut ring = self.keyring.clone().ok_or(KeyringError::NotEncrypted)?;
        // The epoch may come from gossip, so it may be anything.
        let epoch = self.keyring_epoch.0.checked_add(1).ok_or(KeyringError::EpochExhausted)?;
        op(&mut ring)?;
        self.keyring_epoch = (epoch, self.members.me().id.name.clone());
        self.write_own(now, KEYRING_KEY, Some(&encode(epoch, &ring)));
        self.keyring = Some(ring);
        self.push_event(Event::KeyringChanged { epoch });
        Ok(())
    }

    /// A `__keyring` entry of `origin` arrived by gossip.
    pub(crate) fn keyring_published(&mut self, origin: &Arc<str>, value: &[u8]) {
        if self.keyring.is_none() {
            return;
        }
        let Some((epoch, ring)) = decode(value) else {
            self.stats.count_drop("invalid_keyring");
            return;
        };
        if (epoch, origin) > (self.keyring_epoch.0, &self.keyring_epoch.1) {
            self.keyring_epoch = (epoch, origin.clone());
            self.keyring = Some(ring);
            self.push_event(Event::KeyringChanged { epoch });
        }
    }

    /// Bytes sealing adds to each packet (0 when encryption is off).
    pub(crate) fn seal_overhead(&self) -> usize {
        if self.keyring.is_some() { SEAL_OVERHEAD } else { 0 }
    }

    /// Seals a plaintext packet if encryption is on.
    pub(crate) fn seal(&mut self, packet: Vec<u8>) -> Option<Vec<u8>> {
        match &self.keyring {
            Some(ring) => self.sealer.seal(ring, &packet),
            None => Some(packet),
        }
    }

    /// Opens a received packet if encryption is on (after the size check).
    pub(crate) fn unseal<'a>(&self, bytes: &'a [u8], limit: usize) -> Result<std::borrow::Cow<'a, [u8]>, DecodeError> {
        if bytes.len() > limit {
            return Err(DecodeError::Oversized { len: bytes.len(), limit });
        }
        match &self.keyring {
            Some(ring) => open(ring, bytes, self.config.cluster_id).map(std::borrow::Cow::Owned),
            None => Ok(std::borrow::Cow::Borrowed(bytes)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_keyrings_round_trip_and_garbage_is_refused() {
        let ring = Keyring::with_keys(Key::from_bytes([1; 32]), [Key::from_bytes([2; 32])]);
        assert_eq!(decode(&encode(7, &ring)), Some((7, ring)));
        assert_eq!(decode(b"short"), None);
        assert_eq!(decode(&[0u8; 8 + 31]), None);
    }

    /// Found in review: the epoch adopted from gossip was incremented with `+ 1`, which
    /// panicked at `u64::MAX` in checked builds and wrapped to 0 in release builds.
    #[test]
    fn a_gossiped_maximum_epoch_refuses_local_changes_instead_of_overflowing() {
        let id = crate::NodeId::new("me", 1, "10.0.0.1:1".parse().unwrap());
        let mut node = Node::new(crate::Config::lan(), id, vec![], 1, Instant::ZERO).unwrap();
        let ring = Keyring::new(Key::from_bytes([1; 32]));
        node.set_keyring(Some(ring.clone()));
        node.keyring_published(&Arc::from("zz"), &encode(u64::MAX, &ring));
        let result = node.keyring_install(Instant::ZERO, Key::from_bytes([2; 32]));
        assert_eq!(result, Err(KeyringError::EpochExhausted));
        assert_eq!(node.keyring(), Some(&ring), "a refused change leaves the keyring as it was");
        assert!(node.members.me().keys().get(KEYRING_KEY).is_none(), "nothing was published");
    }
}
