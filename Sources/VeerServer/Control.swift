import Authority
import DNSWire
import Foundation
import Posix
import Synchronization
import Traffic
import ZoneFile

/// The control side: owns the weight store and the rollouts, applies admin commands,
/// persists and audits them, and publishes a new snapshot for every change. Commands are
/// serialised by one lock; the query path never takes it.
final class Control: Sendable {
    struct Settings: Sendable {
        var zonesDirectory: String
        var stateDirectory: String
        var allowedUIDs: Set<UInt32>
        var allowedGIDs: Set<UInt32>
        /// A weight raised this recently marks the endpoint a migration is moving to.
        var rollbackWindowSeconds: Int64 = RollbackRule.defaultWindowSeconds
    }

    /// After a manual weight change of a name with `ttl-shift=` and no rollout behind it, its
    /// answers keep the short TTL this long (a rollout's bake otherwise); the default bake.
    static let defaultShiftWindowMs: Int64 = 600_000
    /// How often rollouts are advanced and counters sampled.
    static let tickMs = 200
    /// Counter samples are kept this often for the last-minute counts.
    static let sampleEveryMs: Int64 = 5_000

    struct State {
        var store: WeightStore
        var zones: ZoneData
        /// Slots whose endpoint the health checks hold down: effective weight 0.
        var down: Set<Int> = []
        /// Names whose every weighted endpoint is down, logged once per outage.
        var allDown: Set<String> = []
        /// The latest rollout of each name, active or finished, by name key.
        var rollouts: [String: Rollout] = [:]
        /// When each name's weights last changed (wall milliseconds), for `ttl-shift=`.
        var changedAt: [String: Int64] = [:]
        /// Names whose answers carry their `ttl-shift=` TTL in the published snapshot.
        var shortTTL: Set<String> = []
        /// Served totals by slot every `sampleEveryMs`, oldest first, about a minute of them.
        var samples: [(at: Int64, totals: [UInt64])] = []
        /// Audit lines of changes made in memory that could not be saved (a rollback on a
        /// full disk); the control clock saves the state and writes them once it can.
        var unsaved: [PendingAudit] = []
        /// When saving `unsaved` was last tried, and its error, logged once per new error.
        var lastSaveAttempt: Int64 = 0
        var lastSaveError: String?
    }

    /// Audit lines waiting for a save that failed.
    struct PendingAudit {
        let changes: [WeightStore.Change]
        let events: [AuditLog.Event]
        let reason: String
        let at: Int64
    }

    let settings: Settings
    let box: SnapshotBox
    let slots: SlotRegistry
    let counters: CounterRegistry
    let state: Mutex<State>
    let stateFile: StateFile
    let audit: AuditLog
    /// The health checks, once the server starts them.
    let monitor = Mutex<HealthMonitor?>(nil)
    private let queue = DispatchQueue(label: "veer.control")
    /// The control clock's timer, kept alive here; touched only by `start`.
    private let timer = Mutex<TimerHandle?>(nil)

