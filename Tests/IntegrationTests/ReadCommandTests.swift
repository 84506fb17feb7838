import Foundation
import Posix
import Testing
import TestSupport

/// The read commands a pipeline drives: `--json` on `status`, `rollout status`, `history`
/// and `health` parses and carries the fields the README lists; `history` counts changes;
/// `veer check FILE` checks one zone file.
@Suite(.serialized)
struct ReadCommandTests {
    /// api.example.com with a TCP health check on `port`, so `health` has results.
    static func zone(port: UInt16) -> String { """
        $ORIGIN example.com.
        $TTL 3600
        @    IN SOA ns1 hostmaster 2026112301 3600 600 604800 60
        @    IN NS  ns1
        ns1  IN A   192.0.2.53
        $HEALTH gw tcp address=127.0.0.1 port=\(port) interval=200ms timeout=100ms
        api  30 IN CNAME gw-old.example.net. endpoint=old weight=100
        api  30 IN CNAME gw-new.example.net. endpoint=new weight=0 health=gw
        """
    }

    static func object(_ text: String) throws -> [String: Any] {
        try #require(try json(text) as? [String: Any], "not a JSON object: \(text)")
    }

    static func json(_ text: String) throws -> Any {
        do { return try JSONSerialization.jsonObject(with: Data(text.utf8)) } catch {
            Issue.record("not JSON: \(text)")
            throw error
        }
    }

    static func expectFields(_ object: [String: Any], _ fields: [String], _ what: String) {
        for field in fields { #expect(object[field] != nil, "\(what) has no \"\(field)\": \(object)") }
    }

    @Test func jsonOfEveryReadCommandParsesWithTheFieldsTheREADMELists() throws {
        let state = try WeightsTests.stateDirectory()
        let gateway = try LoopbackTCPListener()
        let server = try WeightsTests.start(state: state, zone: Self.zone(port: gateway.port))
        _ = (server, gateway)
        let veer = { (words: [String]) throws -> ProgramResult in try runProgram(try Tools.veer(), ["--admin", state + "/admin.sock"] + words) }
        #expect(try veer(["shift", "api.example.com", "new", "25%", "--force"]).status == 0)
        #expect(try veer(["rollout", "start", "api.example.com", "--to", "new", "--steps", "50,100", "--bake", "1h"]).status == 0)
        Thread.sleep(forTimeInterval: 0.6)

        // status --json, and the old `status json` form gives the same document.
        let status = try veer(["status", "--json"])
        #expect(status.status == 0, "\(status.output)")
        let document = try Self.object(status.output)
        Self.expectFields(document, ["generation", "names"], "status")
        let names = try #require(document["names"] as? [[String: Any]])
        Self.expectFields(names[0], ["name", "select", "endpoints"], "status name")
        let endpoint = try #require((names[0]["endpoints"] as? [[String: Any]])?.first)
        Self.expectFields(endpoint, ["id", "configured", "effective", "share", "served", "servedLastMinute", "observed", "health"], "status endpoint")
        let old = try veer(["status", "json"])
        #expect(old.status == 0)
        #expect((try Self.object(old.output)["names"] as? [[String: Any]])?.count == 1)

        // rollout status --json: a list of rollouts.
        let rollout = try veer(["rollout", "status", "api.example.com", "--json"])
        #expect(rollout.status == 0, "\(rollout.output)")
        let rollouts = try #require(try Self.json(rollout.output) as? [[String: Any]])
        Self.expectFields(rollouts[0], ["name", "target", "phase", "step", "steps", "share", "bake", "startedAt", "baked", "nextStepAt", "cleanProbes"], "rollout")
        #expect(rollouts[0]["phase"] as? String == "baking")
        #expect(try veer(["rollout", "status", "json"]).status == 0)

        // history --json: changes, each with its lines.
        let history = try veer(["history", "--json"])
        #expect(history.status == 0, "\(history.output)")
        let changes = try #require(try Self.object(history.output)["changes"] as? [[String: Any]])
        #expect(changes.count == 2, "\(history.output)")
        for change in changes {
            Self.expectFields(change, ["at", "by", "reason", "lines"], "history change")
            let lines = try #require(change["lines"] as? [[String: Any]])
            for line in lines { Self.expectFields(line, ["name", "text"], "history line") }
        }
        #expect(changes[0]["reason"] as? String == "shift api.example.com new 25% --force")
        #expect((changes[0]["lines"] as? [Any])?.count == 2, "a shift of two endpoints is one change of two lines")
        #expect(changes[0]["by"] as? String == "uid=\(getuid())")

        // health --json: each endpoint with its probe results.
        let health = try veer(["health", "api.example.com", "--json"])
        #expect(health.status == 0, "\(health.output)")
        let report = try Self.object(health.output)
        Self.expectFields(report, ["name", "endpoints"], "health")
        let endpoints = try #require(report["endpoints"] as? [[String: Any]])
        #expect(endpoints.map { $0["id"] as? String } == ["old", "new"])
        for endpoint in endpoints { Self.expectFields(endpoint, ["id", "health", "probes"], "health endpoint") }
        Self.expectFields(endpoints[1], ["check"], "checked endpoint")
        let probe = try #require((endpoints[1]["probes"] as? [[String: Any]])?.first, "no probe results: \(health.output)")
        Self.expectFields(probe, ["at", "result", "ok"], "probe")
        #expect(probe["ok"] as? Bool == true, "the gateway listens: \(probe)")

        // --json on a command that writes is a usage error.
        #expect(try veer(["reload", "--json"]).status == 64)
    }

    /// A shift writes one audit line per endpoint: 2 changes of 4 lines are "2 changes".
    @Test func historyCountsChangesNotAuditLines() throws {
        let state = try WeightsTests.stateDirectory()
        let server = try WeightsTests.start(state: state)
        _ = server
        #expect(try WeightsTests.veer(state, "shift", "api.example.com", "new", "25%").status == 0)
        #expect(try WeightsTests.veer(state, "shift", "api.example.com", "new", "50%").status == 0)
        let history = try WeightsTests.veer(state, "history")
        #expect(history.status == 0)
        let lines = history.output.split(separator: "\n")
        #expect(lines.first == "ok 2 changes (4 audit lines)", "\(history.output)")
        #expect(lines.count == 5, "\(history.output)")
    }

    @Test func checkOneZoneFileSummarisesItLikeNamedCheckzone() throws {
        let veer = try Tools.veer()
        try CommandLineTests.withZones(["example.com.zone": WeightsTests.zone]) { directory in
            let result = try runProgram(veer, ["check", directory + "/example.com.zone"])
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output == "\(directory)/example.com.zone: zone example.com. serial 2026112301 ok: 4 records, 1 weighted names\n")
            // The directory form keeps working.
            #expect(try runProgram(veer, ["check", directory]).status == 0)
        }
    }

