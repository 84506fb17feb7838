import Traffic

/// `analysis NAME [ENDPOINT] [json]`: runs a name's analyses now, on the admin connection's
/// thread, and shows each query's answer, the baseline and the verdict, so a query can be
/// checked before a migration relies on it. It changes nothing and counts toward nothing.
extension AdminFront {
    /// One endpoint's one analysis, run now.
    struct AnalysisRun: Encodable {
        /// A query and what Prometheus said to it.
        struct Query: Encodable {
            let endpoint: String
            let role: String
            let promql: String
            let result: String
        }

        let analysis: String
        let endpoint: String
        let prometheus: String
        let verdict: String
        let value: Double?
        let baseline: Double?
        let requests: Double?
        let text: String
        let queries: [Query]
    }

    func analysis(_ request: Request) throws(AdminError) -> String {
        guard case .analysis(let nameText, let endpointID, let json) = request.command else { throw Self.misrouted(request) }
        let key = NameKey(nameText)
        let (config, weights, rollout, names) = loop.read { plane in
            (plane.name(key), plane.store.name(key)?.endpoints ?? [], plane.rollouts[key], plane.config.map(\.key.text))
        }
        guard let config else { throw AdminError.unknownName(key.text, names) }
        var endpoints = config.endpoints.filter { !$0.analyses.isEmpty }
        if let endpointID {
            guard let endpoint = config.endpoint(endpointID) else {
                throw AdminError.unknownEndpoint(key.text, endpointID, config.endpoints.map(\.id))
            }
            guard !endpoint.analyses.isEmpty else { throw AdminError.badValue("endpoint \(endpointID) of \(key) has no analysis=") }
            endpoints = [endpoint]
        }
        guard !endpoints.isEmpty else { throw AdminError.badValue("\(key) has no endpoint with analysis=") }
        var runs: [AnalysisRun] = []
        for endpoint in endpoints {
            // The baseline is what the plane would use: the rollout's starting weights for its
            // target, else the other endpoints with weight now.
            let from = rollout.flatMap { $0.phase.isActive && $0.target == endpoint.id ? $0.baseline : nil } ?? weights
            let baseline = from.filter { $0.id != endpoint.id && $0.weight > 0 }.map(\.id)
            for name in endpoint.analyses {
                guard let analysis = config.analysis(name) else { continue }
                runs.append(Self.run(analysis, analysis.request(name: key, endpoint: endpoint.id, baseline: baseline), now: loop.clock()))
            }
        }
        if json { return "ok\n" + JSON.text(runs) }
        var lines = ["ok \(key) \(runs.count) analys\(runs.count == 1 ? "is" : "es") run now"]
        for run in runs {
            lines.append("\(run.analysis) on \(run.endpoint) (\(run.prometheus)): \(run.verdict)")
            for query in run.queries {
                lines.append("  \(query.endpoint) \(query.role): \(query.result)    \(query.promql)")
            }
            lines.append("  \(run.text)")
        }
        return lines.joined(separator: "\n")
    }

    private static func run(_ analysis: AnalysisConfig, _ request: AnalysisRequest, now: Moment) -> AnalysisRun {
        let measurement = AnalysisRunner.measure(request, traffic: true)
        let result = analysis.rule.judge(measurement, analysis: analysis.name, at: now.wall)
        var queries = [
            AnalysisRun.Query(endpoint: request.endpoint, role: "value", promql: request.judged.value, result: text(measurement.value)),
            AnalysisRun.Query(endpoint: request.endpoint, role: "requests", promql: request.judged.requests, result: text(measurement.requests)),
        ]
        if let traffic = request.judged.traffic, let reading = measurement.traffic {
            queries.append(.init(endpoint: request.endpoint, role: "traffic", promql: traffic, result: text(reading)))
        }
        for (queriesOf, reading) in zip(request.baseline, measurement.baseline) {
            queries.append(.init(endpoint: queriesOf.endpoint, role: "baseline value", promql: queriesOf.value, result: text(reading.value)))
            queries.append(.init(endpoint: queriesOf.endpoint, role: "baseline requests", promql: queriesOf.requests,
                                 result: text(reading.requests)))
        }
        return AnalysisRun(analysis: analysis.name, endpoint: request.endpoint, prometheus: analysis.location,
                           verdict: result.verdict.rawValue, value: result.value.flatMap { $0.isFinite ? $0 : nil },
                           baseline: result.baseline.flatMap { $0.isFinite ? $0 : nil },
                           requests: result.requests.flatMap { $0.isFinite ? $0 : nil }, text: result.text, queries: queries)
    }

    private static func text(_ reading: PrometheusReading) -> String {
        switch reading {
        case .value(let number): AnalysisRule.number(number)
        case .noData: "no data"
        case .failed(let error): error
        }
    }
}
