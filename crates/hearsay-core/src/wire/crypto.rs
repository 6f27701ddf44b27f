//! Authenticated encryption of packets: XChaCha20-Poly1305 with a keyring.
//!
//! A sealed packet is the fixed header with the [`FLAG_ENCRYPTED`] flag, a 24-byte nonce, then
//! the body encrypted and authenticated with the header as associated data: a packet of another
//! cluster, a tampered header or a wrong key fails authentication and is dropped.
//!
//! The primary key of the [`Keyring`] seals; every installed key is tried to open, so keys
//! rotate without downtime (install the new key everywhere, make it primary, remove the old).
//!
//! Nonces are unique by construction rather than by chance: 8 bytes of the sender's name hash,
//! 8 bytes of its generation (which grows at every restart) and an 8-byte packet counter. No
//! two packets of a cluster share a nonce as long as names are unique and generations only
//! grow, whatever the quality of the sender's random numbers.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::fmt;
use thiserror::Error;

use super::{DecodeError, HEADER_LEN, MAGIC, PROTOCOL_VERSION};

/// Header flag of a sealed packet.
pub const FLAG_ENCRYPTED: u8 = 0x01;
/// Key length in bytes.
pub const KEY_LEN: usize = 32;
/// Nonce length in bytes.
pub const NONCE_LEN: usize = 24;
/// Authentication tag length in bytes.
pub const TAG_LEN: usize = 16;
/// Bytes sealing adds to a packet.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// A 256-bit cluster key. Its `Debug` shows a fingerprint, never the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; KEY_LEN]);

/// Why a key or keyring operation was refused. A refused operation changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not 64 hexadecimal digits.
    #[error("a key is 64 hexadecimal digits (32 bytes), got {len} characters")]
    Malformed {
        /// Length of the text given.
        len: usize,
    },
    /// The key is not installed.
    #[error("key {fingerprint} is not installed")]
    NotInstalled {
        /// Fingerprint of the key.
        fingerprint: String,
    },
    /// The primary key cannot be removed.
    #[error("key {fingerprint} is the primary key; make another key primary first")]
    RemovePrimary {
        /// Fingerprint of the key.
        fingerprint: String,
    },
}

impl Key {
    /// A key from raw bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Key(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Parses 64 hexadecimal digits (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let malformed = KeyError::Malformed { len: text.len() };
        if text.len() != 2 * KEY_LEN || !text.is_ascii() {
            return Err(malformed);
        }
        let mut bytes = [0u8; KEY_LEN];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| malformed.clone())?;
        }
        Ok(Key(bytes))
    }

    /// 64 lower-case hexadecimal digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A short, non-secret name for the key (hash of the key, 8 hex digits).
    pub fn fingerprint(&self) -> String {
        let hash = crate::id::name_hash(&self.to_hex());
        format!("{:08x}", hash >> 32)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.fingerprint())
    }
}

/// The keys a node accepts; the first is the primary, used to seal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl Keyring {
    /// A keyring with one key, the primary.
    pub fn new(primary: Key) -> Self {
        Keyring { keys: vec![primary] }
    }

    /// A keyring from a primary and further accepted keys.
    pub fn with_keys(primary: Key, others: impl IntoIterator<Item = Key>) -> Self {
        let mut ring = Keyring::new(primary);
        for key in others {
            ring.install(key);
        }
        ring
    }

    /// The key that seals.
    pub fn primary(&self) -> &Key {
        &self.keys[0]
    }

    /// All keys, primary first.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Accepts `key` for opening (no-op if installed).
    pub fn install(&mut self, key: Key) {
        if !self.keys.contains(&key) {
            self.keys.push(key);
        }
    }

    /// Makes an installed key the primary.
    pub fn use_key(&mut self, key: &Key) -> Result<(), KeyError> {
        let pos = self
            .keys
            .iter()
            .position(|k| k == key)
            .ok_or_else(|| KeyError::NotInstalled { fingerprint: key.fingerprint() })?;
        let key = self.keys.remove(pos);
        self.keys.insert(0, key);
        Ok(())
    }

    /// Stops accepting `key`. The primary cannot be removed.
    pub fn remove(&mut self, key: &Key) -> Result<(), KeyError> {
        if self.primary() == key {
            return Err(KeyError::RemovePrimary { fingerprint: key.fingerprint() });
        }
        let before = self.keys.len();
        self.keys.retain(|k| k != key);
        if self.keys.len() == before {
            return Err(KeyError::NotInstalled { fingerprint: key.fingerprint() });
        }
        Ok(())
    }
}

/// Seals outgoing packets with unique nonces.
#[derive(Clone, Debug)]
pub(crate) struct Sealer {
    prefix: [u8; 16],
    counter: u64,
}

impl Sealer {
    pub(crate) fn new(name_hash: u64, generation: u64) -> Self {
        let mut prefix = [0u8; 16];
        prefix[..8].copy_from_slice(&name_hash.to_be_bytes());
        prefix[8..].copy_from_slice(&generation.to_be_bytes());
        Sealer { prefix, counter: 0 }
    }

    /// Seals a plaintext packet (header with no flags + body).
    pub(crate) fn seal(&mut self, ring: &Keyring, packet: &[u8]) -> Option<Vec<u8>> {
        let (head, body) = (packet.get(..HEADER_LEN)?, packet.get(HEADER_LEN..)?);
        self.counter = self.counter.wrapping_add(1);
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..16].copy_from_slice(&self.prefix);
        nonce[16..].copy_from_slice(&self.counter.to_be_bytes());
        let mut header = head.to_vec();
        header[4] |= FLAG_ENCRYPTED;
        let cipher = XChaCha20Poly1305::new(ring.primary().as_bytes().into());
        let sealed = cipher.encrypt(XNonce::from_slice(&nonce), Payload { msg: body, aad: &header }).ok()?;
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + sealed.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Some(out)
    }
}

