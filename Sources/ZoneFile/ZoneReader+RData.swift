import DNSWire

extension ZoneReader {
    /// Longest character-string (RFC 1035 §3.3): one length octet.
    static let maxCharacterString = 255
    /// Longest RDATA (RFC 1035 §3.2.1, §3.3): RDLENGTH is 16 bits. Only TXT and CAA can be
    /// written longer in presentation form; every other type is bounded by its fields.
    static let maxRDataLength = 65535

    /// The error for RDATA that would not fit RDLENGTH, at the token that made it too long.
    func tooLong(_ type: String, _ token: Token) -> ParseFailure {
        failure(token, "expected \(type) RDATA of at most \(Self.maxRDataLength) octets (RFC 1035 §3.3: RDLENGTH is 16 bits), "
                + "found more by this string; split the data into several records")
    }

    /// Parses the RDATA of `type` starting at token `k`, leaving `k` after it. Any type may be
    /// written in the RFC 3597 §5 generic form (`\# LENGTH HEX`); known types are then decoded
    /// into their typed RDATA.
    func rdata(_ type: RRType, _ typeToken: Token, _ entry: Entry, _ k: inout Int) throws(ParseFailure) -> RData {
        let raw = type.rawValue
        // RFC 6895 §3.1: 0 is reserved, OPT (41) and 128–255 are meta-types and QTYPEs.
        if raw == 0 || raw == RRType.opt.rawValue || (128...255).contains(raw) {
            throw failure(typeToken, "expected a data record type, found \(type), which is a meta or query type")
        }
        if k < entry.tokens.count, !entry.tokens[k].quoted, matches(entry.tokens[k], "\\#") {
            return try genericRData(type, entry, &k)
        }
        let tokens = entry.tokens
        func next(_ what: String) throws(ParseFailure) -> Token {
            let token = try need(entry, k, what)
            k += 1
            return token
        }
        switch type {
        case .a:
            let token = try next("an IPv4 address")
            guard let address = ipv4(token) else { throw failure(token, "expected an IPv4 address, found \(quoted(token))") }
            return .a(address)
        case .aaaa:
            let token = try next("an IPv6 address")
            guard let address = ipv6(token) else {
                throw failure(token, "expected an IPv6 address, found \(quoted(token))")
            }
            return .aaaa(address)
        case .ns:
            return .ns(try name(try next("a name server name")))
        case .cname:
            return .cname(try name(try next("a canonical name")))
        case .ptr:
            return .ptr(try name(try next("a domain name")))
        case .mx:
            let preference = try number(try next("an MX preference"), max: 65535, "an MX preference (0-65535)")
            return .mx(preference: UInt16(preference), exchange: try name(try next("a mail exchange name")))
        case .srv:
            let priority = try number(try next("an SRV priority"), max: 65535, "an SRV priority (0-65535)")
            let weight = try number(try next("an SRV weight"), max: 65535, "an SRV weight (0-65535)")
            let port = try number(try next("an SRV port"), max: 65535, "an SRV port (0-65535)")
            return .srv(priority: UInt16(priority), weight: UInt16(weight), port: UInt16(port),
                        target: try name(try next("an SRV target name")))
        case .soa:
            let mname = try name(try next("the SOA primary server name (MNAME)"))
            let rname = try name(try next("the SOA mailbox name (RNAME)"))
            let serial = try number(try next("an SOA serial"), max: UInt64(UInt32.max), "an SOA serial (0-4294967295)")
            let refresh = try ttl(try next("an SOA refresh"), "an SOA refresh")
            let retry = try ttl(try next("an SOA retry"), "an SOA retry")
            let expire = try ttl(try next("an SOA expire"), "an SOA expire")
            let minimum = try ttl(try next("an SOA minimum"), "an SOA minimum")
            return .soa(SOAData(mname: mname, rname: rname, serial: UInt32(serial), refresh: refresh,
                                retry: retry, expire: expire, minimum: minimum))
        case .txt:
            var strings: [[UInt8]] = []
            _ = try need(entry, k, "a TXT character-string")
            var length = 0
            while k < tokens.count {
                let string = try boundedString(tokens[k])
                length += 1 + string.count
                guard length <= Self.maxRDataLength else { throw tooLong("TXT", tokens[k]) }
                strings.append(string)
                k += 1
            }
            return .txt(strings)
        case .caa:
            let flags = try number(try next("CAA flags"), max: 255, "CAA flags (0-255)")
            let tagToken = try next("a CAA tag")
            let tag = try characterString(tagToken)
            guard !tagToken.quoted, !tag.isEmpty, tag.count <= Self.maxCharacterString,
                  tag.allSatisfy({ $0.isDigit || (asciiLower($0) &- UInt8(ascii: "a")) < 26 }) else {
                throw failure(tagToken, "expected a CAA tag (letters and digits, as in issue), found \(quoted(tagToken))")
            }
            let valueToken = try next("a CAA value")
            let value = try characterString(valueToken)
            // Flags octet, tag length octet, tag, value (RFC 8659 §4.1.1).
            guard 2 + tag.count + value.count <= Self.maxRDataLength else { throw tooLong("CAA", valueToken) }
            return .caa(flags: UInt8(flags), tag: tag, value: value)
        default:
            let token = try need(entry, k, "RFC 3597 generic RDATA (\\# LENGTH HEX) for \(type)")
            throw failure(token, "expected RFC 3597 generic RDATA (\\# LENGTH HEX) for \(type), found \(quoted(token))")
        }
    }

