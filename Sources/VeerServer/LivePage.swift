import Posix
import Traffic
import Units

/// The live migration page (`GET /` on the `--metrics` address) and its JSON twin
/// (`GET /api/names`): one entry per weighted name with its endpoints' shares, health and
/// probe latency, its rollout, analyses and drain state, and its recent history (`History`,
/// at most `maxPoints` points). Both are built from one value, so they cannot disagree.
/// Read-only: nothing here changes the plane.
struct LivePage: Codable {
    /// Points per name on the chart and in the JSON: 24 hours of 10-second points are merged
    /// into runs of 30 (5 minutes), so a phone draws a few hundred points, not thousands.
    static let maxPoints = 288
    /// The page's path and the JSON's.
    static let pagePath = "/"
    static let apiPath = "/api/names"

    struct Endpoint: Codable {
        var id: String
        var role: String?
        /// Weights.
        var configured: UInt32
        var effective: UInt32
        /// Percent of the configured total, of the answers drawn now (configured weights while
        /// failing open), and of this server's answers over about the last minute (nil: none).
        var configuredShare: Double
        var effectiveShare: Double
        var observedShare: Double?
        var served: UInt64
        var servedLastMinute: UInt64
        var health: String
        var latencyMs: Int?
        var lastProbe: String?
        /// For an endpoint at weight 0: `in caches until …` or `drained since …`; else `serving`.
        var drain: String
        var lastAnswered: String?
        var cachedUntil: String?
        var analyses: [StatusReport.AnalysisJSON]
    }

    struct RolloutState: Codable {
        var target: String
        var phase: String
        /// 1-based.
        var step: Int
        var steps: [String]
        var share: String
        var bake: String
        var baked: String
        /// How much of the step's bake has run, 0-1.
        var bakeProgress: Double
        var nextStepAt: String?
        var note: String?
    }

    struct Value: Codable {
        /// Percent.
        var configured: Double
        var effective: Double
        var observed: Double?
        var latencyMs: Int?
        var health: String
    }

    struct Point: Codable {
        /// Unix milliseconds.
        var at: Int64
        /// In the order of the name's endpoints.
        var endpoints: [Value]
    }

    struct Event: Codable {
        /// Unix milliseconds.
        var at: Int64
        var kind: String
        var endpoint: String?
        var text: String
    }

    struct Name: Codable {
        var name: String
        var failOpen: Bool
        var endpoints: [Endpoint]
        var rollout: RolloutState?
        var points: [Point]
        var events: [Event]
    }

    /// Unix milliseconds when built.
    var generatedAt: Int64
    var generation: UInt64
    var server: String?
    var historyIntervalSeconds: Int64
    var historyCapacity: Int
    var names: [Name]

    /// The page's data from one status report and this server's history.
    init(_ report: StatusReport, history: History) {
        generatedAt = report.now.wall
        generation = report.generation
        server = report.shared?.serverID
        historyIntervalSeconds = History.interval / 1000
        historyCapacity = NameHistory.capacity
        names = report.effective.names.map { name in
            let past = history.names[name.key]
            let aligned = past?.endpoints == name.endpoints.map(\.config.id)
            return Name(name: name.key.text, failOpen: name.failOpen, endpoints: Self.endpoints(name, report),
                        rollout: report.rollouts[name.key].map { Self.rolloutState($0, now: report.now) },
                        points: aligned ? (past?.points(atMost: Self.maxPoints) ?? []).map(Self.point) : [],
                        events: (past?.events ?? []).map {
                            Event(at: $0.at, kind: $0.kind.rawValue, endpoint: $0.endpoint, text: $0.text)
                        })
        }
    }

    private static func endpoints(_ name: EffectiveWeights.Name, _ report: StatusReport) -> [Endpoint] {
        let recent = name.endpoints.reduce(UInt64(0)) { $0 + report.lastMinute($1.config.slot) }
        return zip(name.endpoints, name.drawnShares).map { endpoint, drawn in
            let slot = endpoint.config.slot
            let probe = report.probes[slot]?.state.lastResult
            let drain = report.drainText(name.key, endpoint)
            return Endpoint(id: endpoint.config.id, role: endpoint.config.role, configured: endpoint.configured,
                            effective: endpoint.effective, configuredShare: endpoint.share, effectiveShare: drawn,
                            observedShare: recent == 0 ? nil : Double(report.lastMinute(slot)) * 100 / Double(recent),
                            served: report.served(slot), servedLastMinute: report.lastMinute(slot), health: endpoint.health.rawValue,
                            latencyMs: probe?.latencyMs, lastProbe: probe?.description, drain: drain?.text ?? "serving",
                            lastAnswered: drain?.last, cachedUntil: drain?.until,
                            analyses: report.analyses(of: name.key, endpoint: endpoint.config.id))
        }
    }

    private static func rolloutState(_ rollout: Rollout, now: Moment) -> RolloutState {
        // The leader's progress on every server (a follower adds the time since its last save).
        let baked = rollout.baked(now: now)
        return RolloutState(target: rollout.target, phase: rollout.phase.rawValue, step: rollout.step + 1,
                     steps: rollout.steps.map(Rollout.percent), share: Rollout.percent(rollout.currentShare),
                     bake: Rollout.duration(rollout.bakeMs), baked: Rollout.duration(baked / 1000 * 1000),
                     bakeProgress: rollout.bakeMs > 0 ? min(1, max(0, Double(baked) / Double(rollout.bakeMs))) : 0,
                     nextStepAt: rollout.phase == .baking ? Log.timestamp(rollout.bakeEndsAt(now: now) / 1000) : nil,
                     note: rollout.note)
    }

    private static func point(_ point: HistoryPoint) -> Point {
        Point(at: point.at, endpoints: point.values.map { value in
            Value(configured: Double(value.configured) / 100, effective: Double(value.effective) / 100,
                  observed: value.observed == HistoryValue.none ? nil : Double(value.observed) / 100,
                  latencyMs: value.latencyMs == HistoryValue.none ? nil : Int(value.latencyMs), health: value.health.rawValue)
        })
    }

    /// The page and its JSON as resources of the metrics listener.
    static func resources(status: StatusSource, history: HistoryRecorder) -> [MetricsServer.Resource] {
        @Sendable func build() -> LivePage {
            let report = status.report()
            return history.read { LivePage(report, history: $0) }
        }
        return [
            MetricsServer.Resource(path: pagePath, contentType: "text/html; charset=utf-8") { build().html },
            MetricsServer.Resource(path: apiPath, contentType: "application/json") { JSON.text(build()) },
        ]
    }
}
