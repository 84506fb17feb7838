import DNSWire
import Traffic

/// Answers queries: a pure function of (query bytes, snapshot, random source). The socket
/// loops only move bytes; one `Responder` per thread, reused for every query, so answering
/// allocates nothing, takes no lock and logs nothing.
///
/// Behaviour (README "How Veer answers"; RFC 1034, 1035, 2181): AA on authoritative data, RD copied, RA clear, the
/// question echoed byte for byte; NXDOMAIN/NODATA with the SOA; REFUSED outside every zone;
/// CNAME chains followed inside Veer's zones; referrals with glue below a cut; EDNS(0) with
/// our payload size, BADVERS for versions above 0; TC when an answer does not fit.
public final class Responder<Random: RandomSource> {
    /// Deepest CNAME chain followed (RFC 1034 §3.6.2 allows chains; this bounds the work).
    public static var maxChain: Int { 8 }
    /// Answers without EDNS fit in 512 octets over UDP (RFC 1035 §4.2.1).
    public static var classicUDPLimit: Int { 512 }
    /// Size of an OPT record with no options: root name, type, class, TTL, RDLENGTH.
    static var optSize: Int { 11 }

    /// The data answers come from; the owner swaps it when the published generation moves.
    public var snapshot: Snapshot
    /// The random source, kept out of line: a stored property of the generic type would
    /// make every field's offset a load from the class metadata, on every access of every
    /// query (the class's layout would depend on `Random`).
    private let randomStorage: UnsafeMutablePointer<Random>
    public var random: Random {
        get { randomStorage.pointee }
        set { randomStorage.pointee = newValue }
    }
    /// Largest UDP payload we send, advertised in our OPT (RFC 6891 §6.2.5).
    public let maxUDPPayload: UInt16

    private var writer: WireWriter
    /// The question name, lowercased, decompressed.
    private let qname: UnsafeMutableRawBufferPointer
    /// For names skipped while parsing and for building wildcard names.
    private let scratch: UnsafeMutableRawBufferPointer
    private var qnameLength = 0
    /// Where the echoed question ends in the response (the header's end without one).
    private var afterQuestion = Header.size
    private var answerCount: UInt16 = 0
    private var authorityCount: UInt16 = 0
    private var additionalCount: UInt16 = 0
    /// An RRset whose targets' addresses belong in the additional section.
    /// (Node, index in `ZoneData.rrsets`; node -1: none): indices rather than the RRset, so
    /// that clearing it for every query releases nothing.
    private var additionalSource: (node: Int32, set: Int) = (-1, 0)
    /// The slot of the first weighted endpoint chosen for this query, or -1.
    private var chosenSlot: Int32 = -1
    /// Where the RDATA of the last record written with `writeRecord(_:_:ttl:_:)` starts: a
    /// CNAME's target, which the records of the next link of the chain point to as owner.
    private var lastRData = 0
    /// Who this query's client is for `select=client` names: its ECS prefix, else (made
    /// when first needed) the resolver's (`CohortKey`).
    private var clientKey = CohortKey.none
    private var resolver = ClientAddress.none
    /// Set when a `select=client` name chose by `clientKey`, for the caller to count.
    private var usedKey = CohortKey.none
    /// ECS SCOPE PREFIX-LENGTH of the answer: the client bits it depends on (RFC 7871 §7.2.2).
    private var scope: UInt8 = 0
    /// Makes and checks server cookies (RFC 7873, 9018); nil answers no cookie.
    public let cookieSecret: CookieSecret?
    /// Seconds since 1970 (mod 2^32), read only for a query with a cookie.
    private let clock: () -> UInt32
    /// The server cookie for this query's response, when it sent a client cookie.
    private var serverCookie: (high: UInt64, low: UInt64) = (0, 0)
    private var cookie = CookieCheck.none
    /// What the answer is about, for rate limiting: the node, NXDOMAIN zone or cut; -1 for
    /// none.
    private var subject: Int32 = -1

    /// `cookieSecret` nil turns DNS cookies off; `clock` gives the time their timestamps use.
    public init(snapshot: Snapshot, random: Random, maxUDPPayload: UInt16 = EDNS.defaultPayload,
                cookieSecret: CookieSecret? = nil, clock: @escaping () -> UInt32 = { 0 }) {
        self.snapshot = snapshot
        randomStorage = .allocate(capacity: 1)
        randomStorage.initialize(to: random)
        self.cookieSecret = cookieSecret
        self.clock = clock
        self.maxUDPPayload = max(maxUDPPayload, EDNS.minimumPayload)
        writer = WireWriter(UnsafeMutableRawBufferPointer(start: nil, count: 0))
        qname = .allocate(byteCount: DomainName.maxWireLength + 1, alignment: 8)
        scratch = .allocate(byteCount: DomainName.maxWireLength + 2, alignment: 8)
    }

