import Foundation
import Testing
import Traffic

/// The rollout state machine with a scripted clock: promotion on a clean bake, abort on an
/// anomaly at any step, pause and resume, a restart mid-bake, and plan validation.
struct RolloutTests {
    static let bake: Int64 = 10_000
    static let baseline = [WeightStore.Endpoint(id: "old", weight: 100), WeightStore.Endpoint(id: "new", weight: 0)]

    func plan(_ steps: [Int] = [100, 500, 2_500, 5_000, 10_000], at now: Moment = 0) throws -> Rollout {
        try Rollout(name: "API.example.com", target: "new", steps: steps, bakeMs: Self.bake, baseline: Self.baseline, now: now)
    }

    @Test func startsAtTheFirstStepWithANormalisedName() throws {
        let rollout = try plan()
        #expect(rollout.name == "api.example.com.")
        #expect(rollout.step == 0)
        #expect(rollout.currentShare == 100)
        #expect(rollout.phase == .baking)
        #expect(rollout.bakeEndsAt(now: 0) == Self.bake)
    }

    @Test func promotesEachStepAfterACleanBakeAndCompletesAfterTheLast() throws {
        var rollout = try plan([100, 2_500, 10_000])
        var now: Int64 = 0
        var actions: [Rollout.Action] = []
        // One clean probe a second; tick every 500 ms.
        while now <= 40_000 {
            if now % 1_000 == 0 { #expect(rollout.probe(anomaly: nil, now: Moment(now)) == nil) }
            if let action = rollout.tick(now: Moment(now)) { actions.append(action) }
            now += 500
        }
        #expect(actions == [.apply(step: 1, basisPoints: 2_500), .apply(step: 2, basisPoints: 10_000), .complete])
        #expect(rollout.phase == .completed)
        #expect(rollout.endedAt == 30_000)
    }

    @Test func doesNotPromoteBeforeTheBakeEnds() throws {
        var rollout = try plan()
        _ = rollout.probe(anomaly: nil, now: 1_000)
        #expect(rollout.tick(now: Moment(Self.bake - 1)) == nil)
        #expect(rollout.tick(now: Moment(Self.bake)) == .apply(step: 1, basisPoints: 500))
        #expect(rollout.bakedMs == 0, "the next step bakes from its start")
        #expect(rollout.tick(now: Moment(Self.bake + 1)) == nil)
    }

    /// What a leader adopting saved rollouts relies on (ControlPlane+Events `adopt`): its own
    /// count of a bake beats a save of the same bake, never a bake begun again elsewhere.
    @Test func aBakeBegunAgainElsewhereIsNotTheSameBake() throws {
        func saved(_ rollout: Rollout) throws -> Rollout {
            try JSONDecoder().decode(Rollout.self, from: JSONEncoder().encode(rollout))
        }
        var leader = try plan()
        _ = leader.tick(now: 4_000)
        var other = try saved(leader)
        _ = leader.tick(now: 8_000)
        #expect(leader.isSameBake(as: other), "a checkpoint of the bake the leader is counting")
        // Another server pauses and resumes the step; the leader sees only the resumed save.
        try other.pause(reason: "by hand", now: 5_000)
        _ = try other.resume(now: 6_000)
        #expect(!leader.isSameBake(as: try saved(other)), "a resumed step bakes again from its start")
        // After its own promotion, its saves are of the new bake.
        _ = leader.probe(anomaly: nil, now: 9_000)
        #expect(leader.tick(now: Moment(Self.bake)) == .apply(step: 1, basisPoints: 500))
        let promoted = try saved(leader)
        _ = leader.tick(now: Moment(Self.bake + 2_000))
        #expect(leader.isSameBake(as: promoted))
        #expect(!leader.isSameBake(as: try saved(other)))
    }

    @Test func waitsForAtLeastOneCleanProbeInTheBake() throws {
        var rollout = try plan()
        #expect(rollout.tick(now: 60_000) == nil, "no probe yet: no evidence the step is healthy")
        _ = rollout.probe(anomaly: nil, now: 61_000)
        #expect(rollout.tick(now: 61_000) == .apply(step: 1, basisPoints: 500))
        #expect(rollout.tick(now: Moment(61_000 + Self.bake)) == nil, "the promoted step needs its own clean probe")
    }

    @Test(arguments: 0..<5)
    func anAnomalyAtAnyStepAbortsAndRollsBack(at abortStep: Int) throws {
        var rollout = try plan()
        var now: Int64 = 0
        while rollout.step < abortStep {
            _ = rollout.probe(anomaly: nil, now: Moment(now))
            now += Self.bake
            _ = rollout.tick(now: Moment(now))
        }
        #expect(rollout.step == abortStep)
        let action = rollout.probe(anomaly: "status 503", now: Moment(now + 1))
        guard case .rollBack(let reason)? = action else {
            Issue.record("expected a rollback, got \(String(describing: action))")
            return
        }
        #expect(reason.contains("status 503"))
        #expect(reason.contains("step \(abortStep + 1)/5"))
        #expect(rollout.phase == .aborted)
        #expect(rollout.endedAt == now + 1)
        // Nothing more happens to an aborted rollout.
        #expect(rollout.tick(now: Moment(now + 10 * Self.bake)) == nil)
        #expect(rollout.probe(anomaly: "again", now: Moment(now + 2)) == nil)
    }

    @Test func pauseHoldsTheStepAndResumeBakesItAgainInFull() throws {
        var rollout = try plan()
        _ = rollout.probe(anomaly: nil, now: 1_000)
        try rollout.pause(reason: "operator", now: 5_000)
        #expect(rollout.phase == .paused)
        #expect(rollout.tick(now: 50_000) == nil)
        #expect(try rollout.resume(now: 50_000) == .apply(step: 0, basisPoints: 100), "the step's share is applied again")
        #expect(rollout.bakedMs == 0)
        _ = rollout.probe(anomaly: nil, now: 51_000)
        #expect(rollout.tick(now: Moment(50_000 + Self.bake - 1)) == nil)
        #expect(rollout.tick(now: Moment(50_000 + Self.bake)) == .apply(step: 1, basisPoints: 500))
    }

    @Test func manualChangesAreRefusedWhileActiveUnlessForcedWhichPauses() throws {
        var rollout = try plan()
        #expect {
            _ = try rollout.manualChange(force: false, line: "shift api new 50%", now: 1)
        } throws: { "\($0)".contains("has an active rollout to new (step 1/5, 1%, baking)") }
        #expect(rollout.phase == .baking)
        #expect(try rollout.manualChange(force: true, line: "shift api new 50% --force", now: 2))
        #expect(rollout.phase == .paused)
        #expect(rollout.note == "paused by a forced manual change: shift api new 50% --force")
        // Paused: still refused without --force, allowed with it (and stays paused).
        #expect(throws: AdminError.self) { _ = try rollout.manualChange(force: false, line: "x", now: 3) }
        #expect(try rollout.manualChange(force: true, line: "x", now: 3) == false)
        // Once it has ended, manual changes are the operator's again.
        _ = try rollout.abort(reason: "operator", now: 4)
        #expect(try rollout.manualChange(force: false, line: "x", now: 5) == false)
    }

