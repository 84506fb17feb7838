/// How an endpoint is judged from its probes (README "Health checks and automatic rollback"; gdnsd's
/// monitoring thresholds work the same way).
public struct HealthPolicy: Sendable, Equatable {
    /// Consecutive anomalies that take an endpoint down.
    public var fall: Int
    /// Consecutive clean probes that bring it back.
    public var rise: Int
    /// A probe slower than this is an anomaly even if it succeeded (milliseconds), or nil.
    public var maxLatencyMs: Int?

    public init(fall: Int = 3, rise: Int = 5, maxLatencyMs: Int? = nil) {
        precondition(fall >= 1 && rise >= 1)
        self.fall = fall
        self.rise = rise
        self.maxLatencyMs = maxLatencyMs
    }
}

/// One probe's result as the prober saw it.
public enum ProbeResult: Sendable, Equatable, CustomStringConvertible {
    /// The probe passed its checks (connect, status, body) in `latencyMs`.
    case success(latencyMs: Int)
    /// The probe failed: `reason` says how (`connect: ECONNREFUSED`, `timeout after 1000ms`,
    /// `status 503`, `body lacks "ok"`).
    case failure(reason: String, latencyMs: Int?)

    public var description: String {
        switch self {
        case .success(let latency): "ok \(latency)ms"
        case .failure(let reason, _): reason
        }
    }

    public var latencyMs: Int? {
        switch self {
        case .success(let latency): latency
        case .failure(_, let latency): latency
        }
    }
}

/// The health of one endpoint: a value-type state machine. Feed it each probe result with the
/// time; it returns a transition when the endpoint goes down or comes back. Never sleeps,
/// never reads a clock.
public struct HealthState: Sendable, Equatable {
    public enum Status: String, Sendable, Equatable {
        /// No probe result yet: treated as up, so a fresh start answers normally.
        case unknown
        case up
        case down
    }

    /// A change of status worth acting on.
    public struct Transition: Sendable, Equatable {
        public let from: Status
        public let to: Status
        /// Why, for logs and the audit line: `latency 812ms > 300ms (3/3)`.
        public let reason: String

        public init(from: Status, to: Status, reason: String) {
            self.from = from
            self.to = to
            self.reason = reason
        }
    }

    /// Results kept for `veer health NAME`.
    public static let historyLimit = 20

    public private(set) var status: Status = .unknown
    public private(set) var consecutiveAnomalies = 0
    public private(set) var consecutiveSuccesses = 0
    public private(set) var lastResult: ProbeResult?
    /// Milliseconds (the caller's clock) of the last probe and the last up/down change.
    public private(set) var lastProbeAt: Int64?
    public private(set) var lastTransitionAt: Int64?
    /// The most recent results, oldest first: (time, result, was it an anomaly).
    public private(set) var history: [(at: Int64, result: ProbeResult, anomaly: String?)] = []

    public init() {}

    public var isUp: Bool { status != .down }

    /// Why `result` counts against the endpoint, or nil if it is clean.
    public static func anomaly(_ result: ProbeResult, policy: HealthPolicy) -> String? {
        switch result {
        case .failure(let reason, _):
            return reason
        case .success(let latency):
            if let limit = policy.maxLatencyMs, latency > limit { return "latency \(latency)ms > \(limit)ms" }
            return nil
        }
    }

    /// Records one probe result at `now` (milliseconds) and returns the transition it causes.
    public mutating func record(_ result: ProbeResult, at now: Int64, policy: HealthPolicy) -> Transition? {
        let problem = Self.anomaly(result, policy: policy)
        lastResult = result
        lastProbeAt = now
        history.append((now, result, problem))
        if history.count > Self.historyLimit { history.removeFirst(history.count - Self.historyLimit) }

        if let problem {
            consecutiveAnomalies += 1
            consecutiveSuccesses = 0
            if status != .down && consecutiveAnomalies >= policy.fall {
                return move(to: .down, at: now, reason: "\(problem) (\(policy.fall)/\(policy.fall))")
            }
            return nil
        }
        consecutiveSuccesses += 1
        consecutiveAnomalies = 0
        switch status {
        case .unknown:
            status = .up
            return nil
        case .up:
            return nil
        case .down:
            guard consecutiveSuccesses >= policy.rise else { return nil }
            return move(to: .up, at: now, reason: "\(policy.rise) clean probes in a row, last \(result)")
        }
    }

    private mutating func move(to next: Status, at now: Int64, reason: String) -> Transition {
        let transition = Transition(from: status, to: next, reason: reason)
        status = next
        lastTransitionAt = now
        return transition
    }

    public static func == (a: HealthState, b: HealthState) -> Bool {
        a.status == b.status && a.consecutiveAnomalies == b.consecutiveAnomalies
            && a.consecutiveSuccesses == b.consecutiveSuccesses && a.lastResult == b.lastResult
            && a.lastProbeAt == b.lastProbeAt && a.lastTransitionAt == b.lastTransitionAt
    }
}

/// When a failing endpoint's configured weight is set to 0 for good (until an operator raises
/// it): it is the side a migration is moving to.
public enum RollbackRule {
    /// Default window in which a raised weight marks the migration target: one hour.
    public static let defaultWindowSeconds: Int64 = 3600

    /// True when an endpoint that just went down should be rolled back: its weight is above 0
    /// and it is marked `role=new`, or its weight was raised within `window` seconds of `now`.
    public static func shouldRollBack(role: String?, weight: UInt32, raisedAt: Int64?, now: Int64,
                                      window: Int64 = defaultWindowSeconds) -> Bool {
        guard weight > 0 else { return false }
        if role == "new" { return true }
        if let raisedAt, now - raisedAt <= window { return true }
        return false
    }
}
