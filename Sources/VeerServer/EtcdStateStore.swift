import Foundation
import Posix
import Synchronization
import Traffic

/// The state shared by several Veer servers in etcd (README "Several servers, one
/// migration"). Under the prefix (`/veer/` by default):
///
/// - `state`: the state as `weights.json` holds it; every save is a compare-and-swap on its
///   mod revision, in one transaction with its audit lines, so two operators changing one
///   name at once get one `ok` and one `error: conflict …`.
/// - `audit/REVISION-SERVER-change-N`: one key per audit line, ordered by the revision it followed.
/// - `servers/ID`: each live server, the revision it serves and when, its host, pid and start
///   (on its lease, created only when absent: one live server per id; `ClusterView.swift`).
/// - `zones/ID`: the serial and digest of each zone the server serves (on its lease).
/// - `saves/ID`: a token written with each of the server's saves, to tell whether a save
///   etcd did not answer was applied.
/// - `leader`: the server that drives rollouts and rollbacks (on its lease). It leads only
///   while its last lease renewal is recent (`leadsFor`): cut off from etcd, it stops before
///   the lease can run out and another server can take the key.
/// - `health/ID`: each server's probe verdicts (on its lease), for quorum health.
/// - `drain/ID`: when each server last answered each endpoint at weight 0 (on its lease),
///   for the cluster-wide drain report.
///
/// A copy of the state stays in the local state directory, so a server restarted while etcd
/// is unreachable serves the last state it had.
final class EtcdStateStore: StateStore, SharedStore {
    /// Lease of a server's keys: a server that stops renewing is gone after this.
    static let leaseSeconds = 3
    /// How often the lease is renewed, the server key refreshed and the leadership tried.
    static let beatEvery = Duration.milliseconds(500)
    /// How long after sending its last renewal that etcd answered a server goes on leading:
    /// a second less than the lease, which etcd counts from when it received the renewal, so
    /// two servers never lead at once, even when etcd stops answering without closing anything
    /// (a partition: the watch notices only after `EtcdClient.watchIdle`).
    static let leadsFor = Duration.seconds(leaseSeconds) - .seconds(1)
    /// How often the leadership is checked against `leadsFor`.
    static let leaseCheckEvery = Duration.milliseconds(100)

    let client: EtcdClient
    let prefix: String
    let serverID: String
    let local: FileStateStore
    var location: String { "etcd \(client.urls) \(prefix)" }
    var stateKey: String { prefix + "state" }

    /// Mutable state shared by the beat and watch threads and the control queue.
    struct Shared {
        var reachable = true
        var since: Int64 = Clock.wallMilliseconds()
        var lastError: String?
        /// Since when every request failed, while that is shorter than `unreachableAfter`.
        var failingSince: Int64?
        /// The shared state does not read as a state (never adopted), since when and why.
        var unreadable: UnreadableState?
        var lease: Int64 = 0
        var serving: UInt64 = 0
        var health: [String: String] = [:]
        var publishedHealth: [String: String]?
        var drain: [String: String] = [:]
        var publishedDrain: [String: String]?
        var leader: String?
        /// When the last lease renewal (or grant) that etcd answered was sent.
        var renewedAt: ContinuousClock.Instant?
        /// The leader key names this server but the lease is not renewed within `leadsFor`.
        var lapsed = false
        /// What `SharedStoreCallbacks.leadership` last said.
        var leads: Bool?
        var others: [String: [String: String]] = [:]
        var callbacks: SharedStoreCallbacks?
        /// The cluster as the watch saw it: `servers/ID` and `zones/ID` of every live server.
        var registrations: [String: ServerRegistration] = [:]
        var zonesByServer: [String: [String: ZoneSummary]] = [:]
        /// This server's zones, and what of them its `zones/ID` key holds.
        var zones: [String: ZoneSummary]?
        var publishedZones: [String: ZoneSummary]?
        /// Another live server holds this server's id (it registered while this one was cut
        /// off): its description, logged once.
        var idHeldBy: String?
    }