    @Test func anAnomalyWhilePausedStillRollsBack() throws {
        var rollout = try plan()
        try rollout.pause(reason: "operator", now: 1_000)
        #expect(rollout.probe(anomaly: "timeout after 1000ms", now: 2_000) != nil)
        #expect(rollout.phase == .aborted)
    }

    @Test func pauseResumeAndAbortRefuseTheWrongPhase() throws {
        var rollout = try plan()
        #expect(throws: AdminError.self) { try rollout.resume(now: 0) }
        try rollout.pause(reason: "x", now: 0)
        #expect(throws: AdminError.self) { try rollout.pause(reason: "x", now: 0) }
        _ = try rollout.abort(reason: "operator", now: 1)
        #expect(throws: AdminError.self) { try rollout.abort(reason: "again", now: 2) }
        #expect(throws: AdminError.self) { try rollout.resume(now: 2) }
    }

    @Test func aRestartMidBakeResumesFromTheSavedProgressAndSaysSo() throws {
        var rollout = try plan()
        _ = rollout.probe(anomaly: nil, now: 1_000)
        _ = rollout.tick(now: Moment(Self.bake))
        _ = rollout.probe(anomaly: nil, now: Moment(Self.bake + 1_000))
        _ = rollout.tick(now: Moment(Self.bake + 8_000))
        // The server stops 8 s into the second bake (its progress saved) and comes back on
        // another boot, whose monotonic clock starts near 0 while the wall clock is 100 s on.
        var resumed = try JSONDecoder().decode(Rollout.self, from: JSONEncoder().encode(rollout))
        resumed.restarted()
        #expect(resumed.step == 1)
        #expect(resumed.bakedMs == 8_000)
        #expect(resumed.note?.contains("resumed at server start, 8s of 10s done") == true)
        let boot = Moment(monotonic: 50, wall: 100_000)
        #expect(resumed.tick(now: boot) == nil, "time spent down is not time watched")
        #expect(resumed.tick(now: boot.adding(1_999)) == nil)
        #expect(resumed.tick(now: boot.adding(2_000)) == .apply(step: 2, basisPoints: 2_500))
    }

    /// The bake is measured on the monotonic clock: the wall clock stepping back or forward
    /// (NTP, an operator) neither lengthens nor shortens it.
    @Test(arguments: [-3_600_000, -5_000, 0, 5_000, 86_400_000] as [Int64])
    func aWallClockStepDoesNotMoveTheBake(step: Int64) throws {
        var rollout = try plan(at: Moment(monotonic: 0, wall: 1_700_000_000_000))
        _ = rollout.probe(anomaly: nil, now: 1_000)
        var now = Moment(monotonic: 4_000, wall: 1_700_000_004_000)
        #expect(rollout.tick(now: now) == nil)
        now.wall += step
        now.monotonic += 5_999
        #expect(rollout.tick(now: now) == nil, "9.999 s of 10 s baked whatever the wall clock says")
        now.monotonic += 1
        #expect(rollout.tick(now: now) == .apply(step: 1, basisPoints: 500))
    }

