//! [`Subscription`]: a stream of a node's events that can fall behind but never holds the
//! node back; when it does fall behind, it says how many events it missed.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};
use hearsay_core::Event;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::cluster::Counters;

/// A subscription fell behind and lost its `missed` oldest events; the ones after it follow.
///
/// Whatever the subscriber derives from events (a membership list, a cache of values) may now
/// be stale: rebuild it from [`crate::Cluster::members`] or [`crate::Cluster::snapshot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged {
    /// How many events were lost.
    pub missed: u64,
}

impl std::fmt::Display for Lagged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the subscriber fell behind and missed {} events", self.missed)
    }
}

impl std::error::Error for Lagged {}

/// Events of one node, from [`crate::Cluster::subscribe`] or
/// [`crate::Cluster::subscribe_prefix`]. A [`Stream`] of `Ok(event)`, with an `Err(Lagged)`
/// item wherever the subscriber fell behind and events were lost; ends when the node stops.
pub struct Subscription {
    events: BroadcastStream<Event>,
    prefix: Option<String>,
    counters: Arc<Counters>,
    lagged: u64,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("prefix", &self.prefix).field("lagged", &self.lagged).finish()
    }
}

impl Subscription {
    pub(crate) fn new(receiver: broadcast::Receiver<Event>, prefix: Option<String>, counters: Arc<Counters>) -> Self {
        Subscription { events: BroadcastStream::new(receiver), prefix, counters, lagged: 0 }
    }

    /// The next event, `Err(Lagged)` where events were lost, or `None` once the node has
    /// stopped.
    pub async fn recv(&mut self) -> Option<Result<Event, Lagged>> {
        self.next().await
    }

    /// Events this subscription lost in all because it fell behind.
    pub fn lagged(&self) -> u64 {
        self.lagged
    }

    fn wants(&self, event: &Event) -> bool {
        match (&self.prefix, event) {
            (Some(prefix), Event::KeyChanged { key, .. }) => key.starts_with(prefix.as_str()),
            _ => true,
        }
    }
}

impl Stream for Subscription {
    type Item = Result<Event, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match self.events.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(n)))) => {
                    self.lagged += n;
                    Counters::add(&self.counters.events_lagged, n);
                    return Poll::Ready(Some(Err(Lagged { missed: n })));
                }
                Poll::Ready(Some(Ok(event))) => {
                    if self.wants(&event) {
                        return Poll::Ready(Some(Ok(event)));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn prefixed_subscriptions_filter_key_changes_only_and_pass_name_conflicts() {
        let (tx, rx) = broadcast::channel(8);
        let mut events = Subscription::new(rx, Some("load".into()), Arc::default());
        let owner = hearsay_core::NodeId::new("n1", 1, "127.0.0.1:1".parse().unwrap());
        let key = |key: &str| Event::KeyChanged { owner: owner.clone(), key: key.into(), value: None, version: 1 };
        let conflict = Event::NameConflict {
            name: "n1".into(),
            holder: "127.0.0.1:1".parse().unwrap(),
            claimant: "127.0.0.1:2".parse().unwrap(),
            refused: false,
        };
        for event in [key("other"), conflict.clone(), key("load/cpu")] {
            tx.send(event).unwrap();
        }
        drop(tx);
        assert_eq!(events.recv().await, Some(Ok(conflict)));
        assert_eq!(events.recv().await, Some(Ok(key("load/cpu"))));
        assert_eq!(events.recv().await, None);
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_how_many_events_it_missed() {
        let (tx, rx) = broadcast::channel(2);
        let counters = Arc::new(Counters::default());
        let mut events = Subscription::new(rx, None, counters.clone());
        let joined = |n: u64| Event::MemberJoined(hearsay_core::NodeId::new("n", n, "127.0.0.1:1".parse().unwrap()));
        for n in 1..=5 {
            tx.send(joined(n)).unwrap();
        }
        drop(tx);
        assert_eq!(events.recv().await, Some(Err(Lagged { missed: 3 })));
        assert_eq!(events.recv().await, Some(Ok(joined(4))));
        assert_eq!(events.recv().await, Some(Ok(joined(5))));
        assert_eq!(events.recv().await, None);
        assert_eq!(events.lagged(), 3);
        assert_eq!(counters.events_lagged.load(std::sync::atomic::Ordering::Relaxed), 3);
    }
}
