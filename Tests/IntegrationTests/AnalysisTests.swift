import Foundation
import Posix
import Testing
import TestSupport

/// Rollouts judged on the gateways' real traffic (issue 22), end to end: test gateways that
/// export request counters and a latency histogram, a real Prometheus scraping them every
/// second, and the real binary running `$ANALYSIS` queries every second, driven with the CLI.
/// Each test has its own gateways, Prometheus and servers, so the tests run in parallel.
struct AnalysisIntegrationTests {
    /// Bounds of the error-ratio analysis; 50 requests is half a second of the gateways' 100
    /// per second, so the 10 s windows always have enough once Prometheus has two scrapes.
    static let errorBounds = "max=0.01 max-increase=1.5 min-requests=50 failure-limit=2 inconclusive-limit=20"

    @Test func aNewGatewayFailingFivePercentIsRolledBackWithBothValuesInTheAuditLog() throws {
        let setup = try AnalysisSetup(analysis: Self.errorBounds)
        try setup.waitForData(verdict: "pass")
        // A long bake: the rollout stays at step 1, judged every second, until the errors.
        let start = try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "10,50,100", "--bake", "1h")
        #expect(start.status == 0, "\(start.output)")
        let passing = try setup.waitForRollout { AnalysisSetup.verdict($0) == "pass" }
        #expect(AnalysisSetup.verdict(passing) == "pass", "\(passing)")

        setup.gateway.set("new", requestsPerSecond: 100, errorRatio: 0.05)
        let failing = ContinuousClock.now
        let aborted = try setup.waitForRollout { $0["phase"] as? String == "aborted" }
        let took = ContinuousClock.now - failing
        print("analysis: rollback \(took.shortText) after the new gateway started failing (1 s scrape, interval 1s, failure-limit 2, [10s] rate window)")
        #expect(aborted["phase"] as? String == "aborted", "\(aborted)")
        // failure-limit × interval, plus the 10 s window's ratio crossing max 0.01 (about 2 s
        // of 5% errors), a scrape, and slack for a loaded machine.
        #expect(took < .seconds(12), "rolled back \(took) after the errors started")
        #expect(try setup.configured("new") == 0)
        #expect(try setup.configured("old") == 100)

