import DNSWire
import Testing

/// Whole-message decoding: section counts against the bytes present, RDLENGTH, OPT placement.
@Suite struct MessageDecodeTests {
    /// `www.example.com. IN A`, RD set, 33 octets.
    static let query = header(qd: 1, flags: Header.rdBit) + wwwExampleCom + hex("0001 0001")

    @Test func validQuery() throws {
        let message = try Message.decode(Self.query)
        #expect(message.header.id == 0x1234)
        #expect(message.header.recursionDesired)
        #expect(message.questions == [Question(name: name("www.example.com."), type: .a)])
        #expect(message.answers.isEmpty && message.authority.isEmpty && message.additional.isEmpty)
        #expect(message.edns == nil)
        #expect(try message.encoded() == Self.query)
    }

    static let headerFields = ["header id", "header flags", "header qdcount", "header ancount", "header nscount", "header arcount"]

    @Test(arguments: 0..<Header.size)
    func truncatedHeader(_ length: Int) {
        let field = length / 2
        expectWireError(.truncated, at: field * 2, field: Self.headerFields[field]) { () throws(WireError) in
            try Message.decode(Array(Self.query.prefix(length)))
        }
    }

    @Test func questionCountLargerThanPresent() {
        var bytes = Self.query
        bytes[5] = 2
        expectWireError(.truncated, at: 33, field: "question name") { () throws(WireError) in try Message.decode(bytes) }
    }

    @Test func answerCountLargerThanPresent() {
        var bytes = Self.query
        bytes[7] = 1
        expectWireError(.truncated, at: 33, field: "RR name") { () throws(WireError) in try Message.decode(bytes) }
    }

    @Test func trailingBytes() {
        expectWireError(.trailingBytes, at: 33, field: "message") { () throws(WireError) in
            try Message.decode(Self.query + [0x00])
        }
    }

    /// A truncated fixed part of a record names the field that ran out.
    @Test(arguments: [(1, "RR type"), (3, "RR class"), (5, "RR ttl"), (9, "RR rdlength")])
    func truncatedRecordFields(_ present: Int, _ field: String) {
        let record = hex("00 0001 0001 0000003C 0004 C0000201")
        expectWireError(.truncated, at: 12 + present, field: field) { () throws(WireError) in
            try Message.decode(header(an: 1) + Array(record.prefix(present + 1)))
        }
    }

    @Test func rdlengthOverrunsMessage() {
        // RDLENGTH 5 with 4 octets left: the RDATA sub-reader cannot be made.
        let bytes = header(an: 1) + hex("00 0001 0001 0000003C 0005 C0000201")
        expectWireError(.truncated, at: 23, field: "RDATA") { () throws(WireError) in try Message.decode(bytes) }
    }

    @Test func rdataShorterThanTypeNeeds() {
        // RDLENGTH 2 for an A record, followed by a further record's worth of bytes that the
        // A decoder must not borrow.
        let bytes = header(an: 2) + hex("00 0001 0001 0000003C 0002 C000 | 00 0001 0001 0000003C 0004 C0000201")
        expectWireError(.truncated, at: 23, field: "A address") { () throws(WireError) in try Message.decode(bytes) }
    }

    @Test func rdataLongerThanTypeNeeds() {
        let bytes = header(an: 1) + hex("00 0001 0001 0000003C 0005 C0000201 FF")
        expectWireError(.trailingBytes, at: 27, field: "RDATA") { () throws(WireError) in try Message.decode(bytes) }
    }

    static let opt = hex("00 0029 04D0 00000000 0000")   // root, OPT, payload 1232, no options

    @Test func twoOPTRecords() {
        expectWireError(.invalid, at: 23, field: "OPT") { () throws(WireError) in
            try Message.decode(header(ar: 2) + Self.opt + Self.opt)
        }
    }

    @Test func optWithNonRootOwner() {
        expectWireError(.invalid, at: 12, field: "OPT") { () throws(WireError) in
            try Message.decode(header(ar: 1) + exampleCom + hex("0029 04D0 00000000 0000"))
        }
    }

    /// `WireError.Kind.invalid` documents "OPT outside additional" as invalid, and RFC 6891
    /// §6.1.1 places the OPT record in the additional section only.
    @Test(arguments: [(UInt16(1), UInt16(0)), (0, 1)])
    func optOutsideAdditionalIsRejected(_ an: UInt16, _ ns: UInt16) {
        expectWireError(.invalid, at: 12, field: "OPT") { () throws(WireError) in
            try Message.decode(header(an: an, ns: ns) + Self.opt)
        }
    }

    /// Non-OPT additional records keep their order around the OPT record.
    @Test func additionalAroundOPT() throws {
        let a = hex("00 0001 0001 00000001 0004 C0000201")
        let message = try Message.decode(header(ar: 3) + a + Self.opt + a)
        #expect(message.additional.count == 2)
        #expect(message.edns == EDNS(payloadSize: 1232))
        #expect(message.header.additionalCount == 3)
    }

    @Test func emptyMessageIsJustAHeader() throws {
        let message = try Message.decode(header())
        #expect(message == Message(header: Header(id: 0x1234)))
    }
}
