#!/usr/bin/env python3
"""bench/chaos.py: Veer under faults, one scorecard (`make chaos`).

Five sections, each printing PASS/FAIL lines and its figures; the script exits 1 if any fails.

  kill    4 clients send 1,000 weight changes (250 each, one weighted name each) over the admin
          socket while Veer is SIGKILLed at random moments and restarted on the same state
          directory. Then: every change answered `ok` is in the state after a last SIGKILL and
          restart (each client's final weight is its last acknowledged value, or a later one
          that was in flight when a kill hit), in the audit log and in `history`; the audit log
          is a chain (each line's old weight is the previous line's new one, the last one is the
          weight in force), the undo steps in weights.json are the audit log's old weights, and
          no audit line is torn.
  enospc  The state directory on a small tmpfs that a dd filler fills while the clients are
          changing weights: every reply is `ok` or an `error:` naming ENOSPC, nothing answered
          `ok` is lost (also across a SIGKILL and restart on the full disk), DNS keeps
          answering the last good weights, and commands are `ok` again once the filler is gone.
          Mounting needs root; otherwise the section re-runs itself under
          `unshare --user --map-root-user --mount`.
  reload  dnsperf at CHAOS_RELOAD_RATE q/s for CHAOS_RELOAD_SECONDS while the zone is rewritten
          (new serial) and reloaded every second, by admin `reload` and SIGHUP in turn; a dig
          loop checks a static name's records throughout. Every query answered NOERROR, none
          lost, no dig answer wrong, every reload logged, the last serial served.
  soak    dnsperf at 50,000 q/s for CHAOS_SOAK_SECONDS (1800) while the admin socket shifts a
          weighted name every CHAOS_SHIFT_SECONDS; RSS (VmRSS) after the first minute (or 1/30
          of the run if that is shorter) and at the end must be within 10%, with no query lost,
          no rcode other than NOERROR and no admin error.
  cluster A 3-member etcd (over TLS when the binary has --store-ca) and three Veer servers
          sharing it: 1,000 changes by four clients through different servers while a server,
          the leader and each etcd member in turn are SIGKILLed and the leader is cut off from
          etcd for 10 s, during a rollout. Acknowledged changes lost, rollout steps taken twice
          or skipped, two leaders at once, DNS queries unanswered, and the time from the heal to
          every server serving the latest revision (bench/chaos_cluster.py says how; it has its
          own CHAOS_CLUSTER_* settings).

Environment: VEER (the binary, default .build/release/veer), CHAOS_ONLY (comma-separated
sections, default kill,enospc,reload,soak,cluster), CHAOS_SOAK_SECONDS (1800), CHAOS_SOAK_RATE (50000),
CHAOS_SHIFT_SECONDS (2), CHAOS_RELOAD_SECONDS (20), CHAOS_RELOAD_RATE (20000),
CHAOS_KILL_CHANGES (1000), CHAOS_TMPFS_SIZE (512k), SERVER_CPU (0) and CLIENT_CPU (1) as in
bench/lib.sh, CHAOS_KEEP=1 keeps the temporary directory (zones, states, logs, dnsperf output;
it is also kept when a section fails). Needs python3, dig and dnsperf (and etcd, openssl for cluster); installs nothing.
Loopback only. Every process it starts is stopped, and the tmpfs unmounted, on any exit.
"""
import json, os, random, re, shutil, signal, socket, struct, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VEER = os.environ.get("VEER", os.path.join(ROOT, ".build/release/veer"))
SECTIONS = ["kill", "enospc", "reload", "soak", "cluster"]
ZONE = "chaos.test"
CLIENTS = 4
# The zone weight of each client name's endpoint `a`; endpoint `b` stays at 1 so no change
# ever drains the whole name.
ZONE_WEIGHT = 1
# Clients' weights start here and grow by one per attempt: every attempt is a real change,
# and an older value found in the state means a newer acknowledged one was lost.
FIRST_WEIGHT = 10
# The static name the dig loop checks, and its records.
STATIC_A = ["192.0.2.11", "192.0.2.12", "192.0.2.13"]
# Plain A names for dnsperf: a zone of some size for every reload to parse.
HOSTS = 1000
# A restart must be serving within this many seconds, a command answered within this many.
START_TIMEOUT = 30
ADMIN_TIMEOUT = 30
# Mean uptime between two SIGKILLs (uniform from 0 to twice this): dozens of kills in a run
# of 1,000 changes, each at a random point of a save.
KILL_UPTIME = 0.05
# The soak's RSS at the end may differ from its early sample by this fraction at most.
RSS_TOLERANCE = 0.10

procs = []          # every child process started, stopped on exit
mounts = []         # every tmpfs mounted, unmounted on exit
failed_sections = []


def env_int(name, default):
    return int(os.environ.get(name, str(default)))


def note(text):
    """Progress, on stderr, with the time of day; the scorecard is on stdout."""
    now = time.time()
    stamp = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"
    print(f"chaos {stamp}: {text}", file=sys.stderr, flush=True)