    /// Loads saved weights and rollouts (refusing a corrupt file), merges them with the
    /// zones' and publishes the first snapshot.
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
        let (store, notes) = (saved?.store ?? WeightStore()).reconciled(with: Self.declared(data))
        for note in notes { Log.info("weights: \(note)") }
        let now = Clock.wallMilliseconds()
        var rollouts: [String: Rollout] = [:]
        var events: [AuditLog.Event] = []
        for var rollout in saved?.rollouts ?? [] {
            guard let name = store.name(rollout.name), name.weight(of: rollout.target) != nil else {
                Log.info("rollout: \(rollout.name) to \(rollout.target) is no longer in the zones; dropped")
                events.append(AuditLog.Event(name: rollout.name, text: "rollout to \(rollout.target) dropped: no longer in the zones"))
                continue
            }
            if rollout.phase == .baking {
                rollout.restarted(now: now)
                Log.info("rollout: \(rollout.name) to \(rollout.target): \(rollout.note ?? "")")
                events.append(AuditLog.Event(name: rollout.name, text: "rollout to \(rollout.target) step \(rollout.step + 1)/\(rollout.steps.count) bake restarted"))
            } else if rollout.phase == .paused {
                Log.info("rollout: \(rollout.name) to \(rollout.target) is paused at step \(rollout.step + 1)/\(rollout.steps.count)")
            }
            rollouts[rollout.name] = rollout
        }
        if saved != nil && (store != saved?.store || !events.isEmpty) {
            do {
                try stateFile.save(store, rollouts: Array(rollouts.values))
                if !events.isEmpty { try audit.append([], events: events, uid: nil, reason: "server start", at: now / 1000) }
            } catch {
                throw StartupError(lines: ["state file \(stateFile.path): \(error)"])
            }
        }
        if saved != nil { Log.info("weights: restored from \(stateFile.path)") }
        var initial = State(store: store, zones: data)
        initial.rollouts = rollouts
        initial.shortTTL = Self.shortTTLNames(initial, now: now)
        box = SnapshotBox(Self.snapshot(initial, generation: 1))
        state = Mutex(initial)
        Self.logWeights(store)
    }

    static func declared(_ data: ZoneData) -> [WeightStore.Declared] {
        data.weighted.map { set in
            WeightStore.Declared(name: set.owner.lowercased().description,
                                 endpoints: set.endpoints.map { ($0.id, $0.zoneWeight) })
        }
    }

    /// The store's weights laid out by slot for the query path; an endpoint that is down
    /// has effective weight 0; names in `shortTTL` are capped at their `ttl-shift=`.
    static func table(_ store: WeightStore, _ data: ZoneData, down: Set<Int> = [], shortTTL: Set<String> = []) -> WeightTable {
        var configured = [UInt32](repeating: 0, count: data.slotCount)
        var ttlCap = configured
        for set in data.weighted {
            let key = set.owner.lowercased().description
            let saved = store.name(key)
            let cap = shortTTL.contains(key) ? set.ttlShift ?? 0 : 0
            for endpoint in set.endpoints {
                configured[endpoint.slot] = saved?.weight(of: endpoint.id) ?? endpoint.zoneWeight
                ttlCap[endpoint.slot] = cap
            }
        }
        var effective = configured
        for slot in down where slot < effective.count { effective[slot] = 0 }
        return WeightTable(configured: configured, effective: effective, ttlCap: ttlCap)
    }

    /// What the query path answers from for `state`.
    static func snapshot(_ state: State, generation: UInt64) -> Snapshot {
        Snapshot(zones: state.zones,
                 weights: table(state.store, state.zones, down: state.down, shortTTL: state.shortTTL),
                 generation: generation, status: statusRecords(state, generation: generation))
    }

    /// Publishes `state` as the next generation.
    @discardableResult
    func publish(_ state: State) -> Snapshot {
        box.update { current in Self.snapshot(state, generation: current.generation + 1) }
    }

    /// Names whose answers should carry their short TTL now: a rollout is active, or the
    /// weights changed within one bake (the last rollout's, else `defaultShiftWindowMs`).
    static func shortTTLNames(_ state: State, now: Int64) -> Set<String> {
        var names: Set<String> = []
        for set in state.zones.weighted where set.ttlShift != nil {
            let key = set.owner.lowercased().description
            let rollout = state.rollouts[key]
            if rollout?.phase.isActive == true {
                names.insert(key)
            } else if let changed = state.changedAt[key], now - changed < rollout?.bakeMs ?? defaultShiftWindowMs {
                names.insert(key)
            }
        }
        return names
    }

    static func logWeights(_ store: WeightStore, by uid: UInt32? = nil, reason: String? = nil, only: String? = nil) {
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
        case .weight(let name, let endpoint, let weight, let force, let dryRun):
            return try change(name, line: line, uid: uid, force: force, dryRun: dryRun) { (store) throws(AdminError) in
                try store.setting(name, endpoint, to: weight, at: now)
            }
        case .shift(let name, let endpoint, let basisPoints, let force, let dryRun):
            return try change(name, line: line, uid: uid, force: force, dryRun: dryRun) { (store) throws(AdminError) in
                try store.shifting(name, endpoint, toBasisPoints: basisPoints, at: now)
            }
        case .drain(let name, let endpoint, let force, let dryRun):
            return try change(name, line: line, uid: uid, force: force, dryRun: dryRun) { (store) throws(AdminError) in
                try store.draining(name, endpoint, at: now)
            }
        case .undo(let name, let force):
            return try change(name, line: line, uid: uid, force: force, dryRun: false) { (store) throws(AdminError) in
                try store.undoing(name, at: now)
            }
        case .rolloutStart(let name, let target, let steps, let bakeMs, let dryRun):
            return try startRollout(name: name, target: target, steps: steps, bakeMs: bakeMs, dryRun: dryRun, line: line, uid: uid)
        case .rolloutStatus(let name, let json):
            return try rolloutStatus(name: name, json: json)
        case .rolloutPause(let name):
            return try controlRollout(name, line: line, uid: uid) { (rollout, now) throws(AdminError) in
                try rollout.pause(reason: "paused by uid \(uid)", now: now)
                return nil
            }
        case .rolloutResume(let name):
            return try controlRollout(name, line: line, uid: uid) { (rollout, now) throws(AdminError) in
                try rollout.resume(now: now)
            }
        case .rolloutAbort(let name):
            return try controlRollout(name, line: line, uid: uid) { (rollout, now) throws(AdminError) in
                try rollout.abort(reason: "aborted by uid \(uid)", now: now)
            }
        }
    }

    /// Runs a manual weight command. A name with an active rollout refuses it unless
    /// `force`, which pauses the rollout in the same step. A dry run shows the result only.
    private func change(_ nameText: String, line: String, uid: UInt32, force: Bool, dryRun: Bool,
                        _ body: (WeightStore) throws(AdminError) -> (WeightStore, [WeightStore.Change])) throws(AdminError) -> String {
        let now = Clock.wallMilliseconds()
        return try state.withLock { (state) throws(AdminError) -> String in
            let (next, changes) = try body(state.store)
            let key = WeightStore.key(nameText)
            if dryRun {
                return "ok dry run, nothing changed: " + Self.shares(next.name(key)!)
            }
            guard !changes.isEmpty else { return "ok no change" }
            var rollouts = state.rollouts
            var events: [AuditLog.Event] = []
            if var rollout = rollouts[key], try rollout.manualChange(force: force, line: line, now: now) {
                events.append(AuditLog.Event(name: key, text: "rollout to \(rollout.target) paused at step \(rollout.step + 1)/\(rollout.steps.count)"))
                rollouts[key] = rollout
            }
            let published = try commit(&state, store: next, rollouts: rollouts, changes: changes, events: events,
                                       uid: uid, reason: line, now: now)
            Self.logWeights(next, by: uid, reason: line, only: key)
            return "ok \(key) \(Self.weightsText(next.name(key)!)) (generation \(published.generation))"
        }
    }

    /// `old=75 new=25`
    static func weightsText(_ name: WeightStore.Name) -> String {
        name.endpoints.map { "\($0.id)=\($0.weight)" }.joined(separator: " ")
    }

    /// `api.example.com. old=75 (75.0%) new=25 (25.0%)`
    static func shares(_ name: WeightStore.Name) -> String {
        let total = name.total
        return name.name + " " + name.endpoints.map { endpoint in
            "\(endpoint.id)=\(endpoint.weight) (\(percentText(total == 0 ? 0 : Double(endpoint.weight) * 100 / Double(total))))"
        }.joined(separator: " ")
    }

    /// Saves, audits and publishes new weights and rollouts, in that order, with the caller
    /// holding the state lock. On any failure nothing changes, in memory or on disk.
    @discardableResult
    func commit(_ state: inout State, store next: WeightStore, rollouts: [String: Rollout], changes: [WeightStore.Change],
                events: [AuditLog.Event], uid: UInt32?, reason: String, now: Int64) throws(AdminError) -> Snapshot {
        do {
            try stateFile.save(next, rollouts: Array(rollouts.values))
        } catch {
            Log.error("weights: saving \(stateFile.path): \(error); \"\(reason)\" not applied")
            throw AdminError.badValue("saving weights failed, nothing changed: \(error)")
        }
        do {
            for pending in state.unsaved {
                try audit.append(pending.changes, events: pending.events, uid: nil, reason: pending.reason, at: pending.at / 1000)
            }
            state.unsaved = []
            try audit.append(changes, events: events, uid: uid, reason: reason, at: now / 1000)
        } catch {
            // Put the old state back on disk: a change without its audit line is not made.
            try? stateFile.save(state.store, rollouts: Array(state.rollouts.values))
            Log.error("weights: writing \(audit.path): \(error); \"\(reason)\" not applied")
            throw AdminError.badValue("writing the audit log failed, nothing changed: \(error)")
        }
        state.store = next
        state.rollouts = rollouts
        for change in changes { state.changedAt[change.name] = now }
        state.shortTTL = Self.shortTTLNames(state, now: now)
        return publish(state)
    }

    // MARK: - Health

    /// Starts probing the current zones' endpoints (every result comes back to
    /// `probeReported`) and the clock that advances rollouts.
    func start(health: HealthMonitor) {
        monitor.withLock { $0 = health }
        let zones = state.withLock { $0.zones }
        health.configure(zones) { [weak self] report in self?.probeReported(report) }
        let source = DispatchSource.makeTimerSource(queue: queue)
        source.schedule(deadline: .now(), repeating: .milliseconds(Self.tickMs), leeway: .milliseconds(20))
        source.setEventHandler { [weak self] in self?.tick(now: Clock.wallMilliseconds()) }
        timer.withLock { $0 = TimerHandle(source: source) }
        source.resume()
    }

    /// The weighted name and endpoint of `slot` in the current zones.
    private static func endpoint(_ zones: ZoneData, slot: Int) -> (set: WeightedSet, endpoint: WeightedSet.Endpoint)? {
        for set in zones.weighted {
            if let endpoint = set.endpoints.first(where: { $0.slot == slot }) { return (set, endpoint) }
        }
        return nil
    }

    /// One probe result: feeds the rollout whose target it is (an anomaly aborts it and
    /// rolls back), then applies the up/down change it caused, if any.
    func probeReported(_ report: ProbeReport) {
        let now = Clock.wallMilliseconds()
        state.withLock { state in
            guard let (set, endpoint) = Self.endpoint(state.zones, slot: report.slot) else { return }
            let name = set.owner.lowercased().description
            if var rollout = state.rollouts[name], rollout.phase.isActive, rollout.target == endpoint.id {
                let before = rollout
                let action = rollout.probe(anomaly: report.anomaly, now: now)
                var rollouts = state.rollouts
                rollouts[name] = rollout
                if let action {
                    apply(action, of: rollout, before: before, &state, rollouts: rollouts, now: now)
                } else {
                    state.rollouts = rollouts
                }
            }
            if let transition = report.transition {
                healthChanged(&state, set: set, endpoint: endpoint, transition: transition, now: now)
            }
        }
    }

    /// Applies a health transition: effective weight 0 while the endpoint is down, its
    /// configured weight again when it is back. An endpoint that goes down while a migration
    /// moves to it is rolled back: configured weight 0, persisted and audited, and it stays 0
    /// after it recovers until an operator raises it (`undo` restores it).
    private func healthChanged(_ state: inout State, set: WeightedSet, endpoint: WeightedSet.Endpoint,
                               transition: HealthState.Transition, now: Int64) {
        let name = set.owner.lowercased().description
        let slot = endpoint.slot
        if transition.to == .down { state.down.insert(slot) } else { state.down.remove(slot) }
        Log.info("health: \(name) \(endpoint.id) \(transition.from.rawValue) -> \(transition.to.rawValue): \(transition.reason)")

        if transition.to == .down, let saved = state.store.name(name)?.endpoints.first(where: { $0.id == endpoint.id }),
           RollbackRule.shouldRollBack(role: endpoint.role, weight: saved.weight, raisedAt: saved.raisedAt, now: now / 1000,
                                       window: settings.rollbackWindowSeconds) {
            let reason = "rollback \(name) \(endpoint.id) \(saved.weight) -> 0: \(transition.reason)"
            do {
                let (next, changes) = try state.store.setting(name, endpoint.id, to: 0, at: now / 1000)
                try commit(&state, store: next, rollouts: state.rollouts, changes: changes, events: [], uid: nil, reason: reason, now: now)
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
        publish(state)
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
        let now = Clock.wallMilliseconds()
        return state.withLock { state in
            let (store, notes) = state.store.reconciled(with: Self.declared(data))
            for note in notes { Log.info("reload: \(note)") }
            // A rollout whose name or target left the zones ends with them; one whose target
            // lost its health check pauses (nothing could promote or abort it).
            var rollouts = state.rollouts
            var events: [AuditLog.Event] = []
            for (key, var rollout) in rollouts {
                if store.name(key)?.weight(of: rollout.target) == nil {
                    rollouts[key] = nil
                    events.append(AuditLog.Event(name: key, text: "rollout to \(rollout.target) dropped: no longer in the zones"))
                } else if rollout.phase == .baking,
                          let set = data.weighted.first(where: { $0.owner.lowercased().description == key }),
                          set.endpoints.first(where: { $0.id == rollout.target })?.check == nil {
                    try? rollout.pause(reason: "paused: \(rollout.target) has no health check since a reload", now: now)
                    rollouts[key] = rollout
                    events.append(AuditLog.Event(name: key, text: "rollout to \(rollout.target) paused: no health check since a reload"))
                }
            }
            for event in events { Log.info("reload: \(event.name) \(event.text)") }
            if store != state.store || !events.isEmpty {
                do {
                    try stateFile.save(store, rollouts: Array(rollouts.values))
                    if !events.isEmpty { try audit.append([], events: events, uid: nil, reason: "reload", at: now / 1000) }
                } catch {
                    Log.error("reload: saving \(stateFile.path): \(error); kept generation \(box.generation)")
                    return ["saving weights: \(error)"]
                }
            }
            state.store = store
            state.rollouts = rollouts
            state.zones = data
            // Endpoints that left the zones are no longer held down.
            let slots = Set(data.weighted.flatMap { $0.endpoints.map(\.slot) })
            state.down.formIntersection(slots)
            state.shortTTL = Self.shortTTLNames(state, now: now)
            monitor.withLock { $0 }?.configure(data)
            let published = publish(state)
            Log.info("reload: \(zones.count) zone(s), generation \(published.generation)")
            // The parser's and the old snapshot's memory goes back to the system once every
            // server thread has let go of the old snapshot (idle ones within a second).
            queue.asyncAfter(deadline: .now() + .seconds(2)) { Posix.Process.releaseFreedMemory() }
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
            /// Answers over about the last minute (since start when younger).
            var servedLastMinute: UInt64
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

    /// Answers served per slot over about the last minute.
    func servedLastMinute() -> [Int: UInt64] {
        state.withLock { servedLastMinute($0) }
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
        let lastMinute = servedLastMinute()
        let report = StatusJSON(generation: snapshot.generation, names: sets.map { set in
            let configuredTotal = set.endpoints.reduce(0) { $0 + UInt64(snapshot.weights.configured($1.slot)) }
            let served = set.endpoints.map { counters.total($0.slot) }
            let servedTotal = served.reduce(0, +)
            return StatusJSON.Name(name: set.owner.lowercased().description, endpoints: set.endpoints.enumerated().map { index, endpoint in
                let configured = snapshot.weights.configured(endpoint.slot)
                return StatusJSON.Endpoint(
                    id: endpoint.id, configured: configured, effective: snapshot.weights.effective(endpoint.slot),
                    share: configuredTotal == 0 ? 0 : Double(configured) * 100 / Double(configuredTotal),
                    served: served[index], servedLastMinute: lastMinute[endpoint.slot] ?? 0,
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
        let header = ["NAME", "ENDPOINT", "CONFIGURED", "EFFECTIVE", "SHARE", "SERVED", "LAST MIN", "OBSERVED", "HEALTH", "LAST PROBE", "SINCE"]
        var rows: [[String]] = []
        for entry in report.names {
            for endpoint in entry.endpoints {
                rows.append([entry.name, endpoint.id, "\(endpoint.configured)", "\(endpoint.effective)",
                             percentText(endpoint.share), "\(endpoint.served)", "\(endpoint.servedLastMinute)",
                             percentText(endpoint.observed),
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

/// A dispatch timer held by a Sendable owner; DispatchSourceTimer is thread-safe but not
/// marked Sendable.
struct TimerHandle: @unchecked Sendable {
    let source: DispatchSourceTimer
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
