import Foundation
import Posix
import Testing
import TestSupport

/// Saved states that no command could have made, against the real binary: from an edited
/// `weights.json` they stop start-up naming the field; from etcd they are never adopted, the
/// servers keep answering with the last good weights, say so, and `store restore` brings
/// changes back (issue 23, repros 2, 3 and 6).
@Suite(.serialized)
struct HostileStateTests {
    /// `weights.json` for the zone's api.example.com with `undo` and `endpoints` as given.
    static func stateFile(endpoints: String = #"[{"id":"old","weight":75},{"id":"new","weight":25}]"#, undo: String) -> String {
        #"{"version":1,"revision":4,"names":[{"name":"api.example.com.","endpoints":"# + endpoints + #","undo":"# + undo + "}]}"
    }

    @Test(arguments: [
        (stateFile(undo: "[[50,50,7]]"), "names[0].undo[0]: 3 weights for 2 endpoints"),
        (stateFile(undo: "[[0,0]]"), "names[0].undo[0]: every weight is 0"),
        (stateFile(endpoints: #"[{"id":"old","weight":1000001},{"id":"new","weight":25}]"#, undo: "[]"),
         "names[0].endpoints[0].weight: 1000001 is above the largest weight 1000000"),
        (stateFile(endpoints: #"[{"id":"old","weight":5},{"id":"old","weight":25}]"#, undo: "[]"),
         "names[0].endpoints[1].id: endpoint \"old\" appears twice"),
        (stateFile(endpoints: #"[{"id":"old","weight":-1},{"id":"new","weight":25}]"#, undo: "[]"),
         "names[0].endpoints[0].weight: expected a whole number from 0 to 4294967295, found -1.0"),
    ])
    func aHostileStateFileStopsStartUpNamingTheField(file: String, message: String) throws {
        let state = try WeightsTests.stateDirectory()
        try FileIO.writeAtomically(Array(file.utf8), to: state + "/weights.json")
        #expect {
            try WeightsTests.start(state: state)
        } throws: { error in
            "\(error)".contains("state file \(state)/weights.json") && "\(error)".contains(message)
        }
    }

    /// Repro 2 on the real binary: the entry that trapped `undo` now stops start-up instead.
    @Test func undoWithMoreWeightsThanEndpointsIsRefusedNotACrash() throws {
        let state = try WeightsTests.stateDirectory()
        try FileIO.writeAtomically(Array(Self.stateFile(undo: "[[100,0],[50,50,7]]").utf8), to: state + "/weights.json")
        #expect {
            try WeightsTests.start(state: state)
        } throws: { error in
            "\(error)".contains("names[0].undo[1]: 3 weights for 2 endpoints")
        }
    }

    /// Repro 3: an undo back to all zeros is refused like every other change that drains all.
    @Test func anUndoToAllZeroIsRefused() throws {
        let state = try WeightsTests.stateDirectory()
        let server = try WeightsTests.start(state: state)
        #expect(try WeightsTests.veer(state, "shift", "api.example.com", "new", "100%").status == 0)
        let undo = try WeightsTests.veer(state, "undo", "api.example.com")
        #expect(undo.status == 0, "back to old=100 new=0: \(undo.output)")
        // The zone's own weights are the floor: an all-zero entry can come only from outside.
        server.stop()
        try FileIO.writeAtomically(Array(Self.stateFile(undo: "[[0,0]]").utf8), to: state + "/weights.json")
        #expect {
            try WeightsTests.start(state: state)
        } throws: { error in
            "\(error)".contains("names[0].undo[0]: every weight is 0")
        }
    }

    /// `veer store import` reads the local state through the same check: a hostile file
    /// never reaches etcd.
    @Test func aHostileStateFileIsNotImportedIntoEtcd() throws {
        let etcd = try EtcdCluster()
        let state = try WeightsTests.stateDirectory()
        try FileIO.writeAtomically(Array(Self.stateFile(undo: "[[50,50,7]]").utf8), to: state + "/weights.json")
        let imported = try runProgram(try Tools.veer(), ["store", "import", "--state-dir", state, "--store", "etcd=\(etcd.clientURLs)"])
        #expect(imported.status == 1, "\(imported.output)")
        #expect(imported.output.contains("names[0].undo[0]: 3 weights for 2 endpoints"), "\(imported.output)")
        // Nothing arrived: a server on that etcd starts from the zone's weights.
        let shared = try FileIO.makeTemporaryDirectory(prefix: "veer-shared-")
        let member = try VeerProcess(zones: ["example.com.zone": WeightsTests.zone],
                                     extraArguments: ["--state-dir", shared, "--store", "etcd=\(etcd.clientURLs)", "--server-id", "a"])
        #expect(try member.dig("TXT", "_veer.api.example.com").answer.joined().contains("endpoint=new weight=0"))
        member.stop()
    }

