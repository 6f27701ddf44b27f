//! User events in the simulator: send one from a node, and record every delivery.

use std::sync::Arc;

use hearsay_core::Instant;

use super::{Sim, SimError};

/// One user event delivered to one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserDelivery {
    /// Virtual time (µs) of the delivery.
    pub at: u64,
    /// The node that delivered it.
    pub slot: usize,
    /// The sending member.
    pub origin: Arc<str>,
    /// The event's name.
    pub name: Arc<str>,
    /// The origin's Lamport time.
    pub ltime: u64,
}

impl Sim {
    /// `slot` sends a user event to every live member (see `Node::send_event`). Returns the
    /// event's Lamport time; deliveries appear in [`Sim::user_events`].
    pub fn send_event(&mut self, slot: usize, name: &str, payload: &[u8], coalesce: bool) -> Result<u64, SimError> {
        let now = Instant::from_micros(self.now);
        let node = self.slots.get_mut(slot).and_then(|s| s.node.as_mut()).ok_or(SimError::NotRunning(slot))?;
        let ltime = node.send_event(now, name, payload, coalesce).map_err(|source| SimError::Event { slot, source })?;
        self.after_input(slot);
        Ok(ltime)
    }
}