def verdict(section, ok, text):
    print(f"{'PASS' if ok else 'FAIL'} {section}: {text}", flush=True)
    if not ok and section not in failed_sections:
        failed_sections.append(section)
    return ok


class Checks:
    """The properties one section checks: problems are noted as they are found, and `report`
    prints one PASS or FAIL line per property, in the order they were declared, with the
    first problems of each failed one."""

    def __init__(self, section):
        self.section = section
        self.texts = {}
        self.problems = {}

    def expect(self, key, text):
        """Declares (or re-words, once the figures are known) a property."""
        self.texts[key] = text
        self.problems.setdefault(key, [])

    def fail(self, key, problem):
        self.problems.setdefault(key, []).append(problem)

    def ok(self, key):
        return not self.problems.get(key)

    def report(self):
        for key in list(self.texts) + [k for k in self.problems if k not in self.texts]:
            found = self.problems.get(key, [])
            verdict(self.section, not found, self.texts.get(key, key))
            for problem in found[:5]:
                figure(self.section, "  " + problem)
            if len(found) > 5:
                figure(self.section, f"  … and {len(found) - 5} more")
        return not any(self.problems.values())


def figure(section, text):
    print(f"     {section}: {text}", flush=True)


def cpu_prefix(cpu):
    """taskset in front of a command, as bench/lib.sh pins servers and dnsperf."""
    if shutil.which("taskset") and os.cpu_count() and int(cpu) < os.cpu_count():
        return ["taskset", "-c", str(cpu)]
    return []


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 (bench/lib.sh's free_port)."""
    while True:
        with socket.socket() as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue


# --- DNS over UDP, just enough to read rcodes, addresses and TXT strings.

def encode_name(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.strip(".").split(".")) + b"\0"


def skip_name(packet, at):
    while True:
        length = packet[at]
        if length & 0xC0 == 0xC0:
            return at + 2
        if length == 0:
            return at + 1
        at += 1 + length


def dns_query(port, name, qtype, timeout=1.0):
    """(rcode, [(type, rdata)]) of the answer section, or (None, []) without a reply."""
    ident = random.randrange(65536)
    packet = struct.pack(">HHHHHH", ident, 0, 1, 0, 0, 0) + encode_name(name) + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, ("127.0.0.1", port))
        deadline = time.monotonic() + timeout
        while True:
            try:
                reply = s.recv(65535)
            except (socket.timeout, ConnectionRefusedError):
                return None, []
            if len(reply) >= 12 and struct.unpack(">H", reply[:2])[0] == ident:
                break
            if time.monotonic() > deadline:
                return None, []
    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", reply[:12])
    at = 12
    for _ in range(qd):
        at = skip_name(reply, at) + 4
    answers = []
    for _ in range(an):
        at = skip_name(reply, at)
        rtype, _, _, length = struct.unpack(">HHIH", reply[at:at + 10])
        answers.append((rtype, reply[at + 10:at + 10 + length]))
        at += 10 + length
    return flags & 0xF, answers


def txt_strings(rdata):
    strings, at = [], 0
    while at < len(rdata):
        strings.append(rdata[at + 1:at + 1 + rdata[at]].decode())
        at += 1 + rdata[at]
    return strings


def served_weights(port, name):
    """{endpoint: configured weight} from the `_veer.NAME` TXT status Veer serves to loopback."""
    rcode, answers = dns_query(port, f"_veer.{name}", 16)
    weights = {}
    for rtype, rdata in answers:
        for text in txt_strings(rdata) if rtype == 16 else []:
            m = re.match(r"endpoint=(\S+) weight=(\d+)", text)
            if m:
                weights[m.group(1)] = int(m.group(2))
    return weights


# --- The admin socket.

class NotSent(Exception):
    """The command never reached the server (nobody listening): safe to send again."""


