@testable import Authority
import DNSWire
import Foundation
import Testing
import Traffic
import ZoneFile

/// The oracle for the fast path: every query is answered twice, once by a responder that
/// copies what `DirectAnswers` holds ready and once by one that writes every answer through
/// the general path (`useDirectAnswers: false`), with the same draws; the two must give the
/// same bytes and report the same thing. Queries are generated, not picked: every name of
/// the zones (and a name below each, and one a wildcard stands for) × qtypes × case × EDNS
/// payloads (none, 512, 1232, 4096, and one with ECS) × weight tables (the zone's, mid-shift
/// with a TTL cap, every endpoint down) × UDP and TCP.
struct DirectAnswerOracleTests {
    /// Names in the shapes the fast path treats specially, and the ones it must leave alone.
    static let zone = """
        $ORIGIN example.com.
        $TTL 3600
        @        IN SOA ns1 hostmaster 2026112301 3600 600 604800 60
        @        IN NS  ns1
        @        IN NS  ns2.example.net.
        @        IN MX  10 mail
        @        IN MX  20 mail2.example.net.
        @        IN TXT "v=spf1 mx -all"
        @        IN A   192.0.2.1
        @        IN AAAA 2001:db8::1
        toapex   IN CNAME @
        tonet    IN CNAME example.net.
        in.toapex IN CNAME example.com.
        ns1      IN A   192.0.2.53
        ns1      IN AAAA 2001:db8::53
        www      IN A   192.0.2.10
        www      IN AAAA 2001:db8::10
        mail     IN A   192.0.2.25
        mail     IN AAAA 2001:db8::25
        _sip._tcp IN SRV 10 5 5060 www
        _sip._tcp IN SRV 20 5 5060 mail
        _ldap._tcp IN SRV 0 0 389 far.example.net.
        alias    IN CNAME alias2
        alias2   IN CNAME www
        c1       IN CNAME y.deep
        y.deep   IN CNAME z.deep.example.com.
        z.deep   IN A   192.0.2.41
        z.deep   IN AAAA 2001:db8::41
        ext      IN CNAME gw.example.net.
        outside  IN CNAME target.example.org.
        dangling IN CNAME missing
        towild   IN CNAME foo.wild
        tocn     IN CNAME bar.cn
        topool   IN CNAME pool
        toapi    IN CNAME api
        tosub    IN CNAME x.sub
        loop1    IN CNAME loop2
        loop2    IN CNAME loop1
        self     IN CNAME self
        sub      IN NS  ns.sub
        sub      IN NS  ns.example.net.
        ns.sub   IN A   192.0.2.200
        ns.sub   IN AAAA 2001:db8::200
        a.b.c    IN A   192.0.2.30
        *.wild   IN A   192.0.2.99
        *.wild   IN TXT "wildcard"
        *.cn     IN CNAME www
        *.mxw    IN MX  5 mail
        mxonly   IN MX  10 www
        nsname   IN TXT "a name with NS below"
        manymx   IN MX  10 m1
        manymx   IN MX  20 m2
        manymx   IN MX  30 m3
        manymx   IN MX  40 m4
        manymx   IN MX  50 m5
        \((1...5).map { "m\($0) IN A 203.0.113.\($0)\nm\($0) IN AAAA 2001:db8:5::\($0)" }.joined(separator: "\n"))
        \((1...40).map { "big 60 IN A 198.51.100.\($0)" }.joined(separator: "\n"))
        \((1...12).map { "big6 60 IN AAAA 2001:db8:6::\($0)" }.joined(separator: "\n"))
        api   30 IN CNAME gw-old.example.net. endpoint=old weight=90 ttl-shift=5
        api   30 IN CNAME gw-new.example.net. endpoint=new weight=10 role=new
        front 30 IN CNAME back.example.com. endpoint=here weight=1
        front 30 IN CNAME far.example.net. endpoint=away weight=1
        wapex 30 IN CNAME example.com. endpoint=apex weight=1
        wapex 30 IN CNAME www.example.com. endpoint=www weight=1
        back 300 IN A 192.0.2.77
        back 300 IN A 192.0.2.78
        back 300 IN AAAA 2001:db8::77
        pool  30 IN A    192.0.2.1    endpoint=blue weight=1
        pool  30 IN A    192.0.2.2    endpoint=blue
        pool  30 IN A    198.51.100.1 endpoint=green weight=3
        pool  30 IN AAAA 2001:db8::1  endpoint=green
        v4only 30 IN A   192.0.2.5    endpoint=one weight=1
        v4only 30 IN A   192.0.2.6    endpoint=two weight=1
        cohort 30 IN A   192.0.2.101  endpoint=old weight=50 select=client
        cohort 30 IN A   192.0.2.102  endpoint=new weight=50
        cohort 30 IN AAAA 2001:db8::102 endpoint=new
        strict 30 IN A   192.0.2.7    endpoint=one weight=1 all-down=refuse
        strict 30 IN A   192.0.2.8    endpoint=two weight=0
        \((1...30).map { "wbig 30 IN A 203.0.113.\(100 + $0) endpoint=many weight=1" }.joined(separator: "\n"))
        wbig  30 IN A    203.0.113.200 endpoint=one weight=1
        \(Self.longName("c"))  IN CNAME www
        \(Self.longName("w")) 30 IN CNAME www.example.com. endpoint=www weight=1
        \(Self.longName("w")) 30 IN CNAME alias.example.com. endpoint=alias weight=1
        """

