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
    /// True: answers that `DirectAnswers` holds ready are copied from there (the fast path).
    /// False: every answer is written by the general path alone, which the oracle tests and
    /// the fuzz target compare the fast path with, byte for byte.
    public let useDirectAnswers: Bool

    var writer: WireWriter
    /// The question name, lowercased, decompressed.
    let qname: UnsafeMutableRawBufferPointer
    /// For names skipped while parsing and for building wildcard names; twice a name's
    /// room, for an NSEC proof's lowercased name and the wildcard built from it.
    let scratch: UnsafeMutableRawBufferPointer
    /// Everything one query leaves behind while it is answered (counts, the chosen endpoint,
    /// the client's key, the cookie): set afresh in one place, at the start of `respond`.
    var state = QueryState()
    /// NSEC records (by node) for a signed answer's authority section; the first
    /// `state.proofCount` count. Kept out of `QueryState`, so unsigned queries do not reset it.
    var proofs = InlineArray<4, Int32>(repeating: -1)
    /// Makes and checks server cookies (RFC 7873, 9018); nil answers no cookie.
    public let cookieSecret: CookieSecret?
    /// Seconds since 1970 (mod 2^32), read only for a query with a cookie.
    private let clock: () -> UInt32

    /// `cookieSecret` nil turns DNS cookies off; `clock` gives the time their timestamps use;
    /// `useDirectAnswers` false answers through the general path alone (for comparing).
    public init(snapshot: Snapshot, random: Random, maxUDPPayload: UInt16 = EDNS.defaultPayload,
                cookieSecret: CookieSecret? = nil, clock: @escaping () -> UInt32 = { 0 },
                useDirectAnswers: Bool = true) {
        self.snapshot = snapshot
        self.useDirectAnswers = useDirectAnswers
        randomStorage = .allocate(capacity: 1)
        randomStorage.initialize(to: random)
        self.cookieSecret = cookieSecret
        self.clock = clock
        self.maxUDPPayload = max(maxUDPPayload, EDNS.minimumPayload)
        writer = WireWriter(UnsafeMutableRawBufferPointer(start: nil, count: 0))
        qname = .allocate(byteCount: DomainName.maxWireLength + 1, alignment: 8)
        scratch = .allocate(byteCount: 2 * (DomainName.maxWireLength + 2), alignment: 8)
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
        state = QueryState(resolver: resolver)
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
                    state.qnameLength = plain
                } else {
                    state.qnameLength = try reader.name(into: qname, lowercase: true, "question name")
                }
                // A pointer in the question can only reach the header, which the response
                // rewrites: echoing it would send a different or undecodable name. FORMERR
                // without the question, as for any question Veer cannot echo.
                guard reader.offset - Header.size == state.qnameLength else {
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
        state.afterQuestion = writer.count

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
        if let client = edns?.cookie, let cookieSecret {
            // RFC 7873 §5.2.3–5.2.4: a fresh server cookie in every answer to a cookie; a
            // query whose server cookie we made is from a client that really is at its
            // address (it saw our earlier answer), which rate limiting trusts.
            let address = ClientIP(ipv6: resolver.ipv6, high: resolver.high, low: resolver.low)
            let now = clock()
            state.cookie = cookieSecret.validates(client, address: address, now: now) ? .valid : .fresh
            state.serverCookie = cookieSecret.serverCookie(client: client.client, timestamp: now, address: address)
        }
        writer.setLimit(limit - (edns == nil ? 0 : Self.optSize + (edns?.subnet?.optionSize ?? 0)
            + (state.cookie == .none ? 0 : DNSCookie.responseOptionSize)))
        if let subnet = edns?.subnet, subnet.sourceLength > 0 {
            // A source prefix of 0 means "no client information" (RFC 7871 §7.1.2): the
            // resolver's own address keys the answer then, which the resolver may cache for
            // all its clients (scope 0).
            let length = Int(subnet.sourceLength)
            state.clientKey = subnet.isIPv6 ? CohortKey(ipv6High: subnet.high, length: length, fromECS: true)
                                      : CohortKey(ipv4: UInt32(truncatingIfNeeded: subnet.high >> 32), length: length, fromECS: true)
        }

        if let edns, edns.version > 0 {
            return finish(&response, rcode: .badVers, question: true, edns: edns)
        }
        // One bit test for unsigned data: `signatures` is nil unless some zone is signed.
        state.dnssec = edns?.dnssecOK == true && snapshot.signatures != nil
        let qtype = RRType(rawValue: read16(query, questionEnd - 4))
        let qclass = RRClass(rawValue: read16(query, questionEnd - 2))
        guard qclass == .in || qclass == .any else {
            // CH is answered for status names only: `dig CH TXT _veer.NAME` (README "DNSSEC").
            guard qclass == .chaos, isStatusQuery else { return finish(&response, rcode: .refused, question: true, edns: edns) }
            return answerStatusInChaos(&response, qtype: qtype, allowed: statusAllowed(), edns: edns)
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

        if isStatusQuery && !statusHiddenByDNSSEC {
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
            if state.proofCount > 0 { try writeProofs() }
            writeAdditional()
        } catch {
            truncate(&response)
        }
        return finish(&response, rcode: rcode, question: true, edns: edns)
    }

    // MARK: - Sections

    struct ResponseHeader {
        let id: UInt16
        let opcode: UInt16
        let rd: Bool
        var aa = false
        var tc = false
    }

    /// Drops every record written after the question (or the header).
    private func discardRecords(keepingQuestion: Bool) {
        writer.rewind(to: keepingQuestion ? state.afterQuestion : Header.size)
        state.answerCount = 0
        state.authorityCount = 0
        state.additionalCount = 0
    }

    /// The answer did not fit: send the header and question with TC, and the client retries
    /// over TCP (RFC 2181 §9).
    func truncate(_ header: inout ResponseHeader) {
        discardRecords(keepingQuestion: true)
        header.tc = true
    }

    /// Appends the OPT record and fills in the header.
    func finish(_ header: inout ResponseHeader, rcode: RCode, question: Bool, edns: ClientEDNS?) -> Answered {
        if rcode != .noError && rcode != .nxDomain {
            // An error carries no records, even if some were written before it was known
            // (a CNAME to a name that then answers SERVFAIL).
            discardRecords(keepingQuestion: question)
            state.scope = 0
        }
        writer.setLimit(writer.buffer.count)
        var additional = state.additionalCount
        if let edns {
            do throws(WireError) {
                try writer.u8(0)
                try writer.u16(RRType.opt.rawValue)
                try writer.u16(maxUDPPayload)
                // Extended RCODE upper bits, version 0, and the query's DO bit copied (RFC 3225 §3).
                try writer.u32(UInt32(rcode.rawValue >> Header.rcodeBits) << 24 | (edns.dnssecOK ? EDNS.dnssecOKBit : 0))
                // ECS only in answer to ECS (RFC 7871 §7.2.2), scope 0 unless a client's
                // cohort chose the answer.
                let cookieSize = state.cookie == .none ? 0 : DNSCookie.responseOptionSize
                try writer.u16(UInt16((edns.subnet?.optionSize ?? 0) + cookieSize))
                try edns.subnet?.write(into: &writer, scope: state.scope)
                if cookieSize > 0, let client = edns.cookie {
                    try writer.u16(DNSCookie.code)
                    try writer.u16(UInt16(cookieSize - 4))
                    try writer.u32(UInt32(truncatingIfNeeded: client.client >> 32))
                    try writer.u32(UInt32(truncatingIfNeeded: client.client))
                    try writer.u32(UInt32(truncatingIfNeeded: state.serverCookie.high >> 32))
                    try writer.u32(UInt32(truncatingIfNeeded: state.serverCookie.high))
                    try writer.u32(UInt32(truncatingIfNeeded: state.serverCookie.low >> 32))
                    try writer.u32(UInt32(truncatingIfNeeded: state.serverCookie.low))
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
        writer.patchHeader(id: header.id, flags: flags, counts: (question ? 1 : 0, state.answerCount, state.authorityCount, additional))
        return Answered(length: writer.count, rcode: rcode, chosenSlot: state.chosenSlot, cohortKey: state.usedKey, cookie: state.cookie, subject: state.subject)
    }

    typealias Owner = RecordOwner

    func writeOwner(_ owner: Owner) throws(WireError) {
        switch owner {
        case .question: try writer.u16(DomainName.pointerFlags | UInt16(Header.size))
        case .name(let name): try writer.name(name)
        case .pointer(let offset): try writer.u16(DomainName.pointerFlags | offset)
        }
    }

    func writeRecord(_ owner: Owner, _ type: RRType, ttl: UInt32, _ data: RData) throws(WireError) {
        try writeOwner(owner)
        state.lastRData = try writer.recordAfterOwner(type, ttl: ttl, data)
    }

    /// Record `index` of `set`: from its wire form when the set has one, else encoded; with
    /// `ttl` instead of the set's when given (a `ttl-shift=` cap).
    func writeRecord(_ owner: Owner, _ set: RRSetData, _ index: Int, ttl: UInt32? = nil) throws(WireError) {
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

    func writeAnswer(_ owner: Owner, _ set: RRSetData, ttl: UInt32? = nil) throws(WireError) {
        for index in 0..<set.count {
            try writeRecord(owner, set, index, ttl: ttl)
            state.answerCount += 1
        }
    }

    /// The zone's SOA in the authority section (RFC 2308 §3), TTL = negative TTL; copied
    /// ready-made when the question is inside the zone (`inQuestion`: its name ends with the
    /// origin the record points into).
    func writeNegative(zone: Int32, inQuestion: Bool = false) throws(WireError) {
        state.authorityCount += 1
        if inQuestion, useDirectAnswers,
           try snapshot.zones.direct.writeNegative(zone, qname: UnsafeRawBufferPointer(start: qname.baseAddress, count: state.qnameLength),
                                                   into: &writer) {
            return
        }
        let info = snapshot.zones.zones[Int(zone)]
        try writeRecord(.name(info.origin), .soa, ttl: info.negativeTTL, info.soa)
    }

    /// NODATA at node `node` of zone `zone`: the SOA, and with DNSSEC its RRSIG and the NSEC
    /// that proves the type absent.
    private func writeNoData(_ node: Int32, zone: Int32, inQuestion: Bool) throws(WireError) {
        try writeNegative(zone: zone, inQuestion: inQuestion)
        if signs(zone) {
            try signNegative(zone: zone)
            proveNoData(node)
        }
    }

    /// A referral: the cut's NS RRset in authority, glue in additional; AA clear.
    private func writeReferral(cut: Int32) throws(WireError) {
        let node = snapshot.zones.nodes[Int(cut)]
        let rrsets = snapshot.zones.rrsets
        guard let index = node.rrset(.ns, in: rrsets) else { return }
        for data in rrsets[index].records {
            try writeRecord(.name(node.name), .ns, ttl: rrsets[index].ttl, data)
            state.authorityCount += 1
        }
        state.additionalSource = (cut, index)
    }

    /// Addresses of NS/MX/SRV targets that Veer has; what does not fit is left out without TC
    /// (RFC 2181 §9).
    private func writeAdditional() {
        guard state.additionalSource.node >= 0 else { return }
        let zones = snapshot.zones
        state.additionalCount += writer.targetAddresses(of: zones.rrsets[state.additionalSource.set], nodes: zones.nodes, rrsets: zones.rrsets).written
    }

    // MARK: - Lookup

    typealias Outcome = AnswerOutcome

    private func answer(qtype: RRType) throws(WireError) -> Outcome {
        // Not retained: `snapshot` holds them, and it is only replaced between queries.
        unowned(unsafe) let zones = snapshot.zones
        unowned(unsafe) let direct = zones.direct
        let name = UnsafeRawBufferPointer(rebasing: qname[0..<state.qnameLength])
        let resolution = zones.resolve(name, scratch: scratch)
        switch resolution {
        case .outside:
            return Outcome(rcode: .refused, authoritative: false)
        case .referral(let cut):
            if qtype == .ds, let signatures = snapshot.signatures, signatures.isSigned(zones.nodes[Int(cut)].zone), isCut(name, cut) {
                return try answerDS(cut: cut)
            }
            state.subject = cut
            try writeReferral(cut: cut)
            if state.dnssec { try signReferral(cut: cut) }
            return Outcome(rcode: .noError, authoritative: false)
        case .nxdomain(let zone):
            state.subject = zone
            try writeNegative(zone: zone, inQuestion: true)
            if state.dnssec && signs(zone) {
                try signNegative(zone: zone)
                proveNameError(name, zone: zone, scratch: scratch)
            }
            return Outcome(rcode: .nxDomain, authoritative: true)
        case .node(let node), .wildcard(let node):
            state.subject = node
            let isWildcard: Bool
            if case .wildcard = resolution { isWildcard = true } else { isWildcard = false }
            // The owner is the question either way, the name asked or the one a wildcard
            // stands for (RFC 4592 §2.1.1).
            if useDirectAnswers && !state.dnssec, let outcome = try answerDirectly(node, qtype: qtype, from: direct, exact: !isWildcard) {
                return outcome
            }
            let outcome = try answer(node: node, owner: .question, qtype: qtype)
            // A wildcard's answer or NODATA: the NSEC covering the name shows no closer match.
            if isWildcard && state.dnssec && signs(zones.nodes[Int(node)].zone) {
                proveNoCloserMatch(name, zone: zones.nodes[Int(node)].zone)
            }
            return outcome
        }
    }

    /// Answers from `start`, following CNAMEs inside Veer's zones; `after` is the name whose
    /// CNAME led to `start` when the chain began elsewhere.
    func answer(node start: Int32, owner start0: Owner, qtype: RRType, after previous: Int32 = -1) throws(WireError) -> Outcome {
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
            if depth > 0 && useDirectAnswers && !state.dnssec && (qtype == .a || qtype == .aaaa),
               try answerChainEndDirectly(current, aaaa: qtype == .aaaa, from: zones.direct) {
                return Outcome(rcode: .noError, authoritative: true)
            }
            let node = zones.nodes[Int(current)]
            let cname: RRSetData
            var cnameTTL: UInt32? = nil
            // Where the CNAME's signatures are: a node's RRset, or a weighted endpoint.
            var cnameSet = -1, cnameEndpoint = -1
            if node.weighted >= 0 {
                let set = zones.weighted[Int(node.weighted)]
                if set.isCNAME {
                    guard let chosen = pick(set, family: .any) else {
                        return Outcome(rcode: .servFail, authoritative: false)
                    }
                    cname = set.endpoints[chosen].cname!
                    cnameTTL = snapshot.weights.ttl(set.endpoints[chosen].slot, cname.ttl)
                    cnameEndpoint = chosen
                } else {
                    let type = qtype == .any ? RRType.a : qtype
                    guard type == .a || type == .aaaa else {
                        try writeNoData(current, zone: node.zone, inQuestion: ownerIsQuestion)
                        return Outcome(rcode: .noError, authoritative: true)
                    }
                    let family: WeightTable.Family = type == .a ? .a : .aaaa
                    guard let chosen = pick(set, family: family) else {
                        if snapshot.weights.refuses(set.slots[0], family) { return Outcome(rcode: .servFail, authoritative: false) }
                        try writeNoData(current, zone: node.zone, inQuestion: ownerIsQuestion)
                        return Outcome(rcode: .noError, authoritative: true)
                    }
                    let endpoint = set.endpoints[chosen]
                    let records = type == .a ? endpoint.a! : endpoint.aaaa!
                    let ttl = snapshot.weights.ttl(endpoint.slot, records.ttl)
                    try writeAnswer(owner, records, ttl: ttl)
                    if state.dnssec {
                        try signAnswer(owner, endpoint: chosen, in: node.weighted, kind: type == .a ? 1 : 2, zone: node.zone, ttl: ttl)
                    }
                    return Outcome(rcode: .noError, authoritative: true)
                }
            } else if qtype == .any, node.rrsetCount > 0 {
                // RFC 8482 §4.2: one RRset is enough.
                try writeAnswer(owner, zones.rrsets[Int(node.firstRRSet)])
                if state.dnssec { try signAnswer(owner, rrset: Int(node.firstRRSet), zone: node.zone) }
                return Outcome(rcode: .noError, authoritative: true)
            } else if let index = node.rrset(qtype, in: zones.rrsets) {
                try writeAnswer(owner, zones.rrsets[index])
                if state.dnssec { try signAnswer(owner, rrset: index, zone: node.zone) }
                if qtype == .ns || qtype == .mx || qtype == .srv { state.additionalSource = (current, index) }
                return Outcome(rcode: .noError, authoritative: true)
            } else if let index = node.rrset(.cname, in: zones.rrsets) {
                cname = zones.rrsets[index]
                cnameSet = index
            } else if let outcome = try answerDNSSECType(current, qtype: qtype, owner: owner) {
                return outcome
            } else {
                try writeNoData(current, zone: node.zone, inQuestion: ownerIsQuestion)
                return Outcome(rcode: .noError, authoritative: true)
            }

            try writeAnswer(owner, cname, ttl: cnameTTL)
            if state.dnssec {
                if cnameSet >= 0 {
                    try signAnswer(owner, rrset: cnameSet, zone: node.zone)
                } else {
                    try signAnswer(owner, endpoint: cnameEndpoint, in: node.weighted, kind: 0, zone: node.zone, ttl: cnameTTL ?? cname.ttl)
                }
            }
            guard qtype != .cname, qtype != .any, case .cname(let target) = cname.records[0] else { break }
            switch cname.targets[0] {
            case .node(let next), .wildcard(let next):
                // A loop ends the chain where it closes (NSD and Knot do the same).
                for k in 0...depth where visited[k] == next {
                    return Outcome(rcode: .noError, authoritative: true)
                }
                if case .wildcard = cname.targets[0], signs(zones.nodes[Int(next)].zone) {
                    target.wire.withUnsafeBytes { proveNoCloserMatch($0, zone: zones.nodes[Int(next)].zone) }
                }
                current = next
                owner = .name(target)
                ownerIsQuestion = false
            case .nxdomain(let zone):
                // RFC 6604 §3: the RCODE describes the last name of the chain.
                try writeNegative(zone: zone)
                if signs(zone) {
                    try signNegative(zone: zone)
                    proveNameError(target, zone: zone, scratch: scratch)
                }
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
    func pick(_ set: WeightedSet, family: WeightTable.Family) -> Int? {
        set.slots.withUnsafeBufferPointer { pick($0, family: family) }
    }

    @inline(__always)
    func pick(_ slots: UnsafeBufferPointer<Int>, family: WeightTable.Family) -> Int? {
        let weights = snapshot.weights
        let byClient = weights.selectsByClient(slots[0])
        if byClient && state.clientKey == .none { state.clientKey = state.resolver.cohortKey }
        let chosen = weights.pick(slots, family: family, client: state.clientKey, random: &randomStorage.pointee)
        if byClient && chosen != nil {
            if state.usedKey == .none { state.usedKey = state.clientKey }
            if state.clientKey.isECS { state.scope = max(state.scope, UInt8(state.clientKey.length)) }
        }
        if let chosen, state.chosenSlot < 0 { state.chosenSlot = Int32(truncatingIfNeeded: slots[chosen]) }
        return chosen
    }
}