def admin(path, line, timeout=ADMIN_TIMEOUT):
    """The reply to one command, or "" when the connection ended without one (the server died
    with the command in flight: it may or may not have been made). Raises NotSent when the
    connection could not be made."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        try:
            s.connect(path)
        except (FileNotFoundError, ConnectionRefusedError) as error:
            raise NotSent(str(error))
        out = b""
        try:
            s.sendall(line.encode() + b"\n")
            s.shutdown(socket.SHUT_WR)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
    return out.decode(errors="replace").rstrip("\n")


# --- Veer, started and stopped by pid.

class Veer:
    def __init__(self, work, label, zones, state, threads=1, cpu=None, extra=()):
        self.label = label
        self.extra = list(extra)    # more `veer serve` options (the cluster section's --store …)
        self.zones = zones
        self.state = state
        self.admin_path = os.path.join(work, f"{label}.sock")
        self.log = os.path.join(work, f"veer-{label}.log")
        self.port = free_port()
        self.threads = threads
        self.cpu = cpu
        self.proc = None
        self.starts = 0

    def start(self):
        """Starts Veer and waits until it is serving: the `ready:` line in its log, an `ok`
        from the admin socket and the zone's SOA over UDP. Raises RuntimeError otherwise."""
        offset = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        command = (cpu_prefix(self.cpu) if self.cpu is not None else []) + [
            VEER, "serve", "--zones", self.zones, "--listen", f"127.0.0.1:{self.port}", "--threads", str(self.threads),
            "--state-dir", self.state, "--admin", self.admin_path] + self.extra
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        procs.append(self.proc)
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT
        stage = "the ready line"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"veer ({self.label}) exited with {self.proc.returncode}:\n{self.tail(offset)}")
            if stage == "the ready line":
                with open(self.log, errors="replace") as f:
                    f.seek(offset)
                    if " info ready: " in f.read():
                        stage = "the admin socket"
            if stage == "the admin socket":
                try:
                    if admin(self.admin_path, "status", timeout=2).startswith("ok"):
                        stage = "the SOA"
                except (NotSent, OSError):
                    pass
            if stage == "the SOA" and dns_query(self.port, ZONE, 6, timeout=0.5)[0] == 0:
                return
            time.sleep(0.005)
        raise RuntimeError(f"veer ({self.label}) not serving after {START_TIMEOUT}s (waiting for {stage}):\n{self.tail(offset)}")

    def tail(self, offset=0, lines=15):
        with open(self.log, errors="replace") as f:
            f.seek(offset)
            return "\n".join(f.read().splitlines()[-lines:])

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def admin(self, line):
        return admin(self.admin_path, line)

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def log_lines(self, pattern):
        with open(self.log, errors="replace") as f:
            return [line for line in f if re.search(pattern, line)]


# --- The zone: client names c0..c3 (endpoints a and b), a static name, a shifted name for the
# soak, HOSTS plain hosts for dnsperf, and a TXT that changes with every reload.

def write_zone(directory, serial=1, extra=()):
    lines = [f"$ORIGIN {ZONE}.", "$TTL 300",
             f"@ IN SOA ns1 hostmaster {serial} 3600 600 604800 60", "@ IN NS ns1", "ns1 IN A 192.0.2.53",
             "www IN A 192.0.2.10"]
    lines += [f"static IN A {address}" for address in STATIC_A] + ["static IN AAAA 2001:db8::11"]
    for k in range(CLIENTS):
        lines.append(f"c{k} 30 IN A 192.0.2.{100 + k} endpoint=a weight={ZONE_WEIGHT}")
        lines.append(f"c{k} 30 IN A 198.51.100.{100 + k} endpoint=b weight=1")
    lines += ["pool 30 IN A 192.0.2.201 endpoint=old weight=100", "pool 30 IN A 192.0.2.202 endpoint=new weight=0"]
    lines += [f"h{i} IN A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(HOSTS)]
    lines.append(f'rev IN TXT "serial {serial}"')
    lines += list(extra)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{ZONE}.zone")
    # Replaced by rename, so a reload never reads a half-written file (the .tmp is no zone).
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(path + ".tmp", path)


def write_queries(path):
    """dnsperf's input: every name exists, so every answer is NOERROR (AAAA of an A-only name
    is NODATA, still NOERROR)."""
    names = [f"h{i}.{ZONE} A" for i in range(0, HOSTS, 7)]
    names += [f"static.{ZONE} A", f"static.{ZONE} AAAA", f"www.{ZONE} A", f"pool.{ZONE} A", f"{ZONE} SOA",
              f"{ZONE} NS", f"rev.{ZONE} TXT"] * 4
    names += [f"c{k}.{ZONE} A" for k in range(CLIENTS)] * 4
    random.Random(1).shuffle(names)
    with open(path, "w") as f:
        f.write("\n".join(names) + "\n")


# --- Clients that change weights and remember every outcome.

class Client:
    """Sets `weight cK.chaos.test a V` with V growing by one per attempt. Outcomes: ok, error
    (with its text), or unknown (sent, but the server died before replying)."""

    def __init__(self, k, admin_path):
        self.k = k
        self.name = f"c{k}.{ZONE}"
        self.admin_path = admin_path
        self.value = FIRST_WEIGHT
        self.attempts = []     # (value, "ok" | "error" | "unknown", reply)
        self.not_sent = 0

    def send(self, retry_until=None):
        """One attempt; a command that could not be sent is retried until `retry_until`."""
        line = f"weight {self.name} a {self.value}"
        while True:
            try:
                reply = admin(self.admin_path, line)
                break
            except NotSent:
                self.not_sent += 1
                if retry_until is None or time.monotonic() > retry_until:
                    raise
                time.sleep(0.002)
            except socket.timeout:
                reply = "hung"
                break
        outcome = "ok" if reply.startswith("ok") else "error" if reply.startswith("error:") else "unknown"
        self.attempts.append((self.value, outcome, reply))
        self.value += 1
        return outcome, reply

    def values(self, outcome):
        return [v for v, o, _ in self.attempts if o == outcome]

    def last_acked(self):
        acked = self.values("ok")
        return acked[-1] if acked else ZONE_WEIGHT


AUDIT_LINE = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ uid=(?:\d+|veer) (\S+\.) (.+?) reason="((?:[^"\\]|\\.)*)"$')
WEIGHT_TEXT = re.compile(r"^(\S+) (\d+) -> (\d+)$")