    deinit {
        randomStorage.deinitialize(count: 1)
        randomStorage.deallocate()
        qname.deallocate()
        scratch.deallocate()
    }

    /// Writes the response to `query` into `out`. `out` must hold at least 512 bytes; over
    /// TCP give it 65535.
    /// `resolver`'s address keys `select=client` names when the query carries no EDNS
    /// Client Subnet; it becomes a key only if such a name is asked.
    /// `statusAllowed` is asked only for a `_veer.NAME` status query: true when the client
    /// may read the migration state; otherwise such a query is REFUSED.
    public func respond(to query: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer,
                        overTCP: Bool, resolver: ClientAddress = .none,
                        statusAllowed: @autoclosure () -> Bool = false) -> Answered {
        guard out.count >= Self.classicUDPLimit else { return .nothing }
        let admission = Admission.of(header: query)
        guard admission != .drop else { return .nothing }
        let id = read16(query, 0)
        let flags = read16(query, 2)
        let questionCount = read16(query, 4)
        let additionalSectionCount = read16(query, 10)
        let opcode = (flags >> Header.opcodeShift) & Header.opcodeMask

        writer.reset(out)
        answerCount = 0
        authorityCount = 0
        additionalCount = 0
        additionalSource = (-1, 0)
        chosenSlot = -1
        usedKey = .none
        scope = 0
        cookie = .none
        subject = -1
        var response = ResponseHeader(id: id, opcode: opcode, rd: flags & Header.rdBit != 0)

        // The question, if there is exactly one and it parses.
        var reader = WireReader(query, offset: Header.size)
        var questionEnd = -1
        if questionCount == 1 {
            do throws(WireError) {
                // Inlined for the usual uncompressed name; anything else takes the reader's
                // general path, which rejects what is malformed.
                let plain = WireReader.plainName(in: query, at: Header.size, into: qname, lowercase: true)
                if plain > 0 {
                    reader = WireReader(query, offset: Header.size + plain)
                    qnameLength = plain
                } else {
                    qnameLength = try reader.name(into: qname, lowercase: true, "question name")
                }
                // A pointer in the question can only reach the header, which the response
                // rewrites: echoing it would send a different or undecodable name. FORMERR
                // without the question, as for any question Veer cannot echo.
                guard reader.offset - Header.size == qnameLength else {
                    throw WireError(.invalid, field: "question name", offset: Header.size)
                }
                try reader.skip(4, "question type and class")
                questionEnd = reader.offset
            } catch {
                questionEnd = -1
            }
        }
        let hasQuestion = questionEnd > 0
        if hasQuestion {
            writer.setLimit(Self.classicUDPLimit)
            // Header placeholder, then the question exactly as asked (case included).
            try? writer.bytes(UnsafeRawBufferPointer(rebasing: query[0..<questionEnd]))
            // The question name and each of its suffixes (`example.com.` inside
            // `www.example.com.`) become compression targets for the names that follow.
            writer.addCompressionTargets(suffixesOfNameAt: Header.size)
        } else {
            try? writer.bytes(UnsafeRawBufferPointer(rebasing: query[0..<Header.size]))
        }
        afterQuestion = writer.count

        if case .error(let rcode) = admission { return finish(&response, rcode: rcode, question: hasQuestion, edns: nil) }
        guard hasQuestion else { return finish(&response, rcode: .formErr, question: false, edns: nil) }

        let edns: ClientEDNS?
        do throws(WireError) {
            edns = try ClientEDNS.read(&reader, count: additionalSectionCount, scratch: scratch)
        } catch {
            return finish(&response, rcode: .formErr, question: true, edns: nil)
        }

        // Size limit: TCP takes the whole buffer; UDP the client's EDNS size capped by ours.
        var limit = overTCP ? out.count : Self.classicUDPLimit
        if let edns, !overTCP {
            limit = Int(max(EDNS.minimumPayload, min(edns.payload, maxUDPPayload)))
        }
        limit = min(limit, out.count)
        self.resolver = resolver
        if let client = edns?.cookie, let cookieSecret {
            // RFC 7873 §5.2.3–5.2.4: a fresh server cookie in every answer to a cookie; a
            // query whose server cookie we made is from a client that really is at its
            // address (it saw our earlier answer), which rate limiting trusts.
            let address = ClientIP(ipv6: resolver.ipv6, high: resolver.high, low: resolver.low)
            let now = clock()
            cookie = cookieSecret.validates(client, address: address, now: now) ? .valid : .fresh
            serverCookie = cookieSecret.serverCookie(client: client.client, timestamp: now, address: address)
        }
        writer.setLimit(limit - (edns == nil ? 0 : Self.optSize + (edns?.subnet?.optionSize ?? 0)
            + (cookie == .none ? 0 : DNSCookie.responseOptionSize)))
        clientKey = .none
        if let subnet = edns?.subnet, subnet.sourceLength > 0 {
            // A source prefix of 0 means "no client information" (RFC 7871 §7.1.2): the
            // resolver's own address keys the answer then, which the resolver may cache for
            // all its clients (scope 0).
            let length = Int(subnet.sourceLength)
            clientKey = subnet.isIPv6 ? CohortKey(ipv6High: subnet.high, length: length, fromECS: true)
                                      : CohortKey(ipv4: UInt32(truncatingIfNeeded: subnet.high >> 32), length: length, fromECS: true)
        }

        if let edns, edns.version > 0 {
            return finish(&response, rcode: .badVers, question: true, edns: edns)
        }
        let qtype = RRType(rawValue: read16(query, questionEnd - 4))
        let qclass = RRClass(rawValue: read16(query, questionEnd - 2))
        guard qclass == .in || qclass == .any else {
            return finish(&response, rcode: .refused, question: true, edns: edns)
        }
        switch qtype {
        case .opt:
            return finish(&response, rcode: .formErr, question: true, edns: edns)
        case .axfr, .ixfr:
            // Veer offers no zone transfers; NSD and Knot answer REFUSED when not allowed.
            return finish(&response, rcode: .refused, question: true, edns: edns)
        default:
            break
        }

        if isStatusQuery {
            // Answered to allowed clients only; others get REFUSED for every `_veer.` name,
            // so they cannot even learn which names are weighted.
            guard statusAllowed() else { return finish(&response, rcode: .refused, question: true, edns: edns) }
            if let strings = snapshot.status.strings(forWire: statusSubject) {
                do throws(WireError) {
                    try answerStatus(strings, qtype: qtype)
                } catch {
                    truncate(&response)
                }
                response.aa = true
                return finish(&response, rcode: .noError, question: true, edns: edns)
            }
        }

        var rcode = RCode.noError
        do throws(WireError) {
            let outcome = try answer(qtype: qtype)
            rcode = outcome.rcode
            response.aa = outcome.authoritative
            writeAdditional()
        } catch {
            truncate(&response)
        }
        return finish(&response, rcode: rcode, question: true, edns: edns)
    }

