import DNSWire
import Testing

/// NS, CNAME and PTR: RDATA is one domain name, compressible (RFC 1035 §3.3.11, §3.3.1, §3.3.12).
@Suite struct RDataSingleNameTests {
    /// The owner `example.com.` sits at offset 0, so `ns1.example.com.` compresses to `ns1` + pointer to 0.
    @Test func nsCompressesAgainstOwner() {
        expectRecord(
            ResourceRecord(name: name("example.com."), ttl: 3600, data: .ns(name("ns1.example.com."))),
            encodesTo: exampleCom + hex("0002 0001 00000E10 0006 | 03 6e7331 C000"),
            presentation: "example.com. 3600 IN NS ns1.example.com.")
    }

    /// `example.com.` inside the owner `www.example.com.` starts at offset 4.
    @Test func cnameCompressesAgainstOwnerSuffix() {
        expectRecord(
            ResourceRecord(name: name("www.example.com."), ttl: 300, data: .cname(name("web.example.com."))),
            encodesTo: wwwExampleCom + hex("0005 0001 0000012C 0006 | 03 776562 C004"),
            presentation: "www.example.com. 300 IN CNAME web.example.com.")
    }

    /// No shared suffix: the target is written in full.
    @Test func ptrWithoutSharedSuffix() {
        let owner = hex("01 31 01 32 01 30 03 313932 07 696e2d61646472 04 61727061 00")
        expectRecord(
            ResourceRecord(name: name("1.2.0.192.in-addr.arpa."), ttl: 86400, data: .ptr(name("www.example.com."))),
            encodesTo: owner + hex("000C 0001 00015180 0011") + wwwExampleCom,
            presentation: "1.2.0.192.in-addr.arpa. 86400 IN PTR www.example.com.")
    }

    @Test func uncompressedWhenAsked() throws {
        let record = ResourceRecord(name: name("example.com."), ttl: 3600, data: .ns(name("ns1.example.com.")))
        let bytes = try WireWriter.build { (writer) throws(WireError) in try record.encode(into: &writer, compress: false) }
        #expect(bytes == exampleCom + hex("0002 0001 00000E10 0011 | 03 6e7331") + exampleCom)
        #expect(try decodeRecord(bytes) == record)
    }

    @Test func nameLongerThanRDataIsTruncated() {
        // RDLENGTH 4 cuts `ns1.example.com.` short; the name may not read past its RDATA.
        let bytes = exampleCom + hex("0002 0001 00000E10 0004 | 03 6e7331")
        expectWireError(.truncated, at: 27, field: "NS nsdname") { () throws(WireError) in try decodeRecord(bytes) }
    }
}
