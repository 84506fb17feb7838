import Testing
import TestSupport
import Traffic
@testable import VeerServer

/// The state decoder every source goes through (`weights.json`, etcd's state key, `store
/// import`): hostile documents are refused naming the field, and no input traps it.
struct StateDocumentTests {
    static let valid = """
        {
          "names" : [ { "endpoints" : [ { "id" : "old", "weight" : 75 }, { "id" : "new", "raisedAt" : 1764700000, "weight" : 25 } ],
                        "name" : "api.example.com.", "undo" : [ [ 100, 0 ], [ 90, 10 ] ] },
                      { "endpoints" : [ { "id" : "a", "weight" : 1 }, { "id" : "b", "weight" : 0 }, { "id" : "c", "weight" : 1000000 } ],
                        "name" : "pool.example.com.", "undo" : [ ] } ],
          "revision" : 7,
          "rollouts" : [ { "bakeMs" : 600000, "bakedMs" : 1000, "baseline" : [ { "id" : "old", "weight" : 100 }, { "id" : "new", "weight" : 0 } ],
                           "cleanProbes" : 2, "name" : "api.example.com.", "phase" : "baking", "startedAt" : 1764700000000,
                           "step" : 1, "steps" : [ 100, 2500, 10000 ], "target" : "new" } ],
          "seed" : "000102030405060708090a0b0c0d0e0f",
          "version" : 1
        }
        """

    static func decode(_ text: String) throws(StoreError) -> PersistedState {
        try StateDocument.decode(Array(text.utf8), from: "weights.json", revision: nil)
    }

    @Test func aValidDocumentDecodesAndValidates() throws {
        let state = try Self.decode(Self.valid)
        #expect(state.revision == 7)
        #expect(state.store.name("api.example.com.")?.undo == [[100, 0], [90, 10]])
        try state.validate()
    }

    /// Each hostile document, changed from `valid` by one replacement, and what it says.
    @Test(arguments: [
        ("[ 90, 10 ]", "[ 90, 10, 5 ]", "weights.json: names[0].undo[1]: 3 weights for 2 endpoints"),
        ("[ 90, 10 ]", "[ 0, 0 ]", "weights.json: names[0].undo[1]: every weight is 0"),
        ("\"weight\" : 1000000", "\"weight\" : 1000001", "weights.json: names[1].endpoints[2].weight: 1000001 is above the largest weight 1000000"),
        ("{ \"id\" : \"b\"", "{ \"id\" : \"a\"", "weights.json: names[1].endpoints[1].id: endpoint \"a\" appears twice (also names[1].endpoints[0])"),
        ("\"weight\" : 75 }, { \"id\" : \"new\", \"raisedAt\" : 1764700000, \"weight\" : 25", "\"weight\" : 0 }, { \"id\" : \"new\", \"weight\" : 0",
         "weights.json: names[0].endpoints: every weight is 0; a weighted name needs one endpoint above 0"),
        ("\"name\" : \"pool.example.com.\"", "\"name\" : \"API.example.com.\"", "weights.json: names[1].name: api.example.com. appears twice (also names[0])"),
        ("\"target\" : \"new\"", "\"target\" : \"gone\"", "weights.json: rollouts[0].target: \"gone\" is not among the baseline's endpoints old, new"),
        ("\"steps\" : [ 100, 2500, 10000 ]", "\"steps\" : [ 2500, 100, 10000 ]", "weights.json: rollouts[0].steps[1]: 100 after 2500; steps must increase"),
        ("\"steps\" : [ 100, 2500, 10000 ]", "\"steps\" : [ 100, 2500, 20000 ]", "weights.json: rollouts[0].steps[2]: 20000 basis points; a step is above 0 and at most 10000"),
        ("\"bakeMs\" : 600000", "\"bakeMs\" : 0", "weights.json: rollouts[0].bakeMs: 0 ms; a bake is from 1s to 7d"),
        ("\"cleanProbes\" : 2", "\"cleanProbes\" : -2", "weights.json: rollouts[0].cleanProbes: -2 is negative"),
    ])
    func aHostileDocumentIsRefusedNamingTheField(from: String, to: String, message: String) {
        let text = Self.valid.replacing(from, with: to, maxReplacements: 1)
        #expect(text != Self.valid)
        #expect(throws: StoreError(.corrupt, message)) { try Self.decode(text) }
    }

