import Testing
import Traffic

/// The control plane as a value, driven with scripted times and scripted store outcomes: no
/// sleeps, no sockets, no files. `Driver` plays the I/O edge: it answers every `persist` with
/// the next scripted outcome (success by default) and keeps what a real store would hold.
struct Driver {
    var plane: ControlPlane
    /// What the store holds: the last saved state and every audit line appended.
    var saved: PersistRequest?
    var audit: [AuditEntry] = []
    var revision: UInt64 = 0
    /// Outcomes for the next saves, in order; then `.ok`.
    var script: [Step] = []
    var replies: [String] = []
    var logs: [String] = []
    var published: [UInt64] = []
    var persists: [PersistRequest] = []
    /// When false, saves are left in flight until `complete` is called.
    var autoComplete = true
    var pendingRequest: PersistRequest?
    /// Analyses asked for with `.analyze`, in order; a test answers them with `.analyzed`.
    var analyses: [AnalysisRequest] = []
    var resigns: [Int] = []

    /// `unknownSaved`: the store took the save but answered too late (`.unknown`);
    /// `unknownLost`: the same answer, and the store did not take it; `conflict`: another
    /// server saved first (a shared store's compare-and-swap lost).
    enum Step { case ok, saveFails, auditFails, unknownSaved, unknownLost, conflict }

    static let api = NameKey("api.example.com")
    static let seed = CohortSeed(k0: 0x0123_4567_89AB_CDEF, k1: 0xFEDC_BA98_7654_3210)
    static let config = [
        WeightedNameConfig(key: api, endpoints: [
            EndpointConfig(id: "old", slot: 0, zoneWeight: 100, role: "old", check: "gw"),
            EndpointConfig(id: "new", slot: 1, zoneWeight: 0, check: "gw"),
        ], ttlShift: 5),
        WeightedNameConfig(key: NameKey("pool.example.com"), endpoints: [
            EndpointConfig(id: "blue", slot: 2, zoneWeight: 1, records: [.a]),
            EndpointConfig(id: "green", slot: 3, zoneWeight: 3, records: [.a, .aaaa]),
        ]),
    ]

    init(saved: PersistedState? = nil, now: Moment = 0, config: [WeightedNameConfig] = Driver.config) {
        var settings = ControlPlane.Settings()
        settings.checkpointEveryMs = 10_000
        let (plane, effects) = ControlPlane.start(config: config, zones: 0, saved: saved, seed: saved?.seed ?? Self.seed,
                                                  settings: settings, now: now)
        self.plane = plane
        carry(effects, now: now)
    }

    /// Sends one event and carries out what comes back; returns the reply, if any.
    @discardableResult
    mutating func send(_ event: ControlPlane.Event, at now: Moment) -> String? {
        let before = replies.count
        carry(plane.handle(event, now: now), now: now)
        return replies.count > before ? replies.last : nil
    }

    mutating func command(_ line: String, at now: Moment, requester: Requester = .uid(1000)) -> String? {
        do {
            return send(.command(try AdminCommand.parse(line), line: line, requester: requester), at: now)
        } catch {
            return "error: \(error)"
        }
    }

    mutating func carry(_ effects: [ControlPlane.Effect], now: Moment) {
        for effect in effects {
            switch effect {
            case .persist(let request):
                persists.append(request)
                if autoComplete {
                    carry(plane.handle(.persisted(outcome(request)), now: now), now: now)
                } else {
                    pendingRequest = request
                }
            case .publish(let generation, _): published.append(generation)
            case .log(_, let text): logs.append(text)
            case .reply(let text): replies.append(text)
            case .analyze(let request): analyses.append(request)
            case .resign(let zones): resigns.append(zones)
            }
        }
    }

    /// Finishes the save left in flight.
    mutating func complete(at now: Moment) {
        guard let request = pendingRequest else { Issue.record("no save in flight"); return }
        pendingRequest = nil
        carry(plane.handle(.persisted(outcome(request)), now: now), now: now)
    }

