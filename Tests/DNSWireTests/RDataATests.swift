import DNSWire
import Testing

/// A RDATA: four octets, RFC 1035 §3.4.1.
@Suite struct RDataATests {
    @Test func knownBytes() {
        expectRecord(
            ResourceRecord(name: name("www.example.com."), ttl: 60, data: .a(IPv4Address("192.0.2.1")!)),
            encodesTo: wwwExampleCom + hex("0001 0001 0000003C 0004 | C0 00 02 01"),
            presentation: "www.example.com. 60 IN A 192.0.2.1")
    }

    @Test(arguments: [3, 5])
    func wrongLengthIsRejected(_ length: Int) {
        let rdata = [UInt8](repeating: 7, count: length)
        let bytes = exampleCom + hex("0001 0001 0000003C") + [0, UInt8(length)] + rdata
        // RDATA starts at 13 + 10 = 23: too short reads past the sub-reader, too long leaves a byte.
        if length < 4 {
            expectWireError(.truncated, at: 23, field: "A address") { () throws(WireError) in try decodeRecord(bytes) }
        } else {
            expectWireError(.trailingBytes, at: 27, field: "RDATA") { () throws(WireError) in try decodeRecord(bytes) }
        }
    }
}
