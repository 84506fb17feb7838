import Foundation
import Posix
import Testing
import TestSupport

/// Analyses on three servers sharing a real etcd, and the drain report of the old gateway.
struct AnalysisFleetIntegrationTests {
    @Test func threeServersSendOneQueryStreamAndEveryServerShowsTheVerdicts() throws {
        let gateway = try TestGateway(gateways: ["old", "new"])
        gateway.set("old", requestsPerSecond: 100, errorRatio: 0.001)
        gateway.set("new", requestsPerSecond: 100, errorRatio: 0.001)
        let prometheus = try PrometheusServer(targets: [gateway.target])
        let analysis = AnalysisSetup.analysis("errors", prometheusPort: prometheus.port,
                                              options: AnalysisIntegrationTests.errorBounds)
        let zone = AnalysisSetup.zone(gatewayPort: gateway.port, analyses: [analysis])
        let fleet = try SharedStoreTests.Fleet(zones: Array(repeating: zone, count: 3))
        // Prometheus has data before the rollout (a run now, from server a).
        let ready = try AnalysisSetup.poll(timeout: .seconds(30), { try fleet.veer(0, "analysis", "api.example.com", "new").output }) {
            $0.contains("errors on new (http://127.0.0.1:\(prometheus.port)): pass")
        }
        #expect(ready.contains(": pass"), "\(ready)")
        let start = try fleet.veer(1, "rollout", "start", "api.example.com", "--to", "new", "--steps", "10,100", "--bake", "1h")
        #expect(start.status == 0, "\(start.output)")

        // The leader's verdicts are saved with the rollout: every server shows them.
        for i in 0..<3 {
            let seen = try AnalysisSetup.poll(timeout: .seconds(20), { try AnalysisSetup.rollout(fleet.veer(i, "rollout", "status", "api.example.com", "--json")) }) {
                AnalysisSetup.verdict($0) == "pass"
            }
            let shown = AnalysisSetup.analysis(seen)
            #expect(shown?["verdict"] as? String == "pass", "server \(fleet.ids[i]): \(seen)")
            #expect(shown?["endpoint"] as? String == "new", "server \(fleet.ids[i]): \(seen)")
            #expect((shown?["text"] as? String)?.hasPrefix("analysis errors: new 0.001 vs old 0.001") == true, "server \(fleet.ids[i]): \(seen)")
        }

        // Count the queries Prometheus answers over a few intervals: one server's worth, the
        // judged endpoint's value and requests and the old one's (4 per 1 s interval).
        let before = try prometheus.queryRequestCount()
        let counting = ContinuousClock.now
        Thread.sleep(forTimeInterval: 8)
        let queries = try prometheus.queryRequestCount() - before
        let intervals = (ContinuousClock.now - counting).seconds / 1.0
        let perInterval = Double(queries) / intervals
        print("analysis: \(queries) Prometheus queries in \(String(format: "%.1f", intervals)) intervals from 3 servers: "
              + "\(String(format: "%.1f", perInterval)) per interval (one server's stream is 4)")
        #expect(perInterval >= 2 && perInterval <= 5.5, "one stream of 4 per interval, not 3 × 4: \(queries) in \(intervals) s")
        let rollout = try AnalysisSetup.rollout(fleet.veer(2, "rollout", "status", "api.example.com", "--json"))
        #expect(rollout["phase"] as? String == "baking", "\(rollout)")
    }

    @Test func theOldGatewayIsInCachesUntilItsLastAnswerPlusItsTTLThenDrained() throws {
        // No Prometheus and no probes needed: the drain report comes from Veer's own answers.
        // A 2 s TTL keeps the wait for "drained" short.
        let zone = """
            $ORIGIN example.com.
            @    3600 IN SOA ns1 hostmaster 1 3600 600 604800 60
            @    3600 IN NS  ns1
            ns1  3600 IN A   192.0.2.53
            api  2 IN CNAME gw-old.example.net. endpoint=old weight=100
            api  2 IN CNAME gw-new.example.net. endpoint=new weight=0
            """
        let server = try VeerProcess(zones: ["example.com.zone": zone])
        let admin = server.stateDirectory.path + "/admin.sock"
        func old() throws -> [String: Any] {
            let output = try AnalysisSetup.veer(admin: admin, ["status", "--json"]).output
            let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
            let endpoints = ((json?["names"] as? [[String: Any]])?.first?["endpoints"] as? [[String: Any]]) ?? []
            return endpoints.first { $0["id"] as? String == "old" } ?? [:]
        }
        // Answers naming old, spread over several control ticks (200 ms): the first tick only
        // takes the counters' baseline.
        for _ in 0..<4 {
            #expect(try server.dig("+short", "api.example.com.", "A").output.hasPrefix("gw-old.example.net."))
            Thread.sleep(forTimeInterval: 0.25)
        }
        let shift = try AnalysisSetup.veer(admin: admin, ["shift", "api.example.com", "new", "100%"])
        #expect(shift.status == 0, "\(shift.output)")
        #expect(try server.dig("+short", "api.example.com.", "A").output.hasPrefix("gw-new.example.net."))

        let cached = try old()
        #expect(cached["configured"] as? Int == 0, "\(cached)")
        #expect(cached["maxTTL"] as? Int == 2, "\(cached)")
        let last = try #require(cached["lastAnswered"] as? String, "\(cached)")
        let drain = try #require(cached["drain"] as? String, "\(cached)")
        let lastAnswered = try #require(Self.seconds(last), "\(last)")
        // The last answer is shown rounded down, the cache horizon (answer + TTL) rounded up.
        let cachedUntil = try #require(cached["cachedUntil"] as? String, "\(cached)")
        let until = try #require(Self.seconds(cachedUntil), "\(cachedUntil)")
        #expect([lastAnswered + 2, lastAnswered + 3].contains(until), "last answered \(last), TTL 2, cached until \(cachedUntil)")
        #expect(drain == "in caches until \(cachedUntil)", "\(cached)")
        let txt = try server.dig("TXT", "_veer.api.example.com.").answer.joined(separator: "\n")
        #expect(txt.contains("endpoint=old weight=0") && txt.contains("last-answer=\(last) cached-until="), "\(txt)")

        let drained = try AnalysisSetup.poll(timeout: .seconds(10), { try old() }) {
            ($0["drain"] as? String)?.hasPrefix("drained since") == true
        }
        #expect(drained["drain"] as? String == "drained since \(Self.text(until))", "\(drained)")
        #expect(drained["lastAnswered"] as? String == last, "no answer named old after the shift: \(drained)")
        let status = try AnalysisSetup.veer(admin: admin, ["status"]).output
        #expect(status.contains("api.example.com. old weight 0: last answered \(last) with TTL 2, drained since \(Self.text(until))"),
                "\(status)")
    }

    /// `2026-12-07T10:00:00Z` as Unix seconds.
    static func seconds(_ text: String) -> Int? {
        let formatter = ISO8601DateFormatter()
        return formatter.date(from: text).map { Int($0.timeIntervalSince1970) }
    }

    /// Unix seconds as `2026-12-07T10:00:00Z`.
    static func text(_ seconds: Int) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}
