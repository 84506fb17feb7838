import DNSWire
import Testing

/// DNS cookies (RFC 7873) with RFC 9018 server cookies: the hash, the option's lengths, and
/// when a server cookie is accepted.
struct CookieTests {
    /// RFC 9018 Appendix A.1: the secret, the client and the server cookie it expects.
    static let secret = CookieSecret(hex: "e5e973e5a6b2a43f48e7dc849e37bfcf")!
    static let client: UInt64 = 0x2464_c4ab_cf10_c957
    static let address = ClientIP(ipv6: false, high: UInt64(0xC633_6464) << 32, low: 0)  // 198.51.100.100
    static let time: UInt32 = 1_559_731_985

    func data(_ bytes: [UInt8]) throws -> DNSCookie {
        try bytes.withUnsafeBytes { buffer in
            var reader = WireReader(buffer)
            return try DNSCookie.read(&reader)
        }
    }

    @Test func sipHashMatchesItsPapersTestVector() {
        // SipHash-2-4, key 00 01 … 0f, message 00 01 … 0e (Aumasson and Bernstein, appendix A).
        let key = CookieSecret(hex: "000102030405060708090a0b0c0d0e0f")!
        let message = [UInt8](0..<15)
        let hash = message.withUnsafeBytes { SipHash24.hash(k0: key.k0, k1: key.k1, $0) }
        #expect(hash == 0xa129_ca61_49be_45e5)
    }

    @Test func serverCookieMatchesRFC9018AppendixA() {
        let cookie = Self.secret.serverCookie(client: Self.client, timestamp: Self.time, address: Self.address)
        // 01000000 5cf79f11 1f8130c3eee29480
        #expect(cookie.high == 0x0100_0000_5cf7_9f11)
        #expect(cookie.low == 0x1f81_30c3_eee2_9480)
    }

    @Test func aCookieWeMadeValidatesForAnHourAndFiveMinutesAhead() {
        let made = Self.secret.serverCookie(client: Self.client, timestamp: Self.time, address: Self.address)
        let cookie = DNSCookie(client: Self.client, serverCookieLength: 16, serverHigh: made.high, serverLow: made.low)
        #expect(Self.secret.validates(cookie, address: Self.address, now: Self.time))
        #expect(Self.secret.validates(cookie, address: Self.address, now: Self.time + 3600))
        #expect(!Self.secret.validates(cookie, address: Self.address, now: Self.time + 3601), "over an hour old")
        #expect(Self.secret.validates(cookie, address: Self.address, now: Self.time - 300), "another server's clock ahead")
        #expect(!Self.secret.validates(cookie, address: Self.address, now: Self.time - 301))
    }

    @Test func aCookieForAnotherClientAddressOrSecretDoesNotValidate() {
        let made = Self.secret.serverCookie(client: Self.client, timestamp: Self.time, address: Self.address)
        let cookie = DNSCookie(client: Self.client, serverCookieLength: 16, serverHigh: made.high, serverLow: made.low)
        let elsewhere = ClientIP(ipv6: false, high: UInt64(0xC633_6465) << 32, low: 0)
        #expect(!Self.secret.validates(cookie, address: elsewhere, now: Self.time))
        #expect(!CookieSecret(k0: 1, k1: 2).validates(cookie, address: Self.address, now: Self.time))
        let otherClient = DNSCookie(client: Self.client ^ 1, serverCookieLength: 16, serverHigh: made.high, serverLow: made.low)
        #expect(!Self.secret.validates(otherClient, address: Self.address, now: Self.time))
        let tampered = DNSCookie(client: Self.client, serverCookieLength: 16, serverHigh: made.high, serverLow: made.low ^ 0x100)
        #expect(!Self.secret.validates(tampered, address: Self.address, now: Self.time))
        let version2 = DNSCookie(client: Self.client, serverCookieLength: 16, serverHigh: made.high ^ (3 << 56), serverLow: made.low)
        #expect(!Self.secret.validates(version2, address: Self.address, now: Self.time))
    }

    @Test func anIPv4MappedAddressHashesAsIPv4() {
        let mapped = ClientIP(ipv6: true, high: 0, low: 0xFFFF_C633_6464)
        #expect(mapped == Self.address)
        let ipv6 = ClientIP(ipv6: true, high: 0x2001_0db8_0000_0000, low: 1)
        #expect(ipv6.length == 16)
    }

    @Test(arguments: [8, 16, 24, 40])
    func clientCookieAloneOrWithAServerCookieOf8To32Reads(length: Int) throws {
        let bytes = [UInt8](1...UInt8(length))
        let cookie = try data(bytes)
        #expect(cookie.client == 0x0102_0304_0506_0708)
        #expect(cookie.serverCookieLength == length - 8)
        if length >= 24 { #expect(cookie.serverHigh == 0x090a_0b0c_0d0e_0f10) }
    }

    @Test(arguments: [0, 1, 7, 9, 12, 15, 41, 64])
    func otherLengthsAreMalformed(length: Int) {
        let bytes = [UInt8](repeating: 7, count: length)
        #expect(throws: WireError.self) { try data(bytes) }
    }

    @Test func secretsParseFrom32HexDigitsOnly() {
        #expect(CookieSecret(hex: "e5e973e5a6b2a43f48e7dc849e37bfc") == nil)
        #expect(CookieSecret(hex: "e5e973e5a6b2a43f48e7dc849e37bfcg") == nil)
        #expect(CookieSecret(hex: "+5e973e5a6b2a43f48e7dc849e37bfcf") == nil)
        #expect(CookieSecret(hex: "E5E973E5A6B2A43F48E7DC849E37BFCF") == Self.secret)
    }
}
