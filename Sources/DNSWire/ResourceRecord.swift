/// One resource record (RFC 1035 §4.1.3).
public struct ResourceRecord: Hashable, Sendable, CustomStringConvertible {
    public var name: DomainName
    public var rrclass: RRClass
    public var ttl: UInt32
    public var data: RData

    public init(name: DomainName, rrclass: RRClass = .in, ttl: UInt32, data: RData) {
        self.name = name
        self.rrclass = rrclass
        self.ttl = ttl
        self.data = data
    }

    public var type: RRType { data.type }

    /// Writes NAME, TYPE, CLASS, TTL, RDLENGTH and RDATA.
    public func encode(into writer: inout WireWriter, compress: Bool = true) throws(WireError) {
        try writer.name(name, compress: compress)
        try writer.u16(type.rawValue)
        try writer.u16(rrclass.rawValue)
        try writer.u32(ttl)
        let lengthAt = writer.count
        try writer.u16(0)
        try data.encode(into: &writer, compress: compress)
        let length = writer.count - lengthAt - 2
        guard length <= Int(UInt16.max) else { throw WireError(.valueTooLarge, field: "RDLENGTH", offset: lengthAt) }
        writer.patch16(UInt16(length), at: lengthAt)
    }

    public static func decode(from reader: inout WireReader) throws(WireError) -> ResourceRecord {
        let name = try reader.name("RR name")
        let type = RRType(rawValue: try reader.u16("RR type"))
        let rrclass = RRClass(rawValue: try reader.u16("RR class"))
        let ttl = try reader.u32("RR ttl")
        let length = Int(try reader.u16("RR rdlength"))
        var rdata = try reader.sub(length, "RDATA")
        return ResourceRecord(name: name, rrclass: rrclass, ttl: ttl, data: try RData.decode(type: type, from: &rdata))
    }

    /// Presentation form: `www.example.com. 60 IN A 192.0.2.1`.
    public var description: String { "\(name) \(ttl) \(rrclass) \(type) \(data.presentation)" }
}
