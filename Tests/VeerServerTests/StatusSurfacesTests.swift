import Foundation
import Testing
import Traffic
@testable import VeerServer

/// One state, four surfaces: `status`, `status json`, the `_veer` TXT strings and the
/// Prometheus text must say the same weights and the same verdict for every endpoint.
struct StatusSurfacesTests {
    static let api = NameKey("api.example.com")

    /// api: old=75 new=25 with new down (effective 0); pool: green never probed (unknown),
    /// blue without a check (unchecked).
    static func report() -> StatusReport {
        let config = [
            WeightedNameConfig(key: api, endpoints: [
                EndpointConfig(id: "old", slot: 0, zoneWeight: 100, check: "gw"),
                EndpointConfig(id: "new", slot: 1, zoneWeight: 0, check: "gw"),
            ]),
            WeightedNameConfig(key: NameKey("pool.example.com"), endpoints: [
                EndpointConfig(id: "blue", slot: 2, zoneWeight: 1, records: [.a]),
                EndpointConfig(id: "green", slot: 3, zoneWeight: 3, check: "gw", records: [.a]),
            ]),
        ]
        var (plane, _) = ControlPlane.start(config: config, zones: 0, saved: nil, seed: .zero, now: 0)
        func finish(_ effects: [ControlPlane.Effect]) {
            for effect in effects {
                if case .persist(let request) = effect { finish(plane.handle(.persisted(.saved(revision: request.revision + 1)), now: 0)) }
            }
        }
        finish(plane.handle(.command(.shift(name: "api.example.com", endpoint: "new", basisPoints: 2_500), line: "shift", requester: .uid(0)), now: 0))
        finish(plane.handle(.probe(ProbeReport(slot: 0, anomaly: nil, status: .up, transition: nil)), now: 0))
        finish(plane.handle(.probe(ProbeReport(slot: 1, anomaly: "status 503", status: .down,
                                               transition: HealthState.Transition(from: .up, to: .down, reason: "status 503"))), now: 0))
        return StatusReport(effective: plane.effective, rollouts: plane.rollouts, changed: plane.changed, generation: plane.generation,
                            probes: [:], served: [], servedLastMinute: [], now: 0)
    }

    /// (configured, effective, health) by "name endpoint", as one surface says it.
    typealias Verdicts = [String: [String]]

    static let expected: Verdicts = [
        "api.example.com. old": ["75", "75", "up"], "api.example.com. new": ["0", "0", "down"],
        "pool.example.com. blue": ["1", "1", "unchecked"], "pool.example.com. green": ["3", "3", "unknown"],
    ]

    @Test func statusJSONTXTAndMetricsAgree() throws {
        let report = Self.report()
        // The rollback rule drained `new` (raised just now, then down): configured 0.
        var text: Verdicts = [:]
        for line in try report.status(name: nil, json: false).split(separator: "\n").dropFirst(2) {
            let cells = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            text["\(cells[0]) \(cells[1])"] = [cells[2], cells[3], cells[8]]
        }
        var json: Verdicts = [:]
        let body = try report.status(name: nil, json: true).dropFirst(3)
        let decoded = try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [String: Any]
        for name in decoded["names"] as! [[String: Any]] {
            for e in name["endpoints"] as! [[String: Any]] {
                json["\(name["name"]!) \(e["id"]!)"] = ["\(e["configured"]!)", "\(e["effective"]!)", "\(e["health"]!)"]
            }
        }
        var txt: Verdicts = [:]
        for (name, strings) in StatusReport.records(report.effective, rollouts: report.rollouts, generation: report.generation) {
            for string in strings where string.hasPrefix("endpoint=") {
                let fields = Dictionary(uniqueKeysWithValues: string.split(separator: " ").map {
                    let pair = $0.split(separator: "=", maxSplits: 1)
                    return (String(pair[0]), String(pair[1]))
                })
                txt["\(name) \(fields["endpoint"]!)"] = [fields["weight"]!, fields["effective"]!, fields["health"]!]
            }
        }
        var metrics: Verdicts = [:]
        let exposition = report.metrics(queries: (answered: [false: [UInt64](repeating: 0, count: 16), true: [UInt64](repeating: 0, count: 16)],
                                                  dropped: [false: 0, true: 0]),
                                        limits: (limited: [0, 0, 0, 0], slipped: 0))
        func sample(_ family: String, _ name: String, _ endpoint: String) -> String? {
            exposition.split(separator: "\n").first { $0.hasPrefix("\(family){endpoint=\"\(endpoint)\",name=\"\(name)\"}") }
                .map { String($0.split(separator: " ").last!) }
        }
        for key in Self.expected.keys {
            let parts = key.split(separator: " ").map(String.init)
            let up = sample("veer_endpoint_up", parts[0], parts[1])
            metrics[key] = [sample("veer_weight_configured", parts[0], parts[1]) ?? "-", sample("veer_weight_effective", parts[0], parts[1]) ?? "-",
                            up == "0" ? "down" : Self.expected[key]![2] == "down" ? "up" : Self.expected[key]![2]]
        }
        #expect(text == Self.expected)
        #expect(json == Self.expected)
        #expect(txt == Self.expected)
        #expect(metrics == Self.expected)
    }

