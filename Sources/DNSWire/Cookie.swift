/// The DNS COOKIE option (RFC 7873 §4) with interoperable server cookies (RFC 9018).
///
/// ```
/// CLIENT COOKIE (8) | SERVER COOKIE (0, or 8 to 32)
/// ```
/// A version-1 server cookie (RFC 9018 §4) is 16 octets:
/// ```
/// VERSION (1) = 1 | RESERVED (3) = 0 | TIMESTAMP (4, seconds since 1970) | HASH (8)
/// HASH = SipHash-2-4(key: SECRET, CLIENT COOKIE | VERSION | RESERVED | TIMESTAMP | CLIENT IP)
/// ```
/// Every server that shares the secret makes and accepts the same cookies, so a resolver
/// moving between the servers of an anycast or shared-state group keeps a valid cookie.
/// Kept without allocation: cookies in words, the hash input on the stack.
public struct DNSCookie: Equatable, Sendable {
    /// The option code (RFC 7873 §8).
    public static let code: UInt16 = 10
    public static let clientLength = 8
    /// The server cookie Veer makes: version 1 of RFC 9018.
    public static let serverLength = 16
    /// A server cookie is accepted for an hour after it was made and up to five minutes
    /// before (clock skew between servers), RFC 9018 §4.3.
    public static let maxAge: Int64 = 3600
    public static let maxSkew: Int64 = 300
    /// The whole option in a response: code, length, client and server cookies.
    public static let responseOptionSize = 4 + clientLength + serverLength

    /// The client cookie's 8 octets, read big-endian.
    public let client: UInt64
    /// The server cookie's length as sent: 0 (none) or 8 to 32.
    public let serverCookieLength: Int
    /// The first 16 octets of the server cookie, read big-endian (zero when shorter).
    public let serverHigh: UInt64
    public let serverLow: UInt64

    public init(client: UInt64, serverCookieLength: Int = 0, serverHigh: UInt64 = 0, serverLow: UInt64 = 0) {
        self.client = client
        self.serverCookieLength = serverCookieLength
        self.serverHigh = serverHigh
        self.serverLow = serverLow
    }

    /// Reads the option data (after code and length). Throws, and the query gets FORMERR
    /// (RFC 7873 §5.2.2), unless the data is a client cookie alone (8 octets) or a client
    /// cookie and a server cookie of 8 to 32 octets (16 to 40 in all).
    @inline(__always)
    public static func read(_ data: inout WireReader) throws(WireError) -> DNSCookie {
        let at = data.offset
        let length = data.remaining
        guard length == clientLength || (16...40).contains(length) else {
            throw WireError(.invalid, field: "COOKIE option length", offset: at)
        }
        let client = try data.u64("client cookie")
        var high: UInt64 = 0, low: UInt64 = 0
        if length >= clientLength + serverLength {
            high = try data.u64("server cookie")
            low = try data.u64("server cookie")
        }
        try data.skip(data.remaining, "server cookie")
        return DNSCookie(client: client, serverCookieLength: length - clientLength, serverHigh: high, serverLow: low)
    }
}

/// The secret server cookies are keyed by (a SipHash-2-4 key, RFC 9018 §4.3): random per
/// server by default, or the same 16 octets on every server of a group (`--cookie-secret`).
public struct CookieSecret: Equatable, Sendable {
    /// The key's two halves as SipHash reads them: octets 0–7 and 8–15, little-endian.
    public let k0: UInt64
    public let k1: UInt64

    public init(k0: UInt64, k1: UInt64) {
        self.k0 = k0
        self.k1 = k1
    }

    /// From the system's generator: a server that shares its addresses with no other.
    public static func random() -> CookieSecret {
        var generator = SystemRandomNumberGenerator()
        return CookieSecret(k0: generator.next(), k1: generator.next())
    }

