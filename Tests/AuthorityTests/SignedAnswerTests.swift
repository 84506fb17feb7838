@testable import Authority
import DNSWire
import Testing
import TestSupport
import Traffic

/// Answers from a signed zone (RFC 4035 §3.1) with the signatures made in advance: RRSIGs
/// with DO=1 only, NSEC proofs for NXDOMAIN, NODATA, wildcards, empty non-terminals and
/// delegations, DNSKEY at the apex, AD never set. Signatures here are shaped like real ones
/// (`fakeSignatures`); validators check real ones in the integration tests.
struct SignedAnswerTests {
    let data: ZoneData
    let signatures: ZoneSignatures
    let exchange: Exchange

    init() throws {
        data = try makeZoneData([NSECChainTests.zone])
        signatures = try fakeSignatures(data)
        exchange = signedExchange(data, signatures: signatures)
    }

    static let dnssec = EDNS(payloadSize: 1232, dnssecOK: true)
    static let plain = EDNS(payloadSize: 1232)

    func types(_ records: [ResourceRecord]) -> [String] { records.map { "\($0.name.description.lowercased()) \($0.type)" } }

    @Test func positiveAnswerCarriesItsRRSIGOnlyWithDO() throws {
        let signed = try exchange.ask("www.example.com.", .a, edns: Self.dnssec)
        #expect(types(signed.answers) == ["www.example.com. A", "www.example.com. RRSIG"])
        #expect(signed.header.flags & Header.adBit == 0)
        #expect(signed.header.flags & Header.aaBit != 0)
        #expect(signed.edns?.dnssecOK == true)
        let unsigned = try exchange.ask("www.example.com.", .a, edns: Self.plain)
        #expect(types(unsigned.answers) == ["www.example.com. A"])
        #expect(unsigned.edns?.dnssecOK == false)
    }

