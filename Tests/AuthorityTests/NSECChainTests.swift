@testable import Authority
import DNSWire
import Testing

/// The NSEC chain and the signing plan of a hand-made zone (RFC 4034 §4, §6.1; RFC 4035
/// §2.3): canonical order, empty non-terminals and glue left out, delegation points with NS
/// (and DS) only, weighted names with all their endpoints' types.
struct NSECChainTests {
    static let zone = """
        $ORIGIN example.com.
        $TTL 3600
        @       IN SOA ns1 hostmaster 2026112301 3600 600 604800 60
        @       IN NS  ns1
        @       IN MX  10 www
        ns1     IN A   192.0.2.53
        www     IN A   192.0.2.10
        www     IN AAAA 2001:db8::10
        a.b.c   IN A   192.0.2.30
        *.wild  IN TXT "any"
        sub     IN NS  ns.sub
        ns.sub  IN A   192.0.2.200
        sec     IN NS  ns.example.net.
        sec     IN DS  \\# 36 30390d0249f1c7c1f8f7c7ec3a9d6ddca2a34ce3b1e7e1dd1f2f23c4d5e6f7081920a1b2
        Zed     IN TXT "upper case sorts as lower"
        api  30 IN CNAME gw-old.example.net. endpoint=old weight=90
        api  30 IN CNAME gw-new.example.net. endpoint=new weight=10
        pool 30 IN A    192.0.2.1    endpoint=blue weight=1
        pool 30 IN A    198.51.100.1 endpoint=green weight=3
        pool 30 IN AAAA 2001:db8::1  endpoint=green
        """

    /// The chain's names and each NSEC's next name and bitmap, as the plan lists them.
    func nsecs() throws -> [(owner: String, next: String, types: [String])] {
        let data = try makeZoneData([Self.zone])
        let plan = SigningPlan(data, dnskeys: [try DomainName("example.com."): [fakeDNSKEY]])
        let zone = try #require(plan.zones.first)
        return try zone.sets.filter { $0.type == .nsec }.map { set throws -> (String, String, [String]) in
            let (next, types) = try set.rdatas[0].withUnsafeBytes { raw throws -> (DomainName, [String]) in
                var reader = WireReader(raw)
                let next = try reader.name("next")
                var types: [String] = []
                while !reader.isAtEnd {
                    let window = Int(try reader.u8("window")), length = Int(try reader.u8("length"))
                    for byte in 0..<length {
                        let bits = try reader.u8("bitmap")
                        for bit in 0..<8 where bits & (0x80 >> UInt8(bit)) != 0 {
                            types.append(RRType(rawValue: UInt16(window * 256 + byte * 8 + bit)).description)
                        }
                    }
                }
                return (next, types)
            }
            return (set.owner.description.lowercased(), next.description, types)
        }
    }

    @Test func chainIsInCanonicalOrderAndClosesAtTheApex() throws {
        let chain = try nsecs()
        #expect(chain.map(\.owner) == ["example.com.", "api.example.com.", "a.b.c.example.com.", "ns1.example.com.",
                                       "pool.example.com.", "sec.example.com.", "sub.example.com.", "*.wild.example.com.",
                                       "www.example.com.", "zed.example.com."])
        for (index, link) in chain.enumerated() {
            #expect(link.next == chain[(index + 1) % chain.count].owner)
        }
    }

    @Test func emptyNonTerminalsAndGlueHaveNoNSEC() throws {
        let owners = try nsecs().map(\.owner)
        for missing in ["b.c.example.com.", "c.example.com.", "wild.example.com.", "ns.sub.example.com."] {
            #expect(!owners.contains(missing))
        }
    }

    @Test(arguments: [
        ("example.com.", ["NS", "SOA", "MX", "RRSIG", "NSEC", "DNSKEY"]),
        ("www.example.com.", ["A", "AAAA", "RRSIG", "NSEC"]),
        ("sub.example.com.", ["NS", "RRSIG", "NSEC"]),
        ("sec.example.com.", ["NS", "DS", "RRSIG", "NSEC"]),
        ("api.example.com.", ["CNAME", "RRSIG", "NSEC"]),
        ("pool.example.com.", ["A", "AAAA", "RRSIG", "NSEC"]),
        ("*.wild.example.com.", ["TXT", "RRSIG", "NSEC"]),
    ])
    func bitmapListsTheTypesServedThere(owner: String, types: [String]) throws {
        let link = try #require(try nsecs().first { $0.owner == owner })
        #expect(link.types == types)
    }

    @Test func planSignsEveryEndpointAndNothingBelowACut() throws {
        let data = try makeZoneData([Self.zone])
        let plan = SigningPlan(data, dnskeys: [try DomainName("example.com."): [fakeDNSKEY]])
        let sets = try #require(plan.zones.first).sets
        func count(_ owner: String, _ type: RRType) -> Int {
            sets.filter { $0.owner.description.lowercased() == owner && $0.type == type }.count
        }
        #expect(count("api.example.com.", .cname) == 2)
        #expect(count("pool.example.com.", .a) == 2)
        #expect(count("pool.example.com.", .aaaa) == 1)
        #expect(count("example.com.", .dnskey) == 1)
        #expect(count("example.com.", .soa) == 1)
        #expect(count("sec.example.com.", .ds) == 1)
        #expect(count("sec.example.com.", .ns) == 0)
        #expect(count("sub.example.com.", .ns) == 0)
        #expect(count("ns.sub.example.com.", .a) == 0)
        // NSEC TTL: min(SOA TTL, SOA MINIMUM) = 60 (RFC 9077).
        #expect(sets.filter { $0.type == .nsec }.allSatisfy { $0.ttl == 60 })
        // The weighted A endpoint "blue" signs its one record; "green" its own.
        let pools = sets.filter { $0.owner.description == "pool.example.com." && $0.type == .a }.map(\.rdatas)
        #expect(pools == [[[192, 0, 2, 1]], [[198, 51, 100, 1]]])
    }

    @Test func zonesWithoutKeysAreNotPlanned() throws {
        let data = try makeZoneData([Self.zone])
        #expect(SigningPlan(data, dnskeys: [:]).zones.isEmpty)
    }

    @Test(arguments: [
        ("example.com.", "a.example.com.", true),
        ("a.example.com.", "B.example.com.", true),
        ("z.example.com.", "a.b.example.com.", false),
        ("yljkjljk.a.example.com.", "Z.a.example.com.", true),
        ("z.a.example.com.", "zABC.a.EXAMPLE.com.", true),
        ("*.z.example.com.", "\\200.z.example.com.", true),
        ("a.example.com.", "a.example.com.", false),
    ])
    func canonicalOrderFollowsRFC4034(smaller: String, larger: String, less: Bool) throws {
        let a = try DomainName(smaller), b = try DomainName(larger)
        let order = a.wire.withUnsafeBytes { x in b.wire.withUnsafeBytes { y in canonicalCompare(x, y) } }
        #expect((order < 0) == less)
        #expect((a < b) == less)
    }
}
