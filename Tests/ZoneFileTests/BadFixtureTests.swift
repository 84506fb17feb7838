import Foundation
import Testing
import ZoneFile

/// Every file in `zones/bad`, with the exact diagnostics it must produce, all of them.
struct BadFixtureTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let file: String
        let diagnostics: [String]
        var testDescription: String { file }
    }

    static let cases: [Case] = [
        Case(file: "bad/bad-ipv4.zone", diagnostics: [
            "bad/bad-ipv4.zone:7:14: error: expected an IPv4 address, found \"192.0.2.300\"",
            "bad/bad-ipv4.zone:8:14: error: expected an IPv4 address, found \"192.0.2\"",
            "bad/bad-ipv4.zone:9:14: error: expected an IPv4 address, found \"192.0.2.1\"",
        ]),
        Case(file: "bad/bad-ipv6.zone", diagnostics: [
            "bad/bad-ipv6.zone:7:14: error: expected an IPv6 address, found \"2001:db8::g\"",
            "bad/bad-ipv6.zone:8:14: error: expected an IPv6 address, found \"2001:db8::1::2\"",
            "bad/bad-ipv6.zone:9:13: error: expected an IPv6 address, found end of line",
        ]),
        Case(file: "bad/unknown-type.zone", diagnostics: [
            "bad/unknown-type.zone:7:9: error: expected a record type (A, AAAA, CAA, CNAME, MX, NS, PTR, SOA, SRV, TXT or TYPEnnn), found \"AAA\"",
            "bad/unknown-type.zone:8:9: error: expected a record type (A, AAAA, CAA, CNAME, MX, NS, PTR, SOA, SRV, TXT or TYPEnnn), found \"TYPE70000\"",
            "bad/unknown-type.zone:9:14: error: expected RFC 3597 generic RDATA (\\# LENGTH HEX) for DS, found \"12345\"",
            "bad/unknown-type.zone:10:9: error: expected a data record type, found AXFR, which is a meta or query type",
        ]),
        Case(file: "bad/label-too-long.zone", diagnostics: [
            "bad/label-too-long.zone:7:1: error: expected a label of at most 63 octets, found one of 64 octets",
            "bad/label-too-long.zone:8:17: error: expected a label of at most 63 octets, found one of 64 octets",
        ]),
        Case(file: "bad/name-too-long.zone", diagnostics: [
            "bad/name-too-long.zone:7:1: error: expected a name of at most 255 octets, found 257 octets",
        ]),
        Case(file: "bad/missing-soa.zone", diagnostics: [
            "bad/missing-soa.zone:1:1: error: expected an SOA record at the zone apex bad.example., found none",
        ]),
        Case(file: "bad/two-soa.zone", diagnostics: [
            "bad/two-soa.zone:7:1: error: expected one SOA record at the apex, found a second one (the first is at line 4)",
        ]),
        Case(file: "bad/soa-not-apex.zone", diagnostics: [
            "bad/soa-not-apex.zone:7:1: error: expected the SOA record at the zone apex bad.example., found it at sub.bad.example.",
        ]),
        Case(file: "bad/no-apex-ns.zone", diagnostics: [
            "bad/no-apex-ns.zone:4:1: error: expected at least one NS record at the zone apex bad.example., found none",
        ]),
        Case(file: "bad/cname-and-other.zone", diagnostics: [
            "bad/cname-and-other.zone:8:1: error: expected no other data beside the CNAME at www.bad.example. (line 7), found A (RFC 1034 §3.6.2)",
            "bad/cname-and-other.zone:10:1: error: expected no other data beside a CNAME at mail.bad.example., found MX at line 9 (RFC 1034 §3.6.2)",
            "bad/cname-and-other.zone:12:1: error: expected one CNAME at alias.bad.example., found a second one (the first is at line 11); a name has at most one CNAME (RFC 1034 §3.6.2)",
            "bad/cname-and-other.zone:13:1: error: expected no other data beside a CNAME at bad.example., found SOA at line 4 (RFC 1034 §3.6.2)",
        ]),
        Case(file: "bad/out-of-zone.zone", diagnostics: [
            "bad/out-of-zone.zone:7:1: error: owner www.example.org. is outside the zone bad.example.; expected a name at or below the origin",
            "bad/out-of-zone.zone:8:1: error: owner example. is outside the zone bad.example.; expected a name at or below the origin",
            "bad/out-of-zone.zone:10:1: error: owner www.other.example. is outside the zone bad.example.; expected a name at or below the origin",
        ]),
        Case(file: "bad/unterminated-quote.zone", diagnostics: [
            "bad/unterminated-quote.zone:7:14: error: unterminated quoted string: expected a closing \" on the same line",
        ]),
        Case(file: "bad/unbalanced-paren.zone", diagnostics: [
            "bad/unbalanced-paren.zone:7:24: error: unbalanced parenthesis: \")\" without a matching \"(\"",
            "bad/unbalanced-paren.zone:8:20: error: unexpected \"(\" inside parentheses opened at line 8",
            "bad/unbalanced-paren.zone:9:14: error: unbalanced parenthesis: \"(\" is never closed",
        ]),
        Case(file: "bad/bad-ttl-unit.zone", diagnostics: [
            "bad/bad-ttl-unit.zone:7:9: error: expected a TTL (seconds, or numbers with units s, m, h, d, w as in 1h30m), found \"1y\"",
            "bad/bad-ttl-unit.zone:8:9: error: expected a TTL (seconds, or numbers with units s, m, h, d, w as in 1h30m), found \"1h30\"",
            "bad/bad-ttl-unit.zone:9:9: error: expected a TTL of at most 2147483647 seconds (RFC 2181 §8), found \"4294967296\"",
            "bad/bad-ttl-unit.zone:10:9: error: expected a TTL of at most 2147483647 seconds (RFC 2181 §8), found \"2147483648\"",
        ]),
        Case(file: "bad/unknown-directive.zone", diagnostics: [
            "bad/unknown-directive.zone:7:1: error: unknown directive \"$GENERATE\"; expected $ORIGIN, $TTL, $INCLUDE, $HEALTH or $ANALYSIS",
            "bad/unknown-directive.zone:8:8: error: expected a domain name after $ORIGIN, found end of line",
            "bad/unknown-directive.zone:9:12: error: expected end of line after the $TTL value, found \"2h\"",
        ]),
        Case(file: "bad/include-missing.zone", diagnostics: [
            "bad/include-missing.zone:7:10: error: cannot read $INCLUDE file \"bad/no-such-file.inc\": expected a readable file",
        ]),
        Case(file: "bad/include-loop.zone", diagnostics: [
            "bad/include-loop.inc:3:10: error: $INCLUDE loop: bad/include-loop.zone -> bad/include-loop.inc -> bad/include-loop.zone",
        ]),
        Case(file: "bad/class-ch.zone", diagnostics: [
            "bad/class-ch.zone:7:9: error: class CH is not supported; expected IN",
            "bad/class-ch.zone:8:14: error: class HS is not supported; expected IN",
            "bad/class-ch.zone:9:9: error: class CLASS3 is not supported; expected IN",
        ]),
        Case(file: "bad/bad-escape.zone", diagnostics: [
            "bad/bad-escape.zone:7:2: error: bad escape \"\\256\": expected \\X or \\DDD (DDD at most 255)",
            "bad/bad-escape.zone:8:2: error: bad escape \"\\12x\": expected \\X or \\DDD (DDD at most 255)",
            "bad/bad-escape.zone:9:19: error: bad escape \"\\99\": expected \\X or \\DDD (DDD at most 255)",
            "bad/bad-escape.zone:10:3: error: expected a label before \".\" in \"a..b\"; empty labels are not allowed",
        ]),
        Case(file: "bad/weighted-unknown-key.zone", diagnostics: [
            "bad/weighted-unknown-key.zone:7:45: error: unknown endpoint key \"colour\"; expected endpoint, weight, health, analysis, role, all-down, ttl-shift or select",
            "bad/weighted-unknown-key.zone:8:36: error: expected key=value (endpoint, weight, health, analysis, role, all-down, ttl-shift or select) after the RDATA, found \"weight\"",
            "bad/weighted-unknown-key.zone:9:25: error: expected endpoint=ID on a line with weight=, health=, analysis=, role=, all-down=, ttl-shift= or select=",
            "bad/weighted-unknown-key.zone:10:20: error: expected end of line after the MX RDATA, found \"endpoint=a\"",
            "bad/weighted-unknown-key.zone:11:25: error: expected an endpoint id of 1 to 32 letters, digits, \"_\" or \"-\", found \"has.dot\"",
            "bad/weighted-unknown-key.zone:12:45: error: expected role=new or role=old, found \"blue\"",
            "bad/weighted-unknown-key.zone:13:45: error: expected each endpoint key once, found weight= again",
        ]),
        Case(file: "bad/weighted-bad-weight.zone", diagnostics: [
            "bad/weighted-bad-weight.zone:7:36: error: expected a weight from 0 to 1000000, found \"abc\"",
            "bad/weighted-bad-weight.zone:8:36: error: expected a weight from 0 to 1000000, found \"1000001\"",
            "bad/weighted-bad-weight.zone:9:36: error: expected a weight from 0 to 1000000, found \"-1\"",
        ]),
        Case(file: "bad/weighted-all-zero.zone", diagnostics: [
            "bad/weighted-all-zero.zone:7:1: error: at least one endpoint of api.bad.example. needs weight > 0",
        ]),
        Case(file: "bad/weighted-mixed.zone", diagnostics: [
            "bad/weighted-mixed.zone:8:1: error: expected endpoints of one kind at api.bad.example., found a CNAME endpoint beside A/AAAA endpoints (line 7): a query would get a CNAME or an address set depending on the draw, and resolvers cache the two differently",
        ]),
        Case(file: "bad/weighted-no-weight.zone", diagnostics: [
            "bad/weighted-no-weight.zone:8:1: error: expected weight= on at least one line of endpoint \"new\" of api.bad.example., found none",
            "bad/weighted-no-weight.zone:10:1: error: expected weight=50 for endpoint \"old\" of api.bad.example. as at line 7, found weight=40",
        ]),
        Case(file: "bad/weighted-plain-record.zone", diagnostics: [
            "bad/weighted-plain-record.zone:9:1: error: expected endpoint= on every record at api.bad.example., which has weighted endpoints; found TXT without one",
            "bad/weighted-plain-record.zone:10:1: error: expected endpoint= on every record at api.bad.example., which has weighted endpoints; found A without one",
        ]),
        Case(file: "bad/weighted-two-cnames.zone", diagnostics: [
            "bad/weighted-two-cnames.zone:8:1: error: expected one CNAME for endpoint \"old\" of api.bad.example., found a second one (the first is at line 7)",
        ]),
        Case(file: "bad/several-errors.zone", diagnostics: [
            "bad/several-errors.zone:7:14: error: expected an IPv4 address, found \"192.0.2.256\"",
            "bad/several-errors.zone:8:14: error: expected an IPv6 address, found \"192.0.2.1\"",
            "bad/several-errors.zone:9:14: error: expected an MX preference (0-65535), found \"mail.example.net.\"",
            "bad/several-errors.zone:11:1: error: unknown directive \"$BOGUS\"; expected $ORIGIN, $TTL, $INCLUDE, $HEALTH or $ANALYSIS",
            "bad/several-errors.zone:12:18: error: expected an SRV port (0-65535), found \"70000\"",
            "bad/several-errors.zone:14:1: error: expected no other data beside the CNAME at f.bad.example. (line 13), found TXT (RFC 1034 §3.6.2)",
            "bad/several-errors.zone:15:9: error: expected a TTL (seconds, or numbers with units s, m, h, d, w as in 1h30m), found \"1x\"",
            "bad/several-errors.zone:16:24: error: expected key=value (endpoint, weight, health, analysis, role, all-down, ttl-shift or select) after the RDATA, found \"extra\"",
            "bad/several-errors.zone:17:16: error: expected a CAA tag (letters and digits, as in issue), found \"issue\"",
            "bad/several-errors.zone:20:35: error: expected an SOA minimum, found end of line",
        ]),
        Case(file: "bad/health-address-port-and-port.zone", diagnostics: [
            "bad/health-address-port-and-port.zone:7:40: error: expected either port= or a port in address=, found both",
            "bad/health-address-port-and-port.zone:8:28: error: expected either port= or a port in address=, found both",
        ]),
        Case(file: "bad/health-bad-address.zone", diagnostics: [
            "bad/health-bad-address.zone:7:17: error: expected address=IPv4, IPv4:PORT, IPv6 or [IPv6]:PORT (port 1 to 65535), found \"192.0.2.300\"",
            "bad/health-bad-address.zone:8:18: error: expected address=IPv4, IPv4:PORT, IPv6 or [IPv6]:PORT (port 1 to 65535), found \"gw.example.net:80\"",
            "bad/health-bad-address.zone:9:18: error: expected address=IPv4, IPv4:PORT, IPv6 or [IPv6]:PORT (port 1 to 65535), found \"[2001:db8::1]\"",
            "bad/health-bad-address.zone:10:18: error: expected address=IPv4, IPv4:PORT, IPv6 or [IPv6]:PORT (port 1 to 65535), found \"192.0.2.1:0\"",
            "bad/health-bad-address.zone:11:18: error: expected port= from 1 to 65535, found \"70000\"",
        ]),
        Case(file: "bad/health-bad-duration.zone", diagnostics: [
            "bad/health-bad-duration.zone:7:17: error: expected interval= from 100ms to 1h, found \"2h\"",
            "bad/health-bad-duration.zone:8:18: error: expected interval= as a duration such as 500ms, 2s, 1m or 1h30m, found \"2\"",
            "bad/health-bad-duration.zone:9:18: error: expected timeout= as a duration such as 500ms, 2s, 1m or 1h30m, found \"1.5s\"",
            "bad/health-bad-duration.zone:10:18: error: expected interval= from 100ms to 1h, found \"50ms\"",
            "bad/health-bad-duration.zone:11:18: error: expected max-latency= from 1ms to 1m, found \"2m\"",
        ]),
        Case(file: "bad/health-duplicate-name.zone", diagnostics: [
            "bad/health-duplicate-name.zone:8:9: error: expected one $HEALTH check named \"gw\", found a second one (the first is at line 7)",
        ]),
        Case(file: "bad/health-fall-zero.zone", diagnostics: [
            "bad/health-fall-zero.zone:7:17: error: expected fall= from 1 to 100, found \"0\"",
            "bad/health-fall-zero.zone:8:18: error: expected rise= from 1 to 100, found \"101\"",
        ]),
        Case(file: "bad/health-insecure-on-http.zone", diagnostics: [
            "bad/health-insecure-on-http.zone:7:17: error: expected no insecure on an http check: insecure is for https checks",
            "bad/health-insecure-on-http.zone:8:18: error: expected no ca= on an http check: ca= is for https checks",
        ]),
        Case(file: "bad/health-path-on-tcp.zone", diagnostics: [
            "bad/health-path-on-tcp.zone:7:26: error: expected no path= on a tcp check: path= is for http and https checks",
            "bad/health-path-on-tcp.zone:8:27: error: expected no expect= on a tcp check: expect= is for http and https checks",
        ]),
        Case(file: "bad/health-repeated-option.zone", diagnostics: [
            "bad/health-repeated-option.zone:7:31: error: expected each $HEALTH option once, found timeout= again",
            "bad/health-repeated-option.zone:8:28: error: expected each $HEALTH option once, found insecure again",
        ]),
        Case(file: "bad/health-tcp-no-port.zone", diagnostics: [
            "bad/health-tcp-no-port.zone:7:12: error: expected port=N or address=IP:PORT on a tcp check, found neither",
            "bad/health-tcp-no-port.zone:8:13: error: expected port=N or address=IP:PORT on a tcp check, found neither",
        ]),
        Case(file: "bad/health-timeout-not-shorter.zone", diagnostics: [
            "bad/health-timeout-not-shorter.zone:7:29: error: expected timeout= shorter than interval= (1s), found \"1s\"",
            "bad/health-timeout-not-shorter.zone:8:18: error: expected interval= longer than the default timeout (1s), found \"500ms\"; set a shorter timeout=",
            "bad/health-timeout-not-shorter.zone:9:18: error: expected timeout= shorter than the default interval (2s), found \"3s\"",
        ]),
        Case(file: "bad/health-undeclared.zone", diagnostics: [
            "bad/health-undeclared.zone:9:53: error: no $HEALTH check named \"gw\" in this zone; declared: gw-new, db",
        ]),
        Case(file: "bad/health-unknown-kind.zone", diagnostics: [
            "bad/health-unknown-kind.zone:7:12: error: expected a health check kind (tcp, http or https), found \"icmp\"",
            "bad/health-unknown-kind.zone:8:13: error: expected a health check kind (tcp, http or https), found \"HTTP\"",
            "bad/health-unknown-kind.zone:9:12: error: expected a health check kind (tcp, http or https), found end of line",
        ]),
        Case(file: "bad/health-unknown-option.zone", diagnostics: [
            "bad/health-unknown-option.zone:7:17: error: unknown $HEALTH option \"colour\"; expected interval, timeout, fall, rise, max-latency, port, address, path, host, expect, body, ca or insecure",
            "bad/health-unknown-option.zone:8:18: error: unknown $HEALTH option \"verbose\"; expected interval, timeout, fall, rise, max-latency, port, address, path, host, expect, body, ca or insecure",
        ]),
        Case(file: "bad/weighted-all-down-bad-value.zone", diagnostics: [
            "bad/weighted-all-down-bad-value.zone:7:45: error: expected all-down=open or all-down=refuse, found \"maybe\"",
            "bad/weighted-all-down-bad-value.zone:8:45: error: expected all-down=open or all-down=refuse, found \"\"",
        ]),
        Case(file: "bad/weighted-ttl-shift.zone", diagnostics: [
            "bad/weighted-ttl-shift.zone:8:1: error: expected ttl-shift=5 for api.bad.example. as at line 7, found ttl-shift=10; ttl-shift= is a setting of the name",
            "bad/weighted-ttl-shift.zone:9:45: error: expected ttl-shift=SECONDS from 1 to 86400, found \"0\"",
            "bad/weighted-ttl-shift.zone:10:45: error: expected ttl-shift=SECONDS from 1 to 86400, found \"1m\"",
            "bad/weighted-ttl-shift.zone:11:45: error: expected ttl-shift=SECONDS from 1 to 86400, found \"86401\"",
        ]),
        Case(file: "bad/weighted-select.zone", diagnostics: [
            "bad/weighted-select.zone:8:1: error: expected select=client for api.bad.example. as at line 7, found select=random; select= is a setting of the name",
            "bad/weighted-select.zone:9:45: error: expected select=random or select=client, found \"sticky\"",
        ]),
        Case(file: "bad/analysis-bad-value.zone", diagnostics: [
            "bad/analysis-bad-value.zone:7:24: error: expected url=http://…, found \"https://127.0.0.1:9090\": only http is supported for now",
            "bad/analysis-bad-value.zone:8:24: error: expected url=http://HOST[:PORT][/PREFIX] with HOST an IPv4 address, [IPv6] or localhost, found \"http://prometheus.example.net:9090\"",
            "bad/analysis-bad-value.zone:9:24: error: expected a port from 1 to 65535 in url=, found \"http://127.0.0.1:99999\"",
            "bad/analysis-bad-value.zone:10:45: error: expected query= to contain {{endpoint}}, which becomes the endpoint id, found \"sum(up)\"",
            "bad/analysis-bad-value.zone:11:86: error: expected max= as a decimal number such as 250, 0.01 or 1e-3, found \"1%\"",
            "bad/analysis-bad-value.zone:12:86: error: expected max-increase= of 1 or more (a factor over the baseline), found \"0.5\"",
            "bad/analysis-bad-value.zone:13:92: error: expected failure-limit= from 1 to 100, found \"0\"",
            "bad/analysis-bad-value.zone:14:92: error: expected inconclusive-limit= from 1 to 1000, found \"1001\"",
            "bad/analysis-bad-value.zone:15:92: error: expected interval= from 1s to 1h, found \"500ms\"",
            "bad/analysis-bad-value.zone:16:57: error: expected timeout= shorter than interval= (5s), found \"5s\"",
            "bad/analysis-bad-value.zone:17:86: error: expected min-requests= as a decimal number such as 250, 0.01 or 1e-3, found \"-1\"",
            "bad/analysis-bad-value.zone:18:86: error: expected max= of at least min= (0.2), found \"0.1\"",
        ]),
        Case(file: "bad/analysis-duplicate-name.zone", diagnostics: [
            "bad/analysis-duplicate-name.zone:8:11: error: expected one $ANALYSIS named \"errors\", found a second one (the first is at line 7)",
        ]),
        Case(file: "bad/analysis-missing.zone", diagnostics: [
            "bad/analysis-missing.zone:7:13: error: expected an analysis kind (prometheus), found \"graphite\"",
            "bad/analysis-missing.zone:8:13: error: expected url=http://HOST[:PORT] on $ANALYSIS b, found none",
            "bad/analysis-missing.zone:9:13: error: expected query=\"…\" on $ANALYSIS c, found none",
            "bad/analysis-missing.zone:10:13: error: expected requests=\"…\" on $ANALYSIS d, found none",
            "bad/analysis-missing.zone:11:11: error: expected at least one bound on $ANALYSIS e: max=, min= or max-increase=, found none",
            "bad/analysis-missing.zone:12:11: error: expected an analysis name of 1 to 32 letters, digits, \"_\" or \"-\", found \"f.g\"",
            "bad/analysis-missing.zone:13:10: error: expected an analysis name after $ANALYSIS, found end of line",
        ]),
        Case(file: "bad/analysis-tag.zone", diagnostics: [
            "bad/analysis-tag.zone:9:42: error: expected analysis=NAME[,NAME...] with names of 1 to 32 letters, digits, \"_\" or \"-\", found \"\"",
            "bad/analysis-tag.zone:10:42: error: expected analysis=NAME[,NAME...] with names of 1 to 32 letters, digits, \"_\" or \"-\", found \"errors,,latency\"",
            "bad/analysis-tag.zone:11:42: error: expected each analysis once in analysis=, found errors twice",
            "bad/analysis-tag.zone:13:1: error: expected analysis=errors for endpoint \"blue\" of web.bad.example. as at line 12, found analysis=latency",
        ]),
        Case(file: "bad/analysis-undeclared.zone", diagnostics: [
            "bad/analysis-undeclared.zone:8:73: error: no $ANALYSIS named \"latency\" in this zone; declared: errors",
        ]),
        Case(file: "bad/analysis-unknown-option.zone", diagnostics: [
            "bad/analysis-unknown-option.zone:7:50: error: unknown $ANALYSIS option \"step\"; expected url, interval, timeout, query, requests, traffic, max, min, max-increase, min-requests, failure-limit or inconclusive-limit",
            "bad/analysis-unknown-option.zone:8:56: error: expected each $ANALYSIS option once, found max= again",
            "bad/analysis-unknown-option.zone:9:50: error: expected query=VALUE, found \"query=\"",
            "bad/analysis-unknown-option.zone:10:50: error: unknown $ANALYSIS option \"insecure\"; expected url, interval, timeout, query, requests, traffic, max, min, max-increase, min-requests, failure-limit or inconclusive-limit",
        ]),
        Case(file: "bad/weighted-all-down-disagree.zone", diagnostics: [
            "bad/weighted-all-down-disagree.zone:9:1: error: expected all-down=refuse for api.bad.example. as at line 7, found all-down=open; all-down= is a setting of the name",
        ]),
    ]

    @Test(arguments: cases)
    func reportsEveryError(_ fixture: Case) {
        switch ZoneParser.load(file: Fixtures.path(fixture.file), files: .disk) {
        case .success:
            Issue.record("\(fixture.file) loaded without errors")
        case .failure(let errors):
            #expect(Fixtures.text(errors.diagnostics) == fixture.diagnostics)
            #expect(errors.description == errors.diagnostics.map(\.description).joined(separator: "\n"))
        }
    }

    /// The fixtures document themselves: a diagnostic points at a line marked `; KO`, and
    /// every line marked `; KO` gets a diagnostic.
    @Test(arguments: cases)
    func diagnosticsMatchTheKOComments(_ fixture: Case) throws {
        var flagged: Set<String> = []
        var marked: Set<String> = []
        for line in fixture.diagnostics {
            let parts = line.split(separator: ":")
            flagged.insert("\(parts[0]):\(parts[1])")
        }
        for file in Set(flagged.map { String($0.split(separator: ":")[0]) }) {
            let text = try String(contentsOfFile: Fixtures.path(file), encoding: .utf8)
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where line.contains("; KO") {
                marked.insert("\(file):\(index + 1)")
            }
        }
        #expect(flagged == marked)
    }

    @Test func everyBadFixtureIsAsserted() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("bad"))
            .filter { $0.hasSuffix(".zone") }.map { "bad/" + $0 }
        #expect(Set(files) == Set(Self.cases.map(\.file)))
    }
}
