# Veer: `make run` serves zones/ on 127.0.0.1:5353 and [::1]:5353; `make test` runs every test.
SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
SHELL := /bin/bash
CONFIG ?= debug
BIN = .build/$(CONFIG)/veer

.PHONY: build release run test check fuzz clean

build:
	$(SWIFT) build -c $(CONFIG) --product veer

release:
	$(SWIFT) build -c release --product veer

run: build
	@echo "Serving zones/ on 127.0.0.1:5353 and [::1]:5353. In another shell, try:"
	@echo "  dig @127.0.0.1 -p 5353 www.example.com"
	@echo "  dig @127.0.0.1 -p 5353 api.example.com"
	@echo "  curl -s http://127.0.0.1:9153/metrics"
	@echo "  and open http://127.0.0.1:9153/ for the live page"
	$(BIN) serve --zones zones --metrics 127.0.0.1:9153

# Integration tests run the real binary and the real dig; they fail loudly without dig.
test:
	@command -v dig >/dev/null || { echo "dig is missing: apt-get install bind9-dnsutils" >&2; exit 1; }
	$(SWIFT) build --build-tests
	set -o pipefail; $(SWIFT) test --skip-build 2>&1 | tee .build/test.log

check: build
	$(BIN) check zones

# `make install [PREFIX=/usr/local] [DESTDIR=]`: the release binary, the systemd units (with
# @PREFIX@ replaced), the example zone and the README under $(DESTDIR)$(PREFIX). It enables
# and starts nothing; README, "Running under systemd", says what comes next.
PREFIX ?= /usr/local
DESTDIR ?=
UNIT_DIR = $(DESTDIR)$(PREFIX)/lib/systemd/system
.PHONY: install units
install: release units
	install -D -m 0755 .build/release/veer $(DESTDIR)$(PREFIX)/bin/veer
	install -d $(DESTDIR)$(PREFIX)/share/veer/zones
	install -m 0644 zones/*.zone $(DESTDIR)$(PREFIX)/share/veer/zones/
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/veer/README.md

# The unit files alone: `make install` uses it, and so does the test that runs
# `systemd-analyze verify` on them (with a PREFIX where the debug binary is, no release build).
units:
	install -d $(UNIT_DIR)
	for unit in veer.service veer.socket; do \
	  sed 's|@PREFIX@|$(PREFIX)|g' Sources/systemd/$$unit >$(UNIT_DIR)/$$unit && chmod 0644 $(UNIT_DIR)/$$unit || exit 1; \
	done

# libFuzzer over the message decoder, the responder and the state decoder (fuzz/run.sh); `make fuzz
# FUZZ_SECONDS=600 FUZZ_TARGET=respond` for a longer run of one (decode, respond, state or all).
FUZZ_SECONDS ?= 60
FUZZ_TARGET ?= all
fuzz:
	./fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGET)

clean:
	rm -rf .build

# Veer vs NSD vs gdnsd under dnsperf (bench/run.sh; needs dnsperf nsd gdnsd, installs nothing):
# medians of BENCH_RUNS runs, ratios, p99 at 50k q/s, 1 vs 2 threads, a 1M-record zone's load
# time and memory; about 10 minutes (6 of them dnsperf: 3 runs x 4 query sets x 2 modes x
# 3 servers x 5 s), plus the release build. `make bench BENCH_RUNS=1 BENCH_SECONDS=2` for a quick look;
# BENCH_SCRATCH=.build-bench builds into a separate scratch path.
BENCH_SECONDS ?= 5
BENCH_RUNS ?= 3
BENCH_SCRATCH ?= .build
.PHONY: bench bench-signed bench-callgrind bench-shared chaos
bench:
	$(SWIFT) build -c release --product veer --scratch-path $(BENCH_SCRATCH)
	VEER=$(BENCH_SCRATCH)/release/veer BENCH_SECONDS=$(BENCH_SECONDS) BENCH_RUNS=$(BENCH_RUNS) ./bench/run.sh
	VEER=$(BENCH_SCRATCH)/release/veer SIGNED_SECONDS=$(BENCH_SECONDS) SIGNED_RUNS=$(BENCH_RUNS) ./bench/signed.sh

# DNSSEC alone (bench/signed.sh; also needs ldnsutils): DO=1 queries, Veer signing at load
# against NSD serving the same zone signed by ldns-signzone; signatures made while answering
# (must be 0); cold signing, warm restart and unsigned start of a 1M-record zone.
bench-signed:
	$(SWIFT) build -c release --product veer --scratch-path $(BENCH_SCRATCH)
	VEER=$(BENCH_SCRATCH)/release/veer SIGNED_SECONDS=$(BENCH_SECONDS) SIGNED_RUNS=$(BENCH_RUNS) ./bench/signed.sh

# Instructions per answered query under callgrind, Veer vs NSD vs gdnsd (bench/callgrind.sh).
bench-callgrind:
	$(SWIFT) build -c release --product veer --scratch-path $(BENCH_SCRATCH)
	VEER=$(BENCH_SCRATCH)/release/veer ./bench/callgrind.sh

# Three Veer servers on one real etcd (bench/shared.py; needs etcd-server): propagation of a
# shift to all three (p50/p99 over SHARED_SHIFTS), leader fail-over, failing gateway to drained.
SHARED_SHIFTS ?= 100
bench-shared:
	$(SWIFT) build -c release --product veer --scratch-path $(BENCH_SCRATCH)
	VEER=$(BENCH_SCRATCH)/release/veer SHARED_SHIFTS=$(SHARED_SHIFTS) python3 bench/shared.py

# Faults, one scorecard (bench/chaos.py; needs dnsperf, dig, etcd, openssl, and root or user
# namespaces for a tmpfs): SIGKILLs during 1,000 weight changes, a full state disk, a zone reload
# every second under dnsperf, a soak at 50k q/s with shifts (RSS, errors), then three servers on
# a 3-member etcd under kills and a cut (bench/chaos_cluster.py). PASS/FAIL per check, exit 1 on
# a FAIL; about 33 minutes. `make chaos CHAOS_SOAK_SECONDS=120 CHAOS_ONLY=kill,enospc` for less.
CHAOS_SOAK_SECONDS ?= 1800
CHAOS_ONLY ?= kill,enospc,reload,soak,cluster
chaos:
	$(SWIFT) build -c release --product veer --scratch-path $(BENCH_SCRATCH)
	VEER=$(BENCH_SCRATCH)/release/veer CHAOS_SOAK_SECONDS=$(CHAOS_SOAK_SECONDS) CHAOS_ONLY=$(CHAOS_ONLY) python3 bench/chaos.py
