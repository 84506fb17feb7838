#!/usr/bin/env python3
"""bench/shared.py: three Veer servers on one etcd, timed (`make bench-shared`).

Starts a real etcd and three `veer serve --store etcd=...` on free loopback ports, with two
loopback HTTP gateways the zone probes, then measures:
  - propagation: for each of N shifts (alternating servers), the time from the admin `ok` to
    the moment all three servers answer the new weight in `dig TXT _veer.api.bench.example`;
  - leader fail-over: SIGKILL the leader, time until another server's status names itself;
  - failure to drain: the new gateway starts answering 503; the time until the last answer
    (A queries round-robin over the three servers) that names it.
Needs etcd (etcd-server) and a built veer (VEER, default .build/release/veer). Loopback only.
"""
import json, os, random, shutil, signal, socket, statistics, struct, subprocess, sys, tempfile, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VEER = os.environ.get("VEER", os.path.join(ROOT, ".build/release/veer"))
SHIFTS = int(os.environ.get("SHARED_SHIFTS", "100"))
procs = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        body = b"ok"
        self.send_response(type(self).status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def gateway():
    cls = type("G", (Gateway,), {"status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), cls)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, cls


def query(port, name, qtype, timeout=0.5):
    packet = struct.pack(">HHHHHH", random.randrange(65536), 0, 1, 0, 0, 0)
    packet += b"".join(bytes([len(p)]) + p.encode() for p in name.strip(".").split(".")) + b"\0"
    packet += struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, ("127.0.0.1", port))
        try:
            return s.recv(4096)
        except socket.timeout:
            return b""


def admin(state, line):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(os.path.join(state, "admin.sock"))
        s.sendall(line.encode() + b"\n")
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    return out.decode()


def wait_until(check, timeout, step=0.001):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(step)
    return None


def main():
    if not shutil.which("etcd"):
        sys.exit("bench-shared: etcd missing; apt-get install etcd-server")
    if not os.access(VEER, os.X_OK):
        sys.exit(f"bench-shared: {VEER} not built; run make release")
    work = tempfile.mkdtemp(prefix="veer-shared-bench-")
    try:
        run(work)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(work, ignore_errors=True)


def run(work):
    client, peer = free_port(), free_port()
    procs.append(subprocess.Popen(
        ["etcd", "--name", "m0", "--data-dir", f"{work}/etcd", "--listen-client-urls", f"http://127.0.0.1:{client}",
         "--advertise-client-urls", f"http://127.0.0.1:{client}", "--listen-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}", "--initial-cluster", f"m0=http://127.0.0.1:{peer}",
         "--log-level", "error"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    old, _ = gateway()
    new, new_handler = gateway()
    # The defaults an operator would start from: probes every 1 s, down after 3 failures.
    zone = f"""$ORIGIN bench.example.
$TTL 3600
@    IN SOA ns1 hostmaster 1 3600 600 604800 60
@    IN NS  ns1
ns1  IN A   192.0.2.53
$HEALTH gw-old http address=127.0.0.1 port={old.server_address[1]} path=/ interval=1s timeout=500ms fall=3 rise=2
$HEALTH gw-new http address=127.0.0.1 port={new.server_address[1]} path=/ interval=1s timeout=500ms fall=3 rise=2
api  30 IN CNAME gw-old.example.net. endpoint=old weight=100 health=gw-old
api  30 IN CNAME gw-new.example.net. endpoint=new weight=0 health=gw-new role=new
"""
    os.makedirs(f"{work}/zones")
    with open(f"{work}/zones/bench.example.zone", "w") as f:
        f.write(zone)
    ports, states, servers = [], [], []
    for i, sid in enumerate("abc"):
        port, state = free_port(), f"{work}/state-{sid}"
        os.makedirs(state)
        ports.append(port)
        states.append(state)
        servers.append(start_veer(work, sid, port, state, client))
    for port in ports:
        if wait_until(lambda: query(port, "bench.example", 6), 20, 0.05) is None:
            sys.exit("bench-shared: a server did not answer")
    time.sleep(1.5)

    def weight(port, endpoint):
        reply = query(port, "_veer.api.bench.example", 16)
        marker = f"endpoint={endpoint} weight=".encode()
        at = reply.find(marker)
        if at < 0:
            return None
        digits = reply[at + len(marker):].split(b" ")[0]
        return int(digits) if digits.isdigit() else None

    times = []
    for k in range(SHIFTS):
        percent = 1 + k % 50
        reply = admin(states[k % 3], f"shift api.bench.example new {percent}%")
        start = time.monotonic()
        if not reply.startswith("ok"):
            print(f"shift {k}: {reply.strip()}", file=sys.stderr)
            continue
        expected = int(reply.split("new=")[1].split()[0])
        took = wait_until(lambda: all(weight(p, "new") == expected for p in ports), 5)
        times.append((took if took is not None else 5) * 1000)
        time.sleep(0.02)
    times.sort()
    p50 = statistics.median(times)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"propagation from ok to all 3 servers answering ({len(times)} shifts): "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {times[-1]:.1f} ms")

    status = admin(states[0], "status")
    leader = status.split(", leader ")[1].split()[0] if ", leader " in status else None
    if leader in "abc":
        index = "abc".index(leader)
        servers[index].send_signal(signal.SIGKILL)
        servers[index].wait()
        killed = time.monotonic()
        others = [i for i in range(3) if i != index]

        def new_leader():
            for i in others:
                text = admin(states[i], "status")
                if ", leader " in text and text.split(", leader ")[1].split()[0] not in (leader, "none"):
                    return True
            return False

        took = wait_until(new_leader, 15, 0.01)
        print(f"leader fail-over after SIGKILL of {leader}: {took:.2f} s (lease {3} s, beat 0.5 s)" if took else "leader fail-over: none within 15 s")
        servers[index] = start_veer(work, leader, ports[index], states[index], client)
        wait_until(lambda: query(ports[index], "bench.example", 6), 20, 0.05)
        time.sleep(1.5)

    reply = admin(states[0], "shift api.bench.example new 50% --wait")
    if not reply.startswith("ok"):
        sys.exit(f"bench-shared: {reply}")
    new_handler.status = 503
    failed = time.monotonic()
    last = None
    quiet_since = time.monotonic()
    k = 0
    while time.monotonic() - quiet_since < 3 and time.monotonic() - failed < 30:
        reply = query(ports[k % 3], "api.bench.example", 1)
        k += 1
        if b"\x06gw-new" in reply:
            last = time.monotonic()
            quiet_since = last
    if last is None:
        print("failure to drain: no answer named the new gateway after it failed")
    else:
        print(f"failure to drain (interval 1s, fall 3, 3 servers): last answer naming the failed gateway "
              f"{last - failed:.2f} s after it started failing ({k} queries)")
    print(admin(states[1], "history api.bench.example 3").strip().splitlines()[-1])


def start_veer(work, sid, port, state, client):
    p = subprocess.Popen([VEER, "serve", "--zones", f"{work}/zones", "--listen", f"127.0.0.1:{port}", "--threads", "1",
                          "--state-dir", state, "--store", f"etcd=http://127.0.0.1:{client}", "--server-id", sid],
                         stdout=subprocess.DEVNULL, stderr=open(f"{work}/veer-{sid}.log", "a"))
    procs.append(p)
    return p


if __name__ == "__main__":
    main()
