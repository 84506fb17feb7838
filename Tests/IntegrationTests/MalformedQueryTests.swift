import DNSWire
import Posix
import TestSupport
import Testing

/// Queries Veer must not answer normally: other opcodes, bad question counts, responses,
/// garbage. Each ends by checking that a good query is still answered.
@Suite struct MalformedQueryTests {
    /// OPCODE 2 STATUS and 4 NOTIFY (RFC 1035 §4.1.1, RFC 1996).
    @Test(arguments: [UInt8(2), 4])
    func otherOpcodesAreNotimp(opcode: UInt8) throws {
        let server = try Fixture.server()
        var header = Header(id: 0x0C0D)
        header.opcode = opcode
        let query = try Message(header: header, questions: [Question(name: try DomainName("example.com"), type: .soa)]).encoded()
        let response = try Raw.decode(try #require(try server.udp(query)))
        #expect(response.header.id == 0x0C0D)
        #expect(response.header.isResponse)
        #expect(response.header.opcode == opcode)
        #expect(response.rcode == .notImp, "got \(response.rcode)")
        #expect(response.answers.isEmpty)
        try expectStillAnswering(server)
    }

    @Test(arguments: [0, 2])
    func questionCountOtherThanOneIsFormerr(count: Int) throws {
        let server = try Fixture.server()
        let questions = try (0..<count).map { _ in Question(name: try DomainName("www.example.com"), type: .a) }
        let query = try Message(header: Header(id: 0xF0E1), questions: questions).encoded()
        let response = try Raw.decode(try #require(try server.udp(query)))
        #expect(response.header.id == 0xF0E1)
        #expect(response.header.isResponse)
        #expect(response.rcode == .formErr, "got \(response.rcode)")
        #expect(response.answers.isEmpty)
        try expectStillAnswering(server)
    }

    /// A packet with QR=1 is a response: answering it could start a loop between servers.
    @Test func responsePacketGetsNoAnswer() throws {
        let server = try Fixture.server()
        let query = try Raw.query("www.example.com", .a, flags: Header.qrBit)
        #expect(try server.udp(query, timeout: .milliseconds(500)) == nil)
        try expectStillAnswering(server)
    }

    /// Too short, cut in the middle of the question, a bad label, random bytes: FORMERR or
    /// silence, never anything else, and the server goes on.
    @Test func garbageGetsFormerrOrNothing() throws {
        let server = try Fixture.server()
        let good = try Raw.query("www.example.com", .a, id: 0x4242, edns: EDNS())
        var random = SplitMix64(seed: 0x5EED)
        let packets: [(String, [UInt8])] = [
            ("empty", []),
            ("5 bytes", Array(good.prefix(5))),
            ("header only, qdcount 1", Array(good.prefix(Header.size))),
            ("question cut", Array(good.prefix(Header.size + 6))),
            ("OPT cut", Array(good.dropLast(3))),
            ("trailing bytes", good + [1, 2, 3]),
            ("label too long", Array(good.prefix(Header.size)) + [64] + [UInt8](repeating: 0x61, count: 64) + [0, 0, 1, 0, 1]),
            ("pointer loop", Array(good.prefix(Header.size)) + [0xC0, 12, 0, 1, 0, 1]),
            ("random", (0..<100).map { _ in UInt8(truncatingIfNeeded: random.next()) }),
        ]
        let sender = try UDPSender(to: server.address)
        for (what, packet) in packets {
            try sender.send(packet)
            guard let reply = try sender.receive(timeout: .milliseconds(300)) else { continue }
            let response = try Raw.decode(reply)
            #expect(response.header.isResponse, "\(what)")
            #expect(response.rcode == .formErr, "\(what): got \(response.rcode)")
            #expect(response.answers.isEmpty, "\(what)")
        }
        try expectStillAnswering(server)
    }
}

/// A good query over UDP is answered right after whatever the test sent.
func expectStillAnswering(_ server: VeerProcess, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let query = try Raw.query("www.example.com", .a, id: 0x600D)
    let reply = try server.udp(query)
    let bytes = try #require(reply, "no answer to a good query\n\(server.stderr)", sourceLocation: sourceLocation)
    let response = try Raw.decode(bytes)
    #expect(response.header.id == 0x600D, sourceLocation: sourceLocation)
    #expect(response.answerLines == ["www.example.com. 3600 IN A 192.0.2.10"], sourceLocation: sourceLocation)
    #expect(server.isRunning, "\(server.stderr)", sourceLocation: sourceLocation)
}
