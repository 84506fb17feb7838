#!/usr/bin/env bash
# bench/example-com.sh: the issue-2 figure. `dnsperf -s 127.0.0.1 -p PORT -l SECONDS` against
# Veer serving the project's zones/example.com.zone (default --threads: one per core) and
# against NSD serving the same zone (server-count 1, no RRL, minimal responses), same query
# file (a few names of that zone), neither pinned, one after the other. Both dnsperf outputs
# are printed whole.
#
# NSD cannot read Veer's extensions: `$HEALTH` lines and each weighted record's `key=value`
# tags (endpoint=, weight=, health=, role=) are removed and endpoints with weight 0 left out, so NSD serves what Veer serves by default
# (api.example.com → gw-old.example.net.).
#
# Environment: BENCH_SECONDS (10), VEER, BENCH_KEEP=1. Needs dnsperf, nsd, dig, python3.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
BENCH_SECONDS=${BENCH_SECONDS:-10}
need_tools dnsperf nsd dig python3
bench_init

ZONE=$ROOT/zones/example.com.zone
mkdir -p "$WORK/veer-zones"
cp "$ZONE" "$WORK/veer-zones/"
python3 - "$ZONE" "$WORK/example.com.nsd" <<'PY'
import re, sys
out = []
for line in open(sys.argv[1]):
    if line.startswith("$HEALTH"):     # Veer's health-check directive
        continue
    if "endpoint=" in line:
        if re.search(r"\bweight=0\b", line):
            continue
        line = re.sub(r"\s+[a-z-]+=\S+", "", line.rstrip("\n")) + "\n"
    out.append(line)
open(sys.argv[2], "w").writelines(out)
PY
cat >"$WORK/queries.txt" <<'Q'
www.example.com A
www.example.com AAAA
example.com MX
mail.example.com A
docs.example.com A
api.example.com A
example.com NS
Q

SERVER_CPU=0-$(($(nproc) - 1))   # not pinned: every core, as issue 2 ran it
vport=$(free_port)
start_veer "$WORK/veer-zones" "$vport" "$(nproc)"
nport=$(free_port)
start_nsd "$WORK/example.com.nsd" example.com "$nport"
wait_ready "$vport" example.com. "$VEER_PID" 30
wait_ready "$nport" example.com. "$NSD_PID" 30
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "===== Veer (--threads $(nproc)) serving zones/example.com.zone"
dnsperf -s 127.0.0.1 -p "$vport" -l "$BENCH_SECONDS" -d "$WORK/queries.txt"
echo "===== NSD 4 (server-count 1) serving the same zone"
dnsperf -s 127.0.0.1 -p "$nport" -l "$BENCH_SECONDS" -d "$WORK/queries.txt"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