    /// `first` and 69 one-octet labels under `long`: a question of more labels than the
    /// writer remembers compression targets for (64).
    static func longName(_ first: String) -> String {
        ([first] + [String](repeating: "a", count: 69) + ["long"]).joined(separator: ".")
    }

    /// A second zone, so chains leave one zone for another Veer serves.
    static let net = """
        $ORIGIN example.net.
        $TTL 600
        @        IN SOA ns2 hostmaster.example.com. 7 3600 600 604800 300
        @        IN NS  ns2
        ns2      IN A   198.51.100.53
        gw       IN CNAME gw-old
        gw-old   IN A   198.51.100.10
        gw-new   IN A   198.51.100.20
        gw-new   IN AAAA 2001:db8:1::20
        mail2    IN A   198.51.100.25
        far      IN A   198.51.100.30
        """

    /// The qtypes asked at every name: the fast path's (A, AAAA, CNAME, MX, SRV, NS) and
    /// others that must fall through to the general path.
    static let qtypes: [RRType] = [.a, .aaaa, .cname, .mx, .srv, .ns, .txt, .soa, .any, .ptr, .caa]

    /// An EDNS variant: none (nil), or a payload with or without an ECS option.
    struct EDNSVariant {
        var payload: UInt16
        var ecs: [UInt8]?
        /// DO (RFC 3225): signed zones answer with RRSIGs and NSEC proofs.
        var dnssecOK = false
    }

    /// Asked as well when zones are signed: DO=1 at sizes that fit and that truncate.
    static let signedEDNSVariants: [EDNSVariant?] = [
        EDNSVariant(payload: 1232, dnssecOK: true),
        EDNSVariant(payload: 512, dnssecOK: true),
        EDNSVariant(payload: 4096, ecs: [0, 1, 24, 0, 198, 51, 7], dnssecOK: true),
    ]

    static let ednsVariants: [EDNSVariant?] = [
        nil,
        EDNSVariant(payload: 512),
        EDNSVariant(payload: 1232),
        EDNSVariant(payload: 4096),
        // 198.51.7.0/24.
        EDNSVariant(payload: 1232, ecs: [0, 1, 24, 0, 198, 51, 7]),
        // 2001:db8:1::/48.
        EDNSVariant(payload: 600, ecs: [0, 2, 48, 0, 0x20, 0x01, 0x0D, 0xB8, 0, 1]),
    ]

    @Test func bothWaysAnswerTheHandMadeZonesAlike() throws {
        let (data, config) = try makeZones([Self.zone, Self.net])
        #expect(try compareAll(data, config: config) == 0)
    }

    /// Signed zones (one signed, one not): DO=0 queries keep the fast path, DO=1 queries take
    /// the general one, and both ways give the same bytes for each.
    @Test func bothWaysAnswerSignedZonesAlike() throws {
        let (data, config) = try makeZones([Self.zone, Self.net])
        let signatures = try fakeSignatures(data, origins: ["example.com."])
        #expect(try compareAll(data, config: config, signatures: signatures) == 0)
    }

