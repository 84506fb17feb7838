#!/usr/bin/env python3
"""bench/store_tls.py: what TLS (and etcd auth) costs `--wait` propagation (issue 25).

Two Veer servers on one real etcd on loopback; N (200) `weight api.example.com new K --wait`
changes sent to server a's admin socket, each timed from sending the line to the whole reply
(`ok …` then `served by all 2 live servers … after M ms`). Prints p50 and p99 of that round
trip, of M (the server's own figure: from the save to both servers serving it) and of the
difference (the save: the compare-and-swap transaction and the reply), per mode:
  plain  http:// etcd;
  tls    https:// etcd with --client-cert-auth, Veer presenting a client certificate;
  auth   the same plus etcd v3 auth on (--store-user veer, a readwrite role on /veer/).
Certificates are made with `openssl` in a temporary directory. MODES (plain,tls,auth), N and
VEER (default .build/release/veer) from the environment; run by hand, not in `make test`.

Measured 2026-12-07, debug build (VEER=.build/debug/veer), 2-core VM shared with other work,
etcd 3.4.23, N=200, one run each (ms):
            round trip       served by all     save
            p50    p99       p50    p99        p50   p99
  plain    286.6  552.1     274.5  534.0       9.7  33.4
  tls      340.2  629.6     311.5  588.0      17.3  60.1
  auth     403.9  676.3     378.5  567.0      20.9 249.2
"Served by all" is bounded by the 500 ms beat at which each server says what it serves; TLS
adds about 37 ms at p50 (54 ms at p99) to it, mostly a full handshake on every request (one
connection per request, `Connection: close`), and auth about 67 ms more at p50. Without the
random pause between changes (back to back) all three read about 500 ms at p50: the beat.
"""
import os, random, shutil, socket, statistics, subprocess, sys, tempfile, time

