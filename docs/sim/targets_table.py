#!/usr/bin/env python3
"""Prints the targets table of docs/simulation.md from docs/sim/targets/*/report.json."""
import json, os, sys

TARGETS = {  # issue 3: uniform random-peer ideal, mean rounds to all, anti-entropy, fanout 1
    ("push-pull", 100): 6.5, ("push-pull", 1000): 9.1, ("push-pull", 10000): 11.6,
    ("push", 100): 12.3, ("push", 1000): 18.0, ("push", 10000): 23.7,
    ("pull", 100): 9.8, ("pull", 1000): 13.8, ("pull", 10000): 17.5,
}
root = sys.argv[1] if len(sys.argv) > 1 else "docs/sim/targets"
print("| exchange | N | MTU | runs | mean rounds to all | p50 / p99 / max | target | measured / target | within +0.5 | theory | t_avg | msgs/node (gossip) | updates/node | bytes/node |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for exchange in ["push", "pull", "push-pull"]:
    for n in [100, 1000, 10000]:
        for suffix in ["", "-mtu65507"]:
            path = os.path.join(root, f"{exchange}-{n}{suffix}", "report.json")
            if not os.path.exists(path):
                continue
            r = json.load(open(path))
            q = r["rounds_to_all"]
            target = TARGETS[(exchange, n)]
            mean = q["mean"]
            theory = r["theory"]["rounds_to_all"]
            print(f"| {exchange} | {n} | {r.get('mtu', 1400)} | {r['runs']} | {mean:.2f} | {q['p50']:.0f} / {q['p99']:.0f} / {q['max']:.0f} "
                  f"| {target} | {mean / target:.2f} | {'yes' if mean <= target + 0.5 else 'no'} | {theory:.2f} "
                  f"| {r['t_avg']['mean']:.2f} | {r['messages_per_node']['mean']:.1f} ({r['gossip_messages_per_node']['mean']:.1f}) "
                  f"| {r['updates_sent_per_node']['mean']:.2f} | {r['bytes_per_node']['mean']:.0f} |")