    @Test func bothWaysAnswerEveryFixtureZoneAlike() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/zones/ok").path
        let (zones, errors) = ZoneParser.loadDirectory(directory, files: Self.disk)
        #expect(errors.isEmpty, "\(errors)")
        #expect(zones.count >= 9)
        // Each zone alone (the parser's owner table becomes the node table), then all together.
        for zone in zones {
            let (data, config) = makeZones(zones: [zone])
            #expect(try compareAll(data, config: config) == 0, "\(zone.file)")
        }
        let (data, config) = makeZones(zones: zones)
        #expect(try compareAll(data, config: config) == 0)
    }

    /// Files on disk, read with Foundation.
    static let disk = ZoneParser.Files(
        list: { try? FileManager.default.contentsOfDirectory(atPath: $0) },
        read: { path in
            guard let data = FileManager.default.contents(atPath: path) else { throw CocoaError(.fileReadUnknown) }
            return [UInt8](data)
        },
        canonicalPath: { URL(fileURLWithPath: $0).standardizedFileURL.resolvingSymlinksInPath().path })

    /// Names to ask about in `data`: every name in its tree, a name below each (NXDOMAIN,
    /// a wildcard's or a referral), the longest name of one-octet labels in each zone, and a
    /// name outside every zone.
    func names(_ data: ZoneData) throws -> [DomainName] {
        var names: [DomainName] = []
        for node in data.nodes {
            names.append(node.name)
            if node.name.wire.count + 6 <= DomainName.maxWireLength {
                names.append(try DomainName(wire: [5] + Array("any-x".utf8) + node.name.wire))
            }
        }
        // Questions of more labels than the writer compresses against (64).
        for zone in data.zones {
            let labels = (DomainName.maxWireLength - zone.origin.wire.count) / 2
            names.append(try DomainName(wire: Array([UInt8](repeating: 0, count: labels).map { _ in [1, 0x61] }.joined()) + zone.origin.wire))
        }
        names.append(try DomainName("example.invalid."))
        return names
    }

    /// Asks every generated query both ways under every weight table; returns how many
    /// differed (each is recorded as an issue, the first few with their bytes).
    func compareAll(_ data: ZoneData, config: [WeightedNameConfig], signatures: ZoneSignatures? = nil) throws -> Int {
        let qtypes = signatures == nil ? Self.qtypes : Self.qtypes + [.dnskey, .ds, .nsec]
        let ednsVariants = signatures == nil ? Self.ednsVariants : Self.ednsVariants + Self.signedEDNSVariants
        let hasWeighted = !data.weighted.isEmpty
        let tables = hasWeighted
            ? [zoneWeights(data), zoneWeights(data, ttlCap: 7), zoneWeights(data, down: Set(0..<data.slotCount), ttlCap: 7)]
            : [zoneWeights(data)]
        let names = try names(data)
        var differences = 0
        var asked = 0
        let out = (UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8),
                   UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8))
        defer { out.0.deallocate(); out.1.deallocate() }
        for (tableIndex, table) in tables.enumerated() {
            let snapshot = Snapshot(zones: data, weights: table, generation: 1, signatures: signatures)
            let fast = Responder(snapshot: snapshot, random: FastRandom(seed: 0))
            let general = Responder(snapshot: snapshot, random: FastRandom(seed: 0), useDirectAnswers: false)
            #expect(fast.useDirectAnswers && !general.useDirectAnswers)
            for name in names {
                for upper in [false, true] {
                    let wire = upper ? name.wire.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 } : name.wire
                    for qtype in qtypes {
                        for (ednsIndex, edns) in ednsVariants.enumerated() {
                            // Weighted choices without ECS are keyed by the resolver's address.
                            let resolver = ClientAddress(ipv6: false, high: UInt64(asked % 7) << 40 | 0xC633_0000_0000_0000, low: 0)
                            let query = Self.query(id: UInt16(truncatingIfNeeded: asked), name: wire, type: qtype, edns: edns)
                            for overTCP in edns == nil ? [false, true] : [false] {
                                asked += 1
                                fast.random = FastRandom(seed: UInt64(asked))
                                general.random = FastRandom(seed: UInt64(asked))
                                let answered = query.withUnsafeBytes { q in
                                    (fast.respond(to: q, into: out.0, overTCP: overTCP, resolver: resolver),
                                     general.respond(to: q, into: out.1, overTCP: overTCP, resolver: resolver))
                                }
                                let bytes = (Array(out.0[0..<answered.0.length]), Array(out.1[0..<answered.1.length]))
                                if answered.0 != answered.1 || bytes.0 != bytes.1 {
                                    differences += 1
                                    if differences <= 5 {
                                        Issue.record("""
                                            the fast and the general path differ: \(name) \(qtype) upper=\(upper) \
                                            edns=\(ednsIndex) tcp=\(overTCP) table=\(tableIndex)
                                            fast:    \(answered.0) \(bytes.0)
                                            general: \(answered.1) \(bytes.1)
                                            """)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(asked >= names.count * Self.qtypes.count * 14)
        return differences
    }

    /// A query for `name` (wire form, case as given) and `type`, with an OPT record when
    /// `edns` is given.
    static func query(id: UInt16, name: [UInt8], type: RRType, edns: EDNSVariant?) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, edns == nil ? 0 : 1]
        bytes += name
        bytes += [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF), 0, 1]
        if let edns {
            let options = edns.ecs.map { [0, 8, 0, UInt8($0.count)] + $0 } ?? []
            bytes += [0, 0, 41, UInt8(edns.payload >> 8), UInt8(edns.payload & 0xFF), 0, 0, edns.dnssecOK ? 0x80 : 0, 0]
            bytes += [UInt8(options.count >> 8), UInt8(options.count & 0xFF)] + options
        }
        return bytes
    }
}
