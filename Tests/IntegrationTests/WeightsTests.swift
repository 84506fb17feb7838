import DNSWire
import Foundation
import Posix
import TestSupport
import Testing

/// Weighted names driven over the admin socket of the real binary, checked with real queries.
/// Each test has its own state directory, so restarts see what the previous run saved.
@Suite(.serialized)
struct WeightsTests {
    static let zone = """
        $ORIGIN example.com.
        $TTL 3600
        @    IN SOA ns1 hostmaster 2026112301 3600 600 604800 60
        @    IN NS  ns1
        ns1  IN A   192.0.2.53
        www  IN A   192.0.2.10
        api  30 IN CNAME gw-old.example.net. endpoint=old weight=100
        api  30 IN CNAME gw-new.example.net. endpoint=new weight=0
        """

    /// A fresh state directory that outlives the servers started on it.
    static func stateDirectory() throws -> String {
        try FileIO.makeTemporaryDirectory(prefix: "veer-state-")
    }

    static func start(state: String, zone: String = zone, extra: [String] = []) throws -> VeerProcess {
        try VeerProcess(zones: ["example.com.zone": zone], extraArguments: ["--state-dir", state] + extra)
    }

    /// Runs `veer --admin STATE/admin.sock WORDS…`.
    static func veer(_ state: String, _ words: String...) throws -> ProgramResult {
        try runProgram(try Tools.veer(), ["--admin", state + "/admin.sock"] + words)
    }

    /// Which endpoint each of `count` raw UDP queries for api.example.com got.
    static func split(_ server: VeerProcess, count: Int) throws -> (old: Int, new: Int) {
        var old = 0, new = 0
        for i in 0..<count {
            let reply = try #require(try server.udp(try Raw.query("api.example.com.", .a, id: UInt16(i & 0xFFFF))))
            let target = try Raw.decode(reply).answerLines.first ?? ""
            if target.hasSuffix("gw-old.example.net.") { old += 1 } else if target.hasSuffix("gw-new.example.net.") { new += 1 }
        }
        return (old, new)
    }

    @Test func ninetyTenOverTheSocketLandsWithinABinomialBound() throws {
        let state = try Self.stateDirectory()
        let server = try Self.start(state: state)
        let set = try Self.veer(state, "shift", "api.example.com", "new", "10%")
        #expect(set.status == 0, "\(set.output)")
        #expect(set.output.hasPrefix("ok api.example.com. old=90 new=10"))
        let draws = 2_000
        let (old, new) = try Self.split(server, count: draws)
        #expect(old + new == draws)
        let sigma = (Double(draws) * 0.1 * 0.9).squareRoot()
        #expect(abs(Double(new) - Double(draws) * 0.1) <= 4 * sigma, "\(new) of \(draws) answers named the new gateway")
        // status counts exactly what was served, per endpoint.
        let status = try Self.veer(state, "status", "--json")
        #expect(status.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any]
        let endpoints = ((json?["names"] as? [[String: Any]])?.first?["endpoints"] as? [[String: Any]]) ?? []
        #expect(endpoints.map { $0["served"] as? Int } == [old, new])
        #expect(endpoints.map { $0["configured"] as? Int } == [90, 10])
        let table = try Self.veer(state, "status")
        #expect(table.output.contains("old       90          90         90.0%"), "\(table.output)")
    }

    @Test func drainedEndpointNeverAppearsAndUndoRestores() throws {
        let state = try Self.stateDirectory()
        let server = try Self.start(state: state)
        #expect(try Self.veer(state, "shift", "api.example.com", "new", "50%").status == 0)
        #expect(try Self.veer(state, "drain", "api.example.com", "new").output.hasPrefix("ok api.example.com. old=50 new=0"))
        #expect(try Self.split(server, count: 300).new == 0)
        let undo = try Self.veer(state, "undo", "api.example.com")
        #expect(undo.output.hasPrefix("ok api.example.com. old=50 new=50"), "\(undo.output)")
        #expect(try Self.split(server, count: 200).new > 0)
    }

    @Test func refusedCommandsChangeNothing() throws {
        let state = try Self.stateDirectory()
        let server = try Self.start(state: state)
        let drainAll = try Self.veer(state, "drain", "api.example.com", "old")
        #expect(drainAll.status == 1)
        #expect(drainAll.output.contains("error: refused: every endpoint of api.example.com. would have weight 0"))
        let unknown = try Self.veer(state, "weight", "api.example.com", "blue", "5")
        #expect(unknown.status == 1)
        #expect(unknown.output.contains("error: api.example.com. has no endpoint \"blue\"; endpoints: old, new"))
        let usage = try Self.veer(state, "shift", "api.example.com", "new", "ten")
        #expect(usage.status == 64)
        #expect(try Self.split(server, count: 50).old == 50)
        #expect(try Self.veer(state, "history").output == "ok 0 changes\n")
    }

    @Test func weightsAndHistorySurviveARestart() throws {
        let state = try Self.stateDirectory()
        let first = try Self.start(state: state)
        #expect(try Self.veer(state, "shift", "api.example.com", "new", "25%").status == 0)
        first.stop()
        let second = try Self.start(state: state)
        #expect(second.stderr.contains("weights: api.example.com. old=75 new=25"))
        let status = try Self.veer(state, "status", "api.example.com")
        #expect(status.output.contains("new       25"), "\(status.output)")
        let history = try Self.veer(state, "history", "api.example.com")
        #expect(history.output.contains("api.example.com. new 0 -> 25 reason=\"shift api.example.com new 25%\""), "\(history.output)")
        #expect(history.output.contains("uid=\(Posix.Process.currentUID)"))
        #expect(try Self.split(second, count: 200).new > 0)
    }

