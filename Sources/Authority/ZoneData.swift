import DNSWire
import ZoneFile

/// Where a name leads inside Veer's zones; computed by the same walk at query time (for the
/// question) and at build time (for CNAME, NS, MX and SRV targets).
public enum Resolution: Sendable, Equatable {
    /// The name exists (a node with data, or an empty non-terminal) and is authoritative.
    case node(Int32)
    /// The name does not exist but `*.` at its closest encloser does (RFC 4592).
    case wildcard(Int32)
    /// At or below a delegation: answer with a referral from this cut node.
    case referral(Int32)
    /// Inside zone `zone`, no such name.
    case nxdomain(zone: Int32)
    /// Outside every zone Veer serves.
    case outside
}

/// One RRset at a node: records of one type, with the TTL of the first (RFC 2181 §5.2).
/// Unchecked Sendable: `wire` points into an `AddressBytes`, immutable once written. Whatever
/// holds a set holds that storage too: the `ZoneData` for its nodes' sets, the weighted
/// endpoint (`WeightedSet.Endpoint.storage`) for an endpoint's.
struct RRSetData: @unchecked Sendable {
    let type: RRType
    let ttl: UInt32
    /// The records, decoded; empty for the A and AAAA RRsets of names, which keep `wire` only.
    let records: [RData]
    /// For CNAME, NS, MX and SRV: where each record's target name resolves (parallel to `records`).
    let targets: [Resolution]
    /// For NS, MX and SRV: the node of each target name, glue below a cut included, or -1;
    /// its addresses go in the additional section.
    let targetNodes: [Int32]
    /// For the A and AAAA RRsets of names: each record as it goes on the wire after its owner
    /// name (TYPE, CLASS, TTL, RDLENGTH, RDATA), back to back. An answer copies these bytes;
    /// they hold no names, so they do not depend on where in a message they land. 14 bytes
    /// per A record in the zone data's one `AddressBytes`, where an array per RRset cost a
    /// million allocations for a million names.
    let wire: UnsafeRawBufferPointer

    init(type: RRType, ttl: UInt32, records: [RData], targets: [Resolution], targetNodes: [Int32]) {
        self.type = type
        self.ttl = ttl
        self.records = records
        self.targets = targets
        self.targetNodes = targetNodes
        wire = UnsafeRawBufferPointer(start: nil, count: 0)
    }

    /// An A or AAAA RRset kept in wire form only, written into `bytes`.
    init(addresses records: some Collection<ResourceRecord>, in bytes: AddressBytes) {
        let first = records.first!
        let type = first.type, ttl = first.ttl
        self.type = type
        self.ttl = ttl
        self.records = []
        targets = []
        targetNodes = []
        let size = Self.wireSize(type)
        let out = bytes.take(records.count * size)
        wire = UnsafeRawBufferPointer(out)
        for (index, record) in records.enumerated() {
            precondition(record.type == type, "\(type) RRset holding \(record.type)")
            Self.write(record.data, ttl: ttl, into: out, at: index * size)
        }
    }

    /// The A or AAAA RRset of one record, `data` (most names of a large zone): read in place
    /// from the zone's records, where a copy of the record retained and released its name.
    init(address data: RData, ttl: UInt32, in bytes: AddressBytes) {
        type = data.type
        self.ttl = ttl
        records = []
        targets = []
        targetNodes = []
        let out = bytes.take(Self.wireSize(type))
        wire = UnsafeRawBufferPointer(out)
        Self.write(data, ttl: ttl, into: out, at: 0)
    }

    /// Writes the A or AAAA record `data` with `ttl` as `wire` holds it, at `offset` in `out`.
    private static func write(_ data: RData, ttl: UInt32, into out: UnsafeMutableRawBufferPointer, at offset: Int) {
        let type = data.type, size = wireSize(type)
        out.storeBytes(of: type.rawValue.bigEndian, toByteOffset: offset, as: UInt16.self)
        out.storeBytes(of: RRClass.in.rawValue.bigEndian, toByteOffset: offset + 2, as: UInt16.self)
        out.storeBytes(of: ttl.bigEndian, toByteOffset: offset + 4, as: UInt32.self)
        out.storeBytes(of: UInt16(size - 10).bigEndian, toByteOffset: offset + 8, as: UInt16.self)
        switch data {
        case .a(let v4):
            out.storeBytes(of: v4.value.bigEndian, toByteOffset: offset + 10, as: UInt32.self)
        case .aaaa(let v6):
            out.storeBytes(of: v6.high.bigEndian, toByteOffset: offset + 10, as: UInt64.self)
            out.storeBytes(of: v6.low.bigEndian, toByteOffset: offset + 18, as: UInt64.self)
        default: preconditionFailure("A/AAAA RRset holding \(type)")
        }
    }

    /// Bytes of one A (14) or AAAA (26) record in `wire`.
    static func wireSize(_ type: RRType) -> Int { 10 + (type == .a ? 4 : 16) }

    /// Records in the set.
    var count: Int { records.isEmpty ? wire.count / Self.wireSize(type) : records.count }
}

/// The bytes of every address RRset of one `ZoneData` (`RRSetData.wire`), in blocks that
/// never move, so each set points at its records; freed with the last of the zone data and
/// its weighted endpoints.
final class AddressBytes: @unchecked Sendable {
    private var blocks: [UnsafeMutableRawBufferPointer] = []
    private var used = 0

    /// `count` bytes of new room, to be written before any reader sees them.
    func take(_ count: Int) -> UnsafeMutableRawBufferPointer {
        if blocks.isEmpty || used + count > blocks[blocks.count - 1].count {
            // Blocks double from 4 KiB to 1 MiB, then stay there: a small zone takes one page,
            // a large one a block per few thousand names.
            let size = max(count, Self.blockSize(after: blocks.count))
            blocks.append(.allocate(byteCount: size, alignment: 8))
            used = 0
        }
        let room = UnsafeMutableRawBufferPointer(rebasing: blocks[blocks.count - 1][used..<(used + count)])
        used += count
        return room
    }

