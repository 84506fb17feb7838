import DNSWire
import Testing

/// Name compression on encode (RFC 1035 §4.1.4) and decompression on decode.
@Suite struct CompressionTests {
    /// An authoritative answer whose four names share `example.com.`.
    static let answer = Message(
        header: Header(id: 0x1234, flags: Header.qrBit | Header.aaBit),
        questions: [Question(name: name("www.example.com."), type: .a)],
        answers: [ResourceRecord(name: name("www.example.com."), ttl: 60, data: .a(IPv4Address("192.0.2.1")!))],
        authority: [ResourceRecord(name: name("example.com."), ttl: 3600, data: .ns(name("ns1.example.com.")))],
        additional: [ResourceRecord(name: name("ns1.example.com."), ttl: 3600, data: .a(IPv4Address("192.0.2.53")!))])

    @Test func sharedSuffixesBecomePointers() throws {
        let expected = hex("""
            1234 8400 0001 0001 0001 0001
            03 777777 07 6578616d706c65 03 636f6d 00  0001 0001
            C00C  0001 0001 0000003C 0004 C0000201
            C010  0002 0001 00000E10 0006 03 6e7331 C010
            C03D  0001 0001 00000E10 0004 C0000235
            """)
        // offset 12: www.example.com. (example.com. at 16); 33: answer; 49: authority, whose
        // RDATA `ns1` label lands at 61 = 0x3D; 67: additional.
        let bytes = try Self.answer.encoded()
        #expect(hexString(bytes) == hexString(expected))
        #expect(bytes.count == 83)
    }

    @Test func decodeRestoresNames() throws {
        let decoded = try Message.decode(try Self.answer.encoded())
        #expect(decoded == counted(Self.answer))
        #expect(decoded.answers.map(\.description) == ["www.example.com. 60 IN A 192.0.2.1"])
        #expect(decoded.authority.map(\.description) == ["example.com. 3600 IN NS ns1.example.com."])
        #expect(decoded.additional.map(\.description) == ["ns1.example.com. 3600 IN A 192.0.2.53"])
    }

