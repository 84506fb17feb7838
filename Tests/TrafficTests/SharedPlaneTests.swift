import Testing
import Traffic

/// The control plane with a shared store, as a value: quorum verdicts, adopting what another
/// server saved, and leadership deciding who advances bakes and rolls back.
struct SharedPlaneTests {
    @Test(arguments: [
        // (verdicts per server, quorum verdict of "e")
        ([["e": EndpointHealth.down], ["e": .up], ["e": .up]], EndpointHealth.up),          // one broken path: not drained
        ([["e": .down], ["e": .down], ["e": .up]], .down),                                  // 2 of 3
        ([["e": .down], ["e": .down], [:]], .down),                                         // 2 of 3, one has no verdict
        ([["e": .down], ["e": .up]], .up),                                                  // 1 of 2 is not more than half
        ([["e": .down]], .down),                                                            // one server alone decides
        ([["e": .unknown], [:]], .unknown),
    ])
    func anEndpointIsDownWhenMoreThanHalfOfTheLiveServersSeeItDown(verdicts: [[String: EndpointHealth]], expected: EndpointHealth) {
        let byServer = Dictionary(uniqueKeysWithValues: verdicts.enumerated().map { ("s\($0.offset)", $0.element) })
        #expect(HealthQuorum.verdicts(byServer)["e"]?.health == expected)
    }

    @Test func aStateSavedByAnotherServerIsServedAndOlderOnesAreIgnored() {
        var driver = Driver()
        #expect(driver.command("shift api.example.com new 25%", at: 1_000)?.hasPrefix("ok") == true)
        let mine = driver.plane.revision
        var other = driver.plane.store
        (other, _) = try! other.setting("api.example.com", "new", to: 60, at: 2)
        let generation = driver.plane.generation
        driver.send(.adopted(PersistedState(store: other, rollouts: [], revision: mine + 5, seed: Driver.seed)), at: 2_000)
        #expect(driver.weights() == [75, 60])
        #expect(driver.plane.revision == mine + 5)
        #expect(driver.plane.generation == generation + 1, "published")
        #expect(driver.persists.count == 1, "adopting saves nothing: the shift's save only")
        // Its own save coming back (or an older one) changes nothing.
        driver.send(.adopted(PersistedState(store: WeightStore(), rollouts: [], revision: mine + 5, seed: Driver.seed)), at: 3_000)
        #expect(driver.weights() == [75, 60])
    }

    @Test func onlyTheLeaderAdvancesBakesAndRollsBack() {
        var driver = Driver()
        driver.send(.leadership(false), at: 0)
        #expect(driver.command("rollout start api.example.com --to new --steps 10,50 --bake 1s", at: 1_000)?.hasPrefix("ok") == true)
        driver.send(Driver.probe(1, nil, .up), at: 1_100)
        driver.send(.tick, at: 1_200)
        driver.send(.tick, at: 5_000)
        #expect(driver.weights() == [90, 10], "a server that does not lead leaves the bake alone")
        // Down while it does not lead: effective 0 at once, no rollback recorded.
        driver.send(Driver.probe(1, "down on 2 of 3 servers", .down, (.up, .down)), at: 5_100)
        #expect(driver.weights() == [90, 10])
        #expect(driver.plane.effective.name(Driver.api)?.endpoint("new")?.effective == 0)
        driver.send(Driver.probe(1, nil, .up, (.down, .up)), at: 5_200)

        // Elected: the bake resumes from its saved progress and promotes.
        driver.send(.leadership(true), at: 6_000)
        #expect(driver.logs.contains { $0.contains("this server drives rollouts") })
        driver.send(Driver.probe(1, nil, .up), at: 6_100)
        driver.send(.tick, at: 6_200)
        driver.send(.tick, at: 7_300)
        #expect(driver.weights() == [50, 50], "promoted by the leader")
        driver.send(Driver.probe(1, "down on 2 of 3 servers", .down, (.up, .down)), at: 7_400)
        #expect(driver.weights() == [100, 0], "rolled back by the leader, once")
    }

    /// What another server's change to pool.example.com looks like to this one: the shared
    /// state at the next revision, with the rollouts as last saved.
    static func otherServerChangesPool(_ driver: inout Driver, to weight: UInt32, at now: Moment) {
        var store = driver.plane.store
        (store, _) = try! store.setting("pool.example.com", "blue", to: weight, at: now.wallSeconds)
        driver.revision += 1
        driver.send(.adopted(PersistedState(store: store, rollouts: driver.saved?.rollouts ?? [], revision: driver.revision,
                                            seed: Driver.seed)), at: now)
    }