    /// Bytes of the block made after `blocks` others (unless one RRset needs more).
    static func blockSize(after blocks: Int) -> Int {
        4096 << min(blocks, 8)
    }

    deinit {
        for block in blocks { block.deallocate() }
    }
}

/// A name in the tree: its data and where it sits relative to zone cuts.
struct Node: Sendable {
    let name: DomainName
    let zone: Int32
    let isApex: Bool
    /// The topmost delegation (NS below an apex) at or above this node, or -1.
    var cut: Int32 = -1
    /// Its RRsets, in type order: `ZoneData.rrsets[firstRRSet ..< firstRRSet + rrsetCount]`.
    /// One array for the whole tree: an array per node cost a million allocations (and a
    /// generic metadata lookup each) for a million names.
    var firstRRSet: Int32 = 0
    var rrsetCount: Int32 = 0
    /// Index into `ZoneData.weighted`, or -1.
    var weighted: Int32 = -1

    /// Indices of its RRsets in `ZoneData.rrsets`.
    var rrsetIndices: Range<Int> { Int(firstRRSet)..<Int(firstRRSet + rrsetCount) }

    /// The index in `rrsets` (the zone data's) of its RRset of `type`, or nil.
    @inline(__always)
    func rrset(_ type: RRType, in rrsets: [RRSetData]) -> Int? {
        for i in rrsetIndices where rrsets[i].type == type { return i }
        return nil
    }
}

/// A weighted name: one endpoint is chosen per query (README "Weighted names").
public struct WeightedSet: Sendable {
    /// What answering needs of an endpoint: its slot and its records. Ids, weights, roles
    /// and checks stay on the control side (`WeightedNameConfig`). A class: the chosen
    /// endpoint is reached with one reference count per query, where a struct of three
    /// optional RRsets was copied field by field (a dozen retains and releases).
    public final class Endpoint: Sendable {
        /// Index of this endpoint's weights in a `WeightTable` and of its served counter.
        public let slot: Int
        /// CNAME endpoint: its one record and where its target resolves.
        let cname: RRSetData?
        let a: RRSetData?
        let aaaa: RRSetData?
        /// Where `a` and `aaaa` keep their records: an endpoint can outlive its zone data.
        let storage: AddressBytes

        init(slot: Int, cname: RRSetData?, a: RRSetData?, aaaa: RRSetData?, storage: AddressBytes) {
            self.slot = slot
            self.cname = cname
            self.a = a
            self.aaaa = aaaa
            self.storage = storage
        }
    }

    public let owner: DomainName
    public let endpoints: [Endpoint]
    /// True when the endpoints are CNAMEs (the zone parser forbids mixing with addresses).
    public let isCNAME: Bool
    /// Per endpoint, for choosing one per query: its slot. Choosing reads this instead of
    /// copying each Endpoint (with its RRsets) per query.
    let slots: [Int]

    init(owner: DomainName, endpoints: [Endpoint], isCNAME: Bool) {
        self.owner = owner
        self.endpoints = endpoints
        self.isCNAME = isCNAME
        slots = endpoints.map(\.slot)
    }
}

/// Everything Veer answers from, immutable once built: the name tree of every zone with
/// lookups by hash of the lowercased wire name.
public final class ZoneData: Sendable {
    public struct ZoneInfo: Sendable {
        public let origin: DomainName
        public let file: String
        let apex: Int32
        let soa: RData
        /// Negative-caching TTL: min(SOA TTL, SOA MINIMUM) (RFC 2308 §5).
        let negativeTTL: UInt32
        public let serial: UInt32
    }

    public let zones: [ZoneInfo]
    public let weighted: [WeightedSet]
    let nodes: [Node]
    /// Every node's RRsets, node after node (`Node.firstRRSet`).
    let rrsets: [RRSetData]
    /// Where the address RRsets' records lie (`RRSetData.wire`).
    let addressBytes = AddressBytes()
    let table: NameTable
    /// A and AAAA answers of plain names, ready to copy.
    let direct: DirectAnswers
    /// Some name's first label is `*`: only then does a name that does not exist cost a
    /// wildcard lookup.
    let hasWildcards: Bool