def audit_check(checks, veer, clients, final):
    """Checks the state directory after the last restart against what the clients saw. `final`
    is {name: weight of endpoint a} as served after the restart."""
    section = checks.section
    path = os.path.join(veer.state, "audit.log")
    raw = open(path, "rb").read() if os.path.exists(path) else b""
    lines = raw.decode(errors="replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    elif raw:
        checks.fail("torn", f"audit.log does not end with a newline: last line {lines[-1]!r}")
    torn = [line for line in lines if not AUDIT_LINE.match(line)]
    for line in torn:
        checks.fail("torn", f"does not parse: {line!r}")
    state = json.load(open(os.path.join(veer.state, "weights.json")))
    undo_of = {n["name"]: n["undo"] for n in state["names"]}
    acked_total = unknown_total = unknown_made = 0
    lost = []
    for c in clients:
        key = c.name + "."
        mine = [line for line in lines if AUDIT_LINE.match(line) and AUDIT_LINE.match(line).group(1) == key]
        weight, made, olds = ZONE_WEIGHT, [], []
        for line in mine:
            _, change, reason = AUDIT_LINE.match(line).groups()
            m = WEIGHT_TEXT.match(change)
            if not m or m.group(1) != "a" or reason != f"weight {c.name} a {m.group(3)}":
                checks.fail("audit", f"{c.name}: an audit line no client asked for: {line!r}")
                continue
            old, new = int(m.group(2)), int(m.group(3))
            if old != weight:
                checks.fail("audit", f"{c.name}: weight {weight} -> {old} was made without an audit line "
                                     f"(the next line is {line!r})")
            weight = new
            made.append(new)
            olds.append([old, 1])
        sent = {v: (o, r) for v, o, r in c.attempts}
        for v in made:
            if v not in sent:
                checks.fail("audit", f"{c.name}: audit line for weight {v}, never sent")
            elif sent[v][0] == "error":
                checks.fail("durable", f"{c.name}: weight {v} answered {sent[v][1]!r} yet made")
        if len(set(made)) != len(made):
            checks.fail("audit", f"{c.name}: a change audited twice")
        acked = c.values("ok")
        unknown = c.values("unknown")
        acked_total += len(acked)
        unknown_total += len(unknown)
        unknown_made += len(set(unknown) & ({final.get(c.name)} | set(made)))
        served = final.get(c.name)
        lost += [(c.name, v) for v in acked if v not in made or served is None or v > served]
        allowed = {c.last_acked()} | {v for v in unknown if v > c.last_acked()}
        if served not in allowed:
            checks.fail("durable", f"{c.name}: serves weight {served} after the restart; last acknowledged "
                                   f"{c.last_acked()}, in flight after it {sorted(allowed - {c.last_acked()})}")
        if served != weight:
            checks.fail("audit", f"{c.name}: serves weight {served} but its last audit line says {weight}")
        if undo_of.get(key) != olds[-32:]:
            undo = undo_of.get(key) or []
            first = next((i for i, (u, o) in enumerate(zip(undo[::-1], olds[::-1])) if u != o), min(len(undo), len(olds)))
            checks.fail("audit", f"{c.name}: undo steps in weights.json and old weights in the audit log differ "
                                 f"{first + 1} step(s) back: {undo[::-1][first:first + 1]} vs {olds[::-1][first:first + 1]}")
        history = veer.admin(f"history {c.name} 10000").split("\n")
        if history[1:] != mine:
            checks.fail("history", f"{c.name}: `history` has {len(history) - 1} lines, audit.log {len(mine)}")
    for name, v in lost:
        checks.fail("durable", f"{name}: acknowledged weight {v} lost")
    checks.expect("durable", f"acknowledged changes lost: {len(lost)} of {acked_total} "
                             f"({unknown_total} in flight when the server died, {unknown_made} of those made)")
    checks.expect("audit", "the audit log is the state's history: one line per change made, "
                           "undo steps = its old weights")
    checks.expect("torn", f"torn audit lines: {len(torn)} of {len(lines)}")
    checks.expect("history", f"`history NAME 10000` = audit.log, for {len(clients)} names")


# --- Section 1: SIGKILL during weight changes.

def section_kill(work):
    total = env_int("CHAOS_KILL_CHANGES", 1000)
    per_client = total // CLIENTS
    zones, state = os.path.join(work, "zones-kill"), os.path.join(work, "state-kill")
    write_zone(zones)
    veer = Veer(work, "kill", zones, state)
    veer.start()
    clients = [Client(k, veer.admin_path) for k in range(CLIENTS)]

    def run(c):
        while len(c.attempts) < per_client:
            c.send(retry_until=time.monotonic() + START_TIMEOUT)

    threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in clients]
    started = time.monotonic()
    for t in threads:
        t.start()
    kills, downtime = 0, 0.0
    rng = random.Random()
    while any(t.is_alive() for t in threads):
        time.sleep(rng.uniform(0, 2 * KILL_UPTIME))
        if not any(t.is_alive() for t in threads):
            break
        veer.kill9()
        kills += 1
        down = time.monotonic()
        veer.start()
        downtime += time.monotonic() - down
    for t in threads:
        t.join()
    took = time.monotonic() - started
    # One more kill: the state checked is the one a restart reads.
    veer.kill9()
    kills += 1
    veer.start()
    final = {c.name: served_weights(veer.port, c.name).get("a") for c in clients}
    sent = sum(len(c.attempts) for c in clients)
    figure("kill", f"{sent} changes sent by {CLIENTS} clients in {took:.1f} s, {kills} SIGKILLs "
                   f"(restart to serving: {1000 * downtime / max(1, kills - 1):.0f} ms on average), "
                   f"{sum(c.not_sent for c in clients)} connects refused while down")
    checks = Checks("kill")
    audit_check(checks, veer, clients, final)
    checks.expect("replies", "every reply ok, or none (the server died): no error, no hang")
    for c in clients:
        for v, o, r in c.attempts:
            if o == "error" or r == "hung":
                checks.fail("replies", f"{c.name} weight {v}: {r!r}")
    veer.stop()
    return checks.report()


