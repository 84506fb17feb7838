import Authority
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
    /// Per slot: answers of `select=client` names keyed by ECS and by resolver address.
    var byKind: [(ecs: UInt64, resolver: UInt64)] = []
    /// The client keys the query path sampled (`CohortSampler`).
    var samples: [CohortSample] = []
    /// With a shared store: whether it answers, the live servers and the leader.
    var shared: Shared?
    /// This server's analysis verdicts (the leader runs them).
    var analyses: [AnalysisKey: AnalysisTally] = [:]
    /// When endpoints were last answered, cluster-wide.
    var drain: DrainWatch?
    /// What the `traffic=` queries say still reaches the drained endpoints.
    var drainTraffic: [EndpointKey: DrainTraffic] = [:]
    /// With `--keys`: the signed zones and their keys, and the next renewal (RFC 3339).
    var signedZones: [SignedZone] = []
    var nextRenewal: String?
    let now: Moment

    struct Shared {
        var store: StoreReachability
        var serverID: String
        /// The revision of the shared state this server serves.
        var revision: UInt64
        var leader: String?
        /// Live servers (nil when the store could not be asked).
        var servers: [SharedServer]?
        /// The expected, live and missing servers and their zones (`StatusReport+Cluster.swift`).
        var cluster: ClusterMembership?
    }

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
            /// The last verdict of each of its analyses.
            var analyses: [AnalysisJSON]?
            /// At configured weight 0: when any server last answered with it, the longest TTL
            /// it went out with, and `in caches until …` or `drained since …`.
            var lastAnswered: String?
            var maxTTL: UInt32?
            /// Until when resolvers may hold it: the last answer plus the TTL, rounded up to
            /// the second (RFC 3339).
            var cachedUntil: String?
            var drain: String?
            /// What its analysis's `traffic=` query last said still reaches it.
            var traffic: Double?
        }
        /// For `select=client` names: who the answers went to.
        struct Cohorts: Codable {
            struct ByKind: Codable {
                var endpoint: String
                var ecs: UInt64
                var resolver: UInt64
            }
            struct Key: Codable {
                var key: String
                var kind: String
                var endpoint: String
                var share: Double
            }
            var byKind: [ByKind]
            /// The heaviest client keys sampled, heaviest first; `share` in percent.
            var top: [Key]
            var keysSampled: Int
            var warning: String?
        }
        struct Name: Codable {
            var name: String
            var select: String
            /// Every endpoint is down and answers go out by the configured weights.
            var failOpen: Bool
            var endpoints: [Endpoint]
            var cohorts: Cohorts?
        }
        struct Store: Codable {
            struct Server: Codable {
                var id: String
                var revision: UInt64
                var lastSeen: String
            }
            var location: String
            var reachable: Bool
            /// When it became reachable or unreachable (RFC 3339).
            var since: String
            var error: String?
            var server: String
            var revision: UInt64
            var leader: String?
            var servers: [Server]?
            /// False while the shared state does not read as a state (it is not adopted).
            var stateReadable: Bool
            /// Since when (RFC 3339), the unreadable value's revision and why.
            var stateUnreadableSince: String?
            var stateUnreadableRevision: UInt64?
            var stateError: String?
        }
        var generation: UInt64
        var names: [Name]
        var store: Store?
        var cluster: ClusterJSON?
        var dnssec: [SignedZone]?
        var nextSignatureRenewal: String?
    }

    /// `status [NAME] [json]`.
    func status(name: String?, json: Bool) throws(AdminError) -> String {
        let report = StatusJSON(generation: generation, names: try names(name).map { entry in
            let servedTotal = entry.endpoints.reduce(0) { $0 + served($1.config.slot) }
            return StatusJSON.Name(name: entry.key.text, select: entry.config.selectByClient ? "client" : "random",
                                   failOpen: entry.failOpen, endpoints: entry.endpoints.map { endpoint in
                let slot = endpoint.config.slot
                let probe = probes[slot]
                return StatusJSON.Endpoint(
                    id: endpoint.config.id, configured: endpoint.configured, effective: endpoint.effective,
                    share: endpoint.share, served: served(slot), servedLastMinute: lastMinute(slot),
                    observed: servedTotal == 0 ? 0 : Double(served(slot)) * 100 / Double(servedTotal),
                    health: endpoint.health.rawValue, check: endpoint.config.check,
                    lastProbe: probe?.state.lastResult?.description, lastLatencyMs: probe?.state.lastResult?.latencyMs,
                    since: probe?.state.lastTransitionAt.map(Self.wallTime),
                    analyses: Optional(analyses(of: entry.key, endpoint: endpoint.config.id)).flatMap { $0.isEmpty ? nil : $0 },
                    lastAnswered: drainText(entry.key, endpoint)?.last, maxTTL: drainText(entry.key, endpoint)?.maxTTL,
                    cachedUntil: drainText(entry.key, endpoint)?.until,
                    drain: drainText(entry.key, endpoint)?.text, traffic: drainText(entry.key, endpoint)?.traffic)
            }, cohorts: entry.config.selectByClient ? cohorts(entry) : nil)
        }, store: shared.map { shared in
            StatusJSON.Store(location: shared.store.location, reachable: shared.store.reachable,
                             since: Log.timestamp(shared.store.since / 1000), error: shared.store.error, server: shared.serverID,
                             revision: shared.revision, leader: shared.leader,
                             servers: shared.servers?.sorted { $0.id < $1.id }.map { .init(id: $0.id, revision: $0.revision, lastSeen: Log.timestamp($0.at / 1000)) },
                             stateReadable: shared.store.unreadable == nil,
                             stateUnreadableSince: shared.store.unreadable.map { Log.timestamp($0.since / 1000) },
                             stateUnreadableRevision: shared.store.unreadable?.revision, stateError: shared.store.unreadable?.reason)
        }, cluster: shared?.cluster.map(ClusterJSON.init), dnssec: signedZones.isEmpty ? nil : signedZones,
           nextSignatureRenewal: nextRenewal)
        if json { return "ok\n" + JSON.text(report) }
        var lines = ["ok \(report.names.count) weighted name\(report.names.count == 1 ? "" : "s"), generation \(report.generation)"]
        var rows = [["NAME", "ENDPOINT", "CONFIGURED", "EFFECTIVE", "SHARE", "SERVED", "LAST MIN", "OBSERVED", "HEALTH", "LAST PROBE", "SINCE"]]
        for entry in report.names {
            for e in entry.endpoints {
                rows.append([entry.name, e.id, "\(e.configured)", "\(e.effective)", Units.percentText(e.share), "\(e.served)",
                             "\(e.servedLastMinute)", Units.percentText(e.observed), e.health, e.lastProbe ?? "-", e.since ?? "-"])
            }
        }
        lines += Self.textTable(rows)
        for entry in report.names where entry.failOpen {
            lines.append("\(entry.name) FAILING OPEN: every endpoint is down; answers go out by the configured weights")
        }
        lines += analysisAndDrainLines(try names(name))
        if let store = report.store {
            lines.append(store.reachable
                ? "store: \(store.location) reachable since \(store.since); this server \(store.server) serves revision \(store.revision), leader \(store.leader ?? "none")"
                : "store: \(store.location) UNREACHABLE since \(store.since) (\(store.error ?? "?")); this server \(store.server) serves revision \(store.revision) and refuses changes")
            if !store.stateReadable {
                lines.append("store: the shared state is UNREADABLE since \(store.stateUnreadableSince ?? "?") (revision \(store.stateUnreadableRevision ?? 0): "
                             + "\(store.stateError ?? "?")); not adopted: this server serves its last good state (revision \(store.revision)) "
                             + "and refuses changes until `veer store restore REASON` writes it back")
            }
            if let servers = store.servers {
                lines += Self.textTable([["SERVER", "REVISION", "LAST SEEN"]] + servers.map { [$0.id, "\($0.revision)", $0.lastSeen] })
            }
            lines += report.cluster.map(Self.clusterLines) ?? []
        }
        for entry in report.names {
            guard let cohorts = entry.cohorts else { continue }
            lines.append("\(entry.name) select=client, answers by client key: " + cohorts.byKind.map {
                "\($0.endpoint) ecs=\($0.ecs) resolver=\($0.resolver)"
            }.joined(separator: ", "))
            if cohorts.top.isEmpty { continue }
            lines.append("  heaviest of \(cohorts.keysSampled) sampled keys: " + cohorts.top.map {
                "\($0.key) (\($0.kind)) \(Units.percentText($0.share)) on \($0.endpoint)"
            }.joined(separator: ", "))
            if let warning = cohorts.warning { lines.append("  warning: \(warning)") }
        }
        lines += Self.dnssecLines(signedZones, nextRenewal: nextRenewal)
        return lines.joined(separator: "\n")
    }

    /// What status shows of a `select=client` name's cohorts.
    private func cohorts(_ name: EffectiveWeights.Name) -> StatusJSON.Cohorts {
        let view = CohortView(name, samples: samples, byKind: byKind)
        return StatusJSON.Cohorts(
            byKind: view.byKind.map { .init(endpoint: $0.endpoint, ecs: $0.ecs, resolver: $0.resolver) },
            top: view.top.map { .init(key: $0.key.description, kind: $0.key.isECS ? "ecs" : "resolver", endpoint: $0.endpoint,
                                      share: $0.share * 100) },
            keysSampled: view.keys,
            warning: view.concentrated
                ? "the \(view.top.count) heaviest client keys carry \(Units.percentText(view.topShare * 100)) of the answers; "
                    + "the split users get follows those few keys more than the weights" : nil)
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
    static func records(_ effective: EffectiveWeights, rollouts: [NameKey: Rollout], generation: UInt64,
                        drained: [EndpointKey: DrainWatch.Seen] = [:]) -> [NameKey: [String]] {
        var records: [NameKey: [String]] = [:]
        for name in effective.names {
            var strings = name.endpoints.map { endpoint in
                var text = "endpoint=\(endpoint.config.id) weight=\(endpoint.configured) effective=\(endpoint.effective) health=\(endpoint.health.rawValue)"
                // A drained endpoint: when it was last answered and until when caches may hold it.
                if let seen = drained[EndpointKey(name: name.key, id: endpoint.config.id)] {
                    text += " last-answer=\(Log.timestamp(seen.lastAnsweredAt / 1000)) cached-until=\(Log.timestamp(DrainWatch.secondsUp(seen.cachedUntil)))"
                }
                return text
            }
            strings.append("generation=\(generation)")
            if name.failOpen { strings.append("fail-open=yes") }
            if let rollout = rollouts[name.key] {
                strings.append("rollout=\(rollout.phase.rawValue) to=\(rollout.target) step=\(rollout.step + 1)/\(rollout.steps.count) share=\(Rollout.percent(rollout.currentShare))")
            }
            records[name.key] = strings
        }
        return records
    }
}
