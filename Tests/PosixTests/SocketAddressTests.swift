import Posix
import Testing

@Suite struct SocketAddressTests {
    @Test(arguments: ["127.0.0.1:5353", "[::1]:5353", "0.0.0.0:53", "[::]:0", "192.0.2.255:65535",
                      "[2001:db8::1]:853", "[::ffff:192.0.2.1]:53"])
    func roundTrip(text: String) throws {
        let address = try SocketAddress(parsing: text)
        #expect(address.description == text)
        #expect(try SocketAddress(parsing: address.description) == address)
    }

    @Test func ipv6IsPrintedCanonically() throws {
        #expect(try SocketAddress(parsing: "[2001:0db8:0:0:0:0:0:0001]:53").description == "[2001:db8::1]:53")
    }

    @Test(arguments: [
        ("", "missing port"),
        ("127.0.0.1", "missing port"),
        ("127.0.0.1:", "missing port"),
        ("127.0.0.1:65536", "is not a number from 0 to 65535"),
        ("127.0.0.1:-1", "is not a number from 0 to 65535"),
        ("127.0.0.1:5x", "is not a number from 0 to 65535"),
        ("::1:53", "IPv6 addresses need brackets"),
        ("[::1]", "missing port after"),
        ("[::1:53", "missing \"]\""),
        ("256.0.0.1:53", "is not an IPv4 address"),
        ("example.com:53", "is not an IPv4 address"),
        ("[127.0.0.1]:53", "is not an IPv6 address"),
        (":53", "missing host"),
        ("[fe80::1%eth0]:53", "zone ids are not supported"),
    ])
    func rejectsBadInput(text: String, reason: String) {
        #expect {
            try SocketAddress(parsing: text)
        } throws: { error in
            let message = "\(error)"
            return message.contains(reason) && message.contains("\"\(text)\"")
        }
    }

    @Test func properties() throws {
        let v4 = try SocketAddress(parsing: "127.0.0.2:53")
        #expect(v4.port == 53 && !v4.isIPv6 && v4.isLoopback)
        let v6 = try SocketAddress(parsing: "[::1]:5353")
        #expect(v6.port == 5353 && v6.isIPv6 && v6.isLoopback)
        #expect(try SocketAddress(parsing: "[::ffff:127.0.0.1]:1").isLoopback)
        #expect(try !SocketAddress(parsing: "192.0.2.1:1").isLoopback)
        #expect(try !SocketAddress(parsing: "[2001:db8::1]:1").isLoopback)
    }

    @Test func addressBytes() throws {
        let v4 = try SocketAddress(parsing: "192.0.2.7:53")
        #expect(v4.withAddressBytes { Array($0) } == [192, 0, 2, 7])
        let v6 = try SocketAddress(parsing: "[2001:db8::ff]:53")
        #expect(v6.withAddressBytes { Array($0) } == [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [0xff])
    }

    @Test func hashableDistinguishesPortAndFamily() throws {
        let set: Set = [try SocketAddress(parsing: "127.0.0.1:1"), try SocketAddress(parsing: "127.0.0.1:2"),
                        try SocketAddress(parsing: "[::1]:1"), try SocketAddress(parsing: "127.0.0.1:1")]
        #expect(set.count == 3)
    }
}

@Suite struct ErrnoTests {
    @Test func namesAndDescription() {
        #expect(Errno.EADDRINUSE.name == "EADDRINUSE")
        #expect(Errno(rawValue: 9999).name == "errno 9999")
        let error = SystemError(errno: .EADDRINUSE, action: "bind 127.0.0.1:53")
        #expect(error.description == "bind 127.0.0.1:53: EADDRINUSE (Address already in use)")
    }

    @Test func clockAndProcess() {
        let a = Clock.now()
        let b = Clock.now()
        #expect(b >= a)
        #expect(Clock.wallSeconds() > 1_700_000_000)
        #expect(Process.cpuCount >= 1)
    }
}
