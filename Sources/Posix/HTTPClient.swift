import Glibc

/// A small blocking HTTP/1.1 client for the shared state store's JSON gateway (etcd's
/// `/v3/...`) and Prometheus's query API: one POST or GET per connection with
/// `Connection: close`, or one long-lived streamed response read line by line (a watch); over
/// plain TCP, or over TLS for an `HTTPEndpoint` that has it.
/// Errors carry the errno name and what was being done
/// (`connect 127.0.0.1:2379: ECONNREFUSED (Connection refused)`).
public enum HTTPClient {
    /// Largest whole response read: the state and a page of audit lines fit with room to spare.
    public static let maxResponse = 16 << 20
    static let readChunk = 16384

    /// POSTs `body` (JSON) to `path` on `address` and returns the whole response. `timeout`
    /// bounds the connect and each wait for bytes. A failure once the connection is made is
    /// thrown as `Unanswered`: the server may have received the request and acted on it.
    public static func post(_ address: SocketAddress, path: String, body: [UInt8], timeout: Duration) throws -> HTTPResponse {
        try post(HTTPEndpoint(address), path: path, body: body, timeout: timeout)
    }

    /// `post` to `endpoint` (over TLS when it says so), with `headers` added to the request
    /// (`Authorization`). A failed TLS handshake is thrown as `TLSError`, and the server's
    /// refusal of this client's certificate after it as `HTTPCertificateRefused`: in both,
    /// the request was not served.
    public static func post(_ endpoint: HTTPEndpoint, path: String, body: [UInt8], headers: [(name: String, value: String)] = [],
                            timeout: Duration) throws -> HTTPResponse {
        let connection = try HTTPConnection.open(endpoint, timeout: timeout)
        do {
            return try exchange(connection, path: path, request: request(endpoint.address, path: path, body: body, headers: headers),
                                timeout: timeout, maxResponse: maxResponse)
        } catch let error as HTTPCertificateRefused {
            throw error
        } catch {
            throw Unanswered(underlying: error)
        }
    }

    /// A POST that failed after its connection was made (a timeout, a reset, a cut reply):
    /// the request may have arrived, so what it asked for may have been done. Reads as the
    /// error it wraps.
    public struct Unanswered: Error, CustomStringConvertible {
        public let underlying: any Error
        public var description: String { "\(underlying)" }
    }

    /// GETs `path` (with its query string, already percent-encoded) from `address` and returns
    /// the whole response. `host` is the `Host` header (the address when nil); `timeout`
    /// bounds the connect, and the sending and reading of the whole reply; a reply over
    /// `maxResponse` bytes is an error (`EMSGSIZE`).
    public static func get(_ address: SocketAddress, path: String, host: String? = nil, timeout: Duration,
                           maxResponse: Int = maxResponse) throws -> HTTPResponse {
        let head = "GET \(path) HTTP/1.1\r\nHost: \(host ?? "\(address)")\r\nUser-Agent: veer/1\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        let connection = try HTTPConnection.open(HTTPEndpoint(address), timeout: timeout)
        return try exchange(connection, path: path, request: Array(head.utf8), timeout: timeout, maxResponse: maxResponse)
    }

