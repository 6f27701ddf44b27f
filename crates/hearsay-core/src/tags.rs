//! Tags: small key/value labels that describe a member (`role=web`, `zone=b`).
//!
//! A node's tags are one entry of its own replicated state, under the reserved key `__tags`,
//! so they travel by the same rumors and anti-entropy as any key, and the owner's versions
//! order changes: the newest set of tags wins everywhere, and a restart (new generation)
//! replaces its earlier life's tags. Reserved keys are never shown to applications as keys;
//! tags appear in [`crate::MemberInfo::tags`] and [`crate::Event::TagsChanged`].
//!
//! Tags are bounded ([`MAX_TAGS`], [`MAX_TAGS_BYTES`]) so that a node's whole set always fits
//! in one datagram and spreads with the first rumor; a set over the bound is refused locally
//! with a [`TagsError`], and one learnt from gossip that does not decode or breaks the bounds is
//! ignored and counted (`invalid_tags`).

use std::collections::BTreeMap;

use crate::event::Event;
use crate::node::Node;
use crate::state::Member;
use crate::{Instant, NodeId, WriteError};

/// A member's tags, in key order.
pub type Tags = BTreeMap<String, String>;

/// The reserved key that carries a node's tags.
pub(crate) const TAGS_KEY: &str = "__tags";
/// Most tags one member may have.
pub const MAX_TAGS: usize = 64;
/// Most bytes of tag keys and values together one member may have (twice the 512 bytes that
/// Serf allows, and still small enough to ride in one datagram with room to spare).
pub const MAX_TAGS_BYTES: usize = 1024;
/// Longest tag key.
pub const MAX_TAG_KEY_BYTES: usize = 128;

/// Why a set of tags was refused. A refused set changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TagsError {
    /// More tags than [`MAX_TAGS`].
    #[error("{count} tags, the limit is {limit}")]
    TooMany {
        /// Tags given.
        count: usize,
        /// [`MAX_TAGS`].
        limit: usize,
    },
    /// Keys and values together are larger than [`MAX_TAGS_BYTES`].
    #[error("tags take {len} bytes, the limit is {limit}")]
    TooLarge {
        /// Bytes of keys and values.
        len: usize,
        /// [`MAX_TAGS_BYTES`].
        limit: usize,
    },
    /// A key is empty, longer than [`MAX_TAG_KEY_BYTES`], or holds `=`, `,` or a control
    /// character (which the `k=v` forms of the CLI and HTTP API could not express).
    #[error("invalid tag key {key:?}: keys are 1 to {MAX_TAG_KEY_BYTES} bytes without '=', ',' or control characters")]
    InvalidKey {
        /// The key.
        key: String,
    },
    /// A value holds a control character.
    #[error("invalid value for tag {key:?}: values may not hold control characters")]
    InvalidValue {
        /// The tag's key.
        key: String,
    },
    /// The node cannot publish the change.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Checks `tags` against the bounds; the error names the first problem.
pub fn check_tags(tags: &Tags) -> Result<(), TagsError> {
    if tags.len() > MAX_TAGS {
        return Err(TagsError::TooMany { count: tags.len(), limit: MAX_TAGS });
    }
    let len: usize = tags.iter().map(|(k, v)| k.len() + v.len()).sum();
    if len > MAX_TAGS_BYTES {
        return Err(TagsError::TooLarge { len, limit: MAX_TAGS_BYTES });
    }
    for (key, value) in tags {
        let bad_key = key.is_empty()
            || key.len() > MAX_TAG_KEY_BYTES
            || key.chars().any(|c| c == '=' || c == ',' || c.is_control());
        if bad_key {
            return Err(TagsError::InvalidKey { key: key.clone() });
        }
        if value.chars().any(char::is_control) {
            return Err(TagsError::InvalidValue { key: key.clone() });
        }
    }
    Ok(())
}

fn encode(tags: &Tags) -> Vec<u8> {
    // A map of strings always serializes.
    postcard::to_allocvec(tags).unwrap_or_default()
}

fn decode(value: &[u8]) -> Option<Tags> {
    if value.len() > MAX_TAGS_BYTES + 3 * MAX_TAGS + 8 {
        return None;
    }
    let tags: Tags = postcard::from_bytes(value).ok()?;
    check_tags(&tags).ok()?;
    Some(tags)
}

/// Whether `tags` has every `(key, value)` of `filter` (an empty filter matches everything).
pub fn tags_match(tags: &Tags, filter: &[(String, String)]) -> bool {
    filter.iter().all(|(k, v)| tags.get(k) == Some(v))
}

