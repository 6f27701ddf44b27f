//! A deterministic discrete-event simulator for the hearsay protocol.
//!
//! This crate runs the unchanged `hearsay-core` state machines — thousands of
//! [`hearsay_core::Node`]s — on one virtual clock, over a modelled network (latency, loss,
//! one-way loss, duplication, reordering, partitions), with churn (crash, restart with a new
//! generation, join, graceful leave, pause), and checks invariants while it runs. It reads no
//! clock and spawns no thread: a run is a pure function of its seed, so a failure is replayed
//! exactly by its seed.
//!
//! Start from [`scenario::Params`] and [`report::run_many`] (what `hearsay sim` does), or drive
//! a [`Sim`] by hand: [`Sim::new`] with a [`SimConfig`], [`Sim::run_rounds`], writes with
//! [`Sim::set`] / [`Sim::delete`] (recorded in the [`model::Model`]), faults with
//! [`Sim::crash`], [`Sim::restart`], [`Sim::join`], [`Sim::leave`], [`Sim::pause`] and the
//! [`net::NetConfig`] in [`Sim::net`], and judge it with a [`check::Checker`] and
//! [`check::converged`].
//!
//! Rounds: a node's gossip rounds are jittered within the interval, so the simulator measures
//! rounds as virtual time elapsed since the write divided by the gossip interval, rounded up.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub)]

pub mod broadcast;
pub mod chart;
pub mod check;
pub mod deliveries;
pub mod flow;
pub mod model;
pub mod net;
pub mod record;
pub mod replay;
pub mod report;
pub mod scenario;
mod sim;
mod stats;
pub mod sweep;
pub mod textbook;
mod trace;

pub use sim::{
    Bootstrap, LivenessEvent, NetStats, Sim, SimConfig, SimError, Slot, TIMER_SPIN_DELAY_US, UserDelivery, Watch, mix,
    slot_addr, slot_name,
};
