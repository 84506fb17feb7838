import DNSWire

/// Veer's weighted-endpoint tag: the `key=value` words after the RDATA of an A, AAAA or
/// CNAME record (`endpoint=old weight=100 health=gw role=old`).
public struct EndpointTag: Sendable, Hashable {
    /// The endpoint id, `[A-Za-z0-9_-]{1,32}`.
    public let id: String
    /// 0…1,000,000; required on at least one line of each endpoint.
    public let weight: UInt32?
    /// The name of a `$HEALTH` check declared in the same zone (checked by the loader).
    public let health: String?
    /// `new` or `old`: which side of a migration this endpoint is.
    public let role: String?
    /// `all-down=refuse` (true) or `all-down=open` (false); nil when the line does not say.
    /// A setting of the weighted name, so every line that gives it must agree.
    public let refuseWhenAllDown: Bool?
    /// `ttl-shift=N`: the TTL of the name's answers while it is being moved; a setting of the name.
    public let ttlShift: UInt32?
    /// `select=client` (true) or `select=random` (false); nil when the line does not say. A
    /// setting of the name.
    public let selectByClient: Bool?
    /// `analysis=a,b`: names of `$ANALYSIS` declarations of the same zone, in the order given.
    public let analyses: [String]

    public init(id: String, weight: UInt32?, health: String?, role: String?, refuseWhenAllDown: Bool? = nil,
                ttlShift: UInt32? = nil, selectByClient: Bool? = nil, analyses: [String] = []) {
        self.analyses = analyses
        self.ttlShift = ttlShift
        self.selectByClient = selectByClient
        self.id = id
        self.weight = weight
        self.health = health
        self.role = role
        self.refuseWhenAllDown = refuseWhenAllDown
    }
}

/// One record as read from a zone file, with where it came from.
public struct ZoneRecord: Sendable, Hashable {
    public let record: ResourceRecord
    public let position: SourcePosition
    /// Set for weighted endpoint records only.
    public let endpoint: EndpointTag?

    public init(record: ResourceRecord, position: SourcePosition, endpoint: EndpointTag?) {
        self.record = record
        self.position = position
        self.endpoint = endpoint
    }
}

/// One weighted name after validation: endpoints in file order, each with its weight (from
/// the tag) and records.
public struct WeightedName: Sendable, Hashable {
    public let owner: DomainName
    public let endpoints: [Endpoint]
    /// `all-down=refuse`: when every endpoint is down, answer SERVFAIL instead of failing open
    /// (`all-down=open`, the default, answers by the configured weights).
    public let refuseWhenAllDown: Bool
    /// `ttl-shift=N`: while a rollout runs, or for one bake after a weight change, answers
    /// carry this TTL (if shorter than the records'), so caches follow the move quickly.
    public let ttlShift: UInt32?
    /// `select=client`: each client (its EDNS Client Subnet prefix, else its resolver's /24
    /// or /56) keeps its endpoint while weights rise and fall around it; `select=random`,
    /// the default, draws per query.
    public let selectByClient: Bool

    public init(owner: DomainName, endpoints: [Endpoint], refuseWhenAllDown: Bool = false, ttlShift: UInt32? = nil,
                selectByClient: Bool = false) {
        self.ttlShift = ttlShift
        self.selectByClient = selectByClient
        self.owner = owner
        self.endpoints = endpoints
        self.refuseWhenAllDown = refuseWhenAllDown
    }

    /// One endpoint: either exactly one CNAME, or one or more A/AAAA records.
    public struct Endpoint: Sendable, Hashable {
        public let id: String
        public let weight: UInt32
        /// The `health=` tag: the name of the check.
        public let health: String?
        public let role: String?
        /// De-duplicated, in file order; one RRset TTL per type (the first one seen).
        public let records: [ResourceRecord]
        /// The endpoint's first line.
        public let position: SourcePosition
        /// The `$HEALTH` declaration `health` names; nil when the endpoint is not probed.
        public let check: HealthCheck?
        /// The `$ANALYSIS` declarations the `analysis=` tag names, in the order given; empty
        /// when the endpoint is not judged on traffic.
        public let analyses: [AnalysisCheck]

        public init(id: String, weight: UInt32, health: String?, role: String?,
                    records: [ResourceRecord], position: SourcePosition, check: HealthCheck? = nil,
                    analyses: [AnalysisCheck] = []) {
            self.analyses = analyses
            self.id = id
            self.weight = weight
            self.health = health
            self.role = role
            self.records = records
            self.position = position
            self.check = check
        }
    }
}

/// A validated zone, ready to be served.
public struct Zone: Sendable {
    public let origin: DomainName
    /// The top-level file it was loaded from (as given to the loader).
    public let file: String
    /// The one SOA record, at the apex.
    public let soa: ResourceRecord
    /// Every record except endpoint records, validated and de-duplicated, in file order.
    public let records: [ResourceRecord]
    /// Weighted names, in the order their first endpoint record appears.
    public let weighted: [WeightedName]
    /// The `$HEALTH` declarations of the zone and its `$INCLUDE`s, in declaration order,
    /// used by endpoints or not.
    public let healthChecks: [HealthCheck]
    /// The `$ANALYSIS` declarations of the zone and its `$INCLUDE`s, in declaration order,
    /// used by endpoints or not.
    public let analyses: [AnalysisCheck]
    /// The owner names as validation indexed them, for building the served tree without
    /// hashing every name again; nil when the zone was not built by the parser.
    public let owners: OwnerIndex?

    public init(origin: DomainName, file: String, soa: ResourceRecord, records: [ResourceRecord],
                weighted: [WeightedName], healthChecks: [HealthCheck] = [], analyses: [AnalysisCheck] = [],
                owners: OwnerIndex? = nil) {
        self.analyses = analyses
        self.origin = origin
        self.file = file
        self.soa = soa
        self.records = records
        self.weighted = weighted
        self.healthChecks = healthChecks
        self.owners = owners
    }
}

/// Every owner name of a zone (of its records and of its weighted names), numbered in order
/// of first appearance, in a `NameTable` keyed by the lowercased wire form.
public struct OwnerIndex: Sendable {
    /// Owner name → its number.
    public let table: NameTable
    /// The names by number.
    public let names: [DomainName]
    /// The number of each record's owner, parallel to `Zone.records`.
    public let ofRecord: [Int32]

    public init(table: NameTable, names: [DomainName], ofRecord: [Int32]) {
        self.table = table
        self.names = names
        self.ofRecord = ofRecord
    }
}
