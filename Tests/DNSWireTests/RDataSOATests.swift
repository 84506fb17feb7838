import DNSWire
import Testing

/// SOA RDATA: MNAME, RNAME and five 32-bit fields, RFC 1035 §3.3.13.
@Suite struct RDataSOATests {
    @Test func knownBytes() {
        let soa = SOAData(mname: name("ns1.example.com."), rname: name("hostmaster.example.com."),
                          serial: 2024010101, refresh: 7200, retry: 3600, expire: 1209600, minimum: 300)
        expectRecord(
            ResourceRecord(name: name("example.com."), ttl: 3600, data: .soa(soa)),
            encodesTo: exampleCom + hex("""
                0006 0001 00000E10 0027
                03 6e7331 C000
                0a 686f73746d6173746572 C000
                78a3f175 00001C20 00000E10 00127500 0000012C
                """),
            presentation: "example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300")
    }

    @Test func missingMinimumIsTruncated() {
        let bytes = hex("00 0006 0001 00000000 0012 | 00 00 | 00000001 00000002 00000003 00000004")
        expectWireError(.truncated, at: 29, field: "SOA minimum") { () throws(WireError) in try decodeRecord(bytes) }
    }
}
