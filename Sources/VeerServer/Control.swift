import Authority
import Dispatch
import Posix
import Synchronization
import Traffic
import ZoneFile

/// The I/O edge of the control plane: feeds the `ControlPlane` value its events on one
/// serial queue with the time, and carries out the effects it returns — saves and audit
/// lines through the `StateStore`, snapshots into the box the query path reads, logs,
/// replies. Effects run outside the lock, so a slow disk delays the next event, never a
/// probe or a query; the query path never waits for this side at all.
final class Control: Sendable {
    struct Settings: Sendable {
        var zonesDirectory: String
        var allowedUIDs: Set<UInt32>
        var allowedGIDs: Set<UInt32>
        var plane = ControlPlane.Settings()
        /// Replaces the saved cohort seed (`--cohort-seed`).
        var cohortSeed: CohortSeed?
    }

    /// How often the control clock ticks (bakes, windows, retries, counter samples).
    static let tickMs = 200
    /// Counter samples are kept this often for the last-minute counts.
    static let sampleEveryMs: Int64 = 5_000
    /// Counter samples between two halvings of the cohort samples: about a minute.
    static let agingSamples = 12

    private struct Core {
        var plane: ControlPlane
        /// The zones in use (`current`) and the ones a reload waits to adopt, by number.
        var zones: [Int: ServedZones]
        var current = 0
        var nextZones = 0
        /// Served totals by slot every `sampleEveryMs`, oldest first, about a minute of them.
        var samples: [(at: Int64, totals: [UInt64])] = []
        var sampleTicks = 0
    }

    let settings: Settings
    let store: any StateStore
    let box: SnapshotBox
    let slots = SlotRegistry()
    let counters = CounterRegistry()
    private let clock: @Sendable () -> Moment
    private let core: Mutex<Core>
    private let monitor = Mutex<HealthMonitor?>(nil)
    private let queue = DispatchQueue(label: "veer.control")
    private let timer = Mutex<TimerHandle?>(nil)

    /// Loads the saved state (refusing a corrupt one), reconciles it with the zones, saves
    /// what that changed and publishes the first snapshot.
    init(settings: Settings, zones: [Zone], store: any StateStore, clock: @escaping @Sendable () -> Moment = Control.systemClock) throws(StartupError) {
        self.settings = settings
        self.store = store
        self.clock = clock
        let served = ServedZones(zones, slots: slots)
        let saved: PersistedState?
        do { saved = try store.load() } catch { throw StartupError(lines: ["\(error)"]) }
        let seed = settings.cohortSeed ?? saved?.seed ?? CohortSeed.random()
        let (plane, effects) = ControlPlane.start(config: served.config, zones: 0, saved: saved, seed: seed,
                                                  settings: settings.plane, now: clock())
        box = SnapshotBox(Snapshot(zones: served.data, weights: WeightTable.empty, generation: 0))
        core = Mutex(Core(plane: plane, zones: [0: served]))
        perform(effects)
        if saved != nil { Log.info("weights: restored from \(store.location)") }
        if let error = core.withLock({ $0.plane.lastSaveError }) {
            throw StartupError(lines: ["state \(store.location): \(error)"])
        }
    }

    static let systemClock: @Sendable () -> Moment = {
        Moment(monotonic: Int64(Clock.now() / 1_000_000), wall: Clock.wallMilliseconds())
    }

    // MARK: - Events

    /// Runs one event through the plane and carries out its effects; returns the reply.
    @discardableResult
    private func send(_ event: ControlPlane.Event) -> String? {
        queue.sync {
            let now = clock()
            return perform(core.withLock { $0.plane.handle(event, now: now) })
        }
    }

    /// Carries out `effects` in order, feeding each save's outcome back to the plane.
    @discardableResult
    private func perform(_ effects: [ControlPlane.Effect]) -> String? {
        var reply: String?
        var queue = effects[...]
        while let effect = queue.popFirst() {
            switch effect {
            case .persist(let request):
                let outcome = persist(request)
                let now = clock()
                queue += core.withLock { $0.plane.handle(.persisted(outcome), now: now) }
            case .publish(let generation, let zones):
                publish(generation: generation, zones: zones)
            case .log(let level, let text):
                Log.write(Log.Level(rawValue: level.rawValue) ?? .info, text)
            case .reply(let text):
                reply = text
            case .analyze:
                break
            }
        }
        return reply
    }

