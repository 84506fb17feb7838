import DNSWire
import Testing

/// AAAA RDATA: sixteen octets, RFC 3596 §2.2.
@Suite struct RDataAAAATests {
    @Test func knownBytes() {
        expectRecord(
            ResourceRecord(name: name("www.example.com."), ttl: 60, data: .aaaa(IPv6Address("2001:db8::1")!)),
            encodesTo: wwwExampleCom + hex("001C 0001 0000003C 0010 | 2001 0db8 0000 0000 0000 0000 0000 0001"),
            presentation: "www.example.com. 60 IN AAAA 2001:db8::1")
    }

    @Test(arguments: [15, 17])
    func wrongLengthIsRejected(_ length: Int) {
        let bytes = exampleCom + hex("001C 0001 0000003C") + [0, UInt8(length)] + [UInt8](repeating: 0, count: length)
        if length < 16 {
            expectWireError(.truncated, at: 23, field: "AAAA address") { () throws(WireError) in try decodeRecord(bytes) }
        } else {
            expectWireError(.trailingBytes, at: 39, field: "RDATA") { () throws(WireError) in try decodeRecord(bytes) }
        }
    }
}