    /// A character-string of at most 255 octets (RFC 1035 §3.3).
    func boundedString(_ token: Token) throws(ParseFailure) -> [UInt8] {
        let bytes = try characterString(token)
        guard bytes.count <= Self.maxCharacterString else {
            throw failure(token, "expected a character-string of at most \(Self.maxCharacterString) octets, found \(bytes.count) octets")
        }
        return bytes
    }

    /// Dotted-quad IPv4 with the same rules as `IPv4Address.init(_:)` (four decimal octets of
    /// one to three digits, 0–255, no leading zeros), read from bytes without building a
    /// String. `AddressParsingTests` holds the two parsers to the same answers.
    func ipv4(_ token: Token) -> IPv4Address? {
        guard !token.quoted, let value = ipv4(token.start, token.end) else { return nil }
        return IPv4Address(value: value)
    }

    /// Parses a dotted quad in `text[start..<end]` into a big-endian integer.
    private func ipv4(_ start: Int, _ end: Int) -> UInt32? {
        var address: UInt32 = 0
        var count = 0
        var value = 0
        var digits = 0
        for i in start..<end {
            let byte = text[i]
            if byte.isDigit {
                // No leading zeros (`01`), as inet_pton and `IPv4Address` refuse them.
                guard digits == 0 || value != 0 else { return nil }
                value = value * 10 + Int(byte - .zero)
                digits += 1
                guard digits <= 3, value <= 255 else { return nil }
            } else if byte == .dot, digits > 0, count < 3 {
                address = address << 8 | UInt32(value)
                count += 1
                value = 0
                digits = 0
            } else {
                return nil
            }
        }
        guard digits > 0, count == 3 else { return nil }
        return address << 8 | UInt32(value)
    }

    /// IPv6 text with the same rules as `IPv6Address.init(_:)` (RFC 4291 §2.2: groups of one
    /// to four hex digits, `::` at most once, a dotted quad as the last 32 bits), read from
    /// bytes without building a String.
    func ipv6(_ token: Token) -> IPv6Address? {
        guard !token.quoted, token.end > token.start else { return nil }
        let end = token.end
        // The 16 octets, built on the stack: no array per address.
        var out = InlineArray<16, UInt8>(repeating: 0)
        var count = 0
        var gap = -1
        var i = token.start
        if text[i] == .colon {
            guard i + 1 < end, text[i + 1] == .colon else { return nil }
            gap = 0
            i += 2
        }
        while i < end {
            let groupStart = i
            var value = 0
            while i < end, let nibble = hexValue(text[i]) {
                value = value << 4 | Int(nibble)
                i += 1
                if i - groupStart > 4 { break }
            }
            if i < end, text[i] == .dot {
                guard count + 4 <= 16, let v4 = ipv4(groupStart, end) else { return nil }
                for k in 0..<4 { out[count + k] = UInt8(truncatingIfNeeded: v4 >> (24 - 8 * UInt32(k))) }
                count += 4
                break
            }
            guard i > groupStart, i - groupStart <= 4, count + 2 <= 16 else { return nil }
            out[count] = UInt8(value >> 8)
            out[count + 1] = UInt8(value & 0xFF)
            count += 2
            if i == end { break }
            guard text[i] == .colon, i + 1 < end else { return nil }
            i += 1
            if text[i] == .colon {
                guard gap < 0 else { return nil }
                gap = count
                i += 1
            }
        }
        if gap >= 0 {
            guard count <= 14 else { return nil }
            let tail = count - gap
            for k in 0..<tail { out[15 - k] = out[count - 1 - k] }
            for k in gap..<(16 - tail) { out[k] = 0 }
        } else {
            guard count == 16 else { return nil }
        }
        var high: UInt64 = 0, low: UInt64 = 0
        for k in 0..<8 {
            high = high << 8 | UInt64(out[k])
            low = low << 8 | UInt64(out[8 + k])
        }
        return IPv6Address(high: high, low: low)
    }

