import Foundation
import Posix
import Testing
import TestSupport

/// The whole chain with a real Prometheus: test gateways export counters and a latency
/// histogram, Prometheus scrapes them every second, and `PrometheusClient` asks it the queries
/// an analysis would. Never a mock of Prometheus.
struct PrometheusChainTests {
    static let errorRatio = #"sum(rate(gateway_requests_total{gateway="{{endpoint}}",code=~"5.."}[1m])) / sum(rate(gateway_requests_total{gateway="{{endpoint}}"}[1m]))"#
    static let requests = #"sum(increase(gateway_requests_total{gateway="{{endpoint}}"}[1m]))"#
    static let p99 = #"histogram_quantile(0.99, sum by (le) (rate(gateway_request_duration_seconds_bucket{gateway="{{endpoint}}"}[1m])))"#
    /// Long enough for Prometheus to start, scrape twice and answer, on a busy machine.
    static let deadline: Duration = .seconds(25)

    static func query(_ prometheus: PrometheusServer, _ template: String, _ endpoint: String) -> PrometheusResult {
        PrometheusClient.query(prometheus.address, pathPrefix: "", promql: template.replacing("{{endpoint}}", with: endpoint),
                               timeout: .seconds(5))
    }

    /// Polls `query` until it gives a value that `accept` takes, or the deadline passes.
    static func eventually(_ what: String, _ query: () -> PrometheusResult, accept: (Double) -> Bool) throws -> Double {
        let end = ContinuousClock.now + deadline
        var last = PrometheusResult.noData
        while ContinuousClock.now < end {
            last = query()
            if case .value(let v) = last, accept(v) { return v }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw PrometheusServer.Failure("\(what): no acceptable value within \(deadline), last \(last)")
    }

    @Test func errorRatioRequestsAndLatencyOfTwoGateways() throws {
        let gateway = try TestGateway(gateways: ["old", "new"])
        gateway.set("old", requestsPerSecond: 200, errorRatio: 0.001, latency: .milliseconds(80))
        gateway.set("new", requestsPerSecond: 200, errorRatio: 0.05, latency: .milliseconds(300))
        let prometheus = try PrometheusServer(targets: [gateway.target])

        // Fractional counters make the ratio exact as soon as two scrapes are in the window.
        let new = try Self.eventually("new error ratio", { Self.query(prometheus, Self.errorRatio, "new") }) { !$0.isNaN }
        #expect(abs(new - 0.05) < 0.005)
        let old = try Self.eventually("old error ratio", { Self.query(prometheus, Self.errorRatio, "old") }) { !$0.isNaN }
        #expect(abs(old - 0.001) < 0.0002)

        let started = ContinuousClock.now
        let count = try Self.eventually("new requests", { Self.query(prometheus, Self.requests, "new") }) { $0 > 0 }
        // increase() over at most the minute since the gateways started, at 200 per second,
        // extrapolated by Prometheus to the window's edges.
        let seconds = Double((ContinuousClock.now - started).components.seconds) + 60
        #expect(count >= 100 && count <= 200 * seconds * 1.5, "\(count)")

        // Every request of new takes 300 ms: the p99 falls in the (0.25, 0.5] bucket; old's in (0.05, 0.1].
        let newP99 = try Self.eventually("new p99", { Self.query(prometheus, Self.p99, "new") }) { !$0.isNaN }
        #expect(newP99 > 0.25 && newP99 <= 0.5, "\(newP99)")
        let oldP99 = try Self.eventually("old p99", { Self.query(prometheus, Self.p99, "old") }) { !$0.isNaN }
        #expect(oldP99 > 0.05 && oldP99 <= 0.1, "\(oldP99)")

        #expect(Self.query(prometheus, Self.errorRatio, "nobody") == .noData)
        guard case .failed(let text) = Self.query(prometheus, "sum(rate(", "new") else {
            Issue.record("a broken query did not fail")
            return
        }
        #expect(text.hasPrefix("prometheus \(prometheus.address): bad_data: "), "\(text)")

        // Prometheus counts the instant queries it answered: one stream is countable.
        let before = try prometheus.queryRequestCount()
        for _ in 0..<3 { _ = Self.query(prometheus, Self.requests, "old") }
        #expect(try prometheus.queryRequestCount() == before + 3)
        #expect(gateway.scrapeCount >= 2)
    }

    @Test func prometheusStoppedAndStartedAgainOnTheSamePort() throws {
        let gateway = try TestGateway(gateways: ["new"])
        gateway.set("new", requestsPerSecond: 50, errorRatio: 0.1)
        let prometheus = try PrometheusServer(targets: [gateway.target])
        let address = prometheus.address
        _ = try Self.eventually("before the stop", { Self.query(prometheus, Self.errorRatio, "new") }) { abs($0 - 0.1) < 0.01 }

        prometheus.stop()
        guard case .failed(let text) = Self.query(prometheus, Self.errorRatio, "new") else {
            Issue.record("a stopped Prometheus answered")
            return
        }
        #expect(text.hasPrefix("prometheus \(address): connect \(address): ECONNREFUSED"), "\(text)")

        try prometheus.start()
        #expect(prometheus.address == address)
        _ = try Self.eventually("after the start", { Self.query(prometheus, Self.errorRatio, "new") }) { abs($0 - 0.1) < 0.01 }
    }

    @Test func aMissingPrometheusBinaryIsALoudError() throws {
        #expect { _ = try PrometheusServer.binary(searching: "/nonexistent:/also/not") } throws: {
            "\($0)".contains("prometheus is missing")
        }
        #expect(try PrometheusServer.binary(searching: "/nonexistent:/usr/bin").hasSuffix("/prometheus"))
    }
}
