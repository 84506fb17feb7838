import DNSWire
import Testing

/// Dotted-quad parsing and printing for A RDATA.
@Suite struct IPv4AddressTests {
    @Test(arguments: [
        ("192.0.2.1", [UInt8(192), 0, 2, 1]),
        ("0.0.0.0", [0, 0, 0, 0]),
        ("255.255.255.255", [255, 255, 255, 255]),
        ("10.0.0.255", [10, 0, 0, 255]),
    ])
    func valid(_ text: String, _ bytes: [UInt8]) throws {
        let address = try #require(IPv4Address(text))
        #expect(address.bytes == bytes)
        #expect(address.description == text)
    }

    /// Leading zeros are refused, as inet_pton does: `010` is 8 to inet_aton and 10 to
    /// others, and a zone file should not depend on which.
    @Test(arguments: ["01.2.3.4", "001.002.003.004", "192.000.02.010"])
    func leadingZerosAreRefused(_ text: String) {
        #expect(IPv4Address(text) == nil)
    }

    @Test func zeroOctetsAreFine() throws {
        #expect(try #require(IPv4Address("0.0.0.0")).description == "0.0.0.0")
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.-1", "1.2.3.+1", "1..3.4", ".1.2.3", "1.2.3.",
        "1.2.3.4 ", " 1.2.3.4", "0x1.2.3.4", "1.2.3.a", "0001.2.3.4", "1.2.3.٤", "１.2.3.4", "1.2.3.4/24",
        "4294967295", "::1",
    ])
    func invalid(_ text: String) {
        #expect(IPv4Address(text) == nil)
    }

    @Test(arguments: [[UInt8](), [1, 2, 3], [1, 2, 3, 4, 5]])
    func wrongByteCount(_ bytes: [UInt8]) {
        #expect(IPv4Address(bytes: bytes) == nil)
    }
}