        let history = try setup.history()
        #expect(history.contains("rollout to new aborted at step 1/3, rolled back"), "\(history)")
        // Both values: new's ratio above max, old's 0.001 as the baseline.
        let line = try #require(history.split(separator: "\n").first { $0.contains("rolled back") && $0.contains("analysis errors: new ") },
                                "\(history)")
        let value = try #require(Self.number(after: "analysis errors: new ", in: String(line)), "\(line)")
        #expect(value > 0.01, "\(line)")
        #expect(line.contains(" vs old 0.001 (max 0.01, max-increase 1.5), "), "\(line)")
        #expect(line.contains("above max 0.01 (2 failures in a row at step 1/3 (10%))"), "\(line)")
        #expect(AnalysisSetup.verdict(aborted) == "fail", "\(aborted)")
    }

    @Test func cleanTrafficCompletesTheRollout() throws {
        let setup = try AnalysisSetup(analysis: Self.errorBounds)
        try setup.waitForData(verdict: "pass")
        let start = try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "10,50,100", "--bake", "2s")
        #expect(start.status == 0, "\(start.output)")
        let done = try setup.waitForRollout(timeout: .seconds(40)) { $0["phase"] as? String == "completed" }
        #expect(done["phase"] as? String == "completed", "\(done)")
        #expect(try setup.configured("new") == 100)
        let history = try setup.history()
        #expect(history.contains("rollout to new promoted to step 2/3 50%"), "\(history)")
        #expect(history.contains("rollout to new completed"), "\(history)")
        #expect(!history.contains("rolled back"), "\(history)")
    }

    @Test func noTrafficOnTheNewGatewayHoldsTheStepThenPausesWithANote() throws {
        let options = "max=0.01 max-increase=1.5 min-requests=50 failure-limit=2 inconclusive-limit=3"
        let setup = try AnalysisSetup(newRate: 0, analysis: options)
        let start = try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "10,50,100", "--bake", "1s")
        #expect(start.status == 0, "\(start.output)")
        // The bake (1 s) and the probes would promote; the analysis has no verdict to give.
        let paused = try setup.waitForRollout { $0["phase"] as? String != "baking" }
        #expect(paused["phase"] as? String == "paused", "\(paused)")
        #expect(paused["step"] as? Int == 1, "never promoted: \(paused)")
        let note = paused["note"] as? String ?? ""
        #expect(note.contains("paused: analysis errors inconclusive 3 times in a row at step 1/3 (10%)"), "\(note)")
        #expect(AnalysisSetup.verdict(paused) == "inconclusive", "\(paused)")
        #expect(try setup.configured("new") == 10, "neither promoted nor rolled back")
        let history = try setup.history()
        #expect(history.contains("rollout to new paused at step 1/3"), "\(history)")
        #expect(!history.contains("promoted"), "\(history)")
        #expect(!history.contains("rolled back"), "\(history)")
    }

    @Test func prometheusStoppedMidRolloutHoldsTheStepAndTheRolloutResumesWhenItIsBack() throws {
        let setup = try AnalysisSetup(analysis: Self.errorBounds)
        try setup.waitForData(verdict: "pass")
        #expect(try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "10,50,100", "--bake", "2s").status == 0)
        let atTwo = try setup.waitForRollout { ($0["step"] as? Int ?? 0) >= 2 }
        #expect(atTwo["step"] as? Int == 2, "\(atTwo)")

        setup.prometheus.stop()
        // From the first refused query on, the step has no passing verdict.
        let refused = try setup.waitForRollout(timeout: .seconds(10)) {
            (AnalysisSetup.analysis($0)?["text"] as? String)?.contains("ECONNREFUSED") == true
        }
        #expect(AnalysisSetup.verdict(refused) == "inconclusive", "\(refused)")
        let step = try #require(refused["step"] as? Int, "\(refused)")
        // Three bakes' time: it would have promoted twice with Prometheus up.
        let held = ContinuousClock.now
        var seen = refused
        while ContinuousClock.now - held < .seconds(6) {
            seen = try setup.rollout()
            if seen["step"] as? Int != step || seen["phase"] as? String != "baking" { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(seen["step"] as? Int == step, "no promotion while Prometheus is down: \(seen)")
        #expect(seen["phase"] as? String == "baking", "held, not paused or rolled back: \(seen)")

        try setup.prometheus.start()
        let done = try setup.waitForRollout(timeout: .seconds(40)) { $0["phase"] as? String == "completed" }
        #expect(done["phase"] as? String == "completed", "resumed when Prometheus was back: \(done)")
        #expect(try setup.configured("new") == 100)
    }

    @Test func aNewGatewayThreeTimesSlowerAtP99IsRolledBack() throws {
        // Old's requests take 100 ms and new's 300 ms; with the default buckets the p99s are
        // interpolated in (0.05, 0.1] and (0.25, 0.5]: about 0.0995 and 0.4975.
        let setup = try AnalysisSetup(old: (0.001, .milliseconds(100)), new: (0.001, .milliseconds(300)), query: AnalysisSetup.p99,
                                      analysis: "max-increase=1.5 min-requests=50 failure-limit=2 inconclusive-limit=20")
        try setup.waitForData(verdict: "fail")
        #expect(try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "10,50,100", "--bake", "2s").status == 0)
        let aborted = try setup.waitForRollout { $0["phase"] as? String == "aborted" || $0["phase"] as? String == "completed" }
        #expect(aborted["phase"] as? String == "aborted", "\(aborted)")
        #expect(aborted["step"] as? Int == 1, "never promoted: \(aborted)")
        #expect(try setup.configured("new") == 0)
        let note = aborted["note"] as? String ?? ""
        #expect(note.contains("analysis errors: new 0.4"), "\(note)")
        #expect(note.contains(" vs old 0.09"), "\(note)")
        #expect(note.contains("above 1.5× the baseline (2 failures in a row at step 1/3 (10%))"), "\(note)")
        #expect(try setup.history().contains("rollout to new aborted at step 1/3, rolled back"))
    }

    @Test func bothGatewaysFailingTwoPercentIsNotTheNewGatewaysFault() throws {
        let setup = try AnalysisSetup(old: (0.02, .milliseconds(5)), new: (0.02, .milliseconds(5)),
                                      analysis: "max-increase=1.5 min-requests=50 failure-limit=2 inconclusive-limit=20")
        try setup.waitForData(verdict: "pass")
        #expect(try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "10,50,100", "--bake", "2s").status == 0)
        let done = try setup.waitForRollout(timeout: .seconds(40)) { ["completed", "aborted"].contains($0["phase"] as? String) }
        #expect(done["phase"] as? String == "completed", "\(done)")
        let analysis = try #require(AnalysisSetup.analysis(done), "\(done)")
        #expect(abs((analysis["value"] as? Double ?? 0) - 0.02) < 0.002, "\(analysis)")
        #expect(abs((analysis["baseline"] as? Double ?? 0) - 0.02) < 0.002, "\(analysis)")
        #expect(!(try setup.history().contains("rolled back")))
    }

    @Test func theAnalysisCommandRunsTheQueriesNowAndSaysWhyWhenPrometheusIsDown() throws {
        let setup = try AnalysisSetup(analysis: Self.errorBounds)
        try setup.waitForData(verdict: "pass")
        let result = try setup.veer("analysis", "api.example.com")
        #expect(result.status == 0, "\(result.output)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.first == "ok api.example.com. 1 analysis run now", "\(result.output)")
        #expect(lines.contains("errors on new (http://127.0.0.1:\(setup.prometheus.port)): pass"), "\(result.output)")
        #expect(lines.contains { $0.hasPrefix("  new value: 0.001    sum(rate(gateway_requests_total{gateway=\"new\",code=~\"5..\"}[10s]))") },
                "the query with {{endpoint}} replaced: \(result.output)")
        #expect(lines.contains { $0.hasPrefix("  new requests: ") }, "\(result.output)")
        #expect(lines.contains { $0.hasPrefix("  old baseline value: 0.001 ") }, "\(result.output)")
        #expect(lines.contains { $0.hasPrefix("  old baseline requests: ") }, "\(result.output)")
        #expect(lines.contains { $0.hasPrefix("  analysis errors: new 0.001 vs old 0.001 (max 0.01, max-increase 1.5), ") },
                "\(result.output)")
        #expect(try setup.configured("new") == 0, "running it changes nothing")

        setup.prometheus.stop()
        let down = try setup.veer("analysis", "api.example.com", "new")
        #expect(down.status == 0, "a Prometheus that cannot be reached is a verdict, not an error: \(down.output)")
        #expect(down.output.hasPrefix("ok "), "\(down.output)")
        #expect(down.output.contains("errors on new (http://127.0.0.1:\(setup.prometheus.port)): inconclusive"), "\(down.output)")
        #expect(down.output.contains("analysis errors: no verdict: prometheus 127.0.0.1:\(setup.prometheus.port): connect 127.0.0.1:\(setup.prometheus.port): ECONNREFUSED"),
                "\(down.output)")
        let unknown = try setup.veer("analysis", "api.example.com", "old")
        #expect(unknown.status != 0 && unknown.output.contains("has no analysis="), "\(unknown.output)")
    }

    /// The number written right after `prefix` in `text`.
    static func number(after prefix: String, in text: String) -> Double? {
        guard let range = text.range(of: prefix) else { return nil }
        return Double(text[range.upperBound...].prefix { $0.isNumber || $0 == "." || $0 == "e" || $0 == "-" })
    }
}
