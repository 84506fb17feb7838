/// The fixed 12-byte header (RFC 1035 §4.1.1).
public struct Header: Hashable, Sendable {
    /// Size of the header on the wire.
    @inlinable public static var size: Int { 12 }

    public var id: UInt16 = 0
    /// Flags word: QR, OPCODE, AA, TC, RD, RA, Z, AD, CD, RCODE (low 4 bits).
    public var flags: UInt16 = 0
    public var questionCount: UInt16 = 0
    public var answerCount: UInt16 = 0
    public var authorityCount: UInt16 = 0
    public var additionalCount: UInt16 = 0

    public init(id: UInt16 = 0, flags: UInt16 = 0) {
        self.id = id
        self.flags = flags
    }

    @inlinable public static var qrBit: UInt16 { 0x8000 }
    @inlinable public static var aaBit: UInt16 { 0x0400 }
    @inlinable public static var tcBit: UInt16 { 0x0200 }
    @inlinable public static var rdBit: UInt16 { 0x0100 }
    @inlinable public static var raBit: UInt16 { 0x0080 }
    @inlinable public static var adBit: UInt16 { 0x0020 }
    @inlinable public static var cdBit: UInt16 { 0x0010 }
    /// OPCODE: four bits at bit 11 of the flags word (RFC 1035 §4.1.1).
    @inlinable public static var opcodeShift: UInt16 { 11 }
    @inlinable public static var opcodeMask: UInt16 { 0xF }
    /// RCODE: the low four bits of the flags word; EDNS carries the bits above them in the
    /// OPT TTL (RFC 6891 §6.1.3).
    @inlinable public static var rcodeMask: UInt16 { 0xF }
    @inlinable public static var rcodeBits: UInt16 { 4 }

    public var isResponse: Bool {
        get { flags & Self.qrBit != 0 }
        set { flags = newValue ? flags | Self.qrBit : flags & ~Self.qrBit }
    }
    /// OPCODE, 4 bits: 0 QUERY, 1 IQUERY (obsolete), 2 STATUS, 4 NOTIFY, 5 UPDATE.
    public var opcode: UInt8 {
        get { UInt8((flags >> 11) & 0xF) }
        set { flags = flags & ~0x7800 | UInt16(newValue & 0xF) << 11 }
    }
    public var authoritative: Bool {
        get { flags & Self.aaBit != 0 }
        set { flags = newValue ? flags | Self.aaBit : flags & ~Self.aaBit }
    }
    public var truncated: Bool {
        get { flags & Self.tcBit != 0 }
        set { flags = newValue ? flags | Self.tcBit : flags & ~Self.tcBit }
    }
    public var recursionDesired: Bool {
        get { flags & Self.rdBit != 0 }
        set { flags = newValue ? flags | Self.rdBit : flags & ~Self.rdBit }
    }
    public var recursionAvailable: Bool {
        get { flags & Self.raBit != 0 }
        set { flags = newValue ? flags | Self.raBit : flags & ~Self.raBit }
    }
    /// The low 4 bits of the RCODE; EDNS carries the upper 8 (RFC 6891 §6.1.3).
    public var rcodeLow: UInt8 {
        get { UInt8(flags & 0xF) }
        set { flags = flags & ~0xF | UInt16(newValue & 0xF) }
    }

    public func encode(into writer: inout WireWriter) throws(WireError) {
        for value in [id, flags, questionCount, answerCount, authorityCount, additionalCount] {
            try writer.u16(value)
        }
    }

    public static func decode(from reader: inout WireReader) throws(WireError) -> Header {
        var header = Header(id: try reader.u16("header id"), flags: try reader.u16("header flags"))
        header.questionCount = try reader.u16("header qdcount")
        header.answerCount = try reader.u16("header ancount")
        header.authorityCount = try reader.u16("header nscount")
        header.additionalCount = try reader.u16("header arcount")
        return header
    }
}

/// One entry of the question section (RFC 1035 §4.1.2).
public struct Question: Hashable, Sendable, CustomStringConvertible {
    public var name: DomainName
    public var type: RRType
    public var rrclass: RRClass

