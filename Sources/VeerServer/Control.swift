import Authority
import DNSWire
import Foundation
import Posix
import Synchronization
import Traffic
import ZoneFile

/// The control side: owns the weight store, applies admin commands, persists and audits
/// them, and publishes a new snapshot for every change. Commands are serialised by one
/// lock; the query path never takes it.
final class Control: Sendable {
    struct Settings: Sendable {
        var zonesDirectory: String
        var stateDirectory: String
        var allowedUIDs: Set<UInt32>
        var allowedGIDs: Set<UInt32>
        /// A weight raised this recently marks the endpoint a migration is moving to.
        var rollbackWindowSeconds: Int64 = RollbackRule.defaultWindowSeconds
    }

    private struct State {
        var store: WeightStore
        var zones: ZoneData
        /// Slots whose endpoint the health checks hold down: effective weight 0.
        var down: Set<Int> = []
        /// Names whose every weighted endpoint is down, logged once per outage.
        var allDown: Set<String> = []
    }

    let settings: Settings
    let box: SnapshotBox
    let slots: SlotRegistry
    let counters: CounterRegistry
    private let state: Mutex<State>
    private let stateFile: StateFile
    private let audit: AuditLog
    /// The health checks, once the server starts them.
    private let monitor = Mutex<HealthMonitor?>(nil)

    /// Loads saved weights (refusing a corrupt file), merges them with the zones' and
    /// publishes the first snapshot.
    init(settings: Settings, zones: [Zone]) throws(StartupError) {
        self.settings = settings
        slots = SlotRegistry()
        counters = CounterRegistry()
        do {
            try FileIO.makeDirectory(settings.stateDirectory)
        } catch {
            throw StartupError(lines: ["state directory: \(error)"])
        }
        stateFile = StateFile(path: settings.stateDirectory + "/weights.json")
        audit = AuditLog(path: settings.stateDirectory + "/audit.log")
        let slots = self.slots
        let data = ZoneData(zones: zones) { slots.slot(owner: $0, endpoint: $1) }
        let saved = try stateFile.load()
        let (store, notes) = (saved ?? WeightStore()).reconciled(with: Self.declared(data))
        for note in notes { Log.info("weights: \(note)") }
        if saved != nil && store != saved {
            do { try stateFile.save(store) } catch {
                throw StartupError(lines: ["state file \(stateFile.path): \(error)"])
            }
        }
        if saved != nil { Log.info("weights: restored from \(stateFile.path)") }
        box = SnapshotBox(Snapshot(zones: data, weights: Self.table(store, data), generation: 1))
        state = Mutex(State(store: store, zones: data))
        Self.logWeights(store)
    }

    static func declared(_ data: ZoneData) -> [WeightStore.Declared] {
        data.weighted.map { set in
            WeightStore.Declared(name: set.owner.lowercased().description,
                                 endpoints: set.endpoints.map { ($0.id, $0.zoneWeight) })
        }
    }

    /// The store's weights laid out by slot for the query path; an endpoint that is down
    /// has effective weight 0.
    static func table(_ store: WeightStore, _ data: ZoneData, down: Set<Int> = []) -> WeightTable {
        var configured = [UInt32](repeating: 0, count: data.slotCount)
        for set in data.weighted {
            let saved = store.name(set.owner.lowercased().description)
            for endpoint in set.endpoints {
                configured[endpoint.slot] = saved?.weight(of: endpoint.id) ?? endpoint.zoneWeight
            }
        }
        var effective = configured
        for slot in down where slot < effective.count { effective[slot] = 0 }
        return WeightTable(configured: configured, effective: effective)
    }

    private static func logWeights(_ store: WeightStore, by uid: UInt32? = nil, reason: String? = nil, only: String? = nil) {
        for name in store.names where only == nil || name.name == only {
            var line = "weights: \(name.name) " + name.endpoints.map { "\($0.id)=\($0.weight)" }.joined(separator: " ")
            if let uid { line += " by=uid:\(uid)" }
            if let reason { line += " reason=\"\(reason)\"" }
            Log.info(line)
        }
    }

    // MARK: - Admin protocol

    /// Answers one admin line: `ok …` or `error: …`.
    func handle(_ line: String, peer: PeerCredentials) -> String {
        guard isAllowed(peer) else {
            Log.warning("admin: refused uid=\(peer.uid) gid=\(peer.gid) pid=\(peer.pid)")
            return "error: uid \(peer.uid) is not allowed on the admin socket (see --admin-allow-uid and --admin-allow-gid)"
        }
        do throws(AdminError) {
            let command = try AdminCommand.parse(line)
            return try execute(command, line: line.trimmingCharacters(in: .whitespaces), uid: peer.uid)
        } catch {
            return "error: \(error)"
        }
    }