    private mutating func outcome(_ request: PersistRequest) -> PersistOutcome {
        let step = script.isEmpty ? .ok : script.removeFirst()
        if step == .saveFails { return .saveFailed("weights.json: ENOSPC") }
        if step == .unknownLost { return .unknown("etcd did not answer within 5s (ETIMEDOUT)") }
        if step == .conflict {
            return .conflict("conflict: the shared state changed first (revision \(revision + 1), by uid 1000 on s2); nothing changed here, try again")
        }
        revision += 1
        saved = request
        if step == .auditFails { return .auditFailed(revision: revision, "audit.log: EIO") }
        audit += request.audit
        return step == .unknownSaved ? .unknown("etcd did not answer within 5s (ETIMEDOUT)") : .saved(revision: revision)
    }

    /// A shared store's watch bringing what the store holds, as another server's save.
    mutating func watchDelivers(at now: Moment) {
        guard let saved else { Issue.record("nothing saved"); return }
        send(.adopted(PersistedState(store: saved.store, rollouts: saved.rollouts, revision: revision, seed: saved.seed)), at: now)
    }

    func weights(_ name: NameKey = Driver.api) -> [UInt32] { plane.store.name(name)!.weights }
    func savedWeights(_ name: NameKey = Driver.api) -> [UInt32]? { saved?.store.name(name)?.weights }

    static func probe(_ slot: Int, _ anomaly: String?, _ status: HealthState.Status,
                      _ transition: (HealthState.Status, HealthState.Status)? = nil) -> ControlPlane.Event {
        .probe(ProbeReport(slot: slot, anomaly: anomaly, status: status,
                           transition: transition.map { HealthState.Transition(from: $0.0, to: $0.1, reason: anomaly ?? "clean") }))
    }
}

struct ControlPlaneTests {
    @Test func aShiftIsSavedAuditedThenPublishedAndAnswered() {
        var driver = Driver()
        let generation = driver.plane.generation
        let reply = driver.command("shift api.example.com new 25%", at: 1_000)
        #expect(reply == "ok api.example.com. old=75 new=25 (generation \(generation + 1))")
        #expect(driver.weights() == [75, 25])
        #expect(driver.savedWeights() == [75, 25])
        #expect(driver.audit.map(\.text) == ["old 100 -> 75", "new 0 -> 25"])
        #expect(driver.audit.allSatisfy { $0.requester == .uid(1000) && $0.reason == "shift api.example.com new 25%" })
        #expect(driver.published.last == generation + 1)
        #expect(driver.plane.effective.name(Driver.api)?.endpoint("new")?.effective == 25)
    }