    let shared = Mutex(Shared())
    /// Held while the leadership is decided and told, so the beat, the watch and the lease
    /// check tell it in the order they decided it.
    private let telling = Mutex(())
    /// `--cluster`: the servers that should exist; nil: every live server counts.
    let expected: [String]?
    /// This process, as its registration names it to a second server asking for its id.
    let identity = (host: Posix.Process.hostName, pid: Int64(Posix.Process.currentPID), started: Clock.wallMilliseconds())

    init(client: EtcdClient, prefix: String, serverID: String, local: FileStateStore, expected: [String]? = nil) {
        self.client = client
        self.prefix = prefix.hasSuffix("/") ? prefix : prefix + "/"
        self.serverID = serverID
        self.local = local
        self.expected = expected
    }

    // MARK: - StateStore

    func load() throws(StoreError) -> PersistedState? {
        let kv: EtcdClient.KeyValue?
        do {
            kv = try reaching { () throws(StoreError) in try client.get(stateKey) }
        } catch where error.kind == .io {
            guard let copy = try local.load() else {
                throw StoreError(.io, "\(error); and no local copy in \(local.directory) to serve until it is back")
            }
            Log.warning("state: \(error); serving the local copy (revision \(copy.revision)) until etcd is back")
            return copy
        }
        guard let kv else { return nil }
        do {
            let state = try StateDocument.decode(kv.value, from: "etcd \(stateKey)", revision: kv.modRevision)
            noteReadable()
            try? local.replace(with: state)
            return state
        } catch {
            // Never adopted: the local copy is the last good state this server had.
            guard let copy = try local.load() else {
                throw StoreError(.corrupt, "\(error); and no local copy in \(local.directory) to serve: "
                                 + "write a good state back from a server that serves one (`veer store restore REASON`)")
            }
            noteUnreadable(revision: kv.modRevision, error.text, serving: copy.revision)
            return copy
        }
    }

    /// How long a save whose outcome is unknown is worked out before the reply says so. A
    /// transaction that timed out, or whose connection broke once it was sent, may have been
    /// applied (etcd held by SIGSTOP applies it when it runs again): the same transaction is
    /// sent again until etcd answers. With the 2 s request timeout an operator hears back
    /// within about 7 s, inside the admin client's 10 s.
    static let settleWithin = Duration.seconds(5)
    /// Between two sends of a transaction whose outcome is unknown.
    static let settleEvery = Duration.milliseconds(200)

    /// `saves/ID`: the token of the last save this server sent, written by that save's
    /// transaction, so a transaction sent again can tell whether an earlier send was applied.
    var saveKey: String { prefix + "saves/" + serverID }

    /// The state and its audit lines in one transaction, if the state is still at
    /// `request.revision`. When etcd may have applied it without saying so, the outcome is
    /// worked out (`settle`) before it is reported: saved, a conflict, or `.unknown`.
    func commit(_ request: PersistRequest) -> PersistOutcome {
        let state = PersistedState(store: request.store, rollouts: request.rollouts, revision: 0, seed: request.seed)
        let who = request.audit.first.map { "\($0.requester.map(\.spoken) ?? "veer") on \(serverID): \"\($0.reason)\"" } ?? "veer on \(serverID)"
        let document: [UInt8]
        do { document = try StateDocument.encode(state, pretty: false, lastChange: who) } catch {
            return .saveFailed("encoding the state: \(error)")
        }
        let token = Array((String(UInt64.random(in: .min ... .max), radix: 16) + String(UInt64.random(in: .min ... .max), radix: 16)
            + " after revision \(request.revision)").utf8)
        let puts = [(key: stateKey, value: document), (key: saveKey, value: token)]
            + request.audit.enumerated().map { (key: auditKey(at: request.revision, $0.offset), value: Array($0.element.line.utf8)) }
        do {
            let result = try client.transaction(puts, ifModRevisionOf: stateKey, is: request.revision, reading: [saveKey],
                                                timeout: EtcdClient.timeout)
            note(nil)
            return outcome(of: result, request, token: token)
        } catch {
            note(error.error.text)
            guard error.mayHaveArrived else {
                return .saveFailed("\(error.error) (changes are refused while the shared store is unreachable)")
            }
            Log.warning("state: saving after revision \(request.revision): \(error.error); it may have been applied, finding out (up to \(Self.settleWithin))")
            return settle(puts, request, token: token, after: error.error)
        }
    }

