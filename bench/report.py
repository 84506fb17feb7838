#!/usr/bin/env python3
"""Turn bench/run.sh's measurements into one table: medians over the runs, and ratios.

Usage: bench/report.py RESULTS.tsv SCALE.tsv BIG.tsv RATE BIG_RECORDS

RESULTS.tsv, one row per dnsperf run: run number, server, query set, mode, dnsperf output file,
server user and system CPU clock ticks during the run, ticks per second, VmRSS KiB, PSS KiB,
wall seconds. From dnsperf's output: queries completed and lost, QPS, average latency; p99 from
the per-answer latencies that `dnsperf -v` prints ("> NOERROR name type 0.000123"), n/a when
the run was made without -v (full speed).
Every figure in the table is the median over the runs of that (server, set, mode); each ratio
is computed inside one run (the same minutes for both servers), and the median of those
ratios is printed with their range.
SCALE.tsv: threads, dnsperf output, server CPU ticks, ticks per second.
BIG.tsv: server, seconds to first answer, VmRSS KiB, PSS KiB, `veer check` seconds.
"""
import re
import statistics
import sys


def parse_dnsperf(path):
    stats = {"completed": 0, "lost": 0, "qps": 0.0, "mean": None, "p99": None}
    latencies = []
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("> "):
                try:
                    latencies.append(float(line.split()[-1]))
                except ValueError:
                    pass
                continue
            if m := re.search(r"Queries completed:\s+(\d+)", line):
                stats["completed"] = int(m[1])
            elif m := re.search(r"Queries lost:\s+(\d+)", line):
                stats["lost"] = int(m[1])
            elif m := re.search(r"Queries per second:\s+([\d.]+)", line):
                stats["qps"] = float(m[1])
            elif m := re.search(r"Average Latency \(s\):\s+([\d.]+)", line):
                stats["mean"] = float(m[1])
    if latencies:
        latencies.sort()
        stats["p99"] = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return stats


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, spec, scale=1.0):
    return "n/a" if value is None else format(value * scale, spec)


