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
        var (plane, _) = ControlPlane.start(config: config, zones: 0, saved: nil, now: 0)
        func finish(_ effects: [ControlPlane.Effect]) {
            for effect in effects {
                if case .persist(let request) = effect { finish(plane.handle(.persisted(.saved(revision: request.revision + 1)), now: 0)) }
            }
        }
        finish(plane.handle(.command(.shift(name: "api.example.com", endpoint: "new", basisPoints: 2_500), line: "shift", uid: 0), now: 0))
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
                                                  dropped: [false: 0, true: 0]))
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
}