    private func isAllowed(_ peer: PeerCredentials) -> Bool {
        peer.uid == 0 || peer.uid == Posix.Process.currentUID || settings.allowedUIDs.contains(peer.uid)
            || settings.allowedGIDs.contains(peer.gid)
    }

    private func execute(_ command: AdminCommand, line: String, uid: UInt32) throws(AdminError) -> String {
        let now = Clock.wallSeconds()
        switch command {
        case .help:
            return "ok commands:\n" + AdminCommand.usage
        case .status(let name, let json):
            return try status(name: name, json: json)
        case .history(let name, let limit):
            do {
                let lines = try audit.tail(name: name, limit: limit)
                return (["ok \(lines.count) change\(lines.count == 1 ? "" : "s")"] + lines).joined(separator: "\n")
            } catch {
                throw AdminError.badValue("reading \(audit.path): \(error)")
            }
        case .health(let name):
            return try healthReport(name: name)
        case .reload:
            let errors = reload()
            guard errors.isEmpty else {
                throw AdminError.badValue("reload failed, still serving generation \(box.generation):\n" + errors.joined(separator: "\n"))
            }
            return "ok reloaded, generation \(box.generation)"
        case .weight(let name, let endpoint, let weight):
            return try change(line: line, uid: uid) { (store) throws(AdminError) in try store.setting(name, endpoint, to: weight, at: now) }
        case .shift(let name, let endpoint, let basisPoints):
            return try change(line: line, uid: uid) { (store) throws(AdminError) in
                try store.shifting(name, endpoint, toBasisPoints: basisPoints, at: now)
            }
        case .drain(let name, let endpoint):
            return try change(line: line, uid: uid) { (store) throws(AdminError) in try store.draining(name, endpoint, at: now) }
        case .undo(let name):
            return try change(line: line, uid: uid) { (store) throws(AdminError) in try store.undoing(name, at: now) }
        }
    }

    /// Runs a weight command: persist, audit, publish, in that order, all under the lock; on
    /// any failure the old weights stay in force and on disk.
    private func change(line: String, uid: UInt32,
                        _ body: (WeightStore) throws(AdminError) -> (WeightStore, [WeightStore.Change])) throws(AdminError) -> String {
        let now = Clock.wallSeconds()
        return try state.withLock { (state) throws(AdminError) -> String in
            let (next, changes) = try body(state.store)
            guard let first = changes.first else { return "ok no change" }
            do {
                try stateFile.save(next)
            } catch {
                Log.error("weights: saving \(stateFile.path): \(error); \"\(line)\" not applied")
                throw AdminError.badValue("saving weights failed, nothing changed: \(error)")
            }
            do {
                try audit.append(changes, uid: uid, reason: line, at: now)
            } catch {
                // Put the old weights back on disk: a change without its audit line is not made.
                try? stateFile.save(state.store)
                Log.error("weights: writing \(audit.path): \(error); \"\(line)\" not applied")
                throw AdminError.badValue("writing the audit log failed, nothing changed: \(error)")
            }
            state.store = next
            let zones = state.zones
            let published = box.update { current in
                Snapshot(zones: zones, weights: Self.table(next, zones, down: state.down), generation: current.generation + 1)
            }
            Self.logWeights(next, by: uid, reason: line, only: first.name)
            let summary = next.name(first.name)!.endpoints.map { "\($0.id)=\($0.weight)" }.joined(separator: " ")
            return "ok \(first.name) \(summary) (generation \(published.generation))"
        }
    }

    // MARK: - Health

    /// Starts probing the current zones' endpoints; transitions come back to `healthChanged`.
    func startHealthChecks(_ health: HealthMonitor) {
        monitor.withLock { $0 = health }
        let zones = state.withLock { $0.zones }
        health.configure(zones) { [weak self] slot, transition in self?.healthChanged(slot: slot, transition: transition) }
    }

