import Authority
import Posix
import Traffic
import ZoneFile

/// The control side, assembled: the plane on its loop, the effect executor, the reloader,
/// the admin front, the status source and the clock, and the wiring of probes (through the
/// shared store's quorum when there is one) into the plane. Each part is one file.
final class Control: Sendable {
    struct Settings: Sendable {
        var zonesDirectory: String
        /// `--max-zone-bytes`: the largest zone file or `$INCLUDE` a reload reads.
        var maxZoneBytes = ZoneParser.Files.defaultMaxBytes
        var allowedUIDs: Set<UInt32>
        var allowedGIDs: Set<UInt32>
        var plane = ControlPlane.Settings()
        /// Replaces the saved cohort seed (`--cohort-seed`).
        var cohortSeed: CohortSeed?
        /// `--keys`: signs the zones that have keys (DNSSEC); nil serves every zone unsigned.
        var signing: ZoneSigning?
    }

    let box: SnapshotBox
    let slots = SlotRegistry()
    let counters = CounterRegistry()
    let admin: AdminFront
    let reloader: Reloader
    let status: StatusSource
    /// What the live page charts (`LivePage`).
    let history: HistoryRecorder
    private let loop: ControlLoop
    private let clock: ControlClock
    private let monitor = MonitorSlot()
    private let zoneSets: ZoneSets
    private let shared: (any SharedStore)?
    private let signing: ZoneSigning?

    /// Loads the saved state (refusing a corrupt one), reconciles it with the zones, saves
    /// what that changed and publishes the first snapshot. `shared` is the store's shared
    /// side, when it is shared with other servers.
    init(settings: Settings, zones: [Zone], store: any StateStore, shared: (any SharedStore)? = nil,
         clock: @escaping @Sendable () -> Moment = Control.systemClock) throws(StartupError) {
        self.shared = shared
        signing = settings.signing
        let served: ServedZones
        do {
            served = try ServedZones(zones, slots: slots, signing: settings.signing, summarize: shared != nil)
        } catch {
            throw StartupError(lines: ["dnssec: \(error)"])
        }
        let saved: PersistedState?
        do { saved = try store.load() } catch { throw StartupError(lines: ["\(error)"]) }
        let seed = settings.cohortSeed ?? saved?.seed ?? CohortSeed.random()
        let (plane, effects) = ControlPlane.start(config: served.config, zones: 0, saved: saved, seed: seed,
                                                  settings: settings.plane, now: clock())
        box = SnapshotBox(Snapshot(zones: served.data, weights: WeightTable.empty, generation: 0))
        zoneSets = ZoneSets(served)
        let executor = EffectExecutor(store: store, shared: shared, box: box, zoneSets: zoneSets, monitor: monitor, signing: settings.signing)
        loop = ControlLoop(plane: plane, executor: executor, clock: clock)
        history = HistoryRecorder(monitor: monitor)
        self.clock = ControlClock(loop: loop, counters: counters, shared: shared, history: history)
        reloader = Reloader(directory: settings.zonesDirectory, files: .system(maxBytes: settings.maxZoneBytes), slots: slots, zoneSets: zoneSets, loop: loop, box: box,
                            signing: settings.signing, summarize: shared != nil)
        status = StatusSource(loop: loop, monitor: monitor, counters: counters, clock: self.clock, shared: shared, signing: settings.signing)
        admin = AdminFront(allowedUIDs: settings.allowedUIDs, allowedGIDs: settings.allowedGIDs, loop: loop, reloader: reloader,
                           reports: status, store: store, shared: shared, counters: counters, box: box)
        loop.perform(effects)
        if saved != nil { Log.info("weights: restored from \(store.location)") }
        if let refreshAt = served.refreshAt { loop.post(.signed(zones: 0, refreshAtMs: ZoneSigning.milliseconds(refreshAt))) }
        if let error = loop.latest({ $0.lastSaveError }) {
            throw StartupError(lines: ["state \(store.location): \(error)"])
        }
    }

    static let systemClock: @Sendable () -> Moment = {
        Moment(monotonic: Int64(Clock.now() / 1_000_000), wall: Clock.wallMilliseconds())
    }

    /// Answers one admin line: `ok …` or `error: …`.
    func handle(_ line: String, peer: PeerCredentials) -> String {
        admin.handle(line, peer: peer)
    }

    /// The Prometheus text of `/metrics`.
    func metricsText() -> String {
        status.metricsText() + (signing?.metricsText() ?? "")
    }

    /// Re-reads the zones; on any error keeps serving the old data and returns the errors.
    func reload() -> [String] {
        reloader.reload()
    }

    /// Starts probing the served zones' endpoints (every result becomes a `.probe` event,
    /// through the quorum with a shared store) and the clock that advances rollouts.
    func start(health: HealthMonitor) {
        let loop = self.loop, monitor = self.monitor, zoneSets = self.zoneSets
        let sharedHealth = shared.map(SharedHealth.init)
        loop.read { plane in
            monitor.attach(health)
            health.configure(zoneSets.zones(plane.zones).targets) { report in
                // Off the monitor's queue: a slow save must not hold up the probes.
                loop.queue.async { Self.probed(report, sharedHealth, loop) }
            }
        }
        sharedHealth?.start(post: { loop.post($0) }, effective: { loop.latest { $0.effective } })
        clock.start()
    }

    /// A local probe; with a shared store, through the quorum of every server's verdicts.
    private static func probed(_ report: ProbeReport, _ shared: SharedHealth?, _ loop: ControlLoop) {
        guard let shared else {
            loop.run(.probe(report))
            return
        }
        if let event = shared.local(report, effective: loop.latest { $0.effective }) { loop.run(event) }
    }
}