impl Node {
    /// Replaces this node's tags with `tags` and publishes them to every member.
    /// Setting the tags already in force publishes nothing.
    pub fn set_tags(&mut self, now: Instant, tags: Tags) -> Result<(), TagsError> {
        if self.left {
            return Err(WriteError::Left.into());
        }
        check_tags(&tags)?;
        if self.members.me().max_version() == u64::MAX {
            return Err(WriteError::VersionsExhausted.into());
        }
        if member_tags(self.members.me()) == tags && self.members.me().keys().get(TAGS_KEY).is_some() {
            return Ok(());
        }
        self.write_own(now, TAGS_KEY, Some(&encode(&tags)));
        let id = NodeId::clone(&self.members.me().id);
        self.push_event(Event::TagsChanged { id, tags });
        self.eager_forward(now);
        Ok(())
    }

    /// The tags of the member named `name` (empty for an unknown member or one without tags).
    pub fn tags(&self, name: &str) -> Tags {
        self.members.lookup(name).and_then(|idx| self.members.get(idx)).map(member_tags).unwrap_or_default()
    }

    /// A `__tags` entry of `id` arrived by gossip.
    pub(crate) fn tags_published(&mut self, id: NodeId, value: &[u8]) {
        match decode(value) {
            Some(tags) => self.push_event(Event::TagsChanged { id, tags }),
            None => self.stats.count_drop("invalid_tags"),
        }
    }
}

/// The tags `member` published (empty if none, or if they do not decode).
pub(crate) fn member_tags(member: &Member) -> Tags {
    member.keys().get(TAGS_KEY).filter(|v| !v.tombstone).and_then(|v| decode(&v.value)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn node(name: &str) -> Node {
        let id = NodeId::new(name, 1, "10.0.0.1:1".parse().unwrap());
        Node::new(crate::Config::lan(), id, vec![], 1, Instant::ZERO).unwrap()
    }

    #[test]
    fn tags_round_trip_and_garbage_is_refused() {
        let t = tags(&[("role", "web"), ("zone", "b")]);
        assert_eq!(decode(&encode(&t)), Some(t));
        assert_eq!(decode(&[0xff, 0xff, 0xff]), None);
        let too_many: Tags = (0..=MAX_TAGS).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(decode(&encode(&too_many)), None, "gossiped tags obey the same bounds");
    }

    #[test]
    fn bounds_and_bad_keys_are_refused_with_the_reason() {
        let too_many: Tags = (0..=MAX_TAGS).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(check_tags(&too_many), Err(TagsError::TooMany { count: MAX_TAGS + 1, limit: MAX_TAGS }));
        let big = tags(&[("k", &"v".repeat(MAX_TAGS_BYTES))]);
        assert_eq!(check_tags(&big), Err(TagsError::TooLarge { len: MAX_TAGS_BYTES + 1, limit: MAX_TAGS_BYTES }));
        for key in ["", "a=b", "a,b", "a\nb"] {
            assert_eq!(check_tags(&tags(&[(key, "v")])), Err(TagsError::InvalidKey { key: key.into() }));
        }
        assert_eq!(check_tags(&tags(&[("k", "a\u{7}")])), Err(TagsError::InvalidValue { key: "k".into() }));
    }

    #[test]
    fn set_tags_shows_in_member_info_and_an_event_and_a_refusal_changes_nothing() {
        let mut n = node("a");
        n.set_tags(Instant::ZERO, tags(&[("role", "web")])).unwrap();
        assert_eq!(n.member("a").unwrap().tags, tags(&[("role", "web")]));
        assert!(matches!(n.poll_event(), Some(Event::TagsChanged { tags: t, .. }) if t == tags(&[("role", "web")])));
        let version = n.members.me().max_version();
        assert!(n.set_tags(Instant::ZERO, tags(&[("", "x")])).is_err());
        n.set_tags(Instant::ZERO, tags(&[("role", "web")])).unwrap();
        assert_eq!(n.members.me().max_version(), version, "refused and unchanged sets write nothing");
        assert_eq!(n.poll_event(), None);
        assert_eq!(n.keys("a").unwrap().count(), 0, "the reserved key is not a user key");
    }

    #[test]
    fn filter_is_an_and_of_exact_pairs() {
        let t = tags(&[("role", "web"), ("zone", "b")]);
        let f = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        assert!(tags_match(&t, &[]));
        assert!(tags_match(&t, &f(&[("role", "web"), ("zone", "b")])));
        assert!(!tags_match(&t, &f(&[("role", "web"), ("zone", "a")])));
        assert!(!tags_match(&t, &f(&[("dc", "1")])));
    }
}