    /// Applies a health transition of the endpoint in `slot`: effective weight 0 while it is
    /// down, its configured weight again when it is back. An endpoint that goes down while a
    /// migration moves to it is rolled back: configured weight 0, persisted and audited, and
    /// it stays 0 after it recovers until an operator raises it (`undo` restores it).
    func healthChanged(slot: Int, transition: HealthState.Transition) {
        let now = Clock.wallSeconds()
        state.withLock { state in
            guard let set = state.zones.weighted.first(where: { $0.endpoints.contains { $0.slot == slot } }),
                  let endpoint = set.endpoints.first(where: { $0.slot == slot }) else { return }
            let name = set.owner.lowercased().description
            if transition.to == .down { state.down.insert(slot) } else { state.down.remove(slot) }
            Log.info("health: \(name) \(endpoint.id) \(transition.from.rawValue) -> \(transition.to.rawValue): \(transition.reason)")

            if transition.to == .down, let saved = state.store.name(name)?.endpoints.first(where: { $0.id == endpoint.id }),
               RollbackRule.shouldRollBack(role: endpoint.role, weight: saved.weight, raisedAt: saved.raisedAt, now: now,
                                           window: settings.rollbackWindowSeconds) {
                let reason = "rollback \(name) \(endpoint.id) \(saved.weight) -> 0: \(transition.reason)"
                do {
                    let (next, changes) = try state.store.setting(name, endpoint.id, to: 0, at: now)
                    try stateFile.save(next)
                    try audit.append(changes, uid: nil, reason: reason, at: now)
                    state.store = next
                    Log.warning("weights: \(reason)")
                } catch {
                    // The endpoint is at effective weight 0 already, so no traffic goes there.
                    Log.error("weights: \(reason) not recorded: \(error)")
                }
            }

            let live = set.endpoints.filter { (state.store.name(name)?.weight(of: $0.id) ?? 0) > 0 }
            if !live.isEmpty && live.allSatisfy({ state.down.contains($0.slot) }) {
                if state.allDown.insert(name).inserted {
                    Log.warning("health: every endpoint of \(name) is down: \(set.refuseWhenAllDown ? "answering SERVFAIL (all-down=refuse)" : "failing open, answering by configured weights")")
                }
            } else if state.allDown.remove(name) != nil {
                Log.info("health: \(name) has a healthy endpoint again")
            }
            let store = state.store, zones = state.zones, down = state.down
            box.update { current in
                Snapshot(zones: zones, weights: Self.table(store, zones, down: down), generation: current.generation + 1)
            }
        }
    }

    // MARK: - Reload

    /// Re-reads the zones; on any error keeps serving the old data and returns the errors.
    func reload() -> [String] {
        let (zones, errors) = ZoneParser.loadDirectory(settings.zonesDirectory)
        if !errors.isEmpty || zones.isEmpty {
            let lines = errors.isEmpty ? ["\(settings.zonesDirectory): no *.zone files to serve"] : errors.map(\.description)
            for line in lines { Log.error("reload: \(line)") }
            Log.error("reload: kept the data of generation \(box.generation)")
            return lines
        }
        let slots = self.slots
        let data = ZoneData(zones: zones) { slots.slot(owner: $0, endpoint: $1) }
        return state.withLock { state in
            let (store, notes) = state.store.reconciled(with: Self.declared(data))
            for note in notes { Log.info("reload: \(note)") }
            if store != state.store {
                do { try stateFile.save(store) } catch {
                    Log.error("reload: saving \(stateFile.path): \(error); kept generation \(box.generation)")
                    return ["saving weights: \(error)"]
                }
            }
            state.store = store
            state.zones = data
            // Endpoints that left the zones are no longer held down.
            let slots = Set(data.weighted.flatMap { $0.endpoints.map(\.slot) })
            state.down.formIntersection(slots)
            monitor.withLock { $0 }?.configure(data)
            let down = state.down
            let published = box.update { current in
                Snapshot(zones: data, weights: Self.table(store, data, down: down), generation: current.generation + 1)
            }
            Log.info("reload: \(zones.count) zone(s), generation \(published.generation)")
            return []
        }
    }

    // MARK: - Status

    private struct StatusJSON: Codable {
        struct Endpoint: Codable {
            var id: String
            var configured: UInt32
            var effective: UInt32
            var share: Double
            var served: UInt64
            var observed: Double
            /// `up`, `down`, `unknown` (no result yet, counted as up) or `unchecked`.
            var health: String
            var check: String?
            var lastProbe: String?
            var lastLatencyMs: Int?
            /// When the endpoint last went down or came back (RFC 3339), if it has.
            var since: String?
        }
        struct Name: Codable {
            var name: String
            var endpoints: [Endpoint]
        }
        var generation: UInt64
        var names: [Name]
    }

