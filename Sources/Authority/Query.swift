import DNSWire
import Traffic

/// What the `Responder` keeps about the query it is answering, from its question to its
/// header: where sections stand, what was chosen and for whom, the cookie. One value, set
/// afresh in one place at the start of every query (`QueryState(resolver:)`), so nothing a
/// query leaves behind reaches the next (NSD's `query_reset`). A type of its own, not nested
/// in the generic `Responder`, for the reason `ClientEDNS` gives.
struct QueryState {
    /// Octets of the question name (lowercased, decompressed, in `Responder.qname`).
    var qnameLength = 0
    /// Where the echoed question ends in the response (the header's end without one).
    var afterQuestion = Header.size
    var answerCount: UInt16 = 0
    var authorityCount: UInt16 = 0
    var additionalCount: UInt16 = 0
    /// An RRset whose targets' addresses belong in the additional section.
    /// (Node, index in `ZoneData.rrsets`; node -1: none): indices rather than the RRset, so
    /// that clearing it for every query releases nothing.
    var additionalSource: (node: Int32, set: Int) = (-1, 0)
    /// The slot of the first weighted endpoint chosen for this query, or -1.
    var chosenSlot: Int32 = -1
    /// Where the RDATA of the last record written with `writeRecord(_:_:ttl:_:)` starts: a
    /// CNAME's target, which the records of the next link of the chain point to as owner.
    var lastRData = 0
    /// Who this query's client is for `select=client` names: its ECS prefix, else (made
    /// when first needed) the resolver's (`CohortKey`).
    var clientKey = CohortKey.none
    /// The address of the resolver that sent the query.
    var resolver = ClientAddress.none
    /// Set when a `select=client` name chose by `clientKey`, for the caller to count.
    var usedKey = CohortKey.none
    /// ECS SCOPE PREFIX-LENGTH of the answer: the client bits it depends on (RFC 7871 §7.2.2).
    var scope: UInt8 = 0
    /// The server cookie for this query's response, when it sent a client cookie.
    var serverCookie: (high: UInt64, low: UInt64) = (0, 0)
    var cookie = CookieCheck.none
    /// What the answer is about, for rate limiting: the node, NXDOMAIN zone or cut; -1 for
    /// none.
    var subject: Int32 = -1
    /// DO=1 (RFC 3225) and the snapshot has signed zones: answers from signed zones carry
    /// RRSIGs and NSEC proofs (Responder+DNSSEC.swift).
    var dnssec = false
    /// How many of `Responder.proofs` this query keeps (NSEC records for the authority
    /// section, written last by `writeProofs`); the list itself is not reset per query.
    var proofCount = 0

    init() {}

    /// The state at the start of a query from `resolver`.
    @inline(__always)
    init(resolver: ClientAddress) {
        self.resolver = resolver
    }
}

/// How a record's owner is written: a pointer to the question, or a name from the zone.
/// Not nested in the generic `Responder` (`Responder.Owner` names it there), for the reason
/// `ClientEDNS` gives: nested, its copies and its initialiser were calls into generic code.
enum RecordOwner {
    case question
    case name(DomainName)
    /// A name already in the message at this offset (a CNAME's target).
    case pointer(UInt16)
}

/// How an answer came out: its RCODE and whether it is authoritative (AA). Not nested in
/// the generic `Responder` (`Responder.Outcome` there), as `RecordOwner`.
struct AnswerOutcome {
    var rcode: RCode
    var authoritative: Bool
}

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

/// What a query gets before anything but its header is read (NSD's early returns in
/// query processing): nothing, an error, or an answer.
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
