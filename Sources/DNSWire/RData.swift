/// The SOA RDATA (RFC 1035 §3.3.13).
public struct SOAData: Hashable, Sendable {
    public var mname: DomainName
    public var rname: DomainName
    public var serial: UInt32
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    /// The negative-caching TTL (RFC 2308 §4).
    public var minimum: UInt32

    public init(mname: DomainName, rname: DomainName, serial: UInt32, refresh: UInt32,
                retry: UInt32, expire: UInt32, minimum: UInt32) {
        self.mname = mname; self.rname = rname; self.serial = serial; self.refresh = refresh
        self.retry = retry; self.expire = expire; self.minimum = minimum
    }
}

/// The RDATA of one record, decoded. Encoding and decoding of each type sit side by side
/// below, so a reader sees both halves of the format at once.
public enum RData: Hashable, Sendable {
    /// RFC 1035 §3.4.1
    case a(IPv4Address)
    /// RFC 3596 §2.2
    case aaaa(IPv6Address)
    /// RFC 1035 §3.3.11
    case ns(DomainName)
    /// RFC 1035 §3.3.1
    case cname(DomainName)
    /// RFC 1035 §3.3.12
    case ptr(DomainName)
    /// RFC 1035 §3.3.9
    case mx(preference: UInt16, exchange: DomainName)
    /// RFC 1035 §3.3.14: one or more character-strings of at most 255 octets.
    case txt([[UInt8]])
    /// RFC 2782
    case srv(priority: UInt16, weight: UInt16, port: UInt16, target: DomainName)
    /// RFC 1035 §3.3.13
    case soa(SOAData)
    /// RFC 8659 §4.1
    case caa(flags: UInt8, tag: [UInt8], value: [UInt8])
    /// Any other type, kept as opaque bytes (RFC 3597).
    case unknown(type: RRType, data: [UInt8])

    public var type: RRType {
        switch self {
        case .a: .a
        case .aaaa: .aaaa
        case .ns: .ns
        case .cname: .cname
        case .ptr: .ptr
        case .mx: .mx
        case .txt: .txt
        case .srv: .srv
        case .soa: .soa
        case .caa: .caa
        case .unknown(let type, _): type
        }
    }

    /// The domain name inside this RDATA that additional-section processing follows
    /// (NS and MX targets, RFC 1035 §3.3.9, §3.3.11; SRV targets, RFC 2782).
    public var additionalName: DomainName? {
        switch self {
        case .ns(let name), .mx(_, let name), .srv(_, _, _, let name): name
        default: nil
        }
    }

    /// Writes the RDATA (without RDLENGTH). Names are compressed only for the RFC 1035 types
    /// (RFC 3597 §4).
    public func encode(into writer: inout WireWriter, compress: Bool = true) throws(WireError) {
        switch self {
        case .a(let address): try writer.u32(address.value)
        case .aaaa(let address):
            for half in [address.high, address.low] {
                try writer.u32(UInt32(truncatingIfNeeded: half >> 32))
                try writer.u32(UInt32(truncatingIfNeeded: half))
            }
        case .ns(let name), .cname(let name), .ptr(let name): try writer.name(name, compress: compress)
        case .mx(let preference, let exchange):
            try writer.u16(preference)
            try writer.name(exchange, compress: compress)
        case .txt(let strings):
            for string in strings {
                guard string.count <= 255 else { throw WireError(.valueTooLarge, field: "TXT string", offset: writer.count) }
                try writer.u8(UInt8(string.count))
                try writer.bytes(string)
            }
        case .srv(let priority, let weight, let port, let target):
            try writer.u16(priority)
            try writer.u16(weight)
            try writer.u16(port)
            try writer.name(target, compress: false)
        case .soa(let soa):
            try writer.name(soa.mname, compress: compress)
            try writer.name(soa.rname, compress: compress)
            for value in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] { try writer.u32(value) }
        case .caa(let flags, let tag, let value):
            try writer.u8(flags)
            guard tag.count <= 255 else { throw WireError(.valueTooLarge, field: "CAA tag", offset: writer.count) }
            try writer.u8(UInt8(tag.count))
            try writer.bytes(tag)
            try writer.bytes(value)
        case .unknown(_, let data):
            try writer.bytes(data)
        }
    }

    /// Decodes RDATA of `type` from `reader`, which must span exactly RDLENGTH bytes.
    public static func decode(type: RRType, from reader: inout WireReader) throws(WireError) -> RData {
        let rdata: RData
        switch type {
        case .a:
            rdata = .a(IPv4Address(value: try reader.u32("A address")))
        case .aaaa:
            try reader.need(16, "AAAA address")
            rdata = .aaaa(IPv6Address(high: try reader.u64("AAAA address"), low: try reader.u64("AAAA address")))
        case .ns: rdata = .ns(try reader.name("NS nsdname"))
        case .cname: rdata = .cname(try reader.name("CNAME target"))
        case .ptr: rdata = .ptr(try reader.name("PTR ptrdname"))
        case .mx:
            rdata = .mx(preference: try reader.u16("MX preference"), exchange: try reader.name("MX exchange"))
        case .txt:
            var strings: [[UInt8]] = []
            repeat {
                let length = Int(try reader.u8("TXT length"))
                strings.append(try reader.bytes(length, "TXT string"))
            } while !reader.isAtEnd
            rdata = .txt(strings)
        case .srv:
            rdata = .srv(priority: try reader.u16("SRV priority"), weight: try reader.u16("SRV weight"),
                         port: try reader.u16("SRV port"), target: try reader.name("SRV target"))
        case .soa:
            rdata = .soa(SOAData(mname: try reader.name("SOA mname"), rname: try reader.name("SOA rname"),
                                 serial: try reader.u32("SOA serial"), refresh: try reader.u32("SOA refresh"),
                                 retry: try reader.u32("SOA retry"), expire: try reader.u32("SOA expire"),
                                 minimum: try reader.u32("SOA minimum")))
        case .caa:
            let flags = try reader.u8("CAA flags")
            let tagLength = Int(try reader.u8("CAA tag length"))
            let tag = try reader.bytes(tagLength, "CAA tag")
            rdata = .caa(flags: flags, tag: tag, value: try reader.bytes(reader.remaining, "CAA value"))
        default:
            rdata = .unknown(type: type, data: try reader.bytes(reader.remaining, "RDATA"))
        }
        guard reader.isAtEnd else { throw WireError(.trailingBytes, field: "RDATA", offset: reader.offset) }
        return rdata
    }
}
