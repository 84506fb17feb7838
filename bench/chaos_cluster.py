"""bench/chaos_cluster.py: the `cluster` section of `make chaos` (imported by bench/chaos.py).

A 3-member etcd (over TLS with client certificates when the binary has `--store-ca`) and three
Veer servers (s0, s1, s2) sharing it, started with `--cluster s0,s1,s2` when the binary has
it. Each server reaches each etcd member through a TCP proxy
in this script, so the script can cut one server off from etcd. Four clients send
CHAOS_CLUSTER_CHANGES (1,000) `weight cK.chaos.test a N` changes over the admin sockets, client
K through server K mod 3 (another one while that one is down), each with increasing weights,
while a rollout of roll.chaos.test (steps 10,20,…,100) runs and these faults are injected in
turn: SIGKILL of a server that does not lead, SIGKILL of the leader (each restarted on its
state directory once the others see its lease gone), SIGKILL of each etcd member in turn
(restarted on its data directory and answering a linearizable read before the next one:
quorum is kept), and the leader cut off from etcd for CHAOS_CLUSTER_CUT_SECONDS (10), then
healed. The cut is silent by default (CHAOS_CLUSTER_CUT=silent: its proxies pass no byte
either way and hold connections open, as a partition does; `refuse` closes them and refuses
new ones instead). Throughout, every live server's `status json` is read every ~100 ms by a
thread per server (who leads) and each is sent a few DNS queries a second.

PASS/FAIL lines:
  durable   acknowledged changes lost: every client's weight, read from every live server at
            the end, is its last acknowledged value or a later one that was in flight (no reply,
            or `error: outcome unknown`); every acknowledged value is in the audit log, and none
            answered with another `error:` is.
  rollout   the rollout completed; in `history`, each promotion once and in order.
  leader    two servers acting as leader at once: no two servers whose `status json` said
            `store.leader` is themselves at the same time (a server that said so in consecutive
            readings led between them: `Cluster.overlaps`), and no step promoted by two servers
            (the audit keys in etcd name the server that wrote each line).
  dns       DNS queries unanswered by live servers (a server killed on purpose does not count
            while it is down).
  heal      from the heal to every server serving the revision the others served at that
            moment (`store.revision`): a figure; FAIL only if it never happens.
  converge  at the end, every server serves the same revision.

Environment: CHAOS_CLUSTER_TLS (1 when the binary has --store-ca, else 0),
CHAOS_CLUSTER_CHANGES (1000), CHAOS_CLUSTER_PACE (0.15 s between one client's changes),
CHAOS_CLUSTER_CUT_SECONDS (10), CHAOS_CLUSTER_CUT (silent), CHAOS_CLUSTER_BAKE (3s: the ten
steps span the faults). Needs etcd (etcd-server), and openssl for TLS.
"""
import base64, calendar, http.client, json, os, re, shutil, socket, ssl, subprocess, sys, threading, time

import certs
import chaos
from chaos import NotSent, admin, dns_query, env_int, figure, free_port, note, served_weights

SERVERS = 3
MEMBERS = 3
PREFIX = "/veer/"
ROLL = f"roll.{chaos.ZONE}"
STEPS = list(range(10, 101, 10))
# A step needs a clean probe of the target after it starts; one failed probe aborts the
# rollout, so the timeout is generous for a loaded machine.
PROBE = "interval=1s timeout=900ms fall=3 rise=1"
# Deadlines (seconds): no correctness check waits a fixed time, each polls until these.
READY_TIMEOUT = 30
LEADER_TIMEOUT = 20
CONVERGE_TIMEOUT = 30
ROLLOUT_TIMEOUT = 180


def serve_options():
    """`veer serve --help`: which of the newer options (--store-ca, --cluster) the binary has."""
    out = subprocess.run([chaos.VEER, "serve", "--help"], capture_output=True, text=True)
    return out.stdout + out.stderr


# --- Certificates: a CA, one certificate for every etcd member (server and peer), one client
# certificate for Veer.

def make_certificates(directory):
    usage = "subjectAltName=IP:127.0.0.1,DNS:localhost\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage="
    certs.make(directory, [("etcd", "/CN=etcd", usage + "serverAuth,clientAuth"), ("veer", "/CN=veer", usage + "clientAuth")],
               suffix=".crt")
    return {k: os.path.join(directory, f"{k}") for k in ("ca.crt", "etcd.crt", "etcd.key", "veer.crt", "veer.key")}


# --- etcd: three members on free loopback ports.

