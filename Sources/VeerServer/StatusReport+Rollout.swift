import Traffic

/// `rollout status` and `health NAME`.
extension StatusReport {
    private struct RolloutJSON: Codable {
        var name: String
        var target: String
        var phase: String
        var step: Int
        var steps: [String]
        var share: String
        var bake: String
        var startedAt: String
        var baked: String?
        var nextStepAt: String?
        var cleanProbes: Int
        var endedAt: String?
        var note: String?
        /// The last verdict of each of the target's analyses, saved with the rollout.
        var analyses: [AnalysisJSON]?
    }

    /// `rollout status [NAME] [json]`.
    func rolloutStatus(name: String?, json: Bool) throws(AdminError) -> String {
        var list = rollouts.values.sorted { $0.name < $1.name }
        if let name {
            let key = NameKey(name)
            list = list.filter { $0.key == key }
            if list.isEmpty { throw AdminError.badValue("\(key) has no rollout; start one with: \(AdminCommand.rolloutStartForm)") }
        }
        func time(_ ms: Int64) -> String { Log.timestamp(ms / 1000) }
        if json {
            return "ok\n" + JSON.text(list.map { rollout in
                RolloutJSON(name: rollout.name, target: rollout.target, phase: rollout.phase.rawValue, step: rollout.step + 1,
                            steps: rollout.steps.map(Rollout.percent), share: Rollout.percent(rollout.currentShare),
                            bake: Rollout.duration(rollout.bakeMs), startedAt: time(rollout.startedAt),
                            baked: rollout.phase.isActive ? Rollout.duration(rollout.baked(now: now) / 1000 * 1000) : nil,
                            nextStepAt: rollout.phase == .baking ? time(rollout.bakeEndsAt(now: now)) : nil,
                            cleanProbes: rollout.cleanProbes, endedAt: rollout.endedAt.map(time), note: rollout.note,
                            analyses: rollout.analyses.isEmpty ? nil : rollout.analyses.keys.sorted().map { name in
                                rollout.analyses[name].flatMap(AnalysisJSON.init)
                                    ?? AnalysisJSON(pending: name, endpoint: rollout.target)
                            })
            })
        }
        var lines = ["ok \(list.count) rollout\(list.count == 1 ? "" : "s")"]
        for rollout in list {
            let steps = rollout.steps.enumerated().map { index, value in
                index == rollout.step ? "[\(Rollout.percent(value))]" : Rollout.percent(value)
            }.joined(separator: " > ")
            lines.append("\(rollout.name) to \(rollout.target): \(rollout.phase.rawValue), step \(rollout.step + 1)/\(rollout.steps.count) (\(Rollout.percent(rollout.currentShare)))")
            lines.append("  steps \(steps), bake \(Rollout.duration(rollout.bakeMs)), started \(time(rollout.startedAt))")
            switch rollout.phase {
            case .baking:
                let next = rollout.step + 1 < rollout.steps.count ? "next \(Rollout.percent(rollout.steps[rollout.step + 1]))" : "completes"
                lines.append("  baked \(Rollout.duration(rollout.baked(now: now) / 1000 * 1000)) of \(Rollout.duration(rollout.bakeMs)), \(rollout.cleanProbes) clean probe\(rollout.cleanProbes == 1 ? "" : "s"); \(next) at \(time(rollout.bakeEndsAt(now: now))) if it stays clean")
            case .paused:
                lines.append("  paused; `rollout resume \(rollout.name)` bakes this step again from the start")
            case .completed, .aborted:
                lines.append("  \(rollout.phase.rawValue) at \(rollout.endedAt.map(time) ?? "-")")
            }
            for name in rollout.analyses.keys.sorted() {
                let analysis = rollout.analyses[name].flatMap(AnalysisJSON.init)
                lines.append("  analysis " + (analysis?.line ?? "\(name): no verdict yet"))
            }
            if let note = rollout.note { lines.append("  note: \(note)") }
        }
        return lines.joined(separator: "\n")
    }

    /// `health NAME`: each endpoint's recent probe results, oldest first.
    func healthReport(name: String) throws(AdminError) -> String {
        let entry = try names(name)[0]
        var lines = ["ok \(entry.key)"]
        for endpoint in entry.endpoints {
            guard let probe = probes[endpoint.config.slot] else {
                lines.append("\(endpoint.config.id): \(endpoint.config.check == nil ? "no health check" : "unknown, not probed yet")")
                continue
            }
            var line = "\(endpoint.config.id): \(endpoint.health.rawValue) (check \(probe.check))"
            if let since = probe.state.lastTransitionAt { line += " since \(Self.wallTime(since))" }
            lines.append(line)
            for item in probe.state.history {
                lines.append("  \(Self.wallTime(item.at))  \(item.result)" + (item.anomaly.map { "  anomaly: \($0)" } ?? ""))
            }
        }
        return lines.joined(separator: "\n")
    }
}