    /// From 32 hex digits, the secret's octets in order (as RFC 9018's examples write it).
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 32, digits.allSatisfy({ $0 < 128 && Character(Unicode.Scalar($0)).isHexDigit }),
              let first = UInt64(String(hex.prefix(16)), radix: 16),
              let second = UInt64(String(hex.suffix(16)), radix: 16) else { return nil }
        self.init(k0: first.byteSwapped, k1: second.byteSwapped)
    }

    /// The server cookie for `client`, made at `timestamp` (seconds since 1970, mod 2^32),
    /// for a client at `address` (4 or 16 octets, network order): the 16 octets as two
    /// big-endian words.
    @inline(__always)
    public func serverCookie(client: UInt64, timestamp: UInt32, address: ClientIP) -> (high: UInt64, low: UInt64) {
        // VERSION 1, RESERVED 0, TIMESTAMP.
        let header = UInt64(1) << 56 | UInt64(timestamp)
        let hash = withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { buffer in
            store64(client, buffer, 0)
            store64(header, buffer, 8)
            store64(address.high, buffer, 16)
            store64(address.low, buffer, 24)
            return SipHash24.hash(k0: k0, k1: k1, UnsafeRawBufferPointer(rebasing: buffer[0..<(16 + address.length)]))
        }
        // The hash's octets in the order SipHash produces them: its output, little-endian.
        return (header, hash.byteSwapped)
    }

    /// True when `cookie` carries a version-1 server cookie this secret made for `client`
    /// at `address`, no more than an hour old and no more than five minutes ahead of `now`
    /// (RFC 9018 §4.3: serial-number arithmetic on the timestamp).
    @inline(__always)
    public func validates(_ cookie: DNSCookie, address: ClientIP, now: UInt32) -> Bool {
        guard cookie.serverCookieLength == DNSCookie.serverLength,
              cookie.serverHigh >> 32 == 0x0100_0000 else { return false }
        let timestamp = UInt32(truncatingIfNeeded: cookie.serverHigh)
        let age = Int64(Int32(bitPattern: now &- timestamp))
        guard age <= DNSCookie.maxAge, age >= -DNSCookie.maxSkew else { return false }
        let expected = serverCookie(client: cookie.client, timestamp: timestamp, address: address)
        return expected.low == cookie.serverLow
    }
}

/// A client's address as a cookie hashes it: 4 octets for IPv4 (an IPv4-mapped IPv6 address
/// counts as IPv4), 16 for IPv6, big-endian in two words.
public struct ClientIP: Equatable, Sendable {
    public let high: UInt64
    public let low: UInt64
    /// 4 or 16.
    public let length: Int

    public init(ipv6: Bool, high: UInt64, low: UInt64) {
        if !ipv6 {
            self.high = high; self.low = 0; length = 4
        } else if high == 0 && low >> 32 == 0xFFFF {
            self.high = low << 32; self.low = 0; length = 4
        } else {
            self.high = high; self.low = low; length = 16
        }
    }
}

/// SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit hash, the one RFC 9018 names.
public enum SipHash24 {
    public static func hash(k0: UInt64, k1: UInt64, _ message: UnsafeRawBufferPointer) -> UInt64 {
        var v0: UInt64 = 0x736f_6d65_7073_6575 ^ k0
        var v1: UInt64 = 0x646f_7261_6e64_6f6d ^ k1
        var v2: UInt64 = 0x6c79_6765_6e65_7261 ^ k0
        var v3: UInt64 = 0x7465_6462_7974_6573 ^ k1

        @inline(__always)
        func round() {
            v0 &+= v1; v1 = v1.rotatedLeft(13); v1 ^= v0; v0 = v0.rotatedLeft(32)
            v2 &+= v3; v3 = v3.rotatedLeft(16); v3 ^= v2
            v0 &+= v3; v3 = v3.rotatedLeft(21); v3 ^= v0
            v2 &+= v1; v1 = v1.rotatedLeft(17); v1 ^= v2; v2 = v2.rotatedLeft(32)
        }

        let whole = message.count / 8 * 8
        var offset = 0
        while offset < whole {
            let word = load64LE(message, offset)
            v3 ^= word
            round(); round()
            v0 ^= word
            offset += 8
        }
        // The last block: the remaining octets, and the length's low byte on top.
        var last = UInt64(truncatingIfNeeded: message.count) << 56
        for index in 0..<(message.count - whole) {
            last |= UInt64(message[whole + index]) << (8 * UInt64(index))
        }
        v3 ^= last
        round(); round()
        v0 ^= last
        v2 ^= 0xFF
        round(); round(); round(); round()
        return v0 ^ v1 ^ v2 ^ v3
    }

    @inline(__always)
    private static func load64LE(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[offset + index]) << (8 * UInt64(index)) }
        return value
    }
}

extension UInt64 {
    @inline(__always)
    fileprivate func rotatedLeft(_ count: UInt64) -> UInt64 { self << count | self >> (64 - count) }
}

/// Stores `value` big-endian at `offset`.
@inline(__always)
private func store64(_ value: UInt64, _ buffer: UnsafeMutableRawBufferPointer, _ offset: Int) {
    for index in 0..<8 { buffer[offset + index] = UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64(index))) }
}
