import DNSWire
import Testing

/// CAA RDATA: flags, tag length, tag, value to the end, RFC 8659 §4.1.
@Suite struct RDataCAATests {
    @Test func issue() {
        expectRecord(
            ResourceRecord(name: name("example.com."), ttl: 3600,
                           data: .caa(flags: 0, tag: ascii("issue"), value: ascii("letsencrypt.org"))),
            encodesTo: exampleCom + hex("0101 0001 00000E10 0016 | 00 05 6973737565 6c657473656e63727970742e6f7267"),
            presentation: #"example.com. 3600 IN CAA 0 issue "letsencrypt.org""#)
    }

    @Test func criticalIodef() {
        expectRecord(
            ResourceRecord(name: name("example.com."), ttl: 3600,
                           data: .caa(flags: 128, tag: ascii("iodef"), value: ascii("mailto:security@example.com"))),
            encodesTo: exampleCom + hex("0101 0001 00000E10 0022 | 80 05 696f646566")
                + ascii("mailto:security@example.com"),
            presentation: #"example.com. 3600 IN CAA 128 iodef "mailto:security@example.com""#)
    }

    @Test func emptyValue() {
        expectRecord(
            ResourceRecord(name: name("example.com."), ttl: 60, data: .caa(flags: 0, tag: ascii("issue"), value: [])),
            encodesTo: exampleCom + hex("0101 0001 0000003C 0007 | 00 05 6973737565"),
            presentation: #"example.com. 60 IN CAA 0 issue """#)
    }

    @Test func tagOverrunningRDataIsTruncated() {
        expectWireError(.truncated, at: 13, field: "CAA tag") { () throws(WireError) in
            try decodeRecord(hex("00 0101 0001 00000000 0004 | 00 05 6973"))
        }
    }
}
