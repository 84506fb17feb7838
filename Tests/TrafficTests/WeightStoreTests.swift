import Testing
import Traffic

/// Weight commands on the store: the new weights, the changes, and refusals that change nothing.
struct WeightStoreTests {
    let store = WeightStore(names: [
        .init(name: "api.example.com.", endpoints: [.init(id: "old", weight: 100), .init(id: "new", weight: 0)]),
        .init(name: "pool.example.com.", endpoints: [.init(id: "a", weight: 50), .init(id: "b", weight: 50), .init(id: "c", weight: 0)]),
    ])

    @Test func setWeightRecordsTheChangeAndTheUndoStep() throws {
        let (next, changes) = try store.setting("API.example.com", "new", to: 10, at: 1000)
        #expect(next.name("api.example.com")?.weights == [100, 10])
        #expect(changes == [.init(name: "api.example.com.", endpoint: "new", old: 0, new: 10)])
        #expect(next.name("api.example.com.")?.undo == [[100, 0]])
        #expect(next.name("api.example.com.")?.endpoints[1].raisedAt == 1000)
    }

    @Test(arguments: [
        (2500, [75, 25]), (100, [99, 1]), (10_000, [0, 100]), (0, [100, 0]), (50, [9950, 50]), (5000, [50, 50]),
    ] as [(Int, [UInt32])])
    func shiftGivesTheShareAndScalesTheRest(_ basisPoints: Int, _ expected: [UInt32]) throws {
        let (next, _) = try store.shifting("api.example.com.", "new", toBasisPoints: basisPoints, at: 0)
        #expect(next.name("api.example.com.")?.weights == expected)
    }

    @Test func shiftScalesOthersInProportionWithExactTotal() throws {
        let (next, _) = try store.shifting("pool.example.com.", "c", toBasisPoints: 2000, at: 0)
        #expect(next.name("pool.example.com.")?.weights == [40, 40, 20])
        let (odd, _) = try store.shifting("pool.example.com.", "c", toBasisPoints: 2500, at: 0)
        #expect(odd.name("pool.example.com.")?.weights.reduce(0, +) == 100)
        #expect(odd.name("pool.example.com.")?.weights[2] == 25)
    }

    @Test func shiftToZeroWhenOthersAreDrainedSharesEqually() throws {
        let drained = try store.setting("api.example.com.", "new", to: 5, at: 0).0
        let onlyNew = try drained.setting("api.example.com.", "old", to: 0, at: 0).0
        let (next, _) = try onlyNew.shifting("api.example.com.", "new", toBasisPoints: 0, at: 0)
        #expect(next.name("api.example.com.")?.weights == [100, 0])
    }

    @Test func drainingTheLastEndpointIsRefusedAndChangesNothing() throws {
        #expect(throws: AdminError.allZero("api.example.com.", [("old", 0), ("new", 0)])) {
            try store.draining("api.example.com.", "old", at: 0)
        }
        let text = "\(AdminError.allZero("api.example.com.", [("old", 0), ("new", 0)]))"
        #expect(text == "refused: every endpoint of api.example.com. would have weight 0 (old=0 new=0); raise another endpoint first")
    }

    @Test func unknownNamesAndEndpointsSayWhatExists() {
        #expect(throws: AdminError.unknownName("www.example.com.", ["api.example.com.", "pool.example.com."])) {
            try store.setting("www.example.com", "x", to: 1, at: 0)
        }
        #expect("\(AdminError.unknownEndpoint("api.example.com.", "blue", ["old", "new"]))"
                == "api.example.com. has no endpoint \"blue\"; endpoints: old, new")
        #expect(throws: AdminError.unknownEndpoint("api.example.com.", "blue", ["old", "new"])) {
            try store.shifting("api.example.com", "blue", toBasisPoints: 100, at: 0)
        }
    }

    @Test func undoRestoresTheWeightsBeforeEachChangeInTurn() throws {
        let first = try store.shifting("api.example.com.", "new", toBasisPoints: 2500, at: 0).0
        let second = try first.shifting("api.example.com.", "new", toBasisPoints: 5000, at: 0).0
        let (undone, changes) = try second.undoing("api.example.com.", at: 0)
        #expect(undone.name("api.example.com.")?.weights == [75, 25])
        #expect(changes.count == 2)
        let (original, _) = try undone.undoing("api.example.com.", at: 0)
        #expect(original.name("api.example.com.")?.weights == [100, 0])
        #expect(throws: AdminError.nothingToUndo("api.example.com.")) { try original.undoing("api.example.com.", at: 0) }
    }

    @Test func settingTheSameWeightIsNoChange() throws {
        let (next, changes) = try store.setting("api.example.com.", "old", to: 100, at: 0)
        #expect(changes.isEmpty)
        #expect(next == store)
    }

    @Test func reconcileKeepsSavedWeightsDropsVanishedAndAddsNew() {
        let declared = [
            WeightStore.Declared(name: "api.example.com.", endpoints: [("old", 100), ("new", 0), ("canary", 5)]),
            WeightStore.Declared(name: "web.example.com.", endpoints: [("x", 1)]),
        ]
        let saved = WeightStore(names: [
            .init(name: "api.example.com.", endpoints: [.init(id: "old", weight: 60), .init(id: "new", weight: 40), .init(id: "gone", weight: 3)]),
            .init(name: "pool.example.com.", endpoints: [.init(id: "a", weight: 1)]),
        ])
        let (merged, notes) = saved.reconciled(with: declared)
        #expect(merged.name("api.example.com.")?.weights == [60, 40, 5])
        #expect(merged.name("web.example.com.")?.weights == [1])
        #expect(merged.name("pool.example.com.") == nil)
        #expect(notes == [
            "api.example.com. endpoint canary is new: zone weight 5",
            "api.example.com. endpoint gone is no longer in the zone: saved weight 3 dropped",
            "pool.example.com. is no longer a weighted name in the zones: saved weights dropped",
        ])
    }
}

extension WeightStore {
    /// Weight 0: never chosen (what `drain` does, as the control plane calls it).
    func draining(_ nameText: String, _ endpoint: String, at now: Int64) throws(AdminError) -> (WeightStore, [Change]) {
        try setting(nameText, endpoint, to: 0, at: now)
    }
}
