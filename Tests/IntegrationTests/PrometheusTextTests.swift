import Testing

/// The test parser must accept what Prometheus accepts and reject what breaks the format,
/// or the /metrics tests prove nothing.
@Suite struct PrometheusTextTests {
    @Test func documentWithEveryKindOfLineParses() throws {
        let text = """
            # A free comment is ignored.
            # HELP veer_queries_total Queries answered, by transport. Backslash \\\\ and\\nnewline.
            # TYPE veer_queries_total counter
            veer_queries_total{transport="udp"} 1027
            veer_queries_total{ transport = "tcp" , } 3 1700000000000

            # TYPE veer_up gauge
            veer_up 1
            veer_ratio\t-1.5e-3
            veer_odd{path="C:\\\\dir",quote="say \\"hi\\"",nl="a\\nb"} +Inf
            veer_low -Inf
            veer_unknown NaN
            # TYPE veer_latency_seconds histogram
            veer_latency_seconds_bucket{le="0.001"} 5
            veer_latency_seconds_bucket{le="+Inf"} 7
            veer_latency_seconds_sum 0.25
            veer_latency_seconds_count 7
            ns:rule_name:rate5m{job="dns"} .5

            """
        let document = try PrometheusText(parsing: text)
        #expect(document.samples.count == 12)
        #expect(document.value("veer_queries_total", ["transport": "udp"]) == 1027)
        #expect(document.value("veer_queries_total", ["transport": "tcp"]) == 3)
        #expect(document.samples[1].timestamp == 1_700_000_000_000)
        #expect(document.total("veer_queries_total") == 1030)
        #expect(document.value("veer_queries_total") == nil)
        #expect(document.value("veer_up") == 1)
        #expect(document.value("veer_ratio") == -0.0015)
        #expect(document.value("veer_odd", ["path": "C:\\dir", "quote": "say \"hi\"", "nl": "a\nb"]) == .infinity)
        #expect(document.value("veer_low") == -.infinity)
        #expect(document.value("veer_unknown")?.isNaN == true)
        #expect(document.value("veer_latency_seconds_bucket", ["le": "+Inf"]) == 7)
        #expect(document.value("ns:rule_name:rate5m", ["job": "dns"]) == 0.5)
        #expect(document.types == ["veer_queries_total": .counter, "veer_up": .gauge, "veer_latency_seconds": .histogram])
        #expect(document.help["veer_queries_total"] == "Queries answered, by transport. Backslash \\ and\nnewline.")
        #expect(try PrometheusText.parse(text).map(\.name) == document.samples.map(\.name))
    }

    @Test func emptyDocumentHasNoSamples() throws {
        #expect(try PrometheusText.parse("").isEmpty)
        #expect(try PrometheusText.parse("# only a comment\n\n").isEmpty)
    }

    @Test(arguments: [
        // (document, line, start of the reason)
        ("ok 1\n9lives 1\n", 2, "invalid metric name \"9lives\""),
        ("veer-dash 1\n", 1, "invalid metric name \"veer-dash\""),
        ("a{9x=\"v\"} 1\n", 1, "sample a: invalid label name \"9x\""),
        ("a{x:y=\"v\"} 1\n", 1, "sample a: invalid label name \"x:y\""),
        ("a{=\"v\"} 1\n", 1, "sample a: invalid label name \"\""),
        ("a{x=v} 1\n", 1, "sample a: label x needs a quoted value"),
        ("a 1\nb{x=\"open} 1\n", 2, "unterminated label value"),
        ("a{x=\"tail\\\\\"} 1\nb{x=\"esc\\\"} 1\n", 2, "unterminated label value"),
        ("a{x=\"\\t\"} 1\n", 1, "invalid escape \"\\t\""),
        ("a{x=\"1\",x=\"2\"} 1\n", 1, "sample a: label x appears twice"),
        ("a{x=\"1\" y=\"2\"} 1\n", 1, "sample a: expected , or } after label x"),
        ("# TYPE a counter\na 1\nb 2\n# TYPE b gauge\n", 4, "TYPE for b after its samples"),
        ("# TYPE h histogram\nh_bucket{le=\"1\"} 1\n# TYPE h gauge\n", 3, "second TYPE line for h"),
        ("h_count 1\n# TYPE h_count counter\n", 2, "TYPE for h_count after its samples"),
        ("# TYPE a counter\n# TYPE a gauge\na 1\n", 2, "second TYPE line for a"),
        ("# HELP a one\n# HELP a two\n", 2, "second HELP line for a"),
        ("# TYPE a counters\n", 1, "TYPE for a: unknown type \"counters\""),
        ("# TYPE a\n", 1, "TYPE for a: missing the type"),
        ("# HELP 1a x\n", 1, "HELP needs a valid metric name"),
        ("a{x=\"1\"} 1\nb 1\na{x=\"1\"} 2\n", 3, "duplicate sample a{x=\"1\"}"),
        ("a 1\na 2\n", 2, "duplicate sample a"),
        ("a one\n", 1, "sample a: value \"one\" is not a number"),
        ("a 0x10\n", 1, "sample a: value \"0x10\" is not a number"),
        ("a nan\n", 1, "sample a: value \"nan\" is not a number"),
        ("a\n", 1, "sample a has no value"),
        ("a 1 12.5\n", 1, "sample a: timestamp \"12.5\" is not an integer"),
        ("a 1 2 3\n", 1, "sample a: unexpected text after the value"),
        ("a 1\r\n", 1, "sample a: value \"1\r\" is not a number"),
        ("a 1\nb 2", 2, "the last line does not end with a line feed"),
    ])
    func invalidDocumentIsRejectedWithItsLine(text: String, line: Int, reason: String) {
        do {
            let samples = try PrometheusText.parse(text)
            Issue.record("accepted: \(samples)")
        } catch let error as PrometheusText.ParseError {
            #expect(error.line == line, "\(error)")
            #expect(error.reason.hasPrefix(reason), "\(error)")
            #expect("\(error)" == "line \(error.line): \(error.reason)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