    /// Builds the tree. `slot` gives each (owner, endpoint id) its permanent counter/weight
    /// slot, so slots survive reloads.
    public init(zones input: [Zone], slot: (DomainName, String) -> Int) {
        // Parents before children, so a child zone's data wins at and below its apex.
        let sortedZones = input.sorted { $0.origin.labelCount < $1.origin.labelCount }
        var nodes: [Node] = []
        // One zone as the parser built it: the owner table of its validation becomes the node
        // table (owner i is node i), so no name is hashed a second time.
        let owners = sortedZones.count == 1 ? sortedZones[0].owners.flatMap { owners in
            owners.table.count == owners.names.count && owners.ofRecord.count == sortedZones[0].records.count ? owners : nil
        } : nil
        var table = owners?.table
            ?? NameTable(expectedCount: sortedZones.reduce(0) { $0 + $1.records.count + $1.weighted.count } + 16)
        nodes.reserveCapacity(max(table.count, sortedZones.reduce(0) { $0 + $1.records.count + $1.weighted.count }) + 16)

        func deepestZone(_ name: DomainName) -> Int {
            var best = -1
            for (index, zone) in sortedZones.enumerated() where name.isSubdomain(of: zone.origin) { best = index }
            return best
        }
        let originLabels = sortedZones.map(\.origin.labelCount)
        // A name's table key, lowercased on the stack: no array per name.
        func lowercased<T>(_ name: DomainName, _ body: (UnsafeRawBufferPointer) -> T) -> T {
            name.wire.withUnsafeBufferPointer { wire in
                withUnsafeTemporaryAllocation(byteCount: wire.count, alignment: 1) { key in
                    for i in wire.indices { key[i] = asciiLower(wire[i]) }
                    return body(UnsafeRawBufferPointer(key))
                }
            }
        }
        func node(for name: DomainName, zone: Int, labels: Int? = nil) -> Int {
            let index = nodes.count
            // Looked up and inserted in one probe.
            let existing = lowercased(name) { table.lookupOrInsert($0, value: Int32(index)) }
            if existing >= 0 { return Int(existing) }
            nodes.append(Node(name: name, zone: Int32(zone), isApex: name == sortedZones[zone].origin))
            // Empty non-terminals up to the apex, so "exists but no data" is NODATA, not NXDOMAIN.
            // A name one label below the apex (most of a large zone) has the apex as parent.
            let labels = labels ?? name.labelCount
            if labels > originLabels[zone] + 1, let parent = name.parent {
                _ = node(for: parent, zone: zone, labels: labels - 1)
            }
            return index
        }

        // Each record's node, in file order; grouped per node below with a counting sort (a
        // dictionary of arrays cost a second per million records to fill and to free).
        var placed: [(node: Int32, zone: Int32, record: Int32)] = []
        placed.reserveCapacity(sortedZones.reduce(0) { $0 + $1.records.count })
        if let owners {
            let origin = sortedZones[0].origin
            for name in owners.names { nodes.append(Node(name: name, zone: 0, isApex: name == origin)) }
            for name in owners.names {
                let labels = name.labelCount
                if labels > originLabels[0] + 1, let parent = name.parent { _ = node(for: parent, zone: 0, labels: labels - 1) }
            }
            _ = node(for: origin, zone: 0)
            for (recordIndex, owner) in owners.ofRecord.enumerated() { placed.append((owner, 0, Int32(recordIndex))) }
            for weightedName in sortedZones[0].weighted { _ = node(for: weightedName.owner, zone: 0) }
        }
        for (zoneIndex, zone) in sortedZones.enumerated() where owners == nil {
            _ = node(for: zone.origin, zone: zoneIndex)
            // One zone: every record is in it (the parser checked). Consecutive records of one
            // owner (an RRset, or A and AAAA) share its node without a lookup.
            var previous: (name: DomainName, node: Int32)?
            for (recordIndex, record) in zone.records.enumerated() where sortedZones.count == 1 || deepestZone(record.name) == zoneIndex {
                let here: Int32
                if let previous, previous.name == record.name {
                    here = previous.node
                } else {
                    here = Int32(node(for: record.name, zone: zoneIndex))
                    previous = (record.name, here)
                }
                placed.append((here, Int32(zoneIndex), Int32(recordIndex)))
            }
            for weightedName in zone.weighted where deepestZone(weightedName.owner) == zoneIndex {
                _ = node(for: weightedName.owner, zone: zoneIndex)
            }
        }
        var firstPlaced = [Int32](repeating: 0, count: nodes.count + 1)
        for entry in placed { firstPlaced[Int(entry.node) + 1] += 1 }
        for index in nodes.indices { firstPlaced[index + 1] += firstPlaced[index] }
        var byNode = [(zone: Int32, record: Int32)](repeating: (0, 0), count: placed.count)
        var fill = firstPlaced
        for entry in placed {
            byNode[Int(fill[Int(entry.node)])] = (entry.zone, entry.record)
            fill[Int(entry.node)] += 1
        }
        placed = []
        func records(of index: Int) -> [ResourceRecord] {
            byNode[Int(firstPlaced[index])..<Int(firstPlaced[index + 1])].map { sortedZones[Int($0.zone)].records[Int($0.record)] }
        }

        // Zone cuts: an NS RRset below an apex, the topmost one wins.
        var anyCut = false
        func hasNS(_ index: Int) -> Bool {
            byNode[Int(firstPlaced[index])..<Int(firstPlaced[index + 1])].contains {
                sortedZones[Int($0.zone)].records[Int($0.record)].type == .ns
            }
        }
        for index in nodes.indices where !nodes[index].isApex && hasNS(index) {
            nodes[index].cut = Int32(index)
            anyCut = true
        }
        for index in nodes.indices where anyCut {
            var name = nodes[index].name
            while let parent = name.parent, name != sortedZones[Int(nodes[index].zone)].origin {
                let up = table.lookup(parent.lowercasedWire)
                if up >= 0, nodes[Int(up)].cut == up, !nodes[Int(up)].isApex { nodes[index].cut = up }
                name = parent
            }
        }

        // Resolution needs the finished tree, so RRsets are filled in a second pass.
        let zoneInfos: [ZoneInfo] = sortedZones.enumerated().map { index, zone in
            guard case .soa(let soa) = zone.soa.data else { preconditionFailure("zone without SOA passed validation") }
            return ZoneInfo(origin: zone.origin, file: zone.file, apex: table.lookup(zone.origin.lowercasedWire),
                            soa: zone.soa.data, negativeTTL: min(zone.soa.ttl, soa.minimum), serial: soa.serial)
        }
        // Filled beside the tree, their places set in `nodes` once `tree`, which shares its
        // storage, is gone: changing `nodes` while it lived copied the whole tree.
        var rrsets: [RRSetData] = []
        rrsets.reserveCapacity(nodes.count)
        var firstRRSet = [Int32](repeating: 0, count: nodes.count + 1)
        let addressBytes = self.addressBytes
        var weightedSets: [WeightedSet] = []
        var weightedAt: [(node: Int, set: Int32)] = []
        do {
            let tree = nodes
            // Targets only for the types that have them: an empty array costs no allocation, and
            // A/AAAA RRsets are most of a large zone.
            func makeRRSet(_ records: some Collection<ResourceRecord>) -> RRSetData {
                let type = records.first!.type
                if type == .a || type == .aaaa { return RRSetData(addresses: records, in: addressBytes) }
                let followed = type == .cname || type == .ns || type == .mx || type == .srv
                return RRSetData(type: type, ttl: records.first!.ttl, records: records.map(\.data),
                                 targets: !followed ? [] : records.map { record in
                                     switch record.data {
                                     case .cname(let target), .ns(let target), .mx(_, let target), .srv(_, _, _, let target):
                                         lowercased(target) { key in
                                             withUnsafeTemporaryAllocation(byteCount: DomainName.maxWireLength + 2, alignment: 1) {
                                                 table.resolve(key, scratch: $0, nodes: tree)
                                             }
                                         }
                                     default: .outside
                                     }
                                 },
                                 targetNodes: !followed || type == .cname ? [] : records.map { record in
                                     record.data.additionalName.map { name in lowercased(name) { table.lookup($0) } } ?? -1
                                 })
            }
            for index in nodes.indices {
                firstRRSet[index] = Int32(rrsets.count)
                // In type order; records of one type keep their file order.
                let first = Int(firstPlaced[index]), end = Int(firstPlaced[index + 1])
                if end - first == 1 {
                    // Most names of a large zone: one record, no intermediate arrays.
                    let zone = Int(byNode[first].zone), record = Int(byNode[first].record)
                    let type = sortedZones[zone].records[record].type
                    if type == .a || type == .aaaa {
                        rrsets.append(RRSetData(address: sortedZones[zone].records[record].data,
                                                ttl: sortedZones[zone].records[record].ttl, in: addressBytes))
                    } else {
                        rrsets.append(makeRRSet(CollectionOfOne(sortedZones[zone].records[record])))
                    }
                } else if end > first {
                    let here = records(of: index)
                    if here.allSatisfy({ $0.type == here[0].type }) {
                        rrsets.append(makeRRSet(here))
                    } else {
                        let types = Set(here.map(\.type)).sorted { $0.rawValue < $1.rawValue }
                        rrsets.append(contentsOf: types.map { type in makeRRSet(here.filter { $0.type == type }) })
                    }
                }
            }
            firstRRSet[nodes.count] = Int32(rrsets.count)
            for (zoneIndex, zone) in sortedZones.enumerated() {
                for weightedName in zone.weighted where deepestZone(weightedName.owner) == zoneIndex {
                    let endpoints = weightedName.endpoints.map { endpoint in
                        let records = endpoint.records
                        func set(_ type: RRType) -> RRSetData? {
                            let matching = records.filter { $0.type == type }
                            return matching.isEmpty ? nil : makeRRSet(matching)
                        }
                        return WeightedSet.Endpoint(slot: slot(weightedName.owner, endpoint.id),
                                                    cname: set(.cname), a: set(.a), aaaa: set(.aaaa), storage: addressBytes)
                    }
                    weightedAt.append((Int(table.lookup(weightedName.owner.lowercasedWire)), Int32(weightedSets.count)))
                    weightedSets.append(WeightedSet(owner: weightedName.owner, endpoints: endpoints,
                                                    isCNAME: endpoints.contains { $0.cname != nil }))
                }
            }
        }
        for index in nodes.indices {
            nodes[index].firstRRSet = firstRRSet[index]
            nodes[index].rrsetCount = firstRRSet[index + 1] - firstRRSet[index]
        }
        for (index, set) in weightedAt { nodes[index].weighted = set }
        self.zones = zoneInfos
        self.nodes = nodes
        self.rrsets = rrsets
        self.table = table
        self.weighted = weightedSets
        direct = DirectAnswers(nodes, rrsets: rrsets, weighted: weightedSets, zones: zoneInfos)
        hasWildcards = nodes.contains { $0.name.wire.count > 2 && $0.name.wire[0] == 1 && $0.name.wire[1] == UInt8(ascii: "*") }
    }

