//! Flow control (van Renesse et al. 2008, section 4): when writers produce more than gossip
//! carries, deltas overflow the MTU and replicas fall further behind every round. The cure is
//! to slow the writers down, each to its share of what the cluster carries.
//!
//! # Capacity: AIMD on MTU overflow
//!
//! Every node keeps an estimate of the cluster's *capacity*: the bytes of writes per gossip
//! round its gossip carries without backlog. Once per round it adapts the estimate as TCP
//! adapts its window. If during the round a delta it built had to leave versions behind (an
//! anti-entropy delta or a hot rumor cut by the MTU), or a peer told it that a delta it sent
//! here was cut ([`FlowReport::truncated`]: this node is receiving a backlog), the estimate is
//! halved (multiplicative decrease). Otherwise, while the writers want at least half of it,
//! it grows by an eighth of an MTU (additive increase); an idle cluster does not inflate an
//! estimate nobody tests. It starts at the top, 64 MTUs per round (so a fresh node can load a
//! few hundred KB at once), and stays above half an MTU per round.
//!
//! # Shares: demand is gossiped
//!
//! Every gossip message (`Syn`, `SynAck`, `Ack`, `Push`) ends with a [`FlowReport`]: the
//! sender's capacity estimate, and the *demand* of the writers it knows of (bytes per round
//! each wants to write, refused writes included), its own first, then a few heard from
//! others, in rotation; a demand older than [`DEMAND_TTL_ROUNDS`] is forgotten. A receiver
//! averages the capacity into its own (so the cluster converges on one estimate) and keeps
//! the freshest demand of each writer. Reports count only from addresses that proved they
//! receive (see `verify`): flow control is not for whoever claims an address to steer.
//!
//! A writer's share is max-min fair: capacity is split equally among the writers, a writer
//! that wants less than an equal split gets what it wants and the rest is split among the
//! others; when the writers want less than the capacity altogether, each gets its demand plus
//! an equal part of what is left. This is the paper's goal, every writer that wants to write
//! gets the same rate under load. Plain shares proportional to demand would freeze whatever
//! split writers that wait for their turn happen to start with, so a writer that was refused
//! during a round reports at least twice its share: it wants more than it gets.
//!
//! # Enforcement: a token bucket
//!
//! Local writes ([`crate::Node::set`], `set_with_ttl`, `delete`) cost their key and value
//! bytes plus a small overhead, paid from a token bucket that fills at the node's share and
//! holds `flow.burst_rounds` rounds of it (at least `flow.min_burst_bytes`), so bursts go
//! through at once. A write is admitted while the bucket is not empty (a large value may
//! take it below zero); otherwise it is refused with [`crate::WriteError::RateLimited`],
//! which says how long until the bucket holds enough again, and nothing changes. The
//! application decides which writes can wait: the library returns the error, the agent
//! answers HTTP 429 with `Retry-After`. Writes the node makes for itself (tags, keyring, the
//! `left` mark) are never refused.
//!
//! With `flow.enabled` off, nothing is refused and no report is sent; the local estimate is
//! still kept as advice ([`crate::Node::write_rate`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::Instant;
use crate::config::{ConfigError, FlowConfig};
use crate::node::WriteError;
use crate::wire::{Demand, FlowReport, size};

/// A writer's demand older than this many rounds is forgotten.
pub const DEMAND_TTL_ROUNDS: u64 = 30;
/// Most writers a node keeps the demand of.
pub const MAX_DEMANDS: usize = 64;
/// Most demands of others one report relays.
pub(crate) const MAX_RELAYED: usize = 4;
/// Largest flow report a node sends, in bytes (and never more than an eighth of the MTU):
/// demands that would exceed it are left out.
pub(crate) const MAX_REPORT_BYTES: usize = 160;
/// Bytes a write costs besides its key and value (version, lengths, its share of a block).
pub const WRITE_OVERHEAD: usize = 8;

/// Flow-control figures of one node, for metrics (see [`crate::Node::flow_status`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FlowStatus {
    /// Whether writes beyond the share are refused.
    pub enabled: bool,
    /// Estimated bytes of writes per round the cluster carries.
    pub capacity_bytes: f64,
    /// This node's share of it, in bytes per round.
    pub share_bytes: f64,
    /// Bytes per round this node wants to write (refused writes included), smoothed.
    pub demand_bytes: f64,
    /// Writers known to want to write, this node included if it does.
    pub writers: usize,
    /// Bytes this node may write at once right now.
    pub tokens_bytes: f64,
}