# --- Section 2: a full disk.

def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", path],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"mount -t tmpfs on {path}: {result.stderr.strip()}")
    mounts.append(path)


def unmount(path):
    if path in mounts:
        subprocess.run(["umount", path], check=False)
        mounts.remove(path)


def section_enospc(work):
    if os.geteuid() != 0 and not os.environ.get("CHAOS_IN_USERNS"):
        if not shutil.which("unshare"):
            return verdict("enospc", False, "not root and no unshare: cannot mount a tmpfs")
        note("not root: running the enospc section in a user and mount namespace")
        child = dict(os.environ, CHAOS_ONLY="enospc", CHAOS_IN_USERNS="1")
        result = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", sys.executable,
                                 os.path.abspath(__file__)], env=child)
        return verdict("enospc", result.returncode == 0, f"in a user namespace (exit {result.returncode})")
    size = os.environ.get("CHAOS_TMPFS_SIZE", "512k")
    mnt = os.path.join(work, "tmpfs")
    zones = os.path.join(work, "zones-enospc")
    write_zone(zones)
    mount_tmpfs(mnt, size)
    figure("enospc", f"state directory on a {size} tmpfs")
    veer = Veer(work, "enospc", zones, mnt)
    checks = Checks("enospc")
    try:
        veer.start()
        enospc_run(veer, mnt, checks)
    finally:
        veer.stop()
        unmount(mnt)
    return checks.report()