    @Test func checkOneZoneFileTakesItsOriginFromTheNameOrOrigin() throws {
        let veer = try Tools.veer()
        let body = WeightsTests.zone.replacingOccurrences(of: "$ORIGIN example.com.\n", with: "")
        try CommandLineTests.withZones(["example.com.zone": body, "db.example": body]) { directory in
            let named = try runProgram(veer, ["check", directory + "/example.com.zone"])
            #expect(named.status == 0, "\(named.output)")
            #expect(named.output.contains("zone example.com. serial"), "\(named.output)")
            let unnamed = try runProgram(veer, ["check", directory + "/db.example"])
            #expect(unnamed.status == 0, "\(unnamed.output)")
            #expect(unnamed.output.contains("zone db.example. serial"), "the file name is the origin: \(unnamed.output)")
            let given = try runProgram(veer, ["check", "--origin", "example.org", directory + "/db.example"])
            #expect(given.status == 0, "\(given.output)")
            #expect(given.output.contains("zone example.org. serial 2026112301 ok"), "\(given.output)")
        }
    }

    @Test func checkOneBadZoneFileNamesEachErrorAtFileLineColumn() throws {
        let veer = try Tools.veer()
        try CommandLineTests.withZones(["bad.test.zone": CommandLineTests.badZone]) { directory in
            let path = directory + "/bad.test.zone"
            let result = try runProgram(veer, ["check", path])
            #expect(result.status == 1, "\(result.output)")
            for line in CommandLineTests.badLines {
                #expect(result.output.contains("\(path):\(line):"), "no error at line \(line):\n\(result.output)")
            }
            #expect(result.output.hasSuffix("\(CommandLineTests.badLines.count) errors in \(path)\n"), "\(result.output)")
        }
    }
}
