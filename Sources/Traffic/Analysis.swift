/// A `$ANALYSIS` as the control plane runs it: where Prometheus answers, the queries with
/// `{{endpoint}}` still in them, and the rule that judges what they return. Built from the
/// zone's `ZoneFile.AnalysisCheck` by the server; Traffic reads no zone file.
public struct AnalysisConfig: Sendable, Equatable {
    /// The name endpoints refer to with `analysis=`.
    public let name: String
    /// Prometheus: an IP literal or `localhost`, its port and the path before `/api/v1/query`.
    public let host: String
    public let port: UInt16
    public let pathPrefix: String
    /// How often the leader runs the queries for an endpoint it watches.
    public let intervalMs: Int64
    /// How long one query may take.
    public let timeoutMs: Int64
    /// The value judged: an error ratio, a p99 latency, anything one number says.
    public let query: String
    /// The judged endpoint's requests in the query's window.
    public let requests: String
    /// Requests still reaching an endpoint, for the drain report; optional.
    public let traffic: String?
    public let rule: AnalysisRule

    public init(name: String, host: String, port: UInt16, pathPrefix: String = "", intervalMs: Int64, timeoutMs: Int64,
                query: String, requests: String, traffic: String? = nil, rule: AnalysisRule) {
        self.name = name
        self.host = host
        self.port = port
        self.pathPrefix = pathPrefix
        self.intervalMs = intervalMs
        self.timeoutMs = timeoutMs
        self.query = query
        self.requests = requests
        self.traffic = traffic
        self.rule = rule
    }

    /// `template` for one endpoint. Endpoint ids are letters, digits, `_` and `-` (the zone
    /// reader checks), so they go into a PromQL string literal as they are.
    public static func substitute(_ template: String, endpoint: String) -> String {
        template.replacing("{{endpoint}}", with: endpoint)
    }

    /// `http://127.0.0.1:9090`, for messages.
    public var location: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "http://\(host):\(port)\(pathPrefix)"
    }

    /// The queries that judge `endpoint` against `baseline`, the endpoints traffic moves from;
    /// `step` is the step of the rollout it is the target of, when it is one.
    public func request(name: NameKey, endpoint: String, baseline: [String], step: Int? = nil) -> AnalysisRequest {
        AnalysisRequest(name: name, analysis: self.name, endpoint: endpoint, host: host, port: port, pathPrefix: pathPrefix,
                        timeoutMs: timeoutMs, judged: queries(endpoint), baseline: baseline.map(queries), trafficOnly: false,
                        step: step)
    }

    /// Only the `traffic=` query of a drained endpoint: what still reaches it. Nil without one.
    public func trafficRequest(name: NameKey, endpoint: String) -> AnalysisRequest? {
        guard traffic != nil else { return nil }
        return AnalysisRequest(name: name, analysis: self.name, endpoint: endpoint, host: host, port: port, pathPrefix: pathPrefix,
                               timeoutMs: timeoutMs, judged: queries(endpoint), baseline: [], trafficOnly: true, step: nil)
    }

    private func queries(_ endpoint: String) -> AnalysisRequest.Queries {
        .init(endpoint: endpoint, value: Self.substitute(query, endpoint: endpoint),
              requests: Self.substitute(requests, endpoint: endpoint), traffic: traffic.map { Self.substitute($0, endpoint: endpoint) })
    }
}

/// What judges one analysis's numbers (Argo Rollouts' analysis outcomes: successful, failed,
/// inconclusive).
public struct AnalysisRule: Sendable, Equatable {
    /// Absolute bounds: the value must not be above `max` or below `min`.
    public let max: Double?
    public let min: Double?
    /// The value must not exceed the baseline times this factor.
    public let maxIncrease: Double?
    /// Fewer requests than this in the window: inconclusive, whatever the value.
    public let minRequests: Double
    /// Consecutive failures that roll the endpoint back.
    public let failureLimit: Int
    /// Consecutive inconclusive results that pause a rollout.
    public let inconclusiveLimit: Int

    public init(max: Double? = nil, min: Double? = nil, maxIncrease: Double? = nil, minRequests: Double = 100,
                failureLimit: Int = 2, inconclusiveLimit: Int = 6) {
        self.max = max
        self.min = min
        self.maxIncrease = maxIncrease
        self.minRequests = minRequests
        self.failureLimit = failureLimit
        self.inconclusiveLimit = inconclusiveLimit
    }

