//! The JSON documents of the HTTP API, shared by the server (`http/`) and the CLI client.
//!
//! Values are bytes. In JSON a value is `value` (a string) when it is valid UTF-8, and
//! `value_base64` (standard base64 with padding) otherwise; exactly one of the two is present.

use std::collections::BTreeMap;

use hearsay_core::{Event, MemberInfo};
use serde::{Deserialize, Serialize};

use crate::b64;

/// The body and answer of `PUT /v1/tags`, the answer of `GET /v1/tags`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct TagsJson {
    /// The member's tags.
    pub tags: BTreeMap<String, String>,
}

/// The answer of `POST /v1/event/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct SentEventJson {
    /// The sending node.
    pub node: String,
    /// The event's name.
    pub name: String,
    /// Its Lamport time.
    pub ltime: u64,
}

/// One line of the answer of `POST /v1/query/{name}` (newline-delimited JSON): `ack` and
/// `response` lines as they arrive, then one `summary`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct QueryLineJson {
    /// ack, response or summary.
    pub kind: String,
    /// ack, response: the member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// response: the answer.
    #[serde(flatten)]
    pub value: ValueJson,
    /// summary: live members that matched the filters when the query was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked: Option<usize>,
    /// summary: members that acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked: Option<usize>,
    /// summary: members that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered: Option<usize>,
    /// summary: members asked that did not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<String>>,
}

/// An error response: every non-2xx answer has this body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ErrorJson {
    /// What went wrong, in one sentence.
    pub error: String,
    /// With 429 (flow control refused a write): milliseconds until a retry can succeed, the
    /// precise form of the `Retry-After` header (whole seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

/// The body of `POST /v1/join`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JoinRequest {
    /// `ip:port` or `host:port`.
    pub addrs: Vec<String>,
}

/// The answer of `POST /v1/join`.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct JoinJson {
    /// The addresses a full exchange was sent to.
    pub contacted: Vec<String>,
}

/// A member as one node sees it (`GET /v1/members`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct MemberJson {
    /// Node name.
    pub name: String,
    /// Incarnation.
    pub generation: u64,
    /// Gossip address.
    pub addr: String,
    /// alive, suspect, dead or left.
    pub status: String,
    /// Phi accrual suspicion level (`null` when infinite).
    pub phi: Option<f64>,
    /// Highest contiguous version held for this member.
    pub max_version: u64,
    /// Highest heartbeat seen.
    pub heartbeat: u64,
    /// Live keys held for this member.
    pub live_keys: usize,
    /// Whether this is the answering node.
    pub is_self: bool,
    /// The latest direct-probe round trip to it in milliseconds, if one was measured in the
    /// last minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// The member's tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl From<&MemberInfo> for MemberJson {
    fn from(m: &MemberInfo) -> Self {
        MemberJson {
            name: m.id.name.to_string(),
            generation: m.id.generation,
            addr: m.id.addr.to_string(),
            status: m.status.as_str().to_string(),
            phi: m.phi.is_finite().then_some(m.phi),
            max_version: m.max_version,
            heartbeat: m.heartbeat,
            live_keys: m.live_keys,
            is_self: m.is_self,
            rtt_ms: None,
            tags: m.tags.clone(),
        }
    }
}

/// A value as JSON: a string when UTF-8, base64 otherwise.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct ValueJson {
    /// The value, when it is valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The value in base64, when it is not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
}

impl ValueJson {
    /// Encodes `bytes`.
    pub(crate) fn new(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => ValueJson { value: Some(text.to_string()), value_base64: None },
            Err(_) => ValueJson { value: None, value_base64: Some(b64::encode(bytes)) },
        }
    }

    /// The bytes back; `None` if neither field holds a valid value.
    pub(crate) fn bytes(&self) -> Option<Vec<u8>> {
        match (&self.value, &self.value_base64) {
            (Some(text), _) => Some(text.as_bytes().to_vec()),
            (None, Some(coded)) => b64::decode(coded),
            (None, None) => None,
        }
    }
}

/// One key of one node (`GET /v1/kv`, `GET /v1/kv/{node}/{key}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct EntryJson {
    /// Owner name.
    pub node: String,
    /// Key.
    pub key: String,
    /// Value.
    #[serde(flatten)]
    pub value: ValueJson,
    /// The owner's version of this value.
    pub version: u64,
    /// In lists: the owner's status as the answering node sees it (`dead` and `left` owners'
    /// keys are kept until the owner is forgotten).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_status: Option<String>,
}