    private func status(name: String?, json: Bool) throws(AdminError) -> String {
        let snapshot = box.current
        var sets = snapshot.zones.weighted
        if let name {
            let key = WeightStore.key(name)
            sets = sets.filter { $0.owner.lowercased().description == key }
            if sets.isEmpty {
                throw AdminError.unknownName(key, snapshot.zones.weighted.map { $0.owner.lowercased().description })
            }
        }
        let health = monitor.withLock { $0 }?.states() ?? [:]
        let report = StatusJSON(generation: snapshot.generation, names: sets.map { set in
            let configuredTotal = set.endpoints.reduce(0) { $0 + UInt64(snapshot.weights.configured($1.slot)) }
            let served = set.endpoints.map { counters.total($0.slot) }
            let servedTotal = served.reduce(0, +)
            return StatusJSON.Name(name: set.owner.lowercased().description, endpoints: set.endpoints.enumerated().map { index, endpoint in
                let configured = snapshot.weights.configured(endpoint.slot)
                return StatusJSON.Endpoint(
                    id: endpoint.id, configured: configured, effective: snapshot.weights.effective(endpoint.slot),
                    share: configuredTotal == 0 ? 0 : Double(configured) * 100 / Double(configuredTotal),
                    served: served[index],
                    observed: servedTotal == 0 ? 0 : Double(served[index]) * 100 / Double(servedTotal),
                    health: health[endpoint.slot]?.state.status.rawValue ?? "unchecked",
                    check: health[endpoint.slot]?.check,
                    lastProbe: health[endpoint.slot]?.state.lastResult?.description,
                    lastLatencyMs: health[endpoint.slot]?.state.lastResult?.latencyMs,
                    since: health[endpoint.slot]?.state.lastTransitionAt.map(Self.wallTime))
            })
        })
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let data = (try? encoder.encode(report)) ?? Data()
            return "ok\n" + String(decoding: data, as: UTF8.self)
        }
        var lines = ["ok \(report.names.count) weighted name\(report.names.count == 1 ? "" : "s"), generation \(report.generation)"]
        let header = ["NAME", "ENDPOINT", "CONFIGURED", "EFFECTIVE", "SHARE", "SERVED", "OBSERVED", "HEALTH", "LAST PROBE", "SINCE"]
        var rows: [[String]] = []
        for entry in report.names {
            for endpoint in entry.endpoints {
                rows.append([entry.name, endpoint.id, "\(endpoint.configured)", "\(endpoint.effective)",
                             percentText(endpoint.share), "\(endpoint.served)", percentText(endpoint.observed),
                             endpoint.health, endpoint.lastProbe ?? "-", endpoint.since ?? "-"])
            }
        }
        lines += textTable([header] + rows)
        return lines.joined(separator: "\n")
    }
}

extension Control {
    /// A monotonic millisecond time (the health clock) as wall-clock RFC 3339 text.
    static func wallTime(_ monotonicMs: Int64) -> String {
        let ageSeconds = (Int64(Clock.now() / 1_000_000) - monotonicMs) / 1000
        return Log.timestamp(Clock.wallSeconds() - ageSeconds)
    }

    /// `health NAME`: each endpoint's recent probe results, oldest first.
    func healthReport(name: String) throws(AdminError) -> String {
        let key = WeightStore.key(name)
        let zones = box.current.zones
        guard let set = zones.weighted.first(where: { $0.owner.lowercased().description == key }) else {
            throw AdminError.unknownName(key, zones.weighted.map { $0.owner.lowercased().description })
        }
        let health = monitor.withLock { $0 }?.states() ?? [:]
        var lines = ["ok \(key)"]
        for endpoint in set.endpoints {
            guard let entry = health[endpoint.slot] else {
                lines.append("\(endpoint.id): no health check")
                continue
            }
            let state = entry.state
            var line = "\(endpoint.id): \(state.status.rawValue) (check \(entry.check))"
            if let since = state.lastTransitionAt { line += " since \(Self.wallTime(since))" }
            lines.append(line)
            for item in state.history {
                lines.append("  \(Self.wallTime(item.at))  \(item.result)" + (item.anomaly.map { "  anomaly: \($0)" } ?? ""))
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// `25.0%`
func percentText(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)%"
}

/// Left-aligned text columns separated by two spaces.
func textTable(_ rows: [[String]]) -> [String] {
    guard let first = rows.first else { return [] }
    var widths = [Int](repeating: 0, count: first.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    return rows.map { row in
        row.enumerated().map { i, cell in
            i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
        }.joined(separator: "  ")
    }
}