def main():
    results, scale_file, big_file, rate, big_records = sys.argv[1:6]
    rows = []
    with open(results) as f:
        for line in f:
            run, server, qset, mode, out, user, system, hz, rss, pss, wall = line.rstrip("\n").split("\t")
            s = parse_dnsperf(out)
            n = s["completed"]
            user_s, sys_s = int(user) / int(hz), int(system) / int(hz)
            rows.append({
                "run": int(run), "server": server, "set": qset, "mode": mode, **s,
                "cpu_per_q": (user_s + sys_s) / n if n else None,
                "user_per_q": user_s / n if n else None,
                "sys_per_q": sys_s / n if n else None,
                "cpu_pct": 100 * (user_s + sys_s) / float(wall) if float(wall) > 0 else 0,
                "rss": int(rss) / 1024, "pss": int(pss) / 1024,
            })
    runs = sorted({r["run"] for r in rows})
    keys = []
    for r in rows:
        if (r["server"], r["set"], r["mode"]) not in keys:
            keys.append((r["server"], r["set"], r["mode"]))

    def med(key, field):
        return median([r[field] for r in rows if (r["server"], r["set"], r["mode"]) == key])

    print(f"Medians of {len(runs)} run(s). CPU µs/q = server user+system CPU per answered query "
          f"(from /proc/PID/stat); s/100k = the same in seconds per 100,000 answers.")
    head = (f"{'server':<6} {'set':<8} {'mode':<5} {'qps':>7} {'lost':>5} {'mean µs':>7} {'p99 µs':>6} "
            f"{'CPU µs/q':>8} {'user':>5} {'sys':>5} {'s/100k':>6} {'CPU%':>5} {'RSS MiB':>7} {'PSS MiB':>7}")
    print(head)
    print("-" * len(head))
    for key in keys:
        server, qset, mode = key
        print(f"{server:<6} {qset:<8} {mode:<5} {fmt(med(key, 'qps'), '7.0f')} {fmt(med(key, 'lost'), '5.0f')} "
              f"{fmt(med(key, 'mean'), '7.0f', 1e6)} {fmt(med(key, 'p99'), '6.0f', 1e6)} "
              f"{fmt(med(key, 'cpu_per_q'), '8.2f', 1e6)} {fmt(med(key, 'user_per_q'), '5.2f', 1e6)} "
              f"{fmt(med(key, 'sys_per_q'), '5.2f', 1e6)} {fmt(med(key, 'cpu_per_q'), '6.2f', 1e5)} "
              f"{fmt(med(key, 'cpu_pct'), '4.0f')}% {fmt(med(key, 'rss'), '7.1f')} {fmt(med(key, 'pss'), '7.1f')}")

    by_run = {(r["run"], r["server"], r["set"], r["mode"]): r for r in rows}

    def ratios(a, b, qset, mode, field="cpu_per_q", mode_b=None, set_b=None):
        out = []
        for run in runs:
            x = by_run.get((run, a, qset, mode))
            y = by_run.get((run, b, set_b or qset, mode_b or mode))
            if x and y and x[field] and y[field]:
                out.append(x[field] / y[field])
        return out

    def show(label, values, target=None):
        if not values:
            return
        verdict = ""
        if target is not None:
            verdict = "  target <= %.2f: %s" % (target, "met" if median(values) <= target else "NOT met")
        print(f"  {label:<34} {median(values):5.2f}x  (runs {min(values):.2f}-{max(values):.2f}){verdict}")

    sets = [k[1] for k in keys if k[0] == "veer" and k[2] == "full"]
    servers = {k[0] for k in keys}
    print()
    print("CPU per answered query, Veer / peer (median of per-run ratios; below 1: Veer uses less)")
    for qset in sets:
        for mode in ("fixed", "full"):
            best = []
            for other in ("nsd", "gdnsd"):
                if other in servers:
                    values = ratios("veer", other, qset, mode)
                    show(f"veer/{other} {qset} {mode}", values)
                    best.append(values)
            if qset not in ("weighted", "client") and len(best) == 2 and best[0] and best[1]:
                # Against the better of the two peers in each run (issue 14: <= 0.9 at full speed).
                per_run = [max(x, y) for x, y in zip(best[0], best[1])]
                show(f"veer/best peer {qset} {mode}", per_run, 0.9)
    if "weighted" in sets and "static" in sets:
        for mode in ("fixed", "full"):
            show(f"veer weighted/static {mode}", ratios("veer", "veer", "weighted", mode, set_b="static"), 1.05)
    if "client" in sets and "weighted" in sets:
        for mode in ("fixed", "full"):
            show(f"veer client/weighted {mode}", ratios("veer", "veer", "client", mode, set_b="weighted"), 1.1)

    print()
    for server in sorted(servers):
        p99s = [med((server, qset, "fixed"), "p99") for qset in sets]
        p99s = [p for p in p99s if p is not None]
        if p99s:
            print(f"p99 latency at {int(rate):,} q/s offered, {server:<5}: worst set {max(p99s) * 1e6:.0f} µs "
                  f"(target < 1000 µs for veer)")
    print("p99 comes from dnsperf -v per-answer latencies, fixed-rate runs only (-v slows dnsperf).")

    scale = [line.rstrip("\n").split("\t") for line in open(scale_file)]
    if len(scale) == 2:
        print()
        stats = {}
        for threads, out, ticks, hz in scale:
            s = parse_dnsperf(out)
            cpu = int(ticks) / int(hz)
            stats[threads] = (s["qps"], cpu / s["completed"] if s["completed"] else None)
        (q1, c1), (q2, c2) = stats["1"], stats["2"]
        print(f"Two UDP threads vs one (dnsperf -c 16 -T 2, full speed, static): {q1:.0f} -> {q2:.0f} q/s, "
              f"{q2 / q1:.2f}x; CPU per query {fmt(c1, '.2f', 1e6)} -> {fmt(c2, '.2f', 1e6)} µs")
        print("  (2 cores: dnsperf shares them with the 2-thread server, so the q/s ratio is a lower bound;")
        print("   equal CPU per query means the second thread adds no per-answer cost.)")

    big = [line.rstrip("\n").split("\t") for line in open(big_file)]
    if big:
        print()
        print(f"Zone of {int(big_records):,} records: time from start to first answer, memory once answering")
        pss = {}
        for server, seconds, rss, p, check in big:
            pss[server] = int(p) / 1024
            shown = seconds if seconds == "-" else f"{float(seconds):.2f}"
            print(f"  {server:<5} load {shown:>5} s   RSS {int(rss) / 1024:7.1f} MiB   PSS {int(p) / 1024:7.1f} MiB"
                  + (f"   (veer check: {float(check):.2f} s)" if server == "veer" else ""))
        seconds = {server: float(s) for server, s, _, _, _ in big if s != "-"}
        if "veer" in pss and "nsd" in pss and pss["nsd"]:
            print(f"  veer/nsd memory (PSS, NSD's forked processes share pages): {pss['veer'] / pss['nsd']:.2f}x"
                  f"  target <= 1.3: {'met' if pss['veer'] <= 1.3 * pss['nsd'] else 'NOT met'}")
        if "veer" in seconds and "nsd" in seconds and seconds["nsd"]:
            print(f"  veer/nsd load time: {seconds['veer'] / seconds['nsd']:.2f}x"
                  f"  target <= 1.0: {'met' if seconds['veer'] <= seconds['nsd'] else 'NOT met'}")


if __name__ == "__main__":
    main()
