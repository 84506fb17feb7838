import DNSWire
import Foundation
import Posix
import TestSupport
import Testing

/// Health checks against real loopback HTTP and TCP servers that the tests start and break.
/// Probes run every 200 ms, so a failing endpoint is out within fall × interval + 1 s.
@Suite(.serialized)
struct HealthTests {
    static let interval = 200
    static let fall = 3
    static let rise = 2

    /// `maxLatency` nil leaves max-latency out: a rollout aborts on one anomaly, and one
    /// loopback probe slower than 120 ms is ordinary on a loaded 2-core machine.
    static func zone(oldPort: UInt16, newPort: UInt16, oldWeight: Int = 100, newWeight: Int = 0,
                     newRole: String? = "new", allDown: String? = nil, ttlShift: Int? = nil, maxLatency: Int? = 120) -> String {
        let policy = "interval=\(interval)ms timeout=190ms fall=\(fall) rise=\(rise)" + (maxLatency.map { " max-latency=\($0)ms" } ?? "")
        let extra = (newRole.map { " role=\($0)" } ?? "") + (allDown.map { " all-down=\($0)" } ?? "")
            + (ttlShift.map { " ttl-shift=\($0)" } ?? "")
        return """
            $ORIGIN example.com.
            $TTL 3600
            @    IN SOA ns1 hostmaster 2026112301 3600 600 604800 60
            @    IN NS  ns1
            ns1  IN A   192.0.2.53
            $HEALTH gw-old http address=127.0.0.1 port=\(oldPort) path=/healthz \(policy)
            $HEALTH gw-new http address=127.0.0.1 port=\(newPort) path=/healthz \(policy)
            api  30 IN CNAME gw-old.example.net. endpoint=old weight=\(oldWeight) health=gw-old\(allDown.map { " all-down=\($0)" } ?? "")
            api  30 IN CNAME gw-new.example.net. endpoint=new weight=\(newWeight) health=gw-new\(extra)
            """
    }

    struct Setup {
        let old: LoopbackHTTPServer
        let new: LoopbackHTTPServer
        let state: String
        let server: VeerProcess

        let zoneText: String

        init(oldWeight: Int = 100, newWeight: Int = 0, newRole: String? = "new", allDown: String? = nil,
             ttlShift: Int? = nil, maxLatency: Int? = 120, extraArguments: [String] = []) throws {
            old = try LoopbackHTTPServer()
            new = try LoopbackHTTPServer()
            old.set(status: 200, body: "ok")
            new.set(status: 200, body: "ok")
            state = try FileIO.makeTemporaryDirectory(prefix: "veer-health-")
            zoneText = HealthTests.zone(oldPort: old.port, newPort: new.port, oldWeight: oldWeight, newWeight: newWeight,
                                        newRole: newRole, allDown: allDown, ttlShift: ttlShift, maxLatency: maxLatency)
            server = try VeerProcess(zones: ["example.com.zone": zoneText], extraArguments: ["--state-dir", state] + extraArguments)
        }

        /// Another server on the same zones and state directory (after `server.stop()`).
        func restarted() throws -> VeerProcess {
            try VeerProcess(zones: ["example.com.zone": zoneText], extraArguments: ["--state-dir", state])
        }

        func veer(_ words: String...) throws -> ProgramResult {
            try runProgram(try Tools.veer(), ["--admin", state + "/admin.sock"] + words)
        }

        /// Targets named by `count` UDP answers (an empty string for an answer without one).
        func answers(_ count: Int) throws -> [String] {
            try (0..<count).map { i in
                let reply = try #require(try server.udp(try Raw.query("api.example.com.", .a, id: UInt16(i))))
                let message = try Raw.decode(reply)
                return message.answerLines.first.map { String($0.split(separator: " ").last!) } ?? "rcode \(message.rcode)"
            }
        }

        /// Polls `status --json` until `endpoint` has `health`, for up to `timeout`.
        func waitFor(_ endpoint: String, health: String, timeout: Duration = .seconds(5)) throws -> Bool {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if try endpointStatus(endpoint)["health"] as? String == health { return true }
                Thread.sleep(forTimeInterval: 0.02)
            }
            return false
        }