    /// Sends a transaction whose outcome is unknown again until etcd answers, for up to
    /// `settleWithin`. Sending it again is safe and settles it for good: it compares the
    /// state's revision, so of all its sends at most one is applied, and once etcd has
    /// answered none can be applied later.
    private func settle(_ puts: [(key: String, value: [UInt8])], _ request: PersistRequest, token: [UInt8],
                        after first: StoreError) -> PersistOutcome {
        let deadline = ContinuousClock.now + Self.settleWithin
        var last = first
        while case let remaining = deadline - ContinuousClock.now, remaining > .zero {
            do {
                let result = try client.transaction(puts, ifModRevisionOf: stateKey, is: request.revision, reading: [saveKey],
                                                    timeout: min(EtcdClient.timeout, remaining))
                note(nil)
                let outcome = outcome(of: result, request, token: token)
                if case .saved(let revision) = outcome {
                    Log.info("state: the save after revision \(request.revision) that etcd did not answer is saved at revision \(revision)")
                } else {
                    Log.info("state: the save after revision \(request.revision) that etcd did not answer was not applied; another save came first")
                }
                return outcome
            } catch {
                note(error.error.text)
                last = error.error
            }
            let left = deadline - ContinuousClock.now
            if left > .zero { Clock.sleep(min(Self.settleEvery, left)) }
        }
        return .unknown("etcd did not answer within \(Self.settleWithin) after the change was sent (\(last)); "
            + "it may have been saved, and may still be when etcd runs again")
    }

    /// What an answered transaction means for `request`: applied now, applied by an earlier
    /// send (its token is in `saves/ID`), or not applied because another save came first.
    private func outcome(of result: EtcdClient.TransactionResult, _ request: PersistRequest, token: [UInt8]) -> PersistOutcome {
        switch result {
        case .applied(let revision):
            try? local.replace(with: PersistedState(store: request.store, rollouts: request.rollouts, revision: revision, seed: request.seed))
            return .saved(revision: revision)
        case .compareFailed(let current):
            if let mine = current.last ?? nil, mine.value == token {
                // An earlier send was applied at the token's revision; a newer state, if any,
                // comes by the watch.
                try? local.replace(with: PersistedState(store: request.store, rollouts: request.rollouts,
                                                        revision: mine.modRevision, seed: request.seed))
                return .saved(revision: mine.modRevision)
            }
            let state = current.first ?? nil
            let last = state.flatMap { try? StateDocument.read($0.value, from: "etcd") }?.lastChange ?? "unknown"
            return .conflict("conflict: the shared state changed first (revision \(state?.modRevision ?? 0), by \(last)); nothing changed here, try again")
        }
    }

    func history(name: NameKey?, limit: Int) throws(StoreError) -> [String] {
        let keys = try reaching { () throws(StoreError) in
            try client.list(prefix: prefix + "audit/", limit: name == nil ? limit : 0, descending: true)
        }
        var lines = keys.map { String(decoding: $0.value, as: UTF8.self) }
        if let name { lines = lines.filter { $0.contains(" \(name) ") } }
        return Array(lines.prefix(limit).reversed())
    }

    var reachability: StoreReachability {
        shared.withLock {
            StoreReachability(location: location, reachable: $0.reachable, since: $0.since, error: $0.lastError, unreadable: $0.unreadable)
        }
    }