import certs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VEER = os.path.abspath(os.environ.get("VEER", os.path.join(ROOT, ".build/release/veer")))
N = int(os.environ.get("N", "200"))
MODES = os.environ.get("MODES", "plain,tls,auth").split(",")
ZONE = """$ORIGIN example.com.
$TTL 3600
@    IN SOA ns1 hostmaster 1 3600 600 604800 60
@    IN NS  ns1
ns1  IN A   192.0.2.53
api  30 IN CNAME gw-old.example.net. endpoint=old weight=100
api  30 IN CNAME gw-new.example.net. endpoint=new weight=0
"""
procs = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def certificates(directory):
    """A CA, etcd's certificate (serverAuth and clientAuth: the gateway presents it to etcd),
    and Veer's client certificate without a CN (the gateway refuses one with a CN under auth)."""
    certs.make(directory, [("etcd", "/CN=etcd", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth"),
                           ("veer", "/O=veer", "extendedKeyUsage=clientAuth")])


def admin(state, line, timeout=30):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(os.path.join(state, "admin.sock"))
        s.sendall(line.encode() + b"\n")
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out.decode()


def wait_for(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    sys.exit(f"store_tls: {what} within {timeout} s")


def etcdctl(work, url, *args):
    base = ["etcdctl", "--endpoints", url, "--cacert", "ca.pem", "--cert", "etcd.pem", "--key", "etcd.key"]
    subprocess.run(base + list(args), cwd=work, check=True, capture_output=True, env=dict(os.environ, ETCDCTL_API="3"))


def run(mode, work):
    client, peer = free_port(), free_port()
    scheme = "http" if mode == "plain" else "https"
    url = f"{scheme}://127.0.0.1:{client}"
    tls = [] if mode == "plain" else ["--cert-file", "etcd.pem", "--key-file", "etcd.key", "--client-cert-auth", "--trusted-ca-file", "ca.pem"]
    procs.append(subprocess.Popen(
        ["etcd", "--name", "m0", "--data-dir", f"{work}/etcd-{mode}", "--listen-client-urls", url, "--advertise-client-urls", url,
         "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-cluster", f"m0=http://127.0.0.1:{peer}", "--log-level", "error"] + tls,
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_for(lambda: subprocess.run(["etcdctl", "--endpoints", url, "--cacert", "ca.pem", "--cert", "etcd.pem", "--key", "etcd.key",
                                     "endpoint", "health"], cwd=work, capture_output=True, env=dict(os.environ, ETCDCTL_API="3")).returncode == 0,
             20, "etcd not healthy")
    store = ["--store", f"etcd={url}"]
    if mode != "plain":
        store += ["--store-ca", "ca.pem", "--store-cert", "veer.pem", "--store-key", "veer.key"]
    if mode == "auth":
        with open(f"{work}/veer.password", "w") as f:
            f.write("bench-secret\n")
        for args in [["user", "add", "root", "--new-user-password", "root-secret"], ["role", "add", "root"],
                     ["user", "grant-role", "root", "root"], ["role", "add", "veer"],
                     ["role", "grant-permission", "veer", "readwrite", "/veer/", "--prefix"],
                     ["user", "add", "veer", "--new-user-password", "bench-secret"], ["user", "grant-role", "veer", "veer"],
                     ["auth", "enable"]]:
            etcdctl(work, url, *args)
        store += ["--store-user", "veer", "--store-password-file", "veer.password"]
    states = []
    servers = []
    for sid in "ab":
        state = f"{work}/{mode}-{sid}"
        os.makedirs(state)
        states.append(state)
        log = open(f"{state}.log", "w")
        servers.append(subprocess.Popen([VEER, "serve", "--zones", "zones", "--listen", f"127.0.0.1:{free_port()}", "--state-dir", state,
                                         "--server-id", sid] + store, cwd=work, stdout=subprocess.DEVNULL, stderr=log))
        procs.append(servers[-1])
    for state in states:
        wait_for(lambda: os.path.exists(f"{state}/admin.sock") and admin(state, "status").startswith("ok"), 20, f"{state} not serving")
    wait_for(lambda: "served by all 2" in admin(states[0], "weight api.example.com new 0 --wait"), 20, "both servers not live")
    rounds, served = [], []
    jitter = random.Random(25)
    for k in range(N):
        # Servers say what they serve at their 500 ms beat: changes sent back to back would
        # lock onto its phase; a random pause spreads them over it.
        time.sleep(jitter.uniform(0, 0.5))
        start = time.perf_counter()
        reply = admin(states[0], f"weight api.example.com new {1 + k % 99} --wait")
        rounds.append((time.perf_counter() - start) * 1000)
        if "served by all 2 live servers" not in reply:
            sys.exit(f"store_tls {mode} change {k}: {reply.strip()}")
        served.append(float(reply.rsplit(" after ", 1)[1].split()[0]))
    for p in reversed(procs):  # the servers, then etcd
        p.terminate()
        p.wait()
    procs.clear()
    return rounds, served


def quantiles(values):
    values = sorted(values)
    return statistics.median(values), values[min(len(values) - 1, int(len(values) * 0.99))]


def main():
    for tool in ["etcd", "etcdctl", "openssl"]:
        if not shutil.which(tool):
            sys.exit(f"store_tls: {tool} missing (apt-get install etcd-server etcd-client openssl)")
    if not os.access(VEER, os.X_OK):
        sys.exit(f"store_tls: {VEER} not built; run make release or set VEER")
    work = tempfile.mkdtemp(prefix="veer-store-tls-")
    try:
        certificates(work)
        os.makedirs(f"{work}/zones")
        with open(f"{work}/zones/example.com.zone", "w") as f:
            f.write(ZONE)
        for mode in MODES:
            rounds, served = run(mode, work)
            (r50, r99), (s50, s99) = quantiles(rounds), quantiles(served)
            v50, v99 = quantiles([r - s for r, s in zip(rounds, served)])
            print(f"{mode:5} N={N}  round trip p50 {r50:6.1f} p99 {r99:6.1f}  |  served by all p50 {s50:6.1f} p99 {s99:6.1f}  |  "
                  f"save p50 {v50:5.1f} p99 {v99:5.1f}  (ms)", flush=True)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
