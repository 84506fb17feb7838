import DNSWire

/// Zone-level rules over the records a `ZoneReader` produced: de-duplication, one TTL per
/// RRset, SOA and apex NS, CNAME exclusivity, weighted endpoints.
///
/// - Duplicate records (same owner, type, class and RDATA; names compared case-insensitively)
///   are dropped silently, keeping the first.
/// - Records of one RRset with different TTLs all get the first one's TTL. RFC 2181 §5.2 says
///   they must match; BIND warns, Veer takes the first and says nothing.
/// - Records below a delegation are kept as they are: the server answers with a referral.
struct ZoneValidator {
    let origin: DomainName
    let file: String
    /// False when an entry failed to parse: the missing SOA or NS may be that broken line,
    /// so "missing" errors would only add noise.
    let checkPresence: Bool
    private(set) var diagnostics: [(order: Int, diagnostic: Diagnostic)] = []

    /// RRSIG and NSEC may sit beside a CNAME (RFC 4035 §2.5).
    private static let allowedBesideCNAME: Set<UInt16> = [46, 47]

    init(origin: DomainName, file: String, checkPresence: Bool) {
        self.origin = origin
        self.file = file
        self.checkPresence = checkPresence
    }

    private struct Owner {
        var name: DomainName
        /// Indices of the owner's records (endpoint duplicates included), in file order.
        var records: [Int] = []
        /// The TTL of each RRset seen so far (per endpoint for endpoint records).
        var ttls: [(type: RRType, endpoint: String?, ttl: UInt32)] = []
        var hasEndpoints = false
        /// Built once an owner has many records, so duplicate checks stay linear in the zone.
        var seen: Set<DuplicateKey>?
    }

    private struct DuplicateKey: Hashable {
        let data: RData
        let endpoint: String?
    }

    /// A name as a dictionary key, hashed once over its lowercased wire form (FNV-1a) rather
    /// than octet by octet through `Hasher`.
    private struct OwnerKey: Hashable {
        let name: DomainName
        let hash: UInt64

        init(_ name: DomainName) {
            self.name = name
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in name.wire { h = (h ^ UInt64(asciiLower(byte))) &* 0x100_0000_01b3 }
            hash = h
        }

        static func == (lhs: OwnerKey, rhs: OwnerKey) -> Bool { lhs.hash == rhs.hash && lhs.name == rhs.name }
        func hash(into hasher: inout Hasher) { hasher.combine(hash) }
    }

    /// Owners with more records than this get a hash set for duplicate checks.
    private static let linearDuplicateLimit = 16

    /// One record that survived de-duplication (or an endpoint duplicate, kept for its tag).
    private struct Kept {
        let record: ZoneRecord
        let order: Int
        /// A duplicate endpoint record: its record is dropped, but its tag still counts
        /// (a weight may be given on any line of an endpoint).
        var duplicate = false
    }

