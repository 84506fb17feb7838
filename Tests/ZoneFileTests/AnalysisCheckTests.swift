import DNSWire
import Testing
import ZoneFile

/// `$ANALYSIS` declarations, their defaults and errors, and `analysis=` resolution.
struct AnalysisCheckTests {
    static let file = "ok/analysis.zone"

    func analysis(_ zone: Zone, _ name: String) throws -> AnalysisCheck {
        try #require(zone.analyses.first { $0.name == name })
    }

    @Test func aFullDeclarationOverSeveralLines() throws {
        let errors = try analysis(try Fixtures.zone(Self.file), "errors")
        #expect(errors == AnalysisCheck(
            name: "errors", kind: .prometheus, host: "127.0.0.1", port: 9090, pathPrefix: "", intervalMs: 10_000,
            timeoutMs: 5_000,
            query: #"sum(rate(gateway_requests_total{gateway="{{endpoint}}",code=~"5.."}[1m])) / sum(rate(gateway_requests_total{gateway="{{endpoint}}"}[1m]))"#,
            requests: #"sum(increase(gateway_requests_total{gateway="{{endpoint}}"}[1m]))"#,
            traffic: nil, max: 0.01, min: nil, maxIncrease: 1.5, minRequests: 100, failureLimit: 2, inconclusiveLimit: 6,
            position: errors.position))
        #expect(Fixtures.text([Diagnostic(position: errors.position, message: "")]) == ["ok/analysis.zone:10:1: error: "])
        #expect(errors.url == "http://127.0.0.1:9090")
    }

    @Test func queriesComeOutWithPlainQuotesAndTheEndpointFilledIn() throws {
        let errors = try analysis(try Fixtures.zone(Self.file), "errors")
        #expect(errors.query(for: "new") == #"sum(rate(gateway_requests_total{gateway="new",code=~"5.."}[1m])) / sum(rate(gateway_requests_total{gateway="new"}[1m]))"#)
        #expect(errors.requests(for: "gw_2-b") == #"sum(increase(gateway_requests_total{gateway="gw_2-b"}[1m]))"#)
        #expect(errors.traffic(for: "new") == nil)
        let latency = try analysis(try Fixtures.zone(Self.file), "latency")
        #expect(latency.traffic(for: "old") == #"sum(rate(gateway_requests_total{gateway="old"}[5m]))"#)
    }

    @Test func defaultsAreTheDocumentedOnes() throws {
        let plain = try analysis(try Fixtures.zone(Self.file), "plain")
        #expect(plain.kind == .prometheus)
        #expect(plain.host == "localhost" && plain.port == 80 && plain.pathPrefix == "")
        #expect(plain.intervalMs == AnalysisCheck.defaultIntervalMs && plain.intervalMs == 10_000)
        #expect(plain.timeoutMs == AnalysisCheck.defaultTimeoutMs && plain.timeoutMs == 5_000)
        #expect(plain.minRequests == 100)
        #expect(plain.failureLimit == 2)
        #expect(plain.inconclusiveLimit == 6)
        #expect(plain.max == nil && plain.maxIncrease == nil && plain.min == 0.5)
        #expect(plain.traffic == nil)
        // Unquoted values: PromQL's single quotes need no escapes.
        #expect(plain.query(for: "blue") == "up{job='blue'}")
    }

    @Test func everyOptionAtItsBounds() throws {
        let latency = try analysis(try Fixtures.zone(Self.file), "latency")
        #expect(latency.host == "::1" && latency.port == 9091 && latency.pathPrefix == "/prom")
        #expect(latency.url == "http://[::1]:9091/prom")
        #expect(latency.intervalMs == 60_000 && latency.timeoutMs == 30_000)
        #expect(latency.max == 0.25 && latency.min == 0.001 && latency.maxIncrease == 1.5)
        #expect(latency.minRequests == 1 && latency.failureLimit == 100 && latency.inconclusiveLimit == 1000)
    }

    @Test func analysesKeepDeclarationOrder() throws {
        let zone = try Fixtures.zone(Self.file)
        #expect(zone.analyses.map(\.name) == ["errors", "plain", "latency"])
    }

    @Test func endpointsResolveTheirAnalysesInTheOrderGiven() throws {
        let zone = try Fixtures.zone(Self.file)
        let summary = zone.weighted.map { name in
            "\(name.owner): " + name.endpoints.map { endpoint in
                "\(endpoint.id) health=\(endpoint.check?.name ?? "-") analyses=\(endpoint.analyses.map(\.name).joined(separator: ","))"
            }.joined(separator: ", ")
        }
        #expect(summary == [
            "api.analysis.example.: new health=gw-new analyses=errors, old health=- analyses=errors,latency",
            "web.analysis.example.: blue health=- analyses=plain, green health=- analyses=plain",
        ])
        let declared = Dictionary(uniqueKeysWithValues: zone.analyses.map { ($0.name, $0) })
        for endpoint in zone.weighted.flatMap(\.endpoints) {
            #expect(endpoint.analyses == endpoint.analyses.map { declared[$0.name]! })
        }
    }

    @Test func aShortIntervalHalvesTheDefaultTimeout() throws {
        let zone = try parseZone(apex + "$ANALYSIS a prometheus url=http://127.0.0.1:9090 interval=2s query={{endpoint}} requests={{endpoint}} max=1\n")
        #expect(zone.analyses.first?.timeoutMs == 1_000)
    }

    @Test func directiveKeywordIsCaseInsensitive() throws {
        let zone = try parseZone(apex + "$analysis a prometheus url=http://127.0.0.1 query={{endpoint}} requests={{endpoint}} max=1\n")
        #expect(zone.analyses.map(\.name) == ["a"])
    }

    static let declaration = "$ANALYSIS a prometheus url=http://127.0.0.1:9090 query={{endpoint}} requests={{endpoint}} "

    /// One option after `declaration` on line 5, and the error it gives.
    static let optionErrors: [(String, String)] = [
        ("max=1 interval=0s", "5:97: error: expected interval= from 1s to 1h, found \"0s\""),
        ("max=1 interval=2h", "5:97: error: expected interval= from 1s to 1h, found \"2h\""),
        ("max=1 interval=10", "5:97: error: expected interval= as a duration such as 500ms, 2s, 1m or 1h30m, found \"10\""),
        ("max=1 timeout=50ms", "5:97: error: expected timeout= from 100ms to 1m, found \"50ms\""),
        ("max=1 timeout=10s", "5:97: error: expected timeout= shorter than the default interval (10s), found \"10s\""),
        ("max=.5", "5:91: error: expected max= as a decimal number such as 250, 0.01 or 1e-3, found \".5\""),
        ("max=1.", "5:91: error: expected max= as a decimal number such as 250, 0.01 or 1e-3, found \"1.\""),
        ("max=1e", "5:91: error: expected max= as a decimal number such as 250, 0.01 or 1e-3, found \"1e\""),
        ("max=1e999", "5:91: error: expected max= as a decimal number such as 250, 0.01 or 1e-3, found \"1e999\""),
        ("max=inf", "5:91: error: expected max= as a decimal number such as 250, 0.01 or 1e-3, found \"inf\""),
        ("max=nan", "5:91: error: expected max= as a decimal number such as 250, 0.01 or 1e-3, found \"nan\""),
        ("max-increase=-2", "5:91: error: expected max-increase= as a decimal number such as 250, 0.01 or 1e-3, found \"-2\""),
        ("max-increase=0.99", "5:91: error: expected max-increase= of 1 or more (a factor over the baseline), found \"0.99\""),
        ("max=1 min-requests=0", "5:97: error: expected min-requests= of 1 or more (requests behind a verdict), found \"0\""),
        ("max=1 failure-limit=101", "5:97: error: expected failure-limit= from 1 to 100, found \"101\""),
        ("max=1 failure-limit=x", "5:97: error: expected failure-limit= from 1 to 100, found \"x\""),
        ("max=1 inconclusive-limit=0", "5:97: error: expected inconclusive-limit= from 1 to 1000, found \"0\""),
        ("max=1 traffic=\"sum(up)\"", "5:97: error: expected traffic= to contain {{endpoint}}, which becomes the endpoint id, found \"sum(up)\""),
        ("max=1 traffic=", "5:97: error: expected traffic=VALUE, found \"traffic=\""),
        ("max=1 url=http://127.0.0.1", "5:97: error: expected each $ANALYSIS option once, found url= again"),
        ("max=1 \"max=2\"", "5:97: error: unknown $ANALYSIS option \"max\"; expected url, interval, timeout, query, requests, traffic, max, min, max-increase, min-requests, failure-limit or inconclusive-limit"),
        ("min=1 max=0", "5:97: error: expected max= of at least min= (1), found \"0\""),
    ]

    @Test(arguments: optionErrors)
    func optionErrorsSayWhatWasExpected(_ option: String, _ message: String) {
        #expect(parseErrors(apex + Self.declaration + option + "\n") == ["test.example.zone:" + message])
    }

    /// A whole line 5, and the error it gives.
    static let urlErrors: [(String, String)] = [
        ("url=127.0.0.1:9090", "expected url=http://HOST[:PORT][/PREFIX] with HOST an IPv4 address, [IPv6] or localhost, found \"127.0.0.1:9090\""),
        ("url=HTTPS://127.0.0.1", "expected url=http://…, found \"HTTPS://127.0.0.1\": only http is supported for now"),
        ("url=http://[::1", "expected url=http://HOST[:PORT][/PREFIX] with HOST an IPv4 address, [IPv6] or localhost, found \"http://[::1\""),
        ("url=http://::1:9090", "expected url=http://HOST[:PORT][/PREFIX] with HOST an IPv4 address, [IPv6] or localhost, found \"http://::1:9090\""),
        ("url=http://[::1]9090", "expected url=http://HOST[:PORT][/PREFIX] with HOST an IPv4 address, [IPv6] or localhost, found \"http://[::1]9090\""),
        ("url=http://127.0.0.1:", "expected a port from 1 to 65535 in url=, found \"http://127.0.0.1:\""),
        ("url=http://127.0.0.1:0", "expected a port from 1 to 65535 in url=, found \"http://127.0.0.1:0\""),
        ("url=http://127.0.0.1/api?x=1", "expected a url= path prefix without ?, # or %, found \"http://127.0.0.1/api?x=1\""),
        ("url=http://", "expected url=http://HOST[:PORT][/PREFIX] with HOST an IPv4 address, [IPv6] or localhost, found \"http://\""),
    ]

    @Test(arguments: urlErrors)
    func urlErrorsSayWhatWasExpected(_ url: String, _ message: String) {
        let line = "$ANALYSIS a prometheus \(url) query={{endpoint}} requests={{endpoint}} max=1\n"
        #expect(parseErrors(apex + line) == ["test.example.zone:5:24: error: " + message])
    }

    @Test func urlsThatParse() throws {
        let zone = try parseZone(apex + """
            $ANALYSIS a prometheus url=http://192.0.2.9:9090/ query={{endpoint}} requests={{endpoint}} max=1
            $ANALYSIS b prometheus url=HTTP://LocalHost:8080/a/b// query={{endpoint}} requests={{endpoint}} max=1
            $ANALYSIS c prometheus url=http://[2001:db8::1] query={{endpoint}} requests={{endpoint}} max=1

            """)
        #expect(zone.analyses.map(\.url) == ["http://192.0.2.9:9090", "http://localhost:8080/a/b", "http://[2001:db8::1]:80"])
    }

    @Test func anUndeclaredAnalysisIsReportedAtItsName() {
        #expect(parseErrors(apex + "api CNAME gw.example.net. endpoint=a weight=1 analysis=errors\n") == [
            "test.example.zone:5:56: error: no $ANALYSIS named \"errors\" in this zone; declared: none",
        ])
    }

    @Test func aQuotedQueryKeepsBackslashEscapes() throws {
        let zone = try parseZone(apex + #"$ANALYSIS a prometheus url=http://127.0.0.1 query="x{a=\"{{endpoint}}\",b=~\"1\\\\.2\"}" requests={{endpoint}} max=1"# + "\n")
        #expect(zone.analyses.first?.query == #"x{a="{{endpoint}}",b=~"1\\.2"}"#)
    }
}
