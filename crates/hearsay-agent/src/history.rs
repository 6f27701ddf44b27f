//! What the agent remembers for the dashboard and `/metrics`: the last [`EVENT_HISTORY`]
//! events with their local arrival time, and one sample a second of rates and member health
//! over the last [`SAMPLES`] seconds. Everything is bounded; nothing here talks to the node
//! task (it reads the published [`hearsay::View`]), so a page reading it cannot slow gossip.
//!
//! Times are this machine's wall clock (`at_ms`, Unix milliseconds). They are comparable
//! between the nodes of one process (`hearsay demo`), not between machines.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use hearsay::Cluster;
use hearsay_core::wire::MessageType;
use hearsay_core::{MemberStatus, RESERVED_PREFIX};
use serde::Serialize;

use crate::api::EventJson;

/// Events kept.
pub(crate) const EVENT_HISTORY: usize = 1000;
/// Seconds of cluster-wide samples kept (five minutes).
pub(crate) const SAMPLES: usize = 300;
/// Samples kept per member (two minutes).
pub(crate) const MEMBER_SAMPLES: usize = 120;
/// Time between samples.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// Samples the write rate is averaged over.
const WRITE_RATE_WINDOW: usize = 10;

/// One remembered event.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct HistoryEvent {
    /// Position in the agent's history (starts at 1, never reused).
    pub seq: u64,
    /// Local arrival, Unix milliseconds.
    pub at_ms: u64,
    /// The event.
    #[serde(flatten)]
    pub event: EventJson,
}

/// Counters per second over one sampling period.
#[derive(Debug, Clone, Serialize, Default)]
pub(crate) struct Sample {
    /// End of the period, Unix milliseconds.
    pub at_ms: u64,
    /// Messages sent per second, by message type.
    pub messages_sent: BTreeMap<&'static str, f64>,
    /// Messages received per second, by message type.
    pub messages_received: BTreeMap<&'static str, f64>,
    /// Bytes sent per second, by message type.
    pub bytes_sent: BTreeMap<&'static str, f64>,
    /// Bytes received per second, by message type.
    pub bytes_received: BTreeMap<&'static str, f64>,
    /// Inputs dropped per second, by reason (reasons with none left out).
    pub dropped: BTreeMap<&'static str, f64>,
    /// Members by status at the end of the period.
    pub members: BTreeMap<&'static str, usize>,
    /// Versions this node gave to its own keys per second (writes and deletes).
    pub writes: f64,
}

/// One member's health at one sample.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct MemberSample {
    /// Unix milliseconds.
    pub at_ms: u64,
    /// Phi (`None` when infinite).
    pub phi: Option<f64>,
    /// The latest direct-probe round trip, milliseconds (`None` before any).
    pub rtt_ms: Option<f64>,
    /// Status.
    pub status: &'static str,
}

#[derive(Default)]
struct Inner {
    events: VecDeque<HistoryEvent>,
    next_seq: u64,
    samples: VecDeque<Sample>,
    members: HashMap<String, VecDeque<MemberSample>>,
    /// Own `max_version` at each of the last samples, for the write rate.
    own_versions: VecDeque<u64>,
}

/// The agent's bounded memory of one node. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct History {
    inner: Arc<Mutex<Inner>>,
}

/// Unix milliseconds now.
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Counters read from a view, for differencing.
#[derive(Default, Clone)]
struct Totals {
    sent: [(u64, u64); MessageType::ALL.len()],
    received: [(u64, u64); MessageType::ALL.len()],
    dropped: BTreeMap<&'static str, u64>,
}

impl Totals {
    fn of(view: &hearsay::View) -> Totals {
        let core = &view.stats.core;
        let mut t = Totals { dropped: core.dropped.clone(), ..Totals::default() };
        for (i, ty) in MessageType::ALL.into_iter().enumerate() {
            let (s, r) = (core.sent_of(ty), core.received_of(ty));
            t.sent[i] = (s.messages, s.bytes);
            t.received[i] = (r.messages, r.bytes);
        }
        t
    }
}