    /// Sends one request on the connection `fd` and reads the whole response, at most
    /// `maxResponse` bytes, all within `timeout`: a server that trickles its reply a byte at
    /// a time does not hold the caller any longer than one that says nothing.
    static func exchange(_ connection: HTTPConnection, path: String, request: [UInt8], timeout: Duration,
                         maxResponse: Int) throws -> HTTPResponse {
        let deadline = ContinuousClock.now + timeout
        let address = connection.endpoint
        try connection.send(request, timeout: timeout)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: readChunk)
        while !HTTPProbe.isComplete(received) {
            let left = deadline - ContinuousClock.now
            guard left > .zero else {
                throw SystemError(errno: .ETIMEDOUT, action: "reading the reply of \(address)\(path): not whole after \(timeout)")
            }
            let count = try connection.read(into: &buffer, timeout: left)
            if count == 0 { break }
            received += buffer[0..<count]
            guard received.count <= maxResponse else {
                throw SystemError(errno: .EMSGSIZE, action: "reading the reply of \(address)\(path): over \(maxResponse) bytes")
            }
        }
        guard let response = HTTPProbe.parseResponse(received) else {
            throw SystemError(errno: .EPROTO, action: "reading the reply of \(address)\(path): not a whole HTTP response")
        }
        return response
    }

    /// POSTs `body` and reads a chunked response as a stream of lines (etcd's watch sends one
    /// JSON object per line), calling `line` for each until it returns false, the server
    /// closes, or no byte came for `idleTimeout`. Returns normally only when `line` said stop.
    public static func stream(_ address: SocketAddress, path: String, body: [UInt8], connectTimeout: Duration,
                              idleTimeout: Duration, line: ([UInt8]) -> Bool) throws {
        try stream(HTTPEndpoint(address), path: path, body: body, connectTimeout: connectTimeout, idleTimeout: idleTimeout, line: line)
    }

    /// `stream` from `endpoint` (over TLS when it says so), with `headers` added to the request.
    public static func stream(_ endpoint: HTTPEndpoint, path: String, body: [UInt8], headers: [(name: String, value: String)] = [],
                              connectTimeout: Duration, idleTimeout: Duration, line: ([UInt8]) -> Bool) throws {
        let connection = try HTTPConnection.open(endpoint, timeout: connectTimeout)
        let address = endpoint
        try connection.send(request(endpoint.address, path: path, body: body, headers: headers), timeout: connectTimeout)
        var head: [UInt8] = []
        var decoder = ChunkedLines()
        var buffer = [UInt8](repeating: 0, count: readChunk)
        while true {
            let count = try connection.read(into: &buffer, timeout: idleTimeout)
            guard count > 0 else { throw SystemError(errno: .ECONNRESET, action: "streaming from \(address)\(path): closed by the server") }
            var bytes = buffer[0..<count]
            if decoder.headDone == false {
                head += bytes
                guard let end = Self.headEnd(head) else { continue }
                // The status line: `HTTP/1.1 200 OK`; the body is chunked, as a stream must be.
                let status = head.split(separator: 0x20, maxSplits: 2).dropFirst().first.map { String(decoding: $0, as: UTF8.self) }
                guard status == "200" else {
                    throw SystemError(errno: .EPROTO, action: "streaming from \(address)\(path): HTTP status \(status ?? "?")")
                }
                decoder.headDone = true
                bytes = head[end...]
            }
            for text in try decoder.feed(bytes, from: "\(address)\(path)") {
                if !line(text) { return }
            }
        }
    }

    /// Where the head ends (after the blank line), if it has.
    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 3..<bytes.count where bytes[i] == 0x0A && bytes[i - 1] == 0x0D && bytes[i - 2] == 0x0A && bytes[i - 3] == 0x0D {
            return i + 1
        }
        return nil
    }

    /// A POST with `headers` (any holding a CR or LF is left out: it would end the head).
    static func request(_ address: SocketAddress, path: String, body: [UInt8], headers: [(name: String, value: String)] = []) -> [UInt8] {
        let extra = headers.filter { !($0.name + $0.value).contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) }
            .map { "\($0.name): \($0.value)\r\n" }.joined()
        return Array("POST \(path) HTTP/1.1\r\nHost: \(address)\r\nUser-Agent: veer/1\r\n\(extra)Content-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body
    }

    /// A blocking TCP connection to `address`, or an error within `timeout`.
    static func connect(_ address: SocketAddress, timeout: Duration) throws -> Int32 {
        let fd = try Socket.open(Socket.stream, for: address, flags: Socket.nonBlocking)
        do {
            let result = address.withSockaddr { sa, len in Glibc.connect(fd, sa, len) }
            if result != 0 {
                let error = Errno.current
                guard error == .EINPROGRESS || error == .EINTR else { throw SystemError(errno: error, action: "connect \(address)") }
                guard try Socket.wait(fd, for: Int16(POLLOUT), nanoseconds: nanoseconds(timeout), "connect \(address)") else {
                    throw SystemError(errno: .ETIMEDOUT, action: "connect \(address)")
                }
                var value: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length)
                if value != 0 { throw SystemError(errno: Errno(rawValue: value), action: "connect \(address)") }
            }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
            try Socket.setTimeout(fd, SO_SNDTIMEO, nanoseconds(timeout), "setsockopt SO_SNDTIMEO \(address)")
            return fd
        } catch {
            closeDescriptor(fd)
            throw error
        }
    }

    static func send(_ fd: Int32, _ bytes: [UInt8], to address: SocketAddress) throws {
        try bytes.withUnsafeBytes { try Socket.sendAll(fd, $0, "send to \(address)") }
    }

    /// Waits up to `timeout` for bytes, then reads what is there (0 at the end of the stream).
    static func read(_ fd: Int32, into buffer: inout [UInt8], from address: SocketAddress, timeout: Duration) throws -> Int {
        guard try Socket.wait(fd, for: Int16(POLLIN), nanoseconds: nanoseconds(timeout), "poll \(address)") else {
            throw SystemError(errno: .ETIMEDOUT, action: "waiting for \(address)")
        }
        return try buffer.withUnsafeMutableBytes { raw in
            try systemCall("recv from \(address)") { recv(fd, raw.baseAddress!, raw.count, 0) }
        }
    }
}

/// Decodes a chunked body (RFC 9112 §7.1) as it arrives and splits it into `\n`-ended lines.
struct ChunkedLines {
    var headDone = false
    /// Bytes of the current chunk still to come; -1 while reading a size line.
    private var remaining = -1
    private var sizeLine: [UInt8] = []
    /// After a chunk's data: its CRLF still to skip.
    private var skipCRLF = 0
    private var pending: [UInt8] = []
    /// Longest line kept: one watch event carries at most the state and its header.
    static let maxLine = HTTPClient.maxResponse

    mutating func feed(_ bytes: ArraySlice<UInt8>, from source: @autoclosure () -> String) throws -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if skipCRLF > 0 {
                skipCRLF -= 1
                index += 1
            } else if remaining < 0 {
                let byte = bytes[index]
                index += 1
                if byte == 0x0A {
                    let digits = sizeLine.prefix { $0 != 0x3B && $0 != 0x0D }
                    guard let size = Int(String(decoding: digits, as: UTF8.self), radix: 16), size >= 0 else {
                        throw SystemError(errno: .EPROTO, action: "reading chunks from \(source()): bad chunk size")
                    }
                    guard size > 0 else { throw SystemError(errno: .ECONNRESET, action: "streaming from \(source()): the stream ended") }
                    sizeLine = []
                    remaining = size
                } else {
                    sizeLine.append(byte)
                    guard sizeLine.count <= 32 else { throw SystemError(errno: .EPROTO, action: "reading chunks from \(source()): chunk size line too long") }
                }
            } else {
                let take = min(remaining, bytes.endIndex - index)
                for byte in bytes[index..<(index + take)] {
                    if byte == 0x0A {
                        lines.append(pending)
                        pending = []
                    } else {
                        pending.append(byte)
                    }
                }
                guard pending.count <= Self.maxLine else { throw SystemError(errno: .EMSGSIZE, action: "streaming from \(source()): line too long") }
                index += take
                remaining -= take
                if remaining == 0 {
                    remaining = -1
                    skipCRLF = 2
                }
            }
        }
        return lines
    }
}
