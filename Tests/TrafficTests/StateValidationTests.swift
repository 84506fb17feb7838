import Testing
import Traffic
import Units

/// The one validation of a saved state: what passes, and for each kind of hostile state the
/// field and the reason it names.
struct StateValidationTests {
    static func endpoint(_ id: String, _ weight: UInt32) -> WeightStore.Endpoint { .init(id: id, weight: weight) }

    static let good = WeightStore.Name(name: "api.example.com.", endpoints: [endpoint("old", 75), endpoint("new", 25)],
                                       undo: [[100, 0], [90, 10]])

    static func rollout(steps: [Int] = [100, 2500, 10_000], target: String = "new", bakeMs: Int64 = 600_000,
                        baseline: [WeightStore.Endpoint] = [endpoint("old", 100), endpoint("new", 0)]) throws -> Rollout {
        try Rollout(name: "api.example.com.", target: target, steps: steps, bakeMs: bakeMs, baseline: baseline,
                    now: Moment(monotonic: 0, wall: 1_764_700_000_000))
    }

    @Test func aStateCommandsCouldHaveMadePasses() throws {
        try StateValidation.check(names: [Self.good], rollouts: [try Self.rollout()])
        try PersistedState(store: WeightStore(names: [Self.good]), rollouts: [], revision: 3).validate()
    }

    @Test(arguments: [
        ([WeightStore.Name(name: "api.example.com.", endpoints: [endpoint("old", 75), endpoint("new", 25)], undo: [[100, 0], [1, 2, 3]])],
         "names[0].undo[1]: 3 weights for 2 endpoints"),
        ([.init(name: "api.example.com.", endpoints: [endpoint("old", 75), endpoint("new", 25)], undo: [[0, 0]])],
         "names[0].undo[0]: every weight is 0"),
        ([.init(name: "api.example.com.", endpoints: [endpoint("old", 75), endpoint("new", 25)], undo: [[5]])],
         "names[0].undo[0]: 1 weight for 2 endpoints"),
        ([.init(name: "api.example.com.", endpoints: [endpoint("old", 75), endpoint("new", 25)], undo: [[1_000_001, 0]])],
         "names[0].undo[0]: weight 1000001 is above the largest weight 1000000"),
        ([.init(name: "api.example.com.", endpoints: [endpoint("old", 2_000_000), endpoint("new", 25)])],
         "names[0].endpoints[0].weight: 2000000 is above the largest weight 1000000"),
        ([.init(name: "api.example.com.", endpoints: [endpoint("old", 0), endpoint("new", 0)])],
         "names[0].endpoints: every weight is 0; a weighted name needs one endpoint above 0"),
        ([.init(name: "api.example.com.", endpoints: [endpoint("old", 1), endpoint("old", 2)])],
         "names[0].endpoints[1].id: endpoint \"old\" appears twice (also names[0].endpoints[0])"),
        ([.init(name: "api.example.com.", endpoints: [endpoint("", 1)])], "names[0].endpoints[0].id: empty"),
        ([.init(name: "api.example.com.", endpoints: [])], "names[0].endpoints: no endpoints"),
        ([.init(name: "", endpoints: [endpoint("a", 1)])], "names[0].name: empty"),
        ([good, .init(name: "API.example.com", endpoints: [endpoint("a", 1)])],
         "names[1].name: api.example.com. appears twice (also names[0])"),
    ] as [([WeightStore.Name], String)])
    func aHostileNameIsRefusedNamingTheField(names: [WeightStore.Name], message: String) {
        #expect(throws: StoreError(.corrupt, message)) { try StateValidation.check(names: names, rollouts: []) }
    }

    @Test func twoRolloutsOfOneNameAreRefused() throws {
        let rollout = try Self.rollout()
        let other = try Self.rollout(target: "old", baseline: [Self.endpoint("old", 0), Self.endpoint("x", 5)])
        #expect(throws: StoreError(.corrupt, "rollouts[1].name: api.example.com. has two rollouts (also rollouts[0])")) {
            try StateValidation.check(names: [], rollouts: [rollout, other])
        }
    }

    @Test func theUndoEntryProblemIsSharedWithUndo() {
        #expect(StateValidation.problem([1, 2], endpoints: 2) == nil)
        #expect(StateValidation.problem([1, 2, 3], endpoints: 2) == "3 weights for 2 endpoints")
        #expect(StateValidation.problem([0, 0], endpoints: 2) == "every weight is 0")
    }

    /// Repro 2: an undo entry longer than the name used to trap in `write`.
    @Test func undoWithMoreWeightsThanEndpointsIsRefusedNotACrash() {
        let store = WeightStore(names: [.init(name: "api.example.com.", endpoints: [Self.endpoint("old", 75), Self.endpoint("new", 25)],
                                              undo: [[50, 50, 7]])])
        #expect(throws: AdminError.badValue("the last undo entry of api.example.com. cannot be restored: 3 weights for 2 endpoints")) {
            try store.undoing("api.example.com", at: 1)
        }
    }

    /// Repro 3: undo to `[0,0]` used to answer ok and leave the name with nothing to answer.
    @Test func anUndoToAllZeroIsRefused() {
        let store = WeightStore(names: [.init(name: "api.example.com.", endpoints: [Self.endpoint("old", 75), Self.endpoint("new", 25)],
                                              undo: [[0, 0]])])
        #expect(throws: AdminError.allZero("api.example.com.", [("old", 0), ("new", 0)])) { try store.undoing("api.example.com", at: 1) }
    }

    @Test func anUndoWithFewerWeightsIsRefusedToo() {
        let store = WeightStore(names: [.init(name: "api.example.com.", endpoints: [Self.endpoint("old", 75), Self.endpoint("new", 25)],
                                              undo: [[5]])])
        #expect(throws: AdminError.badValue("the last undo entry of api.example.com. cannot be restored: 1 weight for 2 endpoints")) {
            try store.undoing("api.example.com", at: 1)
        }
    }
}
