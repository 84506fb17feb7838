import DNSWire

extension ZoneReader {
    /// Largest TTL: RFC 2181 §8 makes the TTL a 31-bit value.
    static let maxTTL: UInt64 = 2_147_483_647

    /// A decimal number without sign or unit, at most `max`.
    func number(_ token: Token, max: UInt64, _ what: String) throws(ParseFailure) -> UInt64 {
        var value: UInt64 = 0
        guard !token.quoted, token.end > token.start else { throw failure(token, "expected \(what), found \(quoted(token))") }
        for i in token.start..<token.end {
            let byte = text[i]
            guard byte.isDigit else { throw failure(token, "expected \(what), found \(quoted(token))") }
            value = value * 10 + UInt64(byte - .zero)
            guard value <= max else { throw failure(token, "expected \(what), found \(quoted(token))") }
        }
        return value
    }

    /// A TTL (or SOA timer): plain seconds, or numbers each followed by a unit `s`, `m`, `h`,
    /// `d` or `w` in either case (`1h30m`, `2W`), as BIND and NSD accept. At most 2^31 - 1.
    func ttl(_ token: Token, _ what: String = "a TTL") throws(ParseFailure) -> UInt32 {
        var invalid: ParseFailure {
            failure(token, "expected \(what) (seconds, or numbers with units s, m, h, d, w as in 1h30m), found \(quoted(token))")
        }
        guard !token.quoted, token.end > token.start else { throw invalid }
        var total: UInt64 = 0
        var i = token.start
        while i < token.end {
            var value: UInt64 = 0
            let digitsStart = i
            while i < token.end, text[i].isDigit {
                value = value * 10 + UInt64(text[i] - .zero)
                if value > Self.maxTTL { value = Self.maxTTL + 1 }
                i += 1
            }
            guard i > digitsStart else { throw invalid }
            let multiplier: UInt64
            if i == token.end {
                // A bare number: only as the whole TTL, not after a unit ("1h30" is ambiguous).
                guard digitsStart == token.start else { throw invalid }
                multiplier = 1
            } else {
                switch asciiLower(text[i]) {
                case UInt8(ascii: "s"): multiplier = 1
                case UInt8(ascii: "m"): multiplier = 60
                case UInt8(ascii: "h"): multiplier = 3600
                case UInt8(ascii: "d"): multiplier = 86400
                case UInt8(ascii: "w"): multiplier = 604_800
                default: throw invalid
                }
                i += 1
            }
            total += value * multiplier
            guard total <= Self.maxTTL else {
                throw failure(token, "expected \(what) of at most \(Self.maxTTL) seconds (RFC 2181 §8), found \(quoted(token))")
            }
        }
        return UInt32(total)
    }

    /// The record types with a presentation-form parser here, plus the others DNSWire names
    /// (accepted in RFC 3597 form only, or rejected as meta types).
    static let typeMnemonics: [([UInt8], RRType)] = [
        ("A", RRType.a), ("NS", .ns), ("CNAME", .cname), ("SOA", .soa), ("PTR", .ptr), ("MX", .mx),
        ("TXT", .txt), ("AAAA", .aaaa), ("SRV", .srv), ("CAA", .caa), ("DS", .ds), ("OPT", .opt),
        ("IXFR", .ixfr), ("AXFR", .axfr), ("ANY", .any),
    ].map { (Array($0.0.utf8), $0.1) }

    /// A type mnemonic (case-insensitive) or `TYPEnnn` (RFC 3597 §5).
    func recordType(_ token: Token) -> RRType? {
        guard !token.quoted else { return nil }
        let length = token.end - token.start
        outer: for (mnemonic, type) in Self.typeMnemonics where mnemonic.count == length {
            for i in 0..<length where asciiUpper(text[token.start + i]) != mnemonic[i] { continue outer }
            return type
        }
        if let value = prefixedNumber(token, "TYPE") { return RRType(rawValue: value) }
        return nil
    }

    /// A class mnemonic (`IN`, `CH`, `HS`, `CS`) or `CLASSnnn` (RFC 3597 §5).
    func recordClass(_ token: Token) -> RRClass? {
        if matches(token, "IN") { return .in }
        if matches(token, "CH") { return .chaos }
        if matches(token, "HS") { return RRClass(rawValue: 4) }
        if matches(token, "CS") { return RRClass(rawValue: 2) }
        if let value = prefixedNumber(token, "CLASS") { return RRClass(rawValue: value) }
        return nil
    }

    /// The number in `PREFIXnnn` (prefix case-insensitive), if it fits 16 bits.
    private func prefixedNumber(_ token: Token, _ prefix: StaticString) -> UInt16? {
        let count = prefix.utf8CodeUnitCount
        guard !token.quoted, token.end - token.start > count, token.end - token.start <= count + 5 else { return nil }
        let p = prefix.utf8Start
        for i in 0..<count where asciiUpper(text[token.start + i]) != p[i] { return nil }
        var value = 0
        for i in (token.start + count)..<token.end {
            guard text[i].isDigit else { return nil }
            value = value * 10 + Int(text[i] - .zero)
        }
        return value <= Int(UInt16.max) ? UInt16(value) : nil
    }
}

@inline(__always)
func asciiUpper(_ byte: UInt8) -> UInt8 {
    byte &- 0x61 < 26 ? byte & ~0x20 : byte
}