    // MARK: - Sections

    private struct ResponseHeader {
        let id: UInt16
        let opcode: UInt16
        let rd: Bool
        var aa = false
        var tc = false
    }

    /// Drops every record written after the question (or the header).
    private func discardRecords(keepingQuestion: Bool) {
        writer.rewind(to: keepingQuestion ? afterQuestion : Header.size)
        answerCount = 0
        authorityCount = 0
        additionalCount = 0
    }

    /// The answer did not fit: send the header and question with TC, and the client retries
    /// over TCP (RFC 2181 §9).
    private func truncate(_ header: inout ResponseHeader) {
        discardRecords(keepingQuestion: true)
        header.tc = true
    }

    /// Appends the OPT record and fills in the header.
    private func finish(_ header: inout ResponseHeader, rcode: RCode, question: Bool, edns: ClientEDNS?) -> Answered {
        if rcode != .noError && rcode != .nxDomain {
            // An error carries no records, even if some were written before it was known
            // (a CNAME to a name that then answers SERVFAIL).
            discardRecords(keepingQuestion: question)
            scope = 0
        }
        writer.setLimit(writer.buffer.count)
        var additional = additionalCount
        if let edns {
            do throws(WireError) {
                try writer.u8(0)
                try writer.u16(RRType.opt.rawValue)
                try writer.u16(maxUDPPayload)
                // Extended RCODE upper bits, version 0, and the query's DO bit copied (RFC 3225 §3).
                try writer.u32(UInt32(rcode.rawValue >> Header.rcodeBits) << 24 | (edns.dnssecOK ? EDNS.dnssecOKBit : 0))
                // ECS only in answer to ECS (RFC 7871 §7.2.2), scope 0 unless a client's
                // cohort chose the answer.
                let cookieSize = cookie == .none ? 0 : DNSCookie.responseOptionSize
                try writer.u16(UInt16((edns.subnet?.optionSize ?? 0) + cookieSize))
                try edns.subnet?.write(into: &writer, scope: scope)
                if cookieSize > 0, let client = edns.cookie {
                    try writer.u16(DNSCookie.code)
                    try writer.u16(UInt16(cookieSize - 4))
                    try writer.u32(UInt32(truncatingIfNeeded: client.client >> 32))
                    try writer.u32(UInt32(truncatingIfNeeded: client.client))
                    try writer.u32(UInt32(truncatingIfNeeded: serverCookie.high >> 32))
                    try writer.u32(UInt32(truncatingIfNeeded: serverCookie.high))
                    try writer.u32(UInt32(truncatingIfNeeded: serverCookie.low >> 32))
                    try writer.u32(UInt32(truncatingIfNeeded: serverCookie.low))
                }
                additional += 1
            } catch {
                // Cannot happen: the limit kept room for it.
            }
        }
        var flags = Header.qrBit | header.opcode << Header.opcodeShift | (rcode.rawValue & Header.rcodeMask)
        if header.aa { flags |= Header.aaBit }
        if header.tc { flags |= Header.tcBit }
        if header.rd { flags |= Header.rdBit }
        writer.patchHeader(id: header.id, flags: flags, counts: (question ? 1 : 0, answerCount, authorityCount, additional))
        return Answered(length: writer.count, rcode: rcode, chosenSlot: chosenSlot, cohortKey: usedKey, cookie: cookie, subject: subject)
    }

