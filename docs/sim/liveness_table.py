#!/usr/bin/env python3
"""Prints the tables of docs/failure-detection.md from docs/sim/liveness/*.json."""
import json, os, sys

root = sys.argv[1] if len(sys.argv) > 1 else "docs/sim/liveness"
SETTINGS = [("1250ms", "1,250 ms, suspicion_mult 2"), ("100ms", "100 ms, suspicion_mult 1")]
LOSSES = ["0", "0.01", "0.05", "0.2"]


def load(name):
    path = os.path.join(root, name + ".json")
    return json.load(open(path)) if os.path.exists(path) else None


print("| setting | loss | p50 | p99 | max | mean per-node detection | runs complete | false deaths / suspicions in these runs | msgs/node |")
print("|---|---|---|---|---|---|---|---|---|")
for key, label in SETTINGS:
    for loss in LOSSES:
        r = load(f"detect-{key}-{loss}")
        if r is None:
            continue
        q = r["rounds_to_all"]
        print(f"| {label} | {float(loss) * 100:g} % | {q['p50']:.0f} | {q['p99']:.0f} | {q['max']:.0f} | {r['t_avg']['mean']:.2f} "
              f"| {q['samples']} of {r['runs']} | {r['false_deaths']} / {r['suspicions']} | {r['messages_per_node']['mean']:.0f} |")
print()
print("| setting | run | node-hours | deaths | deaths per node-hour | suspicions | suspicions per node-hour | msgs/node |")
print("|---|---|---|---|---|---|---|---|")
for key, label in SETTINGS:
    runs = [(f"fp-{key}-{loss}", f"{float(loss) * 100:g} % loss") for loss in LOSSES]
    runs.append((f"fp-pause-{key}", "0 % loss, one node paused 5 s every 180 s"))
    for name, what in runs:
        r = load(name)
        if r is None:
            continue
        h = r["node_hours"]
        print(f"| {label} | {what} | {h:.0f} | {r['false_deaths']} | {r['false_deaths'] / h:.4g} | {r['suspicions']} "
              f"| {r['suspicions'] / h:.4g} | {r['messages_per_node']['mean']:.0f} |")
print()
print("| setting | runs | cut | rounds to re-converge p50 / max (all runs) | seconds (max) | violations |")
print("|---|---|---|---|---|---|")
for key, label in SETTINGS:
    r = load(f"partition-heal-{key}")
    if r is None:
        continue
    q = r["rounds_to_all"]
    rounds = [x["rounds_to_all"] for x in r["run_reports"]]
    seconds = (q["max"] or 0) * r["interval_ms"] / 1000
    print(f"| {label} | {r['runs']} | 60 s | {q['p50']:.0f} / {q['max']:.0f} ({', '.join(str(x) for x in rounds)}) "
          f"| {seconds:.1f} | {r['violations']} |")
