import Foundation
import Testing
import Traffic
@testable import VeerServer

/// The local state directory as a `StateStore`: today's files load, saves compare the
/// revision, audit lines append.
struct FileStateStoreTests {
    func directory() throws -> String {
        let path = NSTemporaryDirectory() + "veer-state-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A weights.json as the server before the StateStore wrote it: no revision, a rollout
    /// with its wall-clock `bakeStartedAt` and no `bakedMs`.
    static let earlierFile = """
        {
          "names" : [ { "endpoints" : [ { "id" : "old", "weight" : 75 }, { "id" : "new", "raisedAt" : 1764700000, "weight" : 25 } ],
                        "name" : "api.example.com.", "undo" : [ [ 100, 0 ] ] } ],
          "rollouts" : [ { "bakeMs" : 600000, "bakeStartedAt" : 1764700000000, "baseline" : [ { "id" : "old", "weight" : 100 }, { "id" : "new", "weight" : 0 } ],
                           "cleanProbes" : 2, "name" : "api.example.com.", "phase" : "baking", "startedAt" : 1764700000000,
                           "step" : 1, "steps" : [ 100, 2500, 10000 ], "target" : "new" } ],
          "version" : 1
        }
        """

    @Test func aStateFileWrittenBeforeTheStateStoreLoads() throws {
        let dir = try directory()
        try Self.earlierFile.write(toFile: dir + "/weights.json", atomically: true, encoding: .utf8)
        let store = try FileStateStore(directory: dir)
        let state = try #require(try store.load())
        #expect(state.revision == 0)
        #expect(state.store.name("api.example.com")?.weights == [75, 25])
        #expect(state.store.name("api.example.com")?.endpoints[1].raisedAt == 1_764_700_000)
        #expect(state.rollouts.first?.step == 1)
        #expect(state.rollouts.first?.bakedMs == 0, "no saved progress: the bake starts again")
        #expect(state.seed == nil, "no cohort seed saved yet: the server makes one and saves it")
        #expect(try store.save(state.store, rollouts: state.rollouts, seed: .zero, replacing: 0) == 1)
        #expect(try FileStateStore(directory: dir).load()?.revision == 1)
    }

    @Test func theCohortSeedIsSavedAndReadBack() throws {
        let dir = try directory()
        let seed = CohortSeed(k0: 0x0011_2233_4455_6677, k1: 0x8899_AABB_CCDD_EEFF)
        _ = try FileStateStore(directory: dir).save(WeightStore(), rollouts: [], seed: seed, replacing: 0)
        #expect(try FileStateStore(directory: dir).load()?.seed == seed)
        let text = try String(contentsOfFile: dir + "/weights.json", encoding: .utf8)
        #expect(text.contains("\"seed\" : \"00112233445566778899aabbccddeeff\""))
        try text.replacing("00112233", with: "0011223X").write(toFile: dir + "/weights.json", atomically: true, encoding: .utf8)
        #expect { try FileStateStore(directory: dir).load() } throws: { "\($0)".contains("seed must be 32 lowercase hex digits") }
    }

    @Test func aSaveFromAStaleRevisionIsAConflict() throws {
        let store = try FileStateStore(directory: try directory())
        #expect(try store.save(WeightStore(), rollouts: [], seed: .zero, replacing: 0) == 1)
        #expect(throws: StoreError.self) { try store.save(WeightStore(), rollouts: [], seed: .zero, replacing: 0) }
        do {
            _ = try store.save(WeightStore(), rollouts: [], seed: .zero, replacing: 0)
        } catch {
            #expect(error.kind == .conflict(stored: 1))
        }
    }

    @Test func auditLinesAppendAndFilterByName() throws {
        let store = try FileStateStore(directory: try directory())
        try store.append([AuditEntry(at: 0, requester: .uid(1000), name: NameKey("api.example.com"), text: "new 0 -> 25", reason: "shift \"x\""),
                          AuditEntry(at: 60, requester: nil, name: NameKey("pool.example.com"), text: "blue 1 -> 0", reason: "rollback")])
        #expect(try store.history(name: nil, limit: 10) == [
            "1970-01-01T00:00:00Z uid=1000 api.example.com. new 0 -> 25 reason=\"shift \\\"x\\\"\"",
            "1970-01-01T00:01:00Z uid=veer pool.example.com. blue 1 -> 0 reason=\"rollback\"",
        ])
        #expect(try store.history(name: NameKey("POOL.example.com"), limit: 10).count == 1)
    }

    @Test func aCorruptStateFileStopsStartUpWithWhereAndWhy() throws {
        let dir = try directory()
        try "{\"version\": 1, \"names\": 3}".write(toFile: dir + "/weights.json", atomically: true, encoding: .utf8)
        #expect { try FileStateStore(directory: dir).load() } throws: { "\($0)".contains("is corrupt (names:") }
    }

    @Test(arguments: [(Int64(0), "1970-01-01T00:00:00Z"), (951_782_400, "2000-02-29T00:00:00Z"),
                      (1_796_212_800, "2026-12-02T12:00:00Z"), (-1, "1969-12-31T23:59:59Z")])
    func timestampsAreRFC3339(seconds: Int64, text: String) {
        #expect(Timestamp.text(seconds) == text)
    }

    static func change(_ at: Int64, _ text: String) -> AuditEntry {
        AuditEntry(at: at, requester: .uid(0), name: NameKey("api.example.com"), text: text, reason: "weight api.example.com new")
    }

    func commit(_ store: FileStateStore, _ weight: UInt32, revision: UInt64, _ audit: [AuditEntry]) -> PersistOutcome {
        let weights = WeightStore(names: [WeightStore.Name(name: "api.example.com.", endpoints: [WeightStore.Endpoint(id: "new", weight: weight)])])
        return store.commit(PersistRequest(store: weights, rollouts: [], seed: .zero, revision: revision, audit: audit))
    }

    /// SIGKILL between saving a change and writing its audit line: the next start appends the
    /// line, so the change is in both files (the chaos test's kill section found this gap).
    /// A state directory after two changes: its path, the audit log's path and its text.
    func twoChanges() throws -> (dir: String, audit: String, complete: String) {
        let dir = try directory()
        let store = try FileStateStore(directory: dir)
        #expect(commit(store, 10, revision: 0, [Self.change(60, "new 0 -> 10")]) == .saved(revision: 1))
        #expect(commit(store, 20, revision: 1, [Self.change(61, "new 10 -> 20")]) == .saved(revision: 2))
        return (dir, dir + "/audit.log", try String(contentsOfFile: dir + "/audit.log", encoding: .utf8))
    }

    @Test func aChangeSavedButNotAuditedGetsItsLineAtTheNextStart() throws {
        let (dir, audit, complete) = try twoChanges()
        #expect(complete.split(separator: "\n").count == 2)
        // Veer died after the rename of weights.json and before the append: the log lacks the
        // second line.
        let first = String(complete.split(separator: "\n")[0]) + "\n"
        try first.write(toFile: audit, atomically: true, encoding: .utf8)
        let state = try #require(try FileStateStore(directory: dir).load())
        #expect(state.store.name("api.example.com")?.weights == [20])
        #expect(try String(contentsOfFile: audit, encoding: .utf8) == complete)
        // A start with both files in step appends nothing.
        _ = try FileStateStore(directory: dir).load()
        #expect(try String(contentsOfFile: audit, encoding: .utf8) == complete)
    }

    @Test func aTornLastAuditLineIsCompletedFromTheState() throws {
        let (dir, audit, complete) = try twoChanges()
        // The second line cut half way, as a write interrupted by a crash leaves it.
        try String(complete.dropLast(20)).write(toFile: audit, atomically: true, encoding: .utf8)
        _ = try FileStateStore(directory: dir).load()
        #expect(try String(contentsOfFile: audit, encoding: .utf8) == complete)
    }

    @Test func linesAppendedByOthersAfterOursAreLeftAlone() throws {
        let (dir, audit, complete) = try twoChanges()
        try (complete + "a note an operator added\n").write(toFile: audit, atomically: true, encoding: .utf8)
        _ = try FileStateStore(directory: dir).load()
        #expect(try String(contentsOfFile: audit, encoding: .utf8) == complete + "a note an operator added\n")
    }

    @Test func aLogRotatedAfterTheLastChangeGetsNothingAppended() throws {
        let (dir, audit, _) = try twoChanges()
        try "".write(toFile: audit, atomically: true, encoding: .utf8)
        _ = try FileStateStore(directory: dir).load()
        #expect(try String(contentsOfFile: audit, encoding: .utf8) == "", "the lines went with the rotated file")
    }

    @Test func anAuditLogThatCannotBeCompletedDoesNotStopStartUpAndIsCompletedLater() throws {
        let (dir, audit, complete) = try twoChanges()
        let first = String(complete.split(separator: "\n")[0]) + "\n"
        // The second line is missing and the log cannot be read at start (a directory there).
        try FileManager.default.moveItem(atPath: audit, toPath: dir + "/audit.saved")
        try FileManager.default.createDirectory(atPath: audit, withIntermediateDirectories: false)
        let store = try FileStateStore(directory: dir)
        let state = try #require(try store.load(), "the server starts")
        #expect(state.revision == 2)
        try FileManager.default.removeItem(atPath: audit)
        try first.write(toFile: audit, atomically: true, encoding: .utf8)
        // The next change writes the owed line first.
        #expect(commit(store, 30, revision: 2, [Self.change(62, "new 20 -> 30")]) == .saved(revision: 3))
        let lines = try String(contentsOfFile: audit, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3 && lines[1].contains("new 10 -> 20") && lines[2].contains("new 20 -> 30"))
    }
}