    /// How a record's owner is written: a pointer to the question, or a name from the zone.
    private enum Owner {
        case question
        case name(DomainName)
        /// A name already in the message at this offset (a CNAME's target).
        case pointer(UInt16)
    }

    private func writeOwner(_ owner: Owner) throws(WireError) {
        switch owner {
        case .question: try writer.u16(DomainName.pointerFlags | UInt16(Header.size))
        case .name(let name): try writer.name(name)
        case .pointer(let offset): try writer.u16(DomainName.pointerFlags | offset)
        }
    }

    private func writeRecord(_ owner: Owner, _ type: RRType, ttl: UInt32, _ data: RData) throws(WireError) {
        try writeOwner(owner)
        lastRData = try writer.recordAfterOwner(type, ttl: ttl, data)
    }

    /// Record `index` of `set`: from its wire form when the set has one, else encoded; with
    /// `ttl` instead of the set's when given (a `ttl-shift=` cap).
    private func writeRecord(_ owner: Owner, _ set: RRSetData, _ index: Int, ttl: UInt32? = nil) throws(WireError) {
        if set.records.isEmpty {
            try writeOwner(owner)
            let size = RRSetData.wireSize(set.type)
            let start = index * size
            guard writer.count + size <= writer.limit else {
                throw WireError(.noSpace, field: "record", offset: writer.count)
            }
            let at = writer.count
            // Cannot fail: the space was checked above.
            try? writer.bytes(UnsafeRawBufferPointer(rebasing: set.wire[start..<(start + size)]))
            if let ttl, ttl != set.ttl {
                // TYPE, CLASS, then the TTL.
                writer.patch16(UInt16(truncatingIfNeeded: ttl >> 16), at: at + 4)
                writer.patch16(UInt16(truncatingIfNeeded: ttl), at: at + 6)
            }
        } else {
            try writeRecord(owner, set.type, ttl: ttl ?? set.ttl, set.records[index])
        }
    }

    private func writeAnswer(_ owner: Owner, _ set: RRSetData, ttl: UInt32? = nil) throws(WireError) {
        for index in 0..<set.count {
            try writeRecord(owner, set, index, ttl: ttl)
            answerCount += 1
        }
    }

    /// The zone's SOA in the authority section (RFC 2308 §3), TTL = negative TTL; copied
    /// ready-made when the question is inside the zone (`inQuestion`: its name ends with the
    /// origin the record points into).
    private func writeNegative(zone: Int32, inQuestion: Bool = false) throws(WireError) {
        authorityCount += 1
        if inQuestion, try snapshot.zones.direct.writeNegative(zone, qnameLength: qnameLength, into: &writer) { return }
        let info = snapshot.zones.zones[Int(zone)]
        try writeRecord(.name(info.origin), .soa, ttl: info.negativeTTL, info.soa)
    }

    /// A referral: the cut's NS RRset in authority, glue in additional; AA clear.
    private func writeReferral(cut: Int32) throws(WireError) {
        let node = snapshot.zones.nodes[Int(cut)]
        let rrsets = snapshot.zones.rrsets
        guard let index = node.rrset(.ns, in: rrsets) else { return }
        for data in rrsets[index].records {
            try writeRecord(.name(node.name), .ns, ttl: rrsets[index].ttl, data)
            authorityCount += 1
        }
        additionalSource = (cut, index)
    }

