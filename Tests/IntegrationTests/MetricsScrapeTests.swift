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
