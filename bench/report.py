#!/usr/bin/env python3
"""Turn bench/run.sh's results.tsv and dnsperf outputs into one table and the CPU ratios.

Usage: bench/report.py RESULTS.tsv

Each row of RESULTS.tsv: server, query set, mode, dnsperf output file, server CPU clock ticks
used during the run, ticks per second, VmRSS KiB, PSS KiB, wall seconds of the run.
From dnsperf's output: queries completed and lost, QPS, average latency, max and stddev; p99
from the per-answer latencies that `dnsperf -v` prints ("> NOERROR name type 0.000123"), n/a
when the run was made without -v.
Columns: qps; mean and p99 latency in µs; CPU µs per answered query; CPU seconds per 100k
answered; server CPU % of one core during the run (near 100 means the server was the limit);
RSS and PSS in MiB.
"""
import re
import sys


def parse_dnsperf(path):
    stats = {"completed": 0, "lost": 0, "qps": 0.0, "mean": None, "max": None, "sd": None, "p99": None}
    latencies = []
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("> "):
                parts = line.split()
                try:
                    latencies.append(float(parts[-1]))
                except ValueError:
                    pass
                continue
            if m := re.search(r"Queries completed:\s+(\d+)", line):
                stats["completed"] = int(m[1])
            elif m := re.search(r"Queries lost:\s+(\d+)", line):
                stats["lost"] = int(m[1])
            elif m := re.search(r"Queries per second:\s+([\d.]+)", line):
                stats["qps"] = float(m[1])
            elif m := re.search(r"Average Latency \(s\):\s+([\d.]+) \(min [\d.]+, max ([\d.]+)\)", line):
                stats["mean"], stats["max"] = float(m[1]), float(m[2])
            elif m := re.search(r"Latency StdDev \(s\):\s+([\d.]+)", line):
                stats["sd"] = float(m[1])
    if latencies:
        latencies.sort()
        stats["p99"] = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return stats


def us(seconds):
    return "n/a" if seconds is None else f"{seconds * 1e6:.0f}"


def main():
    rows = []
    with open(sys.argv[1]) as f:
        for line in f:
            server, qset, mode, out, ticks, hz, rss, pss, wall = line.rstrip("\n").split("\t")
            s = parse_dnsperf(out)
            cpu = int(ticks) / int(hz)
            answered = s["completed"]
            rows.append({
                "server": server, "set": qset, "mode": mode, **s,
                "cpu": cpu, "cpu_per_q": cpu / answered if answered else None,
                "cpu_pct": 100 * cpu / float(wall) if float(wall) > 0 else 0,
                "rss": int(rss) / 1024, "pss": int(pss) / 1024,
            })

    head = (f"{'server':<7} {'set':<9} {'mode':<5} {'qps':>8} {'lost':>7} {'mean µs':>8} {'p99 µs':>7} "
            f"{'max µs':>7} {'CPU µs/q':>9} {'CPU s/100k':>10} {'srv CPU%':>8} {'RSS MiB':>8} {'PSS MiB':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        per_q = "n/a" if r["cpu_per_q"] is None else f"{r['cpu_per_q'] * 1e6:.2f}"
        per_100k = "n/a" if r["cpu_per_q"] is None else f"{r['cpu_per_q'] * 1e5:.2f}"
        print(f"{r['server']:<7} {r['set']:<9} {r['mode']:<5} {r['qps']:>8.0f} {r['lost']:>7} "
              f"{us(r['mean']):>8} {us(r['p99']):>7} {us(r['max']):>7} {per_q:>9} {per_100k:>10} "
              f"{r['cpu_pct']:>7.0f}% {r['rss']:>8.1f} {r['pss']:>8.1f}")

    by_key = {(r["server"], r["set"], r["mode"]): r for r in rows}
    print()
    print("CPU per answered query, ratios from this run (above 1: Veer uses more CPU per answer)")
    for other in ("nsd", "gdnsd"):
        for (server, qset, mode), r in by_key.items():
            if server != "veer":
                continue
            o = by_key.get((other, qset, mode))
            if o and o["cpu_per_q"] and r["cpu_per_q"]:
                print(f"  veer/{other:<6} {qset:<9} {mode:<5} {r['cpu_per_q'] / o['cpu_per_q']:6.2f}x"
                      f"   ({r['cpu_per_q'] * 1e6:.2f} vs {o['cpu_per_q'] * 1e6:.2f} µs)")
    print("\np99: from dnsperf -v per-answer latencies (fixed-rate runs only; -v slows dnsperf at full speed).")


if __name__ == "__main__":
    main()
