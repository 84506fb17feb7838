import Testing
import Traffic

/// A save whose outcome the store could not tell (etcd stalled after the transaction was
/// sent): never answered or handled as "failed, nothing changed", for each kind of save.
struct UnknownOutcomeTests {
    @Test(arguments: [Driver.Step.unknownSaved, .unknownLost])
    func aCommandWhoseSaveHasAnUnknownOutcomeSaysSoAndHowToCheck(step: Driver.Step) {
        var driver = Driver()
        let generation = driver.plane.generation
        driver.script = [step]
        let reply = driver.command("shift api.example.com new 10%", at: 1_000) ?? ""
        #expect(reply.hasPrefix("error: outcome unknown: etcd did not answer within 5s (ETIMEDOUT)"), "\(reply)")
        #expect(reply.contains("check with `history api.example.com.`"), "\(reply)")
        #expect(!reply.contains("nothing changed"), "\(reply)")
        #expect(driver.weights() == [100, 0], "not made in memory")
        #expect(driver.plane.generation == generation, "nothing published")
        guard step == .unknownSaved else { return }
        // The store had it: the watch brings it, and it is served as any other server's save.
        driver.watchDelivers(at: 2_000)
        #expect(driver.weights() == [90, 10])
        #expect(driver.plane.revision == driver.revision)
        #expect(driver.command("shift api.example.com new 20%", at: 3_000)?.hasPrefix("ok") == true, "the next change saves")
    }

    @Test func aPromotionWhoseSaveHasAnUnknownOutcomePausesThenAdoptsWhatTheStoreHolds() {
        var driver = ControlPlaneTests.rolling()
        driver.script = [.unknownSaved]
        driver.send(.tick, at: 10_000)
        let rollout = driver.plane.rollouts[Driver.api]
        #expect(rollout?.phase == .paused)
        #expect(rollout?.step == 0)
        #expect(driver.weights() == [99, 1])
        #expect(rollout?.note?.contains("is unknown") == true && rollout?.note?.contains("history api.example.com.") == true,
                "\(rollout?.note ?? "")")
        #expect(rollout?.note?.contains("could not be saved") == false, "\(rollout?.note ?? "")")
        driver.watchDelivers(at: 10_500)
        #expect(driver.weights() == [50, 50], "the promotion the store holds is served")
        #expect(driver.plane.rollouts[Driver.api]?.phase == .baking)
        #expect(driver.plane.rollouts[Driver.api]?.step == 1)
    }

    @Test func aRollbackWhoseSaveHasAnUnknownOutcomeStaysInMemoryAndIsRetried() {
        var driver = ControlPlaneTests.rolling()
        driver.script = [.unknownLost]
        driver.send(Driver.probe(1, "status 503", .up), at: 2_000)
        #expect(driver.weights() == [100, 0], "traffic stays off the target")
        #expect(driver.plane.dirty)
        #expect(driver.plane.lastSaveError?.contains("outcome unknown") == true, "\(driver.plane.lastSaveError ?? "")")
        #expect(driver.logs.contains { $0.contains("outcome unknown") && $0.contains("kept in memory, retrying") })
        driver.send(.tick, at: 3_000)
        #expect(!driver.plane.dirty)
        #expect(driver.savedWeights() == [100, 0])
    }

    @Test func aRollbackSavedWithAnUnknownOutcomeIsTakenFromTheWatchWithoutARetry() {
        var driver = ControlPlaneTests.rolling()
        driver.script = [.unknownSaved]
        driver.send(Driver.probe(1, "status 503", .up), at: 2_000)
        #expect(driver.plane.dirty)
        let persists = driver.persists.count
        driver.watchDelivers(at: 2_500)
        #expect(!driver.plane.dirty)
        #expect(driver.weights() == [100, 0])
        driver.send(.tick, at: 4_000)
        #expect(driver.persists.count == persists, "nothing left to retry")
    }
}
