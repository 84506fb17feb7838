#!/usr/bin/env python3
"""Generate the benchmark zone `bench.example.` for Veer, NSD and gdnsd, and dnsperf query files.

Usage: bench/gen.py OUTDIR
       bench/gen.py --big OUTDIR RECORDS   (only OUTDIR/big/{veer,nsd}/big.example.zone)

Writes, under OUTDIR:
  veer/bench.example.zone   Veer's syntax: weighted names w0..w99 as two CNAME endpoints
                            (endpoint=old weight=90, endpoint=new weight=10)
  nsd/bench.example.zone    the same zone; NSD has no weights, so each w* name is a plain CNAME
                            to the 90% target (same answer size as Veer's usual answer)
  gdnsd/zones/bench.example the same zone; each w* name is `DYNC weighted!wN`
  gdnsd/weighted.conf       the `weighted` plugin stanza for gdnsd's config (resources w0..w99)
  queries/static.txt        existing names, A and AAAA only (every answer is NOERROR with data)
  queries/mixed.txt         60% static A/AAAA, 20% NXDOMAIN, 10% A at CNAME names (the CNAME is
                            followed inside the zone), 10% MX
  queries/weighted.txt      A queries for w0..w99
  queries/client.txt        A queries for c0..c99 (the w* names with select=client)
Each query file has 50,000 lines: bench/run.sh loops over it, bench/callgrind.sh replays it once.

The 10,000 plain names h0..h9999 cycle through ten shapes by i % 10:
  0-3 and 9: A;  4-5: A + AAAA;  6: AAAA;  7: CNAME to h(i-7) (an A name);  8: MX 10 h(i-8).
With --big, one zone big.example. of RECORDS records (A/AAAA/CNAME/MX 6:2:1:1) for the load
time and memory line of bench/run.sh.
Everything is deterministic (fixed seed), so runs are comparable.
"""
import os
import random
import sys

ORIGIN = "bench.example."
NAMES = 10_000
WEIGHTED = 100
QUERY_LINES = 50_000   # run.sh loops over each file; callgrind.sh replays each once (-n 1)
SEED = 20261123

HEADER = f"""$ORIGIN {ORIGIN}
$TTL 3600
@       IN SOA  ns1 hostmaster ( 2026112301 3600 600 604800 60 )
@       IN NS   ns1
@       IN NS   ns2
ns1     IN A    192.0.2.53
ns2     IN A    198.51.100.53
"""


def v4(i):
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def v6(i):
    return f"2001:db8::{i >> 16:x}:{i & 0xffff:x}"


def shape(i):
    return {7: "cname", 8: "mx", 4: "a+aaaa", 5: "a+aaaa", 6: "aaaa"}.get(i % 10, "a")


def plain_records():
    lines = []
    for i in range(NAMES):
        name, kind = f"h{i}", shape(i)
        if kind in ("a", "a+aaaa"):
            lines.append(f"{name} IN A {v4(i)}")
        if kind in ("aaaa", "a+aaaa"):
            lines.append(f"{name} IN AAAA {v6(i)}")
        if kind == "cname":
            lines.append(f"{name} 300 IN CNAME h{i - 7}")
        if kind == "mx":
            lines.append(f"{name} IN MX 10 h{i - 8}")
    return "\n".join(lines) + "\n"


