#!/bin/sh
# Regenerates docs/sim/textbook/: anti-entropy spread, fanout 1, no loss, 1,400-byte MTU, with
# only the configured exchange running (--textbook), on the current core.
# Usage: docs/sim/textbook.sh [path-to-hearsay-binary]   (default: target/release/hearsay)
set -e
HEARSAY=${1:-target/release/hearsay}
for exchange in push pull push-pull; do
  $HEARSAY sim --scenario spread --nodes 100 --exchange $exchange --strategy anti-entropy --fanout 1 \
    --runs 100 --seed 1 --textbook --json > docs/sim/textbook/$exchange-100.json
done
$HEARSAY sim --scenario spread --nodes 1000 --exchange push --strategy anti-entropy --fanout 1 \
  --runs 30 --seed 1 --textbook --json > docs/sim/textbook/push-1000.json
for exchange in pull push-pull; do
  $HEARSAY sim --scenario spread --nodes 1000 --exchange $exchange --strategy anti-entropy --fanout 1 \
    --runs 20 --seed 1 --textbook --json > docs/sim/textbook/$exchange-1000.json
done