    /// The weighted set whose owner is `name`, if any.
    public func weightedSet(named name: DomainName) -> WeightedSet? {
        weighted.first { $0.owner == name }
    }

    /// Every endpoint slot in use, for sizing weight tables and counters.
    public var slotCount: Int {
        (weighted.flatMap { $0.endpoints.map(\.slot) }.max() ?? -1) + 1
    }

    /// The lookup walk for a query: `name` lowercased wire form, `scratch` 257 bytes.
    @inline(__always)
    func resolve(_ name: UnsafeRawBufferPointer, scratch: UnsafeMutableRawBufferPointer) -> Resolution {
        table.resolve(name, scratch: scratch, nodes: nodes, wildcards: hasWildcards)
    }
}

extension NameTable {
    /// The lookup walk over this table of `nodes`' names: exact match, else closest encloser,
    /// then wildcard, referral or NXDOMAIN; at query time for the question, at build time for
    /// CNAME, NS, MX and SRV targets. `name`: lowercased wire form. `scratch`: 257 bytes for building the wildcard name. The query path calls it
    /// through `ZoneData.resolve`, with the arrays borrowed from the zone data, not copied.
    @inline(__always)
    func resolve(_ name: UnsafeRawBufferPointer, scratch: UnsafeMutableRawBufferPointer, nodes: [Node],
                 wildcards: Bool = true) -> Resolution {
        let exact = lookup(name)
        if exact >= 0 {
            let cut = nodes[Int(exact)].cut
            return cut >= 0 ? .referral(cut) : .node(exact)
        }
        // Closest encloser: drop labels from the left until a name exists.
        var offset = 0
        while name[offset] != 0 {
            offset += 1 + Int(name[offset])
            let suffix = UnsafeRawBufferPointer(rebasing: name[offset...])
            let encloser = lookup(suffix)
            guard encloser >= 0 else { continue }
            // Fields read one by one: copying the whole node would retain its arrays.
            let cut = nodes[Int(encloser)].cut
            if cut >= 0 { return .referral(cut) }
            // Source of synthesis `*.<encloser>` (RFC 4592 §3.3.1), looked up only when some
            // name in the zones is a wildcard.
            guard wildcards else { return .nxdomain(zone: nodes[Int(encloser)].zone) }
            scratch[0] = 1
            scratch[1] = UInt8(ascii: "*")
            UnsafeMutableRawBufferPointer(rebasing: scratch[2..<(2 + suffix.count)]).copyMemory(from: suffix)
            let wildcard = lookup(UnsafeRawBufferPointer(rebasing: scratch[0..<(2 + suffix.count)]))
            if wildcard >= 0 { return .wildcard(wildcard) }
            return .nxdomain(zone: nodes[Int(encloser)].zone)
        }
        return .outside
    }
}

