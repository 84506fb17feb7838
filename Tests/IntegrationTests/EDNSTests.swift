import DNSWire
import Testing

/// EDNS(0), RFC 6891.
@Suite struct EDNSTests {
    @Test func optEchoedWithVeersPayloadSize() throws {
        let server = try Fixture.server()
        for bufsize in ["+bufsize=512", "+bufsize=1232", "+bufsize=4096"] {
            let result = try server.dig("www.example.com", "A", bufsize)
            #expect(result.status == "NOERROR", "\(result)")
            #expect(result.ednsVersion == 0, "\(result)")
            #expect(result.ednsUDP == 1232, "\(result)")
        }
        let plain = try server.dig("www.example.com", "A", "+noedns")
        #expect(plain.ednsVersion == nil, "no OPT without one in the query: \(plain)")
    }

    @Test func ednsVersionAboveZeroIsBadvers() throws {
        let server = try Fixture.server()
        let query = try Raw.query("www.example.com", .a, id: 0xBAD1, edns: EDNS(version: 1))
        let response = try Raw.decode(try #require(try server.udp(query)))
        #expect(response.header.id == 0xBAD1)
        #expect(response.header.isResponse)
        #expect(response.rcode == .badVers, "got \(response.rcode)")
        let edns = try #require(response.edns)
        #expect(edns.version == 0)
        #expect(edns.payloadSize == EDNS.defaultPayload)
        #expect(response.answers.isEmpty)
    }

    /// dig itself, told not to negotiate, reports BADVERS too.
    @Test func digSeesBadversWithoutNegotiation() throws {
        let server = try Fixture.server()
        let result = try server.dig("www.example.com", "A", "+edns=1", "+noednsnegotiation")
        #expect(result.status == "BADVERS", "\(result)")
    }

    @Test func unknownEDNSOptionIgnored() throws {
        let server = try Fixture.server()
        let result = try server.dig("www.example.com", "A", "+ednsopt=65001:abcd")
        #expect(result.status == "NOERROR", "\(result)")
        #expect(result.answer == ["www.example.com. 3600 IN A 192.0.2.10"], "\(result)")

        let query = try Raw.query("www.example.com", .a, edns: EDNS(options: [EDNSOption(code: 65001, data: [0xAB, 0xCD])]))
        let response = try Raw.decode(try #require(try server.udp(query)))
        #expect(response.rcode == .noError)
        #expect(response.answerLines == ["www.example.com. 3600 IN A 192.0.2.10"])
    }
}
