#!/usr/bin/env bash
# Builds the libFuzzer targets and runs them for ${1:-60} seconds in all.
#
#   fuzz/run.sh                  # one minute, split between the three targets
#   fuzz/run.sh 600 respond      # ten minutes of the responder only
#   fuzz/run.sh 3600 decode      # an hour of the decoder only
#   fuzz/run.sh 60 state         # a minute of the state decoder only
#
# Targets:
#   decode   Message.decode on arbitrary bytes, then a round trip (fuzz/DecodeFuzz.swift).
#   respond  Responder.respond, the code that faces the network, on arbitrary queries against
#            a realistic zone; the first input byte picks transport, buffer and weights
#            (fuzz/RespondFuzz.swift).
#   state    StateDocument.decode, the state decoder and its validation (weights.json, etcd's
#            state key, store import), then undo of every name and a round trip
#            (fuzz/StateFuzz.swift).
#
# Output: fuzz/out/<target>-fuzz (the binaries) and, on a crash, fuzz/out/<target>/crash-*
# (the input; replay it with `fuzz/out/<target>-fuzz FILE`). fuzz/corpus/ (decode) and
# fuzz/corpus-respond/ and fuzz/corpus-state/ start with a few hand-written messages and keep what libFuzzer finds.
# All three directories are gitignored. Inputs that once crashed are kept in fuzz/crashes/.
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
# Swift's crash backtracer reads the crashed thread's stack from another thread, which ASan
# reports as a stack-buffer-underflow, and then the process hangs; libFuzzer's own report has
# the stack already.
export SWIFT_BACKTRACE=enable=no
seconds="${1:-60}"
which="${2:-all}"
out=fuzz/out
case "$which" in
    decode|respond|state|all) ;;
    *) echo "usage: fuzz/run.sh [SECONDS] [decode|respond|state|all]" >&2; exit 64 ;;
esac
mkdir -p "$out"

# Writes the bytes given as hex (spaces allowed) to $dir/$1.
seed() {
    local file="$1"; shift
    local hex
    hex="$(echo "$*" | tr -d ' \n')"
    printf "$(echo "$hex" | sed 's/../\\x&/g')" > "$dir/$file"
}

# Runs fuzz/out/$1-fuzz over corpus $2 for $3 seconds, with more libFuzzer flags after;
# returns libFuzzer's status.
run() {
    local target="$1" corpus="$2" time="$3"
    shift 3
    mkdir -p "$out/$target"
    echo "running $target for ${time}s" >&2
    "$out/$target-fuzz" \
        -max_total_time="$time" \
        -max_len=4096 \
        -print_final_stats=1 \
        -artifact_prefix="$out/$target/" \
        "$@" \
        "$corpus"
}

