import Authority
import DNSWire
import TestSupport
import Testing
import Traffic

/// Response rate limiting on a scripted clock: the rate, the window, slip, accounts by
/// network and kind, log-only, and the truncated response a slip sends.
struct RateLimiterTests {
    static func v4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> ClientAddress {
        ClientAddress(ipv6: false, high: UInt64(a) << 56 | UInt64(b) << 48 | UInt64(c) << 40 | UInt64(d) << 32, low: 0)
    }
    static let client = v4(203, 0, 113, 7)

    /// Decisions for `count` answers about node 1 to `client`, all at `nowMs`.
    func run(_ limiter: RateLimiter, _ count: Int, client: ClientAddress = Self.client, kind: RateLimiter.Kind = .answer,
             token: Int32 = 1, at nowMs: Int64) -> [RateLimiter.Decision] {
        (0..<count).map { _ in limiter.decide(client: client, kind: kind, token: token, nowMs: nowMs) }
    }

    @Test func aBurstGetsTheRateTimesTheWindowThenSlipsEverySecond() {
        let limiter = RateLimiter(.init(rate: 10, window: 2, slip: 2))
        let decisions = run(limiter, 26, at: 5_000)
        #expect(decisions.prefix(20).allSatisfy { $0 == .send }, "a quiet account holds rate × window")
        #expect(Array(decisions.suffix(6)) == [.drop, .slip, .drop, .slip, .drop, .slip])
    }

    @Test func tokensComeBackAtTheRate() {
        let limiter = RateLimiter(.init(rate: 10, window: 1, slip: 0))
        #expect(run(limiter, 10, at: 1_000).allSatisfy { $0 == .send })
        #expect(run(limiter, 1, at: 1_000) == [.drop], "slip 0 never slips")
        #expect(run(limiter, 1, at: 1_099) == [.drop], "99 ms earn 0.99 of a response")
        #expect(run(limiter, 2, at: 1_100) == [.send, .drop])
        #expect(run(limiter, 6, at: 1_600) == [.send, .send, .send, .send, .send, .drop])
        // A long silence refills the bucket to its size, no more.
        #expect(run(limiter, 11, at: 60_000).filter { $0 == .send }.count == 10)
    }

    @Test func aSustainedFloodGetsTheRateAndNoMore() {
        let limiter = RateLimiter(.init(rate: 50, window: 1, slip: 2))
        var sent = 0, slipped = 0, total = 0
        // 1,000 queries a second for 10 seconds, one per millisecond.
        for ms in 0..<10_000 {
            total += 1
            switch limiter.decide(client: Self.client, kind: .answer, token: 1, nowMs: Int64(ms)) {
            case .send: sent += 1
            case .slip: slipped += 1
            default: break
            }
        }
        #expect(sent == 50 + 50 * 10 - 1 || sent == 50 + 50 * 10, "the burst, then 50 a second: \(sent)")
        #expect(abs(slipped - (total - sent) / 2) <= 1, "half the limited ones slip: \(slipped)")
    }

    @Test func oneNetworkSharesAnAccountOthersDoNot() {
        let limiter = RateLimiter(.init(rate: 5, window: 1, slip: 0))
        #expect(run(limiter, 5, client: Self.v4(203, 0, 113, 1), at: 0).allSatisfy { $0 == .send })
        #expect(run(limiter, 1, client: Self.v4(203, 0, 113, 200), at: 0) == [.drop], "same /24")
        #expect(run(limiter, 5, client: Self.v4(203, 0, 114, 1), at: 0).allSatisfy { $0 == .send }, "next /24")
        // The IPv4-mapped form of an address is that address.
        let mapped = ClientAddress(ipv6: true, high: 0, low: 0xFFFF_CB00_7109)
        #expect(run(limiter, 1, client: mapped, at: 0) == [.drop])
        // IPv6: one /56.
        let a = ClientAddress(ipv6: true, high: 0x2001_0db8_0000_1100, low: 1)
        let b = ClientAddress(ipv6: true, high: 0x2001_0db8_0000_11ff, low: 99)
        let c = ClientAddress(ipv6: true, high: 0x2001_0db8_0000_1200, low: 1)
        #expect(run(limiter, 5, client: a, at: 0).allSatisfy { $0 == .send })
        #expect(run(limiter, 1, client: b, at: 0) == [.drop], "same /56")
        #expect(run(limiter, 1, client: c, at: 0) == [.send], "next /56")
    }

    @Test func kindsAndNamesHaveTheirOwnAccounts() {
        let limiter = RateLimiter(.init(rate: 3, window: 1, slip: 0))
        #expect(run(limiter, 4, token: 1, at: 0) == [.send, .send, .send, .drop])
        #expect(run(limiter, 1, token: 2, at: 0) == [.send], "another name")
        #expect(run(limiter, 1, kind: .nxdomain, token: 1, at: 0) == [.send])
        #expect(run(limiter, 1, kind: .error, token: -1, at: 0) == [.send])
        #expect(run(limiter, 1, kind: .referral, token: 1, at: 0) == [.send])
    }

    @Test func logOnlyCountsButSendsEverything() {
        let limiter = RateLimiter(.init(rate: 2, window: 1, slip: 2, logOnly: true))
        #expect(run(limiter, 4, at: 0) == [.send, .send, .countOnly, .countOnly])
    }