    /// Addresses of NS/MX/SRV targets that Veer has; what does not fit is left out without TC
    /// (RFC 2181 §9).
    private func writeAdditional() {
        guard additionalSource.node >= 0 else { return }
        let zones = snapshot.zones
        additionalCount += writer.targetAddresses(of: zones.rrsets[additionalSource.set], nodes: zones.nodes, rrsets: zones.rrsets).written
    }

    // MARK: - Lookup

    /// True when the question's first label is `_veer` (any case) and there are weighted
    /// names: one byte compare for every other query.
    private var isStatusQuery: Bool {
        // One byte first: the label array is only loaded for a first label "_????".
        guard qname[1] == UInt8(ascii: "_") else { return false }
        let label = StatusRecords.label
        guard qnameLength > label.count + 2, qname[0] == UInt8(label.count), !snapshot.status.isEmpty else { return false }
        for i in 0..<label.count where qname[1 + i] != label[i] { return false }
        return true
    }

    /// The name a status query asks about: the question without its `_veer` label.
    private var statusSubject: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: qname[(StatusRecords.label.count + 1)..<qnameLength])
    }

    /// TXT with the status strings (TTL 0: it changes with every weight); other types get
    /// NODATA with the zone's SOA, as for any name that has only TXT.
    private func answerStatus(_ strings: [[UInt8]], qtype: RRType) throws(WireError) {
        if qtype == .txt || qtype == .any {
            try writeRecord(.question, .txt, ttl: 0, .txt(strings))
            answerCount = 1
            return
        }
        let zones = snapshot.zones
        switch zones.resolve(statusSubject, scratch: scratch) {
        case .node(let node), .wildcard(let node):
            try writeNegative(zone: zones.nodes[Int(node)].zone)
        case .nxdomain(let zone):
            try writeNegative(zone: zone)
        case .referral, .outside:
            break
        }
    }

    private struct Outcome {
        var rcode: RCode
        var authoritative: Bool
    }

    private func answer(qtype: RRType) throws(WireError) -> Outcome {
        // Not retained: `snapshot` holds them, and it is only replaced between queries.
        unowned(unsafe) let zones = snapshot.zones
        unowned(unsafe) let direct = zones.direct
        let name = UnsafeRawBufferPointer(rebasing: qname[0..<qnameLength])
        let resolution = zones.resolve(name, scratch: scratch)
        switch resolution {
        case .outside:
            return Outcome(rcode: .refused, authoritative: false)
        case .referral(let cut):
            subject = cut
            try writeReferral(cut: cut)
            return Outcome(rcode: .noError, authoritative: false)
        case .nxdomain(let zone):
            subject = zone
            try writeNegative(zone: zone, inQuestion: true)
            return Outcome(rcode: .nxDomain, authoritative: true)
        case .node(let node), .wildcard(let node):
            subject = node
            let isWildcard: Bool
            if case .wildcard = resolution { isWildcard = true } else { isWildcard = false }
            // The owner is the question either way, the name asked or the one a wildcard
            // stands for (RFC 4592 §2.1.1).
            if let outcome = try answerDirectly(node, qtype: qtype, from: direct, exact: !isWildcard) {
                return outcome
            }
            return try answer(node: node, owner: .question, qtype: qtype)
        }
    }

    /// Answers from the precomputed records (`DirectAnswers`): an A or AAAA question at a
    /// plain name, or at a weighted address name after choosing its endpoint; asked by the
    /// name's own name (`exact`, not through a wildcard, whose compression offsets differ):
    /// any question at a CNAME name, plain or weighted, the chain then followed, and an MX,
    /// SRV or NS question with its additional addresses. Nil when the general path must
    /// answer (another kind of name, nothing to choose, an endpoint without such records).
    @inline(__always)
    private func answerDirectly(_ node: Int32, qtype: RRType, from direct: DirectAnswers, exact: Bool) throws(WireError) -> Outcome? {
        let address = qtype == .a || qtype == .aaaa
        let aaaa = qtype == .aaaa
        let recordSize = aaaa ? 28 : 16
        if address {
            let plain = direct.answer(node, aaaa: aaaa)
            if plain.count > 0 {
                try writer.bytes(plain)
                answerCount = UInt16(plain.count / recordSize)
                return Outcome(rcode: .noError, authoritative: true)
            }
        }
        let slots = direct.slots(node)
        guard slots.count > 0 else {
            if exact {
                let (record, target) = direct.plainCNAME(node)
                if record.count > 0 {
                    let start = writer.count
                    try writer.bytes(record)
                    answerCount = 1
                    return try followDirectCNAME(at: start, to: target, from: node, qtype: qtype)
                }
                // MX, SRV or NS with its additional addresses, when all of it fits;
                // otherwise the general path decides what to leave out.
                let (records, answers, additionals) = direct.records(node, type: qtype)
                if records.count > 0 && writer.count + records.count <= writer.limit {
                    try writer.bytes(records)
                    answerCount = answers
                    additionalCount = additionals
                    return Outcome(rcode: .noError, authoritative: true)
                }
            }
            return nil
        }
        if address && direct.cname(node, endpoint: 0).record.count == 0 {
            guard let chosen = pick(slots, family: aaaa ? .aaaa : .a) else { return nil }
            let (records, ttl) = direct.answer(node, endpoint: chosen, aaaa: aaaa)
            guard records.count > 0 else { return nil }
            let start = writer.count
            try writer.bytes(records)
            answerCount = UInt16(records.count / recordSize)
            patchTTL(at: start + 6, every: recordSize, count: Int(answerCount), ttl: ttl, slot: slots[chosen])
            return Outcome(rcode: .noError, authoritative: true)
        }
        guard exact, direct.cname(node, endpoint: 0).record.count > 0, let chosen = pick(slots, family: .any) else { return nil }
        let (record, ttl, target) = direct.cname(node, endpoint: chosen)
        guard record.count > 0 else { return nil }
        let start = writer.count
        try writer.bytes(record)
        answerCount = 1
        patchTTL(at: start + 6, every: record.count, count: 1, ttl: ttl, slot: slots[chosen])
        return try followDirectCNAME(at: start, to: target, from: node, qtype: qtype)
    }

    /// After a precomputed CNAME record written at `start` for `node`: the rest of the chain,
    /// unless the question asked for the CNAME itself (or ANY: one RRset is enough).
    @inline(__always)
    private func followDirectCNAME(at start: Int, to target: Resolution, from node: Int32, qtype: RRType) throws(WireError) -> Outcome {
        guard qtype != .cname, qtype != .any else { return Outcome(rcode: .noError, authoritative: true) }
        switch target {
        case .node(let next), .wildcard(let next):
            // The target name starts after owner pointer, TYPE, CLASS, TTL and RDLENGTH.
            lastRData = start + 12
            return try answer(node: next, owner: .pointer(UInt16(lastRData)), qtype: qtype, after: node)
        case .nxdomain(let zone):
            try writeNegative(zone: zone)
            return Outcome(rcode: .nxDomain, authoritative: true)
        case .referral, .outside:
            return Outcome(rcode: .noError, authoritative: true)
        }
    }

    /// Sets the TTL of `count` copied records, `every` bytes apart from `at`, to `slot`'s
    /// capped TTL when a `ttl-shift=` caps it below `ttl`.
    @inline(__always)
    private func patchTTL(at: Int, every: Int, count: Int, ttl: UInt32, slot: Int) {
        let capped = snapshot.weights.ttl(slot, ttl)
        guard capped != ttl else { return }
        for record in 0..<count {
            writer.patch16(UInt16(truncatingIfNeeded: capped >> 16), at: at + record * every)
            writer.patch16(UInt16(truncatingIfNeeded: capped), at: at + record * every + 2)
        }
    }

    /// Answers from `start`, following CNAMEs inside Veer's zones; `after` is the name whose
    /// CNAME led to `start` when the chain began elsewhere.
    private func answer(node start: Int32, owner start0: Owner, qtype: RRType, after previous: Int32 = -1) throws(WireError) -> Outcome {
        let zones = snapshot.zones
        var current = start
        var owner = start0
        // While the owner is the question, the question's zone is `current`'s.
        var ownerIsQuestion = false
        if case .question = start0 { ownerIsQuestion = true }
        var visited = InlineArray<8, Int32>(repeating: -1)
        let first = previous >= 0 ? 1 : 0
        visited[0] = previous
        for depth in first..<Self.maxChain {
            visited[depth] = current
            if depth > 0 && (qtype == .a || qtype == .aaaa) && lastRData <= WireWriter.maxPointerOffset {
                // The end of a chain at a plain name: its precomputed records, each owned by
                // the CNAME target just written.
                let aaaa = qtype == .aaaa
                let records = zones.direct.answer(current, aaaa: aaaa)
                if records.count > 0 {
                    let recordSize = aaaa ? 28 : 16
                    let start = writer.count
                    try writer.bytes(records)
                    let pointer = DomainName.pointerFlags | UInt16(lastRData)
                    for record in 0..<(records.count / recordSize) {
                        writer.patch16(pointer, at: start + record * recordSize)
                        answerCount += 1
                    }
                    return Outcome(rcode: .noError, authoritative: true)
                }
            }
            let node = zones.nodes[Int(current)]
            let cname: RRSetData
            var cnameTTL: UInt32? = nil
            if node.weighted >= 0 {
                let set = zones.weighted[Int(node.weighted)]
                if set.isCNAME {
                    guard let chosen = pick(set, family: .any) else {
                        return Outcome(rcode: .servFail, authoritative: false)
                    }
                    cname = set.endpoints[chosen].cname!
                    cnameTTL = snapshot.weights.ttl(set.endpoints[chosen].slot, cname.ttl)
                } else {
                    let type = qtype == .any ? RRType.a : qtype
                    guard type == .a || type == .aaaa else {
                        try writeNegative(zone: node.zone, inQuestion: ownerIsQuestion)
                        return Outcome(rcode: .noError, authoritative: true)
                    }
                    let family: WeightTable.Family = type == .a ? .a : .aaaa
                    guard let chosen = pick(set, family: family) else {
                        if snapshot.weights.refuses(set.slots[0], family) { return Outcome(rcode: .servFail, authoritative: false) }
                        try writeNegative(zone: node.zone, inQuestion: ownerIsQuestion)
                        return Outcome(rcode: .noError, authoritative: true)
                    }
                    let endpoint = set.endpoints[chosen]
                    let records = type == .a ? endpoint.a! : endpoint.aaaa!
                    try writeAnswer(owner, records, ttl: snapshot.weights.ttl(endpoint.slot, records.ttl))
                    return Outcome(rcode: .noError, authoritative: true)
                }
            } else if qtype == .any, node.rrsetCount > 0 {
                // RFC 8482 §4.2: one RRset is enough.
                try writeAnswer(owner, zones.rrsets[Int(node.firstRRSet)])
                return Outcome(rcode: .noError, authoritative: true)
            } else if let index = node.rrset(qtype, in: zones.rrsets) {
                try writeAnswer(owner, zones.rrsets[index])
                if qtype == .ns || qtype == .mx || qtype == .srv { additionalSource = (current, index) }
                return Outcome(rcode: .noError, authoritative: true)
            } else if let index = node.rrset(.cname, in: zones.rrsets) {
                cname = zones.rrsets[index]
            } else {
                try writeNegative(zone: node.zone, inQuestion: ownerIsQuestion)
                return Outcome(rcode: .noError, authoritative: true)
            }

            try writeAnswer(owner, cname, ttl: cnameTTL)
            guard qtype != .cname, qtype != .any, case .cname(let target) = cname.records[0] else { break }
            switch cname.targets[0] {
            case .node(let next), .wildcard(let next):
                // A loop ends the chain where it closes (NSD and Knot do the same).
                for k in 0...depth where visited[k] == next {
                    return Outcome(rcode: .noError, authoritative: true)
                }
                current = next
                owner = .name(target)
                ownerIsQuestion = false
            case .nxdomain(let zone):
                // RFC 6604 §3: the RCODE describes the last name of the chain.
                try writeNegative(zone: zone)
                return Outcome(rcode: .nxDomain, authoritative: true)
            case .referral, .outside:
                return Outcome(rcode: .noError, authoritative: true)
            }
        }
        return Outcome(rcode: .noError, authoritative: true)
    }

    /// Chooses an endpoint of `set` for `family` by the snapshot's draw weights, which
    /// carry health, fail-open and address-type eligibility already (`EffectiveWeights`):
    /// by the client's cohort for a `select=client` name, else at random. Nil when nothing
    /// can be drawn.
    @inline(__always)
    private func pick(_ set: WeightedSet, family: WeightTable.Family) -> Int? {
        set.slots.withUnsafeBufferPointer { pick($0, family: family) }
    }

    @inline(__always)
    private func pick(_ slots: UnsafeBufferPointer<Int>, family: WeightTable.Family) -> Int? {
        let weights = snapshot.weights
        let byClient = weights.selectsByClient(slots[0])
        if byClient && clientKey == .none { clientKey = resolver.cohortKey }
        let chosen = weights.pick(slots, family: family, client: clientKey, random: &randomStorage.pointee)
        if byClient && chosen != nil {
            if usedKey == .none { usedKey = clientKey }
            if clientKey.isECS { scope = max(scope, UInt8(clientKey.length)) }
        }
        if let chosen, chosenSlot < 0 { chosenSlot = Int32(truncatingIfNeeded: slots[chosen]) }
        return chosen
    }
}

