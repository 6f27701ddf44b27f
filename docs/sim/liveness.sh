#!/bin/sh
# Regenerates docs/sim/liveness/: detection time, false positives and partition healing (issue 5
# figures), for the recommended setting (1,250 ms interval, probe.suspicion_mult 2) and for the
# 100 ms interval of Config::local() (suspicion_mult 1).
# Usage: docs/sim/liveness.sh [path-to-hearsay-binary]   (default: target/release/hearsay)
set -e
HEARSAY=${1:-target/release/hearsay}
OUT=docs/sim/liveness
mkdir -p $OUT
rm -f $OUT/*.json
REC="--interval-ms 1250 --suspicion-mult 2"
SIM="$HEARSAY sim --nodes 100 --seed 1 --json"
for loss in 0 0.01 0.05 0.2; do
  $SIM --scenario detect --runs 20 --loss $loss --max-rounds 400 $REC > $OUT/detect-1250ms-$loss.json
  $SIM --scenario detect --runs 20 --loss $loss --max-rounds 400 > $OUT/detect-100ms-$loss.json
done
# One virtual hour per configuration: 2,880 rounds of 1,250 ms, 36,000 rounds of 100 ms.
for loss in 0 0.01 0.05 0.2; do
  $SIM --scenario false-positives --runs 1 --loss $loss --max-rounds 2880 $REC > $OUT/fp-1250ms-$loss.json
  $SIM --scenario false-positives --runs 1 --loss $loss --max-rounds 36000 > $OUT/fp-100ms-$loss.json
done
# One node paused for 5 s every 3 virtual minutes (19 pauses in the hour).
$SIM --scenario false-positives --runs 1 --pause-secs 5 --pause-every-secs 180 --max-rounds 2880 $REC > $OUT/fp-pause-1250ms.json
$SIM --scenario false-positives --runs 1 --pause-secs 5 --pause-every-secs 180 --max-rounds 36000 > $OUT/fp-pause-100ms.json
# Both halves cut apart for 60 virtual seconds, then healed: rounds until every live node sees
# every live node alive and holds every key.
$SIM --scenario partition-heal --runs 5 --partition-secs 60 --max-rounds 2000 $REC > $OUT/partition-heal-1250ms.json
$SIM --scenario partition-heal --runs 5 --partition-secs 60 --max-rounds 4000 > $OUT/partition-heal-100ms.json
# Neighbouring settings, for the choice: detection at 0 and 5 % loss and the hour with pauses.
for setting in "1000 2" "1000 3" "2000 1"; do
  set -- $setting
  ALT="--interval-ms $1 --suspicion-mult $2"
  for loss in 0 0.05; do
    $SIM --scenario detect --runs 20 --loss $loss --max-rounds 400 $ALT > $OUT/alt-detect-${1}ms-m$2-$loss.json
  done
  $SIM --scenario false-positives --runs 1 --pause-secs 5 --pause-every-secs 180 --max-rounds $((3600000 / $1)) $ALT \
    > $OUT/alt-fp-pause-${1}ms-m$2.json
done
