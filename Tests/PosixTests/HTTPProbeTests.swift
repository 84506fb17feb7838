import Posix
import Testing

@Suite struct HTTPProbeTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func requestIsGetWithHostUserAgentAndClose() {
        let request = String(decoding: HTTPProbe.request(host: "gw.example.net", path: "/healthz"), as: UTF8.self)
        #expect(request == "GET /healthz HTTP/1.1\r\nHost: gw.example.net\r\nUser-Agent: veer-health/1\r\n"
            + "Accept: */*\r\nConnection: close\r\n\r\n")
    }

    @Test(arguments: [
        ("gw-new.example.net.", "/", "GET / HTTP/1.1\r\nHost: gw-new.example.net\r\n"),
        ("gw.example.net:8080", "", "GET / HTTP/1.1\r\nHost: gw.example.net:8080\r\n"),
        ("gw.example.net", "/a b\r\nX: y", "GET /a%20b%0D%0AX:%20y HTTP/1.1\r\nHost: gw.example.net\r\n"),
        ("gw.example.net\r\nX: y", "/", "GET / HTTP/1.1\r\nHost: gw.example.netX:y\r\n"),
    ])
    func requestLineAndHostAreSanitized(host: String, path: String, expectedStart: String) {
        let request = String(decoding: HTTPProbe.request(host: host, path: path), as: UTF8.self)
        #expect(request.hasPrefix(expectedStart))
    }

    @Test func contentLengthBodyIsCutAtItsLength() throws {
        let reply = bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: t\r\n\r\nhelloEXTRA")
        let response = try #require(HTTPProbe.parseResponse(reply))
        #expect(response == HTTPResponse(status: 200, reason: "OK", headers: [
            .init(name: "Content-Length", value: "5"), .init(name: "Server", value: "t"),
        ], body: bytes("hello")))
        #expect(HTTPProbe.isComplete(reply))
    }

    @Test func shortContentLengthBodyIsIncomplete() throws {
        let reply = bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
        #expect(HTTPProbe.parseResponse(reply) == nil)
        #expect(!HTTPProbe.isComplete(reply))
        let truncated = try #require(HTTPProbe.parseResponse(reply, allowingTruncatedBody: true))
        #expect(truncated.status == 200)
        #expect(truncated.body == bytes("hello"))
        #expect(!truncated.bodyIsComplete)
    }

    @Test func chunkedBodyIsDecodedWithExtensionsAndTrailers() throws {
        let reply = bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\n1A\r\n, this chunk is 26 bytes..\r\n0\r\nChecksum: x\r\n\r\n")
        let response = try #require(HTTPProbe.parseResponse(reply))
        #expect(String(decoding: response.body, as: UTF8.self) == "hello, this chunk is 26 bytes..")
        #expect(response.bodyIsComplete)
        #expect(HTTPProbe.isComplete(reply))
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nTrailer: x\r\n",
    ])
    func unfinishedChunkedBodyIsIncomplete(reply: String) {
        #expect(HTTPProbe.parseResponse(bytes(reply)) == nil)
        #expect(!HTTPProbe.isComplete(bytes(reply)))
    }

    @Test func chunkedWinsOverContentLength() throws {
        let reply = bytes("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        #expect(try #require(HTTPProbe.parseResponse(reply)).body == bytes("ok"))
    }

    @Test func bodyWithoutLengthRunsUntilClose() throws {
        let reply = bytes("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")
        #expect(try #require(HTTPProbe.parseResponse(reply)).body == bytes("all of it"))
        #expect(!HTTPProbe.isComplete(reply))
    }

    @Test(arguments: [204, 304])
    func statusWithoutBodyIsCompleteAfterTheHead(status: Int) throws {
        let reply = bytes("HTTP/1.1 \(status) Whatever\r\nContent-Length: 7\r\n\r\n")
        let response = try #require(HTTPProbe.parseResponse(reply))
        #expect(response.status == status)
        #expect(response.body.isEmpty)
        #expect(HTTPProbe.isComplete(reply))
    }

    @Test func interimResponseIsSkipped() throws {
        let reply = bytes("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown")
        let response = try #require(HTTPProbe.parseResponse(reply))
        #expect(response.status == 503)
        #expect(response.reason == "Service Unavailable")
        #expect(response.body == bytes("down"))
    }

    @Test func bareLineFeedsAndMissingReasonAreAccepted() throws {
        let response = try #require(HTTPProbe.parseResponse(bytes("HTTP/1.1 200\nContent-Length: 2\n\nok")))
        #expect(response.status == 200)
        #expect(response.reason == "")
        #expect(response.body == bytes("ok"))
    }

    @Test func headerLookupIgnoresCase() throws {
        let response = try #require(HTTPProbe.parseResponse(bytes("HTTP/1.1 200 OK\r\nX-Gateway:  blue \r\nContent-Length: 0\r\n\r\n")))
        #expect(response.header("x-gateway") == "blue")
        #expect(response.header("X-GATEWAY") == "blue")
        #expect(response.header("missing") == nil)
    }

    @Test(arguments: [
        "SSH-2.0-OpenSSH_9.6\r\n",
        "hello",
        "HTTP/1.1 abc OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/x.1 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n",
    ])
    func garbageReplyIsRejectedAndNeedsNoMoreBytes(reply: String) {
        #expect(HTTPProbe.parseResponse(bytes(reply)) == nil)
        #expect(HTTPProbe.isComplete(bytes(reply)))
    }

    @Test func equalRepeatedContentLengthsAreAccepted() throws {
        let reply = bytes("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok")
        #expect(try #require(HTTPProbe.parseResponse(reply)).body == bytes("ok"))
    }

    @Test(arguments: ["", "HT", "HTTP/1.1 200 OK\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"])
    func unfinishedHeadIsIncomplete(reply: String) {
        #expect(HTTPProbe.parseResponse(bytes(reply)) == nil)
        #expect(HTTPProbe.parseResponse(bytes(reply), allowingTruncatedBody: true) == nil)
        #expect(!HTTPProbe.isComplete(bytes(reply)))
    }
}
