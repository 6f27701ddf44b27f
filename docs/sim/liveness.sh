#!/bin/sh
# Regenerates docs/sim/liveness/: detection time and false positives (issue 5 figures).
# Usage: docs/sim/liveness.sh [path-to-hearsay-binary]   (default: target/release/hearsay)
set -e
HEARSAY=${1:-target/release/hearsay}
OUT=docs/sim/liveness
for loss in 0 0.01 0.05 0.2; do
  $HEARSAY sim --scenario detect --nodes 100 --runs 20 --seed 1 --loss $loss --max-rounds 400 --json > $OUT/detect-$loss.json
done
# One virtual hour at 100 ms (36,000 rounds) per configuration.
for loss in 0 0.01 0.05 0.2; do
  $HEARSAY sim --scenario false-positives --nodes 100 --runs 1 --seed 1 --loss $loss --max-rounds 36000 --json > $OUT/fp-$loss.json
done
# With one node paused for 5 s every 1,800 rounds: at 100 ms and at 1 s intervals.
$HEARSAY sim --scenario false-positives --nodes 100 --runs 1 --seed 1 --pause-secs 5 --max-rounds 36000 --json > $OUT/fp-pause-100ms.json
$HEARSAY sim --scenario false-positives --nodes 100 --runs 1 --seed 1 --pause-secs 5 --interval-ms 1000 --max-rounds 3600 --json > $OUT/fp-pause-1s.json
$HEARSAY sim --scenario detect --nodes 100 --runs 20 --seed 1 --interval-ms 1000 --max-rounds 400 --json > $OUT/detect-1s.json
# A 2 s interval: four 5 s pauses over five virtual hours, and detection in intervals.
$HEARSAY sim --scenario false-positives --nodes 100 --runs 1 --seed 1 --pause-secs 5 --interval-ms 2000 --max-rounds 9000 --json > $OUT/fp-pause-2s.json
$HEARSAY sim --scenario detect --nodes 100 --runs 20 --seed 1 --interval-ms 2000 --max-rounds 400 --json > $OUT/detect-2s.json