        func endpointStatus(_ endpoint: String) throws -> [String: Any] {
            let output = try veer("status", "--json").output
            let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
            let endpoints = ((json?["names"] as? [[String: Any]])?.first?["endpoints"] as? [[String: Any]]) ?? []
            return endpoints.first { $0["id"] as? String == endpoint } ?? [:]
        }
    }

    @Test func failingNewGatewayIsRolledBackAndStaysAtZero() throws {
        let setup = try Setup()
        #expect(try setup.waitFor("new", health: "up"))
        #expect(try setup.veer("shift", "api.example.com", "new", "25%").status == 0)
        #expect(try setup.answers(200).contains("gw-new.example.net."))

        setup.new.set(status: 503, body: "down")
        let failedAt = ContinuousClock.now
        // Within fall × interval + 1 s, answers name only the old gateway.
        let budget = Duration.milliseconds(Self.fall * Self.interval) + .seconds(1)
        var lastNew = failedAt
        while ContinuousClock.now - failedAt < budget + .seconds(1) {
            if try setup.answers(20).contains("gw-new.example.net.") { lastNew = ContinuousClock.now }
            Thread.sleep(forTimeInterval: 0.01)
        }
        let outage = lastNew - failedAt
        print("rollback: last answer naming the failed endpoint \(outage) after it started failing")
        #expect(outage < budget, "answers named gw-new for \(outage)")
        #expect(try setup.answers(200).allSatisfy { $0 == "gw-old.example.net." })

        let status = try setup.endpointStatus("new")
        #expect(status["health"] as? String == "down")
        #expect(status["configured"] as? Int == 0)
        #expect((status["lastProbe"] as? String) == "status 503")
        let history = try setup.veer("history", "api.example.com").output
        #expect(history.contains("uid=veer api.example.com. new 25 -> 0 reason=\"rollback api.example.com. new 25 -> 0: status 503 (3/3)\""),
                "\(history)")

        // The endpoint recovers; the rollback holds until an operator raises it again.
        setup.new.set(status: 200, body: "ok")
        #expect(try setup.waitFor("new", health: "up"))
        #expect(try setup.answers(200).allSatisfy { $0 == "gw-old.example.net." })
        #expect(try setup.veer("undo", "api.example.com").output.hasPrefix("ok api.example.com. old=75 new=25"))
        #expect(try setup.answers(200).contains("gw-new.example.net."))
        let health = try setup.veer("health", "api.example.com").output
        #expect(health.contains("new: up (check gw-new)"), "\(health)")
        #expect(health.contains("anomaly: status 503"), "\(health)")
    }

    @Test func endpointWithoutMigrationRoleLeavesAndComesBackByItself() throws {
        let setup = try Setup(oldWeight: 50, newWeight: 50, newRole: nil)
        #expect(try setup.waitFor("new", health: "up"))
        // Slow, not broken: 150 ms is inside the 190 ms timeout but over max-latency (120 ms).
        setup.new.set(status: 200, delay: .milliseconds(150), body: "ok")
        #expect(try setup.waitFor("new", health: "down"))
        let slow = try setup.endpointStatus("new")
        #expect((slow["lastProbe"] as? String)?.hasPrefix("ok ") == true, "\(slow)")
        #expect((slow["lastLatencyMs"] as? Int ?? 0) >= 120, "\(slow)")
        #expect(try setup.answers(200).allSatisfy { $0 == "gw-old.example.net." })
        #expect(try setup.endpointStatus("new")["configured"] as? Int == 50)
        setup.new.set(status: 200, body: "ok")
        #expect(try setup.waitFor("new", health: "up"))
        let answers = try setup.answers(200)
        #expect(answers.contains("gw-new.example.net."))
        #expect(try setup.veer("history").output == "ok 0 changes\n")
    }

    @Test func everyEndpointDownFailsOpen() throws {
        let setup = try Setup(oldWeight: 50, newWeight: 50, newRole: nil)
        #expect(try setup.waitFor("new", health: "up"))
        setup.old.stop()
        setup.new.stop()
        #expect(try setup.waitFor("old", health: "down"))
        #expect(try setup.waitFor("new", health: "down"))
        let answers = try setup.answers(200)
        #expect(answers.contains("gw-old.example.net.") && answers.contains("gw-new.example.net."))
        #expect(setup.server.stderr.contains("every endpoint of api.example.com. is down: failing open"))
    }

    @Test func everyEndpointDownWithRefuseIsSERVFAIL() throws {
        let setup = try Setup(oldWeight: 50, newWeight: 50, newRole: nil, allDown: "refuse")
        #expect(try setup.waitFor("new", health: "up"))
        setup.old.set(status: 500, body: "")
        setup.new.set(status: 500, body: "")
        #expect(try setup.waitFor("old", health: "down"))
        #expect(try setup.waitFor("new", health: "down"))
        #expect(try setup.answers(20).allSatisfy { $0 == "rcode SERVFAIL" })
        setup.old.set(status: 200, body: "ok")
        #expect(try setup.waitFor("old", health: "up"))
        #expect(try setup.answers(50).allSatisfy { $0 == "gw-old.example.net." })
    }

    @Test func tcpCheckFollowsTheListener() throws {
        let listener = try LoopbackTCPListener()
        let state = try FileIO.makeTemporaryDirectory(prefix: "veer-health-")
        let zone = """
            $ORIGIN example.com.
            @    3600 IN SOA ns1 hostmaster 1 3600 600 604800 60
            @    3600 IN NS  ns1
            ns1  3600 IN A   192.0.2.53
            $HEALTH db tcp address=127.0.0.1 port=\(listener.port) interval=200ms timeout=150ms fall=2 rise=2
            pool 30 IN A 192.0.2.1 endpoint=a weight=50 health=db
            pool 30 IN A 192.0.2.2 endpoint=b weight=50
            """
        let server = try VeerProcess(zones: ["example.com.zone": zone], extraArguments: ["--state-dir", state])
        func veerStatus() throws -> String { try runProgram(try Tools.veer(), ["--admin", state + "/admin.sock", "status"]).output }
        let deadline = ContinuousClock.now + .seconds(5)
        while !(try veerStatus()).contains(" up ") && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(try veerStatus().contains(" up "))
        listener.stop()
        while !(try veerStatus()).contains(" down ") && ContinuousClock.now < deadline + .seconds(5) { Thread.sleep(forTimeInterval: 0.02) }
        let down = try veerStatus()
        #expect(down.contains("connect: ECONNREFUSED"), "\(down)")
        for _ in 0..<100 {
            let reply = try Raw.decode(try #require(try server.udp(try Raw.query("pool.example.com.", .a))))
            #expect(reply.answerLines == ["pool.example.com. 30 IN A 192.0.2.2"])
        }
    }

    /// One self-signed HTTPS gateway, four checks: each check's own trust settings decide.
    @Test func httpsChecksHonourInsecureCAAndHost() throws {
        let gateway = try TLSGateway()
        let state = try FileIO.makeTemporaryDirectory(prefix: "veer-health-")
        // A generous timeout: the test is about whose certificate each check trusts, and a TLS
        // handshake on a loaded 2-core machine took over 250 ms (a "timeout" verdict then).
        let policy = "address=127.0.0.1 port=\(gateway.port) interval=3s timeout=2500ms fall=1 rise=1"
        // The endpoints' CNAME target, gw.test, is the name in the certificate: SNI and Host
        // when there is no host=, while address= says where to connect.
        let zone = """
            $ORIGIN example.com.
            @    3600 IN SOA ns1 hostmaster 1 3600 600 604800 60
            @    3600 IN NS  ns1
            ns1  3600 IN A   192.0.2.53
            $HEALTH gw-insecure https \(policy) insecure
            $HEALTH gw-strict https \(policy)
            $HEALTH gw-ca https \(policy) ca=\(gateway.certificate)
            $HEALTH gw-wrong https \(policy) ca=\(gateway.certificate) host=wrong.test
            api 30 IN CNAME gw.test. endpoint=insecure weight=25 health=gw-insecure
            api 30 IN CNAME gw.test. endpoint=strict weight=25 health=gw-strict
            api 30 IN CNAME gw.test. endpoint=ca weight=25 health=gw-ca
            api 30 IN CNAME gw.test. endpoint=wrong weight=25 health=gw-wrong
            """
        let server = try VeerProcess(zones: ["example.com.zone": zone], extraArguments: ["--state-dir", state])
        defer { withExtendedLifetime(server) {} }
        func endpoints() throws -> [String: [String: Any]] {
            let output = try runProgram(try Tools.veer(), ["--admin", state + "/admin.sock", "status", "--json"]).output
            let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
            let list = ((json?["names"] as? [[String: Any]])?.first?["endpoints"] as? [[String: Any]]) ?? []
            return Dictionary(list.map { ($0["id"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        }
        func lastProbe(_ endpoint: [String: Any]?) -> String { endpoint?["lastProbe"] as? String ?? "" }
        // Every endpoint starts up; wait until each has a probe result.
        let deadline = ContinuousClock.now + .seconds(10)
        var seen = try endpoints()
        while seen.count < 4 || seen.values.contains(where: { lastProbe($0).isEmpty }), ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            seen = try endpoints()
        }
        #expect(seen["insecure"]?["health"] as? String == "up", "\(seen)")
        #expect(lastProbe(seen["insecure"]).hasPrefix("ok "), "\(seen)")
        #expect(seen["ca"]?["health"] as? String == "up", "\(seen)")
        #expect(lastProbe(seen["ca"]).hasPrefix("ok "), "\(seen)")
        #expect(seen["strict"]?["health"] as? String == "down", "\(seen)")
        #expect(lastProbe(seen["strict"]) == "https: SSL certificate problem: self-signed certificate", "\(seen)")
        #expect(seen["wrong"]?["health"] as? String == "down", "\(seen)")
        #expect(lastProbe(seen["wrong"]).contains("'wrong.test'"), "\(seen)")

        // The gateway goes away: the checks that passed now fail to connect.
        gateway.stop()
        var after = seen
        let stopDeadline = ContinuousClock.now + .seconds(10)
        while after["insecure"]?["health"] as? String != "down", ContinuousClock.now < stopDeadline {
            Thread.sleep(forTimeInterval: 0.05)
            after = try endpoints()
        }
        #expect(after["insecure"]?["health"] as? String == "down", "\(after)")
        #expect(lastProbe(after["insecure"]).contains("onnect"), "\(after)")
    }
}
