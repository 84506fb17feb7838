import DNSWire
import Foundation
import Posix
import Testing

/// Truncation, TCP and IPv6 (RFC 1035 §4.2, RFC 7766).
@Suite struct TransportTests {
    @Test(arguments: [["+noedns"], ["+bufsize=1232"], ["+bufsize=4096"]])
    func largeAnswerTruncatedOverUDP(options: [String]) throws {
        let server = try Fixture.server()
        let result = try server.dig(["big.example.com", "TXT", "+ignore"] + options)
        #expect(result.status == "NOERROR", "\(result)")
        #expect(result.flags.contains("tc"), "\(result)")
        #expect(result.answer.count < Fixture.bigCount, "\(result)")
    }

    /// The truncated UDP responses stay within the client's limit (512 without EDNS, the
    /// advertised size capped at 1232 with it) and still decode.
    @Test(arguments: [(nil, 512), (512, 512), (1232, 1232), (4096, 1232)] as [(UInt16?, Int)])
    func truncatedResponseFitsTheLimit(advertised: UInt16?, limit: Int) throws {
        let server = try Fixture.server()
        let query = try Raw.query("big.example.com", .txt, edns: advertised.map { EDNS(payloadSize: $0) })
        let bytes = try #require(try server.udp(query))
        #expect(bytes.count <= limit)
        let response = try Raw.decode(bytes)
        #expect(response.header.truncated)
        #expect(response.header.id == 0x5EE1)
        #expect((response.edns != nil) == (advertised != nil))
    }

    @Test func largeAnswerCompleteOverTCP() throws {
        let server = try Fixture.server()
        let result = try server.dig("big.example.com", "TXT", "+tcp")
        #expect(result.status == "NOERROR", "\(result)")
        #expect(!result.flags.contains("tc"), "\(result)")
        #expect(result.flags.contains("aa"), "\(result)")
        #expect(result.answer.count == Fixture.bigCount, "\(result)")
        #expect(result.answer.first == "big.example.com. 3600 IN TXT \"record 00 padding padding padding\"", "\(result)")
    }

    /// dig without +ignore sees TC and retries over TCP by itself.
    @Test func digRetriesOverTCPAfterTruncationAndGetsEverything() throws {
        let server = try Fixture.server()
        let result = try server.dig("big.example.com", "TXT")
        #expect(result.status == "NOERROR", "\(result)")
        #expect(!result.flags.contains("tc"), "\(result)")
        #expect(Set(result.answer).count == Fixture.bigCount, "\(result)")
    }

    @Test func pipelinedTCPQueriesAnsweredInOrderWithTheirIDs() throws {
        let server = try Fixture.server()
        let queries = [
            try Raw.query("www.example.com", .a, id: 0x1111),
            try Raw.query("big.example.com", .txt, id: 0x2222),
            try Raw.query("mail.example.com", .a, id: 0x3333, edns: EDNS()),
        ]
        let responses = try server.tcp(queries).map(Raw.decode)
        try #require(responses.count == 3, "got \(responses.count) responses")
        #expect(responses.map(\.header.id) == [0x1111, 0x2222, 0x3333])
        #expect(responses[0].answerLines == ["www.example.com. 3600 IN A 192.0.2.10"])
        #expect(responses[1].answers.count == Fixture.bigCount)
        #expect(!responses[1].header.truncated)
        #expect(responses[2].answerLines == ["mail.example.com. 3600 IN A 192.0.2.25"])
        #expect(responses.allSatisfy { $0.header.isResponse && $0.header.authoritative && $0.rcode == .noError })
    }

    /// Over IPv6 loopback when the machine has it; otherwise the startup error must name
    /// EADDRNOTAVAIL (the test still asserts something, it never skips).
    @Test func servesDigOverIPv6() throws {
        let server: VeerProcess
        do {
            server = try VeerProcess(zones: Fixture.zones, listen: "[::1]:0")
        } catch let failure as StartupFailure {
            #expect(failure.stderr.contains("EADDRNOTAVAIL"), "\(failure)")
            return
        }
        #expect(server.address.isIPv6)
        for transport in ["+notcp", "+tcp"] {
            let result = try server.dig("www.example.com", "AAAA", transport)
            #expect(result.status == "NOERROR", "\(result)")
            #expect(result.answer == ["www.example.com. 3600 IN AAAA 2001:db8::10"], "\(result)")
        }
    }
}