impl History {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts remembering `cluster`'s events and sampling its view; the tasks end when the
    /// node stops.
    pub(crate) fn spawn(cluster: &Cluster) -> History {
        let history = History::default();
        let mut events = cluster.subscribe();
        let (this, cluster) = (history.clone(), cluster.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last: Option<(Totals, std::time::Instant)> = None;
            loop {
                tokio::select! {
                    event = events.next() => match event {
                        Some(event) => {
                            let json = match &event {
                                Ok(event) => EventJson::from_event(event, cluster.id()),
                                Err(lagged) => Some(EventJson::lagged(lagged.missed)),
                            };
                            if let Some(json) = json {
                                this.record(json, unix_ms());
                            }
                        }
                        // The node stopped.
                        None => break,
                    },
                    _ = tick.tick() => {
                        let view = cluster.view();
                        if view.sequence == 0 {
                            continue;
                        }
                        let totals = Totals::of(&view);
                        if let Some((previous, at)) = &last {
                            let secs = view.published_at.saturating_duration_since(*at).as_secs_f64();
                            if secs > 0.0 {
                                this.sample(&view, previous, &totals, secs, unix_ms());
                            }
                        }
                        last = Some((totals, view.published_at));
                    }
                }
            }
        });
        history
    }

    /// Remembers one event (reserved keys are protocol state, never shown).
    pub(crate) fn record(&self, event: EventJson, at_ms: u64) {
        if event.key.as_deref().is_some_and(|k| k.starts_with(RESERVED_PREFIX)) {
            return;
        }
        let mut inner = self.lock();
        inner.next_seq += 1;
        let seq = inner.next_seq;
        if inner.events.len() == EVENT_HISTORY {
            inner.events.pop_front();
        }
        inner.events.push_back(HistoryEvent { seq, at_ms, event });
    }

    fn sample(&self, view: &hearsay::View, previous: &Totals, now: &Totals, secs: f64, at_ms: u64) {
        let rate = |a: u64, b: u64| b.saturating_sub(a) as f64 / secs;
        let mut sample = Sample { at_ms, ..Sample::default() };
        for (i, ty) in MessageType::ALL.into_iter().enumerate() {
            let name = ty.as_str();
            sample.messages_sent.insert(name, rate(previous.sent[i].0, now.sent[i].0));
            sample.bytes_sent.insert(name, rate(previous.sent[i].1, now.sent[i].1));
            sample.messages_received.insert(name, rate(previous.received[i].0, now.received[i].0));
            sample.bytes_received.insert(name, rate(previous.received[i].1, now.received[i].1));
        }
        for (reason, n) in &now.dropped {
            let d = rate(previous.dropped.get(reason).copied().unwrap_or(0), *n);
            if d > 0.0 {
                sample.dropped.insert(reason, d);
            }
        }
        for status in [MemberStatus::Alive, MemberStatus::Suspect, MemberStatus::Dead, MemberStatus::Left] {
            sample.members.insert(status.as_str(), 0);
        }
        let mut own_version = 0;
        let mut inner = self.lock();
        for m in &view.members {
            *sample.members.entry(m.status.as_str()).or_default() += 1;
            if m.is_self {
                own_version = m.max_version;
                continue;
            }
            let series = inner.members.entry(m.id.name.to_string()).or_default();
            if series.len() == MEMBER_SAMPLES {
                series.pop_front();
            }
            series.push_back(MemberSample {
                at_ms,
                phi: m.phi.is_finite().then_some(m.phi),
                rtt_ms: view.last_rtt.get(&m.id.addr).map(|d| d.as_secs_f64() * 1000.0),
                status: m.status.as_str(),
            });
        }
        // Forget members the node forgot.
        inner.members.retain(|name, _| view.members.iter().any(|m| &*m.id.name == name.as_str()));
        if let Some(previous) = inner.own_versions.back() {
            sample.writes = own_version.saturating_sub(*previous) as f64 / secs;
        }
        if inner.own_versions.len() > WRITE_RATE_WINDOW {
            inner.own_versions.pop_front();
        }
        inner.own_versions.push_back(own_version);
        if inner.samples.len() == SAMPLES {
            inner.samples.pop_front();
        }
        inner.samples.push_back(sample);
    }

    /// Events after `after` (a `seq`), oldest first, at most `limit`.
    pub(crate) fn events(&self, after: u64, limit: usize) -> Vec<HistoryEvent> {
        self.lock().events.iter().filter(|e| e.seq > after).take(limit).cloned().collect()
    }

    /// The most recent event about `key` of `owner` at `version` or later.
    pub(crate) fn arrival(&self, owner: &str, key: &str, version: u64) -> Option<HistoryEvent> {
        let inner = self.lock();
        // The first arrival of a version at least `version`: versions only grow.
        inner
            .events
            .iter()
            .find(|e| {
                e.event.kind == "key_changed"
                    && e.event.node == owner
                    && e.event.key.as_deref() == Some(key)
                    && e.event.version.is_some_and(|v| v >= version)
            })
            .cloned()
    }

    /// Cluster-wide samples, oldest first.
    pub(crate) fn samples(&self) -> Vec<Sample> {
        self.lock().samples.iter().cloned().collect()
    }

    /// One member's samples, oldest first.
    pub(crate) fn member(&self, name: &str) -> Vec<MemberSample> {
        self.lock().members.get(name).map(|s| s.iter().copied().collect()).unwrap_or_default()
    }

    /// Own versions per second over the last samples (writes and deletes of own keys).
    pub(crate) fn write_rate(&self) -> f64 {
        let inner = self.lock();
        match (inner.own_versions.front(), inner.own_versions.back()) {
            (Some(first), Some(last)) if inner.own_versions.len() > 1 => {
                last.saturating_sub(*first) as f64
                    / ((inner.own_versions.len() - 1) as f64 * SAMPLE_EVERY.as_secs_f64())
            }
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ValueJson;

    fn key_event(key: &str, version: u64) -> EventJson {
        EventJson {
            kind: "key_changed".into(),
            node: "a".into(),
            generation: 1,
            addr: "127.0.0.1:1".into(),
            phi: None,
            key: Some(key.into()),
            value: ValueJson::new(b"v"),
            deleted: Some(false),
            version: Some(version),
            holder: None,
            refused: None,
            missed: None,
            name: None,
            ltime: None,
            tags: None,
        }
    }

    #[test]
    fn the_event_ring_keeps_the_last_thousand_and_hides_reserved_keys() {
        let history = History::default();
        history.record(key_event("__keyring", 1), 1);
        for i in 0..1500 {
            history.record(key_event("k", i), 10 + i);
        }
        let all = history.events(0, usize::MAX);
        assert_eq!(all.len(), EVENT_HISTORY);
        assert_eq!(all[0].event.version, Some(500));
        assert!(all.iter().all(|e| e.event.key.as_deref() == Some("k")));
        // Sequence numbers let a reader continue where it stopped.
        let after = all[998].seq;
        assert_eq!(history.events(after, 10).len(), 1);
        // The first arrival of version 700 or later.
        assert_eq!(history.arrival("a", "k", 700).map(|e| e.at_ms), Some(710));
        assert!(history.arrival("a", "k", 5000).is_none());
        assert!(history.arrival("b", "k", 700).is_none());
    }
}
