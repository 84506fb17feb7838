import Glibc
import Synchronization

/// Serves `GET /metrics` over a minimal HTTP/1.1 (RFC 9112), for Prometheus scrapes.
///
/// One request per connection, then the server closes (`Connection: close`), so there is no
/// keep-alive state to get wrong. Scrapes are rare, so simplicity wins over speed:
/// - One accept thread; each connection gets its own thread, at most `maxConnections` at
///   once. A connection beyond that gets `503 Service Unavailable` at once and is closed, so
///   slow or stuck clients cannot queue up the others.
/// - The whole request head (request line and header fields) must arrive within
///   `requestTimeout` and fit in `maxRequestHead` bytes; a slow client is disconnected, a
///   bigger head gets `431 Request Header Fields Too Large`. The whole reply must be taken by
///   the client within `sendTimeout` (a total, not per write: a client reading a byte at a
///   time is dropped all the same), and the close after it waits at most `drainTimeout`. So
///   a connection holds its place for at most the sum of the three, and slow clients cannot
///   keep a scraper out for longer than that (issue 23).
/// - `GET /metrics` (any query string) gets `200 OK` with `render()` as the body, typed
///   `text/plain; version=0.0.4` (the Prometheus text format). `HEAD` gets the same head
///   without the body. Another path gets 404, another method 405 with `Allow: GET, HEAD`, a
///   malformed head 400, an HTTP version other than 1.x 505.
/// - A request body is never read: after replying, the server reads and throws away what the
///   client still sends (at most `drainLimit` bytes, for `drainTimeout`), so the client reads
///   the reply rather than a connection reset.
///
/// Other read-only resources may be served beside it on the same terms (`Resource`: the live
/// page and its JSON); a path that is neither gets 404.
///
/// `render` runs on a connection thread, possibly on several at once: it must be thread-safe,
/// and quick, since the scrape waits for it.
public final class MetricsServer: Sendable {
    /// A resource served beside `/metrics`: its exact path, its content type and its body.
    public struct Resource: Sendable {
        public let path: String
        public let contentType: String
        public let render: @Sendable () -> String

        /// `render` gives each reply's body; it runs on connection threads, as the metrics' does.
        public init(path: String, contentType: String, render: @escaping @Sendable () -> String) {
            self.path = path
            self.contentType = contentType
            self.render = render
        }
    }

    /// The only resource served.
    public static let path = "/metrics"
    /// Prometheus text exposition format 0.0.4 (what Prometheus asks for and accepts).
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
    /// Connections served at once; scrapers are a handful of Prometheus servers and people
    /// with curl.
    public static let maxConnections = 8
    /// Longest request head accepted: 8 KiB, the limit of many HTTP servers; a scrape's head
    /// is a few hundred bytes.
    public static let maxRequestHead = 8192
    /// Default time a client has to send its whole request head.
    public static let defaultRequestTimeout: Duration = .seconds(5)
    /// Default time the whole reply may take to send; a client that does not read it all
    /// by then is dropped.
    public static let defaultSendTimeout: Duration = .seconds(5)
    /// After the reply, leftover request bytes read and discarded before closing, at most.
    static let drainLimit = 65536
    /// After the reply, how long to wait for the client to close before closing anyway.
    static let drainTimeout: Duration = .seconds(1)
    /// Pending connections the kernel queues while the accept thread catches up.
    static let listenBacklog: Int32 = 16
    /// Bytes read per read(2) call.
    static let readChunk = 4096

    /// The address actually bound (the real port when port 0 was asked for).
    public let boundAddress: SocketAddress
    private let threads: ConnectionThreads
    /// Refused connections whose request is still being drained (see `start`).
    private let refusalsDraining = Atomic<Int>(0)
    private let requestTimeout: UInt64
    private let sendTimeout: UInt64
    /// `/metrics` first, then the other resources.
    private let resources: [Resource]

    /// Binds and listens on `address` now; call `start()` to begin serving.
    ///
    /// - Parameters:
    ///   - address: where to listen, e.g. `127.0.0.1:9153` or `[::]:9153`; port 0 picks a
    ///     free port (see `boundAddress`).
    ///   - requestTimeout: how long a client may take to send its request head.
    ///   - sendTimeout: how long a client may take to read the whole reply.
    ///   - resources: other paths served, e.g. `/` and `/api/names`.
    ///   - render: the body of each `GET /metrics`, in the Prometheus text format.
    /// - Throws: `SystemError`, e.g. `bind 127.0.0.1:9153: EADDRINUSE (Address already in use)`.
    public init(address: SocketAddress, requestTimeout: Duration = MetricsServer.defaultRequestTimeout,
                sendTimeout: Duration = MetricsServer.defaultSendTimeout, resources: [Resource] = [],
                render: @escaping @Sendable () -> String) throws {
        let (fd, bound) = try Socket.listen(on: address, backlog: Self.listenBacklog)
        boundAddress = bound
        threads = ConnectionThreads(listener: fd, threadName: "veer-metrics", maxClients: Self.maxConnections)
        self.requestTimeout = max(1, nanoseconds(requestTimeout))
        self.sendTimeout = max(1, nanoseconds(sendTimeout))
        self.resources = [Resource(path: Self.path, contentType: Self.contentType, render: render)]
            + resources.filter { $0.path != Self.path }
    }