    /// The verdict on `measurement` of `endpoint` of analysis `analysis`, at `at` (Unix ms).
    ///
    /// - Inconclusive: Prometheus failed, the value or the request count is missing or NaN,
    ///   or fewer than `minRequests` requests stand behind the value.
    /// - Fail: a bound is broken. `max-increase` compares with the baseline: the request-
    ///   weighted mean of the values of the baseline endpoints that have at least
    ///   `minRequests` requests behind them (sparse data judges neither side), raised to one
    ///   request's worth of the judged endpoint (1 / requests) so that a clean baseline of 0
    ///   does not make one unlucky request a failure. Without such a baseline, `fallback`
    ///   (the last one seen in the rollout: at a 100% step the old side has no traffic left)
    ///   stands in.
    /// - Pass: every bound holds.
    public func judge(_ measurement: AnalysisMeasurement, analysis: String, at: Int64,
                      fallback: Double? = nil) -> AnalysisResult {
        let endpoint = measurement.endpoint
        func result(_ verdict: AnalysisVerdict, _ value: Double?, _ baseline: Double?, _ requests: Double?,
                    _ why: String) -> AnalysisResult {
            AnalysisResult(analysis: analysis, endpoint: endpoint, verdict: verdict, value: value, baseline: baseline,
                           requests: requests, at: at, text: "analysis \(analysis): \(why)")
        }
        let requests: Double
        switch measurement.requests {
        case .failed(let error): return result(.inconclusive, nil, nil, nil, "no verdict: \(error)")
        case .noData: return result(.inconclusive, nil, nil, nil, "no verdict: no request data for \(endpoint)")
        case .value(let count):
            guard count.isFinite, count >= 0 else {
                return result(.inconclusive, nil, nil, nil, "no verdict: request count \(Self.number(count)) for \(endpoint)")
            }
            requests = count
        }
        let value: Double
        switch measurement.value {
        case .failed(let error): return result(.inconclusive, nil, nil, requests, "no verdict: \(error)")
        case .noData: return result(.inconclusive, nil, nil, requests, "no verdict: no data for \(endpoint), \(Self.count(requests)) requests")
        case .value(let number):
            guard !number.isNaN else {
                return result(.inconclusive, nil, nil, requests, "no verdict: \(endpoint) NaN, \(Self.count(requests)) requests")
            }
            value = number
        }
        let baseline = Self.baseline(measurement.baseline, minRequests: minRequests)
            ?? fallback.map { (ids: "the last baseline", value: $0) }
        let compared = baseline.map { "\(endpoint) \(Self.number(value)) vs \($0.ids) \(Self.number($0.value))" }
            ?? "\(endpoint) \(Self.number(value))"
        let summary = "\(compared) (\(bounds)), \(Self.count(requests)) requests"
        guard requests >= minRequests else {
            return result(.inconclusive, value, baseline?.value, requests,
                          "\(summary): fewer than min-requests \(Self.count(minRequests))")
        }
        if let max, value > max {
            return result(.fail, value, baseline?.value, requests, "\(summary): above max \(Self.number(max))")
        }
        if let min, value < min {
            return result(.fail, value, baseline?.value, requests, "\(summary): below min \(Self.number(min))")
        }
        if let maxIncrease {
            guard let baseline else {
                // Nothing to compare with: a rule of max-increase alone cannot pass.
                if max == nil && min == nil {
                    return result(.inconclusive, value, nil, requests, "\(summary): no baseline to compare with")
                }
                return result(.pass, value, nil, requests, "\(summary): within bounds, no baseline to compare with")
            }
            let floor = Swift.max(baseline.value, requests > 0 ? 1 / requests : 0)
            if value > floor * maxIncrease {
                return result(.fail, value, baseline.value, requests,
                              "\(summary): above \(Self.number(maxIncrease))× the baseline")
            }
        }
        return result(.pass, value, baseline?.value, requests, summary)
    }

