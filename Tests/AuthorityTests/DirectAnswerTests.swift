@testable import Authority
import DNSWire
import Testing
import Traffic

/// Answers from the precomputed records (`DirectAnswers`) read as the general path writes
/// them: owners, compression of a weighted CNAME's target against the question, chains into
/// the zone, wildcards, TTL caps and truncation.
struct DirectAnswerTests {
    static let zone = exampleZone + """

        front 30 IN CNAME back.example.com. endpoint=here weight=1
        front 30 IN CNAME far.example.net. endpoint=away weight=0
        back 300 IN A 192.0.2.77
        back 300 IN A 192.0.2.78
        back 300 IN AAAA 2001:db8::77
        deep.sub2 30 IN CNAME x.example.com. endpoint=one weight=1
        x 60 IN A 192.0.2.88
        *.star 60 IN A 192.0.2.99
        big 60 IN A 192.0.2.1
        _sip._tcp 60 IN SRV 10 5 5060 www
        """ + (2...40).map { "\nbig 60 IN A 192.0.2.\($0)" }.joined()

    func exchange(ttlCap: UInt32 = 0) throws -> Exchange {
        let data = try makeZoneData([Self.zone])
        return Exchange(data: data, weights: zoneWeights(data, ttlCap: ttlCap), draws: [UInt64](repeating: 0, count: 16))
    }