    @Test func nameErrorIsProvedByTheNameAndWildcardNSECs() throws {
        let answer = try exchange.ask("nope.example.com.", .a, edns: Self.dnssec)
        #expect(answer.rcode == .nxDomain)
        #expect(types(answer.authority) == ["example.com. SOA", "example.com. RRSIG", "a.b.c.example.com. NSEC",
                                            "a.b.c.example.com. RRSIG", "example.com. NSEC", "example.com. RRSIG"])
    }

    @Test func noDataIsProvedByTheNamesOwnNSEC() throws {
        let answer = try exchange.ask("www.example.com.", .mx, edns: Self.dnssec)
        #expect(answer.rcode == .noError && answer.answers.isEmpty)
        #expect(types(answer.authority) == ["example.com. SOA", "example.com. RRSIG", "www.example.com. NSEC", "www.example.com. RRSIG"])
    }

    @Test func emptyNonTerminalIsProvedByTheNSECThatCoversIt() throws {
        let answer = try exchange.ask("c.example.com.", .a, edns: Self.dnssec)
        #expect(answer.rcode == .noError && answer.answers.isEmpty)
        #expect(types(answer.authority) == ["example.com. SOA", "example.com. RRSIG", "api.example.com. NSEC", "api.example.com. RRSIG"])
    }

    @Test func wildcardAnswerCarriesTheWildcardsSignatureAndNoCloserMatch() throws {
        let answer = try exchange.ask("x.wild.example.com.", .txt, edns: Self.dnssec)
        #expect(types(answer.answers) == ["x.wild.example.com. TXT", "x.wild.example.com. RRSIG"])
        // Labels 3: the signature is the wildcard's (RFC 4035 §5.3.4).
        if case .unknown(_, let rrsig) = answer.answers[1].data { #expect(rrsig[3] == 3) } else { Issue.record("RRSIG not opaque") }
        #expect(types(answer.authority) == ["*.wild.example.com. NSEC", "*.wild.example.com. RRSIG"])
        let noData = try exchange.ask("x.wild.example.com.", .a, edns: Self.dnssec)
        #expect(types(noData.authority) == ["example.com. SOA", "example.com. RRSIG", "*.wild.example.com. NSEC", "*.wild.example.com. RRSIG"])
    }

    @Test func referralCarriesDSOrTheCutsNSEC() throws {
        let insecure = try exchange.ask("www.sub.example.com.", .a, edns: Self.dnssec)
        #expect(types(insecure.authority) == ["sub.example.com. NS", "sub.example.com. NSEC", "sub.example.com. RRSIG"])
        let secure = try exchange.ask("www.sec.example.com.", .a, edns: Self.dnssec)
        #expect(types(secure.authority) == ["sec.example.com. NS", "sec.example.com. DS", "sec.example.com. RRSIG"])
        #expect(secure.header.flags & Header.aaBit == 0)
    }

    @Test func dsQuestionAtACutIsAnsweredByTheParent() throws {
        let present = try exchange.ask("sec.example.com.", .ds, edns: Self.dnssec)
        #expect(present.header.flags & Header.aaBit != 0)
        #expect(types(present.answers) == ["sec.example.com. DS", "sec.example.com. RRSIG"])
        let absent = try exchange.ask("sub.example.com.", .ds, edns: Self.dnssec)
        #expect(absent.header.flags & Header.aaBit != 0 && absent.answers.isEmpty)
        #expect(types(absent.authority) == ["example.com. SOA", "example.com. RRSIG", "sub.example.com. NSEC", "sub.example.com. RRSIG"])
    }

    @Test func dnskeyIsServedAtTheApexWithOrWithoutDO() throws {
        #expect(types(try exchange.ask("example.com.", .dnskey, edns: Self.plain).answers) == ["example.com. DNSKEY"])
        #expect(types(try exchange.ask("example.com.", .dnskey, edns: Self.dnssec).answers) == ["example.com. DNSKEY", "example.com. RRSIG"])
    }

    @Test func weightedAnswerCarriesTheChosenEndpointsSignature() throws {
        let weights = zoneWeights(data, weights: ["pool.example.com. blue": 0, "pool.example.com. green": 5])
        let exchange = Exchange(responder: Responder(snapshot: Snapshot(zones: data, weights: weights, generation: 1, signatures: signatures),
                                                     random: ScriptedRandom([0, 0, 0])))
        let answer = try exchange.ask("pool.example.com.", .a, edns: Self.dnssec)
        #expect(types(answer.answers) == ["pool.example.com. A", "pool.example.com. RRSIG"])
        guard case .unknown(_, let rrsig) = answer.answers[1].data else { Issue.record("RRSIG not opaque"); return }
        // The fake signature starts with the endpoint's address: green's, 198.51.100.1.
        #expect(Array(rrsig.suffix(64).prefix(4)) == [198, 51, 100, 1])
    }

    @Test func shortenedTTLStaysWithinTheRRSIGsOriginalTTL() throws {
        let weights = zoneWeights(data, ttlCap: 7)
        let exchange = Exchange(responder: Responder(snapshot: Snapshot(zones: data, weights: weights, generation: 1, signatures: signatures),
                                                     random: ScriptedRandom([0, 0, 0])))
        let answer = try exchange.ask("api.example.com.", .cname, edns: Self.dnssec)
        #expect(answer.answers.map(\.ttl) == [7, 7])
        guard case .unknown(_, let rrsig) = answer.answers[1].data else { Issue.record("RRSIG not opaque"); return }
        // Original TTL (RDATA octets 4-7): the zone's 30.
        #expect(Array(rrsig[4..<8]) == [0, 0, 0, 30])
    }

    @Test func unsignedZoneNextToASignedOneGetsNoDNSSECRecords() throws {
        let data = try makeZoneData([NSECChainTests.zone, DirectAnswerOracleTests.net])
        let exchange = signedExchange(data, signatures: try fakeSignatures(data, origins: ["example.com."]))
        let answer = try exchange.ask("gw-old.example.net.", .a, edns: Self.dnssec)
        #expect(types(answer.answers) == ["gw-old.example.net. A"])
        let missing = try exchange.ask("nope.example.net.", .a, edns: Self.dnssec)
        #expect(types(missing.authority) == ["example.net. SOA"])
    }
}