    private func persist(_ request: PersistRequest) -> PersistOutcome {
        store.commit(request)
    }

    /// Publishes the plane's weights over zones number `zones`; a reload's new zones are
    /// adopted here, and the health checks follow them.
    private func publish(generation: UInt64, zones: Int) {
        let (snapshot, adopted) = core.withLock { core -> (Snapshot, ServedZones?) in
            let served = core.zones[zones]!
            var adopted: ServedZones?
            if zones != core.current {
                core.zones[core.current] = nil
                core.current = zones
                adopted = served
            }
            let records = StatusReport.records(core.plane.effective, rollouts: core.plane.rollouts, generation: generation)
            let status = StatusRecords(served.data.weighted.compactMap { set in
                records[NameKey(set.owner)].map { (set.owner, $0) }
            })
            return (Snapshot(zones: served.data, weights: core.plane.effective.table(), generation: generation, status: status), adopted)
        }
        box.publish(snapshot)
        (store as? EtcdStateStore)?.serving(revision: core.withLock { $0.plane.revision })
        if let adopted {
            monitor.withLock { $0 }?.configure(adopted.targets)
            Log.info("reload: \(adopted.zoneCount) zone(s), generation \(generation)")
            // The parser's and the old snapshot's memory goes back to the system once every
            // server thread has let go of the old snapshot (idle ones within a second).
            queue.asyncAfter(deadline: .now() + .seconds(2)) { Posix.Process.releaseFreedMemory() }
        }
    }

    // MARK: - Admin protocol

    /// Answers one admin line: `ok …` or `error: …`.
    func handle(_ line: String, peer: PeerCredentials) -> String {
        guard isAllowed(peer) else {
            Log.warning("admin: refused uid=\(peer.uid) gid=\(peer.gid) pid=\(peer.pid)")
            return "error: uid \(peer.uid) is not allowed on the admin socket (see --admin-allow-uid and --admin-allow-gid)"
        }
        let (line, wait) = AdminCommand.waitSwitch(line)
        do throws(AdminError) {
            let command = try AdminCommand.parse(line)
            switch command {
            case .help:
                return "ok commands:\n" + AdminCommand.usage
            case .status(let name, let json):
                return try report().status(name: name, json: json)
            case .rolloutStatus(let name, let json):
                return try report().rolloutStatus(name: name, json: json)
            case .health(let name):
                return try report().healthReport(name: name)
            case .history(let name, let limit):
                do {
                    let lines = try store.history(name: name.map(NameKey.init), limit: limit)
                    return (["ok \(lines.count) change\(lines.count == 1 ? "" : "s")"] + lines).joined(separator: "\n")
                } catch {
                    throw AdminError.badValue("\(error)")
                }
            case .analysis:
                throw AdminError.badValue("analysis: not wired yet")
            case .reload:
                let errors = reload()
                guard errors.isEmpty else {
                    throw AdminError.badValue("reload failed, still serving generation \(box.generation):\n" + errors.joined(separator: "\n"))
                }
                return "ok reloaded, generation \(box.generation)"
            case .weight, .shift, .drain, .undo, .rolloutStart, .rolloutPause, .rolloutResume, .rolloutAbort:
                let sample = command.isDryRunChange ? counters.cohortSamples() : []
                let reply = send(.command(command, line: AdminCommand.trimmed(line), uid: peer.uid, sample: sample)) ?? "error: no reply"
                guard wait, reply.hasPrefix("ok"), let etcd = store as? EtcdStateStore else { return reply }
                return etcd.waitUntilServed(core.withLock { $0.plane.revision }, after: reply)
            }
        } catch {
            return "error: \(error)"
        }
    }

    private func isAllowed(_ peer: PeerCredentials) -> Bool {
        peer.uid == 0 || peer.uid == Posix.Process.currentUID || settings.allowedUIDs.contains(peer.uid)
            || settings.allowedGIDs.contains(peer.gid)
    }

    /// What every status surface reads, taken on the control queue.
    func report() -> StatusReport {
        let probes = monitor.withLock { $0 }?.states() ?? [:]
        let etcd = store as? EtcdStateStore
        let servers = try? etcd?.servers()
        return queue.sync {
            core.withLock { core in
                let plane = core.plane
                let totals = counters.totals(count: plane.effective.slotCount)
                let base = core.samples.first?.totals ?? []
                return StatusReport(effective: plane.effective, rollouts: plane.rollouts, changed: plane.changed,
                                    generation: plane.generation, probes: probes, served: totals,
                                    servedLastMinute: totals.indices.map { totals[$0] &- ($0 < base.count ? base[$0] : 0) },
                                    byKind: counters.kindTotals(count: plane.effective.slotCount),
                                    samples: counters.cohortSamples(),
                                    shared: etcd.map { .init(store: $0.reachability!, serverID: $0.serverID, revision: plane.revision,
                                                             leader: $0.leader, servers: servers) }, now: clock())
            }
        }
    }

