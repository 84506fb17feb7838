import Foundation
import Posix
import Traffic

/// One identity per server and the view of the cluster (README "The expected cluster").
///
/// `servers/ID` is created only when absent (create revision 0), on the server's lease. A
/// second server started with a live server's `--server-id` refuses to start, naming the
/// holder's host, pid and start time, as soon as it sees the holder rewrite its key (a live
/// server does at every beat). A holder that does not is taken for this server's own
/// previous run, killed without a chance to let go: its lease runs out and the id is free.
/// Every beat rewrites the key only while it is still on this server's lease. `zones/ID`
/// carries each served zone's serial and digest.
extension EtcdStateStore {
    /// The longest a server whose id is held waits for the holder's lease to run out: two
    /// leases and a second, so a holder whose key did not change is gone by then.
    static var registerWithin: Duration { .seconds(2 * leaseSeconds + 1) }

    /// How long `--wait` waits for every member to serve a change or the same zones.
    static let waitLimit = Duration.seconds(5)

    var serverKey: String { prefix + "servers/" + serverID }

    /// Takes this server's id at start: creates `servers/ID` on its lease. Throws `.io` when
    /// etcd cannot be asked (the beat registers once it can), and `.conflict` naming the
    /// holder when a live server holds the id (`IdentityClaim`).
    func register() throws(StoreError) {
        var lease = try client.grant(ttl: Self.leaseSeconds)
        let start = ContinuousClock.now
        var firstSeen: UInt64?
        while true {
            if try client.create(serverKey, value: registration(serving: 0), lease: lease) {
                shared.withLock { $0.lease = lease }
                if firstSeen != nil { Log.info("state: --server-id \(serverID) is free again; registered") }
                return
            }
            if let holder = try client.get(serverKey) {
                let who = describe(holder)
                let verdict = IdentityClaim.verdict(firstSeen: firstSeen ?? holder.modRevision, now: holder.modRevision,
                                                    waited: ContinuousClock.now - start, limit: Self.registerWithin)
                if verdict == .refuse {
                    throw StoreError(.conflict(stored: holder.modRevision),
                                     "--server-id \(serverID) is held by a live server: \(who). "
                                     + "Stop that server, or give this one another --server-id")
                }
                if firstSeen == nil {
                    Log.warning("state: --server-id \(serverID) is registered by \(who); waiting up to \(Self.registerWithin) "
                                + "for its lease to run out (a restart of this server after a crash)")
                    firstSeen = holder.modRevision
                }
            }
            Clock.sleep(.milliseconds(200))
            // Waiting may outlast the lease: a new one when it ran out.
            if try !client.keepAlive(lease) { lease = try client.grant(ttl: Self.leaseSeconds) }
        }
    }

    /// The beat's refresh of `servers/ID`: rewritten while it is on `lease`, created when
    /// absent (the lease ran out and was granted again). False when another live server
    /// registered this id meanwhile: then nothing is published under it (logged once).
    func refreshRegistration(lease: Int64, serving: UInt64) throws(StoreError) -> Bool {
        let value = registration(serving: serving)
        var holder = try client.put(serverKey, value: value, ifLeaseIs: lease)
        if holder == nil { return notHeld() }
        if holder?.key.isEmpty == true {
            if try client.create(serverKey, value: value, lease: lease) { return notHeld() }
            holder = try client.get(serverKey)
        }
        guard let holder, !holder.key.isEmpty else { return false }
        if let found = Self.registration(serverID, holder.value), found.host == identity.host,
           found.pid == Int64(identity.pid), found.started == Int64(identity.started) {
            // This process's own key, on a lease it lost track of (a create whose reply was
            // lost): taken over onto the current lease, not taken for another server.
            try client.put(serverKey, value: value, lease: lease)
            return notHeld()
        }
        let who = describe(holder)
        let fresh = shared.withLock { shared -> Bool in
            defer { shared.idHeldBy = who }
            return shared.idHeldBy == nil
        }
        if fresh {
            Log.error("state: another live server registered --server-id \(serverID) (\(who)) while this one could not renew "
                      + "its lease; this server answers queries but publishes nothing under that id until it is gone")
        }
        return false
    }

    private func notHeld() -> Bool {
        let was = shared.withLock { shared in
            defer { shared.idHeldBy = nil }
            return shared.idHeldBy
        }
        if was != nil { Log.info("state: --server-id \(serverID) registered again") }
        return true
    }