    @Test func rateZeroIsOff() {
        let limiter = RateLimiter(.init(rate: 0))
        #expect(run(limiter, 1000, at: 0).allSatisfy { $0 == .send })
    }

    @Test func aFloodOfForgedSourcesCannotGrowTheTable() {
        let limiter = RateLimiter(.init(rate: 1, window: 1, slip: 0))
        // Four times the table's size in distinct networks: each is new, so each is sent.
        for index in 0..<(RateLimiter.tableSize * 4) {
            let client = ClientAddress(ipv6: true, high: UInt64(index) << 8 | 0x2001_0000_0000_0000, low: 0)
            #expect(limiter.decide(client: client, kind: .answer, token: 1, nowMs: Int64(index)) == .send)
        }
        // The newest are remembered.
        let last = ClientAddress(ipv6: true, high: UInt64(RateLimiter.tableSize * 4 - 1) << 8 | 0x2001_0000_0000_0000, low: 0)
        #expect(limiter.decide(client: last, kind: .answer, token: 1, nowMs: Int64(RateLimiter.tableSize * 4)) == .drop)
    }

    @Test(arguments: [(RCode.noError, UInt16(0x8400), RateLimiter.Kind.answer), (.noError, 0x8000, .referral),
                      (.nxDomain, 0x8403, .nxdomain), (.servFail, 0x8002, .error), (.refused, 0x8005, .error),
                      (.formErr, 0x8001, .error), (.badVers, 0x8000, .error)])
    func responseKindsComeFromTheRCodeAndAA(rcode: RCode, flags: UInt16, kind: RateLimiter.Kind) {
        #expect(RateLimiter.Kind.of(rcode: rcode, flags: flags) == kind)
    }

    @Test func anAccountIdleForOver24DaysRefillsWhenTheClockWraps() {
        let limiter = RateLimiter(.init(rate: 2, window: 1, slip: 0))
        #expect(run(limiter, 3, at: 1_000) == [.send, .send, .drop])
        // 2^31 ms and a bit later the 32-bit stamp looks ahead of now.
        #expect(run(limiter, 3, at: 1_000 + (1 << 31) + 5_000) == [.send, .send, .drop])
    }

    @Test func exemptNetworksMatchByPrefix() {
        let exempt = ExemptNetworks([(ipv6: false, high: UInt64(127) << 56, low: 0, length: 8),
                                     (ipv6: true, high: 0, low: 1, length: 128),
                                     (ipv6: true, high: 0x2001_0db8_0000_0000, low: 0, length: 32)])
        #expect(exempt.contains(Self.v4(127, 0, 0, 1)) && exempt.contains(Self.v4(127, 9, 9, 9)))
        #expect(!exempt.contains(Self.v4(128, 0, 0, 1)))
        #expect(exempt.contains(ClientAddress(ipv6: true, high: 0, low: 0xFFFF_7F00_0001)), "mapped 127.0.0.1")
        #expect(exempt.contains(ClientAddress(ipv6: true, high: 0, low: 1)))
        #expect(!exempt.contains(ClientAddress(ipv6: true, high: 0, low: 2)))
        #expect(exempt.contains(ClientAddress(ipv6: true, high: 0x2001_0db8_ffff_0000, low: 5)))
        #expect(!exempt.contains(ClientAddress(ipv6: true, high: 0x2001_0db9_0000_0000, low: 5)))
        #expect(!ExemptNetworks([]).contains(Self.v4(127, 0, 0, 1)))
    }

    @Test func aSlipKeepsTheQuestionAndTheOPTAndSetsTC() throws {
        let data = try makeZoneData()
        let responder = Responder(snapshot: Snapshot(zones: data, weights: zoneWeights(data), generation: 1),
                                  random: ScriptedRandom([]), cookieSecret: CookieSecret(k0: 1, k1: 2), clock: { 1000 })
        let edns = EDNS(options: [EDNSOption(code: 10, data: [1, 2, 3, 4, 5, 6, 7, 8])])
        let query = try Message(header: Header(id: 77), questions: [Question(name: try DomainName("example.com."), type: .mx)],
                                edns: edns).encoded()
        var out = [UInt8](repeating: 0, count: 1232)
        let answered = query.withUnsafeBytes { q in out.withUnsafeMutableBytes { responder.respond(to: q, into: $0, overTCP: false) } }
        let full = try Message.decode(Array(out[0..<answered.length]))
        #expect(full.answers.count == 1 && full.additional.count == 1, "MX with the mail host's address as glue")
        let length = out.withUnsafeMutableBytes { RateLimiter.truncate($0, length: answered.length) }
        let slip = try Message.decode(Array(out[0..<length]))
        #expect(slip.header.truncated && slip.header.id == 77 && slip.rcode == .noError)
        #expect(slip.questions == full.questions)
        #expect(slip.answers.isEmpty && slip.authority.isEmpty && slip.additional.isEmpty)
        #expect(slip.edns?.options.first { $0.code == 10 }?.data.count == 24, "the cookie stays, so the client can come back trusted")
        // Garbage does not parse: nothing is sent.
        var junk: [UInt8] = [0, 1, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63]
        #expect(junk.withUnsafeMutableBytes { RateLimiter.truncate($0, length: 13) } == 0)
    }
}
