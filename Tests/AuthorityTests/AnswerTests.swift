import Authority
import DNSWire
import Testing
import Traffic

/// Answers from static data: the cases of README "How Veer answers".
struct AnswerTests {
    let exchange: Exchange

    init() throws { exchange = Exchange(data: try makeZoneData()) }

    @Test func addressAnswerIsAuthoritative() throws {
        let response = try exchange.ask("www.example.com.", rd: true)
        #expect(response.rcode == .noError)
        #expect(response.header.authoritative)
        #expect(response.header.recursionDesired)
        #expect(!response.header.recursionAvailable)
        #expect(response.header.id == 0x1234)
        #expect(response.answerLines == ["www.example.com. 3600 IN A 192.0.2.10"])
        #expect(response.authority.isEmpty)
    }

    @Test func recursionDesiredIsCopiedNotInvented() throws {
        #expect(try !exchange.ask("www.example.com.", rd: false).header.recursionDesired)
    }

    @Test func aaaaAnswer() throws {
        #expect(try exchange.ask("www.example.com.", .aaaa).answerLines == ["www.example.com. 3600 IN AAAA 2001:db8::10"])
    }

    @Test func cnameChainIsFollowedInOrder() throws {
        let response = try exchange.ask("alias.example.com.")
        #expect(response.answerLines == [
            "alias.example.com. 3600 IN CNAME alias2.example.com.",
            "alias2.example.com. 3600 IN CNAME www.example.com.",
            "www.example.com. 3600 IN A 192.0.2.10",
        ])
    }

    @Test func cnameQueryGetsOnlyTheCNAME() throws {
        #expect(try exchange.ask("alias.example.com.", .cname).answerLines == ["alias.example.com. 3600 IN CNAME alias2.example.com."])
    }

    @Test func cnameToMissingNameEndsInNXDOMAIN() throws {
        let response = try exchange.ask("dangling.example.com.")
        #expect(response.rcode == .nxDomain)
        #expect(response.answerLines == ["dangling.example.com. 3600 IN CNAME missing.example.com."])
        #expect(response.authority.map(\.type) == [.soa])
    }

    @Test func cnameOutOfZoneStopsThere() throws {
        let response = try exchange.ask("ext.example.com.")
        #expect(response.rcode == .noError)
        #expect(response.answerLines == ["ext.example.com. 3600 IN CNAME target.example.net."])
    }

    @Test func cnameLoopEndsWhereItCloses() throws {
        let response = try exchange.ask("loop1.example.com.")
        #expect(response.rcode == .noError)
        #expect(response.answerLines == [
            "loop1.example.com. 3600 IN CNAME loop2.example.com.",
            "loop2.example.com. 3600 IN CNAME loop1.example.com.",
        ])
    }

    @Test func mxCarriesTheMailServerAddress() throws {
        let response = try exchange.ask("example.com.", .mx)
        #expect(response.answerLines == ["example.com. 3600 IN MX 10 mail.example.com."])
        #expect(response.additionalLines == ["mail.example.com. 3600 IN A 192.0.2.25"])
    }

    @Test func apexNSWithAddresses() throws {
        let response = try exchange.ask("example.com.", .ns)
        #expect(response.answerLines.count == 2)
        #expect(response.additionalLines == ["ns1.example.com. 3600 IN A 192.0.2.53", "ns2.example.com. 3600 IN A 192.0.2.54"])
    }

    @Test func nxdomainCarriesSOAWithNegativeTTL() throws {
        let response = try exchange.ask("nope.example.com.")
        #expect(response.rcode == .nxDomain)
        #expect(response.header.authoritative)
        #expect(response.answers.isEmpty)
        #expect(response.authorityLines == [
            "example.com. 60 IN SOA ns1.example.com. hostmaster.example.com. 2026112301 3600 600 604800 60",
        ])
    }

    @Test func nodataCarriesSOA() throws {
        let response = try exchange.ask("www.example.com.", .mx)
        #expect(response.rcode == .noError)
        #expect(response.answers.isEmpty)
        #expect(response.authority.map(\.type) == [.soa])
    }

    @Test func emptyNonTerminalIsNodataNotNXDOMAIN() throws {
        let response = try exchange.ask("b.c.example.com.")
        #expect(response.rcode == .noError)
        #expect(response.authority.map(\.type) == [.soa])
    }

    /// Regression: building the empty non-terminals above a new name once attached the
    /// name's records to its topmost new ancestor.
    @Test func recordsBelowNewEmptyNonTerminalsStayWithTheirOwner() throws {
        #expect(try exchange.ask("a.b.c.example.com.").answerLines == ["a.b.c.example.com. 3600 IN A 192.0.2.30"])
        #expect(try exchange.ask("c.example.com.").answers.isEmpty)
    }

    @Test func outsideEveryZoneIsRefused() throws {
        let response = try exchange.ask("www.example.org.")
        #expect(response.rcode == .refused)
        #expect(!response.header.authoritative)
    }

    @Test func delegationGetsAReferralWithGlue() throws {
        let response = try exchange.ask("host.sub.example.com.")
        #expect(response.rcode == .noError)
        #expect(!response.header.authoritative)
        #expect(response.answers.isEmpty)
        #expect(response.authorityLines == ["sub.example.com. 3600 IN NS ns.sub.example.com."])
        #expect(response.additionalLines == ["ns.sub.example.com. 3600 IN A 192.0.2.200"])
    }

    @Test func glueItselfIsAReferralToo() throws {
        let response = try exchange.ask("ns.sub.example.com.")
        #expect(!response.header.authoritative)
        #expect(response.authority.map(\.type) == [.ns])
    }

    @Test func wildcardAnswersWithTheQueryName() throws {
        let response = try exchange.ask("Anything.wild.example.com.")
        #expect(response.answerLines == ["Anything.wild.example.com. 3600 IN A 192.0.2.99"])
    }

    @Test func anyIsAnsweredWithOneRRset() throws {
        let response = try exchange.ask("www.example.com.", .any)
        #expect(response.answers.count == 1)
    }

    @Test func questionCaseIsEchoed() throws {
        let response = try exchange.ask("WwW.ExAmPlE.CoM.")
        #expect(response.questions.first?.name.wire == (try DomainName("WwW.ExAmPlE.CoM.")).wire)
        #expect(response.answers.first?.name.wire == (try DomainName("WwW.ExAmPlE.CoM.")).wire)
    }

    /// Regression: only the whole question name was a compression target, so the SOA owner
    /// `example.com.` and the names inside the SOA were written out in full (13 bytes more
    /// than NSD sends). Offsets: the question `nope.example.com.` starts at 12, so
    /// `example.com.` is at 17 (0x11); the authority section starts at 12 + 18 + 4 = 34.
    @Test func soaNamesPointIntoTheQuestion() throws {
        let query = try Message(header: Header(id: 7), questions: [Question(name: DomainName("nope.example.com."), type: .a)]).encoded()
        let bytes = try #require(exchange.raw(query))
        #expect(Array(bytes[34..<36]) == [0xC0, 0x11])
        // mname `ns1` + pointer, rname `hostmaster` + pointer, five 32-bit values.
        let soaRData = (1 + 3 + 2) + (1 + 10 + 2) + 5 * 4
        #expect(bytes.count == 34 + 2 + 10 + soaRData)
        #expect(try Message.decode(bytes).authorityLines == [
            "example.com. 60 IN SOA ns1.example.com. hostmaster.example.com. 2026112301 3600 600 604800 60",
        ])
    }

    /// The same for a CNAME target: `missing.example.com.` ends in a pointer to the question's
    /// `example.com.` at 12 + 9 = 21 (0x15).
    @Test func cnameTargetPointsIntoTheQuestion() throws {
        let query = try Message(header: Header(id: 8), questions: [Question(name: DomainName("dangling.example.com."), type: .a)]).encoded()
        let bytes = try #require(exchange.raw(query))
        let answerStart = 12 + 22 + 4
        // Owner pointer, type, class, TTL, RDLENGTH, then `missing` and the pointer.
        let rdata = Array(bytes[(answerStart + 12)..<(answerStart + 12 + 10)])
        #expect(rdata == [7] + Array("missing".utf8) + [0xC0, 0x15])
    }

    @Test func nestedZoneAnswersFromTheChild() throws {
        let child = """
            $ORIGIN sub.example.com.
            @ 300 IN SOA ns.sub hostmaster 1 3600 600 604800 30
            @ 300 IN NS ns
            ns 300 IN A 192.0.2.200
            www 300 IN A 192.0.2.201
            """
        let both = Exchange(data: try makeZoneData([exampleZone, child]))
        let response = try both.ask("www.sub.example.com.")
        #expect(response.header.authoritative)
        #expect(response.answerLines == ["www.sub.example.com. 300 IN A 192.0.2.201"])
        #expect(try both.ask("nope.sub.example.com.").authority.first?.ttl == 30)
    }
}
