import DNSWire
import Testing

/// TXT RDATA: one or more <character-string>s of at most 255 octets, RFC 1035 §3.3.14.
@Suite struct RDataTXTTests {
    @Test func severalStringsIncludingEmptyAndEscapes() {
        let strings = [ascii("v=spf1 -all"), [], ascii("a\"b\\"), [0x0A, 0xFF]]
        expectRecord(
            ResourceRecord(name: name("example.com."), ttl: 300, data: .txt(strings)),
            encodesTo: exampleCom + hex("0010 0001 0000012C 0015 | 0B 763d73706631202d616c6c | 00 | 04 6122625c | 02 0AFF"),
            presentation: #"example.com. 300 IN TXT "v=spf1 -all" "" "a\"b\\" "\010\255""#)
    }

    @Test func singleEmptyString() {
        expectRecord(
            ResourceRecord(name: name("example.com."), ttl: 300, data: .txt([[]])),
            encodesTo: exampleCom + hex("0010 0001 0000012C 0001 | 00"),
            presentation: #"example.com. 300 IN TXT """#)
    }

    @Test func longestStringFits() throws {
        let record = ResourceRecord(name: .root, ttl: 0, data: .txt([[UInt8](repeating: 0x61, count: 255)]))
        let bytes = try encodeRecord(record)
        #expect(bytes.count == 11 + 256)
        #expect(Array(bytes[9..<12]) == [0x01, 0x00, 0xFF])
        #expect(try decodeRecord(bytes) == record)
    }

    @Test func stringOver255IsRejectedOnEncode() {
        let record = ResourceRecord(name: .root, ttl: 0, data: .txt([[UInt8](repeating: 0x61, count: 256)]))
        // Root owner (1) + type, class, ttl, rdlength (10): the string's length octet would be at 11.
        expectWireError(.valueTooLarge, at: 11, field: "TXT string") { () throws(WireError) in try encodeRecord(record) }
    }

    @Test func emptyRDataIsRejected() {
        // RFC 1035 requires at least one string; zero-length RDATA has none.
        expectWireError(.truncated, at: 11, field: "TXT length") { () throws(WireError) in
            try decodeRecord(hex("00 0010 0001 00000000 0000"))
        }
    }

    @Test func stringOverrunningRDataIsRejected() {
        expectWireError(.truncated, at: 12, field: "TXT string") { () throws(WireError) in
            try decodeRecord(hex("00 0010 0001 00000000 0003 | 05 6162"))
        }
    }
}