/// The answer to `PUT` and `DELETE /v1/kv/{key}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct WriteJson {
    /// This node's name.
    pub node: String,
    /// The key.
    pub key: String,
    /// The version the write took.
    pub version: u64,
}

/// `GET /v1/health`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HealthJson {
    /// `ok`.
    pub status: String,
    /// This node's name.
    pub name: String,
    /// Its generation.
    pub generation: u64,
}

/// `GET /v1/info`: identity, configuration and counters of the answering agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct InfoJson {
    /// Node name.
    pub name: String,
    /// Generation.
    pub generation: u64,
    /// Gossip address.
    pub addr: String,
    /// HTTP API address.
    pub http: Option<String>,
    /// The store file (`None` for nodes without persistence, as in the demo).
    pub store: Option<String>,
    /// Whether packets are encrypted.
    pub encrypted: bool,
    /// Software version.
    pub version: String,
    /// Seconds since the agent started.
    pub uptime_secs: u64,
    /// Protocol settings in force, by config field name.
    pub config: BTreeMap<String, String>,
    /// Members by status.
    pub members: BTreeMap<String, usize>,
    /// Live keys this node owns.
    pub own_keys: usize,
    /// Highest version this node gave.
    pub max_version: u64,
    /// Gossip rounds run.
    pub rounds: u64,
    /// Messages sent.
    pub messages_sent: u64,
    /// Messages received.
    pub messages_received: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Packets dropped, all reasons.
    pub dropped: u64,
}

/// `GET /v1/keyring`: key fingerprints (never the keys).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct KeyringJson {
    /// Whether packets are encrypted.
    pub enabled: bool,
    /// Fingerprint of the key that seals.
    pub primary: Option<String>,
    /// Fingerprints of every key accepted for opening, the primary first.
    pub keys: Vec<String>,
}

/// One event of `GET /v1/events` (the SSE `event:` field is `kind`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct EventJson {
    /// member_joined, member_alive, member_suspect, member_dead, member_left, member_removed,
    /// key_changed, name_conflict, isolated, reconnected, lagged, tags_changed or
    /// user_event.
    pub kind: String,
    /// The member, the owner of the key, the contested name, or (isolated, reconnected) this
    /// node; empty for lagged.
    pub node: String,
    /// Its generation (0 where the event names no member).
    pub generation: u64,
    /// Its gossip address (name_conflict: the claimant's); empty for lagged.
    pub addr: String,
    /// For member_suspect: phi when it became suspect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phi: Option<f64>,
    /// For key_changed: the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// For key_changed: the new value (absent when deleted).
    #[serde(flatten)]
    pub value: ValueJson,
    /// For key_changed: whether the key was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
    /// For key_changed: the owner's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// For name_conflict: where the live member that keeps the name answers (`addr` is the
    /// refused claimant's address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// For name_conflict: this node is the refused claimant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<bool>,
    /// For lagged: how many events the stream lost because its reader fell behind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed: Option<u64>,
    /// For user_event: the event's name (`node` is its origin, the payload is the value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For user_event: the origin's Lamport time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ltime: Option<u64>,
    /// For tags_changed: the member's tags now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

impl EventJson {
    /// The JSON form of a protocol event; `None` for kinds this build does not know.
    pub(crate) fn from_event(event: &Event, local: &hearsay_core::NodeId) -> Option<EventJson> {
        let member = |kind: &str, id: &hearsay_core::NodeId| EventJson {
            node: id.name.to_string(),
            generation: id.generation,
            addr: id.addr.to_string(),
            ..EventJson::bare(kind)
        };
        Some(match event {
            Event::MemberJoined(id) => member("member_joined", id),
            Event::MemberAlive(id) => member("member_alive", id),
            Event::MemberSuspect { id, phi_centi, .. } => {
                EventJson { phi: Some(*phi_centi as f64 / 100.0), ..member("member_suspect", id) }
            }
            Event::MemberDead(id) => member("member_dead", id),
            Event::MemberLeft(id) => member("member_left", id),
            Event::MemberRemoved(id) => member("member_removed", id),
            Event::KeyChanged { owner, key, value, version } => EventJson {
                key: Some(key.to_string()),
                value: value.as_deref().map(ValueJson::new).unwrap_or_default(),
                deleted: Some(value.is_none()),
                version: Some(*version),
                ..member("key_changed", owner)
            },
            Event::NameConflict { name, holder, claimant, refused } => EventJson {
                node: name.to_string(),
                addr: claimant.to_string(),
                holder: Some(holder.to_string()),
                refused: Some(*refused),
                ..EventJson::bare("name_conflict")
            },
            Event::Isolated => member("isolated", local),
            Event::Reconnected => member("reconnected", local),
            Event::User { origin, name, ltime, payload } => EventJson {
                node: origin.to_string(),
                name: Some(name.to_string()),
                ltime: Some(*ltime),
                value: ValueJson::new(payload),
                ..EventJson::bare("user_event")
            },
            Event::TagsChanged { id, tags } => EventJson { tags: Some(tags.clone()), ..member("tags_changed", id) },
            _ => return None,
        })
    }

