#!/usr/bin/env bash
# bench/signed.sh: DNSSEC, Veer against NSD serving the same zone signed by ldns-signzone
# (`make bench` runs it after bench/run.sh; `make bench-signed` alone).
#
# What it does:
#   1. bench/gen.py writes bench.example. (see gen.py). Veer gets a key from `veer keys
#      generate` (ECDSA P-256, algorithm 13) and signs at start (`veer serve --keys`); NSD gets
#      the zone signed with `ldns-signzone` and an ldns-keygen key of the same algorithm, NSEC.
#      NSD has no weights: its w* names are plain CNAMEs to the 90% target (gen.py).
#   2. dnsperf with the DO bit (-D) at full speed, pinned to CLIENT_CPU, for each set of
#      SIGNED_SETS (static, weighted, mixed: mixed has NXDOMAIN answers with NSEC proofs), the
#      servers taking turns, SIGNED_RUNS times. CPU per answered query from /proc utime+stime.
#   3. "No signing per query, counted": Veer's veer_dnssec_signatures_made_total before the first
#      and after the last dnsperf run must be equal.
#   4. A zone of SIGNED_BIG records (1,000,000): cold start with signing (empty state directory),
#      warm restart (the signature cache of the cold start), and unsigned, each to the first
#      answered SOA query, with RSS.
# Environment: SIGNED_RUNS (3), SIGNED_SECONDS (5), SIGNED_SETS ("static weighted mixed"),
# SIGNED_BIG (1000000; 0 skips), VEER, SERVER_CPU, CLIENT_CPU, BENCH_KEEP.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SIGNED_RUNS=${SIGNED_RUNS:-3}
SIGNED_SECONDS=${SIGNED_SECONDS:-5}
SIGNED_SETS=${SIGNED_SETS:-static weighted mixed}
SIGNED_BIG=${SIGNED_BIG:-1000000}

EXTRA_PACKAGES=ldnsutils need_tools dnsperf nsd dig taskset python3 bc ldns-keygen ldns-signzone curl
bench_init
CLK_TCK=$(getconf CLK_TCK)
python3 "$BENCH_DIR/gen.py" "$WORK/gen"

# --- keys and the signed NSD zone
mkdir -p "$WORK/keys" "$WORK/ldns"
"$VEER" keys generate bench.example. --dir "$WORK/keys" >"$WORK/veer-keys.out"
(
    cd "$WORK/ldns"
    key=$(ldns-keygen -a ECDSAP256SHA256 -k bench.example.)
    now=$(date -u +%s)
    ldns-signzone -i "$(date -u -d @$((now - 3600)) +%Y%m%d%H%M%S)" \
        -e "$(date -u -d @$((now + 14 * 86400)) +%Y%m%d%H%M%S)" \
        -f "$WORK/ldns/bench.example.zone" "$WORK/gen/nsd/bench.example.zone" "$key"
)

metrics_port=$(free_port)
veer_port=$(free_port)
nsd_port=$(free_port)
VEER_ARGS="--keys $WORK/keys --metrics 127.0.0.1:$metrics_port" start_veer "$WORK/gen/veer" "$veer_port" 1
veer_pid=$VEER_PID
start_nsd "$WORK/ldns/bench.example.zone" bench.example "$nsd_port"
nsd_pid=$NSD_PID
wait_ready "$veer_port" bench.example. "$veer_pid" 120 || { tail -20 "$WORK"/veer-*.log >&2; exit 1; }
wait_ready "$nsd_port" bench.example. "$nsd_pid" 120 || { cat "$WORK/nsd.stderr" >&2; exit 1; }

signatures_made() {
    curl -s "http://127.0.0.1:$metrics_port/metrics" | awk '$1 ~ /^veer_dnssec_signatures_made_total/ {s += $2} END {print s + 0}'
}

# Both answer with signatures?
for server in veer nsd; do
    port=$veer_port; [[ $server == nsd ]] && port=$nsd_port
    for q in "h0.bench.example. A" "w0.bench.example. A" "nx1.bench.example. A"; do
        # shellcheck disable=SC2086
        n=$(dig @127.0.0.1 -p "$port" $q +dnssec +norec | grep -c 'RRSIG' || true)
        echo "signed: $server $q: $n RRSIG lines" >&2
        ((n > 0)) || { echo "signed: $server answered $q without RRSIG" >&2; exit 1; }
    done
done

cpu_ticks() {   # user+system clock ticks of a process tree
    local p total=0 fields
    for p in $(tree_pids "$1"); do
        fields=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || continue
        set -- $fields
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}

RESULTS=$WORK/signed.tsv
: >"$RESULTS"
made_before=$(signatures_made)
for ((run = 1; run <= SIGNED_RUNS; run++)); do
    order=(veer nsd); ((run % 2 == 0)) && order=(nsd veer)
    for set in $SIGNED_SETS; do
        for server in "${order[@]}"; do
            port=$veer_port pid=$veer_pid
            [[ $server == nsd ]] && port=$nsd_port pid=$nsd_pid
            out=$WORK/dnsperf.$run.$server.$set
            t0=$(cpu_ticks "$pid")
            taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$port" -D -d "$WORK/gen/queries/$set.txt" \
                -l "$SIGNED_SECONDS" >"$out" 2>&1
            t1=$(cpu_ticks "$pid")
            answered=$(awk '/Queries completed:/ {print $3}' "$out")
            printf '%s\t%s\t%s\t%s\t%s\n' "$run" "$server" "$set" "$((t1 - t0))" "$answered" >>"$RESULTS"
            echo "signed: run $run/$SIGNED_RUNS $server $set DO=1 ($(grep -o 'Queries per second:.*' "$out" | tr -s ' '))" >&2
        done
    done
