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
    /// One zone as served: its origin, file, apex node and SOA.
    public struct ZoneInfo: Sendable {
        public let origin: DomainName
        public let file: String
        let apex: Int32
        let soa: RData
        /// Negative-caching TTL: min(SOA TTL, SOA MINIMUM) (RFC 2308 §5).
        let negativeTTL: UInt32
        /// The SOA record's own TTL; the DNSKEY RRset of a signed zone gets it too.
        let soaTTL: UInt32
        public let serial: UInt32
    }

    public let zones: [ZoneInfo]
    public let weighted: [WeightedSet]
    let nodes: [Node]
    /// Every node's RRsets, node after node (`Node.firstRRSet`).
    let rrsets: [RRSetData]
    /// Where the address RRsets' records lie (`RRSetData.wire`).
    let addressBytes: AddressBytes
    let table: NameTable
    /// Answers ready to copy, for the fast path.
    let direct: DirectAnswers
    /// Some name's first label is `*`: only then does a name that does not exist cost a
    /// wildcard lookup.
    let hasWildcards: Bool

    /// Builds the tree (`Builder`, step by step) and the answers ready to copy
    /// (`DirectAnswers`). `slot` gives each (owner, endpoint id) its permanent counter/weight
    /// slot, so slots survive reloads.
    public init(zones input: [Zone], slot: (DomainName, String) -> Int) {
        let addressBytes = AddressBytes()
        var builder = Builder(zones: input, addressBytes: addressBytes)
        builder.placeNodes()
        builder.markCuts()
        builder.buildRRSets()
        builder.buildWeightedSets(slot: slot)
        let zones = builder.zoneInfos()
        let nodes = builder.nodes
        self.addressBytes = addressBytes
        self.zones = zones
        self.nodes = nodes
        rrsets = builder.rrsets
        table = builder.table
        weighted = builder.weighted
        direct = DirectAnswers(nodes, rrsets: rrsets, weighted: weighted, zones: zones)
        hasWildcards = nodes.contains { $0.name.wire.count > 2 && $0.name.wire[0] == 1 && $0.name.wire[1] == UInt8(ascii: "*") }
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
