#!/usr/bin/env python3
"""A stand-in API gateway for the README walkthroughs: / and /healthz, and /metrics in Prometheus
text with the counters and latency histogram a real gateway exports, for traffic that it
pretends to serve at a rate, error ratio and latency you set while it runs.

    python3 bench/gateway.py --id old --port 8081
    python3 bench/gateway.py --id new --port 8082 --errors 0.001
    curl -s 'http://127.0.0.1:8082/set?errors=0.05'        # 5% of requests now fail with 503
    curl -s 'http://127.0.0.1:8082/set?latency=0.3&rps=50' # slower, and less traffic
    curl -s 'http://127.0.0.1:8082/set?healthz=503'        # the health check fails too

Metrics (the names the README's $ANALYSIS queries use):
    gateway_requests_total{gateway="ID",code="200"|"503"}
    gateway_request_duration_seconds_bucket{gateway="ID",le="..."}, _sum, _count

Counters advance with real time from the settings in force, so no request is ever sent.
Stdlib only; listens on loopback only.
"""
import argparse
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

# Histogram buckets in seconds, as most gateways export them.
BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]


class Traffic:
    """Counters that grow at `rps`, a share `errors` of them 503, each taking `latency` s."""

    def __init__(self, gateway, rps, errors, latency):
        self.lock = threading.Lock()
        self.gateway = gateway
        self.rps, self.errors, self.latency = rps, errors, latency
        self.healthz = 200
        self.ok = self.failed = self.seconds = 0.0
        # Cumulative, as Prometheus histograms are: a bucket counts requests at or under le.
        self.buckets = [0.0] * len(BUCKETS)
        self.since = time.monotonic()

    def _advance(self):
        now = time.monotonic()
        count = self.rps * (now - self.since)
        self.since = now
        self.failed += count * self.errors
        self.ok += count * (1 - self.errors)
        self.seconds += count * self.latency
        for i, le in enumerate(BUCKETS):
            if self.latency <= le:
                self.buckets[i] += count

    def set(self, **values):
        with self.lock:
            self._advance()
            for key, value in values.items():
                setattr(self, key, value)

    def metrics(self):
        with self.lock:
            self._advance()
            ok, failed, seconds = int(self.ok), int(self.failed), self.seconds
            buckets = [int(b) for b in self.buckets]
        total = ok + failed
        g = self.gateway
        lines = [
            "# HELP gateway_requests_total Requests served, by status code.",
            "# TYPE gateway_requests_total counter",
            f'gateway_requests_total{{gateway="{g}",code="200"}} {ok}',
            f'gateway_requests_total{{gateway="{g}",code="503"}} {failed}',
            "# HELP gateway_request_duration_seconds Request latency.",
            "# TYPE gateway_request_duration_seconds histogram",
        ]
        for le, count in zip(BUCKETS, buckets):
            lines.append(f'gateway_request_duration_seconds_bucket{{gateway="{g}",le="{le}"}} {min(count, total)}')
        lines.append(f'gateway_request_duration_seconds_bucket{{gateway="{g}",le="+Inf"}} {total}')
        lines.append(f'gateway_request_duration_seconds_sum{{gateway="{g}"}} {seconds:.3f}')
        lines.append(f'gateway_request_duration_seconds_count{{gateway="{g}"}} {total}')
        return "\n".join(lines) + "\n"


def handler(traffic):
    class Handler(BaseHTTPRequestHandler):
        def reply(self, status, body, kind="text/plain; charset=utf-8"):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urlparse(self.path)
            if url.path in ("/", "/healthz"):
                self.reply(traffic.healthz, "ok\n" if traffic.healthz < 400 else "failing\n")
            elif url.path == "/metrics":
                self.reply(200, traffic.metrics(), "text/plain; version=0.0.4")
            elif url.path == "/set":
                values = {}
                try:
                    for key, (value,) in parse_qs(url.query).items():
                        if key == "healthz":
                            values[key] = int(value)
                        elif key in ("rps", "errors", "latency"):
                            values[key] = float(value)
                        else:
                            raise ValueError(f"unknown setting {key}")
                    if not 0 <= values.get("errors", 0) <= 1:
                        raise ValueError("errors is a share from 0 to 1")
                except ValueError as error:
                    self.reply(400, f"error: {error}\n")
                    return
                traffic.set(**values)
                self.reply(200, f"ok {traffic.gateway} rps={traffic.rps} errors={traffic.errors} "
                                f"latency={traffic.latency} healthz={traffic.healthz}\n")
            else:
                self.reply(404, "not found\n")

        def log_message(self, *args):
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser(description="A stand-in API gateway exporting Prometheus metrics.")
    parser.add_argument("--id", required=True, help="the gateway label, the endpoint id in the zone")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rps", type=float, default=200, help="requests per second (default 200)")
    parser.add_argument("--errors", type=float, default=0.001, help="share of 503s (default 0.001)")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per request (default 0.02)")
    args = parser.parse_args()
    traffic = Traffic(args.id, args.rps, args.errors, args.latency)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(traffic))
    print(f"gateway {args.id} on 127.0.0.1:{args.port}: {args.rps:g} rps, {args.errors:g} errors, {args.latency:g} s", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
