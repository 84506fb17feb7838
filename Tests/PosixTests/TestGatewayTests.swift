import Foundation
import Posix
import Testing
import TestSupport

/// The stand-in gateway the analysis tests scrape: its counters follow the rates set, in real
/// time, and its exposition is what Prometheus reads.
struct TestGatewayTests {
    func metrics(_ gateway: TestGateway) throws -> [String: Double] {
        let reply = try HTTPClient.get(gateway.address, path: "/metrics", timeout: .seconds(2))
        #expect(reply.status == 200)
        var samples: [String: Double] = [:]
        for line in String(decoding: reply.body, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            samples[String(parts[0])] = Double(parts[1])
        }
        return samples
    }

    @Test func countersFollowTheRatesSetInRealTime() throws {
        let gateway = try TestGateway(gateways: ["old", "new"])
        gateway.set("new", requestsPerSecond: 1000, errorRatio: 0.25, latency: .milliseconds(30))
        let start = ContinuousClock.now
        Thread.sleep(forTimeInterval: 0.2)
        let samples = try metrics(gateway)
        let elapsed = ContinuousClock.now - start
        let total = try #require(samples[#"gateway_requests_total{gateway="new",code="200"}"#])
            + (try #require(samples[#"gateway_requests_total{gateway="new",code="503"}"#]))
        let most = 1000 * (Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds))
        #expect(total >= 200 && total <= most, "\(total) of at most \(most)")
        #expect(abs(samples[#"gateway_requests_total{gateway="new",code="503"}"#]! / total - 0.25) < 1e-9)
        // 30 ms: above the 0.025 bucket, inside 0.05 and every larger one.
        #expect(samples[#"gateway_request_duration_seconds_bucket{gateway="new",le="0.025"}"#] == 0)
        #expect(samples[#"gateway_request_duration_seconds_bucket{gateway="new",le="0.05"}"#] == total)
        #expect(samples[#"gateway_request_duration_seconds_bucket{gateway="new",le="+Inf"}"#] == total)
        #expect(samples[#"gateway_request_duration_seconds_count{gateway="new"}"#] == total)
        #expect(abs(samples[#"gateway_request_duration_seconds_sum{gateway="new"}"#]! - total * 0.03) < 1e-6)
        // No traffic on old: its series are there, at zero.
        #expect(samples[#"gateway_requests_total{gateway="old",code="200"}"#] == 0)
        #expect(samples[#"gateway_request_duration_seconds_count{gateway="old"}"#] == 0)
        #expect(gateway.scrapeCount == 1)
    }

    @Test func aRateOfZeroStopsTheCounters() throws {
        let gateway = try TestGateway(gateways: ["new"])
        gateway.set("new", requestsPerSecond: 500)
        Thread.sleep(forTimeInterval: 0.05)
        gateway.set("new", requestsPerSecond: 0)
        let stopped = gateway.requests("new")
        #expect(stopped > 0)
        Thread.sleep(forTimeInterval: 0.05)
        #expect(gateway.requests("new") == stopped)
    }

    @Test func healthzAnswersAndOtherPathsDoNot() throws {
        let gateway = try TestGateway(gateways: ["a"])
        #expect(try HTTPClient.get(gateway.address, path: "/healthz", timeout: .seconds(2)).status == 200)
        #expect(try HTTPClient.get(gateway.address, path: "/other", timeout: .seconds(2)).status == 404)
        #expect(gateway.scrapeCount == 0)
    }
}