    /// Writes `zones/ID` when this server's zones changed since they were last written (none
    /// were when a new lease took the old key with it: `beat` forgets them then).
    func publishZones(lease: Int64) throws(StoreError) {
        let (zones, published) = shared.withLock { ($0.zones, $0.publishedZones) }
        guard let zones, zones != published else { return }
        let value = zones.mapValues { "\($0.serial) \($0.digest) \($0.keyTags.map(String.init).joined(separator: ","))" }
        try client.put(prefix + "zones/" + serverID, value: (try? JSON.encode(value)) ?? Array("{}".utf8), lease: lease)
        shared.withLock { $0.publishedZones = zones }
    }

    /// This server's `servers/ID` value: what it serves, and who it is.
    private func registration(serving: UInt64) -> [UInt8] {
        let me = ["id": serverID, "revision": String(serving), "at": String(Clock.wallMilliseconds()),
                  "host": identity.host, "pid": String(identity.pid), "started": String(identity.started)]
        return (try? JSON.encode(me)) ?? Array("{}".utf8)
    }

    /// `host ns1 pid 4242 started at 2026-12-07T07:00:00Z, last seen at …`, from a `servers/ID` value.
    private func describe(_ kv: EtcdClient.KeyValue) -> String {
        guard let server = Self.registration(String(kv.key.dropFirst((prefix + "servers/").count)), kv.value) else {
            return "a registration that does not read (lease \(kv.lease))"
        }
        return server.holder { Log.timestamp($0 / 1000) } + ", last seen at \(Log.timestamp(server.at / 1000))"
    }

    // MARK: - The view

    /// A `servers/ID` value, read as hostile: nil when it does not parse or names another id.
    static func registration(_ id: String, _ value: [UInt8]) -> ServerRegistration? {
        guard value.count <= 1 << 16, let object = try? JSONSerialization.jsonObject(with: Data(value)) as? [String: Any],
              object["id"] as? String == id else { return nil }
        func number(_ key: String) -> Int64 { EtcdClient.int(object[key]) ?? 0 }
        return ServerRegistration(id: id, host: (object["host"] as? String).map { String($0.prefix(255)) } ?? "", pid: number("pid"),
                                  started: number("started"), revision: UInt64(max(0, number("revision"))), at: number("at"))
    }

    /// A `zones/ID` value (`{"example.com.": "SERIAL SHA256HEX [TAG,TAG]"}`), read as hostile:
    /// entries that do not parse are left out.
    static func zones(_ value: [UInt8]) -> [String: ZoneSummary]? {
        guard value.count <= 1 << 20, let object = try? JSONSerialization.jsonObject(with: Data(value)) as? [String: String] else { return nil }
        var out: [String: ZoneSummary] = [:]
        for (zone, text) in object {
            let words = text.split(separator: " ", omittingEmptySubsequences: false)
            guard words.count >= 2, let serial = UInt32(words[0]), words[1].count == 64 else { continue }
            let tags = words.count > 2 ? words[2].split(separator: ",").compactMap { UInt16($0) } : []
            out[zone] = ZoneSummary(serial: serial, digest: String(words[1]), keyTags: tags)
        }
        return out
    }

    /// A `servers/` or `zones/` key the watch brought (an empty value: deleted, its lease ran out).
    func noteRegistration(_ name: String, _ kv: EtcdClient.KeyValue) {
        if name.hasPrefix("servers/") {
            let id = String(name.dropFirst("servers/".count))
            let server = kv.value.isEmpty ? nil : Self.registration(id, kv.value)
            shared.withLock { $0.registrations[id] = server }
        } else {
            let id = String(name.dropFirst("zones/".count))
            let zones = kv.value.isEmpty ? nil : Self.zones(kv.value)
            shared.withLock { $0.zonesByServer[id] = zones }
        }
    }

    /// The cluster as the watch last saw it.
    var cluster: ClusterMembership {
        shared.withLock { shared in
            var servers = shared.registrations
            for id in servers.keys { servers[id]?.zones = shared.zonesByServer[id] }
            return ClusterMembership(expected: expected, servers: servers)
        }
    }

    /// The cluster as etcd has it now (for `--wait`, which must not trust a watch that lags).
    func currentCluster() throws(StoreError) -> ClusterMembership {
        let registered = try client.list(prefix: prefix + "servers/")
        let zones = try client.list(prefix: prefix + "zones/")
        var servers: [String: ServerRegistration] = [:]
        for kv in registered {
            let id = String(kv.key.dropFirst((prefix + "servers/").count))
            servers[id] = Self.registration(id, kv.value)
        }
        for kv in zones {
            let id = String(kv.key.dropFirst((prefix + "zones/").count))
            servers[id]?.zones = Self.zones(kv.value)
        }
        return ClusterMembership(expected: expected, servers: servers)
    }

