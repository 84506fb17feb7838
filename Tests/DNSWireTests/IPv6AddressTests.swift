import DNSWire
import Testing

/// RFC 4291 §2.2 parsing and RFC 5952 §4 printing for AAAA RDATA.
@Suite struct IPv6AddressTests {
    @Test(arguments: [
        ("::", "0000 0000 0000 0000 0000 0000 0000 0000"),
        ("::1", "0000 0000 0000 0000 0000 0000 0000 0001"),
        ("1::", "0001 0000 0000 0000 0000 0000 0000 0000"),
        ("2001:db8::1", "2001 0db8 0000 0000 0000 0000 0000 0001"),
        ("2001:DB8:0:0:0:0:0:1", "2001 0db8 0000 0000 0000 0000 0000 0001"),
        ("2001:0db8:0000:0000:0000:ff00:0042:8329", "2001 0db8 0000 0000 0000 ff00 0042 8329"),
        ("fe80::1:2", "fe80 0000 0000 0000 0000 0000 0001 0002"),
        ("1:2:3:4:5:6:7::", "0001 0002 0003 0004 0005 0006 0007 0000"),   // `::` for one group (RFC 4291)
        ("::2:3:4:5:6:7:8", "0000 0002 0003 0004 0005 0006 0007 0008"),
        ("::ffff:192.0.2.1", "0000 0000 0000 0000 0000 ffff c000 0201"),
        ("::192.0.2.1", "0000 0000 0000 0000 0000 0000 c000 0201"),
        ("64:ff9b::192.0.2.33", "0064 ff9b 0000 0000 0000 0000 c000 0221"),
        ("1:2:3:4:5:6:192.0.2.1", "0001 0002 0003 0004 0005 0006 c000 0201"),
        ("1:2:3:4:5:6:7:8", "0001 0002 0003 0004 0005 0006 0007 0008"),
    ])
    func valid(_ text: String, _ bytes: String) throws {
        #expect(try #require(IPv6Address(text)).bytes == hex(bytes))
    }

    @Test(arguments: [
        "", ":", ":::", "1:::2", "1::2::3", "::1::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "12345::", "g::", "::fffg", "1:2:3:4:5:6:7:", ":1:2:3:4:5:6:7",
        ":1::", "1::2:", "+1::", "-1::", "0x1::", "::1.2.3", "::256.0.0.1", "1.2.3.4::", "::1.2.3.4:5",
        "1:2:3:4:5:6:7:1.2.3.4", "::ffff:01.2.3.4.5", "fe80::1%eth0", "::1/128", " ::1", "[::1]", "ＦＦ::",
    ])
    func invalid(_ text: String) {
        #expect(IPv6Address(text) == nil)
    }

    /// RFC 5952 §4: lowercase, no leading zeros, the longest run of two or more zero groups
    /// (the first when tied) as `::`, a lone zero group written as `0`.
    @Test(arguments: [
        ("0000 0000 0000 0000 0000 0000 0000 0000", "::"),
        ("0000 0000 0000 0000 0000 0000 0000 0001", "::1"),
        ("0001 0000 0000 0000 0000 0000 0000 0000", "1::"),
        ("2001 0DB8 0000 0000 0000 0000 0000 0001", "2001:db8::1"),
        ("2001 0db8 0000 0000 0001 0000 0000 0001", "2001:db8::1:0:0:1"),        // §4.2.3: first of equal runs
        ("2001 0db8 0000 0001 0000 0000 0000 0001", "2001:db8:0:1::1"),          // §4.2.3: longest run
        ("2001 0db8 0000 0001 0001 0001 0001 0001", "2001:db8:0:1:1:1:1:1"),     // §4.2.2: not for one group
        ("2001 0db8 00AB 0000 0000 0000 0000 0001", "2001:db8:ab::1"),           // §4.1: no leading zeros
        ("0000 0001 0000 0000 0000 0000 0000 0000", "0:1::"),
        ("ffff ffff ffff ffff ffff ffff ffff ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("0001 0000 0002 0000 0003 0000 0004 0000", "1:0:2:0:3:0:4:0"),
    ])
    func rfc5952Formatting(_ bytes: String, _ text: String) throws {
        let address = try #require(IPv6Address(bytes: hex(bytes)))
        #expect(address.description == text)
        #expect(IPv6Address(text) == address, "the printed form parses back")
    }

    /// RFC 5952 §5 recommends `::ffff:192.0.2.1` for IPv4-mapped addresses; the codec prints
    /// every address in hexadecimal groups, which §4 allows and which still parses back.
    @Test func ipv4MappedPrintsInHex() throws {
        let address = try #require(IPv6Address("::ffff:192.0.2.1"))
        #expect(address.description == "::ffff:c000:201")
        #expect(IPv6Address(address.description) == address)
    }

    @Test(arguments: [[UInt8](), [UInt8](repeating: 0, count: 4), [UInt8](repeating: 0, count: 15), [UInt8](repeating: 0, count: 17)])
    func wrongByteCount(_ bytes: [UInt8]) {
        #expect(IPv6Address(bytes: bytes) == nil)
    }
}