/// The answer section of every A and AAAA question at a plain name (not weighted, not at or
/// below a cut) and of every endpoint of a weighted address name, in wire form with the owner
/// a pointer to the question: answering one is a single copy (and a TTL patch while a name
/// is being moved), with no record encoding and no reference counting of the node's arrays.
/// Other types, CNAME names and names below a cut take the general path.
///
/// One pool for all answers and fixed-size entries, allocated once per zone load: a copy of
/// each A and AAAA record with its 2-byte owner (16 and 28 bytes), 20 bytes per node and 32
/// per weighted endpoint.
final class DirectAnswers: @unchecked Sendable {
    /// Where an answer section lies in the pool (length 0: none).
    struct Section {
        var offset: UInt32 = 0
        var length: UInt16 = 0
    }

    struct Entry {
        var a = Section()
        var aaaa = Section()
        /// A weighted address name: its endpoints in `choices` and `slots` from `first`.
        var first: UInt32 = 0
        var endpoints: UInt16 = 0
        /// A plain name holding only a CNAME, or an MX, SRV or NS RRset: its records in
        /// `plains` at `plain - 1` (0: none).
        var plain: UInt32 = 0
    }

    /// Records of a plain name owned by the question: a CNAME record and where its target
    /// leads, or an MX, SRV or NS RRset followed by the addresses of its targets that Veer
    /// has, as the general path writes them (`recordsWithAdditional`).
    struct Plain {
        var type = RRType.cname
        var record = Section()
        var answers: UInt16 = 0
        var additionals: UInt16 = 0
        var target = Resolution.outside
    }

    /// A weighted endpoint's answers and their records' TTL (a `ttl-shift=` cap patches it):
    /// its A and AAAA records, or its CNAME record and where the CNAME's target leads.
    struct Choice {
        var a = Section()
        var aaaa = Section()
        var aTTL: UInt32 = 0
        var aaaaTTL: UInt32 = 0
        var cname = Section()
        var cnameTTL: UInt32 = 0
        var target = Resolution.outside
    }

    /// A zone's SOA record for the authority section of NXDOMAIN and NODATA answers to
    /// questions inside it: the owner and the names in RDATA that end in the origin are
    /// pointers into the question, which ends with the origin; `patches` say where, as the
    /// offset into the origin each must point at.
    struct Negative {
        var record = Section()
        var originLength: UInt16 = 0
        var patches = InlineArray<3, (at: UInt16, into: UInt16)>(repeating: (0, 0))
        var patchCount = 0
    }

    /// Pointer to the question name at offset 12 (RFC 1035 §4.1.4).
    static let questionPointer: [UInt8] = [0xC0, 0x0C]

    /// The most a classic response (RFC 1035 §4.2.1) holds: an upper bound for a plain
    /// name's MX, SRV or NS answer.
    static let classicSize = 512

    /// The answer bytes while they are written: allocated once at the size computed for them.
    struct Pool {
        let base: UnsafeMutableRawPointer
        let capacity: Int
        private(set) var count = 0

        init(capacity: Int) {
            self.capacity = max(1, capacity)
            base = .allocate(byteCount: self.capacity, alignment: 8)
        }

        static func += (pool: inout Pool, bytes: [UInt8]) {
            bytes.withUnsafeBytes { pool.append($0) }
        }

        mutating func append(_ bytes: UnsafeRawBufferPointer) {
            precondition(count + bytes.count <= capacity, "answer pool overflow")
            if let source = bytes.baseAddress { (base + count).copyMemory(from: source, byteCount: bytes.count) }
            count += bytes.count
        }

        /// An A or AAAA record owned by the question: the pointer to it, then `record`.
        mutating func appendRecord(_ record: UnsafeRawBufferPointer) {
            precondition(count + 2 + record.count <= capacity, "answer pool overflow")
            base.storeBytes(of: 0xC0, toByteOffset: count, as: UInt8.self)
            base.storeBytes(of: 0x0C, toByteOffset: count + 1, as: UInt8.self)
            (base + count + 2).copyMemory(from: record.baseAddress!, byteCount: record.count)
            count += 2 + record.count
        }
    }

    private let entries: UnsafeMutablePointer<Entry>
    private let count: Int
    private let choices: UnsafeMutablePointer<Choice>
    private let slotList: UnsafeMutablePointer<Int>
    private let choiceCount: Int
    private let pool: UnsafeMutableRawPointer
    private let negatives: UnsafeMutablePointer<Negative>
    private let zoneCount: Int
    private let plains: UnsafeMutablePointer<Plain>
    private let plainCount: Int