    /// Starts accepting on a background thread and returns. Calling it again does nothing.
    public func start() {
        threads.start(serve: { [self] fd in serve(fd) }, refuse: { [self] fd in
            // A new socket's send buffer is empty, so this short reply does not block.
            let busy = Self.response(status: 503, headOnly: false)
            _ = busy.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            // Closing now, with the client's request unread, would make the kernel answer it
            // with a reset that destroys the 503 before the client reads it (a scraper saw
            // ECONNRESET instead of 503). A duplicate descriptor keeps the socket open while
            // a thread drains the request, at most `maxConnections` at once; beyond that the
            // refusal is closed at once, as before.
            guard refusalsDraining.add(1, ordering: .relaxed).newValue <= Self.maxConnections else {
                refusalsDraining.subtract(1, ordering: .relaxed)
                return
            }
            let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
            guard copy >= 0 else {
                refusalsDraining.subtract(1, ordering: .relaxed)
                return
            }
            pthread_detach(spawnThread(name: "veer-metrics-rf") { [self] in
                drain(copy)
                closeDescriptor(copy)
                refusalsDraining.subtract(1, ordering: .relaxed)
            })
        })
    }

    /// Stops accepting, closes the listener (later connects are refused) and disconnects
    /// clients still being served. Calling it again does nothing.
    public func stop() {
        threads.stop()
    }

