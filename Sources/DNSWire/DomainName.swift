/// A domain name in uncompressed wire form (RFC 1035 §3.1): length-prefixed labels ending
/// with the zero-length root label.
///
/// The original case is kept for output; equality and hashing ignore ASCII case (RFC 4343).
public struct DomainName: Sendable, Hashable, CustomStringConvertible, Comparable {
    /// Longest label, RFC 1035 §2.3.4.
    @inlinable public static var maxLabelLength: Int { 63 }
    /// The top two bits of a length octet: 00 a label, 11 a compression pointer, 01 and 10
    /// reserved (RFC 1035 §4.1.4, RFC 6891 §5).
    @inlinable public static var labelTypeMask: UInt8 { 0xC0 }
    @inlinable public static var pointerLabel: UInt8 { 0xC0 }
    /// The 14-bit offset of a pointer, below `labelTypeMask` in its first octet.
    @inlinable public static var pointerOffsetMask: UInt8 { 0x3F }
    /// A pointer as a 16-bit word, to be OR-ed with the offset it points to.
    @inlinable public static var pointerFlags: UInt16 { 0xC000 }
    /// Longest name in wire form, including length octets and the root label, RFC 1035 §2.3.4.
    @inlinable public static var maxWireLength: Int { 255 }

    /// The wire form, original case, always ending in 0.
    public let wire: [UInt8]

    /// The root name `.`.
    public static let root = DomainName(uncheckedWire: [0])

    init(uncheckedWire: [UInt8]) { self.wire = uncheckedWire }

    /// Validates `wire` as an uncompressed name.
    public init(wire: [UInt8]) throws(WireError) {
        var offset = 0
        while true {
            guard offset < wire.count else { throw WireError(.truncated, field: "name", offset: offset) }
            let length = Int(wire[offset])
            if length == 0 { break }
            guard length <= Self.maxLabelLength else {
                throw WireError(.labelTooLong, field: "name", offset: offset)
            }
            offset += 1 + length
        }
        guard offset + 1 == wire.count else { throw WireError(.trailingBytes, field: "name", offset: offset + 1) }
        guard wire.count <= Self.maxWireLength else { throw WireError(.nameTooLong, field: "name", offset: 0) }
        self.wire = wire
    }

