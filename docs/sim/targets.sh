#!/bin/sh
# Regenerates docs/sim/targets/: anti-entropy spread, fanout 1, no loss, per exchange mode and size.
# Usage: docs/sim/targets.sh [path-to-hearsay-binary]   (default: target/release/hearsay)
set -e
HEARSAY=${1:-target/release/hearsay}
for n in 100 1000; do
  for exchange in push pull push-pull; do
    runs=100
    # pull and push-pull anti-entropy need ~200-300 rounds at N = 1,000 (see docs/simulation.md): fewer runs.
    if [ "$n" = 1000 ] && [ "$exchange" != push ]; then runs=20; fi
    $HEARSAY sim --scenario spread --nodes $n --exchange $exchange --strategy anti-entropy --fanout 1 \
      --runs $runs --seed 1 --out docs/sim/targets/$exchange-$n > docs/sim/targets/$exchange-$n.txt
  done
done
# The same with a 65,507-byte MTU, so that one digest covers every owner (no digest slicing).
for n in 100 1000; do
  for exchange in pull push-pull; do
    runs=100
    if [ "$n" = 1000 ]; then runs=20; fi
    $HEARSAY sim --scenario spread --nodes $n --exchange $exchange --strategy anti-entropy --fanout 1 --mtu 65507 \
      --runs $runs --seed 1 --out docs/sim/targets/$exchange-$n-mtu65507 > docs/sim/targets/$exchange-$n-mtu65507.txt
  done
done
