import DNSWire
import Testing

/// MX RDATA: PREFERENCE then EXCHANGE, RFC 1035 §3.3.9.
@Suite struct RDataMXTests {
    @Test func knownBytes() {
        expectRecord(
            ResourceRecord(name: name("example.com."), ttl: 3600, data: .mx(preference: 10, exchange: name("mail.example.com."))),
            encodesTo: exampleCom + hex("000F 0001 00000E10 0009 | 000A | 04 6d61696c C000"),
            presentation: "example.com. 3600 IN MX 10 mail.example.com.")
    }

    @Test func nullMX() {
        // RFC 7505: preference 0, exchange the root.
        expectRecord(
            ResourceRecord(name: name("example.com."), ttl: 3600, data: .mx(preference: 0, exchange: .root)),
            encodesTo: exampleCom + hex("000F 0001 00000E10 0003 | 0000 | 00"),
            presentation: "example.com. 3600 IN MX 0 .")
    }

    @Test func trailingByteAfterExchange() {
        let bytes = exampleCom + hex("000F 0001 00000E10 0004 | 000A 00 | FF")
        expectWireError(.trailingBytes, at: 26, field: "RDATA") { () throws(WireError) in try decodeRecord(bytes) }
    }
}
