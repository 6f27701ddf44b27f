//! `GET /metrics`: the Prometheus text exposition format (version 0.0.4).
//!
//! [`render`] is a pure function of what the cluster reports, so its output is tested without a
//! network. Metric names are listed in `docs/agent.md`.

use std::collections::BTreeMap;
use std::fmt::Write;

use hearsay_core::wire::MessageType;
use hearsay_core::{MemberInfo, MemberStatus, Stats};

/// A driver-level counter: name (without the `hearsay_` prefix), help text, value.
pub(crate) type DriverCounter = (&'static str, &'static str, u64);
/// A driver-level gauge: name (without the `hearsay_` prefix), help text, value.
pub(crate) type DriverGauge = (&'static str, &'static str, f64);

/// Everything `/metrics` shows.
pub(crate) struct MetricsInput<'a> {
    /// Members as this node sees them (itself included).
    pub members: &'a [MemberInfo],
    /// Protocol counters.
    pub stats: &'a Stats,
    /// Counters of the IO driver (send errors, stream frames...).
    pub driver: &'a [DriverCounter],
    /// Gauges of the IO driver (flow control, local health...).
    pub gauges: &'a [DriverGauge],
}

/// Escapes a label value (backslash, double quote, newline).
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP hearsay_{name} {help}");
    let _ = writeln!(out, "# TYPE hearsay_{name} {kind}");
}