    /// What this server serves now, for `zones/ID` (and `reload --wait`).
    func servingZones(_ zones: [String: ZoneSummary]) {
        shared.withLock { $0.zones = zones }
    }

    // MARK: - --wait

    /// `reply` once every member (expected, or live) serves `revision` (with how many and how
    /// long), or an error naming those that do not, or are missing, after `waitLimit`.
    func waitUntilServed(_ revision: UInt64, after reply: String) -> String {
        waitFor(after: reply, { $0.notServing(revision) },
                done: { count, ms in "served by all \(count) \(expected == nil ? "live" : "expected") servers at revision \(revision) after \(ms) ms" },
                failed: { why in "error: the change is saved (revision \(revision)) but after \(Self.waitLimit) not every server serves it: \(why)" })
    }

    /// `reply` once every member serves the zones this server serves, or an error naming those
    /// that do not after `waitLimit` (`reload --wait`).
    func waitUntilZonesAgree(after reply: String) -> String {
        waitFor(after: reply, { cluster in
            guard let mine = shared.withLock({ $0.zones }) else { return ["\(serverID) (has not summarized its zones)"] }
            return cluster.unlike(mine)
        }, done: { count, ms in "the same zones on all \(count) \(expected == nil ? "live" : "expected") servers after \(ms) ms" },
           failed: { why in "error: reloaded here, but after \(Self.waitLimit) not every server serves the same zones: \(why)" })
    }

    /// Polls the cluster until `lagging` names nobody, for up to `waitLimit`.
    private func waitFor(after reply: String, _ lagging: (ClusterMembership) -> [String],
                         done: (Int, Int64) -> String, failed: (String) -> String) -> String {
        let start = ContinuousClock.now
        var behind: [String]?
        repeat {
            if let cluster = try? currentCluster() {
                let names = lagging(cluster)
                if names.isEmpty {
                    let elapsed = (ContinuousClock.now - start).components
                    return reply + "\n" + done(cluster.members.count, elapsed.seconds * 1000 + elapsed.attoseconds / 1_000_000_000_000_000)
                }
                behind = names
            }
            Clock.sleep(.milliseconds(20))
        } while ContinuousClock.now - start < Self.waitLimit
        return failed(behind?.joined(separator: ", ") ?? "the live servers could not be read") + "\n" + reply
    }
}

extension EtcdClient {
    /// Puts `value` at `key` on `lease` if the key is still on that lease, in one transaction.
    /// Nil when it did; else the key as it is now (a key with an empty name: absent).
    func put(_ key: String, value: [UInt8], ifLeaseIs lease: Int64) throws(StoreError) -> KeyValue? {
        let reply = try call("/v3/kv/txn", Transaction(
            compare: [["key": Self.base64(key), "target": "LEASE", "result": "EQUAL", "lease": String(lease)]],
            success: [["request_put": ["key": Self.base64(key), "value": Data(value).base64EncodedString(), "lease": String(lease)]]],
            failure: [["request_range": ["key": Self.base64(key)]]]))
        if reply["succeeded"] as? Bool == true { return nil }
        let range = ((reply["responses"] as? [[String: Any]])?.first?["response_range"] as? [String: Any]) ?? [:]
        return Self.keyValues(range).first ?? KeyValue(key: "", value: [], createRevision: 0, modRevision: 0, lease: 0)
    }
}

extension ServeConfig {
    /// `--cluster ID,ID,…`: ids as `--server-id` takes them, this server's among them, and a
    /// shared store to count them in.
    static func cluster(_ text: String, serverID: String, store: String?) throws(UsageError) -> [String] {
        guard store != nil else { throw UsageError("--cluster needs --store etcd=…: the expected servers are counted in the shared store") }
        let ids = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        for id in ids where id.isEmpty || id.utf8.count > 64 || !id.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) {
            throw UsageError("--cluster \(text): \"\(id)\" is not a server id (1 to 64 letters, digits, \"-\", \"_\" or \".\")")
        }
        guard ids.contains(serverID) else {
            throw UsageError("--cluster \(text) does not name this server (--server-id \(serverID))")
        }
        return ids
    }
}

extension Server {
    /// Takes this server's id in the shared store before it serves: a live holder stops the
    /// start (`EtcdStateStore.register`); an etcd that cannot be asked does not (the local
    /// copy is served and the beat registers once etcd answers).
    static func register(_ etcd: EtcdStateStore) throws(StoreError) {
        do {
            try etcd.register()
        } catch where error.kind == .io {
            Log.warning("state: could not register --server-id \(etcd.serverID) yet (\(error)); registering once etcd answers")
        }
    }
}
