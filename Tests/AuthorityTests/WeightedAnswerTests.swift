import Authority
import DNSWire
import Testing
import Traffic

/// Weighted names: one endpoint per query, by weight, with a scripted random source.
struct WeightedAnswerTests {
    @Test func cnameEndpointsFollowTheDraw() throws {
        let data = try makeZoneData()
        // api: old=90 new=10. Draw 89 is the last unit of "old", 90 the first of "new".
        let exchange = Exchange(data: data, draws: [0, 89, 90, 99])
        let expected = ["gw-old", "gw-old", "gw-new", "gw-new"]
        for name in expected {
            let response = try exchange.ask("api.example.com.")
            #expect(response.answerLines == ["api.example.com. 30 IN CNAME \(name).example.net."])
            #expect(response.header.authoritative)
        }
    }

    @Test func addressEndpointsReturnTheirWholeRRset() throws {
        // pool: blue=1 (two A), green=3 (one A, one AAAA).
        let exchange = Exchange(data: try makeZoneData(), draws: [0, 1])
        #expect(try exchange.ask("pool.example.com.").answerLines == [
            "pool.example.com. 30 IN A 192.0.2.1", "pool.example.com. 30 IN A 192.0.2.2",
        ])
        #expect(try exchange.ask("pool.example.com.").answerLines == ["pool.example.com. 30 IN A 198.51.100.1"])
    }

    @Test func onlyEndpointsWithTheAskedTypeAreCandidates() throws {
        // Only green has AAAA: any draw lands there.
        let exchange = Exchange(data: try makeZoneData(), draws: [0])
        #expect(try exchange.ask("pool.example.com.", .aaaa).answerLines == ["pool.example.com. 30 IN AAAA 2001:db8::1"])
    }

    @Test func otherTypesAtAnAddressSetAreNodata() throws {
        let response = try Exchange(data: try makeZoneData()).ask("pool.example.com.", .mx)
        #expect(response.rcode == .noError)
        #expect(response.answers.isEmpty)
        #expect(response.authority.map(\.type) == [.soa])
    }

    @Test func drainedEndpointIsNeverChosen() throws {
        let data = try makeZoneData()
        let exchange = Exchange(data: data, weights: zoneWeights(data, weights: ["api.example.com. new": 0]), draws: Array(0..<100))
        for _ in 0..<100 {
            #expect(try exchange.ask("api.example.com.").answerLines == ["api.example.com. 30 IN CNAME gw-old.example.net."])
        }
    }

    @Test func allEffectiveZeroFailsOpenToConfiguredWeights() throws {
        let data = try makeZoneData()
        let down = zoneWeights(data, down: Set(0..<data.slotCount))
        let exchange = Exchange(data: data, weights: down, draws: [95])
        #expect(try exchange.ask("api.example.com.").answerLines == ["api.example.com. 30 IN CNAME gw-new.example.net."])
    }

    /// The responder counts nothing itself: it reports the endpoint it chose (and the rcode)
    /// for the handler to count.
    @Test func theChosenEndpointAndTheRcodeAreReported() throws {
        let data = try makeZoneData()
        let exchange = Exchange(data: data, draws: [0, 10, 95])
        let api = try #require(data.weightedSet(named: try DomainName("api.example.com.")))
        let chosen = try (0..<3).map { _ in try exchange.summary("api.example.com.").chosenSlot }
        #expect(chosen == [Int32(api.endpoints[0].slot), Int32(api.endpoints[0].slot), Int32(api.endpoints[1].slot)])
        let www = try exchange.summary("www.example.com.")
        #expect(www.chosenSlot == -1 && www.rcode == .noError && www.length > 0)
        #expect(try exchange.summary("nowhere.example.com.").rcode == .nxDomain)
        #expect(try exchange.summary("example.org.").rcode == .refused)
    }

    @Test func statisticalSplitOverTheResponder() throws {
        let data = try makeZoneData()
        let responder = Responder(snapshot: Snapshot(zones: data, weights: zoneWeights(data), generation: 1),
                                  random: FastRandom(seed: 99))
        let query = try Message(header: Header(id: 1), questions: [Question(name: try DomainName("api.example.com."), type: .a)]).encoded()
        var out = [UInt8](repeating: 0, count: 1232)
        var newCount = 0
        let draws = 20_000
        for _ in 0..<draws {
            let length = query.withUnsafeBytes { q in out.withUnsafeMutableBytes { responder.respond(to: q, into: $0, overTCP: false).length } }
            if try Message.decode(Array(out[0..<length])).answerLines[0].contains("gw-new") { newCount += 1 }
        }
        let sigma = (Double(draws) * 0.1 * 0.9).squareRoot()
        #expect(abs(Double(newCount) - Double(draws) * 0.1) <= 4 * sigma, "\(newCount) of \(draws) answers named gw-new")
    }
}

/// all-down=refuse reached through a CNAME: SERVFAIL, and nothing written before it stays.
struct AllDownRefuseTests {
    static let zone = """
        $ORIGIN example.com.
        @       3600 IN SOA ns1 hostmaster 1 3600 600 604800 60
        @       3600 IN NS  ns1
        ns1     3600 IN A   192.0.2.53
        alias   300  IN CNAME strict
        strict  30   IN A   192.0.2.1 endpoint=a weight=1 all-down=refuse
        strict  30   IN A   192.0.2.2 endpoint=b weight=1
        """

    @Test func servfailAfterACNAMECarriesNoRecords() throws {
        let data = try makeZoneData([Self.zone])
        // Both endpoints configured, both down.
        let weights = zoneWeights(data, down: [0, 1])
        let exchange = Exchange(data: data, weights: weights, draws: [0])
        for name in ["alias.example.com.", "strict.example.com."] {
            let response = try exchange.ask(name)
            #expect(response.rcode == .servFail)
            #expect(response.answers.isEmpty, "\(name): \(response.answerLines)")
            #expect(response.authority.isEmpty)
            #expect(response.questions.count == 1)
        }
        // With an endpoint up, the CNAME and the address come back.
        let up = Exchange(data: data, weights: zoneWeights(data, down: [0]), draws: [0])
        #expect(try up.ask("alias.example.com.").answerLines == [
            "alias.example.com. 300 IN CNAME strict.example.com.", "strict.example.com. 30 IN A 192.0.2.2",
        ])
    }
}