    /// Regression (make chaos, cluster): every adopted state set the leader's bake back to its
    /// last checkpoint, so while other servers changed any name more often than the bake (or
    /// the 10 s checkpoint), no step was ever promoted.
    @Test func theLeadersBakeIsNotSetBackByAnotherServersChangeToAnotherName() {
        var driver = Driver()
        #expect(driver.command("rollout start api.example.com --to new --steps 10,50 --bake 1s", at: 0)?.hasPrefix("ok") == true)
        driver.send(Driver.probe(1, nil, .up), at: 50)
        for t in stride(from: Int64(100), through: 1_300, by: 100) {
            if t % 200 == 0 { Self.otherServerChangesPool(&driver, to: UInt32(t / 100), at: Moment(t)) }
            driver.send(.tick, at: Moment(t))
        }
        #expect(driver.weights(NameKey("pool.example.com")) == [12, 3], "the other server's changes are served")
        #expect(driver.weights() == [50, 50], "promoted after its 1 s bake")
        #expect(driver.audit.filter { $0.text.contains("promoted to step 2/2") }.count == 1)
    }

    /// A promotion whose compare-and-swap lost to another server's save (of any name) is not
    /// the step's failure: it is tried again, not paused — even when the watch brought the
    /// other save before the conflict's answer, after which nothing else may ever come.
    @Test func aPromotionThatLostTheRaceIsTriedAgainNotPaused() {
        var driver = ControlPlaneTests.rolling()
        driver.autoComplete = false
        driver.script = [.conflict]
        driver.send(.tick, at: 10_000)
        Self.otherServerChangesPool(&driver, to: 7, at: 10_010)
        driver.complete(at: 10_020)
        #expect(driver.plane.rollouts[Driver.api]?.phase == .baking, "\(driver.plane.rollouts[Driver.api]?.note ?? "")")
        #expect(driver.weights() == [99, 1])
        #expect(driver.logs.contains { $0.contains("another server saved first") && $0.contains("trying again") })
        driver.autoComplete = true
        driver.send(.tick, at: 10_100)
        #expect(driver.weights() == [50, 50])
        #expect(driver.plane.rollouts[Driver.api]?.step == 1)
        #expect(driver.audit.filter { $0.text.contains("promoted to step 2/3") }.count == 1)
    }

    @Test func aNewCohortSeedIsSavedAtStartAndStillOwedAfterAConflict() {
        let config = [WeightedNameConfig(key: NameKey("app.example.com"), endpoints: [
            EndpointConfig(id: "old", slot: 0, zoneWeight: 95, records: [.a]), EndpointConfig(id: "new", slot: 1, zoneWeight: 5, records: [.a]),
        ], selectByClient: true)]
        func seeds(_ effects: [ControlPlane.Effect]) -> [CohortSeed] {
            effects.compactMap { if case .persist(let request) = $0 { request.seed } else { nil } }
        }
        var (plane, effects) = ControlPlane.start(config: config, zones: 0, saved: nil, seed: Driver.seed, now: 0)
        #expect(seeds(effects) == [Driver.seed], "a client name's new seed is saved at once")
        // Another server saved first: the seed is not in the store yet, so the next save carries it.
        _ = plane.handle(.persisted(.conflict("conflict: the shared state changed first")), now: 1)
        #expect(seeds(plane.handle(.reload(config, zones: 1), now: 2)) == [Driver.seed])
        // Once saved, a reload that changes nothing saves nothing.
        _ = plane.handle(.persisted(.saved(revision: 1)), now: 3)
        #expect(seeds(plane.handle(.reload(config, zones: 2), now: 4)).isEmpty)
        // A saved state's seed is the one used: every server and restart keys clients alike.
        let saved = PersistedState(store: plane.store, rollouts: [], revision: 1, seed: CohortSeed(k0: 9, k1: 9))
        let (restarted, _) = ControlPlane.start(config: config, zones: 0, saved: saved, seed: saved.seed!, now: 5)
        #expect(restarted.effective.table().seed == CohortSeed(k0: 9, k1: 9))
    }
}