    func metricsText() -> String {
        report().metrics(queries: counters.queryTotals(), limits: counters.limitTotals())
    }

    // MARK: - Reload, health, clock

    /// Re-reads the zones; on any error keeps serving the old data and returns the errors.
    func reload() -> [String] {
        Server.notify(["RELOADING=1", ServiceNotify.monotonicMicroseconds])
        defer { Server.notify(["READY=1", Server.status(box)]) }
        let (zones, errors) = ZoneParser.loadDirectory(settings.zonesDirectory, files: .system)
        if !errors.isEmpty || zones.isEmpty {
            let lines = errors.isEmpty ? ["\(settings.zonesDirectory): no *.zone files to serve"] : errors.map(\.description)
            for line in lines { Log.error("reload: \(line)") }
            Log.error("reload: kept the data of generation \(box.generation)")
            return lines
        }
        let served = ServedZones(zones, slots: slots)
        let number = core.withLock { core in
            core.nextZones += 1
            core.zones[core.nextZones] = served
            return core.nextZones
        }
        let reply = send(.reload(served.config, zones: number)) ?? "error: no reply"
        guard reply.hasPrefix("ok") else {
            core.withLock { _ = $0.zones.removeValue(forKey: number) }
            Log.error("reload: \(reply); kept generation \(box.generation)")
            return [reply.hasPrefix("error: ") ? String(reply.dropFirst(7)) : reply]
        }
        return []
    }

    /// Starts probing the zones' endpoints (every result becomes a `.probe` event) and the
    /// clock that advances rollouts.
    func start(health: HealthMonitor) {
        monitor.withLock { $0 = health }
        let targets = core.withLock { $0.zones[$0.current]!.targets }
        let queue = self.queue
        let shared = (store as? EtcdStateStore).map(SharedHealth.init)
        health.configure(targets) { [weak self] report in
            // Off the monitor's queue: a slow save must not hold up the probes.
            queue.async { [weak self] in self?.probed(report, shared) }
        }
        shared?.start(post: { [weak self] event in queue.async { [weak self] in self?.event(event) } },
                      effective: { [weak self] in self?.core.withLock { $0.plane.effective } })
        let source = DispatchSource.makeTimerSource(queue: queue)
        source.schedule(deadline: .now(), repeating: .milliseconds(Self.tickMs), leeway: .milliseconds(20))
        source.setEventHandler { [weak self] in self?.tick() }
        timer.withLock { $0 = TimerHandle(source: source) }
        source.resume()
    }

    /// A local probe; with a shared store, through the quorum of every server's verdicts.
    private func probed(_ report: ProbeReport, _ shared: SharedHealth?) {
        guard let shared else { return event(.probe(report)) }
        if let event = shared.local(report, effective: core.withLock { $0.plane.effective }) { self.event(event) }
    }

    /// Runs `event` already on the control queue.
    private func event(_ event: ControlPlane.Event) {
        let now = clock()
        perform(core.withLock { $0.plane.handle(event, now: now) })
    }

    private func tick() {
        event(.tick)
        let now = clock().monotonic
        core.withLock { core in
            guard core.samples.last.map({ now - $0.at >= Self.sampleEveryMs }) ?? true else { return }
            core.samples.append((now, counters.totals(count: core.plane.effective.slotCount)))
            // Sampled client keys halve every minute: `status` and `--dry-run` show recent ones.
            core.sampleTicks += 1
            if core.sampleTicks % Self.agingSamples == 0 { counters.ageSamples() }
            // Keep the newest sample that is at least a minute old, and everything after.
            while core.samples.count > 1 && now - core.samples[1].at >= 60_000 { core.samples.removeFirst() }
        }
    }
}

/// A dispatch timer held by a Sendable owner; DispatchSourceTimer is thread-safe but not
/// marked Sendable.
struct TimerHandle: @unchecked Sendable {
    let source: DispatchSourceTimer
}
