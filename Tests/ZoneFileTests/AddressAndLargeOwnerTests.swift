import DNSWire
import Testing
import ZoneFile

/// The zone parser reads addresses from bytes; it must accept exactly what DNSWire's
/// `IPv4Address` and `IPv6Address` text parsers accept, and produce the same bytes.
struct AddressParsingTests {
    static let ipv6Inputs = [
        "::", "::1", "1::", "2001:db8::1", "2001:DB8:0:0:0:0:0:1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::",
        "::2:3:4:5:6:7:8", "::ffff:192.0.2.128", "1:2:3:4:5:6:192.0.2.1", "::192.0.2.1", "fe80::1:2",
        "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1::2::3", ":1", "1:", ":::", "12345::", "g::",
        "1.2.3.4", "1.2.3.4::", "::1.2.3", "::1.2.3.256", "1:2:3:4:5:6:7:1.2.3.4", "::ffff:1.2.3.4:5",
        "0:0:0:0:0:0:0:0", "00000::", "::0001", "1:::2", "1:2:3:4:5:6:7:8::",
    ]

    @Test(arguments: ipv6Inputs)
    func ipv6MatchesDNSWire(_ input: String) {
        let result = ZoneParser.parse(apex + "x AAAA \(input)\n", file: "test.example.zone", origin: nil)
        if let address = IPv6Address(input) {
            #expect((try? result.get())?.records.last?.description == "x.test.example. 300 IN AAAA \(address)")
        } else {
            #expect((try? result.get()) == nil)
        }
    }

    static let ipv4Inputs = [
        "192.0.2.1", "0.0.0.0", "255.255.255.255", "010.001.0.9", "0.01.0.0", "10.0.0.00", "256.0.0.1", "1.2.3", "1.2.3.4.5",
        "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.0004", "+1.2.3.4", "1.2.3.a", "",
    ]

    @Test(arguments: ipv4Inputs)
    func ipv4MatchesDNSWire(_ input: String) {
        let result = ZoneParser.parse(apex + "x A \(input)\n", file: "test.example.zone", origin: nil)
        if let address = IPv4Address(input) {
            #expect((try? result.get())?.records.last?.description == "x.test.example. 300 IN A \(address)")
        } else {
            #expect((try? result.get()) == nil)
        }
    }
}

/// Owners with many records switch from linear scans to hash indexes; both must agree.
struct LargeOwnerTests {
    @Test func duplicatesAndRRsetTTLsAtAnOwnerWithManyRecords() throws {
        var text = apex
        for i in 0..<40 { text += "big \(100 + i) A 192.0.2.\(i)\n" }
        for i in 0..<40 { text += "BIG 5 A 192.0.2.\(i)\n" }
        text += "big 7 TXT \"t\"\nbig 9 TXT \"u\"\n"
        let zone = try parseZone(text)
        let big = zone.records.dropFirst(3)
        #expect(big.count == 42)
        #expect(big.filter { $0.type == .a }.allSatisfy { $0.ttl == 100 })
        #expect(big.filter { $0.type == .txt }.map(\.description) == [
            "big.test.example. 7 IN TXT \"t\"", "big.test.example. 7 IN TXT \"u\"",
        ])
    }

    @Test func endpointWeightGivenOnADuplicateLineAtAnOwnerWithManyRecords() throws {
        var text = apex
        for i in 0..<20 { text += "api 30 A 192.0.2.\(i) endpoint=old\n" }
        text += "api 30 A 192.0.2.0 endpoint=old weight=10\n"
        text += "api 30 A 198.51.100.1 endpoint=new weight=0\n"
        let zone = try parseZone(text)
        #expect(zone.weighted.count == 1)
        #expect(zone.weighted[0].endpoints.map { "\($0.id) \($0.weight) \($0.records.count)" } == ["old 10 20", "new 0 1"])
    }
}