class Etcd:
    def __init__(self, work, certs):
        self.work = work
        self.certs = certs
        self.scheme = "https" if certs else "http"
        ports = set()
        while len(ports) < 2 * MEMBERS:
            ports.add(free_port())
        ports = sorted(ports)
        self.client = ports[:MEMBERS]
        self.peer = ports[MEMBERS:]
        self.procs = [None] * MEMBERS
        self.token = f"veer-chaos-{os.getpid()}"
        if certs:
            self.context = ssl.create_default_context(cafile=certs["ca.crt"])
            self.context.load_cert_chain(certs["veer.crt"], certs["veer.key"])

    def launch(self, i):
        cluster = ",".join(f"m{k}={self.scheme}://127.0.0.1:{self.peer[k]}" for k in range(MEMBERS))
        args = ["etcd", "--name", f"m{i}", "--data-dir", os.path.join(self.work, f"etcd-m{i}"),
                "--listen-client-urls", f"{self.scheme}://127.0.0.1:{self.client[i]}",
                "--advertise-client-urls", f"{self.scheme}://127.0.0.1:{self.client[i]}",
                "--listen-peer-urls", f"{self.scheme}://127.0.0.1:{self.peer[i]}",
                "--initial-advertise-peer-urls", f"{self.scheme}://127.0.0.1:{self.peer[i]}",
                "--initial-cluster", cluster, "--initial-cluster-token", self.token, "--initial-cluster-state", "new",
                "--log-level", "error"]
        if self.certs:
            c = self.certs
            args += ["--cert-file", c["etcd.crt"], "--key-file", c["etcd.key"], "--trusted-ca-file", c["ca.crt"],
                     "--client-cert-auth", "--peer-cert-file", c["etcd.crt"], "--peer-key-file", c["etcd.key"],
                     "--peer-trusted-ca-file", c["ca.crt"], "--peer-client-cert-auth"]
        with open(os.path.join(self.work, f"etcd-m{i}.log"), "a") as log:
            self.procs[i] = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        chaos.procs.append(self.procs[i])

    def post(self, i, path, body, timeout=2):
        if self.certs:
            conn = http.client.HTTPSConnection("127.0.0.1", self.client[i], timeout=timeout, context=self.context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.client[i], timeout=timeout)
        try:
            conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            reply = conn.getresponse()
            return reply.status, json.loads(reply.read() or b"{}")
        finally:
            conn.close()

    def wait_ready(self, i, timeout=READY_TIMEOUT):
        """Until member i answers a linearizable read: it is in a cluster with a leader and has
        applied the log up to now (so quorum holds when the next member is killed)."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.procs[i].poll() is not None:
                raise RuntimeError(f"etcd m{i} exited with {self.procs[i].returncode}")
            try:
                status, _ = self.post(i, "/v3/kv/range", {"key": base64.b64encode(b"ready").decode()})
                if status == 200:
                    return
                last = f"HTTP {status}"
            except (OSError, ValueError, http.client.HTTPException) as error:
                last = str(error)
            time.sleep(0.05)
        raise RuntimeError(f"etcd m{i} not ready within {timeout} s: {last}")

    def kill9(self, i):
        self.procs[i].kill()
        self.procs[i].wait()

    def audit(self):
        """[(key, value)] of every audit line, read through any member that answers."""
        start = PREFIX + "audit/"
        end = start[:-1] + chr(ord(start[-1]) + 1)
        for i in range(MEMBERS):
            try:
                status, reply = self.post(i, "/v3/kv/range", {"key": base64.b64encode(start.encode()).decode(),
                                                               "range_end": base64.b64encode(end.encode()).decode()}, 10)
            except (OSError, ValueError, http.client.HTTPException):
                continue
            if status == 200:
                return [(base64.b64decode(kv["key"]).decode(), base64.b64decode(kv.get("value", "")).decode())
                        for kv in reply.get("kvs", [])]
        return None


# --- The proxy between one Veer server and one etcd member.

class Proxy:
    """Bytes both ways between a server and an etcd member (TLS passes through untouched).
    `block(reason)` closes every open connection and the listener, so new connections are
    refused; `unblock(reason)` listens again on the same port once no reason is left. The
    reasons are "cut" (the server cut off from etcd, CHAOS_CLUSTER_CUT=refuse) and "down" (the
    member is dead: its port refuses connections, so the proxy's does too).
    `hold()` is the silent cut (CHAOS_CLUSTER_CUT=silent, the default), as a partition is
    seen from either side: connections stay open and new ones are taken, but no byte goes
    through either way, so every request and the watch wait for their own timeouts;
    `release()` lets the held bytes through, as TCP delivers them once the path is back."""

    def __init__(self, target):
        self.target = target
        self.port = free_port()
        self.lock = threading.Lock()
        self.conns = set()
        self.reasons = set()
        self.listener = None
        self.accepted = 0
        self.flowing = threading.Event()
        self.flowing.set()
        self._listen()

    def _listen(self):
        deadline = time.monotonic() + 10
        while True:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", self.port))
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        s.listen(128)
        self.listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                c, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        self.flowing.wait()
        try:
            u = socket.create_connection(("127.0.0.1", self.target), timeout=2)
            u.settimeout(None)
        except OSError:
            self._close(c)
            return
        with self.lock:
            if self.reasons:
                self._close(c)
                self._close(u)
                return
            self.conns.update((c, u))
            self.accepted += 1
        threading.Thread(target=self._pump, args=(u, c), daemon=True).start()
        self._pump(c, u)

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                self.flowing.wait()
                dst.sendall(data)
        except OSError:
            pass
        with self.lock:
            self.conns.discard(src)
            self.conns.discard(dst)
        self._close(src)
        self._close(dst)

    @staticmethod
    def _close(s):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def block(self, reason):
        with self.lock:
            first = not self.reasons
            self.reasons.add(reason)
            conns, self.conns = list(self.conns), set()
            listener = self.listener if first else None
            if first:
                self.listener = None
        if listener:
            self._close(listener)
        for s in conns:
            self._close(s)

    def unblock(self, reason):
        with self.lock:
            self.reasons.discard(reason)
            reopen = not self.reasons and self.listener is None
        if reopen:
            self._listen()

    def hold(self):
        self.flowing.clear()

    def release(self):
        self.flowing.set()

    def stop(self):
        self.release()
        self.block("stopped")


# --- A loopback gateway that the rollout's target is probed on: a process of its own, so a
# probe is not held up by this script's threads (one failed probe aborts the rollout).

GATEWAY = """
import http.server, sys
class Healthy(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Healthy)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def start_gateway():
    """The gateway's port; the process is stopped with every other one (chaos.procs)."""
    proc = subprocess.Popen([sys.executable, "-c", GATEWAY], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    chaos.procs.append(proc)
    line = proc.stdout.readline()
    if not line.strip().isdigit():
        raise RuntimeError(f"the probed gateway did not start (exit {proc.poll()})")
    return int(line)


# --- The servers.

class Server(chaos.Veer):
    """One Veer of the cluster, with what the loops need: whether it is up (killed on
    purpose: not), and a generation bumped at every kill so a reply that raced it is ignored."""

    def __init__(self, work, index, zones, urls, store_args):
        label = f"s{index}"
        super().__init__(work, label, zones, os.path.join(work, f"state-{label}"),
                         extra=["--store", "etcd=" + urls, "--server-id", label] + store_args)
        self.index = index
        self.up = False
        self.epoch = 0

    def kill9(self):
        self.up = False
        self.epoch += 1
        super().kill9()

    def start(self):
        super().start()
        self.up = True

    def status(self, timeout=3):
        """`status json`'s store object, or None (no reply, not JSON)."""
        try:
            reply = admin(self.admin_path, "status json", timeout=timeout)
        except (NotSent, OSError):
            return None
        if not reply.startswith("ok\n"):
            return None
        try:
            return json.loads(reply[3:]).get("store")
        except ValueError:
            return None


class Cluster:
    def __init__(self, servers, etcd, proxies):
        self.servers = servers
        self.etcd = etcd
        self.proxies = proxies        # proxies[server][member]
        self.stop = threading.Event()
        self.faults_done = threading.Event()
        self.lock = threading.Lock()
        self.leader_view = {}         # label -> latest store object
        self.seen = {s.label: [] for s in servers}   # label -> [(wall time, leads, epoch)], in order
        self.dns = {s.label: {"answered": 0, "unanswered": [], "wrong": 0, "ignored": 0} for s in servers}

    def live(self):
        return [s for s in self.servers if s.up]

    def leader(self):
        """The leader most live servers name, once they agree; else None."""
        names = [st.get("leader") for st in (s.status() for s in self.live()) if st]
        named = [n for n in names if n]
        return named[0] if named and len(set(named)) == 1 and len(named) == len(names) else None

    def wait_leader(self, timeout=LEADER_TIMEOUT, other_than=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leader = self.leader()
            if leader and leader != other_than and self.by_label(leader).up:
                return leader
            time.sleep(0.05)
        raise RuntimeError(f"no leader (other than {other_than}) within {timeout} s")

    def by_label(self, label):
        return next(s for s in self.servers if s.label == label)

    # Who leads: each server's `status json` read every ~100 ms by a thread of its own, so a
    # server slow to answer (cut off from etcd, `status` waits for etcd's server list) is read
    # late rather than skipped, and the others are not held up by it.
    def poll_leader(self, server):
        while not self.stop.is_set():
            began = time.monotonic()
            if server.up:
                epoch = server.epoch
                st = server.status(timeout=10)
                if st is not None and server.epoch == epoch:
                    with self.lock:
                        self.leader_view[server.label] = st
                        self.seen[server.label].append((time.time(), st.get("leader") == st.get("server"), epoch))
            self.stop.wait(max(0.0, 0.1 - (time.monotonic() - began)))

    def overlaps(self):
        """Times two servers certainly led at once. A server that said it leads in consecutive
        readings led between them (leadership does not flap between two readings 0.1 s apart),
        so each run of such readings (with no kill between them) is an interval; two servers' intervals that meet, or one
        server's reading inside another's interval, are two leaders at once. A handover between
        two readings is not counted, whichever order the readings came in."""
        runs = {}
        for label, readings in self.seen.items():
            runs[label] = []
            for t, leads, epoch in readings:
                if leads and runs[label] and runs[label][-1][2] == epoch:
                    runs[label][-1][1] = t
                elif leads:
                    runs[label].append([t, t, epoch])
                elif runs[label]:
                    runs[label][-1][2] = None
        found = []
        labels = sorted(runs)
        for i, a in enumerate(labels):
            for b in labels[i + 1:]:
                for a0, a1, _ in runs[a]:
                    for b0, b1, _ in runs[b]:
                        start, end = max(a0, b0), min(a1, b1)
                        if start <= end and (a0 < a1 or b0 < b1):
                            found.append((time.strftime("%H:%M:%S", time.localtime(start)), f"{a} and {b}", end - start))
        return found

    # A few DNS queries a second to each server that is up.
    def query_loop(self, server):
        tally = self.dns[server.label]
        name = f"c{server.index}.{chaos.ZONE}"
        while not self.stop.is_set():
            if server.up:
                epoch = server.epoch
                rcode, answers = dns_query(server.port, name, 1, timeout=2.0)
                if not server.up or server.epoch != epoch:
                    tally["ignored"] += 1
                elif rcode is None:
                    tally["unanswered"].append(time.strftime("%H:%M:%S"))
                    note(f"cluster: DNS query to {server.label} unanswered within 2 s")
                elif rcode != 0 or len(answers) != 1:
                    tally["wrong"] += 1
                    tally["answered"] += 1
                else:
                    tally["answered"] += 1
            self.stop.wait(0.25)


class ClusterClient(chaos.Client):
    """chaos.Client through the cluster: client K uses server K mod 3, another one while that
    one is down. `error: outcome unknown …` is in flight (it may be made later), like no reply."""

    def __init__(self, k, cluster):
        super().__init__(k, None)
        self.cluster = cluster
        self.through = {}

    def send(self, retry_until=None):
        line = f"weight {self.name} a {self.value}"
        servers = self.cluster.servers
        deadline = time.monotonic() + 60
        reply = None
        while reply is None:
            order = [servers[(self.k + j) % len(servers)] for j in range(len(servers))]
            for s in [s for s in order if s.up] or order:
                try:
                    reply = admin(s.admin_path, line)
                    self.through[s.label] = self.through.get(s.label, 0) + 1
                    break
                except NotSent:
                    self.not_sent += 1
                except socket.timeout:
                    reply = "hung"
                    break
            if reply is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name}: no server took a command for 60 s")
                time.sleep(0.01)
        if reply.startswith("ok"):
            outcome = "ok"
        elif reply.startswith("error:") and not reply.startswith("error: outcome unknown"):
            outcome = "error"
        else:
            outcome = "unknown"
        self.attempts.append((self.value, outcome, reply))
        self.value += 1
        return outcome, reply

    def run(self, count, pace):
        for n in range(count):
            # The last few changes wait for the faults to be over, so every fault has changes
            # in flight however long it takes on a loaded machine.
            if count - n <= 5:
                self.cluster.faults_done.wait()
            self.send()
            if not self.cluster.faults_done.is_set():
                time.sleep(pace)


# --- The section.

def section_cluster(work):
    checks = chaos.Checks("cluster")
    if not shutil.which("etcd"):
        return chaos.verdict("cluster", False, "etcd missing; install with: apt-get install -y etcd-server")
    options = serve_options()
    supported = "--store-ca" in options
    tls = os.environ.get("CHAOS_CLUSTER_TLS", "1" if supported else "0") == "1"
    if tls and not supported:
        return chaos.verdict("cluster", False, f"CHAOS_CLUSTER_TLS=1 but {chaos.VEER} has no --store-ca")
    if tls and not shutil.which("openssl"):
        return chaos.verdict("cluster", False, "openssl missing (CHAOS_CLUSTER_TLS=1); apt-get install -y openssl")
    total = env_int("CHAOS_CLUSTER_CHANGES", 1000)
    pace = float(os.environ.get("CHAOS_CLUSTER_PACE", "0.15"))
    cut_seconds = float(os.environ.get("CHAOS_CLUSTER_CUT_SECONDS", "10"))
    cut_mode = os.environ.get("CHAOS_CLUSTER_CUT", "silent")
    if cut_mode not in ("silent", "refuse"):
        return chaos.verdict("cluster", False, f"CHAOS_CLUSTER_CUT={cut_mode}: silent or refuse")
    bake = os.environ.get("CHAOS_CLUSTER_BAKE", "3s")
    began = time.monotonic()
    certs = make_certificates(os.path.join(work, "certs")) if tls else None
    note(f"cluster: etcd over {'TLS with client certificates' if tls else 'plain HTTP'}, {total} changes, "
         f"a {cut_mode} cut of {cut_seconds:g} s")
    etcd = Etcd(work, certs)
    for i in range(MEMBERS):
        etcd.launch(i)
    for i in range(MEMBERS):
        etcd.wait_ready(i)
    note(f"cluster: etcd m0..m{MEMBERS - 1} ready on ports {etcd.client}")

    gateway = start_gateway()
    zones = os.path.join(work, "zones-cluster")
    chaos.write_zone(zones, extra=[
        f"$HEALTH gw http address=127.0.0.1 port={gateway} path=/ {PROBE}",
        "roll 30 IN A 192.0.2.211 endpoint=old weight=100",
        "roll 30 IN A 192.0.2.212 endpoint=new weight=0 health=gw"])
    proxies = [[Proxy(etcd.client[m]) for m in range(MEMBERS)] for _ in range(SERVERS)]
    store_args = ["--store-ca", certs["ca.crt"], "--store-cert", certs["veer.crt"], "--store-key", certs["veer.key"]] if tls else []
    # The expected servers, where the binary knows them: quorum health counts against all three.
    if "--cluster" in options:
        store_args += ["--cluster", ",".join(f"s{i}" for i in range(SERVERS))]
    scheme = "https" if tls else "http"
    servers = [Server(work, i, zones, ",".join(f"{scheme}://127.0.0.1:{p.port}" for p in proxies[i]), store_args)
               for i in range(SERVERS)]
    cluster = Cluster(servers, etcd, proxies)
    try:
        return run(work, checks, cluster, total, pace, cut_seconds, cut_mode, bake, tls, began)
    finally:
        cluster.stop.set()
        cluster.faults_done.set()
        for row in proxies:
            for p in row:
                p.stop()


def restart(cluster, server, why):
    """Restarts a server killed on purpose once the others no longer list it (its lease ran
    out), so its registration is new; retried until the deadline if it refuses to start."""
    others = [s for s in cluster.live() if s is not server]
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        listed = [st for st in (s.status() for s in others) if st]
        if listed and all(server.label not in [x["id"] for x in st.get("servers") or []] for st in listed):
            break
        time.sleep(0.1)
    note(f"cluster: {server.label} ({why}) gone from the others' server lists; restarting it")
    last = None
    while time.monotonic() < deadline + READY_TIMEOUT:
        try:
            server.start()
            note(f"cluster: {server.label} serving again (start {server.starts})")
            return
        except RuntimeError as error:
            last = error
            server.stop()
            time.sleep(0.5)
    raise RuntimeError(f"{server.label} did not start again: {last}")


def revision_of(server):
    st = server.status()
    return st.get("revision") if st else None


def run(work, checks, cluster, total, pace, cut_seconds, cut_mode, bake, tls, began):
    servers, etcd = cluster.servers, cluster.etcd
    for s in servers:
        s.start()
    leader = cluster.wait_leader()
    note(f"cluster: s0..s{SERVERS - 1} serving; leader {leader}")
    # The rollout's target must be probed up first: try until a server accepts it.
    steps = ",".join(map(str, STEPS))
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        reply = servers[0].admin(f"rollout start {ROLL} --to new --steps {steps} --bake {bake}")
        if reply.startswith("ok") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if not reply.startswith("ok"):
        raise RuntimeError(f"rollout start: {reply}")
    note(f"cluster: rollout of {ROLL} started, steps {steps}, bake {bake}")

    threads = [threading.Thread(target=cluster.poll_leader, args=(s,), daemon=True) for s in servers]
    threads += [threading.Thread(target=cluster.query_loop, args=(s,), daemon=True) for s in servers]
    clients = [ClusterClient(k, cluster) for k in range(chaos.CLIENTS)]
    errors = []

    def client_run(c, count):
        try:
            c.run(count, pace)
        except Exception as error:          # reported, not lost in a thread
            errors.append(f"{c.name}: {error}")

    per = [total // chaos.CLIENTS + (1 if k < total % chaos.CLIENTS else 0) for k in range(chaos.CLIENTS)]
    workers = [threading.Thread(target=client_run, args=(c, n), daemon=True) for c, n in zip(clients, per)]
    for t in threads + workers:
        t.start()

    def sent():
        return sum(len(c.attempts) for c in clients)

    def wait_changes(n, timeout=60):
        """Until n more changes were sent (a moment that has changes in it), or the timeout."""
        target = sent() + n
        deadline = time.monotonic() + timeout
        while sent() < target and time.monotonic() < deadline and any(t.is_alive() for t in workers):
            time.sleep(0.02)

    heal = {}
    window = [time.time(), None]
    try:
        wait_changes(total // 20)
        # 1. A server that does not lead.
        leader = cluster.wait_leader()
        victim = next(s for s in servers if s.label != leader and s.up)
        note(f"cluster: kill -9 {victim.label} (not the leader; {sent()} changes sent)")
        victim.kill9()
        wait_changes(20)
        restart(cluster, victim, "not the leader")
        wait_changes(total // 20)
        # 2. The leader.
        leader = cluster.wait_leader()
        victim = cluster.by_label(leader)
        note(f"cluster: kill -9 {leader} (the leader; {sent()} changes sent)")
        victim.kill9()
        killed = time.monotonic()
        new = cluster.wait_leader(other_than=leader)
        note(f"cluster: {new} leads, {time.monotonic() - killed:.2f} s after the leader was killed")
        restart(cluster, victim, "the leader")
        wait_changes(total // 20)
        # 3. Each etcd member in turn, quorum kept.
        for m in range(MEMBERS):
            note(f"cluster: kill -9 etcd m{m} ({sent()} changes sent)")
            for row in cluster.proxies:
                row[m].block("down")
            etcd.kill9(m)
            wait_changes(20)
            etcd.launch(m)
            etcd.wait_ready(m)
            for row in cluster.proxies:
                row[m].unblock("down")
            note(f"cluster: etcd m{m} back and caught up")
            wait_changes(total // 50)
        # 4. The leader cut off from etcd, then healed.
        leader = cluster.wait_leader()
        victim = cluster.by_label(leader)
        note(f"cluster: cutting {leader} (the leader) off from etcd ({cut_mode}) for {cut_seconds:g} s ({sent()} changes sent)")
        for p in cluster.proxies[victim.index]:
            p.hold() if cut_mode == "silent" else p.block("cut")
        cut_at = time.monotonic()
        new = None
        while time.monotonic() - cut_at < cut_seconds:
            if new is None:
                views = [cluster.leader_view.get(s.label, {}) for s in servers if s is not victim]
                named = {v.get("leader") for v in views}
                if len(named) == 1 and None not in named and leader not in named:
                    new = named.pop()
                    note(f"cluster: {new} leads, {time.monotonic() - cut_at:.2f} s after the cut")
            time.sleep(0.05)
        # The revision the connected servers serve now is the one the healed server must reach.
        target = max((r for r in (revision_of(s) for s in servers if s is not victim and s.up) if r is not None), default=0)
        for p in cluster.proxies[victim.index]:
            p.release() if cut_mode == "silent" else p.unblock("cut")
        healed = time.monotonic()
        window[1] = time.time()
        note(f"cluster: healed {victim.label}; the others serve revision {target}")
        deadline = healed + CONVERGE_TIMEOUT
        while time.monotonic() < deadline:
            revisions = {s.label: revision_of(s) for s in servers if s.up}
            if all(r is not None and r >= target for r in revisions.values()):
                heal["seconds"] = time.monotonic() - healed
                break
            time.sleep(0.01)
        heal["revisions"] = {s.label: revision_of(s) for s in servers if s.up}
        heal["target"] = target
        note(f"cluster: every server at revision >= {target} "
             + (f"{heal['seconds'] * 1000:.0f} ms after the heal" if "seconds" in heal else f"NOT within {CONVERGE_TIMEOUT} s: {heal['revisions']}"))
    finally:
        cluster.faults_done.set()
    for t in workers:
        t.join()
    note(f"cluster: {sent()} changes sent; faults over")

    # The rollout: wait for its end (resuming it if a save of unknown outcome paused it).
    resumed = []
    deadline = time.monotonic() + ROLLOUT_TIMEOUT
    phase = None
    while time.monotonic() < deadline:
        reply = servers[0].admin(f"rollout status {ROLL} json")
        try:
            state = json.loads(reply[3:])[0] if reply.startswith("ok\n") else {}
        except (ValueError, IndexError):
            state = {}
        phase = state.get("phase")
        if phase in ("completed", "aborted"):
            break
        if phase == "paused":
            note(f"cluster: the rollout is paused ({state.get('note')}); resuming it")
            resumed.append(state.get("note"))
            servers[0].admin(f"rollout resume {ROLL}")
        time.sleep(0.2)
    note(f"cluster: rollout {phase}")

    # Every server at the same revision.
    deadline = time.monotonic() + CONVERGE_TIMEOUT
    converged_at = time.monotonic()
    while time.monotonic() < deadline:
        revisions = {s.label: revision_of(s) for s in servers}
        if len(set(revisions.values())) == 1 and None not in revisions.values():
            break
        time.sleep(0.05)
    converge_seconds = time.monotonic() - converged_at
    cluster.stop.set()
    for t in threads:
        t.join()

    # --- Checks.
    # Durable: every server's served weight, against what the clients were told.
    acked_total = sum(len(c.values("ok")) for c in clients)
    unknown_total = sum(len(c.values("unknown")) for c in clients)
    error_total = sum(len(c.values("error")) for c in clients)
    lost = []
    history = {}
    for c in clients:
        text = servers[0].admin(f"history {c.name} 10000")
        if not text.startswith("ok"):
            checks.fail("durable", f"history {c.name}: {text[:200]!r}")
        made = [int(v) for v in re.findall(rf'reason="weight {re.escape(c.name)} a (\d+)"', text)]
        history[c.name] = made
        allowed = {c.last_acked()} | {v for v in c.values("unknown") if v > c.last_acked()}
        for s in servers:
            served = served_weights(s.port, c.name).get("a")
            if served not in allowed:
                checks.fail("durable", f"{c.name}: {s.label} serves weight {served}; last acknowledged {c.last_acked()}, "
                                       f"in flight after it {sorted(allowed - {c.last_acked()})}")
        for v in c.values("ok"):
            if v not in made:
                lost.append(f"{c.name}: acknowledged weight {v} is not in the audit log")
        answered_error = {v: r for v, o, r in c.attempts if o == "error"}
        for v in made:
            if v in answered_error:
                checks.fail("durable", f"{c.name}: weight {v} answered {answered_error[v]!r} yet made")
        if len(set(made)) != len(made):
            checks.fail("durable", f"{c.name}: a change audited twice")
    for text in lost:
        checks.fail("durable", text)
    unknown_made = sum(len(set(c.values("unknown")) & set(history[c.name])) for c in clients)
    replies = {}
    for c in clients:
        for _, o, r in c.attempts:
            if o != "ok":
                kind = re.sub(r"\(revision \d+.*", "", r)[:70] or "(no reply)"
                replies[kind] = replies.get(kind, 0) + 1
    checks.expect("durable", f"acknowledged changes lost: {len(lost)} of {acked_total} "
                             f"({sum(len(c.attempts) for c in clients)} sent: {error_total} refused, {unknown_total} in flight, "
                             f"{unknown_made} of those made; weights read from all {SERVERS} servers)")
    for e in errors:
        checks.fail("durable", e)

    # The rollout: each promotion once, in order.
    text = servers[0].admin(f"history {ROLL} 10000")
    if not text.startswith("ok"):
        checks.fail("rollout", f"history {ROLL}: {text[:200]!r}")
    promoted = [int(m) for m in re.findall(r"promoted to step (\d+)/\d+", text)]
    stamps = [calendar.timegm(time.strptime(m, "%Y-%m-%dT%H:%M:%SZ"))
              for m in re.findall(r"^(\S+Z) .*promoted to step", text, re.M)]
    during = sum(1 for t in stamps if window[0] - 1 <= t <= (window[1] or time.time()) + 1)
    for line in text.splitlines()[1:]:
        if "rollout" in line:
            note(f"cluster: history {line}")
    expected = list(range(2, len(STEPS) + 1))
    twice = sorted({p for p in promoted if promoted.count(p) > 1})
    skipped = [p for p in expected if p not in promoted]
    checks.expect("rollout", f"rollout steps taken twice or skipped: {len(twice) + len(skipped)} "
                             f"({len(promoted)} promotions, {during} of them between the first fault and the heal; rollout {phase}"
                             + (f", resumed {len(resumed)} time(s)" if resumed else "") + ")")
    if phase != "completed":
        checks.fail("rollout", f"the rollout ended {phase}, not completed")
    if twice:
        checks.fail("rollout", f"steps promoted twice: {twice}")
    if skipped:
        checks.fail("rollout", f"steps skipped: {skipped}")
    if promoted != sorted(promoted):
        checks.fail("rollout", f"promotions out of order: {promoted}")

    # One leader at a time, and no step promoted by two servers.
    audit = etcd.audit()
    promoters = {}
    if audit is None:
        checks.fail("leader", "the audit keys could not be read from etcd")
    else:
        for key, value in audit:
            m = re.search(r"promoted to step (\d+)/", value)
            if m and f" {ROLL}." in value:
                server = key[len(PREFIX + "audit/"):].split("-")[1]
                promoters.setdefault(int(m.group(1)), []).append(server)
    by_two = {step: who for step, who in promoters.items() if len(who) > 1}
    who = " ".join(f"{step}:{'+'.join(w)}" for step, w in sorted(promoters.items()))
    overlaps = cluster.overlaps()
    readings = {label: len(r) for label, r in cluster.seen.items()}
    checks.expect("leader", f"two servers acting as leader at once: {len(overlaps)} "
                            f"(`status json` read {readings}; steps promoted by {who or 'nobody'})")
    for at, pair, seconds in overlaps:
        checks.fail("leader", f"{at}: {pair} both lead, for {seconds:.2f} s or more")
    for step, w in by_two.items():
        checks.fail("leader", f"step {step} promoted by {w}")

    # DNS.
    unanswered = sum(len(t["unanswered"]) for t in cluster.dns.values())
    answered = sum(t["answered"] for t in cluster.dns.values())
    wrong = sum(t["wrong"] for t in cluster.dns.values())
    checks.expect("dns", f"DNS queries unanswered on the live servers: {unanswered} of {answered + unanswered} "
                         f"({wrong} not a one-record NOERROR)")
    for label, t in cluster.dns.items():
        if t["unanswered"]:
            checks.fail("dns", f"{label}: {len(t['unanswered'])} unanswered, at {t['unanswered'][:5]}")
        if t["wrong"]:
            checks.fail("dns", f"{label}: {t['wrong']} answers not a one-record NOERROR")

    # Heal and convergence.
    if "seconds" in heal:
        checks.expect("heal", f"from the heal to every server serving the latest revision ({heal['target']}): "
                              f"{heal['seconds'] * 1000:.0f} ms")
    else:
        checks.expect("heal", "from the heal to every server serving the latest revision")
        checks.fail("heal", f"not within {CONVERGE_TIMEOUT} s: revisions {heal.get('revisions')}, wanted {heal.get('target')}")
    final = {s.label: revision_of(s) for s in servers}
    checks.expect("converge", f"at the end every server serves one revision: {final}")
    if len(set(final.values())) != 1:
        checks.fail("converge", f"revisions differ {converge_seconds:.1f} s after the last change: {final}")

    through = {}
    for c in clients:
        for label, n in c.through.items():
            through[label] = through.get(label, 0) + n
    figure("cluster", f"etcd {'over TLS with client certificates' if tls else 'over plain HTTP'}; "
                      f"a {cut_mode} cut of {cut_seconds:g} s; changes through {dict(sorted(through.items()))}; section took {time.monotonic() - began:.0f} s")
    for kind, n in sorted(replies.items(), key=lambda x: -x[1])[:5]:
        figure("cluster", f"{n} × {kind}")
    return checks.report()