/// Seals `packet` (plaintext header + body) with `ring`'s primary key, with nonces made from
/// `nonce_prefix` and a counter of 1. For fuzzers and tests that need packets sealed as a
/// peer would seal them; not part of the API: a caller reusing a prefix with one key reuses a
/// nonce, which XChaCha20-Poly1305 does not survive. Nodes seal with their own sealer.
#[doc(hidden)]
pub fn seal_for_testing(ring: &Keyring, packet: &[u8], nonce_prefix: u64) -> Option<Vec<u8>> {
    Sealer::new(nonce_prefix, 0).seal(ring, packet)
}

/// Opens a sealed packet with any key of the ring; returns the plaintext packet (header with no
/// flags + body). Checks the cluster id before spending any cryptography on the packet.
pub fn open(ring: &Keyring, packet: &[u8], cluster_id: u32) -> Result<Vec<u8>, DecodeError> {
    if packet.len() < HEADER_LEN {
        return Err(DecodeError::Truncated { len: packet.len(), needed: HEADER_LEN });
    }
    if packet[..2] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    if packet[2] != PROTOCOL_VERSION {
        return Err(DecodeError::UnsupportedVersion { version: packet[2] });
    }
    if packet[4] != FLAG_ENCRYPTED {
        return Err(DecodeError::Unencrypted);
    }
    let id = u32::from_be_bytes([packet[5], packet[6], packet[7], packet[8]]);
    if id != cluster_id {
        return Err(DecodeError::ForeignCluster { cluster_id: id, expected: cluster_id });
    }
    if packet.len() < HEADER_LEN + SEAL_OVERHEAD {
        return Err(DecodeError::Truncated { len: packet.len(), needed: HEADER_LEN + SEAL_OVERHEAD });
    }
    let header = &packet[..HEADER_LEN];
    let nonce = XNonce::from_slice(&packet[HEADER_LEN..HEADER_LEN + NONCE_LEN]);
    let sealed = &packet[HEADER_LEN + NONCE_LEN..];
    for key in ring.keys() {
        let cipher = XChaCha20Poly1305::new(key.as_bytes().into());
        if let Ok(body) = cipher.decrypt(nonce, Payload { msg: sealed, aad: header }) {
            let mut out = Vec::with_capacity(HEADER_LEN + body.len());
            out.extend_from_slice(header);
            out[4] = 0;
            out.extend_from_slice(&body);
            return Ok(out);
        }
    }
    Err(DecodeError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Codec, Message, PushAck};

    fn key(b: u8) -> Key {
        Key::from_bytes([b; KEY_LEN])
    }

    fn packet() -> Vec<u8> {
        Codec { cluster_id: 7, max_len: 1400 }.encode(&Message::PushAck(PushAck { exchange_id: 1, known: vec![2] }))
    }

    #[test]
    fn sealed_packets_open_with_any_installed_key_and_round_trip() {
        let mut sealer = Sealer::new(1, 2);
        let sealed = sealer.seal(&Keyring::new(key(1)), &packet()).unwrap();
        assert_eq!(sealed.len(), packet().len() + SEAL_OVERHEAD);
        let ring = Keyring::with_keys(key(9), [key(1)]);
        assert_eq!(open(&ring, &sealed, 7).unwrap(), packet());
        assert_eq!(open(&Keyring::new(key(2)), &sealed, 7), Err(DecodeError::Decrypt));
        assert!(matches!(open(&ring, &sealed, 8), Err(DecodeError::ForeignCluster { .. })));
        assert_eq!(open(&ring, &packet(), 7), Err(DecodeError::Unencrypted));
        assert_eq!(open(&ring, &sealed[..HEADER_LEN + 10], 7).unwrap_err().reason(), "truncated");
    }

    #[test]
    fn tampering_with_header_or_body_fails_authentication() {
        let mut sealer = Sealer::new(1, 2);
        let ring = Keyring::new(key(1));
        let sealed = sealer.seal(&ring, &packet()).unwrap();
        for i in [3, HEADER_LEN + 1, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[i] ^= 0x40;
            assert_eq!(open(&ring, &bad, 7), Err(DecodeError::Decrypt), "byte {i}");
        }
    }

    #[test]
    fn nonces_never_repeat_for_one_sender() {
        let mut sealer = Sealer::new(1, 2);
        let ring = Keyring::new(key(1));
        let a = sealer.seal(&ring, &packet()).unwrap();
        let b = sealer.seal(&ring, &packet()).unwrap();
        assert_ne!(a[HEADER_LEN..HEADER_LEN + NONCE_LEN], b[HEADER_LEN..HEADER_LEN + NONCE_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn keyring_rotation_rules() {
        let mut ring = Keyring::new(key(1));
        assert!(ring.use_key(&key(2)).is_err());
        ring.install(key(2));
        assert_eq!(ring.remove(&key(1)), Err(KeyError::RemovePrimary { fingerprint: key(1).fingerprint() }));
        ring.use_key(&key(2)).unwrap();
        ring.remove(&key(1)).unwrap();
        assert_eq!(ring.keys(), &[key(2)]);
        assert_eq!(Key::parse(&key(2).to_hex()), Ok(key(2)));
        assert!(Key::parse("abc").is_err());
        assert!(!format!("{:?}", key(3)).contains(&key(3).to_hex()));
    }
}