    mutating func validate(_ records: [ZoneRecord], order: [Int]) -> Zone? {
        var owners: [Owner] = []
        var ownerIndex: [OwnerKey: Int] = [:]
        var kept: [Kept] = []
        kept.reserveCapacity(records.count)
        var lastOwner: (name: DomainName, index: Int)?

        for (i, zoneRecord) in records.enumerated() {
            let record = zoneRecord.record
            let o: Int
            if let last = lastOwner, last.name == record.name {
                o = last.index
            } else {
                let key = OwnerKey(record.name)
                if let existing = ownerIndex[key] {
                    o = existing
                } else {
                    o = owners.count
                    owners.append(Owner(name: record.name))
                    ownerIndex[key] = o
                }
                lastOwner = (record.name, o)
            }
            let endpoint = zoneRecord.endpoint?.id
            let duplicate: Bool
            if owners[o].seen != nil {
                duplicate = !owners[o].seen!.insert(DuplicateKey(data: record.data, endpoint: endpoint)).inserted
            } else {
                duplicate = owners[o].records.contains { k in
                    !kept[k].duplicate && kept[k].record.record.data == record.data && kept[k].record.endpoint?.id == endpoint
                }
                if owners[o].records.count >= Self.linearDuplicateLimit {
                    var seen = Set<DuplicateKey>()
                    for k in owners[o].records where !kept[k].duplicate {
                        seen.insert(DuplicateKey(data: kept[k].record.record.data, endpoint: kept[k].record.endpoint?.id))
                    }
                    seen.insert(DuplicateKey(data: record.data, endpoint: endpoint))
                    owners[o].seen = seen
                }
            }
            if duplicate && endpoint == nil { continue }
            var final = zoneRecord
            let type = record.type
            if let rrset = owners[o].ttls.first(where: { $0.type == type && $0.endpoint == endpoint }) {
                if rrset.ttl != record.ttl {
                    var adjusted = record
                    adjusted.ttl = rrset.ttl
                    final = ZoneRecord(record: adjusted, position: zoneRecord.position, endpoint: zoneRecord.endpoint)
                }
            } else {
                owners[o].ttls.append((type, endpoint, record.ttl))
            }
            if endpoint != nil { owners[o].hasEndpoints = true }
            owners[o].records.append(kept.count)
            kept.append(Kept(record: final, order: order[i], duplicate: duplicate))
        }

        // SOA: exactly one, at the apex (RFC 1035 §5.2).
        var soa: Kept?
        for entry in kept where entry.record.record.type == .soa && !entry.duplicate {
            if entry.record.record.name != origin {
                report(entry, "expected the SOA record at the zone apex \(origin), found it at \(entry.record.record.name)")
            } else if let first = soa {
                report(entry, "expected one SOA record at the apex, found a second one (the first is at \(place(first.record.position, from: entry.record.position)))")
            } else {
                soa = entry
            }
        }
        if checkPresence {
            if soa == nil {
                diagnostics.append((Int.max, Diagnostic(position: SourcePosition(file: file, line: 1, column: 1),
                                                        message: "expected an SOA record at the zone apex \(origin), found none")))
            } else if let soa {
                let apex = ownerIndex[OwnerKey(origin)].map { owners[$0].records } ?? []
                if !apex.contains(where: { kept[$0].record.record.type == .ns && kept[$0].record.endpoint == nil }) {
                    report(soa, "expected at least one NS record at the zone apex \(origin), found none")
                }
            }
        }

        var weighted: [WeightedName] = []
        for owner in owners {
            if owner.hasEndpoints {
                if let name = checkWeighted(owner, kept) { weighted.append(name) }
            } else {
                checkCNAME(owner, kept)
            }
        }

        guard diagnostics.isEmpty, let soa else { return nil }
        let plain = kept.lazy.filter { $0.record.endpoint == nil && !$0.duplicate }.map(\.record.record)
        return Zone(origin: origin, file: file, soa: soa.record.record, records: Array(plain), weighted: weighted)
    }

    /// RFC 1034 §3.6.2 / RFC 2181 §10.1: a name with a CNAME has no other data, and one CNAME.
    private mutating func checkCNAME(_ owner: Owner, _ kept: [Kept]) {
        var firstCNAME: Kept?
        var firstOther: Kept?
        var reported = false
        for index in owner.records {
            let entry = kept[index]
            let type = entry.record.record.type
            if type == .cname {
                if let first = firstCNAME {
                    report(entry, "expected one CNAME at \(owner.name), found a second one (the first is at \(place(first.record.position, from: entry.record.position))); a name has at most one CNAME (RFC 1034 §3.6.2)")
                    continue
                }
                firstCNAME = entry
                if let other = firstOther, !reported {
                    reported = true
                    report(entry, "expected no other data beside a CNAME at \(owner.name), found \(other.record.record.type) at \(place(other.record.position, from: entry.record.position)) (RFC 1034 §3.6.2)")
                }
            } else if !Self.allowedBesideCNAME.contains(type.rawValue) {
                if firstOther == nil { firstOther = entry }
                if let cname = firstCNAME, !reported {
                    reported = true
                    report(entry, "expected no other data beside the CNAME at \(owner.name) (\(place(cname.record.position, from: entry.record.position))), found \(type) (RFC 1034 §3.6.2)")
                }
            }
        }
    }

    private struct PendingEndpoint {
        let id: String
        let position: SourcePosition
        let order: Int
        var weight: (value: UInt32, position: SourcePosition)?
        var health: (value: String, position: SourcePosition)?
        var role: (value: String, position: SourcePosition)?
        var records: [ResourceRecord] = []
        var cname: SourcePosition?
    }

