import Traffic

/// What every status surface shows of traffic analyses (the last verdict of each, with its
/// values) and of drained endpoints (when last answered, until when cached).
extension StatusReport {
    /// One analysis's last verdict, as `status json`, `rollout status json` show it.
    struct AnalysisJSON: Codable {
        var analysis: String
        var endpoint: String
        var verdict: String
        var value: Double?
        var baseline: Double?
        var requests: Double?
        /// When it was judged (RFC 3339).
        var at: String
        var text: String
        /// Failures and inconclusive results in a row, as `failure-limit` and
        /// `inconclusive-limit` count them.
        var failures: Int
        var inconclusive: Int

        init?(_ tally: AnalysisTally) {
            guard let last = tally.last else { return nil }
            analysis = last.analysis
            endpoint = last.endpoint
            verdict = last.verdict.rawValue
            value = last.value.flatMap { $0.isFinite ? $0 : nil }
            baseline = last.baseline.flatMap { $0.isFinite ? $0 : nil }
            requests = last.requests.flatMap { $0.isFinite ? $0 : nil }
            at = Log.timestamp(last.at / 1000)
            text = last.text
            failures = tally.failures
            inconclusive = tally.inconclusive
        }

        /// An analysis without a verdict yet.
        init(pending analysis: String, endpoint: String) {
            self.analysis = analysis
            self.endpoint = endpoint
            verdict = "none"
            at = ""
            text = "no verdict yet"
            failures = 0
            inconclusive = 0
        }

        /// `errors pass at 2026-12-07T10:00:00Z: analysis errors: new 0.001 vs …`.
        var line: String { "\(analysis) \(verdict) at \(at): \(text)" }
    }

    /// The analyses of `endpoint` of `name`, the latest verdict of each: the rollout's when it
    /// is the target of one (saved, so every server shows them), or this server's own (the
    /// leader's, outside a rollout), whichever is newer.
    func analyses(of name: NameKey, endpoint: String) -> [AnalysisJSON] {
        var latest: [String: AnalysisTally] = [:]
        func keep(_ tally: AnalysisTally) {
            guard let last = tally.last else { return }
            if let kept = latest[last.analysis]?.last, kept.at >= last.at { return }
            latest[last.analysis] = tally
        }
        if let rollout = rollouts[name], rollout.target == endpoint { rollout.analyses.values.forEach(keep) }
        for (key, tally) in analyses where key.name == name && key.endpoint == endpoint { keep(tally) }
        return latest.keys.sorted().compactMap { latest[$0].flatMap(AnalysisJSON.init) }
    }

    /// For an endpoint at configured weight 0: when it was last answered (rounded down to the
    /// second), the longest TTL, until when it may be cached (rounded up, so never early), and
    /// `in caches until …` or `drained since …`; nil otherwise.
    func drainText(_ name: NameKey, _ endpoint: EffectiveWeights.Endpoint)
        -> (last: String?, maxTTL: UInt32?, until: String?, text: String, traffic: Double?)? {
        guard endpoint.configured == 0, let drain else { return nil }
        let key = EndpointKey(name: name, id: endpoint.config.id)
        let seen = drain.seen(endpoint.config.slot)
        var traffic: Double?
        if case .value(let value)? = drainTraffic[key]?.reading, value.isFinite { traffic = value }
        return (seen.map { Log.timestamp($0.lastAnsweredAt / 1000) }, seen?.maxTTL,
                seen.map { Log.timestamp(DrainWatch.secondsUp($0.cachedUntil)) }, drain.text(endpoint.config.slot, now: now.wall), traffic)
    }