    public init(name: DomainName, type: RRType, rrclass: RRClass = .in) {
        self.name = name
        self.type = type
        self.rrclass = rrclass
    }

    public func encode(into writer: inout WireWriter) throws(WireError) {
        try writer.name(name)
        try writer.u16(type.rawValue)
        try writer.u16(rrclass.rawValue)
    }

    public static func decode(from reader: inout WireReader) throws(WireError) -> Question {
        Question(name: try reader.name("question name"), type: RRType(rawValue: try reader.u16("question type")),
                 rrclass: RRClass(rawValue: try reader.u16("question class")))
    }

    public var description: String { "\(name) \(rrclass) \(type)" }
}

/// The EDNS(0) OPT pseudo-record's meaning (RFC 6891 §6.1).
public struct EDNS: Hashable, Sendable {
    /// The smallest payload EDNS lets a requester advertise (RFC 6891 §6.2.5).
    @inlinable public static var minimumPayload: UInt16 { 512 }
    /// Default payload: fits in one unfragmented IPv6 packet (DNS flag day 2020).
    @inlinable public static var defaultPayload: UInt16 { 1232 }

    public var payloadSize: UInt16
    /// The upper 8 bits of the extended RCODE.
    public var extendedRCode: UInt8 = 0
    public var version: UInt8 = 0
    /// DNSSEC OK bit (RFC 3225).
    public var dnssecOK: Bool = false
    /// The DO bit in the OPT record's TTL field (RFC 3225 §3).
    @inlinable public static var dnssecOKBit: UInt32 { 0x8000 }
    /// Options as (code, data), kept for tests; the server ignores unknown ones.
    public var options: [EDNSOption] = []

    public init(payloadSize: UInt16 = EDNS.defaultPayload, extendedRCode: UInt8 = 0, version: UInt8 = 0,
                dnssecOK: Bool = false, options: [EDNSOption] = []) {
        self.payloadSize = payloadSize
        self.extendedRCode = extendedRCode
        self.version = version
        self.dnssecOK = dnssecOK
        self.options = options
    }

    /// The OPT record's TTL field: extended RCODE, version, DO and Z.
    public var ttlField: UInt32 {
        UInt32(extendedRCode) << 24 | UInt32(version) << 16 | (dnssecOK ? Self.dnssecOKBit : 0)
    }

    public func encode(into writer: inout WireWriter) throws(WireError) {
        try writer.u8(0)   // root owner name
        try writer.u16(RRType.opt.rawValue)
        try writer.u16(payloadSize)
        try writer.u32(ttlField)
        let total = options.reduce(0) { $0 + 4 + $1.data.count }
        guard total <= Int(UInt16.max) else { throw WireError(.valueTooLarge, field: "OPT rdata", offset: writer.count) }
        try writer.u16(UInt16(total))
        for option in options {
            try writer.u16(option.code)
            try writer.u16(UInt16(option.data.count))
            try writer.bytes(option.data)
        }
    }

    /// Interprets an OPT record already decoded as a generic record; `rdataOffset` is where
    /// its RDATA starts in the message, so errors name message offsets.
    public init(record: ResourceRecord, rdataOffset: Int = 0) throws(WireError) {
        payloadSize = record.rrclass.rawValue
        extendedRCode = UInt8(record.ttl >> 24)
        version = UInt8((record.ttl >> 16) & 0xFF)
        dnssecOK = record.ttl & Self.dnssecOKBit != 0
        guard case .unknown(_, let data) = record.data else { throw WireError(.invalid, field: "OPT", offset: 0) }
        var parsed: [EDNSOption] = []
        do throws(WireError) {
            try WireReader.with(data) { (reader) throws(WireError) in
                while !reader.isAtEnd {
                    let code = try reader.u16("EDNS option code")
                    let length = Int(try reader.u16("EDNS option length"))
                    parsed.append(EDNSOption(code: code, data: try reader.bytes(length, "EDNS option data")))
                }
            }
        } catch {
            throw WireError(error.kind, field: error.field, offset: rdataOffset + error.offset)
        }
        options = parsed
    }
}