def targets(i):
    return f"gw-old-{i}.example.net.", f"gw-new-{i}.example.net."


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def big_zone(out, records):
    """The scale test: big.example. with `records` records (A, AAAA, CNAME, MX in the ratio
    6:2:1:1 after the SOA, NS and glue), the same file for Veer and NSD."""
    lines = ["$ORIGIN big.example.", "$TTL 3600", "@ IN SOA ns1 hostmaster ( 1 3600 600 604800 60 )",
             "@ IN NS ns1", "ns1 IN A 192.0.2.53"]
    for i in range(records - 3):
        k = i % 10
        if k < 6:
            lines.append(f"h{i} IN A {v4(i)}")
        elif k < 8:
            lines.append(f"h{i} IN AAAA {v6(i)}")
        elif k == 8:
            lines.append(f"h{i} IN CNAME h{i - 8}")
        else:
            lines.append(f"h{i} IN MX 10 h{i - 9}")
    text = "\n".join(lines) + "\n"
    write(f"{out}/big/veer/big.example.zone", text)
    write(f"{out}/big/nsd/big.example.zone", text)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--big":
        big_zone(sys.argv[2], int(sys.argv[3]))
        return
    if len(sys.argv) != 2:
        sys.exit("usage: bench/gen.py OUTDIR | bench/gen.py --big OUTDIR RECORDS")
    out = sys.argv[1]
    body = HEADER + plain_records()

    veer, nsd, gdnsd, plugin = [], [], [], []
    for i in range(WEIGHTED):
        old, new = targets(i)
        veer.append(f"w{i} 30 IN CNAME {old} endpoint=old weight=90")
        veer.append(f"w{i} 30 IN CNAME {new} endpoint=new weight=10")
        nsd.append(f"w{i} 30 IN CNAME {old}")
        gdnsd.append(f"w{i} 30 DYNC weighted!w{i}")
        plugin.append(f"    w{i} => {{ old = [ {old}, 90 ], new = [ {new}, 10 ] }}")
        # c0..c99: the same names choosing by client (select=client). NSD and gdnsd have no
        # such mode; they answer c* as they answer w*, so the peers' rows stay comparable.
        veer.append(f"c{i} 30 IN CNAME {old} endpoint=old weight=90 select=client")
        veer.append(f"c{i} 30 IN CNAME {new} endpoint=new weight=10")
        nsd.append(f"c{i} 30 IN CNAME {old}")
        gdnsd.append(f"c{i} 30 DYNC weighted!w{i}")
    write(f"{out}/veer/bench.example.zone", body + "\n".join(veer) + "\n")
    write(f"{out}/nsd/bench.example.zone", body + "\n".join(nsd) + "\n")
    write(f"{out}/gdnsd/zones/bench.example", body + "\n".join(gdnsd) + "\n")
    write(f"{out}/gdnsd/weighted.conf",
          "  weighted => {\n    service_types = up\n" + "\n".join(plugin) + "\n  }\n")

    rng = random.Random(SEED)
    with_a = [i for i in range(NAMES) if shape(i) in ("a", "a+aaaa")]
    with_aaaa = [i for i in range(NAMES) if shape(i) in ("aaaa", "a+aaaa")]
    cnames = [i for i in range(NAMES) if shape(i) == "cname"]
    mxs = [i for i in range(NAMES) if shape(i) == "mx"]

    def static_line():
        # A and AAAA in proportion to how many names hold each.
        if rng.random() < len(with_a) / (len(with_a) + len(with_aaaa)):
            return f"h{rng.choice(with_a)}.{ORIGIN} A"
        return f"h{rng.choice(with_aaaa)}.{ORIGIN} AAAA"

    def mixed_line():
        r = rng.random()
        if r < 0.6:
            return static_line()
        if r < 0.8:
            return f"nx{rng.randrange(1_000_000)}.{ORIGIN} A"
        if r < 0.9:
            return f"h{rng.choice(cnames)}.{ORIGIN} A"
        return f"h{rng.choice(mxs)}.{ORIGIN} MX"

    queries = {
        "static": [static_line() for _ in range(QUERY_LINES)],
        "mixed": [mixed_line() for _ in range(QUERY_LINES)],
        "weighted": [f"w{rng.randrange(WEIGHTED)}.{ORIGIN} A" for _ in range(QUERY_LINES)],
    }
    # Drawn after the others, so their files stay the same as before this set existed.
    queries["client"] = [f"c{rng.randrange(WEIGHTED)}.{ORIGIN} A" for _ in range(QUERY_LINES)]
    for name, lines in queries.items():
        write(f"{out}/queries/{name}.txt", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
