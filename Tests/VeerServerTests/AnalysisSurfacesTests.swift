import Foundation
import Testing
import Traffic
@testable import VeerServer

/// Analysis verdicts and the drain report on the status surfaces: `status json`, the TXT
/// strings and a Prometheus text whose every family's samples stand together.
struct AnalysisSurfacesTests {
    static let api = NameKey("api.example.com")

    /// api: old=0 (drained, last answered at 10 s with TTL 30), new=100 with one failing verdict.
    static func report() -> StatusReport {
        let config = [WeightedNameConfig(key: api, endpoints: [
            EndpointConfig(id: "old", slot: 0, zoneWeight: 0, ttl: 30),
            EndpointConfig(id: "new", slot: 1, zoneWeight: 100, analyses: ["errors"], ttl: 30),
        ])]
        let (plane, _) = ControlPlane.start(config: config, zones: 0, saved: nil, seed: .zero, now: 0)
        var drain = DrainWatch(since: 0)
        drain.observe(totals: [1, 0], ttl: [30, 30], now: 5_000)
        drain.observe(totals: [7, 0], ttl: [30, 30], now: 10_000)
        var tally = AnalysisTally()
        tally.record(AnalysisResult(analysis: "errors", endpoint: "new", verdict: .fail, value: 0.05, baseline: 0.001,
                                    requests: 900, at: 20_000, text: "analysis errors: new 0.05 vs old 0.001"))
        return StatusReport(effective: plane.effective, rollouts: [:], changed: [:], generation: 1, probes: [:], served: [7, 9],
                            servedLastMinute: [7, 9], analyses: [AnalysisKey(name: api, endpoint: "new", analysis: "errors"): tally],
                            drain: drain, now: Moment(monotonic: 0, wall: 41_000))
    }

    @Test func statusJSONCarriesTheVerdictAndTheDrain() throws {
        let body = try Self.report().status(name: nil, json: true).dropFirst(3)
        let decoded = try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [String: Any]
        let endpoints = (decoded["names"] as! [[String: Any]])[0]["endpoints"] as! [[String: Any]]
        let old = try #require(endpoints.first { $0["id"] as? String == "old" })
        #expect(old["drain"] as? String == "drained since 1970-01-01T00:00:40Z")
        #expect(old["lastAnswered"] as? String == "1970-01-01T00:00:10Z")
        #expect(old["maxTTL"] as? Int == 30)
        let new = try #require(endpoints.first { $0["id"] as? String == "new" })
        let analysis = try #require((new["analyses"] as? [[String: Any]])?.first)
        #expect(analysis["verdict"] as? String == "fail")
        #expect(analysis["value"] as? Double == 0.05)
        #expect(new["drain"] == nil, "an endpoint with weight is not draining")
    }

    @Test func theTXTRecordSaysWhenTheDrainedEndpointWasLastAnswered() {
        let report = Self.report()
        let drained = [EndpointKey(name: Self.api, id: "old"): report.drain!.seen(0)!]
        let strings = StatusReport.records(report.effective, rollouts: [:], generation: 1, drained: drained)[Self.api] ?? []
        #expect(strings.first == "endpoint=old weight=0 effective=0 health=unchecked last-answer=1970-01-01T00:00:10Z cached-until=1970-01-01T00:00:40Z")
    }

    /// The text exposition wants every family's samples after its TYPE line and together.
    @Test func everyMetricsFamilyStandsTogether() {
        let text = Self.report().metrics(queries: (answered: [false: [UInt64](repeating: 0, count: 16), true: [UInt64](repeating: 0, count: 16)],
                                                   dropped: [false: 0, true: 0]),
                                         limits: (limited: [UInt64](repeating: 0, count: 8), slipped: 0))
        var finished: Set<String> = []
        var current = ""
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let family = String(line.split(separator: " ")[2])
                #expect(!finished.contains(family), "\(family) declared twice")
                finished.insert(current)
                current = family
            } else if !line.hasPrefix("#") {
                let family = String(line.prefix { $0 != "{" && $0 != " " })
                let base = [family, String(family.dropLast("_total".count))].first { $0 == current } ?? family
                #expect(base == current, "\(family) sample under \(current)'s TYPE")
            }
        }
        #expect(text.contains("veer_analysis_value{analysis=\"errors\",endpoint=\"new\",name=\"api.example.com.\"} 0.05"))
        #expect(text.contains("veer_analysis_verdict{analysis=\"errors\",endpoint=\"new\",name=\"api.example.com.\",verdict=\"fail\"} 1"))
        #expect(text.contains("veer_endpoint_cached_until_timestamp_seconds{endpoint=\"old\",name=\"api.example.com.\"} 40"))
    }
}

/// Another server's `drain/ID` value from etcd is hostile: what does not parse, or is out of
/// range, is left out, and the rest is kept.
struct DrainEntriesTests {
    @Test func wellFormedEntriesAreRead() {
        let value = Array(#"{"api.example.com. old": "1000,30,31000"}"#.utf8)
        #expect(EtcdStateStore.drainEntries(value, now: 2_000) == [EndpointKey(name: NameKey("api.example.com"), id: "old"):
                                                       DrainWatch.Seen(lastAnsweredAt: 1_000, maxTTL: 30, cachedUntil: 31_000)])
    }

    @Test(arguments: [
        "", "null", "[]", "{", #"{"api.example.com. old": 5}"#, #"{"api.example.com.": "1000,30,31000"}"#,
        #"{"api.example.com. old": "1000,30"}"#, #"{"api.example.com. old": "-1,30,31000"}"#,
        #"{"api.example.com. old": "1000,30,999"}"#, #"{"api.example.com. old": "1000,99999999999,31000"}"#,
        #"{"api.example.com. old": "1000,30,31000,1"}"#, #"{"a b c": "1000,30,31000"}"#,
        // A horizon no answer could reach, and one past every clock (it would overflow when
        // rounded, and hold every server's report forever).
        #"{"api.example.com. old": "0,0,9223372036854775807"}"#, #"{"api.example.com. old": "1000,30,31001"}"#,
        #"{"api.example.com. old": "32503680000000,30,32503680030000"}"#,
    ])
    func garbledEntriesAreLeftOut(_ text: String) {
        #expect(EtcdStateStore.drainEntries(Array(text.utf8), now: 2_000).isEmpty)
    }

    @Test func oneBadEntryDoesNotCostTheOthers() {
        let value = Array(#"{"api.example.com. old": "x", "api.example.com. new": "2000,5,7000"}"#.utf8)
        #expect(EtcdStateStore.drainEntries(value, now: 2_000).keys.map(\.id) == ["new"])
    }
}