    /// Reads one request head, answers it, and lets the client close first.
    private func serve(_ fd: Int32) {
        let deadline = Clock.now() &+ requestTimeout
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: Self.readChunk)
        var reply: [UInt8]
        while true {
            if let (lines, headLength) = HTTPProbe.splitHead(received, from: 0) {
                reply = headLength > Self.maxRequestHead
                    ? Self.response(status: 431, headOnly: false)
                    : respond(to: lines)
                break
            }
            // Unfinished at this size, the head can only end up too long.
            if received.count >= Self.maxRequestHead {
                reply = Self.response(status: 431, headOnly: false)
                break
            }
            let now = Clock.now()
            guard now < deadline,
                  (try? Socket.wait(fd, for: Int16(POLLIN), nanoseconds: deadline - now, "")) == true
            else { return } // too slow: close without a word
            let count = chunk.withUnsafeMutableBytes { buffer in
                retryingOnInterrupt { read(fd, buffer.baseAddress, buffer.count) }
            }
            if count < 0 { return }
            if count == 0 {
                // The client stopped sending before the head ended; nothing to answer if it
                // sent nothing at all (a port check).
                if received.isEmpty { return }
                reply = Self.response(status: 400, headOnly: false)
                break
            }
            received += chunk[0..<count]
        }
        guard send(reply, to: fd, by: Clock.now() &+ sendTimeout) else { return }
        drain(fd)
    }

    /// Sends all of `reply` before `deadline`, waiting for the client to make room in
    /// between; false when the client is too slow or gone.
    private func send(_ reply: [UInt8], to fd: Int32, by deadline: UInt64) -> Bool {
        reply.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let sent = retryingOnInterrupt {
                    Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                }
                if sent > 0 {
                    offset += sent
                    continue
                }
                let now = Clock.now()
                guard sent < 0, Glibc.errno == EAGAIN, now < deadline,
                      (try? Socket.wait(fd, for: Int16(POLLOUT), nanoseconds: deadline - now, "")) == true
                else { return false }
            }
            return true
        }
    }

    /// The reply to a whole request head (its lines without line ends).
    private func respond(to lines: [ArraySlice<UInt8>]) -> [UInt8] {
        let (status, headOnly, index) = Self.route(lines, paths: resources.map(\.path))
        guard status == 200 else { return Self.response(status: status, headOnly: headOnly) }
        let resource = resources[index]
        return Self.response(status: 200, contentType: resource.contentType, body: Array(resource.render().utf8), headOnly: headOnly)
    }

    /// Closes our side for writing, then reads until the client closes, `drainLimit` bytes
    /// or `drainTimeout`: closing with unread input would send a reset that can destroy the
    /// reply before the client reads it.
    private func drain(_ fd: Int32) {
        _ = shutdown(fd, Int32(SHUT_WR))
        let deadline = Clock.now() &+ nanoseconds(Self.drainTimeout)
        var drained = 0
        var chunk = [UInt8](repeating: 0, count: Self.readChunk)
        while drained < Self.drainLimit {
            let now = Clock.now()
            guard now < deadline,
                  (try? Socket.wait(fd, for: Int16(POLLIN), nanoseconds: deadline - now, "")) == true
            else { return }
            let count = chunk.withUnsafeMutableBytes { buffer in
                retryingOnInterrupt { read(fd, buffer.baseAddress, buffer.count) }
            }
            if count <= 0 { return }
            drained += count
        }
    }

    // MARK: - Requests and responses (pure)

    /// The status for a whole request head, whether the reply leaves out its body (HEAD), and
    /// the index in `paths` of the resource asked for. 200 means: serve that resource.
    ///
    /// Request line: `method SP request-target SP HTTP/DIGIT.DIGIT` (RFC 9112 section 3).
    /// The target may be origin-form (`/metrics?x=1`) or absolute-form
    /// (`http://host:9153/metrics`, which servers must accept, RFC 9112 section 3.2.2). Header
    /// fields must be `name:value` with a token name; their values are not used. `Host` is
    /// not required: there is one resource and no virtual hosts. An empty line before the
    /// request line, which servers may skip (RFC 9112 section 2.2), gets 400: no scraper sends one.
    static func route(_ lines: [ArraySlice<UInt8>], paths: [String] = [MetricsServer.path]) -> (status: Int, headOnly: Bool, index: Int) {
        let (status, headOnly, path) = check(lines)
        guard status == 200, let path else { return (status, headOnly, 0) }
        guard let index = paths.firstIndex(where: { path.elementsEqual($0.utf8) }) else { return (404, headOnly, 0) }
        guard headOnly || lines[0].starts(with: "GET ".utf8) else { return (405, false, 0) }
        return (200, headOnly, index)
    }

    /// The request head's status before the path is looked up, with the path when it is 200.
    private static func check(_ lines: [ArraySlice<UInt8>]) -> (status: Int, headOnly: Bool, path: ArraySlice<UInt8>?) {
        guard let requestLine = lines.first else { return (400, false, nil) }
        let parts = requestLine.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(\.isTokenCharacter) else { return (400, false, nil) }
        let headOnly = parts[0].elementsEqual("HEAD".utf8)
        let version = Array(parts[2])
        guard version.count == 8, version[0..<5].elementsEqual("HTTP/".utf8), version[5].isDigit,
              version[6] == UInt8(ascii: "."), version[7].isDigit
        else { return (400, headOnly, nil) }
        guard version[5] == UInt8(ascii: "1") else { return (505, headOnly, nil) }
        for field in lines.dropFirst() {
            // A space before the colon or a folded line (leading blank) is malformed
            // (RFC 9112 sections 5.1 and 5.2).
            guard let colon = field.firstIndex(of: UInt8(ascii: ":")), colon > field.startIndex,
                  field[field.startIndex..<colon].allSatisfy(\.isTokenCharacter)
            else { return (400, headOnly, nil) }
        }
        guard let path = path(of: parts[1]) else { return (400, headOnly, nil) }
        return (200, headOnly, path)
    }

    /// The path of an origin-form or absolute-form request target, without its query; nil if
    /// the target is neither or holds spaces or control characters.
    private static func path(of target: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        guard !target.isEmpty, target.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else { return nil }
        var path = target
        if target.first != UInt8(ascii: "/") {
            let text = HTTPProbe.lowercased(String(decoding: target, as: UTF8.self))
            guard let scheme = ["http://", "https://"].first(where: { text.hasPrefix($0) }) else { return nil }
            let authority = target.dropFirst(scheme.utf8.count)
            guard let slash = authority.firstIndex(of: UInt8(ascii: "/")) else { return [UInt8(ascii: "/")][...] }
            path = authority[slash...]
        }
        return path.prefix { $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") }
    }

    /// Reason phrases for the statuses this server sends (RFC 9110 section 15, RFC 6585 for 431).
    private static let reasons = [
        200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
        431: "Request Header Fields Too Large", 503: "Service Unavailable", 505: "HTTP Version Not Supported",
    ]

    /// An error reply: the reason phrase in lower case as a plain-text body.
    static func response(status: Int, headOnly: Bool) -> [UInt8] {
        let reason = reasons[status] ?? "Error"
        return response(status: status, contentType: "text/plain; charset=utf-8",
                        body: Array((HTTPProbe.lowercased(reason) + "\n").utf8), headOnly: headOnly)
    }

    /// `HTTP/1.1 <status> <reason>` with Date, Content-Type, Content-Length, Connection: close
    /// (and Allow for 405); the body unless `headOnly`. Content-Length is the body's length
    /// even for HEAD, as a GET would get (RFC 9110 section 9.3.2).
    static func response(status: Int, contentType: String, body: [UInt8], headOnly: Bool) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(reasons[status] ?? "Error")\r\n"
        head += "Date: \(httpDate(Clock.wallSeconds()))\r\n"
        head += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
        if status == 405 { head += "Allow: GET, HEAD\r\n" }
        head += "Connection: close\r\n\r\n"
        return Array(head.utf8) + (headOnly ? [] : body)
    }

    /// IMF-fixdate (RFC 9110 section 5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`: origin
    /// servers with a clock must send a Date (RFC 9110 section 6.6.1).
    static func httpDate(_ secondsSinceEpoch: Int64) -> String {
        var seconds = time_t(secondsSinceEpoch)
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return "Thu, 01 Jan 1970 00:00:00 GMT" }
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