public struct EDNSOption: Hashable, Sendable {
    public var code: UInt16
    public var data: [UInt8]
    public init(code: UInt16, data: [UInt8]) { self.code = code; self.data = data }
}

/// Length of a decoded OPT record's RDATA (it is kept as opaque bytes).
private func rdataLength(_ record: ResourceRecord) -> Int {
    if case .unknown(_, let data) = record.data { return data.count }
    return 0
}

/// A whole DNS message, decoded. The server's hot path does not build these (it reads the
/// query in place); tests, tools and the fuzzer do.
public struct Message: Hashable, Sendable {
    public var header: Header
    public var questions: [Question] = []
    public var answers: [ResourceRecord] = []
    public var authority: [ResourceRecord] = []
    /// Additional records other than OPT.
    public var additional: [ResourceRecord] = []
    public var edns: EDNS?

    public init(header: Header, questions: [Question] = [], answers: [ResourceRecord] = [],
                authority: [ResourceRecord] = [], additional: [ResourceRecord] = [], edns: EDNS? = nil) {
        self.header = header
        self.questions = questions
        self.answers = answers
        self.authority = authority
        self.additional = additional
        self.edns = edns
    }

    /// The full RCODE, joining the header's 4 bits and EDNS's upper 8.
    public var rcode: RCode {
        RCode(rawValue: UInt16(edns?.extendedRCode ?? 0) << 4 | UInt16(header.rcodeLow))
    }

    public static func decode(_ bytes: [UInt8]) throws(WireError) -> Message {
        try WireReader.with(bytes) { (reader) throws(WireError) in try decode(from: &reader) }
    }

    public static func decode(from reader: inout WireReader) throws(WireError) -> Message {
        var message = Message(header: try Header.decode(from: &reader))
        for _ in 0..<message.header.questionCount { message.questions.append(try Question.decode(from: &reader)) }
        // OPT belongs in the additional section only (RFC 6891 §6.1.1).
        func nonOPT(_ reader: inout WireReader) throws(WireError) -> ResourceRecord {
            let offset = reader.offset
            let record = try ResourceRecord.decode(from: &reader)
            guard record.type != .opt else { throw WireError(.invalid, field: "OPT", offset: offset) }
            return record
        }
        for _ in 0..<message.header.answerCount { message.answers.append(try nonOPT(&reader)) }
        for _ in 0..<message.header.authorityCount { message.authority.append(try nonOPT(&reader)) }
        for _ in 0..<message.header.additionalCount {
            let offset = reader.offset
            let record = try ResourceRecord.decode(from: &reader)
            if record.type == .opt {
                // RFC 6891 §6.1.1: at most one OPT, owned by the root.
                guard message.edns == nil, record.name.isRoot else {
                    throw WireError(.invalid, field: "OPT", offset: offset)
                }
                message.edns = try EDNS(record: record, rdataOffset: reader.offset - rdataLength(record))
            } else {
                message.additional.append(record)
            }
        }
        guard reader.isAtEnd else { throw WireError(.trailingBytes, field: "message", offset: reader.offset) }
        return message
    }

    /// Encodes with compression; section counts are taken from the arrays.
    public func encode(into writer: inout WireWriter) throws(WireError) {
        var header = self.header
        header.questionCount = UInt16(questions.count)
        header.answerCount = UInt16(answers.count)
        header.authorityCount = UInt16(authority.count)
        header.additionalCount = UInt16(additional.count + (edns == nil ? 0 : 1))
        try header.encode(into: &writer)
        for question in questions { try question.encode(into: &writer) }
        for record in answers { try record.encode(into: &writer) }
        for record in authority { try record.encode(into: &writer) }
        for record in additional { try record.encode(into: &writer) }
        try edns?.encode(into: &writer)
    }

    public func encoded() throws(WireError) -> [UInt8] {
        try WireWriter.build { (writer) throws(WireError) in try encode(into: &writer) }
    }
}
