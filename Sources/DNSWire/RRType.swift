/// A resource record TYPE (RFC 1035 §3.2.2, RFC 3597 for unknown types).
public struct RRType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    @inlinable public static var a: RRType { RRType(rawValue: 1) }
    @inlinable public static var ns: RRType { RRType(rawValue: 2) }
    @inlinable public static var cname: RRType { RRType(rawValue: 5) }
    @inlinable public static var soa: RRType { RRType(rawValue: 6) }
    @inlinable public static var ptr: RRType { RRType(rawValue: 12) }
    @inlinable public static var mx: RRType { RRType(rawValue: 15) }
    @inlinable public static var txt: RRType { RRType(rawValue: 16) }
    @inlinable public static var aaaa: RRType { RRType(rawValue: 28) }
    @inlinable public static var srv: RRType { RRType(rawValue: 33) }
    /// EDNS pseudo-record (RFC 6891 §6.1.1).
    @inlinable public static var opt: RRType { RRType(rawValue: 41) }
    @inlinable public static var ds: RRType { RRType(rawValue: 43) }
    /// DNSSEC signature, NSEC and key records (RFC 4034 §3, §4, §2).
    @inlinable public static var rrsig: RRType { RRType(rawValue: 46) }
    @inlinable public static var nsec: RRType { RRType(rawValue: 47) }
    @inlinable public static var dnskey: RRType { RRType(rawValue: 48) }
    @inlinable public static var ixfr: RRType { RRType(rawValue: 251) }
    @inlinable public static var axfr: RRType { RRType(rawValue: 252) }
    /// QTYPE `*`, answered minimally (RFC 8482).
    @inlinable public static var any: RRType { RRType(rawValue: 255) }
    @inlinable public static var caa: RRType { RRType(rawValue: 257) }

    static let mnemonics: [(String, RRType)] = [
        ("A", .a), ("NS", .ns), ("CNAME", .cname), ("SOA", .soa), ("PTR", .ptr), ("MX", .mx),
        ("TXT", .txt), ("AAAA", .aaaa), ("SRV", .srv), ("OPT", .opt), ("DS", .ds),
        ("RRSIG", .rrsig), ("NSEC", .nsec), ("DNSKEY", .dnskey),
        ("IXFR", .ixfr), ("AXFR", .axfr), ("ANY", .any), ("CAA", .caa),
    ]

    /// Parses a mnemonic (`"AAAA"`, case-insensitive) or the RFC 3597 form `TYPE65534`.
    public init?(mnemonic: String) {
        let upper = mnemonic.uppercased()
        if let match = Self.mnemonics.first(where: { $0.0 == upper }) {
            self = match.1
        } else if upper.hasPrefix("TYPE"), let value = UInt16(upper.dropFirst(4)), !upper.dropFirst(4).hasPrefix("+") {
            self.init(rawValue: value)
        } else {
            return nil
        }
    }

    /// The mnemonic, or `TYPEnnn` for types without one.
    public var description: String {
        Self.mnemonics.first(where: { $0.1 == self })?.0 ?? "TYPE\(rawValue)"
    }

    /// Types whose RDATA names may be compressed (RFC 3597 §4: only those of RFC 1035).
    public var rdataNamesCompressible: Bool {
        self == .ns || self == .cname || self == .soa || self == .ptr || self == .mx
    }
}

/// A resource record CLASS (RFC 1035 §3.2.4).
public struct RRClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    @inlinable public static var `in`: RRClass { RRClass(rawValue: 1) }
    @inlinable public static var chaos: RRClass { RRClass(rawValue: 3) }
    @inlinable public static var none: RRClass { RRClass(rawValue: 254) }
    @inlinable public static var any: RRClass { RRClass(rawValue: 255) }

    public var description: String {
        switch self {
        case .in: "IN"
        case .chaos: "CH"
        case .any: "ANY"
        default: "CLASS\(rawValue)"
        }
    }
}

/// Response codes (RFC 1035 §4.1.1, RFC 6891 §9 for the extended BADVERS).
public struct RCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    @inlinable public static var noError: RCode { RCode(rawValue: 0) }
    @inlinable public static var formErr: RCode { RCode(rawValue: 1) }
    @inlinable public static var servFail: RCode { RCode(rawValue: 2) }
    @inlinable public static var nxDomain: RCode { RCode(rawValue: 3) }
    @inlinable public static var notImp: RCode { RCode(rawValue: 4) }
    @inlinable public static var refused: RCode { RCode(rawValue: 5) }
    /// Extended RCODE 16: the upper 8 bits live in the OPT TTL (RFC 6891 §6.1.3).
    @inlinable public static var badVers: RCode { RCode(rawValue: 16) }

    public var description: String {
        switch rawValue {
        case 0: "NOERROR"
        case 1: "FORMERR"
        case 2: "SERVFAIL"
        case 3: "NXDOMAIN"
        case 4: "NOTIMP"
        case 5: "REFUSED"
        case 16: "BADVERS"
        default: "RCODE\(rawValue)"
        }
    }
}
