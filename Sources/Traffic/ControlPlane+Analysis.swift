/// Judging endpoints on their gateways' real traffic: the clock asks for an analysis's
/// queries when one is due (`.analyze`), the I/O edge runs them against Prometheus and
/// brings the answers back (`.analyzed`), and the verdict counts toward promotion (a step
/// waits for a pass), rollback (`failure-limit` failures in a row) or a pause
/// (`inconclusive-limit` inconclusive results in a row).
extension ControlPlane {
    /// Endpoints watched now, each with the endpoints traffic moves from (the baseline):
    /// - the target of an active rollout, against the endpoints it had weight on at the start;
    /// - outside a rollout, an endpoint whose weight was raised within the rollback window (or
    ///   `role=new` with weight), against the other endpoints with weight.
    /// Only the leader watches: one query stream for the cluster.
    func watchedAnalyses(now: Moment) -> [(name: WeightedNameConfig, endpoint: EndpointConfig, baseline: [String])] {
        guard leads else { return [] }
        var watched: [(WeightedNameConfig, EndpointConfig, [String])] = []
        for name in config where !name.analyses.isEmpty {
            if let rollout = rollouts[name.key], rollout.phase.isActive {
                if let target = name.endpoint(rollout.target), !target.analyses.isEmpty {
                    watched.append((name, target, rollout.baseline.filter { $0.id != target.id && $0.weight > 0 }.map(\.id)))
                }
                continue
            }
            guard let saved = store.name(name.key) else { continue }
            for endpoint in name.endpoints where !endpoint.analyses.isEmpty {
                guard let weights = saved.endpoints.first(where: { $0.id == endpoint.id }),
                      RollbackRule.shouldRollBack(role: endpoint.role, weight: weights.weight, raisedAt: weights.raisedAt,
                                                  now: now.wallSeconds, window: settings.rollbackWindowMs / 1000) else { continue }
                let others = saved.endpoints.filter { $0.id != endpoint.id && $0.weight > 0 }.map(\.id)
                watched.append((name, endpoint, others))
            }
        }
        return watched
    }

    /// The `.analyze` effects of the analyses due at `now`: each watched endpoint's
    /// analyses, once per interval, never twice at once.
    mutating func analysesDue(now: Moment) -> [Effect] {
        var effects: [Effect] = []
        func due(_ key: AnalysisKey, every intervalMs: Int64) -> Bool {
            guard !analysisOut.contains(key) else { return false }
            if let started = analysisStarted[key], now.monotonic - started < intervalMs { return false }
            analysisStarted[key] = now.monotonic
            analysisOut.insert(key)
            return true
        }
        var watching: Set<AnalysisKey> = []
        for (name, endpoint, baseline) in watchedAnalyses(now: now) {
            for analysisName in endpoint.analyses {
                guard let analysis = name.analysis(analysisName) else { continue }
                let key = AnalysisKey(name: name.key, endpoint: endpoint.id, analysis: analysisName)
                watching.insert(key)
                // Failures in a row count from when the endpoint is watched again: an earlier
                // raise's (or an earlier leader's) failures do not roll this one back.
                if !analysisWatched.contains(key) { analysisTallies[key]?.restart() }
                guard due(key, every: analysis.intervalMs) else { continue }
                let step = rollouts[name.key].flatMap { $0.phase.isActive && $0.target == endpoint.id ? $0.step : nil }
                effects.append(.analyze(analysis.request(name: name.key, endpoint: endpoint.id, baseline: baseline, step: step)))
            }
        }
        analysisWatched = watching
        // Drained endpoints answered since this server started: what still reaches them.
        guard leads else { return effects }
        for name in config where name.analyses.contains(where: { $0.traffic != nil }) {
            for endpoint in name.endpoints where endpoint.slot < drainable.count && drainable[endpoint.slot]
                && drain.seen(endpoint.slot) != nil {
                guard let analysis = endpoint.analyses.lazy.compactMap({ name.analysis($0) }).first(where: { $0.traffic != nil }),
                      let request = analysis.trafficRequest(name: name.key, endpoint: endpoint.id) else { continue }
                guard due(AnalysisKey(name: name.key, endpoint: endpoint.id, analysis: analysis.name + " traffic"),
                          every: analysis.intervalMs) else { continue }
                effects.append(.analyze(request))
            }
        }
        return effects
    }

