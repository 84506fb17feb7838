import DNSWire

/// Veer's weighted-endpoint tag: the `key=value` words after the RDATA of an A, AAAA or
/// CNAME record (`endpoint=old weight=100 health=gw role=old`).
public struct EndpointTag: Sendable, Hashable {
    /// The endpoint id, `[A-Za-z0-9_-]{1,32}`.
    public let id: String
    /// 0…1,000,000; required on at least one line of each endpoint.
    public let weight: UInt32?
    /// The name of a health check (stored; checks are defined elsewhere).
    public let health: String?
    /// `new` or `old`: which side of a migration this endpoint is.
    public let role: String?

    public init(id: String, weight: UInt32?, health: String?, role: String?) {
        self.id = id
        self.weight = weight
        self.health = health
        self.role = role
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

    public init(owner: DomainName, endpoints: [Endpoint]) {
        self.owner = owner
        self.endpoints = endpoints
    }

    /// One endpoint: either exactly one CNAME, or one or more A/AAAA records.
    public struct Endpoint: Sendable, Hashable {
        public let id: String
        public let weight: UInt32
        public let health: String?
        public let role: String?
        /// De-duplicated, in file order; one RRset TTL per type (the first one seen).
        public let records: [ResourceRecord]
        /// The endpoint's first line.
        public let position: SourcePosition

        public init(id: String, weight: UInt32, health: String?, role: String?,
                    records: [ResourceRecord], position: SourcePosition) {
            self.id = id
            self.weight = weight
            self.health = health
            self.role = role
            self.records = records
            self.position = position
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

    public init(origin: DomainName, file: String, soa: ResourceRecord, records: [ResourceRecord],
                weighted: [WeightedName]) {
        self.origin = origin
        self.file = file
        self.soa = soa
        self.records = records
        self.weighted = weighted
    }
}