#[derive(Clone, Copy, Debug)]
struct Heard {
    bytes_per_round: u64,
    /// The round (ours) at which the writer reported it.
    round: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Flow {
    capacity: f64,
    overflowed: bool,
    backlog_bytes: usize,
    /// The next report says that its message's delta was cut.
    truncated: bool,
    /// Bytes of local writes attempted this round, refused ones included.
    attempted: f64,
    refused_this_round: bool,
    demand: f64,
    share: f64,
    peers: BTreeMap<Arc<str>, Heard>,
    tokens: f64,
    refilled_at: Instant,
    relay_cursor: usize,
}

fn min_capacity(mtu: usize) -> f64 {
    mtu as f64 / 2.0
}

fn max_capacity(mtu: usize) -> f64 {
    mtu as f64 * 64.0
}

/// The smallest demand a node counts for itself, so that an idle node may start writing.
fn demand_floor(mtu: usize) -> f64 {
    mtu as f64 / 4.0
}

/// The share of a writer wanting `own` among writers wanting `others`, of `capacity`:
/// max-min fair, with what nobody wants split equally.
pub(crate) fn fair_share(capacity: f64, own: f64, others: &[f64]) -> f64 {
    let n = others.len() + 1;
    let total = own + others.iter().sum::<f64>();
    if total <= capacity {
        return own + (capacity - total) / n as f64;
    }
    let mut all: Vec<f64> = others.to_vec();
    all.push(own);
    all.sort_by(f64::total_cmp);
    let mut remaining = capacity;
    for (i, d) in all.iter().enumerate() {
        let level = remaining / (n - i) as f64;
        if *d > level {
            return own.min(level);
        }
        remaining -= d;
    }
    own
}

impl Flow {
    pub(crate) fn new(mtu: usize, now: Instant) -> Self {
        // Optimistic, as TCP's slow start is not: a fresh node may bulk-load a few hundred KB
        // at once, and the first rounds of overflow halve the estimate down to what the
        // cluster carries.
        let capacity = max_capacity(mtu);
        Flow {
            capacity,
            overflowed: false,
            backlog_bytes: 0,
            truncated: false,
            attempted: 0.0,
            refused_this_round: false,
            demand: 0.0,
            share: capacity,
            peers: BTreeMap::new(),
            tokens: f64::INFINITY,
            refilled_at: now,
            relay_cursor: 0,
        }
    }

    /// A delta left `missing` bytes behind; the next report says so.
    pub(crate) fn overflow(&mut self, missing: usize) {
        self.overflowed = true;
        self.truncated = true;
        self.backlog_bytes = self.backlog_bytes.max(missing);
    }

    /// Called once per round, `round` being the round that starts: demand, AIMD, share.
    pub(crate) fn end_round(&mut self, round: u64, mtu: usize) {
        let mut sample = self.attempted;
        if self.refused_this_round {
            sample = sample.max(2.0 * self.share);
        }
        self.demand = 0.5 * self.demand + 0.5 * sample;
        if self.demand < 1.0 {
            self.demand = 0.0;
        }
        self.attempted = 0.0;
        self.refused_this_round = false;
        self.peers.retain(|_, h| round.saturating_sub(h.round) <= DEMAND_TTL_ROUNDS);
        let wanted = self.demand + self.peers.values().map(|h| h.bytes_per_round as f64).sum::<f64>();
        if self.overflowed {
            self.capacity /= 2.0;
        } else {
            self.backlog_bytes = 0;
            if wanted * 2.0 >= self.capacity {
                self.capacity += mtu as f64 / 8.0;
            }
        }
        self.capacity = self.capacity.clamp(min_capacity(mtu), max_capacity(mtu));
        self.overflowed = false;
        self.truncated = false;
        let others: Vec<f64> = self.peers.values().map(|h| h.bytes_per_round as f64).collect();
        self.share = fair_share(self.capacity, self.demand.max(demand_floor(mtu)), &others);
    }