/// Renders the exposition text.
pub(crate) fn render(input: &MetricsInput<'_>) -> String {
    let mut out = String::new();
    let me = input.members.iter().find(|m| m.is_self);

    header(&mut out, "members", "gauge", "Members known, by status as this node sees them.");
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for status in [MemberStatus::Alive, MemberStatus::Suspect, MemberStatus::Dead, MemberStatus::Left] {
        by_status.insert(status.as_str(), 0);
    }
    for m in input.members {
        *by_status.entry(m.status.as_str()).or_default() += 1;
    }
    for (status, n) in &by_status {
        let _ = writeln!(out, "hearsay_members{{status=\"{status}\"}} {n}");
    }

    header(&mut out, "phi", "gauge", "Phi accrual suspicion level per peer (+Inf when unbounded).");
    for m in input.members.iter().filter(|m| !m.is_self) {
        let phi = if m.phi.is_finite() { format!("{}", m.phi) } else { "+Inf".to_string() };
        let _ = writeln!(out, "hearsay_phi{{peer=\"{}\"}} {phi}", label(&m.id.name));
    }

    let counters: [(&str, &str, bool, bool); 4] = [
        ("messages_sent_total", "Messages sent, by type.", true, false),
        ("messages_received_total", "Messages received and decoded, by type.", false, false),
        ("bytes_sent_total", "Bytes sent (headers included), by type.", true, true),
        ("bytes_received_total", "Bytes received (headers included), by type.", false, true),
    ];
    for (name, help, sent, bytes) in counters {
        header(&mut out, name, "counter", help);
        for t in MessageType::ALL {
            let c = if sent { input.stats.sent_of(t) } else { input.stats.received_of(t) };
            let v = if bytes { c.bytes } else { c.messages };
            let _ = writeln!(out, "hearsay_{name}{{type=\"{}\"}} {v}", t.as_str());
        }
    }

    header(&mut out, "dropped_total", "counter", "Inputs dropped, by reason.");
    let mut dropped: BTreeMap<&str, u64> = hearsay_core::DROP_REASONS.iter().map(|r| (*r, 0)).collect();
    dropped.extend(input.stats.dropped.iter().map(|(r, n)| (*r, *n)));
    for (reason, n) in &dropped {
        let _ = writeln!(out, "hearsay_dropped_total{{reason=\"{}\"}} {n}", label(reason));
    }

    let st = input.stats;
    let scalars: [(&str, &str, u64); 10] = [
        ("rounds_total", "Gossip rounds run.", input.stats.rounds),
        ("probes_ok_total", "Probes answered in time, directly or through a relay.", st.probes_ok),
        ("probes_failed_total", "Probes that got no answer at all.", st.probes_failed),
        ("suspicions_raised_total", "Suspicions this node raised.", st.suspicions_raised),
        (
            "suspicions_withheld_total",
            "Suspicions not raised because this node judged itself unhealthy.",
            st.suspicions_withheld,
        ),
        ("refutations_total", "Times this node refuted a suspicion about itself.", st.refutations),
        ("stream_transmits_total", "Transmits sent over a TCP stream.", input.stats.stream_transmits),
        ("entries_applied_total", "Entries from peers that were new to this node.", input.stats.entries_applied),
        ("delta_overflows_total", "Deltas that did not fit in one message.", input.stats.delta_overflows),
        ("in_sync_total", "Exchanges ended early because checksums matched.", input.stats.in_sync),
    ];
    for (name, help, v) in scalars {
        header(&mut out, name, "counter", help);
        let _ = writeln!(out, "hearsay_{name} {v}");
    }
    for (name, help, v) in input.driver {
        header(&mut out, name, "counter", help);
        let _ = writeln!(out, "hearsay_{name} {v}");
    }
    for (name, help, v) in input.gauges {
        header(&mut out, name, "gauge", help);
        let _ = writeln!(out, "hearsay_{name} {v}");
    }

    if let Some(me) = me {
        header(&mut out, "generation", "gauge", "This node's generation.");
        let _ = writeln!(out, "hearsay_generation {}", me.id.generation);
        header(&mut out, "max_version", "gauge", "Highest version this node gave to one of its keys.");
        let _ = writeln!(out, "hearsay_max_version {}", me.max_version);
        header(&mut out, "own_keys", "gauge", "Live keys this node owns.");
        let _ = writeln!(out, "hearsay_own_keys {}", me.live_keys);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearsay_core::NodeId;

    fn member(name: &str, status: MemberStatus, phi: f64, is_self: bool) -> MemberInfo {
        MemberInfo {
            id: NodeId::new(name, 5, "127.0.0.1:1".parse().unwrap()),
            status,
            phi,
            max_version: 9,
            heartbeat: 1,
            live_keys: 2,
            is_self,
        }
    }

    #[test]
    fn renders_members_phi_messages_drops_and_rounds() {
        let members = vec![
            member("me", MemberStatus::Alive, 0.0, true),
            member("b", MemberStatus::Alive, 0.5, false),
            member("c\"x", MemberStatus::Dead, f64::INFINITY, false),
        ];
        let mut stats = Stats { rounds: 17, ..Stats::default() };
        stats.sent[0].messages = 4;
        stats.sent[0].bytes = 400;
        stats.received[3].messages = 2;
        stats.dropped.insert("foreign_cluster", 3);
        let text = render(&MetricsInput {
            members: &members,
            stats: &stats,
            driver: &[("udp_send_errors_total", "h", 6)],
            gauges: &[("health_score", "h", 2.0)],
        });
        for line in [
            "hearsay_members{status=\"alive\"} 2",
            "hearsay_members{status=\"dead\"} 1",
            "hearsay_members{status=\"suspect\"} 0",
            "hearsay_phi{peer=\"b\"} 0.5",
            "hearsay_phi{peer=\"c\\\"x\"} +Inf",
            "hearsay_messages_sent_total{type=\"syn\"} 4",
            "hearsay_bytes_sent_total{type=\"syn\"} 400",
            "hearsay_messages_received_total{type=\"push\"} 2",
            "hearsay_dropped_total{reason=\"foreign_cluster\"} 3",
            "hearsay_dropped_total{reason=\"transmit_queue_full\"} 0",
            "hearsay_dropped_total{reason=\"decrypt\"} 0",
            "hearsay_rounds_total 17",
            "hearsay_udp_send_errors_total 6",
            "hearsay_health_score 2",
            "# TYPE hearsay_health_score gauge",
            "hearsay_probes_failed_total 0",
            "hearsay_generation 5",
            "# TYPE hearsay_rounds_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "missing `{line}` in:\n{text}");
        }
        assert!(!text.contains("hearsay_phi{peer=\"me\"}"));
    }
}
