//! What the engine records about a run besides the nodes' own counters.

use std::sync::Arc;

/// Counters kept by the engine itself (they survive crashes, unlike a node's stats).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Transmits handed to the network.
    pub sent: u64,
    /// Bytes handed to the network.
    pub sent_bytes: u64,
    /// Packets delivered to a node.
    pub delivered: u64,
    /// Packets dropped by loss or one-way loss.
    pub lost: u64,
    /// Packets dropped by a partition.
    pub partitioned: u64,
    /// Packets that arrived at a down node.
    pub to_down: u64,
    /// Extra copies made by duplication.
    pub duplicated: u64,
    /// Packets the receiver rejected.
    pub rejected: u64,
    /// Times a node asked to be woken at the instant it had just been woken at (re-armed
    /// [`TIMER_SPIN_DELAY_US`] later instead).
    pub timer_spins: u64,
}

/// Delay before re-waking a node whose `poll_timeout` is the instant it was just woken at.
pub const TIMER_SPIN_DELAY_US: u64 = 1_000;

/// A suspicion or death declared by a node (recorded by the engine).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LivenessEvent {
    /// Virtual time, microseconds.
    pub at: u64,
    /// The slot whose node declared it.
    pub observer: usize,
    /// The member it is about.
    pub subject: Arc<str>,
    /// Dead (else suspect).
    pub dead: bool,
}
