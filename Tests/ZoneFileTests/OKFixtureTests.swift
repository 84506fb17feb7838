import DNSWire
import Testing
import ZoneFile

/// Every file in `zones/ok`, asserted record by record in presentation form.
struct OKFixtureTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let file: String
        let origin: String
        let records: [String]
        var testDescription: String { file }
    }

    static let cases: [Case] = [
        Case(file: "ok/directives.zone", origin: "directives.example.", records: [
            "directives.example. 3600 IN SOA ns1.directives.example. hostmaster.directives.example. 2026112201 3600 600 604800 60",
            "directives.example. 3600 IN NS ns1.directives.example.",
            "directives.example. 3600 IN NS ns2.example.net.",
            "ns1.directives.example. 3600 IN A 192.0.2.53",
            "www.directives.example. 300 IN A 192.0.2.10",
            "www.directives.example. 3600 IN TXT \"blank owner means www\"",
            "mail.directives.example. 300 IN MX 10 mail.directives.example.",
            "host.sub.directives.example. 3600 IN A 192.0.2.20",
            "sub.directives.example. 3600 IN A 192.0.2.21",
            "back.directives.example. 3600 IN A 192.0.2.22",
            "Upper.Case.directives.example. 3600 IN A 192.0.2.23",
            "in-name.directives.example. 3600 IN A 192.0.2.24",
        ]),
        Case(file: "ok/ttl-units.zone", origin: "ttl.example.", records: [
            "ttl.example. 3600 IN SOA ns.ttl.example. hostmaster.ttl.example. 1 3600 900 604800 300",
            "ttl.example. 3600 IN NS ns.ttl.example.",
            "ns.ttl.example. 5400 IN A 192.0.2.1",
            "a.ttl.example. 5400 IN A 192.0.2.2",
            "b.ttl.example. 1209600 IN A 192.0.2.3",
            "c.ttl.example. 30 IN A 192.0.2.4",
            "d.ttl.example. 93784 IN A 192.0.2.5",
            "e.ttl.example. 86400 IN A 192.0.2.6",
            "max.ttl.example. 2147483647 IN A 192.0.2.7",
            "f.ttl.example. 600 IN A 192.0.2.8",
            "g.ttl.example. 7 IN A 192.0.2.9",
            "h.ttl.example. 600 IN A 192.0.2.10",
        ]),
        Case(file: "ok/parentheses.zone", origin: "paren.example.", records: [
            "paren.example. 3600 IN SOA ns1.paren.example. hostmaster.paren.example. 2026112201 3600 600 604800 60",
            "paren.example. 3600 IN NS ns1.paren.example.",
            "ns1.paren.example. 3600 IN A 192.0.2.1",
            "txt.paren.example. 3600 IN TXT \"first\" \"second\"",
            "srv.paren.example. 3600 IN SRV 10 60 5060 sip.paren.example.",
        ]),
        Case(file: "ok/escapes.zone", origin: "escapes.example.", records: [
            "escapes.example. 300 IN SOA ns.escapes.example. hostmaster.escapes.example. 1 3600 600 604800 60",
            "escapes.example. 300 IN NS ns.escapes.example.",
            "ns.escapes.example. 300 IN A 192.0.2.1",
            "dot\\.in\\.label.escapes.example. 300 IN A 192.0.2.2",
            "Abc.escapes.example. 300 IN A 192.0.2.3",
            "sp\\ ace.escapes.example. 300 IN A 192.0.2.4",
            "txt.escapes.example. 300 IN TXT \"quoted \\\"string\\\"\" \"unquoted\" \"semi;colon (paren)\" \"\\240\\255\" \"back\\\\slash\"",
            "multi.escapes.example. 300 IN TXT \"a\" \"b\" \"c\"",
            "empty.escapes.example. 300 IN TXT \"\"",
            "caa.escapes.example. 300 IN CAA 0 issue \"letsencrypt.org\"",
            "caa.escapes.example. 300 IN CAA 128 iodef \"mailto:security@escapes.example\"",
            "mx.escapes.example. 300 IN MX 10 mail.escapes.example.",
            "srv.escapes.example. 300 IN SRV 0 5 443 escapes.example.",
            "ptr.escapes.example. 300 IN PTR www.example.net.",
            "v6.escapes.example. 300 IN AAAA 2001:db8::1",
            "v4mapped.escapes.example. 300 IN AAAA ::ffff:c000:280",
            "max.escapes.example. 300 IN TXT \"" + String(repeating: "x", count: 255) + "\"",
        ]),
        Case(file: "ok/rfc3597.zone", origin: "generic.example.", records: [
            "generic.example. 3600 IN SOA ns.generic.example. hostmaster.generic.example. 1 3600 600 604800 60",
            "generic.example. 3600 IN NS ns.generic.example.",
            "ns.generic.example. 3600 IN A 192.0.2.1",
            "v6.generic.example. 3600 IN AAAA 2001:db8::1",
            "un.generic.example. 3600 IN TYPE65534 \\# 4 0A000001",
            "empty.generic.example. 3600 IN TYPE65280 \\# 0",
            "type1.generic.example. 3600 IN A 192.0.2.7",
            "mx.generic.example. 3600 IN MX 10 mx.",
            "ds.generic.example. 3600 IN DS \\# 4 00010801",
            "cls.generic.example. 3600 IN A 192.0.2.8",
            "split.generic.example. 3600 IN TYPE65534 \\# 4 0A000001",
        ]),
        Case(file: "ok/include.zone", origin: "inc.example.", records: [
            "inc.example. 600 IN SOA ns.inc.example. hostmaster.inc.example. 1 3600 600 604800 60",
            "inc.example. 600 IN NS ns.inc.example.",
            "ns.inc.example. 600 IN A 192.0.2.1",
            "host.inc.example. 600 IN A 192.0.2.10",
            "host.inc.example. 600 IN TXT \"fragment\"",
            "host.sub.inc.example. 600 IN A 192.0.2.10",
            "host.sub.inc.example. 600 IN TXT \"fragment\"",
            "after.inc.example. 600 IN A 192.0.2.99",
        ]),
        Case(file: "ok/example.net.zone", origin: "example.net.", records: [
            "example.net. 300 IN SOA ns1.example.net. hostmaster.example.net. 1 3600 600 604800 60",
            "example.net. 300 IN NS ns1.example.net.",
            "ns1.example.net. 300 IN A 192.0.2.1",
            "www.example.net. 300 IN A 192.0.2.10",
            "www.example.net. 300 IN A 192.0.2.11",
            "alias.example.net. 300 IN CNAME www.example.net.",
            "child.example.net. 300 IN NS ns.child.example.net.",
            "ns.child.example.net. 300 IN A 192.0.2.50",
            "deep.child.example.net. 300 IN TXT \"below the cut\"",
        ]),
        Case(file: "ok/weighted.zone", origin: "example.com.", records: [
            "example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 2026112201 3600 600 604800 60",
            "example.com. 3600 IN NS ns1.example.com.",
            "ns1.example.com. 3600 IN A 192.0.2.53",
            "www.example.com. 3600 IN CNAME web.example.com.",
        ]),
        Case(file: "ok/analysis.zone", origin: "analysis.example.", records: [
            "analysis.example. 300 IN SOA ns1.analysis.example. hostmaster.analysis.example. 1 3600 600 604800 60",
            "analysis.example. 300 IN NS ns1.analysis.example.",
            "ns1.analysis.example. 300 IN A 192.0.2.53",
        ]),
        Case(file: "ok/health.zone", origin: "health.example.", records: [
            "health.example. 300 IN SOA ns1.health.example. hostmaster.health.example. 1 3600 600 604800 60",
            "health.example. 300 IN NS ns1.health.example.",
            "ns1.health.example. 300 IN A 192.0.2.53",
        ]),
    ]

    @Test(arguments: cases)
    func loadsRecordByRecord(_ fixture: Case) throws {
        let zone = try Fixtures.zone(fixture.file)
        #expect(zone.origin.description == fixture.origin)
        #expect(zone.file == Fixtures.path(fixture.file))
        #expect(zone.records.map(\.description) == fixture.records)
        #expect(zone.soa.description == fixture.records[0])
    }

    @Test func everyOKFixtureIsAsserted() throws {
        let listed = Set(Self.cases.map(\.file))
        let (zones, errors) = ZoneParser.loadDirectory(Fixtures.path("ok"), files: .disk)
        #expect(errors.isEmpty, "\(Fixtures.text(errors))")
        let loaded = Set(zones.map { $0.file.replacingOccurrences(of: Fixtures.zones + "/", with: "") })
        #expect(loaded == listed)
    }

    @Test func weightedEndpointsKeepFileOrderWeightsAndRecords() throws {
        let zone = try Fixtures.zone("ok/weighted.zone")
        let summary = zone.weighted.map { name in
            "\(name.owner): " + name.endpoints.map { endpoint in
                "\(endpoint.id) w=\(endpoint.weight) health=\(endpoint.health ?? "-") role=\(endpoint.role ?? "-") line=\(endpoint.position.line)"
            }.joined(separator: ", ")
        }
        #expect(summary == [
            "api.example.com.: old w=100 health=gw role=old line=9, new w=0 health=gw role=new line=10",
            "web.example.com.: blue w=75 health=- role=- line=13, green_2 w=25 health=- role=new line=16",
            "generic.example.com.: only w=1 health=- role=- line=20",
        ])
        let records = zone.weighted.map { $0.endpoints.map { $0.records.map(\.description) } }
        #expect(records == [
            [["api.example.com. 30 IN CNAME gw-old.example.net."], ["api.example.com. 30 IN CNAME gw-new.example.net."]],
            [
                ["web.example.com. 60 IN A 192.0.2.10", "web.example.com. 60 IN A 192.0.2.11", "web.example.com. 60 IN AAAA 2001:db8::10"],
                ["web.example.com. 60 IN A 198.51.100.10"],
            ],
            [["generic.example.com. 3600 IN A 192.0.2.100"]],
        ])
        // ttl-shift= is a setting of the name, given on one of its lines.
        #expect(zone.weighted.map(\.ttlShift) == [5, nil, nil])
    }
}