done
made_after=$(signatures_made)

# --- the 1,000,000-record zone: cold signing, warm restart, unsigned
BIG=$WORK/big.tsv
: >"$BIG"
first_answer() {   # seconds from now until PORT answers the SOA, or "-" when PID died
    local port=$1 pid=$2 start
    start=$(date +%s.%N)
    while ! dig @127.0.0.1 -p "$port" big.example. SOA +time=1 +tries=1 2>/dev/null | grep -q 'status: NOERROR'; do
        kill -0 "$pid" 2>/dev/null || { echo -; return; }
        sleep 0.05
    done
    echo "$(date +%s.%N) - $start" | bc
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
if [[ $SIGNED_BIG != 0 ]]; then
    stop_server "$veer_pid" 10
    stop_server "$nsd_pid" 10
    python3 "$BENCH_DIR/gen.py" --big "$WORK/gen" "$SIGNED_BIG"
    mkdir -p "$WORK/bigkeys"
    "$VEER" keys generate big.example. --dir "$WORK/bigkeys" >/dev/null
    big_state=$WORK/big-state
    for mode in cold warm unsigned; do
        port=$(free_port)
        args=(serve --zones "$WORK/gen/big/veer" --listen "127.0.0.1:$port" --threads 1)
        case $mode in
            cold) rm -rf "$big_state"; mkdir -p "$big_state"; args+=(--keys "$WORK/bigkeys" --state-dir "$big_state") ;;
            warm) args+=(--keys "$WORK/bigkeys" --state-dir "$big_state") ;;
            unsigned) mkdir -p "$WORK/big-unsigned"; args+=(--state-dir "$WORK/big-unsigned") ;;
        esac
        taskset -c "$SERVER_CPU" "$VEER" "${args[@]}" 2>"$WORK/big-$mode.log" &
        pid=$!
        STARTED+=("$pid")
        seconds=$(first_answer "$port" "$pid")
        printf '%s\t%s\t%s\n' "$mode" "$seconds" "$(rss_kib "$pid")" >>"$BIG"
        echo "signed: $SIGNED_BIG records, $mode start answers after ${seconds}s" >&2
        grep -i 'sign' "$WORK/big-$mode.log" | tail -2 >&2 || true
        stop_server "$pid" 30
    done
fi

python3 - "$RESULTS" "$BIG" "$CLK_TCK" "$made_before" "$made_after" "$SIGNED_BIG" <<'PY'
import statistics, sys
results, big, tck, before, after, big_n = sys.argv[1:7]
tck = int(tck)
rows = [line.rstrip("\n").split("\t") for line in open(results) if line.strip()]
runs = sorted({r[0] for r in rows})
sets = []
for r in rows:
    if r[2] not in sets:
        sets.append(r[2])
def us_per_query(run, server, s):
    for r in rows:
        if r[0] == run and r[1] == server and r[2] == s and int(r[4] or 0) > 0:
            return int(r[3]) / tck / int(r[4]) * 1e6
    return None
print("== DNSSEC: DO=1 queries, CPU per answered query (microseconds), medians of %d runs" % len(runs))
print("%-10s %10s %10s %12s %8s" % ("set", "veer", "nsd", "veer/nsd", "target"))
for s in sets:
    v = [us_per_query(run, "veer", s) for run in runs]
    n = [us_per_query(run, "nsd", s) for run in runs]
    ratios = [a / b for a, b in zip(v, n) if a and b]
    vm = statistics.median([x for x in v if x]) if any(v) else float("nan")
    nm = statistics.median([x for x in n if x]) if any(n) else float("nan")
    rm = statistics.median(ratios) if ratios else float("nan")
    rng = "(%.2f-%.2f)" % (min(ratios), max(ratios)) if ratios else ""
    print("%-10s %10.2f %10.2f %7.2f %s %s" % (s, vm, nm, rm, rng, "<= 1.0" if s != "mixed" else "(info)"))
made = int(float(after)) - int(float(before))
print("signatures made while answering: %d (%s)" % (made, "PASS: none per query" if made == 0 else "FAIL"))
lines = [l.rstrip("\n").split("\t") for l in open(big) if l.strip()]
if lines:
    print("== %s records, to the first answer" % big_n)
    base = {m: (s, r) for m, s, r in lines}
    for mode, seconds, rss in lines:
        print("%-9s %8s s  RSS %7.0f MiB" % (mode, seconds, int(rss or 0) / 1024))
    try:
        warm, unsigned = float(base["warm"][0]), float(base["unsigned"][0])
        print("warm restart / unsigned start: %.2fx" % (warm / unsigned))
    except (KeyError, ValueError, ZeroDivisionError):
        pass
PY
