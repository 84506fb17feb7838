import Foundation
import Posix
import Testing

/// Staged rollouts run by the real binary against real loopback HTTP gateways, checked with
/// the `veer` CLI, dig and curl. Probes run every 200 ms (HealthTests.zone), bakes are 1 s.
@Suite(.serialized)
struct RolloutIntegrationTests {
    typealias Setup = HealthTests.Setup

    /// `rollout status NAME json` as a dictionary.
    static func rollout(_ setup: Setup) throws -> [String: Any] {
        let output = try setup.veer("rollout", "status", "api.example.com", "--json").output
        let list = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]]
        return list?.first ?? [:]
    }

    /// Polls the rollout until `done` holds, for up to `timeout`.
    static func waitForRollout(_ setup: Setup, timeout: Duration = .seconds(15),
                               _ done: ([String: Any]) -> Bool) throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        var last: [String: Any] = [:]
        while ContinuousClock.now < deadline {
            last = try rollout(setup)
            if done(last) { return last }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return last
    }

    /// Targets of `count` answers to `dig +short api.example.com`, counted.
    static func digCounts(_ setup: Setup, _ count: Int) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for _ in 0..<count {
            let result = try setup.server.dig("+short", "api.example.com.", "A")
            let target = result.output.split(separator: "\n").first.map(String.init) ?? "(none)"
            counts[target, default: 0] += 1
        }
        return counts
    }

    static func configured(_ setup: Setup, _ endpoint: String) throws -> Int? {
        try setup.endpointStatus(endpoint)["configured"] as? Int
    }

    @Test func aThreeStepRolloutCompletesOnHealthyProbes() throws {
        let setup = try Setup(maxLatency: nil)
        let start = try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "10,50,100", "--bake", "1s")
        #expect(start.status == 0, "\(start.output)")
        #expect(start.output.contains("step 1/3 10%"))
        #expect(try Self.configured(setup, "new") == 10)

        let final = try Self.waitForRollout(setup) { $0["phase"] as? String == "completed" }
        #expect(final["phase"] as? String == "completed", "\(final)")
        #expect(try Self.configured(setup, "new") == 100)
        #expect(try Self.configured(setup, "old") == 0)
        #expect(try Self.digCounts(setup, 10) == ["gw-new.example.net.": 10])

        let history = try setup.veer("history", "api.example.com", "50").output
        #expect(history.contains("rollout to new started: steps 10%,50%,100% bake 1s"))
        #expect(history.contains("rollout to new promoted to step 2/3 50%"))
        #expect(history.contains("rollout to new promoted to step 3/3 100%"))
        #expect(history.contains("rollout to new completed"))
        #expect(history.contains("api.example.com. new 10 -> 50"))
        #expect(history.contains("api.example.com. new 50 -> 100"))
    }

    @Test func anAnomalyAtStepTwoRollsBackToTheOldGateway() throws {
        let setup = try Setup(maxLatency: nil)
        let start = try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "10,50,100", "--bake", "2s")
        #expect(start.status == 0, "\(start.output)")
        let atTwo = try Self.waitForRollout(setup) { $0["step"] as? Int == 2 }
        #expect(atTwo["step"] as? Int == 2, "\(atTwo)")

        setup.new.set(status: 503, body: "down")
        let aborted = try Self.waitForRollout(setup, timeout: .seconds(5)) { $0["phase"] as? String == "aborted" }
        #expect(aborted["phase"] as? String == "aborted", "\(aborted)")
        #expect((aborted["note"] as? String)?.contains("status 503") == true, "\(aborted)")
        #expect(try Self.configured(setup, "new") == 0)
        #expect(try Self.configured(setup, "old") == 100, "the others go back to their weights before the rollout")

        let counts = try Self.digCounts(setup, 40)
        #expect(counts == ["gw-old.example.net.": 40], "0% new after the rollback: \(counts)")
        let history = try setup.veer("history", "api.example.com", "50").output
        #expect(history.contains("rollout to new aborted at step 2/3, rolled back"))
        #expect(history.contains("uid=veer api.example.com. new 50 -> 0"))

        // It stays rolled back after the gateway heals: nothing promotes an aborted rollout.
        setup.new.set(status: 200, body: "ok")
        Thread.sleep(forTimeInterval: 1.5)
        #expect(try Self.configured(setup, "new") == 0)
    }

    @Test func manualChangesAreRefusedDuringARolloutUnlessForced() throws {
        let setup = try Setup(maxLatency: nil)
        #expect(try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "5,50", "--bake", "1h").status == 0)
        let refused = try setup.veer("shift", "api.example.com", "new", "50%")
        #expect(refused.status == 1)
        #expect(refused.output.contains("has an active rollout to new"), "\(refused.output)")
        #expect(try Self.configured(setup, "new") == 5)

        let forced = try setup.veer("shift", "api.example.com", "new", "50%", "--force")
        #expect(forced.status == 0, "\(forced.output)")
        #expect(try Self.configured(setup, "new") == 50)
        let paused = try Self.rollout(setup)
        #expect(paused["phase"] as? String == "paused")
        #expect((paused["note"] as? String)?.contains("forced manual change") == true)

        #expect(try setup.veer("rollout", "resume", "api.example.com").status == 0)
        #expect(try Self.rollout(setup)["phase"] as? String == "baking")
        #expect(try Self.configured(setup, "new") == 5, "resume applies the step's share again")
        let abort = try setup.veer("rollout", "abort", "api.example.com")
        #expect(abort.status == 0, "\(abort.output)")
        #expect(try Self.configured(setup, "new") == 0)
        #expect(try setup.veer("rollout", "pause", "api.example.com").status == 1, "nothing left to pause")
    }

    @Test func dryRunsShowTheResultAndChangeNothing() throws {
        let setup = try Setup(maxLatency: nil)
        let shift = try setup.veer("shift", "api.example.com", "new", "25%", "--dry-run")
        #expect(shift.status == 0)
        #expect(shift.output.contains("dry run, nothing changed: api.example.com. old=75 (75.0%) new=25 (25.0%)"), "\(shift.output)")
        let plan = try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "1,50,100", "--bake", "10m", "--dry-run")
        #expect(plan.status == 0)
        #expect(plan.output.contains("step 1 at +0s"), "\(plan.output)")
        #expect(plan.output.contains("step 2 at +10m"))
        #expect(plan.output.contains("old=50 (50.0%) new=50 (50.0%)"))
        #expect(plan.output.contains("step 3 at +20m"))
        #expect(plan.output.contains("done at +30m"))
        #expect(try Self.configured(setup, "new") == 0)
        #expect(try setup.veer("rollout", "status", "api.example.com").status == 1, "no rollout was started")
        #expect(try setup.veer("history").output.hasPrefix("ok 0 changes"))
    }

    /// Regression: after a shift to 25%, a rollout from 1% wrote `new 25 -> 1` without a word.
    @Test func aRolloutStartingBelowTheTargetsShareNeedsForce() throws {
        let setup = try Setup(maxLatency: nil)
        #expect(try setup.veer("shift", "api.example.com", "new", "25%").status == 0)
        let refused = try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "1,50,100", "--bake", "1h")
        #expect(refused.status == 1)
        #expect(refused.output.contains("has 25% of answers now and the first step 1% would take traffic back off it; add --force"), "\(refused.output)")
        #expect(try Self.configured(setup, "new") == 25)
        let plan = try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "1,50,100", "--bake", "1h", "--dry-run")
        #expect(plan.output.contains("refused without --force"), "\(plan.output)")
        let forced = try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "1,50,100", "--bake", "1h", "--force")
        #expect(forced.status == 0, "\(forced.output)")
        #expect(try Self.configured(setup, "new") == 1)
    }

    @Test func aRestartMidBakeResumesTheRolloutAndSaysSo() throws {
        let setup = try Setup(maxLatency: nil)
        #expect(try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "10,100", "--bake", "2s").status == 0)
        Thread.sleep(forTimeInterval: 1.1)
        setup.server.stop()
        let again = try setup.restarted()
        defer { again.stop() }
        let resumed = try Self.rollout(setup)
        #expect(resumed["phase"] as? String == "baking")
        #expect(resumed["step"] as? Int == 1)
        #expect((resumed["note"] as? String)?.contains("resumed at server start") == true, "\(resumed)")
        #expect(again.stderr.contains("bake of step 1 resumed at server start"))
        let done = try Self.waitForRollout(setup) { $0["phase"] as? String == "completed" }
        #expect(done["phase"] as? String == "completed", "\(done)")
    }

    @Test func aRolloutNeedsAHealthCheckOnItsTarget() throws {
        let zone = """
            $ORIGIN example.com.
            @    3600 IN SOA ns1 hostmaster 1 3600 600 604800 60
            @    3600 IN NS  ns1
            ns1  3600 IN A   192.0.2.53
            api  30 IN CNAME gw-old.example.net. endpoint=old weight=100
            api  30 IN CNAME gw-new.example.net. endpoint=new weight=0
            """
        let server = try VeerProcess(zones: ["example.com.zone": zone])
        let result = try runProgram(try Tools.veer(), ["--admin", server.stateDirectory.path + "/admin.sock",
                                                       "rollout", "start", "api.example.com", "--to", "new", "--steps", "50", "--bake", "1s"])
        #expect(result.status == 1)
        #expect(result.output.contains("has no health check"), "\(result.output)")
    }

    @Test func answersCarryTheShiftTTLWhileTheNameIsMoving() throws {
        let setup = try Setup(ttlShift: 5, maxLatency: nil)
        func ttl() throws -> String? {
            let result = try setup.server.dig("api.example.com.", "A")
            return result.answer.first?.split(separator: " ").dropFirst().first.map(String.init)
        }
        #expect(try ttl() == "30", "no change yet: the record's TTL")
        #expect(try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "100", "--bake", "1s").status == 0)
        #expect(try ttl() == "5")
        let done = try Self.waitForRollout(setup) { $0["phase"] as? String == "completed" }
        #expect(done["phase"] as? String == "completed")
        // One bake (1 s) after the last change the records' TTL is back.
        let deadline = ContinuousClock.now + .seconds(5)
        var last = try ttl()
        while last != "30" && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            last = try ttl()
        }
        #expect(last == "30")
        // A manual change shortens it too, for the default window (10 minutes) after it.
        #expect(try setup.veer("shift", "api.example.com", "new", "50%").status == 0)
        #expect(try ttl() == "5")
    }

    @Test func aPromotionThatCannotBeSavedPausesAtTheStepInForce() throws {
        let setup = try Setup(maxLatency: nil)
        #expect(try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "10,100", "--bake", "1s").status == 0)
        // The atomic save writes weights.json.tmp first; a directory there makes it fail.
        let blocker = setup.state + "/weights.json.tmp"
        try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: false)
        let paused = try Self.waitForRollout(setup) { $0["phase"] as? String == "paused" }
        #expect(paused["phase"] as? String == "paused", "\(paused)")
        #expect(paused["step"] as? Int == 1, "still the step whose weights are in force")
        #expect((paused["note"] as? String)?.contains("could not be saved") == true, "\(paused)")
        #expect(try Self.configured(setup, "new") == 10)

        try FileManager.default.removeItem(atPath: blocker)
        #expect(try setup.veer("rollout", "resume", "api.example.com").status == 0)
        let done = try Self.waitForRollout(setup) { $0["phase"] as? String == "completed" }
        #expect(done["phase"] as? String == "completed", "\(done)")
        #expect(try Self.configured(setup, "new") == 100)
    }

    @Test func aRollbackThatCannotBeSavedIsMadeAndSavedLater() throws {
        let setup = try Setup(maxLatency: nil)
        #expect(try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "50,100", "--bake", "1h").status == 0)
        let blocker = setup.state + "/weights.json.tmp"
        try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: false)
        setup.new.set(status: 503, body: "down")
        let aborted = try Self.waitForRollout(setup, timeout: .seconds(5)) { $0["phase"] as? String == "aborted" }
        #expect(aborted["phase"] as? String == "aborted", "\(aborted)")
        #expect(try Self.configured(setup, "new") == 0, "traffic comes off the target before anything is saved")
        #expect(try Self.digCounts(setup, 10) == ["gw-old.example.net.": 10])
        #expect(!(try setup.veer("history").output.contains("rolled back")), "not written while the save fails")

        try FileManager.default.removeItem(atPath: blocker)
        let deadline = ContinuousClock.now + .seconds(5)
        while !(try setup.veer("history").output.contains("rolled back")) && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(try setup.veer("history").output.contains("rollout to new aborted at step 1/2, rolled back"))
        // And a restart keeps it rolled back.
        setup.server.stop()
        let again = try setup.restarted()
        defer { again.stop() }
        #expect(try Self.configured(setup, "new") == 0)
        #expect(try Self.rollout(setup)["phase"] as? String == "aborted")
    }

    @Test func digReadsTheMigrationStateFromLoopback() throws {
        let setup = try Setup(maxLatency: nil)
        #expect(try setup.veer("shift", "api.example.com", "new", "25%").status == 0)
        let result = try setup.server.dig("_veer.api.example.com.", "TXT")
        #expect(result.status == "NOERROR")
        let text = result.answer.joined(separator: "\n")
        #expect(text.contains("\"endpoint=old weight=75 effective=75 health=up\""), "\(result.output)")
        #expect(text.contains("\"endpoint=new weight=25 effective=25 health=up\""))
        let generation = try #require(try setup.endpointStatusGeneration())
        #expect(text.contains("\"generation=\(generation)\""), "\(text) vs generation \(generation)")
    }

    @Test func digFromASourceOutsideTheListIsRefused() throws {
        // --status-query-from replaces the loopback default: dig from 127.0.0.1 is now outside.
        let setup = try Setup(maxLatency: nil, extraArguments: ["--status-query-from", "192.0.2.0/24"])
        let refused = try setup.server.dig("_veer.api.example.com.", "TXT")
        #expect(refused.status == "REFUSED", "\(refused.output)")
        #expect(refused.answer.isEmpty)
        #expect(try setup.server.dig("api.example.com.", "A").status == "NOERROR", "other queries are answered as usual")

        let allowed = try Setup(extraArguments: ["--status-query-from", "192.0.2.0/24,127.0.0.0/8"])
        #expect(try allowed.server.dig("_veer.api.example.com.", "TXT").status == "NOERROR")
    }

    @Test func metricsCountWhatWasServed() throws {
        let setup = try Setup(maxLatency: nil, extraArguments: ["--metrics", "127.0.0.1:0"])
        let address = try setup.server.metricsAddress()
        #expect(try setup.veer("shift", "api.example.com", "new", "25%").status == 0)
        let sent = 30
        _ = try setup.answers(sent)
        _ = try setup.server.dig("nope.example.com.", "A")
        _ = try setup.server.dig("+tcp", "api.example.com.", "A")

        let metrics = try PrometheusText(parsing: scrapeWithCurl(address))
        #expect(metrics.types["veer_queries_total"] == .counter)
        #expect(metrics.total("veer_answers_total", matching: ["name": "api.example.com."]) == Double(sent + 1))
        #expect(metrics.value("veer_queries_total", ["transport": "udp", "rcode": "NXDOMAIN"]) == 1)
        #expect(metrics.value("veer_queries_total", ["transport": "tcp", "rcode": "NOERROR"]) == 1)
        #expect(metrics.value("veer_queries_total", ["transport": "udp", "rcode": "NOERROR"]) == Double(sent))
        #expect(metrics.value("veer_weight_configured", ["name": "api.example.com.", "endpoint": "new"]) == 25)
        #expect(metrics.value("veer_weight_effective", ["name": "api.example.com.", "endpoint": "old"]) == 75)
        #expect(metrics.value("veer_endpoint_up", ["name": "api.example.com.", "endpoint": "new"]) == 1)
        let generation = try #require(try setup.endpointStatusGeneration())
        #expect(metrics.value("veer_state_generation") == Double(generation))
        #expect(metrics.value("veer_rollout_step", ["name": "api.example.com.", "target": "", "phase": "none"]) == 0)

        #expect(try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "40,100", "--bake", "1h").status == 0)
        let during = try PrometheusText(parsing: scrapeWithCurl(address))
        let labels = ["name": "api.example.com.", "target": "new", "phase": "baking"]
        #expect(during.value("veer_rollout_step", labels) == 1)
        #expect(during.value("veer_rollout_share_percent", labels) == 40)
        #expect(during.value("veer_weight_configured", ["name": "api.example.com.", "endpoint": "new"]) == 40)
        #expect(during.value("veer_state_generation")! > metrics.value("veer_state_generation")!)
    }
}

extension HealthTests.Setup {
    /// The generation that `status --json` reports.
    func endpointStatusGeneration() throws -> Int? {
        let output = try veer("status", "--json").output
        let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        return json?["generation"] as? Int
    }
}
