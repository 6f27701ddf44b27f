#!/bin/sh
# Regenerates docs/sim/scale/: spread at N = 1,000 and N = 10,000 with full membership
# (anti-entropy, fanout 1, no loss, --textbook), with wall time and peak RSS from /usr/bin/time.
# Usage: docs/sim/scale.sh [path-to-hearsay-binary] [runs at N = 10,000]   (defaults: target/release/hearsay, 3)
set -e
HEARSAY=${1:-target/release/hearsay}
RUNS=${2:-3}
OUT=docs/sim/scale
for exchange in push-pull pull push; do
  # One run per process, so that each line's time and RSS are one run's.
  for n in 1000 10000; do
    runs=1; if [ "$n" = 10000 ]; then runs=$RUNS; fi
    seed=1
    while [ "$seed" -le "$runs" ]; do
      /usr/bin/time -f "%e s wall, %M KB peak RSS" -o $OUT/$exchange-$n-seed$seed.time \
        $HEARSAY sim --scenario spread --nodes $n --exchange $exchange --strategy anti-entropy --fanout 1 \
        --runs 1 --seed $seed --textbook --max-rounds 200 --json > $OUT/$exchange-$n-seed$seed.json
      seed=$((seed + 1))
    done
  done
done
