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

    /// One owner name; its records form a chain through `Kept.next`, in file order.
    private struct Owner {
        let name: DomainName
        var first: Int32
        var last: Int32
        var count: Int32 = 1
        var hasEndpoints = false
        /// Index into the `LargeOwner` indexes, or -1 while the owner is small.
        var large: Int32 = -1
    }

    /// A record that survived de-duplication (or an endpoint duplicate, kept for its tag:
    /// a weight may be given on any line of an endpoint). No references, so a million of
    /// them cost one allocation.
    private struct Kept {
        /// Index into the reader's records.
        let index: Int32
        /// The record's TTL, or its RRset's first TTL.
        var ttl: UInt32
        /// The next kept record of the same owner, or -1.
        var next: Int32 = -1
        var duplicate: Bool
    }

    private struct DuplicateKey: Hashable {
        let data: RData
        let endpoint: Int32
    }

    private struct RRSetKey: Hashable {
        let type: RRType
        let endpoint: Int32
    }

    /// Hash indexes for an owner with many records, so duplicate and TTL checks stay linear
    /// in the size of the zone.
    private final class LargeOwner {
        var seen: Set<DuplicateKey> = []
        var ttls: [RRSetKey: UInt32] = [:]
    }

    /// Owners with more records than this get a `LargeOwner` index.
    private static let linearScanLimit: Int32 = 16

    /// Owner name → index into `owners`, in the `NameTable` the query path uses, keyed by
    /// the lowercased wire form (lowercased on the stack, so a lookup allocates nothing). A
    /// million lookups through `Dictionary` and `Hasher` cost more than the rest of validation.
    private struct OwnerTable {
        private var names: NameTable

        init(capacity: Int) {
            names = NameTable(expectedCount: capacity)
        }

        /// The table: owner name → owner number.
        var nameTable: NameTable { names }

        func find(_ name: DomainName) -> Int? {
            let value = Self.withKey(name) { names.lookup($0) }
            return value < 0 ? nil : Int(value)
        }

        /// The owner index of `name` (whose key hashes to `hash`), or nil after adding it as
        /// owner `index`.
        mutating func findOrInsert(_ name: DomainName, hash: Int, index: Int) -> Int? {
            let value = Self.withKey(name) { names.lookupOrInsert($0, hash: hash, value: Int32(index)) }
            return value < 0 ? nil : Int(value)
        }

        /// The hash of `name`'s key, for `prefetch` and `findOrInsert`.
        static func hash(_ name: DomainName) -> Int {
            withKey(name) { NameTable.hash($0) }
        }

        func prefetch(hash: Int) {
            names.prefetch(hash: hash)
        }

        private static func withKey<T>(_ name: DomainName, _ body: (UnsafeRawBufferPointer) -> T) -> T {
            name.wire.withUnsafeBufferPointer { wire in
                withUnsafeTemporaryAllocation(byteCount: wire.count, alignment: 1) { buffer in
                    for i in wire.indices { buffer[i] = asciiLower(wire[i]) }
                    return body(UnsafeRawBufferPointer(buffer))
                }
            }
        }
    }

    /// The reader's records and the kept ones, as the checks below see them.
    private struct Table {
        let records: [ResourceRecord]
        let sources: [RecordSource]
        let files: [String]
        let tags: [EndpointTag]
        var kept: [Kept] = []

        func record(_ k: Int32) -> ResourceRecord { records[Int(kept[Int(k)].index)] }
        func source(_ k: Int32) -> RecordSource { sources[Int(kept[Int(k)].index)] }
        func tag(_ k: Int32) -> EndpointTag? {
            let tag = sources[Int(kept[Int(k)].index)].tag
            return tag < 0 ? nil : tags[Int(tag)]
        }
        func position(_ k: Int32) -> SourcePosition {
            let record = sources[Int(kept[Int(k)].index)]
            return SourcePosition(file: files[Int(record.file)], line: Int(record.line), column: Int(record.column))
        }
        func order(_ k: Int32) -> Int { Int(sources[Int(kept[Int(k)].index)].order) }
        func isDuplicate(_ k: Int32) -> Bool { kept[Int(k)].duplicate }

        /// The record with its RRset's TTL.
        func final(_ k: Int32) -> ResourceRecord {
            var record = records[Int(kept[Int(k)].index)]
            record.ttl = kept[Int(k)].ttl
            return record
        }

        /// The kept records of `owner`, in file order.
        func members(_ owner: Owner) -> [Int32] {
            var result: [Int32] = []
            result.reserveCapacity(Int(owner.count))
            var k = owner.first
            while k >= 0 { result.append(k); k = kept[Int(k)].next }
            return result
        }
    }

    mutating func validate(_ records: [ResourceRecord], sources: [RecordSource], files: [String], tags: [EndpointTag],
                           healthChecks: [HealthCheck] = [], analyses: [AnalysisCheck] = []) -> Zone? {
        var table = Table(records: records, sources: sources, files: files, tags: tags)
        let checks = Dictionary(healthChecks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let analysisChecks = Dictionary(analyses.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        table.kept.reserveCapacity(records.count)
        var owners: [Owner] = []
        var owner = OwnerTable(capacity: records.count)
        var large: [LargeOwner] = []
        // Every record is kept as read: no duplicate dropped, no TTL changed, no endpoint.
        var unchanged = true
        // The owner of each record, parallel to `records`; owners are numbered in order of
        // first appearance. Found in a loop of its own, with each name's slot prefetched
        // `ahead` records before it is probed: each probe of a large table is a cache miss,
        // and this way several are in flight at once instead of one after the other.
        var recordOwner: [Int32] = []
        recordOwner.reserveCapacity(records.count)
        do {
            var lastOwner: Int32 = -1, lastRecord = 0, ownerCount = 0
            var hashes = InlineArray<16, Int>(repeating: 0)
            let ahead = hashes.count
            for j in 0..<min(ahead, records.count) {
                hashes[j] = OwnerTable.hash(records[j].name)
                owner.prefetch(hash: hashes[j])
            }
            for i in records.indices {
                let hash = hashes[i % ahead]
                if i + ahead < records.count {
                    hashes[i % ahead] = OwnerTable.hash(records[i + ahead].name)
                    owner.prefetch(hash: hashes[i % ahead])
                }
                if lastOwner >= 0, records[lastRecord].name == records[i].name {
                    recordOwner.append(lastOwner)
                    continue
                }
                if let existing = owner.findOrInsert(records[i].name, hash: hash, index: ownerCount) {
                    lastOwner = Int32(existing)
                } else {
                    lastOwner = Int32(ownerCount)
                    ownerCount += 1
                }
                lastRecord = i
                recordOwner.append(lastOwner)
            }
        }

        for i in records.indices {
            let endpoint = sources[i].endpointID
            let type = sources[i].type
            let k = Int32(table.kept.count)
            let o = Int(recordOwner[i])
            if o == owners.count {
                owners.append(Owner(name: records[i].name, first: k, last: k, hasEndpoints: endpoint >= 0))
                table.kept.append(Kept(index: Int32(i), ttl: records[i].ttl, duplicate: false))
                if endpoint >= 0 { unchanged = false }
                continue
            }

            var duplicate = false
            var rrsetTTL: UInt32?
            if owners[o].large >= 0 {
                let index = large[Int(owners[o].large)]
                duplicate = !index.seen.insert(DuplicateKey(data: records[i].data, endpoint: endpoint)).inserted
                rrsetTTL = index.ttls[RRSetKey(type: type, endpoint: endpoint)]
            } else {
                var m = owners[o].first
                while m >= 0 {
                    let other = table.kept[Int(m)]
                    let j = Int(other.index)
                    if sources[j].type == type && sources[j].endpointID == endpoint {
                        if rrsetTTL == nil { rrsetTTL = other.ttl }
                        if !other.duplicate && records[j].data == records[i].data { duplicate = true }
                    }
                    m = other.next
                }
            }
            if duplicate && endpoint < 0 {
                unchanged = false
                continue
            }
            if endpoint >= 0 || (rrsetTTL ?? records[i].ttl) != records[i].ttl { unchanged = false }

            table.kept.append(Kept(index: Int32(i), ttl: rrsetTTL ?? records[i].ttl, duplicate: duplicate))
            table.kept[Int(owners[o].last)].next = k
            owners[o].last = k
            owners[o].count += 1
            if endpoint >= 0 { owners[o].hasEndpoints = true }
            if owners[o].large >= 0 {
                if rrsetTTL == nil { large[Int(owners[o].large)].ttls[RRSetKey(type: type, endpoint: endpoint)] = records[i].ttl }
            } else if owners[o].count > Self.linearScanLimit {
                let index = LargeOwner()
                for m in table.members(owners[o]) {
                    let member = table.record(m)
                    let source = table.source(m)
                    if !table.isDuplicate(m) { index.seen.insert(DuplicateKey(data: member.data, endpoint: source.endpointID)) }
                    let key = RRSetKey(type: source.type, endpoint: source.endpointID)
                    if index.ttls[key] == nil { index.ttls[key] = table.kept[Int(m)].ttl }
                }
                owners[o].large = Int32(large.count)
                large.append(index)
            }
        }

        // SOA: exactly one, at the apex (RFC 1035 §5.2).
        var soa: Int32?
        // By the source table's type: copying each record to read its type cost a reference
        // count round trip per record of a large zone.
        for k in table.kept.indices where table.kept[k].duplicate == false && table.source(Int32(k)).type == .soa {
            let record = table.record(Int32(k))
            if record.name != origin {
                report(table, Int32(k), "expected the SOA record at the zone apex \(origin), found it at \(record.name)")
            } else if let first = soa {
                report(table, Int32(k), "expected one SOA record at the apex, found a second one (the first is at \(place(table.position(first), from: table.position(Int32(k)))))")
            } else {
                soa = Int32(k)
            }
        }
        if checkPresence {
            if let soa {
                let apex = owner.find(origin).map { table.members(owners[$0]) } ?? []
                if !apex.contains(where: { table.source($0).type == .ns && table.source($0).endpointID < 0 }) {
                    report(table, soa, "expected at least one NS record at the zone apex \(origin), found none")
                }
            } else {
                diagnostics.append((Int.max, Diagnostic(position: SourcePosition(file: file, line: 1, column: 1),
                                                        message: "expected an SOA record at the zone apex \(origin), found none")))
            }
        }

        var weighted: [WeightedName] = []
        // Fields read in place: a copy of each owner retained and released its name.
        for index in owners.indices where owners[index].hasEndpoints || owners[index].count > 1 {
            if owners[index].hasEndpoints {
                if let name = checkWeighted(owners[index], table, checks, analysisChecks) { weighted.append(name) }
            } else {
                checkCNAME(owners[index], table)
            }
        }

        guard diagnostics.isEmpty, let soa else { return nil }
        var plain: [ResourceRecord] = []
        var plainOwners: [Int32] = []
        if unchanged {
            // Nothing dropped, retimed or taken by an endpoint: the records as read, shared.
            plain = records
            plainOwners = recordOwner
        } else {
            plain.reserveCapacity(table.kept.count)
            plainOwners.reserveCapacity(table.kept.count)
            for k in table.kept.indices where !table.kept[k].duplicate && table.source(Int32(k)).endpointID < 0 {
                plain.append(table.final(Int32(k)))
                plainOwners.append(recordOwner[Int(table.kept[k].index)])
            }
        }
        return Zone(origin: origin, file: file, soa: table.final(soa), records: plain, weighted: weighted,
                    healthChecks: healthChecks, analyses: analyses,
                    owners: OwnerIndex(table: owner.nameTable, names: owners.map(\.name), ofRecord: plainOwners))
    }

    /// RFC 1034 §3.6.2 / RFC 2181 §10.1: a name with a CNAME has no other data, and one CNAME.
    private mutating func checkCNAME(_ owner: Owner, _ table: Table) {
        var firstCNAME: Int32?
        var firstOther: Int32?
        var reported = false
        for k in table.members(owner) {
            let type = table.source(k).type
            let here = table.position(k)
            if type == .cname {
                if let first = firstCNAME {
                    report(table, k, "expected one CNAME at \(owner.name), found a second one (the first is at \(place(table.position(first), from: here))); a name has at most one CNAME (RFC 1034 §3.6.2)")
                    continue
                }
                firstCNAME = k
                if let other = firstOther, !reported {
                    reported = true
                    report(table, k, "expected no other data beside a CNAME at \(owner.name), found \(table.source(other).type) at \(place(table.position(other), from: here)) (RFC 1034 §3.6.2)")
                }
            } else if !Self.allowedBesideCNAME.contains(type.rawValue) {
                if firstOther == nil { firstOther = k }
                if let cname = firstCNAME, !reported {
                    reported = true
                    report(table, k, "expected no other data beside the CNAME at \(owner.name) (\(place(table.position(cname), from: here))), found \(type) (RFC 1034 §3.6.2)")
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
        var analyses: (value: [String], position: SourcePosition)?
        var role: (value: String, position: SourcePosition)?
        var records: [ResourceRecord] = []
        var cname: SourcePosition?
    }

    /// Veer's weighted names: every record at the owner is an endpoint record, endpoints are
    /// all CNAMEs or all addresses, one CNAME per endpoint, a weight on each endpoint, and at
    /// least one weight above zero, and one `all-down=` setting for the name.
    private mutating func checkWeighted(_ owner: Owner, _ table: Table, _ checks: [String: HealthCheck],
                                        _ analysisChecks: [String: AnalysisCheck]) -> WeightedName? {
        let before = diagnostics.count
        var endpoints: [PendingEndpoint] = []
        var allDown: (value: Bool, position: SourcePosition)?
        var ttlShift: (value: UInt32, position: SourcePosition)?
        var select: (value: Bool, position: SourcePosition)?
        var kind: (isCNAME: Bool, position: SourcePosition)?
        var mixReported = false
        for k in table.members(owner) {
            let record = table.final(k)
            let position = table.position(k)
            let duplicate = table.isDuplicate(k)
            guard let tag = table.tag(k) else {
                report(table, k, "expected endpoint= on every record at \(owner.name), which has weighted endpoints; found \(record.type) without one")
                continue
            }
            let isCNAME = record.type == .cname
            if let kind, kind.isCNAME != isCNAME {
                if !mixReported {
                    mixReported = true
                    let first = kind.isCNAME ? "a CNAME endpoint" : "A/AAAA endpoints"
                    report(table, k, "expected endpoints of one kind at \(owner.name), found \(isCNAME ? "a CNAME endpoint" : "an A/AAAA endpoint") beside \(first) (\(place(kind.position, from: position))): a query would get a CNAME or an address set depending on the draw, and resolvers cache the two differently")
                }
            } else if kind == nil {
                kind = (isCNAME, position)
            }
            var e: Int
            if let existing = endpoints.firstIndex(where: { $0.id == tag.id }) {
                e = existing
            } else {
                e = endpoints.count
                endpoints.append(PendingEndpoint(id: tag.id, position: position, order: table.order(k)))
            }
            if isCNAME && !duplicate {
                if let first = endpoints[e].cname {
                    report(table, k, "expected one CNAME for endpoint \"\(tag.id)\" of \(owner.name), found a second one (the first is at \(place(first, from: position)))")
                } else {
                    endpoints[e].cname = position
                }
            }
            if let weight = tag.weight {
                if let first = endpoints[e].weight {
                    if first.value != weight {
                        report(table, k, "expected weight=\(first.value) for endpoint \"\(tag.id)\" of \(owner.name) as at \(place(first.position, from: position)), found weight=\(weight)")
                    }
                } else {
                    endpoints[e].weight = (weight, position)
                }
            }
            if let health = tag.health {
                if let first = endpoints[e].health {
                    if first.value != health {
                        report(table, k, "expected health=\(first.value) for endpoint \"\(tag.id)\" of \(owner.name) as at \(place(first.position, from: position)), found health=\(health)")
                    }
                } else {
                    endpoints[e].health = (health, position)
                }
            }
            if !tag.analyses.isEmpty {
                if let first = endpoints[e].analyses {
                    if first.value != tag.analyses {
                        report(table, k, "expected analysis=\(first.value.joined(separator: ",")) for endpoint \"\(tag.id)\" of \(owner.name) as at \(place(first.position, from: position)), found analysis=\(tag.analyses.joined(separator: ","))")
                    }
                } else {
                    endpoints[e].analyses = (tag.analyses, position)
                }
            }
            if let role = tag.role {
                if let first = endpoints[e].role {
                    if first.value != role {
                        report(table, k, "expected role=\(first.value) for endpoint \"\(tag.id)\" of \(owner.name) as at \(place(first.position, from: position)), found role=\(role)")
                    }
                } else {
                    endpoints[e].role = (role, position)
                }
            }
            agree(&allDown, tag.refuseWhenAllDown.map { ($0, position) }, key: "all-down", owner: owner, table, k,
                  text: Self.allDownWord)
            agree(&ttlShift, tag.ttlShift.map { ($0, position) }, key: "ttl-shift", owner: owner, table, k,
                  text: { "\($0)" })
            agree(&select, tag.selectByClient.map { ($0, position) }, key: "select", owner: owner, table, k,
                  text: { $0 ? "client" : "random" })
            if !duplicate { endpoints[e].records.append(record) }
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
                                  role: $0.role?.value, records: $0.records, position: $0.position,
                                  check: $0.health.flatMap { checks[$0.value] },
                                  analyses: ($0.analyses?.value ?? []).compactMap { analysisChecks[$0] })
        }, refuseWhenAllDown: allDown?.value ?? false, ttlShift: ttlShift?.value, selectByClient: select?.value ?? false)
    }

    /// A setting of the whole weighted name given on one of its lines: every line that gives
    /// it must give the same value.
    private mutating func agree<Value: Equatable>(_ first: inout (value: Value, position: SourcePosition)?,
                                                  _ given: (Value, SourcePosition)?, key: String, owner: Owner,
                                                  _ table: Table, _ k: Int32, text: (Value) -> String) {
        guard let (value, position) = given else { return }
        guard let established = first else {
            first = (value, position)
            return
        }
        if established.value != value {
            report(table, k, "expected \(key)=\(text(established.value)) for \(owner.name) as at \(place(established.position, from: position)), found \(key)=\(text(value)); \(key)= is a setting of the name")
        }
    }

    private static func allDownWord(_ refuse: Bool) -> String { refuse ? "refuse" : "open" }

    private mutating func report(_ table: Table, _ k: Int32, _ message: String) {
        diagnostics.append((table.order(k), Diagnostic(position: table.position(k), message: message)))
    }

    /// `line 7` in the same file, `path:7` in another one.
    private func place(_ position: SourcePosition, from here: SourcePosition) -> String {
        position.file == here.file ? "line \(position.line)" : "\(position.file):\(position.line)"
    }
}
