/// An IP prefix in CIDR form, `10.0.0.0/8` or `2001:db8::/32` (a bare address means the one
/// address), for source checks such as `--status-query-from`.
public struct AddressPrefix: Sendable, Hashable, CustomStringConvertible {
    private let base: SocketAddress
    /// Leading bits that must match.
    public let length: Int

    /// Parses `ADDRESS[/LENGTH]`; bits past the length must be 0, as in a routing table.
    public init(parsing text: String) throws(SocketAddress.ParseError) {
        func fail(_ reason: String) -> SocketAddress.ParseError { SocketAddress.ParseError(input: text, reason: reason) }
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let host = String(parts[0])
        let isIPv6 = host.contains(":")
        do {
            base = try SocketAddress(parsing: isIPv6 ? "[\(host)]:0" : "\(host):0")
        } catch {
            throw fail("expected an IPv4 or IPv6 address before the \"/\", e.g. 10.0.0.0/8 or 2001:db8::/32")
        }
        let maxLength = isIPv6 ? 128 : 32
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].count <= 3, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = Int(parts[1]), value <= maxLength else {
                throw fail("prefix length must be 0 to \(maxLength)")
            }
            length = value
        } else {
            length = maxLength
        }
        let length = self.length
        let clean = base.withAddressBytes { bytes in
            bytes.indices.allSatisfy { i in
                let keep = max(0, min(8, length - i * 8))
                let mask: UInt8 = keep == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
                return bytes[i] & ~mask == 0
            }
        }
        guard clean else { throw fail("bits set past the prefix length /\(length)") }
    }

    /// The network's address as big-endian words (IPv4 in the top 32 bits of `high`).
    public var words: (ipv6: Bool, high: UInt64, low: UInt64) {
        let words = base.addressWords
        return (base.isIPv6, words.high, words.low)
    }

    /// True when `address` is inside the prefix. An IPv4 prefix also matches IPv4-mapped IPv6
    /// addresses (`::ffff:10.1.2.3`), as dual-stack sockets report IPv4 clients.
    public func contains(_ address: SocketAddress) -> Bool {
        base.withAddressBytes { prefix in
            address.withAddressBytes { candidate in
                var other = candidate
                if prefix.count == 4 && candidate.count == 16 {
                    let mapped = candidate.prefix(10).allSatisfy { $0 == 0 } && candidate[10] == 0xFF && candidate[11] == 0xFF
                    guard mapped else { return false }
                    other = UnsafeRawBufferPointer(rebasing: candidate[12..<16])
                }
                guard other.count == prefix.count else { return false }
                var bits = length
                var i = 0
                while bits > 0 {
                    let take = min(8, bits)
                    let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - take))
                    if prefix[i] & mask != other[i] & mask { return false }
                    bits -= take
                    i += 1
                }
                return true
            }
        }
    }

    /// `10.0.0.0/8`, `2001:db8::/32`.
    public var description: String {
        let text = base.description
        let host = text.hasPrefix("[") ? String(text.dropFirst().prefix { $0 != "]" }) : String(text.prefix { $0 != ":" })
        return "\(host)/\(length)"
    }
}
