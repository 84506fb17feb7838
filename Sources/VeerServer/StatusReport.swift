import Authority
import Foundation
import Posix
import Traffic
import Units

/// What operators and their tools read of the served state — `status` (text and JSON), the
/// `_veer.NAME` TXT records, the Prometheus text, `rollout status`, `health NAME` — all from
/// one `EffectiveWeights`, so no two surfaces can disagree about a weight or a verdict.
struct StatusReport {
    let effective: EffectiveWeights
    let rollouts: [NameKey: Rollout]
    let changed: [NameKey: Moment]
    let generation: UInt64
    /// The health monitor's detail by slot: check name and state machine.
    let probes: [Int: (check: String, state: HealthState)]
    /// Answers served per slot since start, and over about the last minute.
    let served: [UInt64]
    let servedLastMinute: [UInt64]
    let now: Moment

    func served(_ slot: Int) -> UInt64 { slot < served.count ? served[slot] : 0 }
    func lastMinute(_ slot: Int) -> UInt64 { slot < servedLastMinute.count ? servedLastMinute[slot] : 0 }

    func names(_ name: String?) throws(AdminError) -> [EffectiveWeights.Name] {
        guard let name else { return effective.names }
        let key = NameKey(name)
        guard let found = effective.name(key) else { throw AdminError.unknownName(key.text, effective.names.map(\.key.text)) }
        return [found]
    }

    // MARK: - status

    private struct StatusJSON: Codable {
        struct Endpoint: Codable {
            var id: String
            var configured: UInt32
            var effective: UInt32
            var share: Double
            var served: UInt64
            /// Answers over about the last minute (since start when younger).
            var servedLastMinute: UInt64
            var observed: Double
            /// `up`, `down`, `unknown` (no result yet, counted as up) or `unchecked`.
            var health: String
            var check: String?
            var lastProbe: String?
            var lastLatencyMs: Int?
            /// When the endpoint last went down or came back (RFC 3339), if it has.
            var since: String?
        }
        struct Name: Codable {
            var name: String
            var endpoints: [Endpoint]
        }
        var generation: UInt64
        var names: [Name]
    }

    /// `status [NAME] [json]`.
    func status(name: String?, json: Bool) throws(AdminError) -> String {
        let report = StatusJSON(generation: generation, names: try names(name).map { entry in
            let servedTotal = entry.endpoints.reduce(0) { $0 + served($1.config.slot) }
            return StatusJSON.Name(name: entry.key.text, endpoints: entry.endpoints.map { endpoint in
                let slot = endpoint.config.slot
                let probe = probes[slot]
                return StatusJSON.Endpoint(
                    id: endpoint.config.id, configured: endpoint.configured, effective: endpoint.effective,
                    share: endpoint.share, served: served(slot), servedLastMinute: lastMinute(slot),
                    observed: servedTotal == 0 ? 0 : Double(served(slot)) * 100 / Double(servedTotal),
                    health: endpoint.health.rawValue, check: endpoint.config.check,
                    lastProbe: probe?.state.lastResult?.description, lastLatencyMs: probe?.state.lastResult?.latencyMs,
                    since: probe?.state.lastTransitionAt.map(Self.wallTime))
            })
        })
        if json { return "ok\n" + Self.json(report) }
        var lines = ["ok \(report.names.count) weighted name\(report.names.count == 1 ? "" : "s"), generation \(report.generation)"]
        var rows = [["NAME", "ENDPOINT", "CONFIGURED", "EFFECTIVE", "SHARE", "SERVED", "LAST MIN", "OBSERVED", "HEALTH", "LAST PROBE", "SINCE"]]
        for entry in report.names {
            for e in entry.endpoints {
                rows.append([entry.name, e.id, "\(e.configured)", "\(e.effective)", Units.percentText(e.share), "\(e.served)",
                             "\(e.servedLastMinute)", Units.percentText(e.observed), e.health, e.lastProbe ?? "-", e.since ?? "-"])
            }
        }
        lines += Self.textTable(rows)
        return lines.joined(separator: "\n")
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }

    /// Left-aligned text columns separated by two spaces.
    static func textTable(_ rows: [[String]]) -> [String] {
        guard let first = rows.first else { return [] }
        var widths = [Int](repeating: 0, count: first.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
            }.joined(separator: "  ")
        }
    }

    /// A monotonic millisecond time (the health clock) as wall-clock RFC 3339 text.
    static func wallTime(_ monotonicMs: Int64) -> String {
        let ageSeconds = (Int64(Clock.now() / 1_000_000) - monotonicMs) / 1000
        return Log.timestamp(Clock.wallSeconds() - ageSeconds)
    }

    // MARK: - TXT

    /// Per weighted name: `endpoint=ID weight=W effective=E health=H` for each endpoint, then
    /// `generation=G`, and `rollout=…` while one is known.
    static func records(_ effective: EffectiveWeights, rollouts: [NameKey: Rollout], generation: UInt64) -> [NameKey: [String]] {
        var records: [NameKey: [String]] = [:]
        for name in effective.names {
            var strings = name.endpoints.map {
                "endpoint=\($0.config.id) weight=\($0.configured) effective=\($0.effective) health=\($0.health.rawValue)"
            }
            strings.append("generation=\(generation)")
            if let rollout = rollouts[name.key] {
                strings.append("rollout=\(rollout.phase.rawValue) to=\(rollout.target) step=\(rollout.step + 1)/\(rollout.steps.count) share=\(Rollout.percent(rollout.currentShare))")
            }
            records[name.key] = strings
        }
        return records
    }
}
