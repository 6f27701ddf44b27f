//! Counters a node keeps about itself, for metrics and the simulator.

use std::collections::BTreeMap;

use crate::wire::MessageType;

/// Per-message-type counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TypeCounters {
    /// Messages.
    pub messages: u64,
    /// Bytes, headers included.
    pub bytes: u64,
}

/// Monotonic counters. Read with [`crate::Node::stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Gossip rounds run.
    pub rounds: u64,
    /// Sent, by message type (index: `MessageType as usize - 1`).
    pub sent: [TypeCounters; 13],
    /// Received and decoded, by message type.
    pub received: [TypeCounters; 13],
    /// Transmits that went over a stream.
    pub stream_transmits: u64,
    /// Inputs dropped, by reason (decode error reasons, "foreign_cluster", queue overflows...).
    pub dropped: BTreeMap<&'static str, u64>,
    /// Entries applied from peers (values that were new to this node).
    pub entries_applied: u64,
    /// Deltas that did not fit in one message (flow-control backlog signal).
    pub delta_overflows: u64,
    /// Hot rumors that did not fit in one message with all their versions (flow-control
    /// backlog signal, like `delta_overflows`).
    pub rumor_overflows: u64,
    /// Exchanges that ended after one message because checksums matched.
    pub in_sync: u64,
    /// Probes answered in time (directly or through a relay).
    pub probes_ok: u64,
    /// Probes that got no answer at all.
    pub probes_failed: u64,
    /// Failed probes of alive members probed once more before any suspicion.
    pub probes_retried: u64,
    /// Suspicions this node raised itself.
    pub suspicions_raised: u64,
    /// Times this node found itself isolated (heard from nobody for a suspicion timeout).
    pub isolations: u64,
    /// Suspicions not raised because this node judged itself unhealthy.
    pub suspicions_withheld: u64,
    /// Times this node refuted a suspicion about itself.
    pub refutations: u64,
    /// Repair exchanges started because a probe carried a different state checksum.
    pub repairs: u64,
    /// Full exchanges started because a peer knew clearly more members (see the `membership`
    /// module: formation).
    pub catch_ups: u64,
    /// Full exchanges asked of this node by stream beyond its share per interval, answered
    /// with a datagram's worth instead (see the `formation` module).
    pub catch_ups_deferred: u64,
    /// Full exchanges this node answered by stream, within its share per interval.
    pub catch_ups_served: u64,
    /// Referrals to a member that held the membership, followed after a busy peer deferred
    /// our catch-up (see the `formation` module).
    pub catch_up_referrals: u64,
    /// Timer wake-ups later than the shortest probe timeout (not counting pauses of more than
    /// two probe intervals): each raised the local health score by one (see the `probe` module).
    pub late_wakeups: u64,
    /// Name conflicts seen: claims of a live member's name refused here, claims of our own
    /// name reported, or this node refused (see [`crate::Event::NameConflict`]).
    pub name_conflicts: u64,
    /// Restarts noticed (the cluster held an older generation of this node at its address)
    /// and announced directly to every member (see the `announce` module).
    pub restart_announcements: u64,
    /// Outgoing messages whose packing overshot the MTU and that were sent with fewer blocks
    /// or updates (dropping a digest entry of a slice digest only causes redundant data).
    pub trimmed: u64,
    /// Replies to an address that has not proved it receives (see [`crate::AMPLIFICATION_FACTOR`])
    /// cut to its budget, dropped because they did not fit it, or refused a stream.
    pub amplification_limited: u64,
    /// Blocks with at least one entry received from peers, by any message: payload copies.
    pub payload_blocks: u64,
    /// Of those, blocks this node already held entirely: duplicate payload copies.
    pub payload_duplicates: u64,
    /// Tree grafts sent (a payload announced but not received in time; see `plumtree`).
    pub grafts: u64,
    /// Tree prunes sent (a payload received twice).
    pub prunes: u64,
    /// User events this node sent (see [`crate::Node::send_event`]).
    pub user_events_sent: u64,
    /// User events delivered to this node's application, its own included.
    pub user_events_delivered: u64,
    /// User events received again after delivery (retransmissions that were not news).
    pub user_events_duplicate: u64,
    /// Local writes refused by flow control ([`crate::WriteError::RateLimited`]).
    pub writes_refused: u64,
    /// Flow reports from peers saying that a delta they sent here was cut by the MTU.
    pub truncation_signals: u64,
    /// Flow reports ignored because their sender's address has not proved it receives.
    pub flow_reports_ignored: u64,
}

/// Every reason under which [`Stats::dropped`] counts, so exporters can publish all series from
/// zero.
pub const DROP_REASONS: &[&str] = &[
    // Packets that do not decode or open.
    "truncated",
    "oversized",
    "bad_magic",
    "version",
    "flags",
    "message_type",
    "foreign_cluster",
    "malformed",
    "unencrypted",
    "decrypt",
    "wrong_transport",
    "invalid_name",
    // Contents refused after decoding.
    "invalid_update",
    "invalid_block",
    "invalid_keyring",
    "invalid_tags",
    "invalid_user_event",
    "user_event_too_old",
    "invalid_query",
    "late_query_response",
    "misdirected_ping",
    // Bounds and queues.
    "member_limit",
    "owner_key_limit",
    "owner_byte_limit",
    "replica_budget",
    "event_queue_full",
    "transmit_queue_full",
    "relay_queue_full",
    "tree_queue_full",
    "user_event_queue_full",
    // Outgoing packets the node refused to send.
    "oversized_outgoing",
    "seal_failed",
    "amplification_budget",
    "unverified_stream",
];

impl Stats {
    pub(crate) fn count_sent(&mut self, t: MessageType, bytes: usize) {
        let c = &mut self.sent[t as usize - 1];
        c.messages += 1;
        c.bytes += bytes as u64;
    }

    pub(crate) fn count_received(&mut self, t: MessageType, bytes: usize) {
        let c = &mut self.received[t as usize - 1];
        c.messages += 1;
        c.bytes += bytes as u64;
    }

    pub(crate) fn count_drop(&mut self, reason: &'static str) {
        debug_assert!(DROP_REASONS.contains(&reason), "unlisted drop reason {reason}");
        *self.dropped.entry(reason).or_default() += 1;
    }

    /// Messages sent, all types.
    pub fn messages_sent(&self) -> u64 {
        self.sent.iter().map(|c| c.messages).sum()
    }

    /// Bytes sent, all types.
    pub fn bytes_sent(&self) -> u64 {
        self.sent.iter().map(|c| c.bytes).sum()
    }

    /// Counters for one message type.
    pub fn sent_of(&self, t: MessageType) -> TypeCounters {
        self.sent[t as usize - 1]
    }

    /// Counters for one message type.
    pub fn received_of(&self, t: MessageType) -> TypeCounters {
        self.received[t as usize - 1]
    }
}