    /// The state key at `revision` does not read as a state: noted once per revision for
    /// status and metrics, with one log line.
    private func noteUnreadable(revision: UInt64, _ reason: String, serving: UInt64?) {
        let fresh = shared.withLock { shared -> Bool in
            guard shared.unreadable?.revision != revision else { return false }
            shared.unreadable = UnreadableState(revision: revision, since: shared.unreadable?.since ?? Clock.wallMilliseconds(), reason: reason)
            return true
        }
        guard fresh else { return }
        Log.error("state: etcd \(stateKey) at revision \(revision) is unreadable: \(reason); not adopted, serving the last good state"
                  + (serving.map { " (revision \($0))" } ?? "") + ", refusing changes until `veer store restore REASON` writes it back")
    }

    /// The state key reads as a state again.
    private func noteReadable() {
        let was = shared.withLock { shared in
            defer { shared.unreadable = nil }
            return shared.unreadable
        }
        if let was { Log.info("state: etcd \(stateKey) reads as a state again (unreadable since \(Timestamp.text(was.since / 1000)))") }
    }

    /// Writes `state` over the unreadable value at `revision` with its audit lines, in one
    /// compare-and-swap transaction; adopted here at once (the watch brings it too).
    func restore(_ state: PersistedState, over revision: UInt64, audit: [AuditEntry]) throws(StoreError) -> UInt64 {
        let who = audit.first.map { "\($0.requester.map(\.spoken) ?? "veer") on \(serverID): \"\($0.reason)\"" } ?? "veer on \(serverID)"
        let document: [UInt8]
        do { document = try StateDocument.encode(state, pretty: false, lastChange: who) } catch {
            throw StoreError(.io, "encoding the state: \(error)")
        }
        let puts = [(key: stateKey, value: document)]
            + audit.enumerated().map { (key: auditKey(at: revision, $0.offset, kind: "restore"), value: Array($0.element.line.utf8)) }
        let result = try reaching { () throws(StoreError) in try client.put(puts, ifModRevisionOf: stateKey, is: revision) }
        guard let written = result.revision else {
            throw StoreError(.conflict(stored: result.current?.modRevision ?? 0),
                             "the shared state changed since it was found unreadable (now revision \(result.current?.modRevision ?? 0)); "
                             + "nothing written, see `status`")
        }
        let saved = PersistedState(store: state.store, rollouts: state.rollouts, revision: written, seed: state.seed)
        try? local.replace(with: saved)
        noteReadable()
        shared.withLock { $0.callbacks }?.state(saved)
        return written
    }

    /// `audit/00000000000000000042-SERVER-change-003`: after the revision it followed, in
    /// order; `kind` keeps a change's lines and later notes at one revision apart.
    private func auditKey(at revision: UInt64, _ index: Int, kind: String = "change") -> String {
        let digits = String(revision)
        let number = String(index)
        return prefix + "audit/" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + "-" + serverID + "-" + kind + "-"
            + String(repeating: "0", count: max(0, 3 - number.count)) + number
    }