    init(_ nodes: [Node], rrsets: [RRSetData], weighted: [WeightedSet], zones: [ZoneData.ZoneInfo]) {
        count = nodes.count
        entries = .allocate(capacity: max(1, nodes.count))
        entries.initialize(repeating: Entry(), count: max(1, nodes.count))
        // Room for every section and record at once, written in place: the pool is the final
        // storage (no copy of it), and room never written is never faulted in, so an MX,
        // SRV or NS answer gets the most it can take. (A growing array reserved for the
        // addresses and CNAMEs alone outgrew its room on a large zone's MX names, and was
        // copied, then copied again into the pool.)
        func room(_ set: borrowing RRSetData) -> Int {
            if !set.wire.isEmpty { return set.wire.count + set.count * Self.questionPointer.count }
            if set.type == .mx || set.type == .srv || set.type == .ns { return Self.classicSize }
            guard set.type == .cname, case .cname(let target) = set.records[0] else { return 0 }
            return Self.questionPointer.count + 10 + target.wire.count
        }
        var capacity = zones.count * (2 * DomainName.maxWireLength + 32)
        for index in nodes.indices where nodes[index].cut < 0 {
            for set in nodes[index].rrsetIndices { capacity += room(rrsets[set]) }
        }
        for set in weighted {
            for endpoint in set.endpoints {
                for rrset in [endpoint.a, endpoint.aaaa, endpoint.cname] { capacity += rrset.map { room($0) } ?? 0 }
            }
        }
        var bytes = Pool(capacity: capacity)
        // Borrowed, and its records copied from their buffer: copying the RRset and slicing
        // its array cost five reference-count round trips per name of a large zone.
        func section(_ set: borrowing RRSetData) -> Section {
            guard !set.wire.isEmpty else { return Section() }
            let size = RRSetData.wireSize(set.type)
            let count = set.count
            let length = count * (2 + size)
            guard length <= Int(UInt16.max), bytes.count + length <= Int(UInt32.max) else { return Section() }
            let start = UInt32(bytes.count)
            for record in 0..<count { bytes.appendRecord(UnsafeRawBufferPointer(rebasing: set.wire[(record * size)..<((record + 1) * size)])) }
            return Section(offset: start, length: UInt16(length))
        }
        var choiceList: [Choice] = []
        var slots: [Int] = []
        var plainList: [Plain] = []
        // One scratch message for the records written after a question, reused for every
        // name: a message array per CNAME or MX name cost a few allocations each. Room for a
        // CNAME record after the longest question; MX, SRV and NS answers stop at 512.
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * Self.classicSize, alignment: 8)
        defer { scratch.deallocate() }
        var writer = WireWriter(scratch)
        // Fields read in place: a copy of each node retained and released its name.
        for index in nodes.indices where nodes[index].cut < 0 {
            if nodes[index].weighted < 0 {
                if let a = nodes[index].rrset(.a, in: rrsets) { entries[index].a = section(rrsets[a]) }
                if let aaaa = nodes[index].rrset(.aaaa, in: rrsets) { entries[index].aaaa = section(rrsets[aaaa]) }
                let only = Int(nodes[index].firstRRSet)
                if nodes[index].rrsetCount == 1, rrsets[only].type == .cname {
                    if let record = Self.cnameRecord(owner: nodes[index].name, rrsets[only], writer: &writer),
                       bytes.count + record.count <= Int(UInt32.max) {
                        plainList.append(Plain(record: Section(offset: UInt32(bytes.count), length: UInt16(record.count)),
                                               answers: 1, target: rrsets[only].targets[0]))
                        entries[index].plain = UInt32(plainList.count)
                        bytes.append(record)
                    }
                } else if let (type, records, answers, additionals) = Self.recordsWithAdditional(nodes[index], nodes: nodes, rrsets: rrsets,
                                                                                                  writer: &writer),
                          bytes.count + records.count <= Int(UInt32.max) {
                    plainList.append(Plain(type: type, record: Section(offset: UInt32(bytes.count), length: UInt16(records.count)),
                                           answers: answers, additionals: additionals))
                    entries[index].plain = UInt32(plainList.count)
                    bytes.append(records)
                }
                continue
            }
            let node = nodes[index]
            let set = weighted[Int(node.weighted)]
            // Every endpoint's records must fit a section, or a draw could land on one the
            // general path would have to answer after all (and count twice).
            guard set.endpoints.count <= Int(UInt16.max),
                  set.endpoints.allSatisfy({ [$0.a, $0.aaaa].allSatisfy { $0.map { $0.count * 28 <= Int(UInt16.max) } ?? true } })
            else { continue }
            entries[index].first = UInt32(choiceList.count)
            entries[index].endpoints = UInt16(set.endpoints.count)
            for endpoint in set.endpoints {
                var choice = Choice(a: endpoint.a.map { section($0) } ?? Section(), aaaa: endpoint.aaaa.map { section($0) } ?? Section(),
                                    aTTL: endpoint.a?.ttl ?? 0, aaaaTTL: endpoint.aaaa?.ttl ?? 0)
                if let cname = endpoint.cname, let record = Self.cnameRecord(owner: node.name, cname, writer: &writer),
                   bytes.count + record.count <= Int(UInt32.max) {
                    choice.cname = Section(offset: UInt32(bytes.count), length: UInt16(record.count))
                    choice.cnameTTL = cname.ttl
                    choice.target = cname.targets[0]
                    bytes.append(record)
                }
                choiceList.append(choice)
                slots.append(endpoint.slot)
            }
        }
        plainCount = plainList.count
        plains = .allocate(capacity: max(1, plainList.count))
        plains.initialize(repeating: Plain(), count: max(1, plainList.count))
        for (index, plain) in plainList.enumerated() { plains[index] = plain }
        zoneCount = zones.count
        negatives = .allocate(capacity: max(1, zones.count))
        negatives.initialize(repeating: Negative(), count: max(1, zones.count))
        for (index, zone) in zones.enumerated() {
            guard case .soa(let soa) = zone.soa else { continue }
            var negative = Self.negativeRecord(origin: zone.origin, soa: soa, ttl: zone.negativeTTL)
            guard bytes.count + negative.bytes.count <= Int(UInt32.max) else { continue }
            negative.value.record = Section(offset: UInt32(bytes.count), length: UInt16(negative.bytes.count))
            bytes += negative.bytes
            negatives[index] = negative.value
        }
        self.pool = bytes.base
        choiceCount = choiceList.count
        choices = .allocate(capacity: max(1, choiceList.count))
        choices.initialize(repeating: Choice(), count: max(1, choiceList.count))
        for (index, choice) in choiceList.enumerated() { choices[index] = choice }
        slotList = .allocate(capacity: max(1, slots.count))
        slotList.initialize(repeating: 0, count: max(1, slots.count))
        for (index, slot) in slots.enumerated() { slotList[index] = slot }
    }

    /// Where `name` can be compressed against `other` (a lowercased wire name): the labels
    /// to write before a pointer and the offset in `other` of the suffix the pointer names,
    /// for the longest suffix the two share (the root alone does not count); nil for none.
    static func sharedSuffix(of name: DomainName, in other: [UInt8]) -> (head: ArraySlice<UInt8>, into: Int)? {
        let wire = name.wire
        var at = 0
        while wire[at] != 0 {
            let length = wire.count - at
            var into = 0
            while other[into] != 0 && other.count - into > length { into += 1 + Int(other[into]) }
            if other.count - into == length, (0..<length).allSatisfy({ asciiLower(wire[at + $0]) == other[into + $0] }) {
                return (wire[..<at], into)
            }
            at += 1 + Int(wire[at])
        }
        return nil
    }

    /// Appends `value` big-endian.
    private static func append16(_ value: UInt16, to bytes: inout [UInt8]) {
        // Two appends, not an array of two: this runs several times per CNAME of a zone.
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    /// The bytes `body` writes after a header and a question for `name`, with `writer` over a
    /// scratch buffer: names in them are compressed against the
    /// question as the general path compresses them. Nil when they do not fit; the bytes are
    /// the scratch buffer's, valid until the next call.
    static func afterQuestion(for name: DomainName, writer: inout WireWriter,
                              _ body: (inout WireWriter) throws(WireError) -> Void) -> UnsafeRawBufferPointer? {
        writer.reset(writer.buffer)
        do throws(WireError) {
            // Header, and the question: its type and class do not matter here.
            for _ in 0..<(Header.size / 4) { try writer.u32(0) }
            try writer.bytes(name.wire)
            try writer.u32(0)
            writer.addCompressionTargets(suffixesOfNameAt: Header.size)
            let start = writer.count
            try body(&writer)
            return UnsafeRawBufferPointer(rebasing: writer.buffer[start..<writer.count])
        } catch {
            return nil
        }
    }

    /// The CNAME record of `set` (a CNAME RRset) owned by the question, `owner`.
    static func cnameRecord(owner: DomainName, _ set: RRSetData, writer: inout WireWriter) -> UnsafeRawBufferPointer? {
        afterQuestion(for: owner, writer: &writer) { (writer: inout WireWriter) throws(WireError) in
            try writer.u16(DomainName.pointerFlags | UInt16(Header.size))
            try writer.recordAfterOwner(.cname, ttl: set.ttl, set.records[0])
        }
    }

    /// The answer to a question for the MX RRset of the plain name `node`, else its SRV, else
    /// its NS (one per name, the types asked most often first), with the addresses of its
    /// targets in the additional section, written by the general path's own writers
    /// (`recordAfterOwner`, `targetAddresses`) after a question for `node`'s name, so with the
    /// same compression pointers: type, bytes (in `writer`'s buffer, see `afterQuestion`),
    /// answer and additional counts. Nil when the name has no such RRset or the answer would
    /// not fit a classic 512-octet response.
    static func recordsWithAdditional(_ node: Node, nodes: [Node], rrsets: [RRSetData],
                                      writer: inout WireWriter) -> (RRType, UnsafeRawBufferPointer, UInt16, UInt16)? {
        guard let index = node.rrset(.mx, in: rrsets) ?? node.rrset(.srv, in: rrsets) ?? node.rrset(.ns, in: rrsets),
              !rrsets[index].records.isEmpty else { return nil }
        let set = rrsets[index]
        var answers: UInt16 = 0, additionals: UInt16 = 0
        let records = afterQuestion(for: node.name, writer: &writer) { (writer: inout WireWriter) throws(WireError) in
            writer.setLimit(classicSize)
            for data in set.records {
                try writer.u16(DomainName.pointerFlags | UInt16(Header.size))
                try writer.recordAfterOwner(set.type, ttl: set.ttl, data)
                answers += 1
            }
            let (written, complete) = writer.targetAddresses(of: set, nodes: nodes, rrsets: rrsets)
            guard complete else { throw WireError(.noSpace, field: "additional", offset: writer.count) }
            additionals = written
        }
        guard let records else { return nil }
        return (set.type, records, answers, additionals)
    }

    /// The SOA record of `origin` with pointer placeholders (see `Negative`).
    static func negativeRecord(origin: DomainName, soa: SOAData, ttl: UInt32) -> (bytes: [UInt8], value: Negative) {
        var negative = Negative()
        negative.originLength = UInt16(origin.wire.count)
        let originWire = origin.lowercasedWire
        var record: [UInt8] = [0xC0, 0x00]
        negative.patches[0] = (0, 0)
        negative.patchCount = 1
        func name(_ name: DomainName) {
            guard let (head, into) = sharedSuffix(of: name, in: originWire) else { return record += name.wire }
            record += head
            negative.patches[negative.patchCount] = (UInt16(record.count), UInt16(into))
            negative.patchCount += 1
            record += [0xC0, 0x00]
        }
        for value in [RRType.soa.rawValue, RRClass.in.rawValue, UInt16(ttl >> 16), UInt16(ttl & 0xFFFF), 0] {
            append16(value, to: &record)
        }
        let lengthAt = record.count - 2
        name(soa.mname)
        name(soa.rname)
        for value in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] {
            append16(UInt16(value >> 16), to: &record)
            append16(UInt16(value & 0xFFFF), to: &record)
        }
        let length = UInt16(record.count - lengthAt - 2)
        record[lengthAt] = UInt8(length >> 8)
        record[lengthAt + 1] = UInt8(length & 0xFF)
        return (record, negative)
    }

    deinit {
        plains.deinitialize(count: max(1, plainCount))
        plains.deallocate()
        negatives.deinitialize(count: max(1, zoneCount))
        negatives.deallocate()
        entries.deinitialize(count: max(1, count))
        entries.deallocate()
        choices.deinitialize(count: max(1, choiceCount))
        choices.deallocate()
        slotList.deinitialize(count: max(1, choiceCount))
        slotList.deallocate()
        pool.deallocate()
    }

    @inline(__always)
    private func bytes(_ section: Section) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: pool + Int(section.offset), count: Int(section.length))
    }

    /// The answer section for an A (or, `aaaa`, AAAA) question at the plain name `node`;
    /// empty when the general path must answer.
    @inline(__always)
    func answer(_ node: Int32, aaaa: Bool) -> UnsafeRawBufferPointer {
        let entry = entries[Int(node)]
        return bytes(aaaa ? entry.aaaa : entry.a)
    }

    /// Writes zone `zone`'s SOA record for a negative answer to a question of `qnameLength`
    /// octets inside that zone (so ending with its origin), with `writer`.
    @inline(__always)
    func writeNegative(_ zone: Int32, qnameLength: Int, into writer: inout WireWriter) throws(WireError) -> Bool {
        let negative = negatives[Int(zone)]
        guard negative.record.length > 0, qnameLength >= Int(negative.originLength) else { return false }
        let origin = Header.size + qnameLength - Int(negative.originLength)
        let start = writer.count
        try writer.bytes(bytes(negative.record))
        for index in 0..<negative.patchCount {
            let patch = negative.patches[index]
            writer.patch16(DomainName.pointerFlags | UInt16(origin + Int(patch.into)), at: start + Int(patch.at))
        }
        return true
    }

    /// The CNAME record of the plain CNAME name `node` and where its target leads; an empty
    /// record when it is not one.
    @inline(__always)
    func plainCNAME(_ node: Int32) -> (record: UnsafeRawBufferPointer, target: Resolution) {
        let index = entries[Int(node)].plain
        guard index > 0, plains[Int(index) - 1].type == .cname else { return (UnsafeRawBufferPointer(start: nil, count: 0), .outside) }
        let cname = plains[Int(index) - 1]
        return (bytes(cname.record), cname.target)
    }

    /// The answer and additional records for a `type` question at the plain name `node`
    /// (`recordsWithAdditional`) and how many of each; empty when the general path answers.
    @inline(__always)
    func records(_ node: Int32, type: RRType) -> (bytes: UnsafeRawBufferPointer, answers: UInt16, additionals: UInt16) {
        let index = entries[Int(node)].plain
        guard index > 0, plains[Int(index) - 1].type == type else { return (UnsafeRawBufferPointer(start: nil, count: 0), 0, 0) }
        let plain = plains[Int(index) - 1]
        return (bytes(plain.record), plain.answers, plain.additionals)
    }

    /// The endpoints' slots of the weighted address name `node`, in zone order; empty when it
    /// is not one.
    @inline(__always)
    func slots(_ node: Int32) -> UnsafeBufferPointer<Int> {
        let entry = entries[Int(node)]
        return UnsafeBufferPointer(start: slotList + Int(entry.first), count: Int(entry.endpoints))
    }

    /// Endpoint `index` (of `slots(node)`)'s CNAME record, its TTL and where its target leads;
    /// empty for address endpoints.
    @inline(__always)
    func cname(_ node: Int32, endpoint index: Int) -> (record: UnsafeRawBufferPointer, ttl: UInt32, target: Resolution) {
        let choice = choices[Int(entries[Int(node)].first) + index]
        return (bytes(choice.cname), choice.cnameTTL, choice.target)
    }

    /// Endpoint `index` (of `slots(node)`)'s answer section and its records' TTL.
    @inline(__always)
    func answer(_ node: Int32, endpoint index: Int, aaaa: Bool) -> (records: UnsafeRawBufferPointer, ttl: UInt32) {
        let choice = choices[Int(entries[Int(node)].first) + index]
        return aaaa ? (bytes(choice.aaaa), choice.aaaaTTL) : (bytes(choice.a), choice.aTTL)
    }
}

