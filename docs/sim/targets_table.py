#!/usr/bin/env python3
"""Prints the targets and scale tables of docs/simulation.md.

Targets: docs/sim/textbook/<exchange>-<N>.json (docs/sim/textbook.sh) and, for N = 10,000, the
one-run reports docs/sim/scale/<exchange>-10000-seed<S>.json (docs/sim/scale.sh) pooled.
Scale: docs/sim/scale/*.time (wall time and peak RSS of each one-run process).
"""
import glob, json, os, re, statistics

TARGETS = {  # issue 3: uniform random-peer ideal, mean rounds to all, anti-entropy, fanout 1
    ("push-pull", 100): 6.5, ("push-pull", 1000): 9.1, ("push-pull", 10000): 11.6,
    ("push", 100): 12.3, ("push", 1000): 18.0, ("push", 10000): 23.7,
    ("pull", 100): 9.8, ("pull", 1000): 13.8, ("pull", 10000): 17.5,
}

def rows(exchange, n):
    """(runs, per-run rounds to all, mean t_avg, msgs, bytes, theory) for one configuration."""
    path = f"docs/sim/textbook/{exchange}-{n}.json"
    if os.path.exists(path):
        r = json.load(open(path))
        rounds = [run["rounds_to_all"] for run in r["run_reports"] if run["rounds_to_all"] is not None]
        return (r["runs"], rounds, r["t_avg"]["mean"], r["messages_per_node"]["mean"],
                r["bytes_per_node"]["mean"], r["theory"]["rounds_to_all"])
    paths = [p for p in sorted(glob.glob(f"docs/sim/scale/{exchange}-{n}-seed*.json")) if re.search(r"seed\d+\.json$", p)]
    reports = [json.load(open(p)) for p in paths]
    if not reports:
        return None
    rounds = [r["rounds_to_all"]["mean"] for r in reports if r["rounds_to_all"]["mean"] is not None]
    mean = lambda key: statistics.mean(r[key]["mean"] for r in reports)
    return (len(reports), rounds, mean("t_avg"), mean("messages_per_node"), mean("bytes_per_node"),
            reports[0]["theory"]["rounds_to_all"])

print("| exchange | N | runs | mean rounds to all | p50 / max | target | measured / target | within +0.5 | theory | t_avg | msgs/node | bytes/node |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for exchange in ["push", "pull", "push-pull"]:
    for n in [100, 1000, 10000]:
        row = rows(exchange, n)
        if row is None:
            continue
        runs, rounds, t_avg, msgs, nbytes, theory = row
        target = TARGETS[(exchange, n)]
        mean = statistics.mean(rounds)
        print(f"| {exchange} | {n} | {runs} | {mean:.2f} | {statistics.median(rounds):.0f} / {max(rounds):.0f} "
              f"| {target} | {mean / target:.2f} | {'yes' if mean <= target + 0.5 else 'no'} | {theory:.2f} "
              f"| {t_avg:.2f} | {msgs:.1f} | {nbytes:.0f} |")

print()
print("| run | rounds to all | wall | peak RSS |")
print("|---|---|---|---|")
for path in sorted(glob.glob("docs/sim/scale/*.time"), key=lambda p: (int(re.search(r"-(\d+)-seed", p).group(1)), p)):
    name = os.path.basename(path)[:-5]
    wall, rss = re.match(r"([\d.]+) s wall, (\d+) KB", open(path).read()).groups()
    report = json.load(open(path[:-5] + ".json"))
    print(f"| `{name}` | {report['rounds_to_all']['mean']:.0f} | {float(wall):.1f} s | {int(rss) / 2**20:.2f} GiB |")
