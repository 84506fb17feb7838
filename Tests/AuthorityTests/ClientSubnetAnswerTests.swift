import Authority
import DNSWire
import Testing
import Traffic

/// `select=client` names on the wire: the client key comes from the query's ECS option or
/// the resolver, answers carry ECS with the scope they depend on (RFC 7871 §7.2.2), and a
/// malformed ECS option is FORMERR.
struct ClientSubnetAnswerTests {
    static let zone = exampleZone + """

        cohort 30 IN A 192.0.2.101 endpoint=old weight=50 select=client
        cohort 30 IN A 192.0.2.102 endpoint=new weight=50
        cohort 30 IN AAAA 2001:db8::102 endpoint=new
        front 30 IN CNAME cohort
        """

    static func ecs(_ data: [UInt8]) -> EDNS { EDNS(options: [EDNSOption(code: 8, data: data)]) }
    /// 198.51.N.0/24.
    static func subnet(_ n: UInt8) -> EDNS { ecs([0, 1, 24, 0, 198, 51, n]) }

    func exchange() throws -> Exchange {
        let data = try makeZoneData([Self.zone])
        return Exchange(data: data, weights: zoneWeights(data), draws: [UInt64](repeating: 0, count: 64))
    }

    func echoedECS(_ response: Message) -> [UInt8]? {
        response.edns?.options.first { $0.code == 8 }?.data
    }

    @Test func aClientNameAnswersWithTheScopeItUsed() throws {
        let response = try exchange().ask("cohort.example.com.", edns: Self.subnet(7))
        #expect(response.answers.count == 1)
        #expect(echoedECS(response) == [0, 1, 24, 24, 198, 51, 7], "family, source and address echoed, scope 24")
        // A /16 source is used whole: scope 16. A /32 is cut to /24: scope 24.
        #expect(echoedECS(try exchange().ask("cohort.example.com.", edns: Self.ecs([0, 1, 16, 0, 198, 51]))) == [0, 1, 16, 16, 198, 51])
        #expect(echoedECS(try exchange().ask("cohort.example.com.", edns: Self.ecs([0, 1, 32, 0, 198, 51, 7, 9]))) == [0, 1, 32, 24, 198, 51, 7, 9])
        let v6 = try exchange().ask("cohort.example.com.", .aaaa, edns: Self.ecs([0, 2, 64, 0, 0x20, 0x01, 0x0D, 0xB8, 0, 1, 0, 0]))
        #expect(echoedECS(v6) == [0, 2, 64, 56, 0x20, 0x01, 0x0D, 0xB8, 0, 1, 0, 0])
        // Through a CNAME to the client name: the answer still depends on the client.
        #expect(echoedECS(try exchange().ask("front.example.com.", edns: Self.subnet(7)))?[3] == 24)
    }

    @Test func oneSubnetAlwaysGetsOneEndpointAndTheSubnetsSplit() throws {
        let exchange = try exchange()
        var seen: [String: Int] = [:]
        for n in 0..<200 {
            let first = try exchange.ask("cohort.example.com.", edns: Self.subnet(UInt8(n))).answerLines
            for _ in 0..<3 { #expect(try exchange.ask("cohort.example.com.", edns: Self.subnet(UInt8(n))).answerLines == first) }
            seen[first[0], default: 0] += 1
        }
        // 50/50 over 200 subnets: within 4.5σ (σ ≈ 7.1).
        #expect(seen.count == 2 && seen.values.allSatisfy { abs($0 - 100) <= 32 }, "\(seen)")
    }

    @Test func withoutECSTheResolverKeysTheAnswerAndNoECSIsSent() throws {
        let exchange = try exchange()
        let resolver = ClientAddress(ipv6: false, high: 0xCB00_7101 << 32, low: 0)
        let plain = try exchange.ask("cohort.example.com.", edns: EDNS(), resolver: resolver)
        #expect(echoedECS(plain) == nil, "never ECS in reply to a query without it")
        for _ in 0..<5 { #expect(try exchange.ask("cohort.example.com.", resolver: resolver).answerLines == plain.answerLines) }
        // A source prefix of 0: the resolver keys the answer, scope 0.
        let zero = try exchange.ask("cohort.example.com.", edns: Self.ecs([0, 1, 0, 0]), resolver: resolver)
        #expect(zero.answerLines == plain.answerLines && echoedECS(zero) == [0, 1, 0, 0])
    }

    @Test(arguments: [("www.example.com.", RRType.a, RCode.noError), ("api.example.com.", .a, .noError),
                      ("missing.example.com.", .a, .nxDomain), ("host.sub.example.com.", .a, .noError),
                      ("cohort.example.com.", .mx, .noError), ("elsewhere.org.", .a, .refused)])
    func answersThatDoNotDependOnTheClientHaveScopeZero(name: String, type: RRType, rcode: RCode) throws {
        let response = try exchange().ask(name, type, edns: Self.subnet(7))
        #expect(response.rcode == rcode)
        #expect(echoedECS(response) == [0, 1, 24, 0, 198, 51, 7])
    }

    @Test(arguments: [
        ([UInt8]([0, 3, 0, 0]), "unknown family"),
        ([0, 1, 33, 0, 1, 2, 3, 4, 5], "source past 32"),
        ([0, 1, 24, 0, 198, 51], "address too short"),
        ([0, 1, 24, 0, 198, 51, 7, 0], "address too long"),
        ([0, 1, 20, 0, 198, 51, 127], "bits past the source prefix"),
    ])
    func malformedECSIsFormerr(data: [UInt8], why: String) throws {
        let response = try exchange().ask("cohort.example.com.", edns: Self.ecs(data))
        #expect(response.rcode == .formErr, "\(why)")
        #expect(response.answers.isEmpty)
    }

    @Test func twoECSOptionsAreFormerr() throws {
        let edns = EDNS(options: [EDNSOption(code: 8, data: [0, 1, 24, 0, 198, 51, 7]), EDNSOption(code: 8, data: [0, 1, 24, 0, 198, 51, 8])])
        #expect(try exchange().ask("cohort.example.com.", edns: edns).rcode == .formErr)
    }

    @Test func theResponderReportsTheKeyItChoseBy() throws {
        let exchange = try exchange()
        let query = try Message(header: Header(id: 1), questions: [Question(name: try DomainName("cohort.example.com."), type: .a)],
                                edns: Self.subnet(9)).encoded()
        var out = [UInt8](repeating: 0, count: 1232)
        let answered = query.withUnsafeBytes { q in out.withUnsafeMutableBytes { exchange.responder.respond(to: q, into: $0, overTCP: false) } }
        #expect(answered.cohortKey == CohortKey(ipv4: 0xC633_0900, length: 24, fromECS: true))
        #expect(try exchange.summary("www.example.com.").cohortKey == .none)
    }
}
