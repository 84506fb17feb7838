// Canonical form of an RRset and the data an RRSIG signs (RFC 4034 §3.1.8.1, §6).
import DNSWire

/// An RRset as it will be served, before signing. RDATA is uncompressed wire form; the
/// signer puts names in canonical (lower) case where RFC 4034 §6.2 says so and sorts RDATA.
public struct RRsetToSign: Hashable, Sendable {
    /// Absolute; may start with the `*` label (wildcard).
    public var owner: DomainName
    /// The type of every record in the set.
    public var type: RRType
    /// The TTL the records are served with at most; it goes into the RRSIG.
    public var originalTTL: UInt32
    /// Uncompressed RDATA of each record, in any order and case.
    public var rdatas: [[UInt8]]

    /// Makes a set from its parts.
    public init(owner: DomainName, type: RRType, originalTTL: UInt32, rdatas: [[UInt8]]) {
        self.owner = owner
        self.type = type
        self.originalTTL = originalTTL
        self.rdatas = rdatas
    }

    /// The RRSIG labels field: owner labels without the root and without a leading `*`
    /// (RFC 4034 §3.1.3).
    public var rrsigLabels: UInt8 {
        let labels = owner.labels
        let wildcard = labels.first == [UInt8(ascii: "*")]
        return UInt8(labels.count - (wildcard ? 1 : 0))
    }

    /// The records in canonical form (RFC 4034 §6.3): RDATA with names lower-cased where
    /// §6.2 says so, sorted as octet strings, duplicates removed.
    public var canonicalRDATAs: [[UInt8]] {
        let lowered = rdatas.map { Canonical.rdata($0, type: type.rawValue) }
        var sorted = lowered.sorted { $0.lexicographicallyPrecedes($1) }
        var index = 1
        while index < sorted.count {
            if sorted[index] == sorted[index - 1] { sorted.remove(at: index) } else { index += 1 }
        }
        return sorted
    }

    /// Every record of the set in canonical wire form, in canonical order, with `owner`
    /// (lower-cased) as owner name and the original TTL: the RR(i) of RFC 4034 §3.1.8.1.
    public func canonicalRecords(owner signedOwner: DomainName? = nil) -> [UInt8] {
        let name = (signedOwner ?? owner).lowercasedWire
        var out: [UInt8] = []
        for rdata in canonicalRDATAs {
            out += name
            Canonical.append16(type.rawValue, to: &out)
            Canonical.append16(Canonical.classIN, to: &out)
            Canonical.append32(originalTTL, to: &out)
            Canonical.append16(UInt16(rdata.count), to: &out)
            out += rdata
        }
        return out
    }
}

/// Canonical RDATA (RFC 4034 §6.2 as amended by RFC 6840 §5.1, which takes NSEC off the list)
/// and big-endian helpers.
public enum Canonical {
    /// Class IN: the only class Veer serves and signs.
    public static let classIN: UInt16 = 1

    /// Where the names are in RDATA of a type in RFC 4034 §6.2: octets before the first name,
    /// names in a row, and for NAPTR three character strings to skip first.
    enum NameLayout {
        case names(skip: Int, count: Int)
        case naptr
    }

    static func layout(_ type: UInt16) -> NameLayout? {
        switch type {
        case 2, 3, 4, 5, 7, 8, 9, 12, 39: .names(skip: 0, count: 1)  // NS MD MF CNAME MB MG MR PTR DNAME
        case 6, 14, 17: .names(skip: 0, count: 2)                    // SOA MINFO RP
        case 15, 18, 21, 36: .names(skip: 2, count: 1)               // MX AFSDB RT KX
        case 26: .names(skip: 2, count: 2)                           // PX
        case 33: .names(skip: 6, count: 1)                           // SRV
        case 24, 46: .names(skip: 18, count: 1)                      // SIG RRSIG signer
        case 30: .names(skip: 0, count: 1)                           // NXT
        case 35: .naptr
        default: nil
        }
    }

    /// `rdata` with the names RFC 4034 §6.2 lists for `type` lower-cased. RDATA that does
    /// not parse as its type is returned unchanged (it is signed as it is served).
    public static func rdata(_ rdata: [UInt8], type: UInt16) -> [UInt8] {
        guard let layout = layout(type) else { return rdata }
        var out = rdata
        var offset: Int
        var count: Int
        switch layout {
        case .names(let skip, let names):
            offset = skip
            count = names
        case .naptr:
            offset = 4
            for _ in 0..<3 {
                guard offset < out.count else { return rdata }
                offset += 1 + Int(out[offset])
            }
            count = 1
        }
        for _ in 0..<count {
            guard let end = lowerName(&out, at: offset) else { return rdata }
            offset = end
        }
        return out
    }

    /// Lower-cases the uncompressed name at `offset` in place; the offset after it, or nil
    /// when no whole name is there.
    static func lowerName(_ bytes: inout [UInt8], at start: Int) -> Int? {
        var offset = start
        while offset < bytes.count {
            let length = Int(bytes[offset])
            if length == 0 { return offset + 1 }
            guard length <= DomainName.maxLabelLength, offset + length < bytes.count else { return nil }
            for index in (offset + 1)...(offset + length) { bytes[index] = asciiLower(bytes[index]) }
            offset += 1 + length
        }
        return nil
    }

    static func append16(_ value: UInt16, to out: inout [UInt8]) {
        out.append(UInt8(value >> 8))
        out.append(UInt8(value & 0xFF))
    }

    static func append32(_ value: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(value >> 24))
        out.append(UInt8((value >> 16) & 0xFF))
        out.append(UInt8((value >> 8) & 0xFF))
        out.append(UInt8(value & 0xFF))
    }

    static func read16(_ bytes: [UInt8], _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    static func read32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }
}