    /// Each way a save can fail, for an operator's command: `error:`, and nothing changed in
    /// memory, in the store or in the audit log.
    @Test(arguments: [Driver.Step.saveFails, .auditFails])
    func aFailedSaveChangesNothing(step: Driver.Step) {
        var driver = Driver()
        let generation = driver.plane.generation
        driver.script = [step]
        let reply = driver.command("weight api.example.com new 10", at: 1_000) ?? ""
        #expect(reply.hasPrefix(step == .saveFails ? "error: saving weights failed, nothing changed: weights.json: ENOSPC"
                                                    : "error: writing the audit log failed, nothing changed: audit.log: EIO"), "\(reply)")
        #expect(driver.weights() == [100, 0])
        #expect(driver.plane.generation == generation, "nothing published")
        #expect(driver.audit.isEmpty)
        // After a failed audit append the old state went back to the store.
        #expect(driver.savedWeights() == (step == .saveFails ? nil : [100, 0]))
        #expect(driver.command("weight api.example.com new 10", at: 2_000)?.hasPrefix("ok") == true, "works once the store does")
    }

    /// Starts a 1% → 50% → 100% rollout with a 10 s bake at t = 0 and gives it a clean probe.
    static func rolling() -> Driver {
        var driver = Driver()
        #expect(driver.command("rollout start api.example.com --to new --steps 1,50,100 --bake 10s", at: 0)?.hasPrefix("ok") == true)
        driver.send(Driver.probe(1, nil, .up), at: 1_000)
        return driver
    }

    /// Regression: after `shift … new 25%`, a rollout from 1% wrote `new 25 -> 1` without a word.
    @Test func aRolloutThatWouldStartBelowTheTargetsShareIsRefusedUnlessForced() {
        var driver = Driver()
        #expect(driver.command("shift api.example.com new 25%", at: 0)?.hasPrefix("ok") == true)
        let saves = driver.persists.count
        let refused = driver.command("rollout start api.example.com --to new --steps 1,50,100 --bake 10s", at: 1_000)
        #expect(refused == "error: new of api.example.com. has 25% of answers now and the first step 1% would take traffic back off it; add --force, or start from a step at or above 25%")
        #expect(driver.persists.count == saves, "nothing saved")
        #expect(driver.plane.rollouts[Driver.api] == nil)
        #expect(driver.weights() == [75, 25])

        let dryRun = driver.command("rollout start api.example.com --to new --steps 1,50,100 --bake 10s --dry-run", at: 1_000) ?? ""
        #expect(dryRun.hasPrefix("ok dry run, nothing changed"), "\(dryRun)")
        #expect(dryRun.contains("new has 25% now: step 1 (1%) moves traffic back off it; refused without --force"), "\(dryRun)")
        let forcedDryRun = driver.command("rollout start api.example.com --to new --steps 1,50,100 --bake 10s --dry-run --force", at: 1_000) ?? ""
        #expect(forcedDryRun.contains("--force given, so it would start"), "\(forcedDryRun)")

        #expect(driver.command("rollout start api.example.com --to new --steps 25,50,100 --bake 10s", at: 1_000)?.hasPrefix("ok") == true,
                "a first step at the current share is no move back")
        #expect(driver.command("rollout abort api.example.com", at: 2_000)?.hasPrefix("ok") == true)
        #expect(driver.command("shift api.example.com new 25%", at: 3_000)?.hasPrefix("ok") == true)
        let forced = driver.command("rollout start api.example.com --to new --steps 1,50,100 --bake 10s --force", at: 4_000) ?? ""
        #expect(forced.hasPrefix("ok api.example.com. rollout to new started: step 1/3 1%"), "\(forced)")
        #expect(driver.weights() == [99, 1])
        #expect(driver.audit.contains { $0.text == "new 25 -> 1" })
    }

    @Test func aFirstStepAboveAFractionalShareIsNotRefused() {
        // old=2 new=1: new has 33.33…%; the error rounds it up so its advice is never refused.
        var driver = Driver()
        #expect(driver.command("weight api.example.com new 1", at: 0)?.hasPrefix("ok") == true)
        #expect(driver.command("weight api.example.com old 2", at: 0)?.hasPrefix("ok") == true)
        let refused = driver.command("rollout start api.example.com --to new --steps 33.33,100 --bake 10s", at: 0) ?? ""
        #expect(refused.hasSuffix("start from a step at or above 33.34%"), "\(refused)")
        #expect(driver.command("rollout start api.example.com --to new --steps 33.34,100 --bake 10s", at: 0)?.hasPrefix("ok") == true)
    }

    @Test func aBakeThatRanCleanIsPromotedDiskFirst() {
        var driver = Self.rolling()
        driver.send(.tick, at: 9_999)
        #expect(driver.weights() == [99, 1])
        driver.send(.tick, at: 10_000)
        #expect(driver.weights() == [50, 50])
        #expect(driver.plane.rollouts[Driver.api]?.step == 1)
        #expect(driver.audit.contains { $0.text == "rollout to new promoted to step 2/3 50%" && $0.requester == nil })
    }

    @Test(arguments: [Driver.Step.saveFails, .auditFails])
    func aPromotionThatCannotBeSavedPausesAtTheStepInForce(step: Driver.Step) {
        var driver = Self.rolling()
        driver.script = [step]
        driver.send(.tick, at: 10_000)
        let rollout = driver.plane.rollouts[Driver.api]
        #expect(rollout?.phase == .paused)
        #expect(rollout?.step == 0, "the step in force, not the one that failed")
        #expect(driver.weights() == [99, 1])
        #expect(driver.savedWeights() == [99, 1], "the store holds the step in force")
        #expect(rollout?.note?.contains("could not be saved") == true, "\(rollout?.note ?? "")")
        #expect(!driver.audit.contains { $0.text.contains("promoted") })
    }

    @Test func aRollbackThatCannotBeSavedIsMadeInMemoryAndSavedLater() {
        var driver = Self.rolling()
        driver.script = [.saveFails, .saveFails]
        driver.send(Driver.probe(1, "status 503", .up), at: 2_000)
        #expect(driver.weights() == [100, 0], "traffic is off the target at once")
        #expect(driver.plane.effective.name(Driver.api)?.endpoint("new")?.effective == 0)
        #expect(driver.plane.rollouts[Driver.api]?.phase == .aborted)
        #expect(driver.plane.dirty)
        #expect(driver.savedWeights() == [99, 1])
        // The clock retries once a second; the second retry finds space.
        driver.send(.tick, at: 2_500)
        #expect(driver.persists.count == 2, "no retry within the second")
        driver.send(.tick, at: 3_000)
        #expect(driver.plane.dirty)
        driver.send(.tick, at: 4_000)
        #expect(!driver.plane.dirty)
        #expect(driver.savedWeights() == [100, 0])
        #expect(driver.audit.map(\.text) == ["rollout to new started: steps 1%,50%,100% bake 10s", "old 100 -> 99", "new 0 -> 1",
                                             "rollout to new aborted at step 1/3, rolled back", "old 99 -> 100", "new 1 -> 0"])
    }

    @Test func anAuditFailureDuringARollbackKeepsItsLinesForTheRetry() {
        var driver = Self.rolling()
        driver.script = [.auditFails]
        driver.send(Driver.probe(1, "timeout after 1000ms", .up), at: 2_000)
        #expect(driver.savedWeights() == [100, 0])
        #expect(!driver.audit.contains { $0.text.contains("rolled back") })
        driver.send(.tick, at: 3_000)
        #expect(driver.audit.filter { $0.text.contains("rolled back") }.count == 1)
    }

    /// Health flapping in a bake: the first anomaly aborts and rolls back once; the target
    /// coming back up does not raise it again, and later anomalies change nothing.
    @Test func healthFlappingDuringABakeRollsBackOnce() {
        var driver = Self.rolling()
        let flaps: [(Int64, String?, HealthState.Status, (HealthState.Status, HealthState.Status)?)] = [
            (2_000, "status 503", .up, nil), (3_000, "status 503", .up, nil), (4_000, "status 503", .down, (.up, .down)),
            (5_000, nil, .down, nil), (6_000, nil, .up, (.down, .up)), (7_000, "status 503", .up, nil),
        ]
        for (at, anomaly, status, transition) in flaps {
            driver.send(Driver.probe(1, anomaly, status, transition), at: Moment(at))
            driver.send(.tick, at: Moment(at + 500))
        }
        #expect(driver.weights() == [100, 0])
        #expect(driver.audit.filter { $0.text.contains("rolled back") }.count == 1)
        #expect(driver.plane.rollouts[Driver.api]?.phase == .aborted)
        #expect(driver.plane.effective.name(Driver.api)?.endpoint("new")?.health == .up)
    }

    @Test func aReloadThatDropsTheTargetEndsTheRollout() {
        var driver = Self.rolling()
        let config = [WeightedNameConfig(key: Driver.api, endpoints: [EndpointConfig(id: "old", slot: 0, zoneWeight: 100, check: "gw")])]
        let reply = driver.send(.reload(config, zones: 1), at: 3_000)
        #expect(reply?.hasPrefix("ok reloaded, generation") == true, "\(reply ?? "")")
        #expect(driver.plane.rollouts[Driver.api] == nil)
        #expect(driver.plane.zones == 1)
        #expect(driver.audit.last?.text == "rollout to new dropped: no longer in the zones")
        #expect(driver.weights() == [99])
    }

    @Test func aReloadThatCannotBeSavedKeepsTheOldZones() {
        var driver = Self.rolling()
        driver.script = [.saveFails]
        let config = [WeightedNameConfig(key: Driver.api, endpoints: [EndpointConfig(id: "old", slot: 0, zoneWeight: 100, check: "gw")])]
        let reply = driver.send(.reload(config, zones: 1), at: 3_000)
        #expect(reply?.hasPrefix("error: saving weights failed") == true, "\(reply ?? "")")
        #expect(driver.plane.zones == 0)
        #expect(driver.plane.rollouts[Driver.api]?.phase == .baking)
    }

    /// A reload with nothing to save is made at once, without a save result of its own: a
    /// rollback kept in memory (the disk was full) stays unsaved for the clock's retry,
    /// audit lines and all.
    @Test func aReloadWithNothingToSaveLeavesAnUnsavedRollbackToTheRetry() {
        var driver = Self.rolling()
        driver.script = [.saveFails]
        driver.send(Driver.probe(1, "status 503", .up), at: 2_000)
        #expect(driver.plane.dirty)
        let saves = driver.persists.count
        let reply = driver.send(.reload(Driver.config, zones: 1), at: 2_100)
        #expect(reply?.hasPrefix("ok reloaded, generation") == true, "\(reply ?? "")")
        #expect(driver.persists.count == saves, "nothing to save")
        #expect(driver.plane.zones == 1)
        #expect(driver.plane.dirty, "the rollback is still unsaved")
        driver.send(.tick, at: 3_100)
        #expect(!driver.plane.dirty)
        #expect(driver.savedWeights() == [100, 0])
        #expect(driver.audit.contains { $0.text == "rollout to new aborted at step 1/3, rolled back" })
    }

    /// The plane alone says which zone set is served: a reload's publish names its zones and
    /// adopts them, and every later publish names them without adopting them again.
    @Test func aReloadsPublishAdoptsItsZonesAndLaterOnesNameThem() {
        func publications(_ effects: [ControlPlane.Effect]) -> [Publication] {
            effects.compactMap { if case .publish(_, let publication) = $0 { publication } else { nil } }
        }
        var (plane, started) = ControlPlane.start(config: Driver.config, zones: 0, saved: nil, seed: Driver.seed, now: 0)
        #expect(publications(started).map { [$0.zones, $0.adoptsZones ? 1 : 0] } == [[0, 0]])
        let reloaded = publications(plane.handle(.reload(Driver.config, zones: 1), now: 1))
        #expect(reloaded.map { [$0.zones, $0.adoptsZones ? 1 : 0] } == [[1, 1]])
        let probed = publications(plane.handle(Driver.probe(0, nil, .up, (.unknown, .up)), now: 2))
        #expect(probed.map { [$0.zones, $0.adoptsZones ? 1 : 0] } == [[1, 0]])
        #expect(probed.first?.effective == plane.effective, "the publish carries what it publishes")
    }

    /// The bake runs on the monotonic clock; a wall-clock step either way moves nothing.
    @Test(arguments: [-86_400_000, -60_000, 60_000, 86_400_000] as [Int64])
    func aClockStepNeitherShortensNorLengthensABake(step: Int64) {
        var driver = Self.rolling()
        driver.send(.tick, at: 5_000)
        let stepped = Moment(monotonic: 9_999, wall: 9_999 + step)
        driver.send(.tick, at: stepped)
        #expect(driver.weights() == [99, 1])
        driver.send(.tick, at: Moment(monotonic: 10_000, wall: 10_000 + step))
        #expect(driver.weights() == [50, 50])
    }

    @Test func aBakesProgressIsSavedEveryCheckpoint() {
        var driver = Self.rolling()
        let saves = driver.persists.count
        // The step's first clean probe is saved at the next tick, so the other servers show it.
        driver.send(.tick, at: 4_000)
        #expect(driver.persists.count == saves + 1)
        #expect(driver.persists.last?.rollouts.first?.cleanProbes == 1)
        driver.send(.tick, at: 9_000)
        #expect(driver.persists.count == saves + 1, "no other save before the checkpoint")
        let rollout = driver.plane.rollouts[Driver.api]!
        #expect(rollout.bakedMs == 9_000)
        // A 30 s bake to see the checkpoint before a promotion.
        var long = Driver()
        _ = long.command("rollout start api.example.com --to new --steps 1,100 --bake 30s", at: 0)
        let before = long.persists.count
        long.send(.tick, at: 10_000)
        #expect(long.persists.count == before + 1)
        #expect(long.persists.last?.audit.isEmpty == true)
        #expect(long.saved?.rollouts.first?.bakedMs == 10_000)
    }

    @Test func aRestartResumesTheBakeFromTheStore() {
        var driver = Driver()
        _ = driver.command("rollout start api.example.com --to new --steps 1,100 --bake 30s", at: 0)
        driver.send(Driver.probe(1, nil, .up), at: 500)
        driver.send(.tick, at: 10_000)
        let saved = PersistedState(store: driver.saved!.store, rollouts: driver.saved!.rollouts, revision: driver.revision)
        // Another boot: the monotonic clock starts again, the wall clock is an hour on.
        var again = Driver(saved: saved, now: Moment(monotonic: 0, wall: 3_600_000))
        #expect(again.plane.rollouts[Driver.api]?.note?.contains("resumed at server start, 10s of 30s done") == true)
        again.send(.tick, at: Moment(monotonic: 100, wall: 3_600_100))
        again.send(.tick, at: Moment(monotonic: 20_099, wall: 3_620_099))
        #expect(again.weights() == [99, 1])
        again.send(.tick, at: Moment(monotonic: 20_100, wall: 3_620_100))
        #expect(again.weights() == [0, 100], "10 s before the restart and 20 s after")
    }

    /// While a save is in flight nothing else runs: a probe that would roll back waits, so it
    /// cannot be overwritten by the command being saved.
    @Test func eventsWaitForTheSaveInFlight() {
        var driver = Self.rolling()
        driver.autoComplete = false
        #expect(driver.command("rollout pause api.example.com", at: 2_000) == nil, "no reply before the save")
        driver.send(Driver.probe(1, "status 503", .up), at: 2_100)
        #expect(driver.plane.rollouts[Driver.api]?.phase == .baking, "the probe waits")
        driver.autoComplete = true
        driver.complete(at: 2_200)
        #expect(driver.replies.last?.hasPrefix("ok api.example.com. rollout to new paused") == true)
        #expect(driver.plane.rollouts[Driver.api]?.phase == .aborted, "then the probe aborts the paused rollout")
        #expect(driver.weights() == [100, 0])
    }

    @Test func aManualChangeIsRefusedDuringARolloutUnlessForced() {
        var driver = Self.rolling()
        let refused = driver.command("shift api.example.com new 50%", at: 2_000) ?? ""
        #expect(refused.hasPrefix("error: api.example.com. has an active rollout"), "\(refused)")
        #expect(driver.command("shift api.example.com new 50% --force", at: 2_000)?.hasPrefix("ok") == true)
        #expect(driver.plane.rollouts[Driver.api]?.phase == .paused)
        #expect(driver.audit.contains { $0.text == "rollout to new paused at step 1/3" })
    }

    @Test func aDownEndpointRaisedRecentlyIsRolledBackAndStaysDrained() {
        var driver = Driver()
        _ = driver.command("shift api.example.com new 5%", at: 1_000)
        driver.send(Driver.probe(1, "connect: ECONNREFUSED", .down, (.up, .down)), at: 2_000)
        #expect(driver.weights() == [95, 0])
        #expect(driver.audit.last?.reason.hasPrefix("rollback api.example.com. new 5 -> 0") == true)
        driver.send(Driver.probe(1, nil, .up, (.down, .up)), at: 3_000)
        #expect(driver.weights() == [95, 0], "it stays at 0 until an operator raises it")
    }

    @Test func theShortTTLEndsOneWindowAfterAManualChange() {
        var driver = Driver()
        _ = driver.command("shift api.example.com new 5%", at: 1_000)
        #expect(driver.plane.shortTTL == [Driver.api])
        driver.send(.tick, at: Moment(1_000 + 599_999))
        #expect(driver.plane.shortTTL == [Driver.api])
        let generation = driver.plane.generation
        driver.send(.tick, at: Moment(1_000 + 600_000))
        #expect(driver.plane.shortTTL.isEmpty)
        #expect(driver.plane.generation == generation + 1, "the longer TTL is published")
    }
}

