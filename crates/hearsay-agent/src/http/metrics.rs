//! `GET /metrics`: the Prometheus text exposition format (version 0.0.4).
//!
//! [`render`] is a pure function of what the cluster reports, so its output is tested without a
//! network. Metric names are listed in `docs/agent.md`. The label set is bounded: series per
//! member (`peer` label) only with `metrics_per_member`; the generation is a label of
//! `hearsay_node_info`, not a value to graph.
//!
//! Update spread latency is not exported: a node cannot know when a peer's write was made
//! without synchronized clocks. `hearsay bench` measures it on one clock, and the dashboard's
//! spread view shows it for `hearsay demo`.

use std::collections::BTreeMap;
use std::fmt::Write;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use hearsay::{PROBE_RTT_BUCKETS_MS, RttHistogram};
use hearsay_core::wire::MessageType;
use hearsay_core::{MemberInfo, MemberStatus, Stats};

use crate::process::ProcessStats;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::AppState;

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
    /// Direct-probe round trips.
    pub probe_rtt: &'a RttHistogram,
    /// The last probe round trip to each member, by address (shown per member only).
    pub last_rtt: &'a HashMap<SocketAddr, Duration>,
    /// Own versions per second over the last seconds.
    pub writes_per_second: f64,
    /// `/proc/self` figures, when readable.
    pub process: Option<ProcessStats>,
    /// Export series labelled by member.
    pub per_member: bool,
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

    let peers = || input.members.iter().filter(|m| !m.is_self);
    header(&mut out, "phi_max", "gauge", "Highest phi among alive peers (0 without any; +Inf when unbounded).");
    let max = peers().filter(|m| m.status == MemberStatus::Alive).map(|m| m.phi).fold(0.0, f64::max);
    let _ = writeln!(out, "hearsay_phi_max {}", number(max));
    if input.per_member {
        header(&mut out, "phi", "gauge", "Phi accrual suspicion level per peer (+Inf when unbounded).");
        for m in peers() {
            let _ = writeln!(out, "hearsay_phi{{peer=\"{}\"}} {}", label(&m.id.name), number(m.phi));
        }
        header(&mut out, "probe_rtt_last_seconds", "gauge", "The latest direct-probe round trip per peer.");
        for m in peers() {
            if let Some(rtt) = input.last_rtt.get(&m.id.addr) {
                let _ = writeln!(
                    out,
                    "hearsay_probe_rtt_last_seconds{{peer=\"{}\"}} {}",
                    label(&m.id.name),
                    rtt.as_secs_f64()
                );
            }
        }
    }

    header(&mut out, "probe_rtt_seconds", "histogram", "Direct-probe round trips (ping to ping_ack, at the sockets).");
    let h = input.probe_rtt;
    let mut cumulative = 0;
    for (bound, n) in PROBE_RTT_BUCKETS_MS.iter().zip(h.buckets) {
        cumulative += n;
        let _ = writeln!(out, "hearsay_probe_rtt_seconds_bucket{{le=\"{}\"}} {cumulative}", bound / 1000.0);
    }
    let _ = writeln!(out, "hearsay_probe_rtt_seconds_bucket{{le=\"+Inf\"}} {}", cumulative + h.over);
    let _ = writeln!(out, "hearsay_probe_rtt_seconds_sum {}", h.sum_secs);
    let _ = writeln!(out, "hearsay_probe_rtt_seconds_count {}", h.count);

    header(
        &mut out,
        "local_writes_per_second",
        "gauge",
        "Versions this node gave its own keys per second (last 10 s).",
    );
    let _ = writeln!(out, "hearsay_local_writes_per_second {}", input.writes_per_second);

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
    let scalars: &[(&str, &str, u64)] = &[
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
        (
            "late_wakeups_total",
            "Timer wake-ups later than the shortest probe timeout (each raises the local health score).",
            st.late_wakeups,
        ),
        ("grafts_total", "Broadcast-tree grafts sent (a payload announced but not received in time).", st.grafts),
        ("prunes_total", "Broadcast-tree prunes sent (a payload received twice).", st.prunes),
        ("stream_transmits_total", "Transmits sent over a TCP stream.", input.stats.stream_transmits),
        ("entries_applied_total", "Entries from peers that were new to this node.", input.stats.entries_applied),
        ("delta_overflows_total", "Deltas that did not fit in one message.", input.stats.delta_overflows),
        ("rumor_overflows_total", "Hot rumors that did not fit in one message.", input.stats.rumor_overflows),
        ("writes_refused_total", "Local writes refused by flow control (HTTP 429).", input.stats.writes_refused),
        (
            "truncation_signals_total",
            "Flow reports of peers saying a delta they sent here was cut by the MTU.",
            input.stats.truncation_signals,
        ),
        ("in_sync_total", "Exchanges ended early because checksums matched.", input.stats.in_sync),
        ("isolations_total", "Times this node found itself cut off (heard from no member).", st.isolations),
        (
            "catch_ups_total",
            "Full exchanges started to catch up with a peer that knew many more members.",
            st.catch_ups,
        ),
        (
            "amplification_limited_total",
            "Replies cut, dropped or refused a stream because their address has not proved it receives.",
            st.amplification_limited,
        ),
    ];
    for &(name, help, v) in scalars {
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

    header(&mut out, "build_info", "gauge", "Always 1; the version of this build as a label.");
    let _ = writeln!(out, "hearsay_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
    if let Some(me) = me {
        header(&mut out, "node_info", "gauge", "Always 1; this node's name and generation as labels.");
        let _ =
            writeln!(out, "hearsay_node_info{{name=\"{}\",generation=\"{}\"}} 1", label(&me.id.name), me.id.generation);
        header(&mut out, "max_version", "gauge", "Highest version this node gave to one of its keys.");
        let _ = writeln!(out, "hearsay_max_version {}", me.max_version);
        header(&mut out, "own_keys", "gauge", "Live keys this node owns.");
        let _ = writeln!(out, "hearsay_own_keys {}", me.live_keys);
    }
    if let Some(p) = input.process {
        // The names every Prometheus client library uses, so stock dashboards work.
        let figures: [(&str, &str, &str, f64); 4] = [
            ("process_cpu_seconds_total", "counter", "User and system CPU time, seconds.", p.cpu_seconds),
            ("process_resident_memory_bytes", "gauge", "Resident memory, bytes.", p.resident_bytes as f64),
            ("process_open_fds", "gauge", "Open file descriptors.", p.open_fds as f64),
            ("process_start_time_seconds", "gauge", "Start time, Unix seconds.", p.start_time_secs),
        ];
        for (name, kind, help, v) in figures {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        }
    }
    out
}

/// A sample value: `+Inf` for infinity.
fn number(v: f64) -> String {
    if v.is_finite() { format!("{v}") } else { "+Inf".to_string() }
}

/// `GET /metrics`, from the node's published view.
pub(super) async fn handler(State(state): State<AppState>) -> Response {
    let view = state.cluster().view();
    let (members, stats) = (&view.members, &view.stats);
    let counters = &state.inner.counters;
    let driver: Vec<DriverCounter> = vec![
        ("udp_datagrams_sent_total", "UDP datagrams sent.", stats.udp_datagrams_sent),
        ("udp_datagrams_received_total", "UDP datagrams received.", stats.udp_datagrams_received),
        ("udp_send_errors_total", "UDP sends that failed.", stats.udp_send_errors),
        ("udp_recv_errors_total", "UDP receives that failed.", stats.udp_recv_errors),
        ("stream_frames_sent_total", "TCP stream frames sent.", stats.stream_frames_sent),
        ("stream_frames_received_total", "TCP stream frames received.", stats.stream_frames_received),
        ("stream_frames_rejected_total", "TCP stream frames rejected (too large).", stats.stream_frames_rejected),
        ("stream_frames_dropped_total", "TCP stream frames dropped (queue full).", stats.stream_frames_dropped),
        ("stream_errors_total", "TCP stream connections that failed.", stats.stream_errors),
        (
            "stream_connections_refused_total",
            "TCP stream connections refused (too many).",
            stats.stream_connections_refused,
        ),
        ("events_lagged_total", "Events lost by subscribers that fell behind.", stats.events_lagged),
        (
            "name_conflicts_total",
            "Processes that claimed a name a live member holds, refused (logged as warnings).",
            stats.name_conflicts,
        ),
        (
            "http_connections_refused_total",
            "HTTP connections answered 503 (http_max_connections reached).",
            counters.connections_refused.load(Ordering::Relaxed),
        ),
        (
            "http_requests_timed_out_total",
            "HTTP requests answered 408 (http_request_timeout_ms).",
            counters.requests_timed_out.load(Ordering::Relaxed),
        ),
        (
            "http_requests_too_large_total",
            "HTTP requests answered 414 or 431 (URI or head too large).",
            counters.requests_too_large.load(Ordering::Relaxed),
        ),
    ];
    let gauges: Vec<DriverGauge> = vec![
        (
            "write_rate",
            "Flow control: this node's share of the writes gossip carries, bytes per round.",
            stats.write_rate,
        ),
        (
            "flow_capacity_bytes",
            "Flow control: estimated bytes of writes per round the cluster's gossip carries.",
            stats.flow.capacity_bytes,
        ),
        ("flow_demand_bytes", "Flow control: bytes per round this node wants to write.", stats.flow.demand_bytes),
        ("flow_writers", "Flow control: writers known to want to write.", stats.flow.writers as f64),
        (
            "backlog_bytes",
            "Bytes of state peers lacked that the last overflowing delta could not carry.",
            stats.backlog_bytes as f64,
        ),
        ("pending_updates", "Membership updates waiting to be piggybacked.", stats.pending_updates as f64),
        ("health_score", "Lifeguard local health (0 is healthy).", f64::from(stats.health_score)),
        (
            "isolated",
            "1 while this node hears from no member (it is the one cut off), else 0.",
            f64::from(u8::from(stats.isolated)),
        ),
    ];
    let text = render(&MetricsInput {
        members,
        stats: &stats.core,
        driver: &driver,
        gauges: &gauges,
        probe_rtt: &view.probe_rtt,
        last_rtt: &view.last_rtt,
        writes_per_second: state.inner.history.write_rate(),
        process: crate::process::read(),
        per_member: state.inner.metrics_per_member,
    });
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
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
            tags: Default::default(),
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
        let mut probe_rtt = RttHistogram::default();
        probe_rtt.buckets[2] = 3;
        probe_rtt.over = 1;
        probe_rtt.count = 4;
        let last_rtt = HashMap::from([("127.0.0.1:1".parse().unwrap(), Duration::from_millis(2))]);
        let input = MetricsInput {
            members: &members,
            stats: &stats,
            driver: &[("udp_send_errors_total", "h", 6)],
            gauges: &[("health_score", "h", 2.0)],
            probe_rtt: &probe_rtt,
            last_rtt: &last_rtt,
            writes_per_second: 1.5,
            process: Some(ProcessStats { cpu_seconds: 2.5, resident_bytes: 4096, open_fds: 7, start_time_secs: 1e9 }),
            per_member: false,
        };
        let text = render(&input);
        for line in [
            "hearsay_members{status=\"alive\"} 2",
            "hearsay_members{status=\"dead\"} 1",
            "hearsay_members{status=\"suspect\"} 0",
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
            "hearsay_node_info{name=\"me\",generation=\"5\"} 1",
            "# TYPE hearsay_rounds_total counter",
            "hearsay_phi_max 0.5",
            "# TYPE hearsay_probe_rtt_seconds histogram",
            "hearsay_probe_rtt_seconds_bucket{le=\"0.0005\"} 0",
            "hearsay_probe_rtt_seconds_bucket{le=\"0.001\"} 3",
            "hearsay_probe_rtt_seconds_bucket{le=\"1\"} 3",
            "hearsay_probe_rtt_seconds_bucket{le=\"+Inf\"} 4",
            "hearsay_probe_rtt_seconds_count 4",
            "hearsay_local_writes_per_second 1.5",
            "hearsay_build_info{version=\"0.1.0\"} 1",
            "process_cpu_seconds_total 2.5",
            "process_open_fds 7",
            "# TYPE process_resident_memory_bytes gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "missing `{line}` in:\n{text}");
        }
        // No series per member unless asked for, and none for the node itself.
        assert!(!text.contains("peer="), "{text}");
        assert!(!text.contains("hearsay_generation "));
        let text = render(&MetricsInput { per_member: true, ..input });
        for line in [
            "hearsay_phi{peer=\"b\"} 0.5",
            "hearsay_phi{peer=\"c\\\"x\"} +Inf",
            "hearsay_probe_rtt_last_seconds{peer=\"b\"} 0.002",
        ] {
            assert!(text.lines().any(|l| l == line), "missing `{line}` in:\n{text}");
        }
        assert!(!text.contains("hearsay_phi{peer=\"me\"}"));
        exposition_is_well_formed(&text);
    }

    /// Checks the text exposition format line by line: every sample belongs to a family
    /// declared once with HELP and TYPE, names and labels are well formed, values parse, and a
    /// histogram's buckets are cumulative and end at `+Inf` equal to its count.
    fn exposition_is_well_formed(text: &str) {
        let mut types: BTreeMap<String, String> = BTreeMap::new();
        let mut last_bucket: Option<(String, f64)> = None;
        let name_ok = |n: &str| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                assert!(types.insert(name.to_string(), kind.to_string()).is_none(), "declared twice: {line}");
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("series value");
            let value: f64 = value.replace("+Inf", "inf").parse().unwrap_or_else(|_| panic!("bad value: {line}"));
            let name = series.split('{').next().unwrap();
            assert!(name_ok(name), "bad name: {line}");
            if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "bad labels: {line}");
            }
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| types.get(*f).is_some_and(|k| k == "histogram")))
                .unwrap_or(name);
            assert!(types.contains_key(family), "sample before its TYPE: {line}");
            if name.ends_with("_bucket") {
                if let Some((f, previous)) = &last_bucket
                    && f == family
                {
                    assert!(value >= *previous, "buckets not cumulative: {line}");
                }
                last_bucket = Some((family.to_string(), value));
            } else if let Some(count) = name.strip_suffix("_count")
                && let Some((f, inf)) = &last_bucket
                && f == count
            {
                assert_eq!(value, *inf, "+Inf bucket differs from the count");
            }
        }
    }
}