    /// Suffixes match ignoring ASCII case (RFC 4343); a decoded pointer carries the case of its target.
    @Test func suffixMatchIgnoresCase() throws {
        let message = Message(
            header: Header(id: 1),
            questions: [Question(name: name("WWW.Example.COM."), type: .mx)],
            answers: [
                ResourceRecord(name: name("www.example.com."), ttl: 60, data: .cname(name("mail.EXAMPLE.com."))),
            ])
        let bytes = try message.encoded()
        #expect(hexString(bytes) == hexString(hex("""
            0001 0000 0001 0001 0000 0000
            03 575757 07 4578616d706c65 03 434f4d 00  000F 0001
            C00C  0005 0001 0000003C 0007 04 6d61696c C010
            """)))
        let decoded = try Message.decode(bytes)
        #expect(decoded == counted(message))
        #expect(decoded.answers[0].description == "WWW.Example.COM. 60 IN CNAME mail.Example.COM.")
    }

    /// A name whose suffix was itself written compressed gets a pointer to a pointer chain.
    @Test func pointerToCompressedName() throws {
        let message = Message(
            header: Header(id: 2),
            questions: [Question(name: name("www.example.com."), type: .a)],
            answers: [
                ResourceRecord(name: name("a.www.example.com."), ttl: 1, data: .ptr(name("b.a.www.example.com."))),
            ])
        let bytes = try message.encoded()
        // 33: `a` + pointer to 12; RDATA at 47: `b` + pointer to 33.
        #expect(hexString(bytes) == hexString(hex("""
            0002 0000 0001 0001 0000 0000
            03 777777 07 6578616d706c65 03 636f6d 00  0001 0001
            01 61 C00C  000C 0001 00000001 0004 01 62 C021
            """)))
        let decoded = try Message.decode(bytes)
        #expect(decoded == counted(message))
        #expect(decoded.answers[0].description == "a.www.example.com. 1 IN PTR b.a.www.example.com.")
    }

    /// RFC 2782 and RFC 3597 §4: the SRV target is written in full, and later names do not
    /// point into it either.
    @Test func srvTargetNeverCompressed() throws {
        let message = Message(
            header: Header(id: 3, flags: Header.qrBit),
            questions: [Question(name: name("_sip._tcp.example.com."), type: .srv)],
            answers: [ResourceRecord(name: name("_sip._tcp.example.com."), ttl: 3600,
                                     data: .srv(priority: 10, weight: 20, port: 5060, target: name("sip.example.com.")))],
            additional: [ResourceRecord(name: name("sip.example.com."), ttl: 3600, data: .a(IPv4Address("192.0.2.2")!))])
        let bytes = try message.encoded()
        // 12: question name, `example.com.` at 22 = 0x16; 39: answer, SRV target at 57;
        // 74: additional, pointing at the question's `example.com.`, not into the SRV target.
        #expect(hexString(bytes) == hexString(hex("""
            0003 8000 0001 0001 0000 0001
            04 5f736970 04 5f746370 07 6578616d706c65 03 636f6d 00  0021 0001
            C00C  0021 0001 00000E10 0017 000A 0014 13C4 03 736970 07 6578616d706c65 03 636f6d 00
            03 736970 C016  0001 0001 00000E10 0004 C0000202
            """)))
        #expect(try Message.decode(bytes) == counted(message))
    }

    /// RFC 3597 §4: the only compressible RDATA names are those of the RFC 1035 types.
    @Test(arguments: [(RRType.ns, true), (.cname, true), (.soa, true), (.ptr, true), (.mx, true),
                      (.srv, false), (.a, false), (.txt, false), (.caa, false), (RRType(rawValue: 65534), false)])
    func compressibleTypes(_ type: RRType, _ compressible: Bool) {
        #expect(type.rdataNamesCompressible == compressible)
    }

    /// Pointers hold 14 bits: a name written past offset 0x3FFF is not remembered.
    @Test func namesPastPointerRangeAreNotTargets() throws {
        let bytes = try WireWriter.build { (writer) throws(WireError) in
            try writer.bytes([UInt8](repeating: 0, count: WireWriter.maxPointerOffset + 1))
            try writer.name(name("example.com."))
            try writer.name(name("example.com."))
        }
        #expect(Array(bytes[0x4000...]) == exampleCom + exampleCom)
    }

    /// A rewound record's names are forgotten, so nothing points into bytes that will be overwritten.
    @Test func rewindForgetsTargets() throws {
        let bytes = try WireWriter.build { (writer) throws(WireError) in
            try writer.name(name("example.com."))       // 0
            let mark = writer.count                      // 13
            try writer.name(name("www.example.com."))   // 13: `www` + C000
            writer.rewind(to: mark)
            try writer.u8(0xEE)                          // 13: overwrites `www`
            try writer.name(name("www.example.com."))   // 14: must not point at 13
        }
        #expect(hexString(bytes) == hexString(exampleCom + hex("EE 03 777777 C000")))
    }

    @Test func uncompressedOwnerWhenAsked() throws {
        let record = ResourceRecord(name: name("www.example.com."), ttl: 60, data: .a(IPv4Address("192.0.2.1")!))
        let bytes = try WireWriter.build { (writer) throws(WireError) in
            try writer.name(name("www.example.com."))
            try record.encode(into: &writer, compress: false)
        }
        #expect(bytes == wwwExampleCom + wwwExampleCom + hex("0001 0001 0000003C 0004 C0000201"))
    }

    /// A name copied into the message in whole (a record ready-made) becomes a compression
    /// target as if written with `name(_:)`, once the next name is written; a name written
    /// before any such call, or after a rewind past the copy, cannot point into it.
    @Test func aCopiedNameBecomesATarget() throws {
        func written(register: Bool, rewind: Bool = false) throws -> [UInt8] {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
            defer { buffer.deallocate() }
            var writer = WireWriter(buffer)
            try writer.bytes(hex("0000 0000 0001 0000 0000 0000"))
            try writer.bytes(name("www.example.com.").wire + hex("0001 0001"))
            writer.addCompressionTargets(suffixesOfNameAt: Header.size)
            // At 33: `mail` and a pointer to `example.com.` in the question.
            try writer.bytes(hex("04 6d61696c C010"))
            if register { writer.addCompressionTargets(ofNameAt: 33) }
            if rewind { writer.rewind(to: 33) }
            try writer.name(name("mail.example.com."))
            return Array(buffer[33..<writer.count])
        }
        #expect(hexString(try written(register: true)) == hexString(hex("04 6d61696c C010 C021")))
        #expect(hexString(try written(register: false)) == hexString(hex("04 6d61696c C010 04 6d61696c C010")))
        #expect(hexString(try written(register: true, rewind: true)) == hexString(hex("04 6d61696c C010")))
    }
}
