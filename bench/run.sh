#!/usr/bin/env bash
# bench/run.sh: Veer vs NSD vs gdnsd, same zone, same queries, one table (`make bench`).
#
# What it does:
#   1. bench/gen.py writes the zone bench.example. (10,000 names: A, AAAA, CNAME, MX; plus
#      w0..w99 weighted 90/10 between two CNAMEs) in Veer's, NSD's and gdnsd's syntax, and the
#      dnsperf query files static, mixed and weighted (see gen.py).
#   2. Starts the three servers on free 127.0.0.1 ports, each pinned to core SERVER_CPU (0):
#      Veer (release, --threads 1), NSD (server-count 1, no RRL, minimal responses, its own
#      config and files in a temporary directory) and gdnsd (udp_threads 1, its own config dir).
#   3. Spot-checks with dig that they answer the same records (prints the differences).
#   4. For each query set, each mode and each server in turn (interleaved, so a change of load
#      on the machine hits all three alike): dnsperf pinned to core CLIENT_CPU (1) for
#      BENCH_SECONDS, "fixed" at -Q BENCH_RATE and "full" (no rate limit). Server CPU time is
#      utime+stime from /proc/PID/stat before and after, summed over the server's processes
#      (all threads are in a process's stat; NSD forks a server child and xfrd); RSS is VmRSS
#      after the run, summed the same way (PSS too, which does not count shared pages twice).
#   5. Prints one table and the ratios of CPU per answered query Veer/NSD and Veer/gdnsd.
#
# p99: dnsperf 2.10 has no latency histogram; with -v it prints each answer's latency, which
# this script turns into p99. -v slows dnsperf itself by about 30%, so only the fixed-rate runs
# use it; full-speed runs print p99 as n/a and mean latency from dnsperf's own summary.
#
# Environment: BENCH_SECONDS (10), BENCH_RATE (50000), BENCH_SETS ("static mixed weighted"),
# BENCH_SERVERS ("veer nsd gdnsd"), VEER (binary), SERVER_CPU, CLIENT_CPU, BENCH_KEEP=1 keeps
# the temporary directory. Needs dnsperf, nsd, gdnsd, dig, taskset, python3; installs nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_RATE=${BENCH_RATE:-50000}
BENCH_SETS=${BENCH_SETS:-static mixed weighted}
BENCH_SERVERS=${BENCH_SERVERS:-veer nsd gdnsd}

need_tools dnsperf nsd gdnsd dig taskset python3
bench_init
CLK_TCK=$(getconf CLK_TCK)

python3 "$BENCH_DIR/gen.py" "$WORK/gen"

declare -A PORT PID
for server in $BENCH_SERVERS; do
    PORT[$server]=$(free_port)
    case $server in
        veer) start_veer "$WORK/gen/veer" "${PORT[veer]}" 1; PID[veer]=$VEER_PID ;;
        nsd) start_nsd "$WORK/gen/nsd/bench.example.zone" bench.example "${PORT[nsd]}"; PID[nsd]=$NSD_PID ;;
        gdnsd) start_gdnsd "$WORK/gen" "${PORT[gdnsd]}"; PID[gdnsd]=$GDNSD_PID ;;
        *) echo "bench: unknown server $server" >&2; exit 64 ;;
    esac
done
for server in $BENCH_SERVERS; do
    wait_ready "${PORT[$server]}" bench.example. "${PID[$server]}" 60 || {
        tail -20 "$WORK/$server"*.log "$WORK/$server.stderr" 2>/dev/null >&2; exit 1; }
    echo "bench: $server pid ${PID[$server]} on 127.0.0.1:${PORT[$server]} ($(tree_pids "${PID[$server]}" | wc -l) processes)" >&2
done

# --- same bytes? dig without EDNS (dnsperf sends none), ids, times and cookies removed.
spot_check() {
    local qs=("bench.example. SOA" "bench.example. NS" "h0.bench.example. A" "h4.bench.example. AAAA"
        "h4.bench.example. A" "h7.bench.example. A" "h8.bench.example. MX" "h6.bench.example. A"
        "nx1.bench.example. A" "w0.bench.example. A" "w0.bench.example. AAAA")
    local q server first
    echo "== answer check (dig +noedns; differences against ${BENCH_SERVERS%% *})"
    for q in "${qs[@]}"; do
        first=
        for server in $BENCH_SERVERS; do
            # shellcheck disable=SC2086
            dig @127.0.0.1 -p "${PORT[$server]}" $q +noedns +nocookie +nostats +nocmd +norec \
                | grep -vE '^;; (global|Got answer|WARNING)|^;; ->>HEADER' | grep -v '^$' \
                | sed -E 's/id: [0-9]+//' >"$WORK/dig.$server"
            dig @127.0.0.1 -p "${PORT[$server]}" $q +noedns +norec +nocookie | grep -o 'MSG SIZE.*' >>"$WORK/dig.$server"
            if [[ -z $first ]]; then
                first=$server
            elif ! cmp -s "$WORK/dig.$first" "$WORK/dig.$server"; then
                echo "-- $q: $first vs $server differ"
                diff "$WORK/dig.$first" "$WORK/dig.$server" | grep '^[<>]' | sed 's/^/   /' || true
            fi
        done
        [[ -z $first ]] || echo "   $q: $(tail -1 "$WORK/dig.$first" | sed 's/MSG SIZE  rcvd: /bytes /') on $first"
    done
}
spot_check

# --- CPU (clock ticks) and memory (KiB) of a server's process tree.
cpu_ticks() {
    local p total=0 fields
    for p in $(tree_pids "$1"); do
        fields=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || continue
        # after the ")": field 3 is state, so utime/stime (fields 14/15) are the 12th/13th words
        set -- $fields
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}
mem_kib() {
    local p rss=0 pss=0 r s
    for p in $(tree_pids "$1"); do
        r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
        s=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
        rss=$((rss + ${r:-0})); pss=$((pss + ${s:-0}))
    done
    echo "$rss $pss"
}

RESULTS=$WORK/results.tsv
: >"$RESULTS"
echo "bench: load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for set in $BENCH_SETS; do
    for mode in fixed full; do
        for server in $BENCH_SERVERS; do
            out=$WORK/dnsperf.$server.$set.$mode
            args=(-s 127.0.0.1 -p "${PORT[$server]}" -d "$WORK/gen/queries/$set.txt" -l "$BENCH_SECONDS")
            [[ $mode == fixed ]] && args+=(-Q "$BENCH_RATE" -v)
            before=$(cpu_ticks "${PID[$server]}")
            start=$(date +%s.%N)
            taskset -c "$CLIENT_CPU" dnsperf "${args[@]}" >"$out" 2>&1
            end=$(date +%s.%N)
            after=$(cpu_ticks "${PID[$server]}")
            read -r rss pss < <(mem_kib "${PID[$server]}")
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$set" "$mode" "$out" \
                "$((after - before))" "$CLK_TCK" "$rss" "$pss" "$(echo "$end - $start" | bc)" >>"$RESULTS"
            echo "bench: $server $set $mode done ($(grep -o 'Queries per second:.*' "$out" | tr -s ' '))" >&2
        done
    done
done
echo "bench: load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 "$BENCH_DIR/report.py" "$RESULTS"
