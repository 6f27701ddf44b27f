#!/usr/bin/env bash
# Membership formation with `hearsay bench`: N = 100, 200, 500 and 1,000 nodes in one process at
# 100 ms and 1 s gossip intervals; one row per run (membership time, suspect and dead events,
# idle traffic and CPU). Usage: docs/bench/membership.sh [BINARY] [N...]
# (BINARY defaults to target/release/hearsay: cargo build --release -p hearsay-agent first).
# INTERVALS="1000" limits the intervals (ms). STAGGER_MS=X starts the nodes X ms apart instead of all at once (the default, a join storm).
set -euo pipefail
bin=${1:-target/release/hearsay}
shift || true
sizes=${*:-100 200 500 1000}
echo "| interval | N | membership (ms; after the last start) | suspect / dead events | idle B/s per node | idle CPU cores (all nodes) | peak RSS MiB | load at start |"
echo "|---|---|---|---|---|---|---|---|"
for interval in ${INTERVALS:-100 1000}; do
  for n in $sizes; do
    "$bin" bench --nodes "$n" --interval "$interval" --updates 3 --idle-secs 5 --stagger-ms "${STAGGER_MS:-0}" --json 2>/dev/null | python3 -c "
import json, sys
r = json.load(sys.stdin)
m = r.get('membership_ms')
m = '%.0f; %.0f' % (m, r.get('membership_after_last_start_ms') or m) if m is not None else 'not complete (%d/%d)' % (r['membership_complete_nodes'], r['nodes'])
idle = r['idle']
print('| %d ms | %d | %s | %d / %d | %.0f | %.3f | %.0f | %.1f |' % (
    r['interval_ms'], r['nodes'], m, r['suspect_events'], r['dead_events'],
    idle['bytes_per_node_per_sec'], idle['cpu_cores'], r['peak_rss_kib'] / 1024, r['loadavg_at_start']))
"
  done
done