    @Test func aGarbageStateInEtcdIsNotAdoptedAndStatusSaysWhy() throws {
        let fleet = try SharedStoreTests.Fleet(servers: 2, extra: ["--metrics", "127.0.0.1:0"])
        #expect(try fleet.veer(0, "shift", "api.example.com", "new", "20%", "--wait").status == 0)
        let early = try fleet.veer(0, "store", "restore", "just", "in", "case")
        #expect(early.status == 1 && early.output.contains("reads as a state; nothing to restore"), "\(early.output)")
        try fleet.etcd.put("/veer/state", "garbage{{{")

        for i in 0..<2 {
            let status = try fleet.waitForStatus(i) { $0.contains("the shared state is UNREADABLE since") }
            #expect(status.contains("the shared state is UNREADABLE since") && status.contains("is corrupt"), "\(status)")
            #expect(status.contains("store restore"), "status says how to recover: \(status)")
            #expect(try fleet.weight(i, "new") == 20, "DNS keeps the last good weights")
            #expect(fleet.servers[i].stderr.contains("/veer/state at revision"), "one log line says why")
            #expect(fleet.servers[i].stderr.contains("is unreadable"))
        }
        let json = try fleet.veer(0, "status", "json").output
        #expect(json.contains("\"stateReadable\":false") && json.contains("\"stateError\":"), "\(json)")
        let metrics = try PrometheusText(parsing: scrapeWithCurl(try fleet.servers[1].metricsAddress()))
        #expect(metrics.value("veer_store_state_readable") == 0)
        #expect(metrics.value("veer_store_up") == 1, "etcd itself answers")
        #expect((metrics.value("veer_store_state_unreadable_since_timestamp_seconds") ?? 0) > 1_700_000_000)

        for words in [["shift", "api.example.com", "new", "40%"], ["undo", "api.example.com"]] {
            let refused = try runProgram(try Tools.veer(), ["--admin", fleet.states[1] + "/admin.sock"] + words)
            #expect(refused.status == 1, "\(refused.output)")
            #expect(refused.output.contains("unreadable") && refused.output.contains("store restore"), "\(refused.output)")
            #expect(!refused.output.contains("conflict"), "not a conflict to try again: \(refused.output)")
        }
        #expect(try fleet.weight(0, "new") == 20 && fleet.weight(1, "new") == 20)

        let restore = try fleet.veer(1, "store", "restore", "garbage", "in", "etcd", "INC-23")
        #expect(restore.status == 0 && restore.output.hasPrefix("ok restored"), "\(restore.output)")
        for i in 0..<2 {
            let status = try fleet.waitForStatus(i) { !$0.contains("UNREADABLE") }
            #expect(!status.contains("UNREADABLE"), "\(status)")
            #expect(try fleet.weight(i, "new") == 20)
        }
        let again = try fleet.veer(0, "shift", "api.example.com", "new", "40%", "--wait")
        #expect(again.status == 0, "changes work again: \(again.output)")
        for i in 0..<2 { #expect(try fleet.waitForWeight(i, "new", 40) != nil) }
        let history = try fleet.veer(0, "history", "api.example.com").output
        #expect(history.contains("uid=\(Posix.Process.currentUID) api.example.com. restored revision"), "\(history)")
        #expect(history.contains("reason=\"store restore garbage in etcd INC-23\""), "\(history)")

        // A state that decodes but that no command could make: repro 2 through etcd.
        try fleet.etcd.put("/veer/state", Self.stateFile(undo: "[[50,50,7]]"))
        for i in 0..<2 {
            let status = try fleet.waitForStatus(i) { $0.contains("UNREADABLE") }
            #expect(status.contains("names[0].undo[0]: 3 weights for 2 endpoints"), "\(status)")
            #expect(try fleet.weight(i, "new") == 40, "not adopted")
        }
        let undo = try fleet.veer(0, "undo", "api.example.com")
        #expect(undo.status == 1 && undo.output.contains("unreadable"), "\(undo.output)")
        #expect(try fleet.servers[0].dig("www.example.com").answer == ["www.example.com. 3600 IN A 192.0.2.10"], "still running")
    }
}