    /// A report from a verified peer arrived.
    pub(crate) fn learn(&mut self, report: &FlowReport, me: &str, round: u64, mtu: usize) {
        let theirs = (report.capacity as f64).clamp(min_capacity(mtu), max_capacity(mtu));
        self.capacity = (self.capacity + theirs) / 2.0;
        if report.truncated {
            // Not passed on: an echoed flag would keep every node decreasing forever.
            self.overflowed = true;
        }
        for d in &report.demands {
            if d.name == me || u64::from(d.age) > DEMAND_TTL_ROUNDS {
                continue;
            }
            let heard = Heard {
                bytes_per_round: d.bytes_per_round.min(max_capacity(mtu) as u64),
                round: round.saturating_sub(u64::from(d.age)),
            };
            if let Some(h) = self.peers.get_mut(d.name.as_str()) {
                if heard.round > h.round {
                    *h = heard;
                }
                continue;
            }
            if self.peers.len() >= MAX_DEMANDS {
                // The stalest goes, if it is staler than this one (ties by name).
                let stalest = self.peers.iter().min_by_key(|(name, h)| (h.round, Arc::clone(name)));
                match stalest {
                    Some((name, h)) if h.round < heard.round => {
                        let name = Arc::clone(name);
                        self.peers.remove(&name);
                    }
                    _ => continue,
                }
            }
            self.peers.insert(Arc::from(d.name.as_str()), heard);
        }
    }

    /// The demands the next report carries: our own if we write, then up to
    /// [`MAX_RELAYED`] of others from the rotating cursor, within `limit` bytes of report.
    fn demands(&self, me: &str, round: u64, limit: usize) -> Vec<Demand> {
        let mut out = Vec::new();
        let mut used = size::flow_report_head(self.capacity as u64, MAX_RELAYED + 1);
        let mut push = |name: &str, bytes_per_round: u64, age: u32| {
            let len = size::demand(name.len(), bytes_per_round, age);
            if used + len <= limit {
                used += len;
                out.push(Demand { name: name.to_string(), bytes_per_round, age });
            }
        };
        if self.demand >= 1.0 {
            push(me, self.demand as u64, 0);
        }
        let n = self.peers.len();
        let start = if n == 0 { 0 } else { self.relay_cursor % n };
        for (name, h) in self.peers.iter().skip(start).chain(self.peers.iter().take(start)).take(MAX_RELAYED) {
            let age = u32::try_from(round.saturating_sub(h.round)).unwrap_or(u32::MAX);
            push(name, h.bytes_per_round, age);
        }
        out
    }

    /// Bytes the next report takes on the wire.
    pub(crate) fn report_size(&self, me: &str, round: u64, limit: usize) -> usize {
        let demands = self.demands(me, round, limit);
        size::flow_report_head(self.capacity as u64, demands.len())
            + demands.iter().map(|d| size::demand(d.name.len(), d.bytes_per_round, d.age)).sum::<usize>()
    }

    /// The report for the message being built (clears the truncation flag).
    pub(crate) fn report(&mut self, me: &str, round: u64, limit: usize) -> FlowReport {
        let demands = self.demands(me, round, limit);
        self.relay_cursor = self.relay_cursor.wrapping_add(MAX_RELAYED);
        FlowReport { capacity: self.capacity as u64, truncated: std::mem::take(&mut self.truncated), demands }
    }

    fn burst(&self, config: &FlowConfig) -> f64 {
        (self.share * f64::from(config.burst_rounds)).max(config.min_burst_bytes as f64)
    }

    /// What the bucket holds at `now`.
    fn tokens_at(&self, now: Instant, interval: Duration, config: &FlowConfig) -> f64 {
        let elapsed = now.as_micros().saturating_sub(self.refilled_at.as_micros());
        let per_us = self.share / interval.as_micros().max(1) as f64;
        (self.tokens + per_us * elapsed as f64).min(self.burst(config))
    }

    fn refill(&mut self, now: Instant, interval: Duration, config: &FlowConfig) {
        self.tokens = self.tokens_at(now, interval, config);
        self.refilled_at = Instant::from_micros(self.refilled_at.as_micros().max(now.as_micros()));
    }

