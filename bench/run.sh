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
#   4. BENCH_RUNS times (3): for each query set, each mode and each server in turn
#      (interleaved, so a change of load on the machine hits all three alike, and the first
#      server of a round changing from run to run): dnsperf pinned
#      to core CLIENT_CPU (1) for BENCH_SECONDS, "fixed" at -Q BENCH_RATE and "full" (no rate
#      limit). Server CPU time is utime and stime from /proc/PID/stat before and after, summed
#      over the server's processes (all threads are in a process's stat; NSD forks a server
#      child and xfrd); RSS is VmRSS after the run, summed the same way (PSS too, which does
#      not count pages shared by NSD's forked processes twice).
#   5. Two UDP threads against one: Veer --threads 1 (one core) and --threads 2 (both cores)
#      under one dnsperf with 16 sockets at full speed (BENCH_SCALE_SECONDS; 0 skips it).
#   6. Scale: a generated zone of BENCH_BIG records (1,000,000; 0 skips it): `veer check`
#      time, then Veer and NSD each started on it alone: seconds to the first answer, RSS, PSS.
#   7. Prints one table of medians over the runs, the ratios of CPU per answered query
#      Veer/NSD and Veer/gdnsd (computed within each run, median and range), the p99 at the
#      fixed rate, the scaling line and the scale line, each with its target (issues 5 and 14).
#
# p99: dnsperf 2.10 has no latency histogram; with -v it prints each answer's latency, which
# this script turns into p99. -v slows dnsperf itself by about 30%, so only the fixed-rate runs
# use it; full-speed runs print p99 as n/a and mean latency from dnsperf's own summary.
# Latency tails follow whatever else runs on the two cores; CPU per query hardly does.
#
# Environment: BENCH_RUNS (3), BENCH_SECONDS (5), BENCH_RATE (50000), BENCH_SETS ("static
# mixed weighted client"), BENCH_SERVERS ("veer nsd gdnsd"), BENCH_SCALE_SECONDS (5), BENCH_BIG
# (1000000), VEER (binary), SERVER_CPU, CLIENT_CPU, BENCH_KEEP=1 keeps the temporary
# directory. Needs dnsperf, nsd, gdnsd, dig, taskset, python3, bc; installs nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

BENCH_SECONDS=${BENCH_SECONDS:-5}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_RATE=${BENCH_RATE:-50000}
BENCH_SCALE_SECONDS=${BENCH_SCALE_SECONDS:-5}
BENCH_BIG=${BENCH_BIG:-1000000}
BENCH_SETS=${BENCH_SETS:-static mixed weighted client}
BENCH_SERVERS=${BENCH_SERVERS:-veer nsd gdnsd}

need_tools dnsperf nsd gdnsd dig taskset python3 bc
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