    @Test func killNineRightAfterOkKeepsTheChange() throws {
        let state = try Self.stateDirectory()
        let first = try Self.start(state: state)
        #expect(try Self.veer(state, "weight", "api.example.com", "new", "7").status == 0)
        try Signals.send(SIGKILL, to: first.processIdentifier)
        first.stop()
        let second = try Self.start(state: state)
        #expect(try Self.veer(state, "status", "--json").output.contains("\"configured\":7"))
        second.stop()
    }

    @Test func badReloadKeepsServingTheOldData() throws {
        let state = try Self.stateDirectory()
        let server = try Self.start(state: state)
        let file = server.zonesDirectory.appendingPathComponent("example.com.zone")
        try (Self.zone + "\nbroken IN A 192.0.2.300\nalso IN AAAA nope\n").write(to: file, atomically: true, encoding: .utf8)
        let reload = try Self.veer(state, "reload")
        #expect(reload.status == 1)
        #expect(reload.output.contains("example.com.zone:9:"), "\(reload.output)")
        #expect(reload.output.contains("example.com.zone:10:"), "\(reload.output)")
        #expect(try server.dig("www.example.com").answer == ["www.example.com. 3600 IN A 192.0.2.10"])
        // A good zone, picked up by SIGHUP this time.
        try (Self.zone + "\nnew IN A 192.0.2.77\n").write(to: file, atomically: true, encoding: .utf8)
        try Signals.send(Signals.hangup, to: server.processIdentifier)
        var answer: [String] = []
        for _ in 0..<100 where answer.isEmpty {
            answer = try server.dig("new.example.com").answer
            if answer.isEmpty { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(answer == ["new.example.com. 3600 IN A 192.0.2.77"])
    }

    @Test func corruptStateFileStopsStartup() throws {
        let state = try Self.stateDirectory()
        try FileIO.writeAtomically(Array("{\"version\": 1, \"names\": [".utf8), to: state + "/weights.json")
        #expect {
            try Self.start(state: state)
        } throws: { error in
            "\(error)".contains("state file \(state)/weights.json is corrupt")
        }
    }

    @Test func failedSaveAnswersErrorAndKeepsTheOldWeights() throws {
        let state = try Self.stateDirectory()
        // A real full disk: a tiny tmpfs as the state directory, where this machine allows
        // mounting one (root); else a directory where the temporary state file must go.
        let mounted = try runProgram("/bin/mount", ["-t", "tmpfs", "-o", "size=128k", "tmpfs", state]).status == 0
        defer { if mounted { _ = try? runProgram("/bin/umount", ["-l", state]) } }
        let server = try Self.start(state: state)
        if mounted {
            let fill = try runProgram("/bin/dd", ["if=/dev/zero", "of=\(state)/fill", "bs=4k", "count=1000"])
            #expect(fill.output.contains("No space left on device"), "\(fill.output)")
        } else {
            try FileManager.default.createDirectory(atPath: state + "/weights.json.tmp", withIntermediateDirectories: true)
        }
        let shift = try Self.veer(state, "shift", "api.example.com", "new", "50%")
        #expect(shift.status == 1)
        #expect(shift.output.contains("error: saving weights failed, nothing changed"), "\(shift.output)")
        if mounted { #expect(shift.output.contains("ENOSPC"), "\(shift.output)") }
        #expect(try Self.split(server, count: 100).new == 0)
        #expect(try Self.veer(state, "status", "--json").output.contains("\"configured\":100"))
        server.stop()
    }

    @Test func anotherUIDIsRefused() throws {
        let state = try Self.stateDirectory()
        let server = try Self.start(state: state)
        defer { server.stop() }
        let socket = state + "/admin.sock"
        #expect(try FileIO.permissions(socket) == 0o600)
        guard Posix.Process.currentUID == 0 else {
            // Without root the test cannot become another user; the peer-credential reading
            // itself is covered by PosixTests.
            Issue.record("run as root to test refusal of another uid")
            return
        }
        let socat = try #require(Tools.onPath("socat"), "socat not found: apt-get install socat")
        // Let uid 65534 reach the socket at all, so the server's own check is what refuses it.
        chmod(state, 0o755)
        chmod(socket, 0o666)
        let asNobody = try runProgram("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
                                                            "/bin/sh", "-c", "echo status | \(socat) - UNIX-CONNECT:\(socket)"])
        #expect(asNobody.output.hasPrefix("error: uid 65534 is not allowed on the admin socket"), "\(asNobody.output)")

        let allowedState = try Self.stateDirectory()
        let allowing = try Self.start(state: allowedState, extra: ["--admin-allow-uid", "65534"])
        defer { allowing.stop() }
        chmod(allowedState, 0o755)
        chmod(allowedState + "/admin.sock", 0o666)
        let allowed = try runProgram("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
                                                           "/bin/sh", "-c", "echo status | \(socat) - UNIX-CONNECT:\(allowedState)/admin.sock"])
        #expect(allowed.output.hasPrefix("ok 1 weighted name"), "\(allowed.output)")
    }
}