    @Test func cohortsShowInStatusJSONAndMetricsAlike() throws {
        let config = [WeightedNameConfig(key: NameKey("app.example.com"), endpoints: [
            EndpointConfig(id: "old", slot: 0, zoneWeight: 95, records: [.a]),
            EndpointConfig(id: "new", slot: 1, zoneWeight: 5, records: [.a]),
        ], selectByClient: true)]
        let (plane, _) = ControlPlane.start(config: config, zones: 0, saved: nil, seed: .zero, now: 0)
        let heavy = CohortKey(ipv4: 0xC633_6400, length: 24, fromECS: true)
        let samples = [CohortSample(key: heavy, slot: 1, count: 60)]
            + (0..<8).map { CohortSample(key: CohortKey(ipv4: UInt32($0) << 8, length: 24, fromECS: false), slot: 0, count: 5) }
        let report = StatusReport(effective: plane.effective, rollouts: [:], changed: [:], generation: plane.generation, probes: [:],
                                  served: [40, 60], servedLastMinute: [40, 60], byKind: [(ecs: 0, resolver: 40), (ecs: 60, resolver: 0)],
                                  samples: samples, now: 0)
        let text = try report.status(name: "app.example.com", json: false)
        #expect(text.contains("app.example.com. select=client, answers by client key: old ecs=0 resolver=40, new ecs=60 resolver=0"), "\(text)")
        #expect(text.contains("heaviest of 9 sampled keys: 198.51.100.0/24 (ecs) 60.0% on new, 0.0.0.0/24 (resolver) 5.0% on old"), "\(text)")
        #expect(text.contains("warning: the 5 heaviest client keys carry 80.0% of the answers"), "\(text)")
        let body = try report.status(name: "app.example.com", json: true).dropFirst(3)
        let decoded = try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [String: Any]
        let name = (decoded["names"] as! [[String: Any]])[0]
        #expect(name["select"] as? String == "client")
        let cohorts = name["cohorts"] as! [String: Any]
        #expect((cohorts["top"] as! [[String: Any]]).first?["key"] as? String == "198.51.100.0/24")
        #expect(cohorts["keysSampled"] as? Int == 9 && cohorts["warning"] != nil)
        let exposition = report.metrics(queries: (answered: [false: [UInt64](repeating: 0, count: 16), true: [UInt64](repeating: 0, count: 16)],
                                                  dropped: [false: 0, true: 0]),
                                        limits: (limited: [0, 0, 0, 0], slipped: 0))
        #expect(exposition.contains("veer_answers_by_key_total{endpoint=\"new\",key=\"ecs\",name=\"app.example.com.\"} 60"))
        #expect(exposition.contains("veer_answers_by_key_total{endpoint=\"old\",key=\"resolver\",name=\"app.example.com.\"} 40"))
        #expect(exposition.contains("veer_cohort_top_keys_share{name=\"app.example.com.\"} 0.8"))
    }
}