extension WireWriter {
    /// TYPE, CLASS IN, TTL, RDLENGTH and RDATA of a record whose owner was just written;
    /// returns where its RDATA starts.
    @discardableResult
    mutating func recordAfterOwner(_ type: RRType, ttl: UInt32, _ data: RData) throws(WireError) -> Int {
        try u16(type.rawValue)
        try u16(RRClass.in.rawValue)
        try u32(ttl)
        let lengthAt = count
        try u16(0)
        try data.encode(into: &self, compress: type.rdataNamesCompressible)
        patch16(UInt16(count - lengthAt - 2), at: lengthAt)
        return lengthAt + 2
    }

    /// The A, then AAAA, records of each target of `set` (NS, MX, SRV) that `nodes` hold,
    /// owned by the target's name: what the additional section carries. Stops at the first
    /// record that does not fit, leaving out that one and the rest (`complete` false).
    mutating func targetAddresses(of set: RRSetData, nodes: [Node], rrsets: [RRSetData]) -> (written: UInt16, complete: Bool) {
        var written: UInt16 = 0
        for target in set.targetNodes where target >= 0 {
            let node = nodes[Int(target)]
            for type in [RRType.a, RRType.aaaa] {
                guard let index = node.rrset(type, in: rrsets) else { continue }
                let addresses = rrsets[index]
                // Address sets are always kept in wire form (`RRSetData(addresses:in:)` and
                // `RRSetData(address:ttl:in:)`).
                assert(addresses.records.isEmpty, "an address RRset without its wire form")
                let size = RRSetData.wireSize(type)
                for record in 0..<addresses.count {
                    let mark = count
                    do throws(WireError) {
                        try name(node.name)
                        guard count + size <= limit else { throw WireError(.noSpace, field: "record", offset: count) }
                        // Cannot fail: the space was checked above.
                        try? self.bytes(UnsafeRawBufferPointer(rebasing: addresses.wire[(record * size)..<((record + 1) * size)]))
                        written += 1
                    } catch {
                        rewind(to: mark)
                        return (written, false)
                    }
                }
            }
        }
        return (written, true)
    }
}
