import Foundation
import Posix
import Synchronization
import Testing

/// curl, the metrics listener and the test parser agree: what an operator scrapes is valid
/// exposition text carrying the live counter values.
@Suite struct MetricsScrapeTests {
    @Test(arguments: ["127.0.0.1:0", "[::1]:0"])
    func curlScrapeParsesAndTracksTheCounter(listen: String) throws {
        let served = Atomic<Int>(0)
        let server = try MetricsServer(address: SocketAddress(parsing: listen)) {
            """
            # HELP veer_test_queries_total Queries seen by this test server.
            # TYPE veer_test_queries_total counter
            veer_test_queries_total{transport="udp"} \(served.load(ordering: .relaxed))
            veer_test_queries_total{transport="tcp"} 0

            """
        }
        server.start()
        defer { server.stop() }

        let before = try PrometheusText(parsing: scrapeWithCurl(server.boundAddress))
        #expect(before.types["veer_test_queries_total"] == .counter)
        #expect(before.total("veer_test_queries_total") == 0)
        served.add(41, ordering: .relaxed)
        let after = try PrometheusText(parsing: scrapeWithCurl(server.boundAddress))
        #expect(after.value("veer_test_queries_total", ["transport": "udp"]) == 41)
        #expect(after.total("veer_test_queries_total") == 41)
    }

    /// Regression guard: the real binary's rollout families were interleaved (a family's
    /// samples split by another's), which the text format forbids. promtool, from Debian's
    /// prometheus package, checks a real scrape taken while a rollout is active; it refuses a
    /// family declared twice but not samples split under one declaration, so the scrape's
    /// grouping is checked here too (`interleavedFamilies`).
    @Test func promtoolAcceptsARealScrapeDuringARollout() throws {
        let promtool = try Tools.onPath("promtool") ?? { throw HarnessError("promtool not found: apt-get install prometheus") }()
        let setup = try HealthTests.Setup(maxLatency: nil, extraArguments: ["--metrics", "127.0.0.1:0"])
        let address = try setup.server.metricsAddress()
        #expect(try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "40,100", "--bake", "1h").status == 0)
        _ = try setup.answers(5)
        _ = try setup.server.dig("nope.example.com.", "A")
        let text = try scrapeWithCurl(address)
        #expect(text.contains("veer_rollout_step{"), "a rollout's families are in the scrape: \(text)")
        let file = setup.state + "/scrape.prom"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let check = try runProgram(promtool, ["check", "metrics"], input: file)
        #expect(check.status == 0, "promtool check metrics: \(check.output)\n--- scrape ---\n\(text)")
        #expect(!check.output.contains("error"), "\(check.output)")
        #expect(Self.interleavedFamilies(text) == [], "each family's HELP, TYPE and samples stand together: \(text)")
    }

    /// The old shape (both rollout families declared, then their samples alternating) is
    /// caught; the shape the server writes now is not.
    @Test func theGroupingCheckCatchesInterleavedFamilies() {
        let old = """
            # HELP veer_rollout_step Step.
            # TYPE veer_rollout_step gauge
            # HELP veer_rollout_share_percent Share.
            # TYPE veer_rollout_share_percent gauge
            veer_rollout_step{name="a."} 1
            veer_rollout_share_percent{name="a."} 40
            veer_rollout_step{name="b."} 0

            """
        #expect(Self.interleavedFamilies(old) == ["veer_rollout_share_percent", "veer_rollout_step"])
        let grouped = """
            # HELP veer_rollout_step Step.
            # TYPE veer_rollout_step gauge
            veer_rollout_step{name="a."} 1
            veer_rollout_step{name="b."} 0
            # HELP veer_probe_seconds Latency.
            # TYPE veer_probe_seconds histogram
            veer_probe_seconds_bucket{le="+Inf"} 1
            veer_probe_seconds_sum 0.1
            veer_probe_seconds_count 1

            """
        #expect(Self.interleavedFamilies(grouped) == [])
    }

    /// Families whose lines (HELP, TYPE, samples) do not stand in one run, sorted. A sample
    /// named `X_bucket`, `X_sum` or `X_count` belongs to `X` when `X` is declared.
    static func interleavedFamilies(_ text: String) -> [String] {
        var declared: Set<String> = []
        var runs: [String] = []
        for line in text.split(separator: "\n") {
            let family: String
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                family = String(line.dropFirst(7).prefix { $0 != " " })
                declared.insert(family)
            } else if line.hasPrefix("#") {
                continue
            } else {
                let name = String(line.prefix { $0 != "{" && $0 != " " })
                let base = ["_bucket", "_sum", "_count"].first { name.hasSuffix($0) }.map { String(name.dropLast($0.count)) }
                family = base.flatMap { declared.contains($0) ? $0 : nil } ?? name
            }
            if runs.last != family { runs.append(family) }
        }
        var counts: [String: Int] = [:]
        for family in runs { counts[family, default: 0] += 1 }
        return counts.filter { $0.value > 1 }.keys.sorted()
    }

    @Test func curlReportsNotFoundForOtherPaths() throws {
        let server = try MetricsServer(address: SocketAddress(parsing: "127.0.0.1:0")) { "" }
        server.start()
        defer { server.stop() }
        #expect {
            _ = try scrapeWithCurl(server.boundAddress, path: "/")
        } throws: { error in
            "\(error)".contains("404")
        }
    }
}
