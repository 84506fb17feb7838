import DNSWire

extension DirectAnswers {
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

    /// Builds the answers `DirectAnswers` holds, one pass per kind, run in this order by
    /// `DirectAnswers.init`: `addPlainNames` (A and AAAA sections, CNAME records and MX, SRV
    /// or NS answers of names that are neither weighted nor at or below a cut),
    /// `addWeightedNames` (each endpoint of a weighted name) and `addNegatives` (each zone's
    /// SOA for negative answers). Build time only.
    struct Builder {
        let nodes: [Node]
        let rrsets: [RRSetData]
        let weighted: [WeightedSet]
        let zones: [ZoneData.ZoneInfo]
        /// One per node; handed to the `DirectAnswers`, which frees it.
        let entries: UnsafeMutablePointer<Entry>
        /// Every section and record; its base is handed to the `DirectAnswers`.
        var pool: Pool
        var plains: [Plain] = []
        var choices: [Choice] = []
        /// Parallel to `choices`: each endpoint's slot.
        var slots: [Int] = []
        var negatives: [Negative]
        /// One scratch message for the records written after a question, reused for every
        /// name: a message array per CNAME or MX name cost a few allocations each. Room for a
        /// CNAME record after the longest question; MX, SRV and NS answers stop at 512. Freed
        /// by `DirectAnswers.init`.
        let scratch: UnsafeMutableRawBufferPointer
        var writer: WireWriter

        init(nodes: [Node], rrsets: [RRSetData], weighted: [WeightedSet], zones: [ZoneData.ZoneInfo]) {
            self.nodes = nodes
            self.rrsets = rrsets
            self.weighted = weighted
            self.zones = zones
            entries = .allocate(capacity: max(1, nodes.count))
            entries.initialize(repeating: Entry(), count: max(1, nodes.count))
            pool = Pool(capacity: Self.poolCapacity(nodes: nodes, rrsets: rrsets, weighted: weighted, zones: zones))
            negatives = [Negative](repeating: Negative(), count: zones.count)
            scratch = .allocate(byteCount: 2 * DirectAnswers.classicSize, alignment: 8)
            writer = WireWriter(scratch)
        }

        /// Room for every section and record at once, written in place: the pool is the final
        /// storage (no copy of it), and room never written is never faulted in, so an MX,
        /// SRV or NS answer gets the most it can take. (A growing array reserved for the
        /// addresses and CNAMEs alone outgrew its room on a large zone's MX names, and was
        /// copied, then copied again into the pool.)
        static func poolCapacity(nodes: [Node], rrsets: [RRSetData], weighted: [WeightedSet], zones: [ZoneData.ZoneInfo]) -> Int {
            func room(_ set: borrowing RRSetData) -> Int {
                if !set.wire.isEmpty { return set.wire.count + set.count * DirectAnswers.questionPointer.count }
                if set.type == .mx || set.type == .srv || set.type == .ns { return DirectAnswers.classicSize }
                guard set.type == .cname, case .cname(let target) = set.records[0] else { return 0 }
                return DirectAnswers.questionPointer.count + 10 + target.wire.count
            }
            // A negative's record (two names), and its guard labels.
            var capacity = zones.count * (3 * DomainName.maxWireLength + 32)
            for index in nodes.indices where nodes[index].cut < 0 {
                for set in nodes[index].rrsetIndices { capacity += room(rrsets[set]) }
            }
            for set in weighted {
                for endpoint in set.endpoints {
                    for rrset in [endpoint.a, endpoint.aaaa, endpoint.cname] { capacity += rrset.map { room($0) } ?? 0 }
                }
            }
            return capacity
        }

        /// The A or AAAA records of `set`, each owned by the question, appended to the pool.
        /// Borrowed, and its records copied from their buffer: copying the RRset and slicing
        /// its array cost five reference-count round trips per name of a large zone.
        mutating func section(_ set: borrowing RRSetData) -> Section {
            guard !set.wire.isEmpty else { return Section() }
            let size = RRSetData.wireSize(set.type)
            let count = set.count
            let length = count * (2 + size)
            guard length <= Int(UInt16.max), pool.count + length <= Int(UInt32.max) else { return Section() }
            let start = UInt32(pool.count)
            for record in 0..<count { pool.appendRecord(UnsafeRawBufferPointer(rebasing: set.wire[(record * size)..<((record + 1) * size)])) }
            return Section(offset: start, length: UInt16(length))
        }

        /// `bytes` appended to the pool as a plain name's records; nil when the pool's
        /// offsets cannot reach them.
        mutating func plainSection(_ bytes: UnsafeRawBufferPointer) -> Section? {
            guard pool.count + bytes.count <= Int(UInt32.max) else { return nil }
            let section = Section(offset: UInt32(pool.count), length: UInt16(bytes.count))
            pool.append(bytes)
            return section
        }

