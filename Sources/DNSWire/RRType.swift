/// A resource record TYPE (RFC 1035 §3.2.2, RFC 3597 for unknown types).
public struct RRType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = RRType(rawValue: 1)
    public static let ns = RRType(rawValue: 2)
    public static let cname = RRType(rawValue: 5)
    public static let soa = RRType(rawValue: 6)
    public static let ptr = RRType(rawValue: 12)
    public static let mx = RRType(rawValue: 15)
    public static let txt = RRType(rawValue: 16)
    public static let aaaa = RRType(rawValue: 28)
    public static let srv = RRType(rawValue: 33)
    /// EDNS pseudo-record (RFC 6891 §6.1.1).
    public static let opt = RRType(rawValue: 41)
    public static let ds = RRType(rawValue: 43)
    public static let ixfr = RRType(rawValue: 251)
    public static let axfr = RRType(rawValue: 252)
    /// QTYPE `*`, answered minimally (RFC 8482).
    public static let any = RRType(rawValue: 255)
    public static let caa = RRType(rawValue: 257)

    static let mnemonics: [(String, RRType)] = [
        ("A", .a), ("NS", .ns), ("CNAME", .cname), ("SOA", .soa), ("PTR", .ptr), ("MX", .mx),
        ("TXT", .txt), ("AAAA", .aaaa), ("SRV", .srv), ("OPT", .opt), ("DS", .ds),
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
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let `in` = RRClass(rawValue: 1)
    public static let chaos = RRClass(rawValue: 3)
    public static let none = RRClass(rawValue: 254)
    public static let any = RRClass(rawValue: 255)

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
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let noError = RCode(rawValue: 0)
    public static let formErr = RCode(rawValue: 1)
    public static let servFail = RCode(rawValue: 2)
    public static let nxDomain = RCode(rawValue: 3)
    public static let notImp = RCode(rawValue: 4)
    public static let refused = RCode(rawValue: 5)
    /// Extended RCODE 16: the upper 8 bits live in the OPT TTL (RFC 6891 §6.1.3).
    public static let badVers = RCode(rawValue: 16)

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