    /// Veer's weighted names: every record at the owner is an endpoint record, endpoints are
    /// all CNAMEs or all addresses, one CNAME per endpoint, a weight on each endpoint, and at
    /// least one weight above zero.
    private mutating func checkWeighted(_ owner: Owner, _ kept: [Kept]) -> WeightedName? {
        let before = diagnostics.count
        var endpoints: [PendingEndpoint] = []
        var kind: (isCNAME: Bool, position: SourcePosition)?
        var mixReported = false
        for index in owner.records {
            let entry = kept[index]
            let record = entry.record.record
            let position = entry.record.position
            guard let tag = entry.record.endpoint else {
                report(entry, "expected endpoint= on every record at \(owner.name), which has weighted endpoints; found \(record.type) without one")
                continue
            }
            let isCNAME = record.type == .cname
            if let kind, kind.isCNAME != isCNAME {
                if !mixReported {
                    mixReported = true
                    let first = kind.isCNAME ? "a CNAME endpoint" : "A/AAAA endpoints"
                    report(entry, "expected endpoints of one kind at \(owner.name), found \(isCNAME ? "a CNAME endpoint" : "an A/AAAA endpoint") beside \(first) (\(place(kind.position, from: position))): a query would get a CNAME or an address set depending on the draw, and resolvers cache the two differently")
                }
            } else if kind == nil {
                kind = (isCNAME, position)
            }
            var e: Int
            if let existing = endpoints.firstIndex(where: { $0.id == tag.id }) {
                e = existing
            } else {
                e = endpoints.count
                endpoints.append(PendingEndpoint(id: tag.id, position: position, order: entry.order))
            }
            if isCNAME && !entry.duplicate {
                if let first = endpoints[e].cname {
                    report(entry, "expected one CNAME for endpoint \"\(tag.id)\" of \(owner.name), found a second one (the first is at \(place(first, from: position)))")
                } else {
                    endpoints[e].cname = position
                }
            }
            if let weight = tag.weight {
                if let first = endpoints[e].weight {
                    if first.value != weight {
                        report(entry, "expected weight=\(first.value) for endpoint \"\(tag.id)\" of \(owner.name) as at \(place(first.position, from: position)), found weight=\(weight)")
                    }
                } else {
                    endpoints[e].weight = (weight, position)
                }
            }
            if let health = tag.health {
                if let first = endpoints[e].health {
                    if first.value != health {
                        report(entry, "expected health=\(first.value) for endpoint \"\(tag.id)\" of \(owner.name) as at \(place(first.position, from: position)), found health=\(health)")
                    }
                } else {
                    endpoints[e].health = (health, position)
                }
            }
            if let role = tag.role {
                if let first = endpoints[e].role {
                    if first.value != role {
                        report(entry, "expected role=\(first.value) for endpoint \"\(tag.id)\" of \(owner.name) as at \(place(first.position, from: position)), found role=\(role)")
                    }
                } else {
                    endpoints[e].role = (role, position)
                }
            }
            if !entry.duplicate { endpoints[e].records.append(record) }
        }
        var allWeighted = true
        for endpoint in endpoints where endpoint.weight == nil {
            allWeighted = false
            diagnostics.append((endpoint.order, Diagnostic(position: endpoint.position,
                message: "expected weight= on at least one line of endpoint \"\(endpoint.id)\" of \(owner.name), found none")))
        }
        if allWeighted, let first = endpoints.first, endpoints.allSatisfy({ $0.weight?.value == 0 }) {
            diagnostics.append((first.order, Diagnostic(position: first.position,
                message: "at least one endpoint of \(owner.name) needs weight > 0")))
        }
        guard diagnostics.count == before else { return nil }
        return WeightedName(owner: owner.name, endpoints: endpoints.map {
            WeightedName.Endpoint(id: $0.id, weight: $0.weight?.value ?? 0, health: $0.health?.value,
                                  role: $0.role?.value, records: $0.records, position: $0.position)
        })
    }

    private mutating func report(_ entry: Kept, _ message: String) {
        diagnostics.append((entry.order, Diagnostic(position: entry.record.position, message: message)))
    }

    /// `line 7` in the same file, `path:7` in another one.
    private func place(_ position: SourcePosition, from here: SourcePosition) -> String {
        position.file == here.file ? "line \(position.line)" : "\(position.file):\(position.line)"
    }
}
