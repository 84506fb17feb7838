import Foundation
import Testing
@testable import VeerServer

/// `veer rollout wait`'s decisions from two successive looks at a rollout.
struct RolloutWaitTests {
    typealias State = RolloutWatch.State

    static func state(_ phase: String, step: Int = 1, share: String = "10%", note: String? = nil) -> State {
        State(name: "api.example.com.", target: "new", phase: phase, step: step, steps: ["10%", "50%", "100%"], share: share, note: note)
    }

    @Test func theFirstLookPrintsTheStepAndKeepsWaitingWhileItBakes() {
        let watch = RolloutWatch.decide(previous: nil, current: Self.state("baking"))
        #expect(watch.line == "step 1/3 10% baking")
        #expect(watch.exit == nil)
        #expect(watch.message == nil)
    }

    @Test func nothingIsPrintedWhenNothingChanged() {
        let watch = RolloutWatch.decide(previous: Self.state("baking"), current: Self.state("baking"))
        #expect(watch == RolloutWatch())
    }

    @Test func aPromotionPrintsTheNewStep() {
        let watch = RolloutWatch.decide(previous: Self.state("baking"), current: Self.state("baking", step: 2, share: "50%"))
        #expect(watch.line == "step 2/3 50% baking")
        #expect(watch.exit == nil)
    }

    @Test func aNoteAloneIsAChange() {
        let note = "bake of step 1 resumed at server start"
        let watch = RolloutWatch.decide(previous: Self.state("baking"), current: Self.state("baking", note: note))
        #expect(watch.line == "step 1/3 10% baking note: \(note)")
        #expect(watch.exit == nil)
    }

    @Test func completedExitsZero() {
        let watch = RolloutWatch.decide(previous: Self.state("baking", step: 3, share: "100%"),
                                        current: Self.state("completed", step: 3, share: "100%"))
        #expect(watch.line == "step 3/3 100% completed")
        #expect(watch.exit == 0)
        #expect(watch.message == nil)
    }

    @Test func abortedExitsOneWithTheReason() {
        let note = "anomaly on new: status 503"
        let watch = RolloutWatch.decide(previous: Self.state("baking", step: 2, share: "50%"),
                                        current: Self.state("aborted", step: 2, share: "0%", note: note))
        #expect(watch.line == "step 2/3 0% aborted note: \(note)")
        #expect(watch.exit == 1)
        #expect(watch.message == "rollout of api.example.com. to new aborted at step 2/3, rolled back: \(note)")
    }

    @Test func pausedExitsTwoWithTheNote() {
        let watch = RolloutWatch.decide(previous: Self.state("baking"), current: Self.state("paused", note: "paused by uid 1000"))
        #expect(watch.exit == 2)
        #expect(watch.message == "rollout of api.example.com. to new paused at step 1/3: paused by uid 1000")
    }

    @Test func aRolloutAlreadyOverExitsOnTheFirstLook() {
        let watch = RolloutWatch.decide(previous: nil, current: Self.state("completed", step: 3, share: "100%"))
        #expect(watch.line == "step 3/3 100% completed")
        #expect(watch.exit == 0)
    }

    @Test func timingOutExitsThreeAndSaysWhereItWas() {
        let watch = RolloutWatch.timeout(last: Self.state("baking"), timeoutMs: 1000)
        #expect(watch.exit == 3)
        #expect(watch.message == "rollout still running after 1s (baking at step 1/3, 10%); it goes on, only the wait stopped")
    }

    @Test func theStateDecodesFromRolloutStatusJSON() throws {
        let json = """
            [{"bake":"1s","cleanProbes":2,"name":"api.example.com.","phase":"baking","share":"10%","startedAt":"2026-12-07T05:00:00Z",
              "step":1,"steps":["10%","100%"],"target":"new"}]
            """
        let state = try JSONDecoder().decode([State].self, from: Data(json.utf8))
        #expect(state == [State(name: "api.example.com.", target: "new", phase: "baking", step: 1, steps: ["10%", "100%"], share: "10%", note: nil)])
    }
}
