#!/bin/sh
# Regenerates docs/sim/faults/: churn, partition-heal and join, 100 seeds each, N = 40, three
# configurations (JSON reports; docs/simulation.md tabulates them).
# Usage: docs/sim/faults.sh [path-to-hearsay-binary]   (default: target/release/hearsay)
set -e
HEARSAY=${1:-target/release/hearsay}
OUT=docs/sim/faults
for scenario in churn partition-heal join; do
  $HEARSAY sim --scenario $scenario --nodes 40 --exchange push-pull --strategy hybrid --runs 100 --seed 1000 \
    --json > $OUT/$scenario-push-pull-hybrid.json || true
  $HEARSAY sim --scenario $scenario --nodes 40 --exchange push --strategy anti-entropy --runs 100 --seed 1000 \
    --json > $OUT/$scenario-push-anti-entropy.json || true
  $HEARSAY sim --scenario $scenario --nodes 40 --exchange pull --strategy hybrid --loss 0.05 --latency-ms 1..10 \
    --runs 100 --seed 1000 --json > $OUT/$scenario-pull-hybrid-loss.json || true
done
