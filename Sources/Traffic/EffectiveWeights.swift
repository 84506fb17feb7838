/// What the zones declare about one weighted name, as the control side needs it: endpoints,
/// slots, policy. Checks and roles stay here; the query path's snapshot does not carry them.
public struct WeightedNameConfig: Sendable, Equatable {
    public let key: NameKey
    public let endpoints: [EndpointConfig]
    /// `all-down=refuse`: SERVFAIL instead of failing open when every endpoint is down.
    public let refuseWhenAllDown: Bool
    /// `ttl-shift=N`: the TTL while the name is being moved.
    public let ttlShift: UInt32?
    /// `select=client`: clients keep their endpoint as weights change (`Cohort`).
    public let selectByClient: Bool
    /// The `$ANALYSIS` declarations its endpoints name with `analysis=`.
    public let analyses: [AnalysisConfig]

    public init(key: NameKey, endpoints: [EndpointConfig], refuseWhenAllDown: Bool = false, ttlShift: UInt32? = nil,
                selectByClient: Bool = false, analyses: [AnalysisConfig] = []) {
        self.key = key
        self.analyses = analyses
        self.selectByClient = selectByClient
        self.endpoints = endpoints
        self.refuseWhenAllDown = refuseWhenAllDown
        self.ttlShift = ttlShift
    }

    public func endpoint(_ id: String) -> EndpointConfig? { endpoints.first { $0.id == id } }

    public func analysis(_ name: String) -> AnalysisConfig? { analyses.first { $0.name == name } }
}

/// One endpoint of a weighted name.
public struct EndpointConfig: Sendable, Equatable {
    /// Which address records an endpoint has; a CNAME endpoint has none.
    public struct Records: OptionSet, Sendable, Equatable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let a = Records(rawValue: 1)
        public static let aaaa = Records(rawValue: 2)
    }

    public let id: String
    /// Its weight and served counter in the query path's tables; stable across reloads.
    public let slot: Int
    public let zoneWeight: UInt32
    /// `role=new|old`.
    public let role: String?
    /// The name of its `$HEALTH` check; nil when it is not probed.
    public let check: String?
    public let records: Records
    /// The names of its `$ANALYSIS` declarations (`analysis=a,b`), in the zone's order.
    public let analyses: [String]

    /// The longest TTL of its records (seconds): what a cache may keep it for, short of a
    /// `ttl-shift=` window.
    public let ttl: UInt32

    public init(id: String, slot: Int, zoneWeight: UInt32, role: String? = nil, check: String? = nil, records: Records = [],
                analyses: [String] = [], ttl: UInt32 = 0) {
        self.id = id
        self.analyses = analyses
        self.ttl = ttl
        self.slot = slot
        self.zoneWeight = zoneWeight
        self.role = role
        self.check = check
        self.records = records
    }
}

/// An endpoint's health as every surface shows it.
public enum EndpointHealth: String, Sendable, Equatable {
    /// No health check: always counted up.
    case unchecked
    /// Checked, no result yet: counted up, so a fresh start answers normally.
    case unknown
    case up
    case down
}

/// The weighting rule, in one place (README "Health checks and automatic rollback" and "TTL
/// during a shift"): configured weight, 0 while the endpoint is down; when every endpoint
/// that could answer is down, the configured weights again (fail open, as Route 53 does)
/// unless the name says `all-down=refuse`; the short TTL while the name is moved. The query path's `WeightTable` and every status surface
/// (`status`, its JSON, the `_veer` TXT records, metrics) are read from one value of it.
public struct EffectiveWeights: Sendable, Equatable {
    public struct Endpoint: Sendable, Equatable {
        public let config: EndpointConfig
        public let key: EndpointKey
        /// What operators set (or the zone's default).
        public let configured: UInt32
        /// The configured weight, or 0 while down.
        public let effective: UInt32
        public let health: EndpointHealth
        /// Percent of the name's configured total.
        public let share: Double
    }

