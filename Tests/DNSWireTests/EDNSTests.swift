import DNSWire
import Testing

/// The EDNS(0) OPT pseudo-record, RFC 6891 §6.1.
@Suite struct EDNSTests {
    static let question = Question(name: name("example.com."), type: .soa)

    @Test func knownBytesAndRoundTrip() throws {
        let edns = EDNS(payloadSize: 4096, dnssecOK: true, options: [
            EDNSOption(code: 10, data: [1, 2, 3, 4, 5, 6, 7, 8]),   // COOKIE, client part (RFC 7873)
            EDNSOption(code: 12, data: []),                          // PADDING, empty (RFC 7830)
        ])
        let message = Message(header: Header(id: 7, flags: Header.rdBit), questions: [Self.question], edns: edns)
        let bytes = try message.encoded()
        #expect(hexString(bytes) == hexString(hex("0007 0100 0001 0000 0000 0001") + exampleCom + hex("""
            0006 0001
            00 0029 1000 | 00 00 8000 | 0010 | 000A 0008 0102030405060708 | 000C 0000
            """)))
        let decoded = try Message.decode(bytes)
        #expect(decoded == counted(message))
        #expect(decoded.edns == edns)
    }

    @Test(arguments: [
        EDNS(payloadSize: 512),
        EDNS(payloadSize: 1232, version: 0, dnssecOK: false),
        EDNS(payloadSize: 65535, extendedRCode: 0xFF, version: 0xFF, dnssecOK: true),
        EDNS(payloadSize: 0, version: 1, options: [EDNSOption(code: 8, data: [0, 1, 24, 0, 192, 0, 2])]),
        EDNS(payloadSize: 1400, options: [EDNSOption(code: 65001, data: [UInt8](repeating: 0xAA, count: 300)),
                                          EDNSOption(code: 3, data: [])]),
    ])
    func fieldsRoundTrip(_ edns: EDNS) throws {
        let message = Message(header: Header(id: 1), questions: [Self.question], edns: edns)
        let decoded = try Message.decode(try message.encoded())
        #expect(decoded.edns == edns)
        #expect(decoded == counted(message))
    }

    /// TTL field layout: EXTENDED-RCODE, VERSION, DO, Z (RFC 6891 §6.1.3, RFC 3225).
    @Test func ttlFieldLayout() {
        #expect(EDNS(extendedRCode: 0x01, version: 0x02, dnssecOK: true).ttlField == 0x0102_8000)
        #expect(EDNS().ttlField == 0)
    }

    /// Z bits other than DO are ignored on receipt (RFC 6891 §6.1.4) and sent as zero.
    @Test func zBitsAreIgnored() throws {
        let bytes = header(ar: 1) + hex("00 0029 0200 | 00 00 7FFF | 0000")
        let edns = try #require(try Message.decode(bytes).edns)
        #expect(edns == EDNS(payloadSize: 512))
        #expect(edns.ttlField == 0)
    }

    @Test func badVersRCode() throws {
        // Header RCODE 0, EXTENDED-RCODE 1: BADVERS (16).
        let bytes = header(ar: 1, flags: Header.qrBit) + hex("00 0029 04D0 | 01 00 0000 | 0000")
        let message = try Message.decode(bytes)
        #expect(message.rcode == .badVers)
    }

    @Test func truncatedOptionHeaderIsRejected() {
        let bytes = header(ar: 1) + hex("00 0029 04D0 00000000 0003 | 000A 00")
        #expect(wireError { () throws(WireError) in try Message.decode(bytes) }?.kind == .truncated)
    }

    /// An option whose length overruns the OPT RDATA. The error should name the offset in the
    /// message (RDATA starts at 23; the option data at 27) like every other decoding error.
    @Test func optionOverrunNamesMessageOffset() {
        let bytes = header(ar: 1) + hex("00 0029 04D0 00000000 0006 | 000A 0004 0102")
        expectWireError(.truncated, at: 27, field: "EDNS option data") { () throws(WireError) in
            try Message.decode(bytes)
        }
    }

    /// Options longer than an RDATA can hold must be reported as an error, not trap on the
    /// UInt16 conversion of their total length (runs in a child process because it traps today).
    @Test func oversizedOptionsThrowInsteadOfTrapping() async {
        await #expect(processExitsWith: .success) {
            let edns = EDNS(options: [EDNSOption(code: 65001, data: [UInt8](repeating: 0, count: 65535))])
            let message = Message(header: Header(), edns: edns)
            do {
                _ = try message.encoded()
                fatalError("encoded an OPT record over 65535 octets")
            } catch {
                // Any WireError is the wanted outcome.
            }
        }
    }
}
