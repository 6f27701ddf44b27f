//! What a node tells its application: membership changes and key changes.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::NodeId;

/// Something the application may want to react to. Drain with [`crate::Node::poll_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A member was learned of for the first time (or came back with a new generation).
    MemberJoined(NodeId),
    /// A suspect or dead member is heard from again.
    MemberAlive(NodeId),
    /// A member did not answer direct and indirect probes: it is suspect until it refutes
    /// or its suspicion timeout runs out.
    MemberSuspect {
        /// Who.
        id: NodeId,
        /// Its heartbeat phi when it became suspect, times 100 (events stay `Eq`).
        phi_centi: u64,
        /// The member whose probes failed (this node's name when it raised the suspicion).
        by: Arc<str>,
    },
    /// A member stayed suspect for the suspicion timeout.
    MemberDead(NodeId),
    /// A member left gracefully.
    MemberLeft(NodeId),
    /// A dead or left member was forgotten after the grace period.
    MemberRemoved(NodeId),
    /// Two processes claim one name: `holder` is the live member that keeps it, `claimant`
    /// the process at another address that announced a newer generation and was refused.
    /// On the holder and on the members that checked the claim, nothing changed. On the
    /// claimant (`refused` is true) the node stops gossiping, as after [`crate::Node::leave`]
    /// but without telling anyone: it must not take the name; the embedding program should
    /// stop it and report the conflict.
    NameConflict {
        /// The contested name.
        name: Arc<str>,
        /// Where the live member that keeps the name answers.
        holder: SocketAddr,
        /// Where the refused claimant runs.
        claimant: SocketAddr,
        /// This node is the claimant.
        refused: bool,
    },
    /// This node has heard from no member for longer than a suspicion lasts while it kept
    /// probing: it is the one cut off (it stops receiving, or its network is down). Until
    /// [`Event::Reconnected`] it accuses nobody and reports its alive members as suspect.
    Isolated,
    /// An isolated node received a message again.
    Reconnected,
    /// The cluster keyring changed (locally or adopted from gossip); persist it.
    KeyringChanged {
        /// The epoch of the keyring now in force.
        epoch: u64,
    },
    /// A key of some owner (the local node included) changed.
    KeyChanged {
        /// The owner.
        owner: NodeId,
        /// The key.
        key: Arc<str>,
        /// The new value, `None` if the key was deleted.
        value: Option<Arc<[u8]>>,
        /// The owner's version of the change.
        version: u64,
    },
    /// A user event (see [`crate::Node::send_event`]), delivered once per event.
    User {
        /// Name of the member that sent it.
        origin: Arc<str>,
        /// The event's name.
        name: Arc<str>,
        /// The origin's Lamport time when it sent it.
        ltime: u64,
        /// The payload.
        payload: Arc<[u8]>,
    },
    /// A query this node should answer (it matches the query's filters): answer with
    /// [`crate::Node::respond`] before `query.deadline`, or not at all.
    Query {
        /// Where and how to answer.
        query: crate::QueryRef,
        /// The query's name.
        name: Arc<str>,
        /// The payload.
        payload: Arc<[u8]>,
    },
    /// A member acknowledged a query this node asked (it matches and will answer).
    QueryAck {
        /// The query.
        query: crate::QueryId,
        /// The member.
        from: Arc<str>,
    },
    /// A member answered a query this node asked.
    QueryResponse {
        /// The query.
        query: crate::QueryId,
        /// The member.
        from: Arc<str>,
        /// Its answer.
        payload: Arc<[u8]>,
    },
    /// A member's tags changed (locally with [`crate::Node::set_tags`] or learnt by gossip).
    TagsChanged {
        /// The member.
        id: NodeId,
        /// Its tags now.
        tags: crate::Tags,
    },
}
