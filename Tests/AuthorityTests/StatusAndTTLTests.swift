import Authority
import DNSWire
import TestSupport
import Testing
import Traffic

/// `_veer.NAME` status answers and the `ttl-shift=` TTL cap, through the responder.
struct StatusAndTTLTests {
    static let strings = ["endpoint=old weight=90 effective=90 health=up", "endpoint=new weight=10 effective=0 health=down",
                          "generation=7"]

    func exchange(allowed: Bool) throws -> (ZoneData, Responder<ScriptedRandom>) {
        let data = try makeZoneData()
        let api = try DomainName("api.example.com.")
        let snapshot = Snapshot(zones: data, weights: zoneWeights(data), generation: 7,
                                status: StatusRecords([(api, Self.strings)]))
        return (data, Responder(snapshot: snapshot, random: ScriptedRandom([0])))
    }

    func ask(_ responder: Responder<ScriptedRandom>, _ name: String, _ type: RRType, allowed: Bool) throws -> Message {
        let query = try Message(header: Header(id: 9), questions: [Question(name: DomainName(name), type: type)], edns: nil).encoded()
        var out = [UInt8](repeating: 0, count: 4096)
        let length = query.withUnsafeBytes { q in
            out.withUnsafeMutableBytes { o in responder.respond(to: q, into: o, overTCP: false, statusAllowed: allowed).length }
        }
        return try Message.decode(Array(out[0..<length]))
    }

    @Test func anAllowedClientReadsTheStatusAsTXT() throws {
        let (_, responder) = try exchange(allowed: true)
        let response = try ask(responder, "_veer.api.example.com.", .txt, allowed: true)
        #expect(response.rcode == .noError)
        #expect(response.header.authoritative)
        #expect(response.answers.count == 1)
        let record = try #require(response.answers.first)
        #expect(record.ttl == 0)
        #expect(record.data == .txt(Self.strings.map { Array($0.utf8) }))
    }

    @Test func theLabelAndNameMatchInAnyCase() throws {
        let (_, responder) = try exchange(allowed: true)
        let response = try ask(responder, "_VEER.Api.Example.COM.", .txt, allowed: true)
        #expect(response.answers.count == 1)
        #expect(response.questions.first?.name.description == "_VEER.Api.Example.COM.")
    }

    @Test func aClientThatIsNotAllowedIsRefused() throws {
        let (_, responder) = try exchange(allowed: false)
        let response = try ask(responder, "_veer.api.example.com.", .txt, allowed: false)
        #expect(response.rcode == .refused)
        #expect(response.answers.isEmpty)
    }

    @Test func otherTypesAtTheStatusNameHaveNoDataWithTheSOA() throws {
        let (_, responder) = try exchange(allowed: true)
        let response = try ask(responder, "_veer.api.example.com.", .a, allowed: true)
        #expect(response.rcode == .noError)
        #expect(response.answers.isEmpty)
        #expect(response.authority.map(\.type) == [.soa], "a cacheable NODATA")
    }

    @Test func aClientThatIsNotAllowedCannotTellWhichNamesAreWeighted() throws {
        let (_, responder) = try exchange(allowed: false)
        #expect(try ask(responder, "_veer.www.example.com.", .txt, allowed: false).rcode == .refused)
        #expect(try ask(responder, "_veer.nothing.example.com.", .txt, allowed: false).rcode == .refused)
        #expect(try ask(responder, "_veer.api.example.com.", .a, allowed: false).rcode == .refused)
    }

    @Test func aNameThatIsNotWeightedIsAnsweredFromTheZone() throws {
        let (_, responder) = try exchange(allowed: true)
        let response = try ask(responder, "_veer.www.example.com.", .txt, allowed: true)
        #expect(response.rcode == .nxDomain)
        #expect(response.authority.map(\.type) == [.soa])
    }

    @Test(arguments: [(UInt32(0), UInt32(30)), (5, 5), (30, 30), (600, 30)])
    func theTTLCapShortensWeightedAnswersOnly(cap: UInt32, expected: UInt32) throws {
        let data = try makeZoneData()
        let weights = zoneWeights(data, ttlCap: cap)
        let exchange = Exchange(data: data, weights: weights, draws: [0, 0])
        #expect(try exchange.ask("api.example.com.").answers.map(\.ttl) == [expected])
        #expect(try exchange.ask("pool.example.com.").answers.map(\.ttl) == [expected, expected])
        #expect(try exchange.ask("www.example.com.").answers.map(\.ttl) == [3600], "static names keep their TTL")
    }
}
