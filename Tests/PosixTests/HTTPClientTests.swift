import Posix
import Testing
import TestSupport

/// The HTTP/1.1 client the shared store talks to etcd with, against a real loopback server.
struct HTTPClientTests {
    @Test func aPostGetsTheWholeResponse() throws {
        let server = try LoopbackHTTPServer()
        server.set(status: 200, body: "{\"ok\":true}")
        let reply = try HTTPClient.post(server.address, path: "/v3/kv/range", body: Array("{}".utf8), timeout: .seconds(2))
        #expect(reply.status == 200)
        #expect(String(decoding: reply.body, as: UTF8.self) == "{\"ok\":true}")
        let request = String(decoding: server.lastRequest, as: UTF8.self)
        #expect(request.hasPrefix("POST /v3/kv/range HTTP/1.1\r\n") && request.contains("Content-Length: 2\r\n") && request.hasSuffix("{}"))
    }

    @Test func nobodyListeningIsAnErrorNamingTheAddress() throws {
        let listener = try LoopbackTCPListener()
        let address = listener.address
        listener.stop()
        #expect { try HTTPClient.post(address, path: "/", body: [], timeout: .milliseconds(500)) } throws: {
            "\($0)".contains("connect \(address)") && "\($0)".contains("ECONNREFUSED") && !($0 is HTTPClient.Unanswered)
        }
    }

    /// A POST sent and then not answered in time may have been acted on: the error says so
    /// by its type (an etcd transaction's outcome is then unknown), and reads as the timeout.
    @Test func aPostSentButNotAnsweredInTimeIsUnanswered() throws {
        let server = try LoopbackHTTPServer()
        server.set(status: 200, delay: .seconds(2), body: "{}")
        #expect { try HTTPClient.post(server.address, path: "/v3/kv/txn", body: Array("{}".utf8), timeout: .milliseconds(300)) } throws: {
            $0 is HTTPClient.Unanswered && "\($0)".contains("ETIMEDOUT") && "\($0)".contains("waiting for \(server.address)")
        }
    }

    @Test func aChunkedStreamIsReadLineByLine() throws {
        let server = try LoopbackHTTPServer()
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        // Lines split across chunks, two lines in one chunk, then the server holds the stream open.
        let chunks = ["{\"a\":", "1}\n{\"b\":2}\n", "{\"c\":3}\n"].map { String($0.utf8.count, radix: 16) + "\r\n" + $0 + "\r\n" }
        server.set(reply: Array((head + chunks.joined()).utf8), holdOpen: .seconds(5))
        var lines: [String] = []
        try HTTPClient.stream(server.address, path: "/v3/watch", body: [], connectTimeout: .seconds(2), idleTimeout: .seconds(2)) { line in
            lines.append(String(decoding: line, as: UTF8.self))
            return lines.count < 3
        }
        #expect(lines == ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"])
    }

    @Test func aStreamThatIsNotOkIsAnError() throws {
        let server = try LoopbackHTTPServer()
        server.set(status: 503, body: "no leader")
        #expect(throws: SystemError.self) {
            try HTTPClient.stream(server.address, path: "/v3/watch", body: [], connectTimeout: .seconds(2), idleTimeout: .seconds(2)) { _ in true }
        }
    }
}