/// The weighting rule: health, eligibility by address type, fail-open and all-down=refuse.
struct EffectiveWeightsTests {
    static let pool = NameKey("pool.example.com")

    func table(down: Set<Int>, refuse: Bool = false) -> (EffectiveWeights, WeightTable) {
        let config = [WeightedNameConfig(key: Self.pool, endpoints: [
            EndpointConfig(id: "v4", slot: 0, zoneWeight: 1, check: "c", records: [.a]),
            EndpointConfig(id: "both", slot: 1, zoneWeight: 3, check: "c", records: [.a, .aaaa]),
            EndpointConfig(id: "drained", slot: 2, zoneWeight: 0, check: "c", records: [.a, .aaaa]),
        ], refuseWhenAllDown: refuse)]
        var health: [Int: EndpointHealth] = [:]
        for slot in down { health[slot] = .down }
        let weights = EffectiveWeights(config: config, store: WeightStore(), health: health, shortTTL: [])
        return (weights, weights.table())
    }

    @Test(arguments: [
        // down, refuse, A draws, AAAA draws, A refused, AAAA refused
        ([], false, [1, 3, 0], [0, 3, 0], false, false),
        ([1], false, [1, 0, 0], [0, 3, 0], false, false),   // AAAA: its only endpoint is down: fail open
        ([1], true, [1, 0, 0], [0, 0, 0], false, true),     // …or SERVFAIL with all-down=refuse
        ([0, 1], false, [1, 3, 0], [0, 3, 0], false, false),
        ([0, 1], true, [0, 0, 0], [0, 0, 0], true, true),
        ([0], true, [0, 3, 0], [0, 3, 0], false, false),
    ] as [(Set<Int>, Bool, [UInt32], [UInt32], Bool, Bool)])
    func drawWeightsByFamily(down: Set<Int>, refuse: Bool, a: [UInt32], aaaa: [UInt32], aRefused: Bool, aaaaRefused: Bool) {
        let (_, table) = table(down: down, refuse: refuse)
        #expect((0..<3).map { table.weight($0, .a) } == a)
        #expect((0..<3).map { table.weight($0, .aaaa) } == aaaa)
        #expect(table.refuses(0, .a) == aRefused)
        #expect(table.refuses(0, .aaaa) == aaaaRefused)
    }

    @Test func statusRowsCarryTheSameVerdicts() {
        let (weights, _) = table(down: [1])
        let name = weights.name(Self.pool)!
        #expect(name.endpoints.map(\.health) == [.unknown, .down, .unknown])
        #expect(name.endpoints.map(\.effective) == [1, 0, 0])
        #expect(name.endpoints.map(\.share) == [25, 75, 0])
        #expect(!name.allDown)
        #expect(table(down: [0, 1]).0.name(Self.pool)!.allDown)
    }
}