    public struct Name: Sendable, Equatable {
        public let config: WeightedNameConfig
        public let endpoints: [Endpoint]
        /// Every endpoint with a configured weight above 0 is down.
        public let allDown: Bool
        /// The TTL cap in force (`ttl-shift=`), 0 when none.
        public let ttlCap: UInt32
        public var key: NameKey { config.key }
        public func endpoint(_ id: String) -> Endpoint? { endpoints.first { $0.config.id == id } }
    }

    public let names: [Name]
    /// One past the highest slot: the size of the query path's tables.
    public let slotCount: Int
    /// What `select=client` names hash clients with.
    public let seed: CohortSeed

    /// `health` by slot; a slot missing from it is `unknown` (or `unchecked` without a check).
    public init(config: [WeightedNameConfig], store: WeightStore, health: [Int: EndpointHealth], shortTTL: Set<NameKey>,
                seed: CohortSeed = .zero) {
        self.seed = seed
        var slotCount = 0
        names = config.map { name in
            let saved = store.name(name.key)
            let configured = name.endpoints.map { saved?.weight(of: $0.id) ?? $0.zoneWeight }
            let total = configured.reduce(UInt64(0)) { $0 + UInt64($1) }
            let endpoints = zip(name.endpoints, configured).map { endpoint, weight in
                slotCount = max(slotCount, endpoint.slot + 1)
                let status: EndpointHealth = endpoint.check == nil ? .unchecked : health[endpoint.slot] ?? .unknown
                return Endpoint(config: endpoint, key: EndpointKey(name: name.key, id: endpoint.id), configured: weight,
                                effective: status == .down ? 0 : weight, health: status,
                                share: total == 0 ? 0 : Double(weight) * 100 / Double(total))
            }
            let live = endpoints.filter { $0.configured > 0 }
            return Name(config: name, endpoints: endpoints,
                        allDown: !live.isEmpty && live.allSatisfy { $0.health == .down },
                        ttlCap: shortTTL.contains(name.key) ? name.ttlShift ?? 0 : 0)
        }
        self.slotCount = slotCount
    }

    public func name(_ key: NameKey) -> Name? { names.first { $0.key == key } }

    /// Whether `endpoint` can answer a query of `family`.
    static func eligible(_ endpoint: EndpointConfig, _ family: WeightTable.Family) -> Bool {
        switch family {
        case .any: true
        case .a: endpoint.records.contains(.a)
        case .aaaa: endpoint.records.contains(.aaaa)
        }
    }

    /// The query path's table. Per family, the eligible endpoints draw by effective weight;
    /// if those are all 0 but some are configured above 0 (all down), by configured weight
    /// (fail open), or by nothing and the name answers SERVFAIL (`all-down=refuse`).
    public func table() -> WeightTable {
        let families = WeightTable.families
        var draw = [UInt32](repeating: 0, count: slotCount * families)
        var refused = [Bool](repeating: false, count: draw.count)
        var ttlCap = [UInt32](repeating: 0, count: slotCount)
        var salt = [UInt64](repeating: 0, count: slotCount)
        for name in names {
            if name.config.selectByClient {
                // Never 0, which marks a random name.
                for endpoint in name.endpoints { salt[endpoint.config.slot] = endpoint.key.cohortSalt | 1 }
            }
            for family in WeightTable.Family.allCases {
                let eligible = name.endpoints.filter { Self.eligible($0.config, family) }
                let up = eligible.contains { $0.effective > 0 }
                let configured = eligible.contains { $0.configured > 0 }
                let refuse = !up && configured && name.config.refuseWhenAllDown
                // Marked on every endpoint of the name, so the responder can ask any slot of it.
                for endpoint in name.endpoints { refused[endpoint.config.slot * families + family.rawValue] = refuse }
                guard !refuse else { continue }
                for endpoint in eligible {
                    draw[endpoint.config.slot * families + family.rawValue] = up ? endpoint.effective : endpoint.configured
                }
            }
            for endpoint in name.endpoints { ttlCap[endpoint.config.slot] = name.ttlCap }
        }
        return WeightTable(draw: draw, refused: refused, ttlCap: ttlCap, cohortSalt: salt, seed: seed)
    }
}
