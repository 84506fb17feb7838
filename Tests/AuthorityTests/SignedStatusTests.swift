@testable import Authority
import DNSWire
import TestSupport
import Testing

/// `_veer.NAME` status names in a signed zone (README "DNSSEC"): a validating resolver's
/// query (IN, DO=1) gets the zone's signed NXDOMAIN, which validates; `dig` (DO=0) and
/// class CH still read the TXT; unsigned zones answer as before.
struct SignedStatusTests {
    static let strings = ["endpoint=old weight=90 effective=90 health=up", "endpoint=new weight=10 effective=10 health=up"]

    /// A responder over the chain test's zone, signed (`signed`) or not, with status strings
    /// for api.example.com.
    func responder(signed: Bool) throws -> Responder<ScriptedRandom> {
        let data = try makeZoneData([NSECChainTests.zone])
        let snapshot = Snapshot(zones: data, weights: zoneWeights(data), generation: 3,
                                status: StatusRecords([(try DomainName("api.example.com."), Self.strings)]),
                                signatures: signed ? try fakeSignatures(data) : nil)
        return Responder(snapshot: snapshot, random: ScriptedRandom([]))
    }

    func ask(_ responder: Responder<ScriptedRandom>, _ type: RRType = .txt, rrclass: RRClass = .in, dnssec: Bool,
             allowed: Bool = true) throws -> Message {
        let query = try Message(header: Header(id: 5), questions: [Question(name: DomainName("_veer.api.example.com."), type: type, rrclass: rrclass)],
                                edns: EDNS(payloadSize: 1232, dnssecOK: dnssec)).encoded()
        var out = [UInt8](repeating: 0, count: 4096)
        let length = query.withUnsafeBytes { q in
            out.withUnsafeMutableBytes { o in responder.respond(to: q, into: o, overTCP: false, statusAllowed: allowed).length }
        }
        return try Message.decode(Array(out[0..<length]))
    }

    @Test func validatingResolverGetsTheSignedNameError() throws {
        let answer = try ask(try responder(signed: true), dnssec: true)
        #expect(answer.rcode == .nxDomain && answer.answers.isEmpty)
        // api.example.com's NSEC covers both the name and `*.api.example.com`: sent once.
        #expect(answer.authority.map(\.type) == [.soa, .rrsig, .nsec, .rrsig])
        #expect(answer.authority[2].name == (try DomainName("api.example.com.")))
    }

    @Test func digWithoutDNSSECStillReadsTheStatus() throws {
        let answer = try ask(try responder(signed: true), dnssec: false)
        #expect(answer.rcode == .noError)
        #expect(answer.answers.map(\.type) == [.txt])
    }

    @Test func classCHReadsTheStatusEvenWithDO() throws {
        let answer = try ask(try responder(signed: true), rrclass: .chaos, dnssec: true)
        #expect(answer.rcode == .noError)
        #expect(answer.answers.map(\.rrclass) == [.chaos])
        #expect(answer.answers.first?.description.contains("endpoint=old") == true)
    }

    @Test func classCHIsRefusedToOthersAndForOtherNames() throws {
        let refused = try ask(try responder(signed: true), rrclass: .chaos, dnssec: false, allowed: false)
        #expect(refused.rcode == .refused)
        let responder = try responder(signed: true)
        let query = try Message(header: Header(id: 6), questions: [Question(name: DomainName("www.example.com."), type: .txt, rrclass: .chaos)]).encoded()
        var out = [UInt8](repeating: 0, count: 512)
        let length = query.withUnsafeBytes { q in out.withUnsafeMutableBytes { responder.respond(to: q, into: $0, overTCP: false, statusAllowed: true).length } }
        #expect(try Message.decode(Array(out[0..<length])).rcode == .refused)
    }

    @Test func unsignedZoneKeepsTheStatusForDO() throws {
        let answer = try ask(try responder(signed: false), dnssec: true)
        #expect(answer.answers.map(\.type) == [.txt])
    }
}