/// What a query gets before anything but its header is read (NSD's early returns in
/// query processing): nothing, an error, or an answer.
/// What the query's OPT record said. A type of its own, not nested in the generic
/// `Responder`: a call into the unspecialised generic class costs on every query.
struct ClientEDNS: Equatable {
    var payload: UInt16
    var version: UInt8
    /// DO (RFC 3225): copied into the response's OPT.
    var dnssecOK = false
    /// The query's EDNS Client Subnet option, if it had one.
    var subnet: ClientSubnet?
    /// The query's COOKIE option, if it had one.
    var cookie: DNSCookie?

    /// Reads the additional section: at most one OPT, owned by the root (RFC 6891 §6.1.1),
    /// its ECS option read (RFC 7871), other options skipped; other records are ignored.
    /// Throws on anything malformed, a malformed or second ECS or COOKIE option included, on
    /// a second OPT and on bytes after the last record.
    @inline(__always)
    static func read(_ reader: inout WireReader, count: UInt16,
                     scratch: UnsafeMutableRawBufferPointer) throws(WireError) -> ClientEDNS? {
        var edns: ClientEDNS?
        for _ in 0..<count {
            let ownerLength = try reader.name(into: scratch, "additional name")
            let type = try reader.u16("additional type")
            let rrclass = try reader.u16("additional class")
            let ttl = try reader.u32("additional ttl")
            let length = Int(try reader.u16("additional rdlength"))
            var rdata = try reader.sub(length, "additional rdata")
            guard type == RRType.opt.rawValue else { continue }
            guard edns == nil, ownerLength == 1 else { throw WireError(.invalid, field: "OPT", offset: reader.offset) }
            var subnet: ClientSubnet?
            var cookie: DNSCookie?
            while !rdata.isAtEnd {
                let code = try rdata.u16("EDNS option code")
                var data = try rdata.sub(Int(try rdata.u16("EDNS option length")), "EDNS option data")
                if code == ClientSubnet.code {
                    guard subnet == nil else { throw WireError(.invalid, field: "second ECS option", offset: rdata.offset) }
                    subnet = try ClientSubnet.read(&data)
                } else if code == DNSCookie.code {
                    guard cookie == nil else { throw WireError(.invalid, field: "second COOKIE option", offset: rdata.offset) }
                    cookie = try DNSCookie.read(&data)
                }
            }
            // The TTL field of OPT: extended RCODE (8 bits), VERSION (8 bits), flags.
            edns = ClientEDNS(payload: rrclass, version: UInt8((ttl >> 16) & 0xFF), dnssecOK: ttl & EDNS.dnssecOKBit != 0,
                              subnet: subnet, cookie: cookie)
        }
        guard reader.isAtEnd else { throw WireError(.trailingBytes, field: "message", offset: reader.offset) }
        return edns
    }
}