    /// `\# LENGTH HEX…` (RFC 3597 §5): the hex may be split into several words; it is read
    /// until LENGTH octets are complete, so endpoint tags may follow.
    private func genericRData(_ type: RRType, _ entry: Entry, _ k: inout Int) throws(ParseFailure) -> RData {
        k += 1
        let lengthToken = try need(entry, k, "the RDATA length after \\#")
        let length = Int(try number(lengthToken, max: 65535, "the RDATA length after \\# (0-65535)"))
        k += 1
        var data: [UInt8] = []
        data.reserveCapacity(length)
        var half: UInt8?
        while data.count < length {
            let token = try need(entry, k, "\(length - data.count) more octets of hex RDATA")
            guard !token.quoted else { throw failure(token, "expected hex RDATA, found \(quoted(token))") }
            for i in token.start..<token.end {
                guard let nibble = hexValue(text[i]) else { throw failure(token, "expected hex RDATA, found \(quoted(token))") }
                if let high = half {
                    data.append(high << 4 | nibble)
                    half = nil
                } else {
                    half = nibble
                }
            }
            k += 1
            if data.count > length || (data.count == length && half != nil) {
                throw failure(token, "expected \(length) octets of hex RDATA as \\# says, found more")
            }
        }
        do throws(WireError) {
            return try WireReader.with(data) { (reader: inout WireReader) throws(WireError) -> RData in
                try RData.decode(type: type, from: &reader)
            }
        } catch {
            throw failure(lengthToken, "expected \(length) octets of valid \(type) RDATA after \\#, found invalid data (\(error))")
        }
    }

    func hexValue(_ byte: UInt8) -> UInt8? {
        if byte.isDigit { return byte - .zero }
        let lower = asciiLower(byte)
        if lower >= UInt8(ascii: "a"), lower <= UInt8(ascii: "f") { return lower - UInt8(ascii: "a") + 10 }
        return nil
    }

    /// An owner and type whose records can be long: the key of `longRRsets`.
    struct LongRRset: Hashable {
        let name: DomainName
        let type: RRType
    }

    /// The RDATA length of a record whose RDATA can be long (TXT, CAA, RFC 3597 types); nil
    /// for the others, bounded by their fields, whose RRsets stay far below 64 KiB.
    static func longRDataLength(_ data: RData) -> Int? {
        switch data {
        case .txt(let strings): strings.reduce(0) { $0 + 1 + $1.count }
        case .caa(_, let tag, let value): 2 + tag.count + value.count
        case .unknown(_, let bytes): bytes.count
        default: nil
        }
    }

    /// Throws unless the records of `owner` and `type` read so far, with this one of `length`
    /// RDATA octets, fit one answer of 65,535 octets, the most TCP carries (RFC 1035 §4.2.2):
    /// one that does not can only be answered truncated and empty, even over TCP.
    func checkAnswerFits(_ owner: DomainName, _ type: RRType, _ length: Int, _ at: Token) throws(ParseFailure) {
        let key = LongRRset(name: owner, type: type)
        // A wildcard answers names up to 255 octets long, which the question repeats.
        let isWildcard = owner.wire.count > 1 && owner.wire[0] == 1 && owner.wire[1] == UInt8(ascii: "*")
        let question = (isWildcard ? DomainName.maxWireLength : owner.wire.count) + 4
        let fixed = Self.headerOctets + question + Self.optOctets
        // Each record: a compressed owner (2), type, class, TTL, RDLENGTH (10), RDATA.
        let total = (longRRsets[key] ?? fixed) + 12 + length
        guard total <= Self.maxMessageOctets else {
            throw failure(at, "expected the \(type) records of \(owner) to fit one answer of \(Self.maxMessageOctets) octets "
                          + "(RFC 1035 §4.2.2, the most TCP carries), found \(total) with this one; split the data among several names")
        }
        longRRsets[key] = total
    }

    /// The DNS header (RFC 1035 §4.1.1).
    static let headerOctets = 12
    /// An OPT record without options (RFC 6891 §6.1.2): root owner, type, class, TTL, RDLENGTH.
    static let optOctets = 11
    /// The largest DNS message: TCP's two-octet length prefix (RFC 1035 §4.2.2).
    static let maxMessageOctets = 65535
}
