#!/usr/bin/env bash
# bench/callgrind.sh: instructions per answered query under callgrind (`make bench-callgrind`).
#
# Each server (Veer --threads 1, NSD server-count 1, gdnsd udp_threads 1; the zone and configs
# of bench/run.sh, from bench/lib.sh) runs under `valgrind --tool=callgrind`:
#   - once as a baseline: start, answer the readiness checks, idle as long as a replay takes,
#     stop (SIGTERM);
#   - once per query set: the same, but dnsperf replays the set's 50,000 queries once (`-n 1`)
#     at CALLGRIND_RATE (4000 qps, modest enough for the slowed-down server).
# Ir per answered query = (instructions of the run − instructions of the baseline) / answers
# dnsperf got, where a run's instructions are summed over every thread and every process of
# the server (NSD forks xfrd and a server child), as callgrind writes them at exit. The
# difference removes zone loading, start-up, idle timers and shutdown.
# (callgrind_control -z/-d would avoid the baseline, but it does not reach NSD's forked
# children, so all three servers are measured the same way.)
#
# Valgrind 3.19 cannot read the DWARF 5 debug info Swift 6 emits and gives up, so Veer runs
# from a copy stripped of debug info (symbols kept; callgrind_annotate still names functions).
# (Veer's main thread waits in sigsuspend rather than dispatchMain(), which valgrind 3.19
# could not follow: it died with SIGSEGV a second after Veer was ready.)
#
# Instruction counts hardly depend on the machine's load, so this is the stable number to
# compare builds with; it says nothing about cache misses or the cost of each syscall.
#
# Environment: CALLGRIND_RATE (4000), BENCH_SETS ("static mixed weighted client"), BENCH_SERVERS
# ("veer nsd gdnsd"), VEER, SERVER_CPU, CLIENT_CPU, BENCH_KEEP=1 keeps the callgrind.out files.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CALLGRIND_RATE=${CALLGRIND_RATE:-4000}
BENCH_SETS=${BENCH_SETS:-static mixed weighted client}
BENCH_SERVERS=${BENCH_SERVERS:-veer nsd gdnsd}

EXTRA_PACKAGES=valgrind need_tools dnsperf nsd gdnsd dig taskset python3 valgrind strip
bench_init
python3 "$BENCH_DIR/gen.py" "$WORK/gen"
cp "$VEER" "$WORK/veer-nodebug"
strip --strip-debug "$WORK/veer-nodebug"
VEER=$WORK/veer-nodebug
REPLAY_LINES=$(wc -l <"$WORK/gen/queries/static.txt")

# Sum of the `totals:` lines of the callgrind.out files in DIR.
total_ir() {
    python3 - "$1" <<'PY'
import glob, sys
total = 0
for path in glob.glob(sys.argv[1] + "/callgrind.out.*"):
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                total += int(line.split()[1])
                break
print(total)
PY
}