# lld: gold links these too, but prints a warning for each of ASan's ~140 local check symbols.
build_decode() {
    echo "building $out/decode-fuzz" >&2
    swiftc -use-ld=lld -sanitize=fuzzer,address -parse-as-library -O \
        -module-name DecodeFuzz -I Sources/CHints/include \
        Sources/DNSWire/*.swift fuzz/DecodeFuzz.swift \
        -o "$out/decode-fuzz"

    dir=fuzz/corpus
    mkdir -p "$dir"
    # Query: www.example.com. IN A, RD set.
    seed query-a \
        "1234 0100 0001 0000 0000 0000" \
        "03 777777 07 6578616d706c65 03 636f6d 00 0001 0001"
    # Query with EDNS: example.com. IN SOA, payload 1232, DO, a COOKIE option.
    seed query-edns \
        "0002 0000 0001 0000 0000 0001" \
        "07 6578616d706c65 03 636f6d 00 0006 0001" \
        "00 0029 04d0 00008000 000c 000a 0008 0102030405060708"
    # Answer with compression: A, NS in authority, glue A in additional.
    seed answer-compressed \
        "1234 8400 0001 0001 0001 0001" \
        "03 777777 07 6578616d706c65 03 636f6d 00 0001 0001" \
        "c00c 0001 0001 0000003c 0004 c0000201" \
        "c010 0002 0001 00000e10 0006 03 6e7331 c010" \
        "c03d 0001 0001 00000e10 0004 c0000235"
    # Answer: SOA, MX, TXT (two strings, one empty), SRV (uncompressed target), CAA, AAAA, TYPE65534.
    seed answer-types \
        "0003 8400 0001 0007 0000 0000" \
        "07 6578616d706c65 03 636f6d 00 00ff 0001" \
        "c00c 0006 0001 00000e10 0027 03 6e7331 c00c 0a 686f73746d6173746572 c00c" \
        "   00000001 00000002 00000003 00000004 00000005" \
        "c00c 000f 0001 0000012c 0009 000a 04 6d61696c c00c" \
        "c00c 0010 0001 0000012c 000d 0b 763d73706631202d616c6c 00" \
        "c00c 0021 0001 0000003c 0017 0001 0002 13c4 03 736970 07 6578616d706c65 03 636f6d 00" \
        "c00c 0101 0001 0000003c 0011 00 05 6973737565 6361 2e 6578616d706c65" \
        "c00c 001c 0001 0000003c 0010 20010db8000000000000000000000001" \
        "c00c fffe 0001 0000003c 0003 c00c00"
    # NXDOMAIN with the SOA in authority and EDNS.
    seed nxdomain \
        "0004 8403 0001 0000 0001 0001" \
        "06 6e6f6e616d65 07 6578616d706c65 03 636f6d 00 0001 0001" \
        "c013 0006 0001 0000012c 0027 03 6e7331 c013 0a 686f73746d6173746572 c013" \
        "   00000001 00000002 00000003 00000004 00000005" \
        "00 0029 04d0 00000000 0000"
}

# build_modules DIR MODULE...: each module of Sources/, in dependency order, into a static
# library and a .swiftmodule in DIR, with the fuzzer's coverage and ASan.
build_modules() {
    local build="$1"; shift
    mkdir -p "$build"
    local module
    for module in "$@"; do
        echo "building $build/lib$module.a" >&2
        swiftc -use-ld=lld -sanitize=fuzzer,address -parse-as-library -O -swift-version 6 \
            -module-name "$module" -I "$build" -I Sources/CHints/include \
            -emit-module -emit-module-path "$build/$module.swiftmodule" \
            -emit-library -static -o "$build/lib$module.a" \
            Sources/"$module"/*.swift
    done
}

# The responder's modules, each its own module as in Package.swift (they import each other),
# in Swift 6 mode as there, compiled with the fuzzer's coverage and ASan into static libraries;
# only the final link adds libFuzzer's main. Exclusivity checks stay on (release builds of
# Authority turn them off), so a violation traps here rather than going unnoticed.
build_respond() {
    local build="$out/respond-build"
    build_modules "$build" Units DNSWire Traffic ZoneFile Authority
    echo "building $out/respond-fuzz" >&2
    swiftc -use-ld=lld -sanitize=fuzzer,address -parse-as-library -O -swift-version 6 \
        -module-name RespondFuzz -I "$build" -I Sources/CHints/include -L "$build" \
        fuzz/RespondFuzz.swift \
        -lAuthority -lZoneFile -lTraffic -lDNSWire -lUnits \
        -o "$out/respond-fuzz"

    # Each seed starts with the variant byte (see RespondFuzz.swift): bits 0-1 the buffer
    # (0: UDP 512, 1: UDP 1232, 2: UDP 4096, 3: TCP 65535), bit 2 statusAllowed, bit 3 the
    # server's payload (1232 or 4096), bits 4-5 the weight table, bits 6-7 the random seed.
    dir=fuzz/corpus-respond
    mkdir -p "$dir"
    # www.example.com. IN A, RD set, UDP 512.
    seed a \
        "00" "1234 0100 0001 0000 0000 0000" \
        "03 777777 07 6578616d706c65 03 636f6d 00 0001 0001"
    # www.example.com. IN AAAA over TCP.
    seed aaaa-tcp \
        "03" "0005 0000 0001 0000 0000 0000" \
        "03 777777 07 6578616d706c65 03 636f6d 00 001c 0001"
    # _veer.api.example.com. IN TXT from an allowed client, EDNS payload 4096, server 4096.
    seed status-txt \
        "0e" "0006 0000 0001 0000 0000 0001" \
        "05 5f76656572 03 617069 07 6578616d706c65 03 636f6d 00 0010 0001" \
        "00 0029 1000 00000000 0000"
    # The same status query without EDNS: the TXT does not fit in 512 octets.
    seed status-txt-udp \
        "04" "0007 0000 0001 0000 0000 0000" \
        "05 5f76656572 03 617069 07 6578616d706c65 03 636f6d 00 0010 0001"
    # example.com. IN ANY (RFC 8482: one RRset).
    seed any \
        "01" "0008 0000 0001 0000 0000 0000" \
        "07 6578616d706c65 03 636f6d 00 00ff 0001"
    # example.com. IN MX with EDNS 1232 and a COOKIE option: additional addresses.
    seed mx-edns \
        "01" "0009 0100 0001 0000 0000 0001" \
        "07 6578616d706c65 03 636f6d 00 000f 0001" \
        "00 0029 04d0 00000000 000c 000a 0008 0102030405060708"
    # api.example.com. IN A (weighted CNAME, then example.net.), mid-shift weights with a TTL cap.
    seed api \
        "11" "000a 0000 0001 0000 0000 0000" \
        "03 617069 07 6578616d706c65 03 636f6d 00 0001 0001"
    # pool.example.com. IN AAAA (weighted A/AAAA), every endpoint down: fail open.
    seed pool-down \
        "21" "000b 0000 0001 0000 0000 0000" \
        "04 706f6f6c 07 6578616d706c65 03 636f6d 00 001c 0001"
    # big.example.com. IN A without EDNS: 40 records, truncated.
    seed big \
        "00" "000c 0000 0001 0000 0000 0000" \
        "03 626967 07 6578616d706c65 03 636f6d 00 0001 0001"
    # x.sub.example.com. IN A: a referral with glue.
    seed referral \
        "02" "000d 0000 0001 0000 0000 0001" \
        "01 78 03 737562 07 6578616d706c65 03 636f6d 00 0001 0001" \
        "00 0029 04d0 00000000 0000"
    # Alias.Example.COM. IN A: a CNAME chain, mixed case.
    seed chain \
        "00" "000e 0000 0001 0000 0000 0000" \
        "05 416c696173 07 4578616d706c65 03 434f4d 00 0001 0001"
    # foo.wild.example.com. IN TXT: a wildcard.
    seed wildcard \
        "03" "000f 0000 0001 0000 0000 0000" \
        "03 666f6f 04 77696c64 07 6578616d706c65 03 636f6d 00 0010 0001"
}

# The state decoder over the Traffic library: StateDocument.swift and JSON.swift from the
# server, compiled with the target into one module, so the fuzzer runs the server's decoder.
build_state() {
    local build="$out/state-build"
    build_modules "$build" Units DNSWire Traffic
    echo "building $out/state-fuzz" >&2
    swiftc -use-ld=lld -sanitize=fuzzer,address -parse-as-library -O -swift-version 6 \
        -module-name StateFuzz -I "$build" -I Sources/CHints/include -L "$build" \
        fuzz/StateFuzz.swift Sources/VeerServer/StateDocument.swift Sources/VeerServer/JSON.swift \
        -lTraffic -lDNSWire -lUnits \
        -o "$out/state-fuzz"

    # Valid weights.json documents, as today's and earlier servers write them.
    dir=fuzz/corpus-state
    mkdir -p "$dir"
    cat > "$dir/rollout.json" <<'JSON'
{
  "names" : [ { "endpoints" : [ { "id" : "old", "weight" : 75 }, { "id" : "new", "raisedAt" : 1764700000, "weight" : 25 } ],
                "name" : "api.example.com.", "undo" : [ [ 100, 0 ], [ 90, 10 ] ] },
              { "endpoints" : [ { "id" : "a", "weight" : 1 }, { "id" : "b", "weight" : 0 }, { "id" : "c", "weight" : 1000000 } ],
                "name" : "pool.example.com.", "undo" : [ ] } ],
  "revision" : 7,
  "rollouts" : [ { "bakeMs" : 600000, "bakedMs" : 1000, "baseline" : [ { "id" : "old", "weight" : 100 }, { "id" : "new", "weight" : 0 } ],
                   "cleanProbes" : 2, "name" : "api.example.com.", "phase" : "baking", "startedAt" : 1764700000000,
                   "step" : 1, "steps" : [ 100, 2500, 10000 ], "target" : "new" } ],
  "seed" : "000102030405060708090a0b0c0d0e0f",
  "version" : 1
}
JSON
    cat > "$dir/plain.json" <<'JSON'
{"names":[{"endpoints":[{"id":"old","weight":100},{"id":"new","weight":0}],"name":"api.example.com.","undo":[]}],"version":1}
JSON
    cat > "$dir/shared.json" <<'JSON'
{"lastChange":"uid 1000 on a: \"shift api.example.com new 25%\"","names":[{"endpoints":[{"id":"old","weight":75},{"id":"new","raisedAt":1764700000,"weight":25}],"name":"api.example.com.","undo":[[100,0]]}],"revision":0,"rollouts":[{"analyses":{},"bakeMs":60000,"bakedMs":0,"baseline":[{"id":"old","weight":100},{"id":"new","weight":0}],"cleanProbes":0,"endedAt":1764700100000,"name":"api.example.com.","note":"aborted by uid 1000","phase":"aborted","startedAt":1764700000000,"step":0,"steps":[2500,10000],"target":"new"}],"version":1}
JSON
    cat > "$dir/pending.json" <<'JSON'
{"auditSize":120,"names":[{"endpoints":[{"id":"a","weight":5},{"id":"b","weight":5}],"name":"pool.example.com.","undo":[[10,0],[5,5],[0,10]]}],"pendingAudit":["2026-11-23T19:20:00Z uid=1000 pool.example.com. a 10 -> 5 reason=\"x\""],"revision":3,"version":1}
JSON
}

status=0
case "$which" in
    decode)  build_decode;  run decode fuzz/corpus "$seconds" || status=$? ;;
    respond) build_respond; run respond fuzz/corpus-respond "$seconds" -dict=fuzz/respond.dict || status=$? ;;
    state)   build_state;   run state fuzz/corpus-state "$seconds" || status=$? ;;
    all)
        build_decode
        build_respond
        build_state
        third=$(( seconds / 3 > 0 ? seconds / 3 : 1 ))
        run decode fuzz/corpus "$third" || status=$?
        run respond fuzz/corpus-respond "$third" -dict=fuzz/respond.dict || status=$?
        run state fuzz/corpus-state "$(( seconds - 2 * third > 0 ? seconds - 2 * third : 1 ))" || status=$?
        ;;
esac
exit "$status"
