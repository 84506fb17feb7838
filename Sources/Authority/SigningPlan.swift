import DNSWire

/// Every RRset Veer can answer from a signed zone, listed at load for the signer (README
/// "DNSSEC"): SOA, NS and DNSKEY at the apex, every static RRset at or above the cuts, each
/// endpoint's RRset of each weighted name (CNAME, A, AAAA; `select=client` names too), DS at
/// delegations, and the NSEC chain. NS at a cut and glue below it are not authoritative and
/// stay unsigned (RFC 4035 §2.2). Pure: the keys' DNSKEY RDATA comes in, sets to sign go out,
/// and `ZoneSignatures` puts the signatures made for them beside the zone data.
public struct SigningPlan: Sendable {
    /// One RRset to sign, as it is served: owner, type, TTL and each record's RDATA in
    /// uncompressed wire form (names in their zone-file case; the signer canonicalises).
    public struct RRset: Sendable, Equatable {
        public let owner: DomainName
        public let type: RRType
        public let ttl: UInt32
        public let rdatas: [[UInt8]]
        /// Where its signatures go in `ZoneSignatures`.
        let place: Place
    }

    /// Where a set's signatures are kept.
    enum Place: Sendable, Equatable {
        /// `ZoneData.rrsets[index]`.
        case rrset(Int)
        /// Weighted set `set`, endpoint `endpoint`, `kind` 0 CNAME, 1 A, 2 AAAA.
        case endpoint(set: Int, endpoint: Int, kind: Int)
        /// The NSEC of node `node`.
        case nsec(node: Int)
        /// The DNSKEY RRset of zone `zone`.
        case dnskey(zone: Int)
    }

    /// The sets of one signed zone.
    public struct Zone: Sendable {
        /// Index in `ZoneData.zones`.
        public let index: Int
        public let origin: DomainName
        public let sets: [RRset]
        /// Its NSEC chain, node indices in canonical order.
        let chain: [Int32]
    }

    /// The zones to sign, in `ZoneData.zones` order.
    public let zones: [Zone]

    /// The plan for the zones of `data` that have keys: `dnskeys` gives, by origin, the
    /// DNSKEY RDATA of every published key. Zones missing from it stay unsigned.
    public init(_ data: ZoneData, dnskeys: [DomainName: [[UInt8]]]) {
        var zones: [Zone] = []
        for (index, info) in data.zones.enumerated() {
            guard let keys = dnskeys[info.origin], !keys.isEmpty else { continue }
            zones.append(Self.zone(index, of: data, dnskeys: keys))
        }
        self.zones = zones
    }

    /// Every set of zone `index` of `data`.
    static func zone(_ index: Int, of data: ZoneData, dnskeys: [[UInt8]]) -> Zone {
        let info = data.zones[index]
        let chain = NSECChain(zone: Int32(index), nodes: data.nodes)
        var sets: [RRset] = [RRset(owner: info.origin, type: .dnskey, ttl: info.soaTTL, rdatas: dnskeys, place: .dnskey(zone: index))]
        for (position, nodeIndex) in chain.nodes.enumerated() {
            let node = data.nodes[Int(nodeIndex)]
            let isCut = node.cut == nodeIndex && !node.isApex
            for set in node.rrsetIndices where !isCut || data.rrsets[set].type == .ds {
                sets.append(RRset(owner: node.name, type: data.rrsets[set].type, ttl: data.rrsets[set].ttl,
                                  rdatas: rdatas(of: data.rrsets[set]), place: .rrset(set)))
            }
            if node.weighted >= 0 {
                for (endpointIndex, endpoint) in data.weighted[Int(node.weighted)].endpoints.enumerated() {
                    for (kind, records) in [endpoint.cname, endpoint.a, endpoint.aaaa].enumerated() {
                        guard let records else { continue }
                        sets.append(RRset(owner: node.name, type: records.type, ttl: records.ttl, rdatas: rdatas(of: records),
                                          place: .endpoint(set: Int(node.weighted), endpoint: endpointIndex, kind: kind)))
                    }
                }
            }
            let next = data.nodes[Int(chain.nodes[(position + 1) % chain.nodes.count])].name
            let types = NSECChain.types(of: node, at: Int(nodeIndex), rrsets: data.rrsets, weighted: data.weighted)
            // NSEC TTL: min(SOA TTL, SOA MINIMUM), as negative answers (RFC 4035 §2.3, RFC 9077).
            sets.append(RRset(owner: node.name, type: .nsec, ttl: info.negativeTTL,
                              rdatas: [NSECChain.rdata(next: next, types: types)], place: .nsec(node: Int(nodeIndex))))
        }
        return Zone(index: index, origin: info.origin, sets: sets, chain: chain.nodes)
    }

    /// Each record's RDATA, uncompressed: an address set's from its wire form, others encoded.
    static func rdatas(of set: RRSetData) -> [[UInt8]] {
        if set.records.isEmpty {
            let size = RRSetData.wireSize(set.type)
            return (0..<set.count).map { Array(set.wire[(($0 * size) + 10)..<(($0 + 1) * size)]) }
        }
        return set.records.map { data in
            (try? WireWriter.build(capacity: 65535) { writer throws(WireError) in try data.encode(into: &writer, compress: false) }) ?? []
        }
    }
}
