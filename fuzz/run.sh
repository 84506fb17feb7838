#!/usr/bin/env bash
# Builds the Message.decode libFuzzer target and runs it for ${1:-60} seconds.
#
#   fuzz/run.sh          # one minute
#   fuzz/run.sh 3600     # an hour
#
# Output: fuzz/out/decode-fuzz (the binary) and, on a crash, fuzz/out/crash-* (the input).
# fuzz/corpus/ starts with a few hand-written messages and keeps what libFuzzer finds.
# Both directories are gitignored.
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
seconds="${1:-60}"
out=fuzz/out
corpus=fuzz/corpus
mkdir -p "$out" "$corpus"

echo "building $out/decode-fuzz" >&2
swiftc -sanitize=fuzzer,address -parse-as-library -O \
    -module-name DecodeFuzz \
    Sources/DNSWire/*.swift fuzz/DecodeFuzz.swift \
    -o "$out/decode-fuzz"

# Writes the bytes given as hex (spaces allowed) to $corpus/$1.
seed() {
    local file="$1"; shift
    local hex
    hex="$(echo "$*" | tr -d ' \n')"
    printf "$(echo "$hex" | sed 's/../\\x&/g')" > "$corpus/$file"
}

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

echo "running for ${seconds}s" >&2
exec "$out/decode-fuzz" \
    -max_total_time="$seconds" \
    -max_len=4096 \
    -print_final_stats=1 \
    -artifact_prefix="$out/" \
    "$corpus"
