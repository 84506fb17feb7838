import Glibc

/// An IPv4 or IPv6 address with a port, stored inline (no heap), so the packet path can
/// build one per datagram.
///
/// The text form is `192.0.2.1:53` or `[2001:db8::1]:53` (IPv6 always in brackets, RFC 3986
/// style); `init(parsing:)` and `description` use the same form. IPv6 zone ids (`%eth0`) are
/// not supported.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    /// Why a string is not a socket address.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        /// The text that was given.
        public let input: String
        /// What is wrong with it.
        public let reason: String
        /// `invalid address "foo": missing port; expected IPv4:port or [IPv6]:port`.
        public var description: String { "invalid address \"\(input)\": \(reason)" }
    }

    private let ipv6: Bool
    /// Port in host byte order.
    public let port: UInt16
    /// The address bytes exactly as in memory (network order): 4 bytes for IPv4 at the start
    /// of `high`, 16 bytes over `high` then `low` for IPv6. Kept as two integers so the struct
    /// is Hashable and lives on the stack.
    private let high: UInt64
    private let low: UInt64
    private let scopeID: UInt32

    /// Parses `"127.0.0.1:5353"`, `"[::1]:5353"`, `"0.0.0.0:53"`, `"[::]:0"`.
    ///
    /// Throws `SocketAddress.ParseError` with a reason a person can act on.
    public init(parsing text: String) throws {
        func fail(_ reason: String) -> ParseError { ParseError(input: text, reason: reason) }
        let expected = "expected IPv4:port or [IPv6]:port"
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw fail("missing \"]\"; \(expected)") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw fail("missing port after \"]\"; \(expected)") }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw fail("missing port; \(expected)") }
            host = text[..<colon]
            if host.contains(":") { throw fail("IPv6 addresses need brackets, e.g. [::1]:53") }
            portText = text[text.index(after: colon)...]
        }
        guard !portText.isEmpty else { throw fail("missing port; \(expected)") }
        // Ports are 16 bits: at most five decimal digits.
        guard portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let portValue = Int(portText), portValue <= Int(UInt16.max)
        else { throw fail("port \"\(portText)\" is not a number from 0 to 65535") }
        guard !host.isEmpty else { throw fail("missing host; \(expected)") }
        if host.contains("%") { throw fail("IPv6 zone ids are not supported") }

        var bytes: (UInt64, UInt64) = (0, 0)
        let family = text.hasPrefix("[") ? AF_INET6 : AF_INET
        let ok = String(host).withCString { cHost in
            withUnsafeMutableBytes(of: &bytes) { inet_pton(family, cHost, $0.baseAddress) }
        }
        guard ok == 1 else {
            throw fail(family == AF_INET6 ? "\"\(host)\" is not an IPv6 address"
                                          : "\"\(host)\" is not an IPv4 address")
        }
        self.ipv6 = family == AF_INET6
        self.port = UInt16(portValue)
        self.high = bytes.0
        self.low = bytes.1
        self.scopeID = 0
    }

    /// Reads a `sockaddr_in` or `sockaddr_in6`; nil for any other family. Does not allocate.
    init?(sockaddr pointer: UnsafeRawPointer) {
        let family = pointer.load(as: sa_family_t.self)
        switch Int32(family) {
        case AF_INET:
            let sin = pointer.loadUnaligned(as: sockaddr_in.self)
            var high: UInt64 = 0
            withUnsafeMutableBytes(of: &high) { $0.storeBytes(of: sin.sin_addr.s_addr, as: UInt32.self) }
            self.ipv6 = false
            self.port = UInt16(bigEndian: sin.sin_port)
            self.high = high
            self.low = 0
            self.scopeID = 0
        case AF_INET6:
            let sin6 = pointer.loadUnaligned(as: sockaddr_in6.self)
            let words = withUnsafeBytes(of: sin6.sin6_addr) {
                ($0.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                 $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            }
            self.ipv6 = true
            self.port = UInt16(bigEndian: sin6.sin6_port)
            self.high = words.0
            self.low = words.1
            self.scopeID = sin6.sin6_scope_id
        default:
            return nil
        }
    }

    /// The same address with another port (used after binding port 0).
    public func withPort(_ newPort: UInt16) -> SocketAddress {
        SocketAddress(ipv6: ipv6, port: newPort, high: high, low: low, scopeID: scopeID)
    }

    private init(ipv6: Bool, port: UInt16, high: UInt64, low: UInt64, scopeID: UInt32) {
        self.ipv6 = ipv6
        self.port = port
        self.high = high
        self.low = low
        self.scopeID = scopeID
    }

    /// True for IPv6 addresses.
    public var isIPv6: Bool { ipv6 }

    /// True for 127.0.0.0/8, ::1 and IPv4-mapped 127.0.0.0/8 (::ffff:127.x.x.x).
    public var isLoopback: Bool {
        withAddressBytes { bytes in
            if !ipv6 { return bytes[0] == 127 }
            if bytes.prefix(15).allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
            // IPv4-mapped prefix, RFC 4291 section 2.5.5.2: 80 zero bits, 16 one bits.
            let mapped = bytes.prefix(10).allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
            return mapped && bytes[12] == 127
        }
    }

    /// The address bytes as two big-endian words (IPv4 in the top half of the first), for
    /// the packet path: no closure, no copy.
    public var addressWords: (high: UInt64, low: UInt64) { (UInt64(bigEndian: high), UInt64(bigEndian: low)) }

    /// True for 0.0.0.0 and ::.
    var isWildcard: Bool { high == 0 && low == 0 }

    /// Calls `body` with the address bytes in network order: 4 for IPv4, 16 for IPv6.
    /// Does not allocate, for CIDR matching on the packet path.
    public func withAddressBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        var words = (high, low)
        let count = ipv6 ? 16 : 4
        return withUnsafeBytes(of: &words) { body(UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
    }

    /// `"192.0.2.1:53"` or `"[2001:db8::1]:53"` (RFC 5952 text for IPv6).
    public var description: String {
        // INET6_ADDRSTRLEN is 46; round up.
        var text = [CChar](repeating: 0, count: 64)
        var words = (high, low)
        _ = withUnsafeBytes(of: &words) { bytes in
            inet_ntop(ipv6 ? AF_INET6 : AF_INET, bytes.baseAddress, &text, socklen_t(text.count))
        }
        let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return ipv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The socket family, AF_INET or AF_INET6.
    var family: Int32 { ipv6 ? AF_INET6 : AF_INET }

    /// Calls `body` with this address as a `sockaddr` and its length, for bind/connect/sendto.
    public func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        if ipv6 {
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            sin6.sin6_scope_id = scopeID
            var words = (high, low)
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { dst in
                withUnsafeBytes(of: &words) { dst.copyMemory(from: $0) }
            }
            return try withUnsafePointer(to: &sin6) {
                try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    try body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        } else {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr) { dst in
                var h = high
                withUnsafeBytes(of: &h) { dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(4))) }
            }
            return try withUnsafePointer(to: &sin) {
                try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    try body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }
}