    @Test func aWeightedCNAMEIntoTheZoneAnswersTheChain() throws {
        let response = try exchange().ask("front.example.com.")
        #expect(response.answerLines == [
            "front.example.com. 30 IN CNAME back.example.com.",
            "back.example.com. 300 IN A 192.0.2.77", "back.example.com. 300 IN A 192.0.2.78",
        ])
        #expect(try exchange().ask("front.example.com.", .aaaa).answerLines == [
            "front.example.com. 30 IN CNAME back.example.com.", "back.example.com. 300 IN AAAA 2001:db8::77",
        ])
        #expect(try exchange().ask("front.example.com.", .cname).answerLines == ["front.example.com. 30 IN CNAME back.example.com."])
        #expect(try exchange().ask("front.example.com.", .mx).answers.count == 1, "the CNAME, then NODATA at the target")
    }

    @Test func theTargetIsCompressedAgainstTheQuestionAndDecodesInAnyCase() throws {
        let response = try exchange().ask("FRONT.Example.COM.")
        let cname = try #require(response.answers.first)
        // back.<pointer to "Example.COM." in the question>: 7 octets of RDATA.
        if case .cname(let target) = cname.data { #expect(target == (try DomainName("back.example.com."))) }
        #expect(response.answers.count == 3)
        let deep = try exchange().ask("deep.sub2.example.com.")
        #expect(deep.answerLines == ["deep.sub2.example.com. 30 IN CNAME x.example.com.", "x.example.com. 60 IN A 192.0.2.88"])
    }

    @Test func plainCNAMEsAnswerFromTheirRecordInAnyCaseAndForEveryType() throws {
        let exchange = try exchange()
        let chain = ["alias.example.com. 3600 IN CNAME alias2.example.com.", "alias2.example.com. 3600 IN CNAME www.example.com."]
        #expect(try exchange.ask("alias.example.com.").answerLines == chain + ["www.example.com. 3600 IN A 192.0.2.10"])
        let upper = try exchange.ask("ALIAS.EXAMPLE.COM.")
        #expect(upper.answers.count == 3 && upper.answers.allSatisfy { $0.name.isSubdomain(of: try! DomainName("example.com.")) })
        #expect(try exchange.ask("alias.example.com.", .cname).answerLines == [chain[0]])
        #expect(try exchange.ask("alias.example.com.", .any).answerLines == [chain[0]])
        let mx = try exchange.ask("alias.example.com.", .mx)
        #expect(mx.answerLines == chain && mx.authority.map(\.type) == [.soa], "the chain, then NODATA at its end")
        #expect(try exchange.ask("dangling.example.com.").rcode == .nxDomain)
        #expect(try exchange.ask("loop1.example.com.").answers.count == 2, "a loop ends where it closes")
    }

    /// MX, SRV and NS come with their targets' addresses, compressed as the general path
    /// compresses them: the sizes below are those of the general writer's answers.
    @Test func mxSRVAndNSAnswerWithTheirAdditionalAddresses() throws {
        let exchange = try exchange()
        let mx = try exchange.ask("Example.COM.", .mx)
        // Names compressed into the question take its case, as from the general writer.
        #expect(mx.answerLines == ["Example.COM. 3600 IN MX 10 mail.Example.COM."])
        #expect(mx.additionalLines == ["mail.Example.COM. 3600 IN A 192.0.2.25"])
        // Header, question (13 + 4), MX (owner pointer, 10, preference, "mail" + pointer),
        // A owned by a pointer to "mail" in the MX record.
        func size(_ name: String, _ type: RRType) throws -> Int {
            let query = try Message(header: Header(id: 1), questions: [Question(name: try DomainName(name), type: type)]).encoded()
            return try #require(exchange.raw(query)).count
        }
        #expect(try size("example.com.", .mx) == 12 + 17 + (2 + 10 + 2 + 7) + (2 + 14))
        let ns = try exchange.ask("example.com.", .ns)
        #expect(ns.answerLines == ["example.com. 3600 IN NS ns1.example.com.", "example.com. 3600 IN NS ns2.example.com."])
        #expect(ns.additionalLines == ["ns1.example.com. 3600 IN A 192.0.2.53", "ns2.example.com. 3600 IN A 192.0.2.54"])
        #expect(try size("example.com.", .ns) == 12 + 17 + 2 * (2 + 10 + 6) + 2 * (2 + 14))
        // SRV targets are neither compressed nor compression targets (RFC 2782, RFC 3597
        // §4): the first address owner is "www" and a pointer into the question, the second
        // a pointer to the first.
        let srv = try exchange.ask("_sip._tcp.example.com.", .srv)
        #expect(srv.answerLines == ["_sip._tcp.example.com. 60 IN SRV 10 5 5060 www.example.com."])
        #expect(srv.additionalLines == ["www.example.com. 3600 IN A 192.0.2.10", "www.example.com. 3600 IN AAAA 2001:db8::10"])
        #expect(try size("_sip._tcp.example.com.", .srv) == 12 + 27 + (2 + 10 + 6 + 17) + (6 + 14) + (2 + 26))
        #expect(try exchange.ask("example.com.", .txt).answerLines == ["example.com. 3600 IN TXT \"v=spf1 -all\""])
    }

    @Test func aTTLCapAppliesToTheCopiedCNAMEAndAddressRecords() throws {
        let capped = try exchange(ttlCap: 5)
        #expect(try capped.ask("front.example.com.").answers.map(\.ttl) == [5, 300, 300], "the target is not being moved")
        #expect(try capped.ask("pool.example.com.").answers.allSatisfy { $0.ttl == 5 })
    }

    @Test func wildcardsAnswerWithTheQuestionAsOwner() throws {
        #expect(try exchange().ask("anything.star.example.com.").answerLines == ["anything.star.example.com. 60 IN A 192.0.2.99"])
    }

    @Test func anAnswerTooBigForUDPIsTruncatedAndWholeOverTCP() throws {
        let udp = try exchange().ask("big.example.com.")
        #expect(udp.header.truncated && udp.answers.isEmpty)
        let tcp = try exchange().ask("big.example.com.", overTCP: true)
        #expect(tcp.answers.count == 40 && !tcp.header.truncated)
    }

    static let other = """
        $ORIGIN example.org.
        $TTL 300
        @ IN SOA ns.example.net. HostMaster.Example.ORG. 7 3600 600 604800 30
        @ IN NS ns.example.net.
        to-org-gap IN CNAME nothing.example.org.
        """

    @Test func negativeAnswersCarryTheSOAPointingIntoTheQuestion() throws {
        let data = try makeZoneData([Self.zone, Self.other])
        let exchange = Exchange(data: data, weights: zoneWeights(data))
        let soa = "example.com. 60 IN SOA ns1.example.com. hostmaster.example.com. 2026112301 3600 600 604800 60"
        let nx = try exchange.ask("A.b.NOPE.example.COM.")
        #expect(nx.rcode == .nxDomain && nx.authority.count == 1)
        #expect(nx.authorityLines.map { $0.lowercased() } == [soa.lowercased()])
        let nodata = try exchange.ask("www.example.com.", .mx)
        #expect(nodata.rcode == .noError && nodata.authorityLines == [soa])
        // A name outside the zone in RDATA stays whole; one in it points into the question.
        let org = try exchange.ask("x.y.example.org.")
        #expect(org.authorityLines.map { $0.lowercased() } == ["example.org. 30 in soa ns.example.net. hostmaster.example.org. 7 3600 600 604800 30"])
        let gap = try exchange.ask("to-org-gap.example.org.")
        #expect(gap.rcode == .nxDomain && gap.authorityLines.map { $0.lowercased() }
                == ["example.org. 30 in soa ns.example.net. hostmaster.example.org. 7 3600 600 604800 30"])
    }

    @Test func aChainIntoAnotherZonesNXDOMAINNamesThatZonesSOA() throws {
        let zone = Self.zone + "\nacross 60 IN CNAME missing.example.org.\n"
        let data = try makeZoneData([zone, Self.other])
        let response = try Exchange(data: data, weights: zoneWeights(data)).ask("across.example.com.")
        #expect(response.rcode == .nxDomain)
        #expect(response.answerLines == ["across.example.com. 60 IN CNAME missing.example.org."])
        #expect(response.authorityLines.map { $0.lowercased() } == ["example.org. 30 in soa ns.example.net. hostmaster.example.org. 7 3600 600 604800 30"])
    }

    /// Address records filling many storage blocks, and one RRset larger than the first
    /// block: every name answers its own records, from the precomputed answers, through the
    /// general path (ANY) and as an MX target's additional addresses.
    @Test func addressRecordsAcrossManyBlocksAnswerTheirOwnNames() throws {
        var text = Self.zone
        for i in 0..<1_500 { text += "\nn\(i) IN A 10.\(i / 256).\(i % 256).1\nn\(i) IN AAAA 2001:db8::\(String(i, radix: 16))" }
        for i in 0..<400 { text += "\nmany IN A 10.200.\(i / 256).\(i % 256)" }
        text += "\nmx7 IN MX 10 n7\nmx1499 IN MX 10 n1499"
        let exchange = Exchange(data: try makeZoneData([text]))
        for i in 0..<1_500 {
            #expect(try exchange.ask("n\(i).example.com.").answerLines == ["n\(i).example.com. 3600 IN A 10.\(i / 256).\(i % 256).1"])
            let aaaa = try exchange.ask("n\(i).example.com.", .aaaa).answers
            guard aaaa.count == 1, case .aaaa(let address) = aaaa[0].data else {
                Issue.record("n\(i) AAAA: \(aaaa)")
                continue
            }
            #expect(address.high == 0x2001_0DB8_0000_0000 && address.low == UInt64(i))
        }
        for i in [0, 777, 1_499] {
            #expect(try exchange.ask("n\(i).example.com.", .any).answerLines == ["n\(i).example.com. 3600 IN A 10.\(i / 256).\(i % 256).1"])
        }
        let many = try exchange.ask("many.example.com.", overTCP: true)
        #expect(many.answerLines == (0..<400).map { "many.example.com. 3600 IN A 10.200.\($0 / 256).\($0 % 256)" })
        #expect(try exchange.ask("mx1499.example.com.", .mx).additionalLines.first == "n1499.example.com. 3600 IN A 10.5.219.1")
        #expect(try exchange.ask("mx7.example.com.", .mx).additionalLines.count == 2, "n7's A and AAAA")
    }

    /// Address storage grows in blocks up to 1 MiB and then stays there, so a zone of
    /// millions of address records does not go back to an allocation per RRset.
    @Test func addressStorageBlocksStopGrowingAtOneMebibyte() throws {
        #expect(AddressBytes.blockSize(after: 0) == 4096)
        #expect((8...200).allSatisfy { AddressBytes.blockSize(after: $0) == 1 << 20 })
        let storage = AddressBytes()
        for _ in 0..<70 { _ = storage.take(1 << 20) }
        let first = storage.take(16), second = storage.take(16)
        #expect(second.baseAddress == (try #require(first.baseAddress)) + 16, "small sets after many blocks share one")
    }
}