    /// The reader of an event stream fell behind and lost `missed` events.
    pub(crate) fn lagged(missed: u64) -> EventJson {
        EventJson { missed: Some(missed), ..EventJson::bare("lagged") }
    }

    fn bare(kind: &str) -> EventJson {
        EventJson {
            kind: kind.to_string(),
            node: String::new(),
            generation: 0,
            addr: String::new(),
            phi: None,
            key: None,
            value: ValueJson::default(),
            deleted: None,
            version: None,
            holder: None,
            refused: None,
            missed: None,
            tags: None,
            name: None,
            ltime: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_isolation_and_lag_become_events_for_clients() {
        let local = hearsay_core::NodeId::new("me", 3, "127.0.0.1:7946".parse().unwrap());
        let conflict = Event::NameConflict {
            name: "web".into(),
            holder: "10.0.0.1:7946".parse().unwrap(),
            claimant: "10.0.0.9:7946".parse().unwrap(),
            refused: false,
        };
        let json = serde_json::to_value(EventJson::from_event(&conflict, &local).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "name_conflict", "node": "web", "generation": 0, "addr": "10.0.0.9:7946",
                "holder": "10.0.0.1:7946", "refused": false})
        );
        let isolated = EventJson::from_event(&Event::Isolated, &local).unwrap();
        assert_eq!((isolated.kind.as_str(), isolated.node.as_str(), isolated.generation), ("isolated", "me", 3));
        let reconnected = EventJson::from_event(&Event::Reconnected, &local).unwrap();
        assert_eq!(reconnected.kind, "reconnected");
        assert!(EventJson::from_event(&Event::KeyringChanged { epoch: 2 }, &local).is_none());
        let lagged = serde_json::to_value(EventJson::lagged(12)).unwrap();
        assert_eq!(lagged["kind"], "lagged");
        assert_eq!(lagged["missed"], 12);
    }

    #[test]
    fn values_are_text_when_utf8_and_base64_otherwise() {
        let text = serde_json::to_value(EntryJson {
            node: "n".into(),
            key: "k".into(),
            value: ValueJson::new("héllo".as_bytes()),
            version: 3,
            owner_status: None,
        })
        .unwrap();
        assert_eq!(text, serde_json::json!({"node": "n", "key": "k", "value": "héllo", "version": 3}));
        let binary = ValueJson::new(&[0xff, 0x00, 0x10]);
        assert_eq!(binary.value, None);
        assert_eq!(binary.value_base64.as_deref(), Some("/wAQ"));
        assert_eq!(binary.bytes().unwrap(), vec![0xff, 0x00, 0x10]);
        let parsed: EntryJson =
            serde_json::from_str(r#"{"node":"n","key":"k","value_base64":"/wAQ","version":1}"#).unwrap();
        assert_eq!(parsed.value.bytes().unwrap(), vec![0xff, 0x00, 0x10]);
    }

    #[test]
    fn key_events_carry_value_and_deletion() {
        let owner = hearsay_core::NodeId::new("a", 2, "127.0.0.1:9".parse().unwrap());
        let set = Event::KeyChanged {
            owner: owner.clone(),
            key: "k".into(),
            value: Some(b"v".as_slice().into()),
            version: 4,
        };
        let json = EventJson::from_event(&set, &owner).unwrap();
        assert_eq!((json.kind.as_str(), json.deleted, json.version), ("key_changed", Some(false), Some(4)));
        assert_eq!(json.value.value.as_deref(), Some("v"));
        let del = Event::KeyChanged { owner: owner.clone(), key: "k".into(), value: None, version: 5 };
        let json = EventJson::from_event(&del, &owner).unwrap();
        assert_eq!((json.deleted, json.value.bytes()), (Some(true), None));
    }
}