    /// Numbers that do not fit: Foundation says "not valid JSON" with no path; Veer names the field.
    @Test(arguments: [
        ("\"weight\" : 75", "\"weight\" : -1", "names[0].endpoints[0].weight: expected a whole number from 0 to 4294967295, found -1.0"),
        ("\"weight\" : 75", "\"weight\" : 1.5", "names[0].endpoints[0].weight: expected a whole number from 0 to 4294967295, found 1.5"),
        ("\"weight\" : 75", "\"weight\" : 99999999999", "names[0].endpoints[0].weight: expected a whole number from 0 to 4294967295, found 99999999999.0"),
        ("[ 90, 10 ]", "[ 90, -10 ]", "names[0].undo[1][1]: expected a whole number from 0 to 4294967295, found -10.0"),
        ("\"weight\" : 75", "\"weight\" : \"75\"", "names[0].endpoints[0].weight: Expected to decode Double but found a string instead."),
    ])
    func aNumericTypeErrorNamesTheField(from: String, to: String, detail: String) {
        let text = Self.valid.replacing(from, with: to, maxReplacements: 1)
        #expect(throws: StoreError(.corrupt, "weights.json is corrupt (\(detail)); repair it or move it away to start from the zone weights")) {
            try Self.decode(text)
        }
    }

    /// The bounded run of the state fuzz target (`fuzz/StateFuzz.swift` runs it for longer):
    /// thousands of seeded mutations of valid documents, each of which either decodes to a
    /// state that passes validation and can be undone without trapping, or is refused.
    @Test func mutatedStateDocumentsDecodeValidOrAreRefusedNeverTrap() throws {
        var random = SplitMix64(seed: 0x5741_7465_2023)
        let seeds = [Array(Self.valid.utf8), Array(Self.valid.replacing("[ [ 100, 0 ], [ 90, 10 ] ]", with: "[ ]").utf8)]
        var decoded = 0, refused = 0
        for round in 0..<4_000 {
            let input = Self.mutate(seeds[round % seeds.count], &random)
            do {
                let state = try StateDocument.decode(input, from: "fuzz", revision: nil)
                try state.validate()
                for name in state.store.names { _ = try? state.store.undoing(name.name, at: 0) }
                decoded += 1
            } catch {
                refused += 1
            }
        }
        #expect(decoded + refused == 4_000)
        // The mutations must reach past the parser, or the run proves little.
        #expect(decoded > 100)
        #expect(refused > 100)
    }

    /// One to four edits: a byte flipped, a digit or JSON token put in, a span cut or doubled.
    static func mutate(_ bytes: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var out = bytes
        let tokens = ["0", "-1", "1000001", "4294967296", "1.5", "null", "[]", "{}", "\"\"", ",", "[ 0, 0 ]", "[ 1, 2, 3 ]",
                      "\"old\"", "\"paused\"", "99"].map { Array($0.utf8) }
        for _ in 0...random.below(4) {
            guard !out.isEmpty else { break }
            let at = random.below(out.count)
            switch random.below(5) {
            case 0: out[at] = random.byte()
            case 1: out[at] = UInt8(ascii: "0") + UInt8(random.below(10))
            case 2: out.insert(contentsOf: tokens[random.below(tokens.count)], at: at)
            case 3: out.removeSubrange(at..<min(out.count, at + 1 + random.below(16)))
            default:
                let end = min(out.count, at + 1 + random.below(32))
                out.insert(contentsOf: out[at..<end], at: end)
            }
        }
        return out
    }
}
