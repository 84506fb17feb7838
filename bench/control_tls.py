#!/usr/bin/env python3
"""bench/control_tls.py: one admin command over TLS against the Unix socket, timed (issue 26).

Makes a CA, a server certificate and a client certificate with `openssl` in a temporary
directory, starts `veer serve --control 127.0.0.1:0 ...` on loopback, then times N rounds of
each, one fresh connection per command as the `veer` CLI makes it:
  - tls:  TCP connect, TLS handshake with the client certificate, `status`, the whole reply;
  - unix: connect to the admin socket, `status`, the whole reply.
Prints p50, p99 and max in milliseconds. The client is Python's ssl (the same libssl as the
server), so the figures are the server's cost plus a thin client, not the CLI's start-up.
VEER (default .build/release/veer) and ROUNDS (default 1000) from the environment; run by hand.
"""
import os, socket, ssl, statistics, subprocess, sys, tempfile, time

import certs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VEER = os.environ.get("VEER", os.path.join(ROOT, ".build/release/veer"))
ROUNDS = int(os.environ.get("ROUNDS", "1000"))
ZONE = """$ORIGIN example.com.
$TTL 3600
@    IN SOA ns1 hostmaster 1 3600 600 604800 60
@    IN NS  ns1
ns1  IN A   192.0.2.53
api  30 IN CNAME gw-old.example.net. endpoint=old weight=100
api  30 IN CNAME gw-new.example.net. endpoint=new weight=0
"""


def certificates(directory):
    certs.make(directory, [("server", "/CN=server", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
                           ("ops", "/CN=ops", "extendedKeyUsage=clientAuth")])


def start(directory):
    os.makedirs(os.path.join(directory, "zones"))
    with open(os.path.join(directory, "zones", "example.com.zone"), "w") as f:
        f.write(ZONE)
    log = open(os.path.join(directory, "serve.log"), "w+")
    process = subprocess.Popen([VEER, "serve", "--zones", "zones", "--state-dir", "state", "--listen", "127.0.0.1:0",
                                "--control", "127.0.0.1:0", "--control-ca", "ca.pem", "--control-cert", "server.pem",
                                "--control-key", "server.key"], cwd=directory, stderr=log, stdout=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        log.seek(0)
        for line in log.read().splitlines():
            if "listening: control tls://" in line:
                port = int(line.split("tls://")[1].split()[0].rsplit(":", 1)[1])
                return process, port
        time.sleep(0.05)
    process.kill()
    sys.exit("veer serve did not start:\n" + open(os.path.join(directory, "serve.log")).read())


def read_all(sock):
    reply = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ssl.SSLError:
            # OpenSSL answers the half-close (no close_notify) with an alert, after the reply.
            if reply:
                return reply
            raise
        if not chunk:
            return reply
        reply += chunk


def over_tls(context, port):
    with socket.create_connection(("127.0.0.1", port)) as raw:
        tls = context.wrap_socket(raw, server_hostname="localhost")
        tls.sendall(b"status\n")
        # The line is answered on its newline; the end of the stream ends the session
        # (Python's ssl has no close_notify without closing: a TCP half-close instead).
        socket.socket.shutdown(tls, socket.SHUT_WR)
        return read_all(tls)


def over_unix(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        sock.sendall(b"status\n")
        sock.shutdown(socket.SHUT_WR)
        return read_all(sock)


def timed(label, call):
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        reply = call()
        times.append((time.perf_counter() - started) * 1000)
        if not reply.startswith(b"ok"):
            sys.exit(f"{label}: unexpected reply {reply[:200]!r}")
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"{label:5} rounds={ROUNDS} p50={statistics.median(times):.3f} ms p99={p99:.3f} ms max={times[-1]:.3f} ms")


def main():
    directory = tempfile.mkdtemp(prefix="veer-bench-tls-")
    certificates(directory)
    process, port = start(directory)
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(os.path.join(directory, "ca.pem"))
        context.load_cert_chain(os.path.join(directory, "ops.pem"), os.path.join(directory, "ops.key"))
        timed("tls", lambda: over_tls(context, port))
        timed("unix", lambda: over_unix(os.path.join(directory, "state", "admin.sock")))
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    main()
