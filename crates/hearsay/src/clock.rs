//! Maps tokio's clock to the core's [`hearsay_core::Instant`]: microseconds since the node
//! task started.

use std::time::Duration;

use hearsay_core::Instant;

/// The node task's time origin.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    origin: tokio::time::Instant,
}

impl Clock {
    pub(crate) fn start() -> Self {
        Clock { origin: tokio::time::Instant::now() }
    }

    /// The core's view of now.
    pub(crate) fn now(&self) -> Instant {
        let micros = u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX);
        Instant::from_micros(micros)
    }

    /// The tokio instant for a core instant (for `sleep_until`).
    pub(crate) fn to_tokio(self, at: Instant) -> tokio::time::Instant {
        self.origin + Duration::from_micros(at.as_micros())
    }
}