    /// Status lines under the table: analyses and drains.
    func analysisAndDrainLines(_ names: [EffectiveWeights.Name]) -> [String] {
        var lines: [String] = []
        for name in names {
            for endpoint in name.endpoints {
                for analysis in analyses(of: name.key, endpoint: endpoint.config.id) {
                    lines.append("\(name.key) \(endpoint.config.id) analysis \(analysis.line)")
                }
                if let drain = drainText(name.key, endpoint) {
                    let last = drain.last.map { "last answered \($0) with TTL \(drain.maxTTL ?? 0)" } ?? "no answer seen"
                    let traffic = drain.traffic.map { ", traffic still reaching it: \(AnalysisRule.number($0))" } ?? ""
                    lines.append("\(name.key) \(endpoint.config.id) weight 0: \(last), \(drain.text)\(traffic)")
                }
            }
        }
        return lines
    }

    /// The analysis and drain families of `/metrics`, each family's samples together.
    func analysisMetrics(_ out: inout MetricsWriter) {
        var shown: [(labels: [String: String], analysis: AnalysisJSON)] = []
        for name in effective.names {
            for endpoint in name.endpoints {
                for analysis in analyses(of: name.key, endpoint: endpoint.config.id) {
                    shown.append((["name": name.key.text, "endpoint": endpoint.config.id, "analysis": analysis.analysis], analysis))
                }
            }
        }
        out.family("veer_analysis_value", "gauge", "The last value an analysis's query returned for the endpoint.")
        for (labels, analysis) in shown {
            if let value = analysis.value { out.sample("veer_analysis_value", labels, value) }
        }
        out.family("veer_analysis_verdict", "gauge", "1 for the analysis's last verdict (pass, fail, inconclusive) of the endpoint, 0 for the others.")
        for (labels, analysis) in shown {
            for verdict in [AnalysisVerdict.pass, .fail, .inconclusive] {
                out.sample("veer_analysis_verdict", labels.merging(["verdict": verdict.rawValue]) { $1 },
                           analysis.verdict == verdict.rawValue ? 1 : 0)
            }
        }
        out.family("veer_analysis_results_total", "counter", "Failed and inconclusive analysis results counted by this server since start.")
        for (key, tally) in analyses.sorted(by: { $0.key < $1.key }) {
            let labels = ["name": key.name.text, "endpoint": key.endpoint, "analysis": key.analysis]
            out.sample("veer_analysis_results_total", labels.merging(["verdict": "fail"]) { $1 }, Double(tally.failedTotal))
            out.sample("veer_analysis_results_total", labels.merging(["verdict": "inconclusive"]) { $1 }, Double(tally.inconclusiveTotal))
        }
        var drained: [(labels: [String: String], seen: DrainWatch.Seen)] = []
        for name in effective.names {
            for endpoint in name.endpoints where endpoint.configured == 0 {
                guard let seen = drain?.seen(endpoint.config.slot) else { continue }
                drained.append((["name": name.key.text, "endpoint": endpoint.config.id], seen))
            }
        }
        out.family("veer_endpoint_last_answer_timestamp_seconds", "gauge",
                   "For an endpoint at weight 0: when any server last answered with it.")
        for (labels, seen) in drained {
            out.sample("veer_endpoint_last_answer_timestamp_seconds", labels, Double(seen.lastAnsweredAt) / 1000)
        }
        out.family("veer_endpoint_drain_traffic", "gauge",
                   "For an endpoint at weight 0: what its analysis's traffic= query last said still reaches it.")
        for name in effective.names {
            for endpoint in name.endpoints {
                if let traffic = drainText(name.key, endpoint)?.traffic {
                    out.sample("veer_endpoint_drain_traffic", ["name": name.key.text, "endpoint": endpoint.config.id], traffic)
                }
            }
        }
        out.family("veer_endpoint_cached_until_timestamp_seconds", "gauge",
                   "For an endpoint at weight 0: until when resolvers may answer with it from their caches (last answer plus its longest TTL).")
        for (labels, seen) in drained {
            out.sample("veer_endpoint_cached_until_timestamp_seconds", labels, Double(seen.cachedUntil) / 1000)
        }
    }
}
