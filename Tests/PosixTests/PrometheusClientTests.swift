@testable import Posix
import Testing
import TestSupport

/// The Prometheus query client's encoding and reply parsing, on literal replies and on a real
/// loopback HTTP server (the whole chain against a real Prometheus is in
/// `PrometheusChainTests`).
struct PrometheusClientTests {
    static let server = "127.0.0.1:9090"

    func parse(_ json: String, status: Int = 200) -> PrometheusResult {
        PrometheusClient.parse(status: status, body: Array(json.utf8), server: Self.server)
    }

    @Test func percentEncodingKeepsOnlyUnreservedCharacters() {
        #expect(PrometheusClient.percentEncoded("AZaz09-._~") == "AZaz09-._~")
        #expect(PrometheusClient.percentEncoded(#"sum(rate(x{g="new",code=~"5.."}[1m])) / 2"#)
                == "sum%28rate%28x%7Bg%3D%22new%22%2Ccode%3D~%225..%22%7D%5B1m%5D%29%29%20%2F%202")
        #expect(PrometheusClient.percentEncoded("+&?#%é") == "%2B%26%3F%23%25%C3%A9")
    }

    @Test func theQueryPathSitsUnderThePrefix() {
        #expect(PrometheusClient.queryPath(pathPrefix: "", promql: "up") == "/api/v1/query?query=up")
        #expect(PrometheusClient.queryPath(pathPrefix: "/prom/", promql: "a b") == "/prom/api/v1/query?query=a%20b")
    }

    static let replies: [(String, String, PrometheusResult)] = [
        ("one series", #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"gateway":"new"},"value":[1712345678.123,"0.0123"]}]}}"#, .value(0.0123)),
        ("no labels", #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1712345678,"250"]}]}}"#, .value(250)),
        ("scalar", #"{"status":"success","data":{"resultType":"scalar","result":[1712345678.1,"1.5"]}}"#, .value(1.5)),
        ("+Inf", #"{"status":"success","data":{"resultType":"scalar","result":[1,"+Inf"]}}"#, .value(.infinity)),
        ("-Inf", #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"-Inf"]}]}}"#, .value(-.infinity)),
        ("exponent", #" {"status" : "success", "data":{"resultType":"scalar","result":[1,"1e-05"]}} "#, .value(0.00001)),
        ("empty vector", #"{"status":"success","data":{"resultType":"vector","result":[]}}"#, .noData),
        ("three series", #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1,"1"]},{"metric":{"a":"2"},"value":[1,"2"]},{"metric":{"a":"3"},"value":[1,"3"]}]}}"#,
         .failed("prometheus 127.0.0.1:9090: the query returned 3 series; aggregate it with sum() or similar")),
        ("matrix", #"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
         .failed("prometheus 127.0.0.1:9090: expected an instant vector or a scalar, found matrix; drop the range selector or aggregate it")),
        ("value as a number", #"{"status":"success","data":{"resultType":"scalar","result":[1,1.5]}}"#,
         .failed("prometheus 127.0.0.1:9090: not a query reply: expected a sample [time, \"value\"]")),
        ("value not a number", #"{"status":"success","data":{"resultType":"scalar","result":[1,"fast"]}}"#,
         .failed("prometheus 127.0.0.1:9090: not a query reply: expected a sample [time, \"value\"]")),
        ("no data", #"{"status":"success"}"#,
         .failed("prometheus 127.0.0.1:9090: not a query reply: expected status success with data.resultType and data.result")),
        ("a JSON array", "[1,2]",
         .failed("prometheus 127.0.0.1:9090: not a query reply: expected status success with data.resultType and data.result")),
        ("HTML", "<html>Prometheus</html>", .failed("prometheus 127.0.0.1:9090: not JSON")),
        ("trailing garbage", #"{"status":"success","data":{"resultType":"vector","result":[]}}x"#, .failed("prometheus 127.0.0.1:9090: not JSON")),
        ("an error with a newline", #"{"status":"error","errorType":"bad_data","error":"1:5: parse error:\nunexpected \u0000 end"}"#,
         .failed("prometheus 127.0.0.1:9090: bad_data: 1:5: parse error: unexpected   end")),
    ]

    @Test(arguments: replies)
    func repliesOfTheQueryAPI(_ name: String, _ json: String, _ expected: PrometheusResult) {
        #expect(parse(json) == expected, "\(name)")
    }

    @Test func notANumberIsAValue() {
        guard case .value(let v) = parse(#"{"status":"success","data":{"resultType":"scalar","result":[1,"NaN"]}}"#) else {
            Issue.record("NaN is not a value")
            return
        }
        #expect(v.isNaN)
    }

    @Test func errorStatusesWithAndWithoutPrometheusJSON() {
        #expect(parse(#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\""}"#, status: 400)
                == .failed("prometheus 127.0.0.1:9090: bad_data: invalid parameter \"query\""))
        #expect(parse(#"{"status":"error","errorType":"timeout","error":"query timed out"}"#, status: 503)
                == .failed("prometheus 127.0.0.1:9090: timeout: query timed out"))
        #expect(parse("Service Unavailable", status: 503) == .failed("prometheus 127.0.0.1:9090: HTTP 503"))
        #expect(parse(#"{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}"#, status: 500)
                == .failed("prometheus 127.0.0.1:9090: HTTP 500"))
    }

    @Test func aLongErrorTextIsCut() {
        let reply = parse(#"{"status":"error","errorType":"bad_data","error":""# + String(repeating: "x", count: 5000) + "\"}", status: 422)
        guard case .failed(let text) = reply else { Issue.record("not failed: \(reply)"); return }
        #expect(text.count == "prometheus 127.0.0.1:9090: bad_data: ".count + PrometheusClient.maxErrorText + 1)
        #expect(text.hasSuffix("x…"))
    }

    @Test func deepNestingIsRefusedNotRecursedInto() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(parse(deep) == .failed("prometheus 127.0.0.1:9090: not JSON"))
        #expect(JSONValue.parse(Array((String(repeating: "[", count: 32) + String(repeating: "]", count: 32)).utf8)) != nil)
    }

    @Test func jsonStringEscapes() {
        #expect(JSONValue.parse(Array(#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800x""#.utf8)) == .string("a\"\\/\u{8}\u{c}\n\r\té😀\u{FFFD}x"))
        #expect(JSONValue.parse(Array(#""\x""#.utf8)) == nil)
        #expect(JSONValue.parse(Array("\"a\u{1}\"".utf8)) == nil)
        #expect(JSONValue.parse(Array("{\"a\":1,\"a\":2}".utf8)) == .object(["a": .number(2)]))
        #expect(JSONValue.parse(Array("1e400".utf8)) == nil)
        #expect(JSONValue.parse(Array("[true,false,null]".utf8)) == .array([.bool(true), .bool(false), .null]))
    }

    /// Bytes that change a JSON document's structure, more often than random bytes would.
    static let significant = Array(#"{}[]",:"\0123456789-+.eE tfnu"#.utf8) + [0x00, 0x0A, 0x80, 0xFF]

    static func mutate(_ input: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0...random.below(3) {
            let at = random.below(bytes.count + 1)
            switch random.below(5) {
            case 0 where at < bytes.count: bytes[at] = significant[random.below(significant.count)]
            case 1: bytes.insert(significant[random.below(significant.count)], at: at)
            case 2 where at < bytes.count: bytes.removeSubrange(at..<min(bytes.count, at + 1 + random.below(8)))
            case 3 where at < bytes.count:
                let end = min(bytes.count, at + 1 + random.below(16))
                bytes.insert(contentsOf: bytes[at..<end], at: random.below(bytes.count + 1))
            default: bytes[at < bytes.count ? at : 0] ^= UInt8(truncatingIfNeeded: random.next())
            }
            if bytes.isEmpty { bytes = [0x7B] }
        }
        return bytes
    }

    /// Every strict prefix of a reply is refused; mutated replies give a value, no data, or a
    /// failure that is one printable line naming the server. Never a trap.
    @Test func truncatedAndMutatedRepliesNeverCrash() {
        let seeds = Self.replies.map { Array($0.1.utf8) }
            + [Array(#"{"status":"error","errorType":"bad_data","error":"parse error at char 5: unexpected \"(\""}"#.utf8)]
        // A strict prefix of a JSON document is never one, unless only white space was cut.
        for seed in seeds where JSONValue.parse(seed) != nil {
            for end in 0..<seed.count where !seed[end...].allSatisfy({ $0 == 0x20 }) {
                let result = PrometheusClient.parse(status: 200, body: Array(seed[..<end]), server: Self.server)
                guard case .failed = result else {
                    Issue.record("prefix \(String(decoding: seed[..<end], as: UTF8.self)) gave \(result)")
                    return
                }
            }
        }
        var random = SplitMix64(seed: 22)
        var outcomes = [0, 0, 0]
        for i in 0..<4000 {
            let body = Self.mutate(seeds[i % seeds.count], &random)
            switch PrometheusClient.parse(status: i % 7 == 0 ? 400 : 200, body: body, server: Self.server) {
            case .value: outcomes[0] += 1
            case .noData: outcomes[1] += 1
            case .failed(let text):
                outcomes[2] += 1
                #expect(text.hasPrefix("prometheus 127.0.0.1:9090: ") && !text.unicodeScalars.contains { $0.value < 0x20 }
                        && text.count < 400, "\(text)")
            }
        }
        // The mutations reach every outcome, so the parser's every path ran.
        #expect(outcomes.allSatisfy { $0 > 0 }, "\(outcomes)")
    }

    @Test func aGetSendsTheRequestLineAndHost() throws {
        let server = try LoopbackHTTPServer()
        server.set(status: 200, body: #"{"status":"success","data":{"resultType":"scalar","result":[1,"42"]}}"#)
        let result = PrometheusClient.query(server.address, pathPrefix: "/p", promql: "vector(42)", timeout: .seconds(2))
        #expect(result == .value(42))
        let request = String(decoding: server.lastRequest, as: UTF8.self)
        #expect(request.hasPrefix("GET /p/api/v1/query?query=vector%2842%29 HTTP/1.1\r\n"))
        #expect(request.contains("\r\nHost: \(server.address)\r\n") && request.hasSuffix("\r\n\r\n"))
        let reply = try HTTPClient.get(server.address, path: "/x", host: "prom.test", timeout: .seconds(2))
        #expect(reply.status == 200)
        #expect(String(decoding: server.lastRequest, as: UTF8.self).contains("\r\nHost: prom.test\r\n"))
    }

    @Test func anOversizeReplyIsAnError() throws {
        let server = try LoopbackHTTPServer()
        server.set(status: 200, body: String(repeating: " ", count: PrometheusClient.maxReply + 1))
        let result = PrometheusClient.query(server.address, pathPrefix: "", promql: "up", timeout: .seconds(2))
        #expect(result == .failed("prometheus \(server.address): reading the reply of \(server.address)/api/v1/query?query=up: over \(PrometheusClient.maxReply) bytes: EMSGSIZE (Message too long)"))
    }

    @Test func nobodyListeningIsAFailureNamingTheServer() throws {
        let listener = try LoopbackTCPListener()
        let address = listener.address
        listener.stop()
        let result = PrometheusClient.query(address, pathPrefix: "", promql: "up", timeout: .milliseconds(500))
        guard case .failed(let text) = result else { Issue.record("\(result)"); return }
        #expect(text.hasPrefix("prometheus \(address): connect \(address): ECONNREFUSED"))
    }

    @Test func aServerThatHangsUpEarlyIsAFailure() throws {
        let server = try LoopbackHTTPServer()
        server.set(reply: Array("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"status\"".utf8))
        let result = PrometheusClient.query(server.address, pathPrefix: "", promql: "up", timeout: .seconds(2))
        guard case .failed(let text) = result else { Issue.record("\(result)"); return }
        #expect(text.contains("not a whole HTTP response"))
    }
}