# --- CPU (clock ticks, "user system") and memory (KiB, "rss pss") of a server's process tree.
cpu_ticks() {
    local p user=0 system=0 fields
    for p in $(tree_pids "$1"); do
        fields=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || continue
        # after the ")": field 3 is state, so utime/stime (fields 14/15) are the 12th/13th words
        set -- $fields
        user=$((user + ${12})); system=$((system + ${13}))
    done
    echo "$user $system"
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

# measure RUN SERVER SET MODE OUT PID DNSPERF-ARGS...: one dnsperf run pinned to CLIENT_CPU,
# appends a row to $RESULTS.
measure() {
    local run=$1 server=$2 set=$3 mode=$4 out=$5 pid=$6 u0 s0 u1 s1 start end rss pss
    shift 6
    read -r u0 s0 < <(cpu_ticks "$pid")
    start=$(date +%s.%N)
    taskset -c "$CLIENT_CPU" dnsperf "$@" >"$out" 2>&1
    end=$(date +%s.%N)
    read -r u1 s1 < <(cpu_ticks "$pid")
    read -r rss pss < <(mem_kib "$pid")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$server" "$set" "$mode" "$out" \
        "$((u1 - u0))" "$((s1 - s0))" "$CLK_TCK" "$rss" "$pss" "$(echo "$end - $start" | bc)" >>"$RESULTS"
}

RESULTS=$WORK/results.tsv
: >"$RESULTS"
echo "bench: load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
read -r -a SERVERS <<<"$BENCH_SERVERS"
for ((run = 1; run <= BENCH_RUNS; run++)); do
    # The servers take turns going first (run 1: veer nsd gdnsd, run 2: nsd gdnsd veer, ...),
    # so whatever favours a position in the round does not always favour the same server.
    order=("${SERVERS[@]:$(((run - 1) % ${#SERVERS[@]}))}" "${SERVERS[@]:0:$(((run - 1) % ${#SERVERS[@]}))}")
    for set in $BENCH_SETS; do
        for mode in fixed full; do
            for server in "${order[@]}"; do
                out=$WORK/dnsperf.$run.$server.$set.$mode
                args=(-s 127.0.0.1 -p "${PORT[$server]}" -d "$WORK/gen/queries/$set.txt" -l "$BENCH_SECONDS")
                [[ $mode == fixed ]] && args+=(-Q "$BENCH_RATE" -v)
                measure "$run" "$server" "$set" "$mode" "$out" "${PID[$server]}" "${args[@]}"
                echo "bench: run $run/$BENCH_RUNS $server $set $mode ($(grep -o 'Queries per second:.*' "$out" | tr -s ' '))" >&2
            done
        done
    done
done
echo "bench: load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# --- Two UDP threads against one. One dnsperf (-c 16 sockets, so SO_REUSEPORT spreads the
# flows over both sockets; -T 2 threads) at full speed, unpinned, against Veer --threads 1
# pinned to SERVER_CPU and Veer --threads 2 on both cores. On a 2-core machine the load
# generator then shares the cores with the server, so the qps ratio is a lower bound; the
# CPU per query of the two shows whether a second thread costs anything per answer.
SCALE=$WORK/scale.tsv
: >"$SCALE"
if [[ $BENCH_SCALE_SECONDS != 0 && " $BENCH_SERVERS " == *" veer "* ]]; then
    for threads in 1 2; do
        port=$(free_port)
        cpus=$SERVER_CPU
        ((threads == 1)) || cpus="$SERVER_CPU,$CLIENT_CPU"
        SERVER_CPU=$cpus start_veer "$WORK/gen/veer" "$port" "$threads"
        pid=$VEER_PID
        wait_ready "$port" bench.example. "$pid" 60 || exit 1
        out=$WORK/dnsperf.scale.$threads
        read -r u0 s0 < <(cpu_ticks "$pid")
        dnsperf -s 127.0.0.1 -p "$port" -d "$WORK/gen/queries/static.txt" -l "$BENCH_SCALE_SECONDS" \
            -c 16 -T 2 >"$out" 2>&1
        read -r u1 s1 < <(cpu_ticks "$pid")
        printf '%s\t%s\t%s\t%s\n' "$threads" "$out" "$((u1 - u0 + s1 - s0))" "$CLK_TCK" >>"$SCALE"
        echo "bench: scaling, veer --threads $threads ($(grep -o 'Queries per second:.*' "$out" | tr -s ' '))" >&2
        stop_server "$pid" 10
    done
fi

# --- Scale: a zone of BENCH_BIG records (bench/gen.py --big). Load time is from exec to the
# first answered SOA query (polled every 20 ms); memory once it answers; `veer check` wall time.
BIG=$WORK/big.tsv
: >"$BIG"
first_answer() {   # first_answer PORT PID: seconds waited, or "-" if the server died
    local port=$1 pid=$2 start now
    start=$(date +%s.%N)
    while ! dig @127.0.0.1 -p "$port" big.example. SOA +time=1 +tries=1 2>/dev/null | grep -q 'status: NOERROR'; do
        kill -0 "$pid" 2>/dev/null || { echo -; return; }
        sleep 0.02
    done
    now=$(date +%s.%N)
    echo "$now - $start" | bc
}
if [[ $BENCH_BIG != 0 ]]; then
    for server in $BENCH_SERVERS; do stop_server "${PID[$server]}" 10; done
    python3 "$BENCH_DIR/gen.py" --big "$WORK/gen" "$BENCH_BIG"
    start=$(date +%s.%N)
    "$VEER" check "$WORK/gen/big/veer" >"$WORK/veer-check.out" 2>&1
    check=$(echo "$(date +%s.%N) - $start" | bc)
    for server in $BENCH_SERVERS; do
        port=$(free_port)
        case $server in
            veer) start_veer "$WORK/gen/big/veer" "$port" 1; pid=$VEER_PID ;;
            nsd) rm -rf "$WORK/nsd"; start_nsd "$WORK/gen/big/nsd/big.example.zone" big.example "$port"; pid=$NSD_PID ;;
            *) continue ;;
        esac
        seconds=$(first_answer "$port" "$pid")
        sleep 1    # let NSD's forked children settle before reading memory
        read -r rss pss < <(mem_kib "$pid")
        printf '%s\t%s\t%s\t%s\t%s\n' "$server" "$seconds" "$rss" "$pss" "$check" >>"$BIG"
        echo "bench: $BENCH_BIG records, $server answers after ${seconds}s" >&2
        stop_server "$pid" 10
    done
fi

python3 "$BENCH_DIR/report.py" "$RESULTS" "$SCALE" "$BIG" "$BENCH_RATE" "$BENCH_BIG"
