import Posix
import Testing

/// CIDR prefixes for `--status-query-from`.
struct AddressPrefixTests {
    func address(_ text: String) throws -> SocketAddress { try SocketAddress(parsing: text) }

    @Test(arguments: [
        ("10.0.0.0/8", "10.200.3.4:53", true),
        ("10.0.0.0/8", "11.0.0.1:53", false),
        ("192.0.2.128/25", "192.0.2.200:1", true),
        ("192.0.2.128/25", "192.0.2.127:1", false),
        ("192.0.2.7", "192.0.2.7:9", true),
        ("192.0.2.7", "192.0.2.8:9", false),
        ("0.0.0.0/0", "203.0.113.9:1", true),
        ("2001:db8::/32", "[2001:db8:ffff::1]:53", true),
        ("2001:db8::/32", "[2001:db9::1]:53", false),
        ("2001:db8::1", "[2001:db8::1]:53", true),
        ("10.0.0.0/8", "[::ffff:10.1.2.3]:53", true),
        ("10.0.0.0/8", "[::ffff:11.1.2.3]:53", false),
        ("10.0.0.0/8", "[2001:db8::a00:1]:53", false),
        ("2001:db8::/32", "10.0.0.1:53", false),
    ])
    func matches(prefix: String, candidate: String, expected: Bool) throws {
        #expect(try AddressPrefix(parsing: prefix).contains(address(candidate)) == expected)
    }

    @Test(arguments: ["10.0.0.0/33", "2001:db8::/129", "10.0.0.1/8", "10.0.0.0/", "not-an-ip/8", "10.0.0.0/x", "", "/8"])
    func refusesBadPrefixes(_ text: String) {
        #expect(throws: SocketAddress.ParseError.self) { try AddressPrefix(parsing: text) }
    }

    @Test func printsInCIDRForm() throws {
        #expect(try AddressPrefix(parsing: "10.0.0.0/8").description == "10.0.0.0/8")
        #expect(try AddressPrefix(parsing: "2001:db8::/32").description == "2001:db8::/32")
        #expect(try AddressPrefix(parsing: "192.0.2.7").description == "192.0.2.7/32")
    }
}