    /// Prometheus answered `request`: judge, count, and act on the verdict.
    mutating func analyzed(_ request: AnalysisRequest, _ measurement: AnalysisMeasurement, now: Moment) -> [Effect] {
        if request.trafficOnly {
            analysisOut.remove(AnalysisKey(name: request.name, endpoint: request.endpoint, analysis: request.analysis + " traffic"))
            if let traffic = measurement.traffic {
                drainTraffic[EndpointKey(name: request.name, id: request.endpoint)] = DrainTraffic(reading: traffic, at: now.wall)
            }
            return []
        }
        let key = AnalysisKey(name: request.name, endpoint: request.endpoint, analysis: request.analysis)
        analysisOut.remove(key)
        // A reload may have taken the analysis away meanwhile.
        guard let name = name(request.name), let analysis = name.analysis(request.analysis),
              let endpoint = name.endpoint(request.endpoint) else { return [] }
        let rollout = rollouts[name.key].flatMap { $0.phase.isActive && $0.target == endpoint.id ? $0 : nil }
        // Asked in another step (just before a promotion): it says nothing of this one.
        if let rollout, request.step != rollout.step { return [] }
        let result = analysis.rule.judge(measurement, analysis: request.analysis, at: now.wall,
                                         fallback: rollout?.analyses[request.analysis]?.lastBaseline)
        var tally = analysisTallies[key] ?? AnalysisTally()
        let before = tally.last?.verdict
        tally.record(result)
        analysisTallies[key] = tally
        var effects: [Effect] = []
        if before != result.verdict || result.verdict != .pass {
            effects.append(.log(result.verdict == .pass ? .info : .warning, "analysis: \(request.name) \(result.verdict.rawValue): \(result.text)"))
        }
        guard leads else { return effects }
        if var rollout {
            let action = rollout.analyzed(result, rule: analysis.rule, now: now)
            rollouts[name.key] = rollout
            switch action {
            case .rollBack(let reason):
                effects += rollBack(rollout, reason: reason, now: now)
            case .hold(let reason):
                unsaved.append(AuditEntry(at: now.wallSeconds, requester: nil, name: name.key,
                                          text: "rollout to \(rollout.target) paused at step \(rollout.step + 1)/\(rollout.steps.count)",
                                          reason: reason))
                effects.append(.log(.warning, "rollout: \(name.key) \(reason)"))
            case .apply, .complete, nil:
                // The verdict is saved with the rollout when it changes, so every server shows it.
                guard before != result.verdict else { return effects }
                return effects + [persistNow()]
            }
        } else if result.verdict == .fail, tally.failures >= analysis.rule.failureLimit,
                  let (notes, made) = rollBackRaised(name.key, endpoint,
                                                     because: "\(result.text) (\(tally.failures) failures in a row)", now: now) {
            effects += notes
            // Rolled back (or refused: every other endpoint at 0): the count starts again.
            analysisTallies[key]?.restart()
            guard made else { return effects }
        } else {
            return effects
        }
        refresh(now)
        return effects + [published(), persistNow()]
    }
}

/// One endpoint's one analysis.
public struct AnalysisKey: Sendable, Hashable, Comparable {
    public let name: NameKey
    public let endpoint: String
    public let analysis: String

    public init(name: NameKey, endpoint: String, analysis: String) {
        self.name = name
        self.endpoint = endpoint
        self.analysis = analysis
    }

    public static func < (a: AnalysisKey, b: AnalysisKey) -> Bool {
        (a.name, a.endpoint, a.analysis) < (b.name, b.endpoint, b.analysis)
    }
}

/// What a drained endpoint's `traffic=` query last said, and when.
public struct DrainTraffic: Sendable, Equatable {
    public let reading: PrometheusReading
    /// Unix milliseconds.
    public let at: Int64
}
