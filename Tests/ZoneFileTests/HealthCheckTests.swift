import DNSWire
import Testing
import ZoneFile

/// `$HEALTH` declarations, `health=` resolution and `all-down=`.
struct HealthCheckTests {
    static let file = "ok/health.zone"

    func check(_ zone: Zone, _ name: String) throws -> HealthCheck {
        try #require(zone.healthChecks.first { $0.name == name })
    }

    @Test func checksKeepDeclarationOrderAcrossIncludes() throws {
        let zone = try Fixtures.zone(Self.file)
        #expect(zone.healthChecks.map(\.name) == ["gw-new", "gw", "db", "plain", "all_opts", "late", "v6"])
        #expect(zone.healthChecks.map { Fixtures.text([Diagnostic(position: $0.position, message: "")])[0] } == [
            "ok/health.zone:8:1: error: ", "ok/health.zone:9:1: error: ", "ok/health.zone:10:1: error: ",
            "ok/health.zone:11:1: error: ", "ok/health.zone:12:1: error: ",
            "ok/health-checks.inc:2:1: error: ", "ok/health-checks.inc:3:1: error: ",
        ])
    }

    @Test func defaultsAreTheDocumentedOnes() throws {
        let plain = try check(try Fixtures.zone(Self.file), "plain")
        #expect(plain.kind == .http)
        #expect(plain.intervalMs == 2_000)
        #expect(plain.timeoutMs == 1_000)
        #expect(plain.fall == 3)
        #expect(plain.rise == 5)
        #expect(plain.maxLatencyMs == nil)
        #expect(plain.port == nil)
        #expect(plain.effectivePort == 80)
        #expect(plain.address == nil)
        #expect(plain.path == "/")
        #expect(plain.host == nil)
        #expect(plain.expect == [200...399])
        #expect(plain.accepts(status: 204) && plain.accepts(status: 302) && !plain.accepts(status: 404))
        #expect(plain.body == nil)
        #expect(plain.insecure == false)
        #expect(plain.ca == nil)
    }

    @Test func httpWithAddressAndTimers() throws {
        let c = try check(try Fixtures.zone(Self.file), "gw-new")
        #expect(c.kind == .http)
        #expect(c.address == "127.0.0.1")
        #expect(c.port == 8082)
        #expect(c.effectivePort == 8082)
        #expect(c.path == "/healthz")
        #expect(c.intervalMs == 1_000)
        #expect(c.timeoutMs == 500)
        #expect(c.fall == 3)
        #expect(c.rise == 5)
        #expect(c.maxLatencyMs == 300)
    }

    @Test func httpsWithHostExpectBodyInsecure() throws {
        let c = try check(try Fixtures.zone(Self.file), "gw")
        #expect(c.kind == .https)
        #expect(c.host == "api.example.net")
        #expect(c.path == "/healthz")
        #expect(c.expect == [200...299])
        #expect(c.body == "ok")
        #expect(c.insecure)
        #expect(c.port == nil)
        #expect(c.effectivePort == 443)
        #expect(c.address == nil)
    }

    @Test func everyOptionAtOnce() throws {
        let c = try check(try Fixtures.zone(Self.file), "all_opts")
        #expect(c == HealthCheck(name: "all_opts", kind: .https, intervalMs: 3_600_000, timeoutMs: 60_000, fall: 100,
                                 rise: 1, maxLatencyMs: 10, port: 8443, address: "2001:db8::7", path: "/status?full=1",
                                 host: "status.example.net", expect: [200...200, 204...204, 301...302],
                                 body: "all good", insecure: false, ca: "/etc/veer/ca.pem", position: c.position))
        #expect(c.accepts(status: 301) && !c.accepts(status: 303))
    }

    @Test func tcpPorts() throws {
        let zone = try Fixtures.zone(Self.file)
        let db = try check(zone, "db")
        #expect(db.kind == .tcp && db.port == 5432 && db.address == nil && db.effectivePort == 5432)
        let late = try check(zone, "late")
        #expect(late.address == "192.0.2.10" && late.port == 8080 && late.intervalMs == 100 && late.timeoutMs == 10)
        let v6 = try check(zone, "v6")
        #expect(v6.address == "2001:db8::9" && v6.port == 22)
    }

    @Test func endpointsResolveTheirChecksAndAllDown() throws {
        let zone = try Fixtures.zone(Self.file)
        let summary = zone.weighted.map { name in
            "\(name.owner) refuse=\(name.refuseWhenAllDown): " + name.endpoints.map { endpoint in
                "\(endpoint.id) health=\(endpoint.health ?? "-") check=\(endpoint.check?.name ?? "-")"
            }.joined(separator: ", ")
        }
        #expect(summary == [
            "api.health.example. refuse=true: new health=gw-new check=gw-new, old health=gw check=gw",
            "web.health.example. refuse=false: blue health=late check=late, green health=- check=-",
            "db.health.example. refuse=false: main health=db check=db",
        ])
        let declared = Dictionary(uniqueKeysWithValues: zone.healthChecks.map { ($0.name, $0) })
        for endpoint in zone.weighted.flatMap(\.endpoints) where endpoint.health != nil {
            #expect(endpoint.check == declared[endpoint.health!])
        }
    }

    @Test func weightedFixtureDeclaresItsCheckAfterUse() throws {
        let zone = try Fixtures.zone("ok/weighted.zone")
        #expect(zone.healthChecks.map(\.name) == ["gw"])
        #expect(zone.weighted[0].endpoints.map { $0.check?.path } == ["/healthz", "/healthz"])
        #expect(zone.weighted.map(\.refuseWhenAllDown) == [false, false, false])
    }

    @Test func undeclaredCheckWithNoneDeclared() {
        #expect(parseErrors(apex + "api CNAME gw.example.net. endpoint=a weight=1 health=gw\n") == [
            "test.example.zone:5:47: error: no $HEALTH check named \"gw\" in this zone; declared: none",
        ])
    }

    @Test func quotedBodyKeepsEscapesAndSpaces() throws {
        let zone = try parseZone(apex + "$HEALTH h http body=\"say \\\"hi\\\" now\"\n")
        #expect(zone.healthChecks.first?.body == "say \"hi\" now")
    }

    @Test func directiveKeywordIsCaseInsensitive() throws {
        let zone = try parseZone(apex + "$health h tcp port=1\n")
        #expect(zone.healthChecks.map(\.name) == ["h"])
    }

    @Test func oneErrorPerDirectiveThenTheNextEntry() {
        #expect(parseErrors(apex + "$HEALTH h tcp fall=0 rise=0\n$HEALTH h tcp port=1\n$HEALTH h tcp port=2\n") == [
            "test.example.zone:5:15: error: expected fall= from 1 to 100, found \"0\"",
            "test.example.zone:7:9: error: expected one $HEALTH check named \"h\", found a second one (the first is at line 6)",
        ])
    }
}