    /// `max 0.01, max-increase 1.5`.
    var bounds: String {
        var parts: [String] = []
        if let max { parts.append("max \(Self.number(max))") }
        if let min { parts.append("min \(Self.number(min))") }
        if let maxIncrease { parts.append("max-increase \(Self.number(maxIncrease))") }
        return parts.joined(separator: ", ")
    }

    /// The baseline endpoints combined, weighted by their requests: only those with a finite
    /// value and at least `minRequests` requests count; nil when none does.
    static func baseline(_ readings: [AnalysisMeasurement.Baseline], minRequests: Double) -> (ids: String, value: Double)? {
        let usable = readings.compactMap { reading -> (id: String, value: Double, requests: Double)? in
            guard case .value(let value) = reading.value, value.isFinite,
                  case .value(let requests) = reading.requests, requests.isFinite, requests > 0, requests >= minRequests else { return nil }
            return (reading.endpoint, value, requests)
        }
        guard !usable.isEmpty else { return nil }
        let total = usable.reduce(0) { $0 + $1.requests }
        let mean = usable.reduce(0) { $0 + $1.value * $1.requests } / total
        guard mean.isFinite else { return nil }
        return (usable.map(\.id).joined(separator: "+"), mean)
    }

    /// A value as people read it: up to four significant digits, `0.042`, `1834`, `NaN`.
    public static func number(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : (value < 0 ? "-Inf" : "+Inf") }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        var scale = 1.0
        var digits = 0
        while abs(value) * scale < 1000 && digits < 12 {
            scale *= 10
            digits += 1
        }
        let rounded = (value * scale).rounded() / scale
        // 999.98 rounds to 1000: a whole number, written as one.
        return rounded == rounded.rounded() && abs(rounded) < 1e15 ? String(Int64(rounded)) : String(rounded)
    }

    /// A request count with thousands separators: `1,834`.
    public static func count(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 1e15 else { return number(value) }
        let whole = Int64(value.rounded())
        var text = String(abs(whole))
        var index = text.count - 3
        while index > 0 {
            text.insert(",", at: text.index(text.startIndex, offsetBy: index))
            index -= 3
        }
        return whole < 0 ? "-" + text : text
    }
}

/// Argo Rollouts' three outcomes.
public enum AnalysisVerdict: String, Sendable, Equatable, Codable {
    /// Every bound holds with enough requests behind the value.
    case pass
    /// A bound is broken with enough requests behind the value.
    case fail
    /// Too few requests, no data, NaN, or Prometheus unreachable: no promotion, no rollback.
    case inconclusive
}

/// The queries one run of an analysis sends, and whom they judge.
public struct AnalysisRequest: Sendable, Equatable, Hashable {
    /// One endpoint's queries, `{{endpoint}}` replaced.
    public struct Queries: Sendable, Equatable, Hashable {
        public let endpoint: String
        public let value: String
        public let requests: String
        /// The `traffic=` query, if the analysis has one.
        public let traffic: String?
    }

    public let name: NameKey
    public let analysis: String
    public let endpoint: String
    /// Where to send the queries, and how long each may take.
    public let host: String
    public let port: UInt16
    public let pathPrefix: String
    public let timeoutMs: Int64
    public let judged: Queries
    /// The endpoints traffic moves from.
    public let baseline: [Queries]
    /// Only `judged.traffic` is asked: a drained endpoint is watched, not judged.
    public let trafficOnly: Bool
    /// The rollout step in force when it was asked, for a rollout's target: a verdict counts
    /// only toward the step it was asked in.
    public let step: Int?
}

/// What Prometheus said to one query.
public enum PrometheusReading: Sendable, Equatable {
    case value(Double)
    /// An empty result: no series matched.
    case noData
    /// Unreachable, an error reply, or a reply that cannot be read: the text says which.
    case failed(String)
}

/// The answers to one `AnalysisRequest`.
public struct AnalysisMeasurement: Sendable, Equatable {
    /// One baseline endpoint's answers.
    public struct Baseline: Sendable, Equatable {
        public let endpoint: String
        public let value: PrometheusReading
        public let requests: PrometheusReading

        public init(endpoint: String, value: PrometheusReading, requests: PrometheusReading) {
            self.endpoint = endpoint
            self.value = value
            self.requests = requests
        }
    }

