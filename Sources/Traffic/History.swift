/// What the live page charts: per weighted name, a bounded ring of points (one every
/// `History.interval`, `NameHistory.capacity` of them: 24 hours) and a bounded ring of events
/// (rollout steps, pauses, rollbacks, health changes, drains, fail-open). A value: the control
/// clock feeds it an observation of every name on each tick (`observe`), the page reads it;
/// nothing here reads a clock or the query path. Each server keeps its own (it is not shared
/// through the store): the served counters behind the observed share are this server's.
public struct History: Sendable {
    /// One point per name this often (milliseconds of the monotonic clock).
    public static let interval: Int64 = 10_000

    /// The names observed last, by key.
    public private(set) var names: [NameKey: NameHistory] = [:]
    private let capacity: Int
    private let eventCapacity: Int

    /// A history of `capacity` points and `eventCapacity` events per name (24 hours of points
    /// and `NameHistory.eventCapacity` events unless a test asks for fewer).
    public init(capacity: Int = NameHistory.capacity, eventCapacity: Int = NameHistory.eventCapacity) {
        self.capacity = max(1, capacity)
        self.eventCapacity = max(1, eventCapacity)
    }

    /// Takes in one observation of every weighted name at `now`: events from what changed
    /// since the last one, and a point when `interval` has passed since the name's last point.
    /// A name no longer observed (a reload removed it) is forgotten; a name whose endpoints
    /// changed starts a new history.
    public mutating func observe(_ observations: [HistoryObservation], now: Moment) {
        var kept: [NameKey: NameHistory] = [:]
        for observation in observations {
            // Taken out, so the rings are not shared and an append does not copy them.
            var entry = names.removeValue(forKey: observation.name)
                ?? NameHistory(observation, capacity: capacity, eventCapacity: eventCapacity)
            if entry.endpoints != observation.endpoints.map(\.id) {
                entry = NameHistory(observation, capacity: capacity, eventCapacity: eventCapacity)
            }
            entry.observe(observation, now: now)
            kept[observation.name] = entry
        }
        names = kept
    }
}

/// One weighted name's state at one moment, as the history takes it in.
public struct HistoryObservation: Sendable, Equatable {
    /// One endpoint's state.
    public struct Endpoint: Sendable, Equatable {
        public var id: String
        public var configured: UInt32
        /// Percent of the name's configured total.
        public var configuredShare: Double
        /// Percent of the answers drawn for it now: by effective weight, or by configured
        /// weight while the name fails open, or 0 while it refuses (`all-down=refuse`).
        public var effectiveShare: Double
        /// Answers served with it since start (this server's counter).
        public var served: UInt64
        /// The last probe's latency, if it has been probed.
        public var latencyMs: Int?
        public var health: EndpointHealth

        /// One endpoint's state, shares in percent.
        public init(id: String, configured: UInt32, configuredShare: Double, effectiveShare: Double, served: UInt64,
                    latencyMs: Int?, health: EndpointHealth) {
            self.id = id
            self.configured = configured
            self.configuredShare = configuredShare
            self.effectiveShare = effectiveShare
            self.served = served
            self.latencyMs = latencyMs
            self.health = health
        }
    }

    public var name: NameKey
    public var endpoints: [Endpoint]
    /// Every endpoint is down and the name answers by configured weights.
    public var failOpen: Bool
    /// The name's rollout, active or ended, if it has one.
    public var rollout: Rollout?

    /// A name's state: its endpoints in zone order.
    public init(name: NameKey, endpoints: [Endpoint], failOpen: Bool, rollout: Rollout?) {
        self.name = name
        self.endpoints = endpoints
        self.failOpen = failOpen
        self.rollout = rollout
    }

    /// Every weighted name of `effective`, with its rollout, served totals (by slot) and last
    /// probe latencies (by slot).
    public static func all(_ effective: EffectiveWeights, rollouts: [NameKey: Rollout], served: [UInt64],
                           latencyMs: [Int: Int]) -> [HistoryObservation] {
        effective.names.map { name in
            let drawn = name.drawnShares
            return HistoryObservation(name: name.key, endpoints: zip(name.endpoints, drawn).map { endpoint, share in
                let slot = endpoint.config.slot
                return Endpoint(id: endpoint.config.id, configured: endpoint.configured, configuredShare: endpoint.share,
                                effectiveShare: share, served: slot < served.count ? served[slot] : 0,
                                latencyMs: latencyMs[slot], health: endpoint.health)
            }, failOpen: name.failOpen, rollout: rollouts[name.key])
        }
    }
}