    /// A local write of `cost` bytes at `now`: admitted, or refused with how long to wait.
    /// Either way it counts toward this node's demand.
    pub(crate) fn admit(
        &mut self,
        now: Instant,
        cost: usize,
        interval: Duration,
        config: &FlowConfig,
    ) -> Result<(), Duration> {
        self.attempted += cost as f64;
        if !config.enabled {
            return Ok(());
        }
        self.refill(now, interval, config);
        if self.tokens > 0.0 {
            self.tokens -= cost as f64;
            return Ok(());
        }
        self.refused_this_round = true;
        // The first whole microsecond at which the bucket holds more than nothing.
        let per_us = self.share / interval.as_micros().max(1) as f64;
        let wait = (-self.tokens / per_us).floor() + 1.0;
        Err(Duration::from_micros(if wait.is_finite() { wait as u64 } else { u64::MAX / 2 }))
    }

    /// This node's share, in bytes per round.
    pub(crate) fn rate(&self) -> f64 {
        self.share
    }

    pub(crate) fn backlog_bytes(&self) -> usize {
        self.backlog_bytes
    }

    pub(crate) fn status(&self, now: Instant, interval: Duration, config: &FlowConfig) -> FlowStatus {
        FlowStatus {
            enabled: config.enabled,
            capacity_bytes: self.capacity,
            share_bytes: self.share,
            demand_bytes: self.demand,
            writers: self.peers.len() + usize::from(self.demand > 0.0),
            tokens_bytes: if config.enabled { self.tokens_at(now, interval, config) } else { f64::INFINITY },
        }
    }
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;

impl crate::node::Node {
    /// The flow report for the message being built; `None` without flow control.
    pub(crate) fn flow_report(&mut self) -> Option<FlowReport> {
        if !self.config.flow.enabled {
            return None;
        }
        let me = Arc::clone(&self.members.me().id.name);
        Some(self.flow.report(&me, self.round, self.report_limit()))
    }

    /// Bytes the flow report of the next message takes (what datagram budgets leave for it).
    pub(crate) fn flow_room(&self) -> usize {
        if !self.config.flow.enabled {
            return 0;
        }
        self.flow.report_size(&self.members.me().id.name, self.round, self.report_limit())
    }

    fn report_limit(&self) -> usize {
        MAX_REPORT_BYTES.min(self.config.mtu / 8)
    }

    /// A message from `from` carried `report`.
    pub(crate) fn learn_flow(&mut self, from: std::net::SocketAddr, report: &FlowReport) {
        if !self.config.flow.enabled {
            return;
        }
        if !self.verifier.is_verified(from, self.now) {
            self.stats.flow_reports_ignored += 1;
            return;
        }
        self.stats.truncation_signals += u64::from(report.truncated);
        let me = Arc::clone(&self.members.me().id.name);
        self.flow.learn(report, &me, self.round, self.config.mtu);
    }

    /// Pays for a local write of `key` and `value_len` bytes, or refuses it (nothing changes
    /// but the demand and the refusal count).
    pub(crate) fn admit_write(&mut self, now: Instant, key: &str, value_len: usize) -> Result<(), WriteError> {
        let cost = key.len() + value_len + WRITE_OVERHEAD;
        let interval = self.config.gossip_interval;
        match self.flow.admit(now, cost, interval, &self.config.flow) {
            Ok(()) => Ok(()),
            Err(retry_after) => {
                self.stats.writes_refused += 1;
                Err(WriteError::RateLimited { retry_after })
            }
        }
    }

    /// Flow-control figures: capacity, this node's share and demand, known writers and the
    /// bytes it may write at once (see the `flow` module).
    pub fn flow_status(&self) -> FlowStatus {
        self.flow.status(self.now, self.config.gossip_interval, &self.config.flow)
    }

    /// Changes the largest datagram, as a driver that learns a new path MTU would. Packets
    /// already sent or queued keep their size; packets above the new MTU are refused on
    /// arrival. The same bounds as [`crate::Config::validate`] apply; on error nothing changes.
    pub fn set_mtu(&mut self, mtu: usize) -> Result<(), ConfigError> {
        let mut config = self.config.clone();
        config.mtu = mtu;
        config.validate()?;
        self.config.mtu = mtu;
        self.codec.max_len = mtu;
        Ok(())
    }
}