    public let endpoint: String
    public let value: PrometheusReading
    public let requests: PrometheusReading
    public let baseline: [Baseline]
    /// What the `traffic=` query said, when it was asked.
    public let traffic: PrometheusReading?

    public init(endpoint: String, value: PrometheusReading, requests: PrometheusReading, baseline: [Baseline] = [],
                traffic: PrometheusReading? = nil) {
        self.endpoint = endpoint
        self.value = value
        self.requests = requests
        self.baseline = baseline
        self.traffic = traffic
    }
}

/// One verdict, as saved with a rollout and shown by `status`, metrics and the audit log.
public struct AnalysisResult: Sendable, Equatable, Codable {
    public let analysis: String
    public let endpoint: String
    public let verdict: AnalysisVerdict
    public let value: Double?
    /// The combined baseline the value was compared with.
    public let baseline: Double?
    public let requests: Double?
    /// Unix milliseconds.
    public let at: Int64
    /// `analysis errors: new 0.042 vs old 0.003 (max 0.01, max-increase 1.5), 1,834 requests: above max 0.01`.
    public let text: String

    public init(analysis: String, endpoint: String, verdict: AnalysisVerdict, value: Double?, baseline: Double?,
                requests: Double?, at: Int64, text: String) {
        self.analysis = analysis
        self.endpoint = endpoint
        self.verdict = verdict
        self.value = value
        self.baseline = baseline
        self.requests = requests
        self.at = at
        self.text = text
    }

    /// NaN is not JSON: values are saved as numbers or null.
    private enum CodingKeys: String, CodingKey { case analysis, endpoint, verdict, value, baseline, requests, at, text }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(analysis, forKey: .analysis)
        try c.encode(endpoint, forKey: .endpoint)
        try c.encode(verdict, forKey: .verdict)
        try c.encodeIfPresent(value.flatMap { $0.isFinite ? $0 : nil }, forKey: .value)
        try c.encodeIfPresent(baseline.flatMap { $0.isFinite ? $0 : nil }, forKey: .baseline)
        try c.encodeIfPresent(requests.flatMap { $0.isFinite ? $0 : nil }, forKey: .requests)
        try c.encode(at, forKey: .at)
        try c.encode(text, forKey: .text)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        analysis = try c.decode(String.self, forKey: .analysis)
        endpoint = try c.decode(String.self, forKey: .endpoint)
        verdict = try c.decode(AnalysisVerdict.self, forKey: .verdict)
        value = try c.decodeIfPresent(Double.self, forKey: .value)
        baseline = try c.decodeIfPresent(Double.self, forKey: .baseline)
        requests = try c.decodeIfPresent(Double.self, forKey: .requests)
        at = try c.decode(Int64.self, forKey: .at)
        text = try c.decode(String.self, forKey: .text)
    }
}

/// An analysis's run of verdicts for one endpoint: what `failure-limit` and
/// `inconclusive-limit` count. Saved with a rollout for its target.
public struct AnalysisTally: Sendable, Equatable, Codable {
    public var last: AnalysisResult?
    /// Consecutive failures; a pass resets them, an inconclusive result neither adds nor resets.
    public var failures = 0
    /// Consecutive inconclusive results; any verdict of pass or fail resets them.
    public var inconclusive = 0
    /// The latest verdict of the current step is a pass: the step may be promoted.
    public var passedInStep = false
    /// Totals since this server started counting, for metrics.
    public var failedTotal = 0
    public var inconclusiveTotal = 0

    public init() {}

    /// The last baseline a verdict was judged against, if any.
    public var lastBaseline: Double? { last?.baseline }

    /// Failures and inconclusive results in a row start from 0 again (the endpoint is
    /// watched anew, or was just rolled back).
    public mutating func restart() {
        failures = 0
        inconclusive = 0
    }

    /// Counts `result`.
    public mutating func record(_ result: AnalysisResult) {
        last = result
        switch result.verdict {
        case .pass:
            failures = 0
            inconclusive = 0
            passedInStep = true
        case .fail:
            failures += 1
            inconclusive = 0
            passedInStep = false
            failedTotal += 1
        case .inconclusive:
            inconclusive += 1
            passedInStep = false
            inconclusiveTotal += 1
        }
    }
}