extension EffectiveWeights.Name {
    /// Every endpoint with a configured weight is down, and the name answers by the configured
    /// weights as if all were up (it does not say `all-down=refuse`).
    public var failOpen: Bool { allDown && !config.refuseWhenAllDown }

    /// Each endpoint's percent of the answers the query path draws now, in endpoint order: by
    /// effective weight; by configured weight while failing open; 0 while refusing.
    public var drawnShares: [Double] {
        let effective = endpoints.reduce(UInt64(0)) { $0 + UInt64($1.effective) }
        if effective > 0 { return endpoints.map { Double($0.effective) * 100 / Double(effective) } }
        return endpoints.map { failOpen ? $0.share : 0 }
    }
}

/// One endpoint at one point of the history, packed small (10 bytes): shares in basis
/// points (0-10000), latency in milliseconds.
public struct HistoryValue: Sendable, Equatable {
    /// `observed` when no answer was served over the interval, `latencyMs` before any probe.
    public static let none = UInt16.max

    public var configured: UInt16
    public var effective: UInt16
    public var observed: UInt16
    public var latencyMs: UInt16
    public var health: EndpointHealth

    /// Shares in basis points; `none` for an unknown observed share or latency.
    public init(configured: UInt16, effective: UInt16, observed: UInt16, latencyMs: UInt16, health: EndpointHealth) {
        self.configured = configured
        self.effective = effective
        self.observed = observed
        self.latencyMs = latencyMs
        self.health = health
    }

    /// A percent as basis points, clamped to 0-10000.
    static func basisPoints(_ percent: Double) -> UInt16 {
        UInt16(max(0, min(10_000, (percent * 100).rounded())))
    }
}

/// One point of a name's history: when (Unix milliseconds) and each endpoint's value, in
/// the order of `NameHistory.endpoints`.
public struct HistoryPoint: Sendable, Equatable {
    public var at: Int64
    public var values: [HistoryValue]

    /// A point at `at` (Unix milliseconds).
    public init(at: Int64, values: [HistoryValue]) {
        self.at = at
        self.values = values
    }
}

/// Something that happened to a name, a marker on its chart.
public struct HistoryEvent: Sendable, Equatable {
    /// What kind of marker.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// A rollout started.
        case start
        /// A rollout moved to another step.
        case step
        case pause
        case resume
        case complete
        /// A rollout was aborted and its target rolled back (by an anomaly or an operator).
        case rollback
        /// An endpoint went down or came back.
        case health
        /// An endpoint's configured weight went to 0.
        case drain
        /// Every endpoint went down and the name fails open, or that ended.
        case failOpen = "fail-open"
        /// A weight change outside a rollout step.
        case weights
    }

    /// Unix milliseconds.
    public var at: Int64
    public var kind: Kind
    /// The endpoint it is about, if one.
    public var endpoint: String?
    public var text: String

    /// An event at `at` (Unix milliseconds).
    public init(at: Int64, kind: Kind, endpoint: String? = nil, text: String) {
        self.at = at
        self.kind = kind
        self.endpoint = endpoint
        self.text = text
    }
}

/// A fixed-capacity ring: appending beyond the capacity drops the oldest element.
public struct Ring<Element: Sendable>: Sendable {
    private var storage: [Element] = []
    private var head = 0
    public let capacity: Int

    /// An empty ring that keeps at most `capacity` elements (at least 1).
    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Elements kept now.
    public var count: Int { storage.count }

    /// Adds `element` as the newest, dropping the oldest when full.
    public mutating func append(_ element: Element) {
        if storage.count < capacity {
            storage.append(element)
        } else {
            storage[head] = element
            head = (head + 1) % capacity
        }
    }

    /// The element `index` places after the oldest (0 is the oldest).
    public subscript(index: Int) -> Element {
        storage[(head + index) % storage.count]
    }

    /// Oldest first.
    public var elements: [Element] { (0..<count).map { self[$0] } }
}