    /// Runs `body`, noting whether etcd answered (for status and metrics).
    private func reaching<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        do {
            let value = try body()
            note(nil)
            return value
        } catch {
            if error.kind == .io { note(error.text) }
            throw error
        }
    }

    /// How long etcd may fail every request before it is called unreachable: an election
    /// after a member is lost (etcd's default election timeout is 1 s) answers "leader
    /// changed" or times out meanwhile, and that is not an outage.
    static let unreachableAfter: Int64 = 3_000

    /// Notes a request's outcome: unreachable once requests have failed for
    /// `unreachableAfter`, reachable at the first that works; a shorter failure is an info line.
    private func note(_ error: String?) {
        enum Change { case none, failing, unreachable, recovered, reachable }
        let now = Clock.wallMilliseconds()
        let change = shared.withLock { shared -> Change in
            defer { shared.lastError = error }
            guard error != nil else {
                defer { shared.failingSince = nil }
                guard !shared.reachable else { return shared.failingSince == nil ? .none : .recovered }
                shared.reachable = true
                shared.since = now
                return .reachable
            }
            guard shared.reachable else { return .none }
            guard let first = shared.failingSince else {
                shared.failingSince = now
                return .failing
            }
            guard now - first >= Self.unreachableAfter else { return .none }
            shared.reachable = false
            shared.since = first
            return .unreachable
        }
        switch change {
        case .none: break
        case .failing: Log.info("state: etcd did not serve a request (\(error ?? "")); trying again")
        case .recovered: Log.info("state: etcd serves requests again")
        case .unreachable: Log.error("state: etcd unreachable: \(error ?? ""); serving the last state, refusing changes")
        case .reachable: Log.info("state: etcd reachable again")
        }
    }

    // MARK: - SharedStore: servers, leader, health

    /// What this server serves now, for `servers/ID` (and `--wait`).
    func serving(revision: UInt64) {
        shared.withLock { $0.serving = max($0.serving, revision) }
    }

    /// This server's probe verdicts (endpoint key → up/down/unknown), published with its lease.
    func publishHealth(_ verdicts: [String: String]) {
        shared.withLock { $0.health = verdicts }
    }

    /// When this server last answered each drained endpoint: `drain/ID` holds
    /// `{"api.example.com. old": "LAST_MS,MAX_TTL,CACHED_UNTIL_MS"}`, written by the beat
    /// when it changes.
    func publishDrain(_ seen: [(name: String, id: String, seen: DrainWatch.Seen)]) {
        let entries = Dictionary(seen.map { ("\($0.name) \($0.id)", "\($0.seen.lastAnsweredAt),\($0.seen.maxTTL),\($0.seen.cachedUntil)") },
                                 uniquingKeysWith: { $1 })
        shared.withLock { $0.drain = entries }
    }

    /// How far ahead of this server's clock another server's last answer may be: clocks that
    /// disagree by more are wrong, and a far-future value would hold every server's report.
    static let drainClockSlackMs: Int64 = 60_000

    /// Another server's `drain/ID` value, read as hostile: entries that do not parse, or
    /// whose numbers are out of range (a last answer after `now` plus the slack, a cache
    /// horizon past the last answer plus its TTL), are left out.
    static func drainEntries(_ value: [UInt8], now: Int64 = Clock.wallMilliseconds()) -> [EndpointKey: DrainWatch.Seen] {
        guard value.count <= 1 << 20, let object = try? JSONSerialization.jsonObject(with: Data(value)) as? [String: String] else { return [:] }
        var entries: [EndpointKey: DrainWatch.Seen] = [:]
        for (key, text) in object {
            let words = key.split(separator: " ")
            let numbers = text.split(separator: ",", omittingEmptySubsequences: false)
            guard words.count == 2, numbers.count == 3, let last = Int64(numbers[0]), let ttl = UInt32(numbers[1]),
                  let until = Int64(numbers[2]), last >= 0, last <= now + Self.drainClockSlackMs, ttl <= Int32.max,
                  until >= last, until <= last + Int64(ttl) * 1000 else { continue }
            entries[EndpointKey(name: NameKey(String(words[0])), id: String(words[1]))] =
                DrainWatch.Seen(lastAnsweredAt: last, maxTTL: ttl, cachedUntil: until)
        }
        return entries
    }

    /// Live servers: id, the revision each serves, when it last said so (Unix ms).
    func servers() throws(StoreError) -> [SharedServer] {
        try reaching { () throws(StoreError) in try client.list(prefix: prefix + "servers/") }.compactMap { kv in
            guard let object = try? JSONSerialization.jsonObject(with: Data(kv.value)) as? [String: Any],
                  let id = object["id"] as? String else { return nil }
            return SharedServer(id: id, revision: UInt64(EtcdClient.int(object["revision"]) ?? 0), at: EtcdClient.int(object["at"]) ?? 0)
        }
    }

    /// The server that leads, as far as this one knows; none while this one holds the key
    /// but cannot renew its lease (it does not lead then, and does not know who will).
    var leader: String? { shared.withLock { $0.lapsed ? nil : $0.leader } }

    /// Starts the beat (lease, server key, leadership, health) and the watch threads.
    func start(_ callbacks: SharedStoreCallbacks) {
        shared.withLock { $0.callbacks = callbacks }
        Thread.detachNewThread { [self] in beatLoop() }
        Thread.detachNewThread { [self] in watchLoop() }
        Thread.detachNewThread { [self] in
            while true {
                Clock.sleep(Self.leaseCheckEvery)
                leaderChanged(nil, known: false)
            }
        }
    }

    private func beatLoop() {
        while true {
            beat()
            Clock.sleep(Self.beatEvery)
        }
    }

    /// One beat: renew (or get) the lease, say what this server serves, publish its
    /// verdicts when they changed, and take the leadership when nobody holds it.
    private func beat() {
        do {
            var (lease, serving, health, published) = shared.withLock { ($0.lease, $0.serving, $0.health, $0.publishedHealth) }
            var (drain, publishedDrain) = shared.withLock { ($0.drain, $0.publishedDrain) }
            let sent = ContinuousClock.now
            let alive = try lease != 0 && reaching { () throws(StoreError) in try client.keepAlive(lease) }
            if !alive {
                lease = try reaching { () throws(StoreError) in try client.grant(ttl: Self.leaseSeconds) }
                published = nil
                publishedDrain = nil
                // A leader key on the old lease went with it, and so did every key this server
                // wrote on it: forget them all here, so a beat that stops before writing them
                // again (an error, the id held elsewhere) leaves the next beat to write them.
                shared.withLock {
                    $0.lease = lease
                    $0.publishedHealth = nil
                    $0.publishedDrain = nil
                    $0.publishedZones = nil
                    if $0.leader == serverID { $0.leader = nil }
                }
            }
            shared.withLock { $0.renewedAt = sent }
            leaderChanged(nil, known: false)
            // Another live server holds this id: nothing is published under it.
            guard try reaching({ () throws(StoreError) in try refreshRegistration(lease: lease, serving: serving) }) else { return }
            try reaching { () throws(StoreError) in try publishZones(lease: lease) }
            if published != health {
                try reaching { () throws(StoreError) in
                    try client.put(prefix + "health/" + serverID, value: Self.json(health), lease: lease)
                }
                shared.withLock { $0.publishedHealth = health }
            }
            if publishedDrain != drain {
                try reaching { () throws(StoreError) in
                    try client.put(prefix + "drain/" + serverID, value: Self.json(drain), lease: lease)
                }
                shared.withLock { $0.publishedDrain = drain }
            }

            if shared.withLock({ $0.leader }) == nil { tryToLead() }
        } catch {
            // Noted by `reaching`; the next beat tries again.
        }
    }

    /// Takes the `leader` key if nobody holds it: at every beat, and at once when the watch
    /// sees the leader's key go (its lease expired), so a fail-over takes the lease's time only.
    private func tryToLead() {
        // A server whose id another live server took leads nothing under it.
        let (lease, held) = shared.withLock { ($0.lease, $0.idHeldBy != nil) }
        guard lease != 0, !held else { return }
        _ = try? reaching { () throws(StoreError) in try client.create(prefix + "leader", value: Array(serverID.utf8), lease: lease) }
    }

    /// A watch broken on one member (killed, restarted) is that member's trouble, not etcd's:
    /// the resync that follows reads through any member that answers, and only when none
    /// does is etcd unreachable (noted by `reaching`).
    private func watchLoop() {
        while true {
            let revision: UInt64
            do {
                revision = try resync()
            } catch {
                // A leader that cannot reach etcd stops leading: its lease runs out anyway.
                leaderChanged(nil)
                Clock.sleep(Self.beatEvery)
                continue
            }
            do {
                try watch(from: revision)
            } catch {
                Log.info("state: \(error.text); reading and watching again through the next member")
            }
        }
    }

    /// Reads everything under the prefix; the revision it was read at.
    private func resync() throws(StoreError) -> UInt64 {
        let (all, revision) = try reaching { () throws(StoreError) in try client.snapshot(prefix: prefix) }
        var others: [String: [String: String]] = [:]
        var leader: String?
        for kv in all { apply(kv, others: &others, leader: &leader) }
        // Servers whose keys are gone are dropped only now, never emptied first: a `status`
        // read during a resync must not see every expected server missing.
        let present = Set(all.map(\.key))
        shared.withLock { shared in
            shared.registrations = shared.registrations.filter { present.contains(prefix + "servers/" + $0.key) }
            shared.zonesByServer = shared.zonesByServer.filter { present.contains(prefix + "zones/" + $0.key) }
            shared.others = others
        }
        leaderChanged(leader)
        deliverHealth()
        return revision
    }

    /// Follows every change after `revision`, the one the keys were read at: none is missed.
    private func watch(from revision: UInt64) throws(StoreError) {
        try client.watch(prefix: prefix, from: revision + 1) { events, _ in
            var (others, leader) = shared.withLock { ($0.others, $0.leader) }
            var healthMoved = false
            for kv in events {
                if kv.key.hasPrefix(prefix + "health/") { healthMoved = true }
                apply(kv, others: &others, leader: &leader)
            }
            shared.withLock { $0.others = others }
            note(nil)
            leaderChanged(leader)
            if leader == nil { tryToLead() }
            if healthMoved { deliverHealth() }
            return true
        }
    }

    private func apply(_ kv: EtcdClient.KeyValue, others: inout [String: [String: String]], leader: inout String?) {
        let name = String(kv.key.dropFirst(prefix.count))
        if name == "state", !kv.value.isEmpty {
            let state: PersistedState
            do { state = try StateDocument.decode(kv.value, from: "etcd \(stateKey)", revision: kv.modRevision) } catch {
                noteUnreadable(revision: kv.modRevision, error.text, serving: nil)
                return
            }
            noteReadable()
            try? local.replace(with: state)
            shared.withLock { $0.callbacks }?.state(state)
        } else if name == "leader" {
            leader = kv.value.isEmpty ? nil : String(decoding: kv.value, as: UTF8.self)
        } else if name.hasPrefix("drain/"), String(name.dropFirst("drain/".count)) != serverID, !kv.value.isEmpty {
            let entries = Self.drainEntries(kv.value)
            if !entries.isEmpty { shared.withLock { $0.callbacks }?.drain(entries) }
        } else if name.hasPrefix("servers/") || name.hasPrefix("zones/") {
            noteRegistration(name, kv)
        } else if name.hasPrefix("health/") {
            let id = String(name.dropFirst("health/".count))
            others[id] = kv.value.isEmpty ? nil : (try? JSONSerialization.jsonObject(with: Data(kv.value)) as? [String: String]) ?? [:]
        }
    }

    /// The leader key now names `leader` (`known`: else it is unchanged, and the lease's
    /// renewal decides): tells the plane when this server starts or stops leading. The key
    /// names an id: not this server when another live one holds its id.
    private func leaderChanged(_ leader: String?, known: Bool = true) {
        telling.withLock { _ in
            let (leads, changed, lapsedNow, callbacks) = shared.withLock { shared in
                if known { shared.leader = leader }
                let renewed = shared.renewedAt.map { ContinuousClock.now - $0 < Self.leadsFor } ?? false
                let holds = shared.leader == serverID && shared.idHeldBy == nil
                let leads = holds && renewed
                defer { shared.leads = leads; shared.lapsed = holds && !renewed }
                return (leads, shared.leads != leads, holds && !renewed && !shared.lapsed, shared.callbacks)
            }
            if lapsedNow {
                Log.warning("leader: the lease was not renewed for \(Self.leadsFor) (etcd does not answer); this server stops leading before the lease can run out and another server takes over")
            }
            if changed { callbacks?.leadership(leads) }
        }
    }

    private static func json(_ object: [String: String]) -> [UInt8] {
        (try? JSON.encode(object)) ?? Array("{}".utf8)
    }

    private func deliverHealth() {
        let (others, callbacks) = shared.withLock { ($0.others, $0.callbacks) }
        callbacks?.health(others)
    }
}
