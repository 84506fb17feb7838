/// An IPv4 address: the RDATA of an A record (RFC 1035 §3.4.1).
///
/// Stored inline as one integer, not as an array: a zone of a million A records then holds no
/// array per address (an allocation of 48 bytes each, kept for as long as the zone is).
public struct IPv4Address: Hashable, Sendable, CustomStringConvertible {
    /// The address as a big-endian integer: the first octet is the most significant byte.
    public let value: UInt32

    /// Network order, exactly 4 bytes.
    public var bytes: [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }

    public init(value: UInt32) { self.value = value }

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 else { return nil }
        value = bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Dotted-quad text, four decimal octets 0–255 without leading `+` or extra characters.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            // No leading zeros, as inet_pton: `01.2.3.4` is ambiguous (octal in some tools).
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  part.count == 1 || part.first != "0", let value = UInt8(part) else { return nil }
            out.append(value)
        }
        self.init(bytes: out)
    }

    public var description: String { bytes.map(String.init).joined(separator: ".") }
}

/// An IPv6 address: the RDATA of an AAAA record (RFC 3596).
///
/// Stored inline as two integers, not as an array (see `IPv4Address`).
public struct IPv6Address: Hashable, Sendable, CustomStringConvertible {
    /// The first and the last 8 octets as big-endian integers.
    public let high: UInt64
    public let low: UInt64

    /// Network order, exactly 16 bytes.
    public var bytes: [UInt8] {
        (0..<16).map { i in UInt8(truncatingIfNeeded: (i < 8 ? high : low) >> (56 - 8 * UInt64(i % 8))) }
    }

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        high = bytes[..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = bytes[8...].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// RFC 4291 §2.2 text: eight groups, `::` once, an embedded dotted quad at the end.
    public init?(_ text: some StringProtocol) {
        let string = String(text)
        var halves: [String] = []
        if let range = string.firstRange(of: "::") {
            halves = [String(string[..<range.lowerBound]), String(string[range.upperBound...])]
            guard halves[1].firstRange(of: "::") == nil else { return nil }
        } else {
            halves = [string]
        }
        func groups(_ part: String, allowV4: Bool) -> [UInt8]? {
            if part.isEmpty { return [] }
            var out: [UInt8] = []
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, field) in fields.enumerated() {
                if allowV4, index == fields.count - 1, field.contains(".") {
                    guard let v4 = IPv4Address(field) else { return nil }
                    out += v4.bytes
                    continue
                }
                guard !field.isEmpty, field.count <= 4, let value = UInt16(field, radix: 16),
                      field.allSatisfy({ $0.isHexDigit }) else { return nil }
                out += [UInt8(value >> 8), UInt8(value & 0xFF)]
            }
            return out
        }
        if halves.count == 1 {
            guard let all = groups(halves[0], allowV4: true), all.count == 16 else { return nil }
            self.init(bytes: all)
        } else {
            guard let head = groups(halves[0], allowV4: false),
                  let tail = groups(halves[1], allowV4: true),
                  head.count + tail.count <= 14 else { return nil }
            self.init(bytes: head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail)
        }
    }

    /// RFC 5952 text: lowercase, leading zeros dropped, the longest run of two or more zero
    /// groups shortened to `::`.
    public var description: String {
        let groups = (0..<8).map { UInt16(truncatingIfNeeded: ($0 < 4 ? high : low) >> (48 - 16 * UInt64($0 % 4))) }
        var bestStart = -1, bestLength = 0, runStart = -1
        for i in 0...8 {
            if i < 8 && groups[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                if i - runStart > bestLength { bestStart = runStart; bestLength = i - runStart }
                runStart = -1
            }
        }
        if bestLength < 2 { bestStart = -1 }
        var out = ""
        var i = 0
        while i < 8 {
            if i == bestStart {
                out += "::"
                i += bestLength
                continue
            }
            if !out.isEmpty && !out.hasSuffix(":") { out += ":" }
            out += String(groups[i], radix: 16)
            i += 1
        }
        return out
    }
}