def enospc_run(veer, mnt, checks):
    clients = [Client(k, veer.admin_path) for k in range(CLIENTS)]
    filled = threading.Event()
    # After the fill, each client stops after this many errors in a row (a save already under
    # way when the disk filled frees the pages of the file it replaced: a few more may pass).
    errors_in_a_row = 5

    def run(c):
        streak = 0
        while streak < errors_in_a_row:
            outcome, _ = c.send()
            streak = streak + 1 if filled.is_set() and outcome == "error" else 0

    threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    while sum(len(c.values("ok")) for c in clients) < 100 and any(t.is_alive() for t in threads):
        time.sleep(0.001)
    # The filler: dd until the tmpfs is full, while the clients keep changing weights.
    dd = subprocess.run(["dd", "if=/dev/zero", f"of={mnt}/filler", "bs=4k"], capture_output=True, text=True)
    filled.set()
    for t in threads:
        t.join()
    usage = os.statvfs(mnt)
    figure("enospc", f"dd filled it while 4 clients changed weights ({(dd.stderr.strip().splitlines() or ['?'])[0]}); "
                     f"{usage.f_bavail * usage.f_frsize} bytes left")
    replies = [r for c in clients for _, o, r in c.attempts]
    refused = [r for r in replies if r.startswith("error:")]
    figure("enospc", f"{len(replies)} changes: {len(replies) - len(refused)} ok, {len(refused)} refused"
                     + (f"; veer said: {refused[-1]}" if refused else ""))
    checks.expect("refused", f"changes on the full disk answer `error: … ENOSPC …` ({len(refused)} refused)")
    if not refused:
        checks.fail("refused", "no change was refused on the full disk")
    for r in replies:
        if not r.startswith("ok") and not (r.startswith("error:") and "ENOSPC" in r):
            checks.fail("refused", f"reply {r!r}")

    # Full: DNS must answer the last acknowledged weights, and after a SIGKILL and a restart too.
    checks.expect("dns", "DNS serves the last good weights while full and after a SIGKILL and restart on the full disk")
    for when in ("while full", "restarted while full"):
        if when != "while full":
            veer.kill9()
            try:
                veer.start()
            except RuntimeError as error:
                checks.fail("dns", f"restart on the full disk failed: {error}")
                return
        served = {c.name: served_weights(veer.port, c.name).get("a") for c in clients}
        for c in clients:
            if served[c.name] != c.last_acked():
                checks.fail("dns", f"{when}: {c.name} serves weight {served[c.name]}, last acknowledged {c.last_acked()}")
        answers = [dns_query(veer.port, c.name, 1) for c in clients for _ in range(25)]
        bad = [a for a in answers if a[0] != 0 or len(a[1]) != 1]
        figure("enospc", f"{when}: {sum(served[c.name] == c.last_acked() for c in clients)}/{len(clients)} names "
                         f"serve their last acknowledged weight, {len(answers) - len(bad)}/{len(answers)} A queries answered")
        if bad:
            checks.fail("dns", f"{when}: {len(bad)} A queries without a one-record NOERROR answer")
        outcome, reply = clients[0].send()
        if outcome != "error" or "ENOSPC" not in reply:
            checks.fail("refused", f"{when}: a change got {reply!r}")

    # Space back: every change must be ok again.
    os.remove(os.path.join(mnt, "filler"))
    resumed = [c.send() for c in clients for _ in range(10)]
    not_ok = [r for o, r in resumed if o != "ok"]
    checks.expect("resume", f"filler removed: {len(resumed) - len(not_ok)} of {len(resumed)} changes ok")
    for r in not_ok:
        checks.fail("resume", f"after freeing the space: {r!r}")
    if os.path.exists(os.path.join(mnt, "weights.json.tmp")):
        checks.fail("resume", "weights.json.tmp left behind")
    veer.kill9()
    veer.start()
    final = {c.name: served_weights(veer.port, c.name).get("a") for c in clients}
    audit_check(checks, veer, clients, final)


# --- dnsperf.

