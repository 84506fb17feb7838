import Authority
import DNSWire
import Synchronization
import TestSupport
import Testing
import Traffic

/// DNS cookies in answers (RFC 7873 §5.2): a client cookie gets a server cookie back, a
/// server cookie we made is recognised, a malformed COOKIE option is FORMERR.
struct CookieAnswerTests {
    static let secret = CookieSecret(hex: "00112233445566778899aabbccddeeff")!
    static let resolver = ClientAddress(ipv6: false, high: UInt64(0xC633_6407) << 32, low: 0)  // 198.51.100.7
    static let now: UInt32 = 1_800_000_000

    static func cookie(_ bytes: [UInt8]) -> EDNS { EDNS(options: [EDNSOption(code: 10, data: bytes)]) }

    func exchange(secret: CookieSecret? = Self.secret) throws -> Exchange {
        let data = try makeZoneData()
        let responder = Responder(snapshot: Snapshot(zones: data, weights: zoneWeights(data), generation: 1),
                                  random: ScriptedRandom([]), cookieSecret: secret, clock: { Self.now })
        return Exchange(responder: responder)
    }

    func cookieOption(_ response: Message) -> [UInt8]? {
        response.edns?.options.first { $0.code == 10 }?.data
    }

    func summary(_ exchange: Exchange, _ edns: EDNS) throws -> Answered {
        let query = try Message(header: Header(id: 9), questions: [Question(name: try DomainName("www.example.com."), type: .a)],
                                edns: edns).encoded()
        var out = [UInt8](repeating: 0, count: 1232)
        return query.withUnsafeBytes { q in
            out.withUnsafeMutableBytes { exchange.responder.respond(to: q, into: $0, overTCP: false, resolver: Self.resolver) }
        }
    }

    @Test func aClientCookieGetsAVersionOneServerCookieBack() throws {
        let client: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        let response = try exchange().ask("www.example.com.", edns: Self.cookie(client), resolver: Self.resolver)
        #expect(response.rcode == .noError && response.answers.count == 1)
        let option = try #require(cookieOption(response))
        #expect(option.count == 24, "client cookie and a 16-octet server cookie")
        #expect(Array(option[0..<8]) == client, "the client cookie echoed")
        #expect(Array(option[8..<12]) == [1, 0, 0, 0], "version 1, reserved 0")
        let stamp = option[12..<16].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(stamp == Self.now)
        #expect(try summary(exchange(), Self.cookie(client)).cookie == .fresh)
    }

    @Test func theServerCookieItMadeComesBackValid() throws {
        let exchange = try exchange()
        let first = try exchange.ask("www.example.com.", edns: Self.cookie([9, 9, 9, 9, 9, 9, 9, 9]), resolver: Self.resolver)
        let full = try #require(cookieOption(first))
        #expect(try summary(exchange, Self.cookie(full)).cookie == .valid)
        // The same cookie from another address, or changed, is not ours: a fresh one.
        var changed = full
        changed[23] ^= 1
        #expect(try summary(exchange, Self.cookie(changed)).cookie == .fresh)
        let response = try exchange.ask("www.example.com.", edns: Self.cookie(full), resolver: .none)
        #expect(response.answers.count == 1)
    }

    @Test(arguments: [[UInt8](repeating: 1, count: 7), [UInt8](repeating: 1, count: 12), [UInt8](repeating: 1, count: 41), []])
    func aMalformedCookieIsFormerr(data: [UInt8]) throws {
        let response = try exchange().ask("www.example.com.", edns: Self.cookie(data))
        #expect(response.rcode == .formErr)
        #expect(response.answers.isEmpty)
    }

    @Test func twoCookieOptionsAreFormerr() throws {
        let option = EDNSOption(code: 10, data: [1, 2, 3, 4, 5, 6, 7, 8])
        let response = try exchange().ask("www.example.com.", edns: EDNS(options: [option, option]))
        #expect(response.rcode == .formErr)
    }

    @Test func withCookiesOffNoCookieIsSent() throws {
        let response = try exchange(secret: nil).ask("www.example.com.", edns: Self.cookie([1, 2, 3, 4, 5, 6, 7, 8]))
        #expect(response.rcode == .noError && response.answers.count == 1)
        #expect(cookieOption(response) == nil)
    }

    @Test func errorsAndNXDOMAINCarryTheCookieToo() throws {
        let exchange = try exchange()
        for name in ["nope.example.com.", "www.example.org."] {
            let response = try exchange.ask(name, edns: Self.cookie([1, 2, 3, 4, 5, 6, 7, 8]), resolver: Self.resolver)
            #expect(cookieOption(response)?.count == 24, "\(name): \(response.rcode)")
        }
    }
}