    /// Builds a name from raw labels (no escapes are interpreted), checking the length limits.
    public init(labels: [[UInt8]]) throws(WireError) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(labels.reduce(1) { $0 + $1.count + 1 })
        for label in labels {
            guard !label.isEmpty else { throw WireError(.emptyLabel, field: "name", offset: bytes.count) }
            guard label.count <= Self.maxLabelLength else {
                throw WireError(.labelTooLong, field: "name", offset: bytes.count)
            }
            bytes.append(UInt8(label.count))
            bytes.append(contentsOf: label)
        }
        bytes.append(0)
        guard bytes.count <= Self.maxWireLength else { throw WireError(.nameTooLong, field: "name", offset: 0) }
        self.wire = bytes
    }

    /// Parses an absolute name in presentation form with `\.` and `\DDD` escapes
    /// (`"www.example.com."`; the trailing dot is optional here). For tests and tools;
    /// zone files go through the ZoneFile parser, which reports positions.
    public init(_ text: String) throws(WireError) {
        if text == "." || text.isEmpty { self = .root; return }
        var labels: [[UInt8]] = []
        var current: [UInt8] = []
        let bytes = Array(text.utf8)
        // Whether the last thing read was an unescaped dot: then the name is absolute and
        // there is no final label to add.
        var endedWithDot = false
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            endedWithDot = false
            if c == UInt8(ascii: "\\") {
                guard i + 1 < bytes.count else { throw WireError(.badEscape, field: "name", offset: i) }
                let next = bytes[i + 1]
                if next >= UInt8(ascii: "0") && next <= UInt8(ascii: "9") {
                    // RFC 1035 §5.1: a digit after `\` starts exactly three digits, at most 255.
                    guard let value = Self.decimalEscape(bytes, at: i + 1) else {
                        throw WireError(.badEscape, field: "name", offset: i)
                    }
                    current.append(value)
                    i += 4
                } else {
                    current.append(next)
                    i += 2
                }
                continue
            }
            if c == UInt8(ascii: ".") {
                labels.append(current)
                current = []
                endedWithDot = true
            } else {
                current.append(c)
            }
            i += 1
        }
        if !endedWithDot { labels.append(current) }
        try self.init(labels: labels)
    }

    /// Reads a `\DDD` escape's value (three decimal digits, at most 255) starting at `index`.
    public static func decimalEscape(_ bytes: [UInt8], at index: Int) -> UInt8? {
        guard index + 2 < bytes.count else { return nil }
        var value = 0
        for k in 0..<3 {
            let d = bytes[index + k]
            guard d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(d - UInt8(ascii: "0"))
        }
        return value <= 255 ? UInt8(value) : nil
    }

    /// The labels, without the root label.
    public var labels: [[UInt8]] {
        var result: [[UInt8]] = []
        var offset = 0
        while wire[offset] != 0 {
            let length = Int(wire[offset])
            result.append(Array(wire[(offset + 1)...(offset + length)]))
            offset += 1 + length
        }
        return result
    }

    /// Number of labels, not counting the root.
    public var labelCount: Int {
        var count = 0
        var offset = 0
        while wire[offset] != 0 { count += 1; offset += 1 + Int(wire[offset]) }
        return count
    }

    public var isRoot: Bool { wire.count == 1 }

    /// The name with its first label removed, or nil for the root.
    public var parent: DomainName? {
        guard !isRoot else { return nil }
        return DomainName(uncheckedWire: Array(wire[(Int(wire[0]) + 1)...]))
    }

    /// The ASCII-lowercased wire form: the key for lookups.
    public var lowercasedWire: [UInt8] { wire.map(asciiLower) }

    public func lowercased() -> DomainName { DomainName(uncheckedWire: lowercasedWire) }

    /// `self` followed by `suffix` (for relative names in zone files).
    public func appending(_ suffix: DomainName) throws(WireError) -> DomainName {
        var bytes = Array(wire.dropLast())
        bytes.append(contentsOf: suffix.wire)
        guard bytes.count <= Self.maxWireLength else { throw WireError(.nameTooLong, field: "name", offset: 0) }
        return DomainName(uncheckedWire: bytes)
    }

    /// True when `self` equals `ancestor` or lies below it (case-insensitive).
    public func isSubdomain(of ancestor: DomainName) -> Bool {
        let n = wire.count, m = ancestor.wire.count
        guard m <= n else { return false }
        // The suffix must start on a label boundary.
        var offset = 0
        while n - offset > m { offset += 1 + Int(wire[offset]) }
        guard n - offset == m else { return false }
        // Byte for byte first, eight at a time: a zone file's relative names end with a copy
        // of the origin, so this settles nearly every owner of a large zone.
        let exact = wire.withUnsafeBytes { name in
            ancestor.wire.withUnsafeBytes { memcmpEqual(name.baseAddress! + offset, $0.baseAddress!, m) }
        }
        if exact { return true }
        for k in 0..<m where asciiLower(wire[offset + k]) != asciiLower(ancestor.wire[k]) { return false }
        return true
    }

    public static func == (lhs: DomainName, rhs: DomainName) -> Bool {
        guard lhs.wire.count == rhs.wire.count else { return false }
        for k in 0..<lhs.wire.count where asciiLower(lhs.wire[k]) != asciiLower(rhs.wire[k]) { return false }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        for byte in wire { hasher.combine(asciiLower(byte)) }
    }

    /// Canonical DNS order (RFC 4034 §6.1): by labels from the right, case-insensitive.
    public static func < (lhs: DomainName, rhs: DomainName) -> Bool {
        let a = lhs.labels.reversed().map { $0.map(asciiLower) }
        let b = rhs.labels.reversed().map { $0.map(asciiLower) }
        for (x, y) in zip(a, b) where x != y { return x.lexicographicallyPrecedes(y) }
        return a.count < b.count
    }

    /// Presentation form, absolute with a trailing dot; escapes `.`, `\`, `"`, `;`, `(`, `)`,
    /// `@`, `$`, space and non-printable bytes.
    public var description: String {
        if isRoot { return "." }
        var out = ""
        for label in labels {
            for byte in label { out += escapedPresentation(byte, special: namePresentationSpecials) }
            out += "."
        }
        return out
    }
}

let namePresentationSpecials: Set<UInt8> = Set(".\\\";()@$ ".utf8)

/// One byte in presentation form: printable ASCII as is (with `\` before specials), the rest as `\DDD`.
func escapedPresentation(_ byte: UInt8, special: Set<UInt8>) -> String {
    if byte < 0x21 && byte != 0x20 || byte > 0x7E {
        let digits = String(byte)
        return "\\" + String(repeating: "0", count: 3 - digits.count) + digits
    }
    if special.contains(byte) { return "\\" + String(UnicodeScalar(byte)) }
    return String(UnicodeScalar(byte))
}

/// ASCII-only lowercase: DNS names compare case-insensitively for A–Z only (RFC 4343).
@inlinable @inline(__always)
public func asciiLower(_ byte: UInt8) -> UInt8 {
    byte &- 0x41 < 26 ? byte | 0x20 : byte
}

/// `asciiLower` on eight bytes at once (SWAR): for each byte whose low seven bits are in
/// 0x41...0x5A and whose top bit is clear, sets 0x20. Adding 0x3F (resp. 0x25) to the low
/// seven bits carries into the top bit exactly when they are ≥ 0x41 (resp. ≥ 0x5B), and never
/// into the next byte.
@inlinable @inline(__always)
public func asciiLower(word x: UInt64) -> UInt64 {
    let low7 = x & 0x7F7F_7F7F_7F7F_7F7F
    let atLeastA = low7 &+ 0x3F3F_3F3F_3F3F_3F3F
    let pastZ = low7 &+ 0x2525_2525_2525_2525
    let upper = atLeastA & ~pastZ & ~x & 0x8080_8080_8080_8080
    return x | (upper >> 2)
}
