import DNSWire
import Testing

/// The EDNS Client Subnet option (RFC 7871 §6): read, validated, written back with a scope.
struct ClientSubnetTests {
    func read(_ data: [UInt8]) throws(WireError) -> ClientSubnet {
        try WireReader.with(data) { (reader: inout WireReader) throws(WireError) in try ClientSubnet.read(&reader) }
    }

    @Test func anIPv4PrefixIsReadWithItsOctetsOnly() throws {
        // FAMILY 1, SOURCE 24, SCOPE 0, 192.0.2.
        let subnet = try read([0, 1, 24, 0, 192, 0, 2])
        #expect(subnet == ClientSubnet(family: 1, sourceLength: 24, high: 0xC000_0200_0000_0000))
        #expect(subnet.addressLength == 3 && subnet.optionSize == 11)
    }

    @Test func anIPv6PrefixIsRead() throws {
        let subnet = try read([0, 2, 56, 0, 0x20, 0x01, 0x0D, 0xB8, 0, 1, 0x23])
        #expect(subnet.isIPv6 && subnet.sourceLength == 56 && subnet.high == 0x2001_0DB8_0001_2300)
        let full = try read([0, 2, 128, 0] + [UInt8](repeating: 0xAB, count: 16))
        #expect(full.high == 0xABAB_ABAB_ABAB_ABAB && full.low == 0xABAB_ABAB_ABAB_ABAB)
    }

    @Test func aZeroSourcePrefixHasNoAddress() throws {
        #expect(try read([0, 1, 0, 0]).addressLength == 0)
    }

    @Test func theQuerysScopeIsIgnored() throws {
        #expect(try read([0, 1, 24, 24, 192, 0, 2]).sourceLength == 24)
    }

    @Test(arguments: [
        ([UInt8]([0, 3, 0, 0]), "family 3"),
        ([0, 1, 33, 0, 1, 2, 3, 4, 5], "a source prefix past 32 bits"),
        ([0, 2, 129, 0] + [UInt8](repeating: 0, count: 17), "a source prefix past 128 bits"),
        ([0, 1, 24, 0, 192, 0], "too few address octets"),
        ([0, 1, 24, 0, 192, 0, 2, 0], "too many address octets"),
        ([0, 1, 23, 0, 192, 0, 3], "a bit set past /23"),
        ([0, 1, 0, 0, 0], "an address octet with a /0"),
        ([0, 2, 60, 0, 0x20, 0x01, 0x0D, 0xB8, 0, 1, 0x23, 0x4F], "a bit set past /60"),
        ([0, 1, 24], "no scope octet"),
    ])
    func malformedOptionsAreRejected(data: [UInt8], why: String) {
        #expect(throws: WireError.self, "\(why)") { _ = try read(data) }
    }

    @Test func writingEchoesTheQueryWithTheScope() throws {
        let subnet = try read([0, 1, 22, 0, 198, 51, 100])
        let bytes = try WireWriter.build { (writer: inout WireWriter) throws(WireError) in try subnet.write(into: &writer, scope: 22) }
        #expect(bytes == [0, 8, 0, 7, 0, 1, 22, 22, 198, 51, 100])
        let v6 = try read([0, 2, 48, 0, 0x20, 0x01, 0x0D, 0xB8, 0, 1])
        let written = try WireWriter.build { (writer: inout WireWriter) throws(WireError) in try v6.write(into: &writer, scope: 0) }
        #expect(written == [0, 8, 0, 10, 0, 2, 48, 0, 0x20, 0x01, 0x0D, 0xB8, 0, 1])
    }
}
