import DNSWire

/// Answers ready to copy, for the fast path (`Responder+Direct.swift`): the answer section of
/// every A and AAAA question at a plain name (not weighted, not at or below a cut) and of
/// every endpoint of a weighted address name, the CNAME record of plain and weighted CNAME
/// names, the MX, SRV or NS answer of a plain name with its additional addresses, and each
/// zone's SOA for negative answers; in wire form with the owner a pointer to the question:
/// answering one is a single copy (and a TTL patch while a name is being moved), with no
/// record encoding and no reference counting of the node's arrays. Everything else takes the
/// general path, and whatever is copied from here must be byte for byte what the general path
/// writes (`DirectAnswerOracleTests`, fuzz/RespondFuzz.swift).
///
/// One pool for all answers and fixed-size entries, allocated once per zone load: a copy of
/// each A and AAAA record with its 2-byte owner (16 and 28 bytes), 20 bytes per node and 32
/// per weighted endpoint. Built by `Builder` (DirectAnswers+Build.swift).
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
    ///
    /// The general path points a name at a longer suffix of the question when it can (the
    /// SOA's MNAME `ns1.example.com.` at the question `ns1.example.com.`): `guards` hold, for
    /// the MNAME and RNAME inside the zone, the label just before the origin (lowercased, with
    /// its length octet); a question whose labels before the origin end with one is left to
    /// the general path.
    struct Negative {
        var record = Section()
        var originLength: UInt16 = 0
        var patches = InlineArray<3, (at: UInt16, into: UInt16)>(repeating: (0, 0))
        var patchCount = 0
        var guards = InlineArray<2, Section>(repeating: Section())
        var guardCount = 0
    }

    /// Pointer to the question name at offset 12 (RFC 1035 §4.1.4).
    static let questionPointer: [UInt8] = [0xC0, 0x0C]

    /// The most a classic response (RFC 1035 §4.2.1) holds: an upper bound for a plain
    /// name's MX, SRV or NS answer.
    static let classicSize = 512

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

    /// Builds every answer ready to copy, step by step (`Builder`), and takes its storage.
    init(_ nodes: [Node], rrsets: [RRSetData], weighted: [WeightedSet], zones: [ZoneData.ZoneInfo]) {
        var builder = Builder(nodes: nodes, rrsets: rrsets, weighted: weighted, zones: zones)
        defer { builder.scratch.deallocate() }
        builder.addPlainNames()
        builder.addWeightedNames()
        builder.addNegatives()
        count = nodes.count
        entries = builder.entries
        pool = builder.pool.base
        plainCount = builder.plains.count
        plains = Self.storage(builder.plains, empty: Plain())
        zoneCount = zones.count
        negatives = Self.storage(builder.negatives, empty: Negative())
        choiceCount = builder.choices.count
        choices = Self.storage(builder.choices, empty: Choice())
        slotList = Self.storage(builder.slots, empty: 0)
    }

    /// `list` in storage of its own (one `empty` element when it has none, so every buffer
    /// can be freed alike), freed by `deinit`.
    private static func storage<Element>(_ list: [Element], empty: Element) -> UnsafeMutablePointer<Element> {
        let buffer = UnsafeMutablePointer<Element>.allocate(capacity: max(1, list.count))
        if list.isEmpty { buffer.initialize(to: empty) } else { _ = UnsafeMutableBufferPointer(start: buffer, count: list.count).initialize(from: list) }
        return buffer
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

    /// Writes zone `zone`'s SOA record for a negative answer to the question `qname`
    /// (lowercased wire form) inside that zone (so ending with its origin), with `writer`;
    /// false, writing nothing, when the general path must write it.
    @inline(__always)
    func writeNegative(_ zone: Int32, qname: UnsafeRawBufferPointer, into writer: inout WireWriter) throws(WireError) -> Bool {
        // Read field by field in place: a copy of the whole entry cost a load and a store per
        // field on every negative answer.
        let negative = negatives + Int(zone)
        let record = negative.pointee.record, originLength = Int(negative.pointee.originLength)
        // The general path points into the question only at its first 64 labels
        // (`WireWriter.maxCompressionTargets`); a name of up to 129 octets has no more.
        guard record.length > 0, qname.count >= originLength, qname.count <= 2 * WireWriter.maxCompressionTargets + 1 else {
            return false
        }
        let originAt = qname.count - originLength
        for index in 0..<negative.pointee.guardCount where endsWith(qname, at: originAt, negative.pointee.guards[index]) {
            return false
        }
        let origin = Header.size + originAt
        let start = writer.count
        try writer.bytes(bytes(record))
        for index in 0..<negative.pointee.patchCount {
            let patch = negative.pointee.patches[index]
            writer.patch16(DomainName.pointerFlags | UInt16(origin + Int(patch.into)), at: start + Int(patch.at))
        }
        return true
    }

    /// True when `name`'s bytes before `end` end with the label `label` (length octet first).
    @inline(__always)
    private func endsWith(_ name: UnsafeRawBufferPointer, at end: Int, _ label: Section) -> Bool {
        let count = Int(label.length)
        guard end >= count, let name = name.baseAddress else { return false }
        let mine = name + (end - count), theirs = pool + Int(label.offset)
        // The length octet first: most questions part here.
        guard mine.load(as: UInt8.self) == theirs.load(as: UInt8.self) else { return false }
        for index in 1..<count where mine.load(fromByteOffset: index, as: UInt8.self) != theirs.load(fromByteOffset: index, as: UInt8.self) {
            return false
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
