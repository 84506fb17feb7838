# bench/lib.sh: shared by bench/run.sh, bench/callgrind.sh and bench/example-com.sh (sourced,
# not run). Starts Veer, NSD and gdnsd on free loopback ports with their own config, state and
# zone files under one temporary directory, and stops every process it started on exit.
#
# Environment:
#   VEER        the veer binary (default: .build/release/veer)
#   SERVER_CPU  core the servers are pinned to (default 0); CLIENT_CPU for dnsperf (default 1)
#   BENCH_KEEP  set to 1 to keep the temporary directory (configs, logs, dnsperf outputs)

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
VEER=${VEER:-$ROOT/.build/release/veer}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
WRAP=()        # a command put in front of each server (callgrind.sh sets valgrind here)
STARTED=()     # pids of what we started, stopped by cleanup

# Exits 1 with the install line when a tool is missing; installs nothing itself.
need_tools() {
    local missing=() tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || [[ -x /usr/sbin/$tool ]] || missing+=("$tool")
    done
    if ((${#missing[@]})); then
        echo "bench: missing ${missing[*]}; install with:" >&2
        echo "  apt-get install -y dnsperf nsd gdnsd bc bind9-dnsutils${EXTRA_PACKAGES:+ $EXTRA_PACKAGES}" >&2
        exit 1
    fi
    if [[ ! -x $VEER ]]; then
        echo "bench: $VEER not built; run 'make release' (or set VEER=...)" >&2
        exit 1
    fi
}

bench_init() {
    WORK=$(mktemp -d /tmp/veer-bench.XXXXXX)
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}

# The pids of PID and all its descendants (NSD forks a server child and xfrd).
tree_pids() {
    local pid=$1 child
    [[ -d /proc/$pid ]] || return 0
    echo "$pid"
    for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do tree_pids "$child"; done
}

cleanup() {
    set +e    # a server that already exited must not stop the cleanup of the others
    local pid
    for pid in "${STARTED[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${STARTED[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then
        echo "bench: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}

# Running and not a zombie (our own child stays a zombie until waited for).
is_alive() {
    [[ -r /proc/$1/stat ]] && [[ $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) != Z ]]
}

# stop_server PID [SECONDS]: SIGTERM, then wait until the process and all its children are
# gone (under valgrind they write their profiles on the way out); SIGKILL after SECONDS (60).
stop_server() {
    local pid=$1 limit=${2:-60} pids i p alive
    pids=$(tree_pids "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < limit * 10; i++)); do
        alive=0
        for p in $pids; do is_alive "$p" && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
    wait "$pid" 2>/dev/null || true
    local kept=() s
    for s in "${STARTED[@]}"; do [[ $s == "$pid" ]] || kept+=("$s"); done
    STARTED=("${kept[@]}")
}

# A port free for both UDP and TCP on 127.0.0.1.
free_port() {
    python3 - <<'PY'
import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port)); print(port); break
    except OSError:
        pass
    finally:
        u.close(); t.close()
PY
}

# wait_ready PORT ZONE PID SECONDS: until the server answers the zone's SOA.
wait_ready() {
    local port=$1 zone=$2 pid=$3 limit=$4 i
    for ((i = 0; i < limit * 5; i++)); do
        kill -0 "$pid" 2>/dev/null || { echo "bench: server on port $port died" >&2; return 1; }
        if dig @127.0.0.1 -p "$port" "$zone" SOA +time=1 +tries=1 2>/dev/null | grep -q 'status: NOERROR'; then
            return 0
        fi
        sleep 0.2
    done
    echo "bench: server on port $port not answering after ${limit}s" >&2
    return 1
}

# start_veer ZONEDIR PORT THREADS: sets VEER_PID. State (admin socket, weights) and log are
# per port, so several Veer servers can run at once. VEER_ARGS adds options (e.g.
# "--rrl-exempt none --rrl-rate 1000000" to measure the rate limiter's cost on loopback).
start_veer() {
    local dir=$1 port=$2 threads=$3
    mkdir -p "$WORK/veer-state-$port"
    taskset -c "$SERVER_CPU" "${WRAP[@]}" "$VEER" serve --zones "$dir" --listen "127.0.0.1:$port" \
        --threads "$threads" --state-dir "$WORK/veer-state-$port" ${VEER_ARGS:-} 2>"$WORK/veer-$port.log" &
    VEER_PID=$!
    STARTED+=("$VEER_PID")
}

# start_nsd ZONEFILE ZONE PORT: one server process, no RRL, minimal responses, own files. Sets NSD_PID.
start_nsd() {
    local zonefile=$1 zone=$2 port=$3 d=$WORK/nsd
    mkdir -p "$d"
    cp "$zonefile" "$d/$zone.zone"
    cat >"$d/nsd.conf" <<CONF
server:
    ip-address: 127.0.0.1@$port
    port: $port
    do-ip6: no
    server-count: 1
    reuseport: no
    username: ""
    chroot: ""
    zonesdir: "$d"
    database: ""
    zonelistfile: "$d/zone.list"
    xfrdfile: "$d/xfrd.state"
    xfrdir: "$d"
    pidfile: "$d/nsd.pid"
    logfile: "$d/nsd.log"
    verbosity: 0
    zonefiles-write: 0
    minimal-responses: yes
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: "$zone"
    zonefile: "$zone.zone"
CONF
    nsd-checkconf "$d/nsd.conf" || return 1
    taskset -c "$SERVER_CPU" "${WRAP[@]}" nsd -d -c "$d/nsd.conf" 2>"$WORK/nsd.stderr" &
    NSD_PID=$!
    STARTED+=("$NSD_PID")
}

# start_gdnsd GENDIR PORT: GENDIR/gdnsd holds zones/ and weighted.conf (from gen.py). Sets GDNSD_PID.
start_gdnsd() {
    local gen=$1 port=$2 d=$WORK/gdnsd
    mkdir -p "$d/run" "$d/state"
    cp -r "$gen/gdnsd/zones" "$d/zones"
    # experimental_no_chain=false: follow in-zone CNAMEs as Veer and NSD do (gdnsd's default
    # answers with the CNAME alone).
    cat >"$d/config" <<CONF
options => {
    listen => [ 127.0.0.1:$port ]
    udp_threads => 1
    tcp_threads => 1
    run_dir => $d/run
    state_dir => $d/state
    experimental_no_chain => false
}
plugins => {
$(cat "$gen/gdnsd/weighted.conf" 2>/dev/null)
}
CONF
    taskset -c "$SERVER_CPU" "${WRAP[@]}" gdnsd -c "$d" start 2>"$WORK/gdnsd.log" &
    GDNSD_PID=$!
    STARTED+=("$GDNSD_PID")
}
