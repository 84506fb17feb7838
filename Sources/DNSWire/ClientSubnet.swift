/// The EDNS Client Subnet option (RFC 7871 §6): the prefix of the client's address a
/// resolver passes on, and in answers the prefix length the answer depends on.
///
/// ```
/// FAMILY (2) | SOURCE PREFIX-LENGTH (1) | SCOPE PREFIX-LENGTH (1) | ADDRESS (ceil(SOURCE/8))
/// ```
/// Kept without allocation: the address in two big-endian words.
public struct ClientSubnet: Equatable, Sendable {
    /// The option code (RFC 7871 §6).
    public static let code: UInt16 = 8
    /// Address family numbers (IANA): IPv4 and IPv6, the only two RFC 7871 defines.
    public static let familyIPv4: UInt16 = 1
    public static let familyIPv6: UInt16 = 2

    public let family: UInt16
    public let sourceLength: UInt8
    /// The address's first and last eight bytes, network order read big-endian; IPv4 in the
    /// top four bytes of `high`. Zero past `sourceLength`.
    public let high: UInt64
    public let low: UInt64

    public init(family: UInt16, sourceLength: UInt8, high: UInt64, low: UInt64 = 0) {
        self.family = family
        self.sourceLength = sourceLength
        self.high = high
        self.low = low
    }

    public var isIPv6: Bool { family == Self.familyIPv6 }
    /// ADDRESS octets on the wire: just enough for the source prefix.
    public var addressLength: Int { (Int(sourceLength) + 7) / 8 }
    /// The option's size in an OPT RDATA, code and length included.
    public var optionSize: Int { 8 + addressLength }

    /// Reads the option data (after code and length). Throws, and the query gets FORMERR
    /// (RFC 7871 §7.2.1), for a family other than IPv4 and IPv6, a source prefix longer than
    /// the address, ADDRESS not exactly ceil(SOURCE/8) octets, or address bits set past the
    /// source prefix. The query's SCOPE PREFIX-LENGTH is ignored (it must be 0; §6).
    @inline(__always)
    public static func read(_ data: inout WireReader) throws(WireError) -> ClientSubnet {
        let at = data.offset
        let family = try data.u16("ECS family")
        let source = try data.u8("ECS source prefix-length")
        _ = try data.u8("ECS scope prefix-length")
        let maxLength: UInt8 = family == familyIPv4 ? 32 : 128
        guard family == familyIPv4 || family == familyIPv6, source <= maxLength,
              data.remaining == (Int(source) + 7) / 8 else {
            throw WireError(.invalid, field: "ECS option", offset: at)
        }
        var high: UInt64 = 0, low: UInt64 = 0
        var index = 0
        while !data.isAtEnd {
            let byte = UInt64(try data.u8("ECS address"))
            if index < 8 { high |= byte << (56 - 8 * UInt64(index)) } else { low |= byte << (56 - 8 * UInt64(index - 8)) }
            index += 1
        }
        // Bits past the prefix must be zero: a sloppy client would otherwise get an answer
        // meant for another network.
        let length = Int(source)
        let highMask: UInt64 = length >= 64 ? ~0 : (length == 0 ? 0 : ~0 << (64 - UInt64(length)))
        let lowMask: UInt64 = length <= 64 ? 0 : (length >= 128 ? ~0 : ~0 << (128 - UInt64(length)))
        guard high & ~highMask == 0, low & ~lowMask == 0 else {
            throw WireError(.invalid, field: "ECS address bits past the source prefix", offset: at)
        }
        return ClientSubnet(family: family, sourceLength: source, high: high, low: low)
    }

    /// Writes the whole option (code, length, data) with SCOPE PREFIX-LENGTH `scope`; the
    /// family, source prefix and address are the query's (RFC 7871 §7.2.2).
    @inline(__always)
    public func write(into writer: inout WireWriter, scope: UInt8) throws(WireError) {
        try writer.u16(Self.code)
        try writer.u16(UInt16(4 + addressLength))
        try writer.u16(family)
        try writer.u8(sourceLength)
        try writer.u8(scope)
        for index in 0..<addressLength {
            let word = index < 8 ? high : low
            try writer.u8(UInt8(truncatingIfNeeded: word >> (56 - 8 * UInt64(index % 8))))
        }
    }
}