def dnsperf(args, out):
    """Starts dnsperf pinned to CLIENT_CPU, output to `out`; returns the process."""
    command = cpu_prefix(os.environ.get("CLIENT_CPU", "1")) + ["dnsperf"] + args
    with open(out, "w") as f:
        p = subprocess.Popen(command, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    procs.append(p)
    return p


def dnsperf_result(out):
    text = open(out, errors="replace").read()

    def number(label):
        m = re.search(rf"{label}:\s+(\d+)", text)
        return int(m.group(1)) if m else None

    rcodes = {}
    m = re.search(r"Response codes:\s+(.*)", text)
    if m:
        for code, count in re.findall(r"([A-Z]+) (\d+) \(", m.group(1)):
            rcodes[code] = int(count)
    qps = re.search(r"Queries per second:\s+([\d.]+)", text)
    return {"sent": number("Queries sent"), "completed": number("Queries completed"), "lost": number("Queries lost"),
            "rcodes": rcodes, "qps": float(qps.group(1)) if qps else None}


def dnsperf_check(checks, result):
    """One PASS/FAIL line for a dnsperf run: nothing lost, every answer NOERROR."""
    if result["sent"] is None:
        checks.expect("dnsperf", "dnsperf printed its statistics")
        checks.fail("dnsperf", "no statistics in dnsperf's output")
        return
    other = {k: v for k, v in result["rcodes"].items() if k != "NOERROR"}
    checks.expect("dnsperf", f"dnsperf: {result['sent']} sent, {result['completed']} answered, {result['lost']} lost, "
                             f"{result['qps']:.0f} q/s; rcodes {', '.join(f'{k} {v}' for k, v in result['rcodes'].items())}")
    if result["lost"]:
        checks.fail("dnsperf", f"{result['lost']} queries lost")
    if other:
        checks.fail("dnsperf", f"answers other than NOERROR: {other}")


def need(*tools):
    missing = [t for t in tools if not shutil.which(t)]
    return f"missing {' '.join(missing)}; install with: apt-get install -y dnsperf bind9-dnsutils" if missing else None


# --- Section 3: reloads under load.

def section_reload(work):
    missing = need("dnsperf", "dig")
    if missing:
        return verdict("reload", False, missing)
    seconds = env_int("CHAOS_RELOAD_SECONDS", 20)
    rate = env_int("CHAOS_RELOAD_RATE", 20000)
    zones = os.path.join(work, "zones-reload")
    write_zone(zones, serial=1)
    queries = os.path.join(work, "queries.txt")
    write_queries(queries)
    veer = Veer(work, "reload", zones, os.path.join(work, "state-reload"), cpu=os.environ.get("SERVER_CPU", "0"))
    veer.start()
    stop = threading.Event()
    reloads = {"admin": 0, "sighup": 0, "failed": []}
    serial = [1]

    def reloader():
        while not stop.wait(1.0):
            serial[0] += 1
            write_zone(zones, serial=serial[0])
            if serial[0] % 2:
                veer.proc.send_signal(signal.SIGHUP)
                reloads["sighup"] += 1
            else:
                reply = veer.admin("reload")
                reloads["admin"] += 1
                if not reply.startswith("ok"):
                    reloads["failed"].append(reply)

    digs = {"checked": 0, "wrong": [], "unanswered": 0}
    expected = sorted(STATIC_A)

    def dig_loop():
        while not stop.is_set():
            result = subprocess.run(["dig", f"@127.0.0.1", "-p", str(veer.port), f"static.{ZONE}", "A", "+short",
                                     "+time=1", "+tries=1"], capture_output=True, text=True)
            got = sorted(result.stdout.split())
            digs["checked"] += 1
            if result.returncode != 0 or not got:
                digs["unanswered"] += 1
            elif got != expected:
                digs["wrong"].append(got)
            time.sleep(0.01)

    out = os.path.join(work, "dnsperf-reload.txt")
    perf = dnsperf(["-s", "127.0.0.1", "-p", str(veer.port), "-d", queries, "-l", str(seconds), "-Q", str(rate),
                    "-c", "4"], out)
    helpers = [threading.Thread(target=reloader, daemon=True), threading.Thread(target=dig_loop, daemon=True)]
    for t in helpers:
        t.start()
    perf.wait()
    stop.set()
    for t in helpers:
        t.join()
    checks = Checks("reload")
    dnsperf_check(checks, dnsperf_result(out))
    # Every reload logs `reload: N zone(s), generation G` once its zones are adopted; SIGHUP has
    # no reply, so wait for that line.
    adopted = r" info reload: \d+ zone\(s\), generation "
    done = reloads["admin"] + reloads["sighup"]
    deadline = time.monotonic() + 10
    while len(veer.log_lines(adopted)) < done and time.monotonic() < deadline:
        time.sleep(0.05)
    logged = len(veer.log_lines(adopted))
    soa = dns_query(veer.port, ZONE, 6)[1]
    # The SOA's RDATA ends with serial, refresh, retry, expire, minimum: 5 × 4 octets.
    served_serial = struct.unpack(">I", soa[0][1][-20:-16])[0] if soa else None
    checks.expect("reloads", f"{done} reloads ({reloads['admin']} admin, {reloads['sighup']} SIGHUP), {logged} logged, "
                             f"serial {served_serial} served at the end (last written {serial[0]})")
    for reply in reloads["failed"]:
        checks.fail("reloads", f"admin reload: {reply!r}")
    if logged != done:
        checks.fail("reloads", f"{done} reloads asked, {logged} logged")
    for line in veer.log_lines(r" error reload: "):
        checks.fail("reloads", line.strip())
    if served_serial != serial[0]:
        checks.fail("reloads", f"serial {served_serial} served, {serial[0]} written last")
    if done < seconds - 2:
        checks.fail("reloads", f"only {done} reloads in {seconds} s")
    checks.expect("dig", f"dig loop: {digs['checked']} answers for static.{ZONE} checked, {len(digs['wrong'])} wrong, "
                         f"{digs['unanswered']} unanswered")
    for got in digs["wrong"]:
        checks.fail("dig", f"got {got}, the zone has {expected}")
    if digs["unanswered"]:
        checks.fail("dig", f"{digs['unanswered']} dig queries unanswered")
    if veer.proc.poll() is not None:
        checks.fail("dnsperf", f"veer exited with {veer.proc.returncode}")
    veer.stop()
    return checks.report()


# --- Section 4: soak.

def section_soak(work):
    missing = need("dnsperf")
    if missing:
        return verdict("soak", False, missing)
    seconds = env_int("CHAOS_SOAK_SECONDS", 1800)
    rate = env_int("CHAOS_SOAK_RATE", 50000)
    every = float(os.environ.get("CHAOS_SHIFT_SECONDS", "2"))
    # RSS is first read after a minute, or after 1/30 of a shorter run.
    early_at = min(60.0, seconds / 30)
    zones = os.path.join(work, "zones-soak")
    write_zone(zones)
    queries = os.path.join(work, "queries.txt")
    write_queries(queries)
    veer = Veer(work, "soak", zones, os.path.join(work, "state-soak"), cpu=os.environ.get("SERVER_CPU", "0"))
    veer.start()
    stop = threading.Event()
    admin_log = {"ok": 0, "errors": [], "last": None}
    name = f"pool.{ZONE}"

    def shifter():
        rng = random.Random(7)
        changed = False
        while not stop.wait(every):
            roll = rng.random()
            if changed and roll < 0.2:
                line = f"undo {name}"
            elif roll < 0.3:
                line = f"drain {name} new"
            else:
                line = f"shift {name} new {rng.randint(1, 99)}%"
            try:
                reply = veer.admin(line)
            except (NotSent, OSError) as error:
                reply = f"(not sent: {error})"
            if reply.startswith("ok"):
                admin_log["ok"] += 1
                changed = not line.startswith("undo")
                m = re.search(r"old=(\d+) new=(\d+)", reply)
                if m:
                    admin_log["last"] = {"old": int(m.group(1)), "new": int(m.group(2))}
            else:
                admin_log["errors"].append(f"{line}: {reply}")

    samples = []

    def sampler():
        start = time.monotonic()
        while not stop.wait(1.0):
            try:
                samples.append((time.monotonic() - start, veer.rss_kib()))
            except OSError:
                return

    out = os.path.join(work, "dnsperf-soak.txt")
    note(f"soak: {seconds} s at {rate} q/s, a weight change every {every:g} s")
    rss_start = veer.rss_kib()
    perf = dnsperf(["-s", "127.0.0.1", "-p", str(veer.port), "-d", queries, "-l", str(seconds), "-Q", str(rate),
                    "-c", "4"], out)
    started = time.monotonic()
    helpers = [threading.Thread(target=shifter, daemon=True), threading.Thread(target=sampler, daemon=True)]
    for t in helpers:
        t.start()
    early = None
    while perf.poll() is None:
        if early is None and time.monotonic() - started >= early_at:
            early = veer.rss_kib()
            note(f"soak: RSS {early} KiB after {early_at:g} s")
        time.sleep(0.2)
    end = veer.rss_kib() if veer.proc.poll() is None else None
    stop.set()
    for t in helpers:
        t.join()
    checks = Checks("soak")
    dnsperf_check(checks, dnsperf_result(out))
    peak = max((kib for _, kib in samples), default=0)
    if early and end:
        ratio = end / early
        checks.expect("rss", f"RSS {early} KiB after {early_at:g} s, {end} KiB at the end ({seconds} s): ratio {ratio:.3f} "
                             f"(limit {1 - RSS_TOLERANCE:.2f}-{1 + RSS_TOLERANCE:.2f}; {rss_start} KiB at start, peak {peak} KiB)")
        if abs(ratio - 1) > RSS_TOLERANCE:
            checks.fail("rss", f"RSS went from {early} to {end} KiB")
    else:
        checks.expect("rss", "RSS read after the first minute and at the end")
        checks.fail("rss", f"no RSS figures (early {early}, end {end}; veer exit {veer.proc.poll()})")
    checks.expect("admin", f"admin: {admin_log['ok']} weight changes ok, {len(admin_log['errors'])} errors")
    for error in admin_log["errors"]:
        checks.fail("admin", error)
    if admin_log["last"] and veer.proc.poll() is None:
        served = served_weights(veer.port, name)
        if served != admin_log["last"]:
            checks.fail("admin", f"serves {served} after the last change answered {admin_log['last']}")
    veer.stop()
    return checks.report()


# --- Main.

def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    for path in list(mounts):
        unmount(path)


def interrupted(signum, frame):
    raise SystemExit(128 + signum)


def main():
    chosen = [s.strip() for s in os.environ.get("CHAOS_ONLY", ",".join(SECTIONS)).split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        print(f"chaos: unknown section {', '.join(unknown)}; CHAOS_ONLY takes {','.join(SECTIONS)}", file=sys.stderr)
        return 64
    if not os.access(VEER, os.X_OK):
        print(f"chaos: {VEER} not built; run make release (or set VEER=...)", file=sys.stderr)
        return 1
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, interrupted)
    work = tempfile.mkdtemp(prefix="veer-chaos-")
    # bench/chaos_cluster.py imports this module as `chaos`: the same one, not a second copy
    # with its own list of processes to stop.
    sys.modules.setdefault("chaos", sys.modules[__name__])
    import chaos_cluster
    run = {"kill": section_kill, "enospc": section_enospc, "reload": section_reload, "soak": section_soak,
           "cluster": chaos_cluster.section_cluster}
    try:
        for section in chosen:
            if not os.environ.get("CHAOS_IN_USERNS"):
                print(f"== {section}", flush=True)
            note(f"{section}: starting ({time.strftime('%H:%M:%S')})")
            try:
                run[section](work)
            except RuntimeError as error:
                verdict(section, False, str(error))
            finally:
                cleanup()
    finally:
        cleanup()
        keep = os.environ.get("CHAOS_KEEP") == "1" or failed_sections
        if keep:
            note(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if not os.environ.get("CHAOS_IN_USERNS"):
        print("== scorecard", flush=True)
        for section in chosen:
            print(f"{'FAIL' if section in failed_sections else 'PASS'} {section}", flush=True)
    return 1 if failed_sections else 0


if __name__ == "__main__":
    sys.exit(main())
