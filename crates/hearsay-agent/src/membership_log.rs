//! What the agent says about membership: one log line per change (joined, alive again,
//! suspect, dead, left, removed, name conflict), and the one event it must act on, its own
//! name refused because a live member holds it.
//!
//! Suspicions and deaths are warnings, the rest is information. A death names the member that
//! raised the suspicion leading to it, when this node heard of it (`suspected_by`): the core's
//! `MemberDead` does not carry it, so the last accuser of each member is remembered here.

use std::collections::HashMap;
use std::sync::Arc;

use hearsay::{Event, Subscription};
use tokio::sync::watch;

/// What the agent must do after an event.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reaction {
    /// Nothing beyond the log line.
    Continue,
    /// Another live process holds this node's name: stop without leaving (a leave would
    /// announce the name as gone while its holder runs) and exit with this message.
    NameRefused(String),
}

/// The message of a refused name.
pub(crate) fn name_refused_message(name: &str, holder: std::net::SocketAddr) -> String {
    format!("name {name} is already used by a live member at {holder}")
}

/// Logs events; remembers who suspected whom.
#[derive(Debug, Default)]
pub(crate) struct MembershipLog {
    /// The member whose failed probes made each suspect member suspect, by name.
    accusers: HashMap<Arc<str>, Arc<str>>,
}

impl MembershipLog {
    /// Logs `event` if it is a membership change; says what the agent must do.
    pub(crate) fn handle(&mut self, event: &Event) -> Reaction {
        match event {
            Event::MemberJoined(id) => {
                self.accusers.remove(&id.name);
                tracing::info!(member = %id.name, addr = %id.addr, generation = id.generation, "member joined");
            }
            Event::MemberAlive(id) => {
                self.accusers.remove(&id.name);
                tracing::info!(member = %id.name, addr = %id.addr, generation = id.generation, "member alive again");
            }
            Event::MemberSuspect { id, phi_centi, by } => {
                self.accusers.insert(id.name.clone(), by.clone());
                let phi = *phi_centi as f64 / 100.0;
                tracing::warn!(member = %id.name, addr = %id.addr, %by, phi, "member suspect");
            }
            Event::MemberDead(id) => match self.accusers.get(&id.name) {
                Some(by) => tracing::warn!(member = %id.name, addr = %id.addr, suspected_by = %by, "member dead"),
                None => tracing::warn!(member = %id.name, addr = %id.addr, "member dead"),
            },
            Event::MemberLeft(id) => {
                self.accusers.remove(&id.name);
                tracing::info!(member = %id.name, addr = %id.addr, "member left");
            }
            Event::MemberRemoved(id) => {
                self.accusers.remove(&id.name);
                tracing::info!(member = %id.name, addr = %id.addr, "member removed (forgotten after the grace period)");
            }
            Event::NameConflict { name, holder, claimant, refused: true } => {
                let message = name_refused_message(name, *holder);
                tracing::error!(%name, %holder, %claimant, "{message}");
                return Reaction::NameRefused(message);
            }
            Event::NameConflict { name, holder, claimant, refused: false } => {
                tracing::warn!(%name, %holder, %claimant, "another process at {claimant} claimed name {name}; kept");
            }
            _ => {}
        }
        Reaction::Continue
    }
}

/// Logs every membership change of `events` until the node stops; raises `refused` with the
/// message if this node's name is refused.
pub(crate) async fn run(mut events: Subscription, refused: watch::Sender<Option<String>>) {
    let mut log = MembershipLog::default();
    while let Some(event) = events.recv().await {
        match event {
            Ok(event) => {
                if let Reaction::NameRefused(message) = log.handle(&event) {
                    refused.send_replace(Some(message));
                }
            }
            Err(lagged) => tracing::warn!(missed = lagged.missed, "membership log fell behind: events missing"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use hearsay::NodeId;

    use super::*;

    /// Log output captured in memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The log lines `events` produce, and the reactions.
    fn logged(events: &[Event]) -> (Vec<String>, Vec<Reaction>) {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
        let reactions = tracing::subscriber::with_default(subscriber, || {
            let mut log = MembershipLog::default();
            events.iter().map(|e| log.handle(e)).collect()
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        (text.lines().map(str::to_owned).collect(), reactions)
    }

    fn id(name: &str) -> NodeId {
        NodeId::new(name, 7, "10.0.0.2:7946".parse().unwrap())
    }

    #[test]
    fn membership_changes_are_logged_with_their_level_and_accuser() {
        let events = [
            Event::MemberJoined(id("n2")),
            Event::MemberSuspect { id: id("n2"), phi_centi: 250, by: "n3".into() },
            Event::MemberAlive(id("n2")),
            Event::MemberSuspect { id: id("n2"), phi_centi: 900, by: "n4".into() },
            Event::MemberDead(id("n2")),
            Event::MemberDead(id("n5")),
            Event::MemberLeft(id("n6")),
            Event::MemberRemoved(id("n6")),
        ];
        let (lines, reactions) = logged(&events);
        assert!(reactions.iter().all(|r| *r == Reaction::Continue));
        let expect = [
            ("INFO", "member joined", "member=n2"),
            ("WARN", "member suspect", "by=n3"),
            ("INFO", "member alive again", "member=n2"),
            ("WARN", "member suspect", "by=n4"),
            ("WARN", "member dead", "suspected_by=n4"),
            ("WARN", "member dead", "member=n5"),
            ("INFO", "member left", "member=n6"),
            ("INFO", "member removed", "member=n6"),
        ];
        assert_eq!(lines.len(), expect.len(), "{lines:#?}");
        for (line, (level, message, field)) in lines.iter().zip(expect) {
            assert!(line.contains(level) && line.contains(message) && line.contains(field), "{line}");
        }
        assert!(!lines[5].contains("suspected_by"), "{}", lines[5]);
    }

    #[test]
    fn a_refused_name_stops_the_agent_and_a_kept_one_is_a_warning() {
        let holder = "10.0.0.1:7946".parse().unwrap();
        let claimant = "10.0.0.9:7946".parse().unwrap();
        let kept = Event::NameConflict { name: "n1".into(), holder, claimant, refused: false };
        let refused = Event::NameConflict { name: "n1".into(), holder, claimant, refused: true };
        let (lines, reactions) = logged(&[kept, refused]);
        assert_eq!(
            reactions,
            vec![
                Reaction::Continue,
                Reaction::NameRefused("name n1 is already used by a live member at 10.0.0.1:7946".into())
            ]
        );
        assert!(
            lines[0].contains("WARN") && lines[0].contains("another process at 10.0.0.9:7946 claimed name n1; kept")
        );
        assert!(
            lines[1].contains("ERROR")
                && lines[1].contains("name n1 is already used by a live member at 10.0.0.1:7946")
        );
    }
}