public enum Admission: Equatable, Sendable {
    /// Too short to be a query, or a response (QR=1): answering one is how two servers
    /// end up in a loop.
    case drop
    /// An error whatever the rest says: NOTIMP for opcodes other than QUERY, FORMERR for
    /// a query that does not carry exactly one question and empty answer and authority
    /// sections (RFC 1035 §4.1.1, RFC 9619).
    case error(RCode)
    case answer

    /// Admission of the query whose first bytes are `header`.
    @inline(__always)
    public static func of(header: UnsafeRawBufferPointer) -> Admission {
        guard header.count >= Header.size else { return .drop }
        let flags = read16(header, 2)
        guard flags & Header.qrBit == 0 else { return .drop }
        guard (flags >> Header.opcodeShift) & Header.opcodeMask == 0 else { return .error(.notImp) }
        guard read16(header, 4) == 1, read16(header, 6) == 0, read16(header, 8) == 0 else { return .error(.formErr) }
        return .answer
    }
}

/// What `respond` produced: the bytes to send (0: send nothing), the response code, and
/// the slot of the weighted endpoint chosen, for the caller to count (-1: none; in a
/// CNAME chain through several weighted names, the first).
public struct Answered: Equatable, Sendable {
    public var length: Int
    public var rcode: RCode
    public var chosenSlot: Int32
    /// The client key a `select=client` name chose by (`CohortKey.none` otherwise).
    public var cohortKey: CohortKey
    /// What the query's DNS cookie showed.
    public var cookie: CookieCheck = .none
    /// What the answer is about, for rate limiting (`RateLimiter`): the name's node, the
    /// NXDOMAIN's zone or the referral's cut; -1 for none.
    public var subject: Int32 = -1

    static var nothing: Answered { Answered(length: 0, rcode: .noError, chosenSlot: -1, cohortKey: .none) }
}

/// A query's DNS cookie as the responder judged it (RFC 7873 §5.2).
public enum CookieCheck: Equatable, Sendable {
    /// No COOKIE option, or cookies are off.
    case none
    /// A client cookie alone, or with a server cookie that is not ours, too old or for
    /// another address: the answer carries a new server cookie.
    case fresh
    /// A server cookie this server (or one sharing its secret) made for this client.
    case valid
}


@inline(__always)
func read16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
    UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
}