        /// Pass 1: the names that are neither weighted nor at or below a cut: their A and AAAA
        /// sections, and their only CNAME record, else their MX, SRV or NS answer.
        mutating func addPlainNames() {
            // Fields read in place: a copy of each node retained and released its name.
            for index in nodes.indices where nodes[index].cut < 0 && nodes[index].weighted < 0 {
                if let a = nodes[index].rrset(.a, in: rrsets) { entries[index].a = section(rrsets[a]) }
                if let aaaa = nodes[index].rrset(.aaaa, in: rrsets) { entries[index].aaaa = section(rrsets[aaaa]) }
                let only = Int(nodes[index].firstRRSet)
                if nodes[index].rrsetCount == 1, rrsets[only].type == .cname {
                    if let record = DirectAnswers.cnameRecord(owner: nodes[index].name, rrsets[only], writer: &writer),
                       let section = plainSection(record) {
                        plains.append(Plain(record: section, answers: 1, target: rrsets[only].targets[0]))
                        entries[index].plain = UInt32(plains.count)
                    }
                } else if let (type, records, answers, additionals) = DirectAnswers.recordsWithAdditional(
                              nodes[index], nodes: nodes, rrsets: rrsets, writer: &writer),
                          let section = plainSection(records) {
                    plains.append(Plain(type: type, record: section, answers: answers, additionals: additionals))
                    entries[index].plain = UInt32(plains.count)
                }
            }
        }

        /// Pass 2: every endpoint of each weighted name (not at or below a cut): its A and
        /// AAAA sections, or its CNAME record and where the CNAME leads, and its slot.
        mutating func addWeightedNames() {
            for index in nodes.indices where nodes[index].cut < 0 && nodes[index].weighted >= 0 {
                let node = nodes[index]
                let set = weighted[Int(node.weighted)]
                // Every endpoint's records must fit a section, or a draw could land on one the
                // general path would have to answer after all (and count twice).
                guard set.endpoints.count <= Int(UInt16.max),
                      set.endpoints.allSatisfy({ [$0.a, $0.aaaa].allSatisfy { $0.map { $0.count * 28 <= Int(UInt16.max) } ?? true } })
                else { continue }
                entries[index].first = UInt32(choices.count)
                entries[index].endpoints = UInt16(set.endpoints.count)
                for endpoint in set.endpoints {
                    var choice = Choice(a: endpoint.a.map { section($0) } ?? Section(), aaaa: endpoint.aaaa.map { section($0) } ?? Section(),
                                        aTTL: endpoint.a?.ttl ?? 0, aaaaTTL: endpoint.aaaa?.ttl ?? 0)
                    if let cname = endpoint.cname, let record = DirectAnswers.cnameRecord(owner: node.name, cname, writer: &writer),
                       let section = plainSection(record) {
                        choice.cname = section
                        choice.cnameTTL = cname.ttl
                        choice.target = cname.targets[0]
                    }
                    choices.append(choice)
                    slots.append(endpoint.slot)
                }
            }
        }

        /// Pass 3: each zone's SOA record for negative answers to questions inside it, when
        /// it is what the general path writes after a question for the origin itself.
        mutating func addNegatives() {
            for (index, zone) in zones.enumerated() {
                guard case .soa(let soa) = zone.soa else { continue }
                var negative = DirectAnswers.negativeRecord(origin: zone.origin, soa: soa, ttl: zone.negativeTTL)
                guard DirectAnswers.matchesGeneralPath(negative.value, bytes: negative.bytes, origin: zone.origin, soa: zone.soa,
                                                       ttl: zone.negativeTTL, writer: &writer),
                      pool.count + negative.bytes.count + negative.guards.reduce(0, { $0 + $1.count }) <= Int(UInt32.max)
                else { continue }
                negative.value.record = Section(offset: UInt32(pool.count), length: UInt16(negative.bytes.count))
                pool += negative.bytes
                for label in negative.guards {
                    negative.value.guards[negative.value.guardCount] = Section(offset: UInt32(pool.count), length: UInt16(label.count))
                    negative.value.guardCount += 1
                    pool += label
                }
                negatives[index] = negative.value
            }
        }
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
    static func negativeRecord(origin: DomainName, soa: SOAData, ttl: UInt32) -> (bytes: [UInt8], value: Negative, guards: [[UInt8]]) {
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
        return (record, negative, [soa.mname, soa.rname].compactMap { guardLabel($0, origin: origin) })
    }

    /// The label of `name` just before `origin` (lowercased, with its length octet), when
    /// `name` is below `origin` (see `Negative`).
    static func guardLabel(_ name: DomainName, origin: DomainName) -> [UInt8]? {
        guard name.labelCount > origin.labelCount, name.isSubdomain(of: origin) else { return nil }
        let wire = name.lowercasedWire
        let end = wire.count - origin.wire.count
        var at = 0
        while at + 1 + Int(wire[at]) < end { at += 1 + Int(wire[at]) }
        return Array(wire[at..<end])
    }

    /// True when `bytes`, the record of `negative` with its pointers aimed at an origin that
    /// is the question, are what the general path writes after a question for `origin` (it
    /// may compress the RNAME against the MNAME, which the pointers into the origin do not).
    static func matchesGeneralPath(_ negative: Negative, bytes: [UInt8], origin: DomainName, soa: RData, ttl: UInt32,
                                   writer: inout WireWriter) -> Bool {
        var resolved = bytes
        for index in 0..<negative.patchCount {
            let patch = negative.patches[index]
            let pointer = DomainName.pointerFlags | UInt16(Header.size + Int(patch.into))
            resolved[Int(patch.at)] = UInt8(pointer >> 8)
            resolved[Int(patch.at) + 1] = UInt8(pointer & 0xFF)
        }
        let general = afterQuestion(for: origin, writer: &writer) { (writer: inout WireWriter) throws(WireError) in
            try writer.name(origin)
            try writer.recordAfterOwner(.soa, ttl: ttl, soa)
        }
        return general.map { $0.elementsEqual(resolved) } ?? false
    }
}
