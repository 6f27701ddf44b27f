//! Every member name a message carries, checked at decode time.
//!
//! Names enter a node through block owners, membership updates (the member and its accuser),
//! digest entries, flow-control demands, referrals, probes and indirect probe requests. Checking them
//! here, once, means no handler can forget to, and a message with one bad name is dropped
//! whole: a peer that runs this code never sends one.

use super::{Block, Digest, FlowReport, MemberUpdate, Message};
use crate::id::{NameError, check_name};

fn updates(updates: &[MemberUpdate]) -> Result<(), NameError> {
    updates.iter().try_for_each(|u| check_name(&u.node.name).and_then(|()| check_name(&u.from)))
}

fn blocks(blocks: &[Block]) -> Result<(), NameError> {
    blocks.iter().try_for_each(|b| check_name(&b.owner.name))
}

fn flow(flow: &Option<FlowReport>) -> Result<(), NameError> {
    flow.iter().flat_map(|f| f.demands.iter()).try_for_each(|d| check_name(&d.name))
}

fn digest(digest: &Digest) -> Result<(), NameError> {
    digest.entries.iter().try_for_each(|e| check_name(&e.name))
}

/// The first bad name in `message`, if any.
pub(super) fn check(message: &Message) -> Result<(), NameError> {
    match message {
        Message::Syn(m) => digest(&m.digest).and(blocks(&m.blocks)).and(updates(&m.updates)).and(flow(&m.flow)),
        Message::SynAck(m) => m
            .digest
            .as_ref()
            .map_or(Ok(()), digest)
            .and(blocks(&m.blocks))
            .and(updates(&m.updates))
            .and(flow(&m.flow))
            .and(m.refer.iter().try_for_each(|n| check_name(n))),
        Message::Ack(m) => blocks(&m.blocks).and(flow(&m.flow)),
        Message::Push(m) => digest(&m.digest).and(blocks(&m.blocks)).and(updates(&m.updates)).and(flow(&m.flow)),
        Message::Ping(m) => check_name(&m.target).and(check_name(&m.source.name)).and(updates(&m.updates)),
        Message::PingAck(m) => updates(&m.updates),
        Message::PingReq(m) => check_name(&m.target.name).and(updates(&m.updates)),
        Message::PushAck(_) | Message::Nack(_) => Ok(()),
        Message::Tree(super::Tree::Gossip(b)) => blocks(b),
        Message::Tree(super::Tree::IHave(a) | super::Tree::Graft(a)) => a.iter().try_for_each(|a| check_name(&a.name)),
        Message::Tree(super::Tree::Prune) => Ok(()),
        Message::UserEvents(m) => m.events.iter().try_for_each(|e| check_name(&e.origin)),
        Message::Query(m) => check_name(&m.origin.name).and(m.filter_names.iter().try_for_each(|n| check_name(n))),
        Message::QueryResponse(m) => check_name(&m.from),
    }
}
