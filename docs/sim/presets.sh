#!/bin/sh
# Regenerates the per-preset pause and crash-detection table of docs/failure-detection.md:
# for each preset (lan, wan, local) as it ships and N = 10 and 100, crash detection (time until
# every live node declared the crashed node dead, 50 runs) and pauses (one node stopped for P
# seconds, 20 runs per P; deaths declared of it), plus idle bytes per node per second (five
# minutes of a formed cluster with nothing written). Prints one line per measurement.
# Usage: docs/sim/presets.sh [path-to-hearsay-binary]   (default: target/release/hearsay)
set -e
HEARSAY=${1:-target/release/hearsay}
row() { # preset, gossip interval in seconds, what, json on stdin
  python3 -c '
import json, sys
preset, interval, what = sys.argv[1], float(sys.argv[2]), sys.argv[3]
r = json.load(sys.stdin)
q = r["rounds_to_all"]
s = lambda x: "-" if x is None else "%.1f s" % (x * interval)
if what.startswith("detect"):
    print("%s %s: dead everywhere p50 %s, p99 %s, max %s (%d of %d runs); false deaths %d" % (preset, what, s(q["p50"]), s(q["p99"]), s(q["max"]), q["samples"], r["runs"], r["false_deaths"]))
elif what.startswith("pause"):
    print("%s %s: %d deaths and %d suspicions declared in %d runs; observers that declared it dead mean %.2f max %.2f" % (preset, what, r["false_deaths"], r["suspicions"], r["runs"], r["residue"]["mean"], r["residue"]["max"]))
else:
    secs = (r["rounds_to_all"]["max"] + 30) * interval  # with the 30 settling rounds
    print("%s %s: %.0f B per node per second, %.2f messages per node per second" % (preset, what, r["bytes_per_node"]["mean"] / secs, r["messages_per_node"]["mean"] / secs))
' "$@"
}
for preset in lan:0.2 wan:0.5 local:0.1; do
  name=${preset%%:*}; interval=${preset##*:}
  SIM="$HEARSAY sim --preset $name --seed 1 --json"
  for n in 10 100; do
    $SIM --nodes $n --scenario detect --runs 50 --max-rounds 400 | row $name $interval "detect N=$n"
    for p in 0.5 1 2 3 3.5 4 5; do
      $SIM --nodes $n --scenario pause --pause-secs $p --runs 20 --max-rounds 400 | row $name $interval "pause ${p}s N=$n"
    done
  done
  rounds=$(python3 -c "print(round(300 / $interval))")
  $SIM --nodes 100 --scenario false-positives --runs 1 --max-rounds $rounds | row $name $interval "idle N=100"
done