# run_once SERVER LABEL [QUERYFILE]: sets RUN_IR, RUN_ANSWERED, RUN_LOST (RUN_IR is "-" when
# the server did not start under valgrind). Runs in this shell, so cleanup knows the pids.
run_once() {
    local server=$1 label=$2 queries=${3:-} dir=$WORK/cg/$1.$2 port pid
    mkdir -p "$dir"
    WRAP=(valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out.%p")
    port=$(free_port)
    case $server in
        veer) start_veer "$WORK/gen/veer" "$port" 1 && pid=$VEER_PID ;;
        nsd) start_nsd "$WORK/gen/nsd/bench.example.zone" bench.example "$port" && pid=$NSD_PID ;;
        gdnsd) start_gdnsd "$WORK/gen" "$port" && pid=$GDNSD_PID ;;
    esac
    if ! wait_ready "$port" bench.example. "$pid" 300; then
        cp "$WORK/$server"*.log "$dir/" 2>/dev/null || true
        stop_server "$pid" 10
        RUN_IR=- RUN_ANSWERED=0 RUN_LOST=0
        return
    fi
    if [[ -n $queries ]]; then
        taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$port" -d "$queries" -n 1 \
            -Q "$CALLGRIND_RATE" >"$dir/dnsperf.out" 2>&1
    else
        sleep "$(echo "scale=1; $REPLAY_LINES / $CALLGRIND_RATE" | bc)"
    fi
    stop_server "$pid" 120
    cp "$WORK/$server"*.log "$dir/" 2>/dev/null || true
    if grep -qs 'VALGRIND INTERNAL ERROR' "$dir/$server"*.log; then
        echo "bench-callgrind: valgrind itself crashed running $server ($label):" \
            "$(grep -h -m1 -A1 'VALGRIND INTERNAL ERROR' "$dir/$server"*.log | tr -s ' -' ' ' | tr '\n' ' ')" >&2
        RUN_IR=- RUN_ANSWERED=0 RUN_LOST=0
        return
    fi
    RUN_IR=$(total_ir "$dir")
    RUN_ANSWERED=$(awk '/Queries completed:/ {print $3}' "$dir/dnsperf.out" 2>/dev/null || true)
    RUN_LOST=$(awk '/Queries lost:/ {print $3}' "$dir/dnsperf.out" 2>/dev/null || true)
}

RESULTS=$WORK/callgrind.tsv
: >"$RESULTS"
echo "bench-callgrind: load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for server in $BENCH_SERVERS; do
    run_once "$server" baseline
    base=$RUN_IR
    echo "bench-callgrind: $server baseline: Ir $base" >&2
    if [[ $base == - ]]; then
        printf '%s\t-\t0\t0\t0\t0\n' "$server" >>"$RESULTS"
        continue
    fi
    for set in $BENCH_SETS; do
        run_once "$server" "$set" "$WORK/gen/queries/$set.txt"
        ir=$RUN_IR answered=$RUN_ANSWERED lost=$RUN_LOST
        echo "bench-callgrind: $server $set: Ir $ir, answered ${answered:-0}, lost ${lost:-0}" >&2
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$set" "$base" "$ir" "${answered:-0}" "${lost:-0}" >>"$RESULTS"
    done
done
echo "bench-callgrind: load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$RESULTS" "$CALLGRIND_RATE" <<'PY'
import sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
per = {}
print(f"Ir per answered query under callgrind: {sys.argv[2]} qps replay of each set once, minus an idle baseline")
print(f"{'server':<7} {'set':<9} {'answered':>9} {'lost':>6} {'baseline Ir':>15} {'run Ir':>15} {'Ir/query':>9}")
print("-" * 76)
for server, qset, base, ir, done, lost in rows:
    if qset == "-" or ir == "-":
        print(f"{server:<7} {qset:<9} no number: valgrind failed or crashed (BENCH_KEEP=1 keeps its log)")
        continue
    base, ir, done = int(base), int(ir), int(done)
    per[(server, qset)] = (ir - base) / done if done else None
    shown = f"{(ir - base) / done:9.0f}" if done else "      n/a"
    print(f"{server:<7} {qset:<9} {done:>9} {lost:>6} {base:>15,} {ir:>15,} {shown}")
print()
for other in ("nsd", "gdnsd"):
    for (server, qset), v in per.items():
        o = per.get((other, qset))
        if server == "veer" and v and o:
            target = ""
            if other == "gdnsd" and qset in ("static", "mixed", "weighted"):
                target = f"   target <= 0.80: {'met' if v <= 0.8 * o else 'NOT met'}"
            print(f"  Ir/query veer/{other:<6} {qset:<9} {v / o:6.2f}x   ({v:.0f} vs {o:.0f}){target}")
client, weighted = per.get(("veer", "client")), per.get(("veer", "weighted"))
if client and weighted:
    print(f"  Ir/query veer client/weighted   {client / weighted:6.2f}x   target <= 1.10: "
          f"{'met' if client <= 1.1 * weighted else 'NOT met'}")
PY