    @Test func survivesAJSONRoundTrip() throws {
        var rollout = try plan()
        _ = rollout.probe(anomaly: nil, now: 1_000)
        _ = rollout.tick(now: Moment(Self.bake))
        let data = try JSONEncoder().encode(rollout)
        #expect(try JSONDecoder().decode(Rollout.self, from: data) == rollout)
    }

    @Test func rollbackRestoresTheBaselineForTheOthers() throws {
        let rollout = try plan()
        let now = [WeightStore.Endpoint(id: "old", weight: 0), WeightStore.Endpoint(id: "new", weight: 100)]
        #expect(rollout.rollbackWeights(current: now) == [100, 0])
    }

    @Test func rollbackAlwaysTakesTheTargetOutEvenWhenTheOldEndpointsLeft() throws {
        let rollout = try Rollout(name: "api.example.com", target: "new", steps: [5_000], bakeMs: 1_000,
                                  baseline: [.init(id: "old", weight: 100), .init(id: "new", weight: 0), .init(id: "c", weight: 0)], now: 0)
        // A reload removed "old"; "c" had 0 before the rollout and has 40 now.
        #expect(rollout.rollbackWeights(current: [.init(id: "new", weight: 60), .init(id: "c", weight: 40)]) == [0, 40])
        // And with nothing else above 0, the others share equally.
        #expect(rollout.rollbackWeights(current: [.init(id: "new", weight: 60), .init(id: "c", weight: 0), .init(id: "d", weight: 0)]) == [0, 1, 1])
    }

    @Test(arguments: [
        ([Int](), "1 to 20 steps"),
        ([500, 100], "must increase"),
        ([100, 100], "must increase"),
        ([0, 100], "above 0%"),
        ([100, 10_001], "at most 100%"),
    ])
    func badPlansAreRefused(steps: [Int], message: String) {
        #expect {
            _ = try Rollout(name: "api.example.com", target: "new", steps: steps, bakeMs: 1_000, baseline: Self.baseline, now: 0)
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func badTargetsAndBakesAreRefused() {
        #expect(throws: AdminError.self) {
            try Rollout(name: "api.example.com", target: "nope", steps: [100], bakeMs: 1_000, baseline: Self.baseline, now: 0)
        }
        #expect(throws: AdminError.self) {
            try Rollout(name: "api.example.com", target: "new", steps: [100], bakeMs: 999, baseline: Self.baseline, now: 0)
        }
        let onlyTarget = [WeightStore.Endpoint(id: "old", weight: 0), WeightStore.Endpoint(id: "new", weight: 5)]
        #expect {
            _ = try Rollout(name: "api.example.com", target: "new", steps: [100], bakeMs: 1_000, baseline: onlyTarget, now: 0)
        } throws: { "\($0)".contains("nothing to roll back to") }
    }
}

/// What a server that does not bake a rollout shows of it: the leader's progress, counted on
/// from when the leader last counted it, by the wall clock.
struct RolloutProgressTests {
    static func rollout() throws -> Rollout {
        try Rollout(name: "api.example.com", target: "new", steps: [1000, 10_000], bakeMs: 30_000,
                    baseline: [WeightStore.Endpoint(id: "old", weight: 100), WeightStore.Endpoint(id: "new", weight: 0)],
                    now: Moment(monotonic: 0, wall: 1_000_000))
    }

    @Test func aFollowerCountsOnFromTheLeadersLastCount() throws {
        var leader = try Self.rollout()
        _ = leader.tick(now: Moment(monotonic: 2_000, wall: 1_002_000))
        // What a follower decodes: no tick of its own.
        let follower = try JSONDecoder().decode(Rollout.self, from: JSONEncoder().encode(leader))
        #expect(follower.bakedMs == 2_000)
        #expect(follower.baked(now: Moment(monotonic: 77, wall: 1_008_000)) == 8_000)
        #expect(follower.bakeEndsAt(now: Moment(monotonic: 77, wall: 1_008_000)) == 1_030_000)
        #expect(follower.baked(now: Moment(monotonic: 77, wall: 2_000_000)) == 30_000, "never past the bake")
        // The leader shows what it counted.
        #expect(leader.baked(now: Moment(monotonic: 2_500, wall: 1_008_000)) == 2_000)
    }

    @Test func aStateFromBeforeBakedAtShowsItsCheckpoint() throws {
        let leader = try Self.rollout()
        var object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(leader)) as? [String: Any])
        object["bakedAt"] = nil
        object["bakedMs"] = 5_000
        let old = try JSONDecoder().decode(Rollout.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(old.baked(now: Moment(monotonic: 0, wall: 9_000_000)) == 5_000)
    }
}
