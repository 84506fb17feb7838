import DNSWire
import Testing

/// Types the codec does not know are kept as opaque bytes, RFC 3597 §2 and §5.
@Suite struct RDataUnknownTypeTests {
    @Test func opaqueBytes() {
        expectRecord(
            ResourceRecord(name: name("example.com."), ttl: 3600,
                           data: .unknown(type: RRType(rawValue: 65534), data: [0xAB, 0xCD, 0xEF])),
            encodesTo: exampleCom + hex("FFFE 0001 00000E10 0003 | ABCDEF"),
            presentation: ##"example.com. 3600 IN TYPE65534 \# 3 ABCDEF"##)
    }

    @Test func emptyRData() {
        expectRecord(
            ResourceRecord(name: name("example.com."), ttl: 3600, data: .unknown(type: RRType(rawValue: 65280), data: [])),
            encodesTo: exampleCom + hex("FF00 0001 00000E10 0000"),
            presentation: ##"example.com. 3600 IN TYPE65280 \# 0"##)
    }

    @Test func unknownClassPrintsGenerically() {
        expectRecord(
            ResourceRecord(name: name("example.com."), rrclass: RRClass(rawValue: 42), ttl: 0,
                           data: .unknown(type: RRType(rawValue: 999), data: [0x00, 0x0A])),
            encodesTo: exampleCom + hex("03E7 002A 00000000 0002 | 000A"),
            presentation: ##"example.com. 0 CLASS42 TYPE999 \# 2 000A"##)
    }

    /// A known type's mnemonic is printed even for a type the codec keeps opaque (DS here).
    @Test func knownMnemonicOpaqueData() {
        expectRecord(
            ResourceRecord(name: name("example.com."), ttl: 60, data: .unknown(type: .ds, data: [0x01])),
            encodesTo: exampleCom + hex("002B 0001 0000003C 0001 | 01"),
            presentation: ##"example.com. 60 IN DS \# 1 01"##)
    }

    /// Bytes that look like a compression pointer are not followed in unknown RDATA.
    @Test func pointerLookingBytesAreNotDecompressed() throws {
        let bytes = exampleCom + hex("FFFE 0001 00000000 0002 | C000")
        #expect(try decodeRecord(bytes).data == .unknown(type: RRType(rawValue: 65534), data: [0xC0, 0x00]))
    }
}
