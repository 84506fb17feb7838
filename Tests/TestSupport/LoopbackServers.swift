import Posix
import CPosix
import Glibc
import Synchronization

/// A tiny HTTP/1.1 server on 127.0.0.1 for tests and demos of health checks; not for
/// production traffic.
///
/// One thread per connection: read the request head, wait `delay`, write the configured reply,
/// close. `set` changes the reply for requests that arrive afterwards, so a test can make a
/// gateway fail and recover. `stop()` (or the last reference going away) closes the listener
/// and cuts short any delay in progress.
public final class LoopbackHTTPServer: Sendable {
    /// Longest request head read; a longer one gets no reply.
    static let maxRequest = 65536
    /// How long a client may take to send its request head.
    static let requestTimeout: Duration = .seconds(10)

    /// The port actually bound (the real one when port 0 was asked for).
    public let port: UInt16
    /// `127.0.0.1:<port>`.
    public var address: SocketAddress { loopbackAddress(port) }

    private struct Reply {
        var bytes: [UInt8]
        var delay: Duration
        var holdOpen: Duration
    }

    private final class Core: Sendable {
        let listener: LoopbackListener
        let reply = Mutex(Reply(bytes: LoopbackHTTPServer.response(status: 200, body: "ok"), delay: .zero, holdOpen: .zero))
        let requests = Atomic<Int>(0)
        let lastRequest = Mutex<[UInt8]>([])
        /// Requests being answered now, and the most there ever were at once.
        let concurrency = Mutex<(now: Int, peak: Int)>((0, 0))

        init(listener: LoopbackListener) { self.listener = listener }

        /// Reads one request head, then answers as configured.
        func serve(_ fd: Int32) {
            defer { closeDescriptor(fd) }
            let deadline = Clock.now() &+ nanoseconds(LoopbackHTTPServer.requestTimeout)
            var request: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            let headEnd: [UInt8] = [13, 10, 13, 10]
            while !request.contains(sequence: headEnd) {
                guard request.count < LoopbackHTTPServer.maxRequest,
                      listener.wait(fd, until: deadline) else { return }
                let count = buffer.withUnsafeMutableBytes { bytes in
                    retryingOnInterrupt { Glibc.read(fd, bytes.baseAddress, bytes.count) }
                }
                if count <= 0 { return }
                request += buffer[0..<count]
            }
            requests.add(1, ordering: .relaxed)
            lastRequest.withLock { $0 = request }
            concurrency.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now) }
            defer { concurrency.withLock { $0.now -= 1 } }
            let reply = self.reply.withLock { $0 }
            guard listener.sleep(reply.delay) else { return }
            reply.bytes.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let sent = retryingOnInterrupt {
                        send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                    }
                    if sent <= 0 { return }
                    offset += sent
                }
            }
            _ = listener.sleep(reply.holdOpen)
        }
    }

    private let core: Core

    /// Listens on 127.0.0.1:`port` (0 picks a free port, see `port`) and starts serving a
    /// `200 OK` with body `ok`.
    ///
    /// - Throws: `SystemError`, e.g. `bind 127.0.0.1:8080: EADDRINUSE (Address already in use)`.
    public init(port: UInt16 = 0) throws {
        let listener = try LoopbackListener(port: port, backlog: 1024)
        let core = Core(listener: listener)
        self.core = core
        self.port = listener.port
        listener.startAccepting(name: "veer-test-http") { fd in
            pthread_detach(spawnThread(name: "veer-test-httpc") { core.serve(fd) })
        }
    }

    deinit { core.listener.stop() }

    /// From now on, answer with `status`, a `Content-Length` and `body`, after waiting `delay`.
    public func set(status: Int, delay: Duration = .zero, body: String) {
        set(reply: Self.response(status: status, body: body), delay: delay)
    }

    /// From now on, answer with exactly `reply` (e.g. a chunked or malformed reply), after
    /// waiting `delay`, then keep the connection open for `holdOpen` before closing it.
    public func set(reply: [UInt8], delay: Duration = .zero, holdOpen: Duration = .zero) {
        core.reply.withLock { $0 = Reply(bytes: reply, delay: delay, holdOpen: holdOpen) }
    }

    /// Request heads received so far.
    public var requestCount: Int { core.requests.load(ordering: .relaxed) }

    /// The most requests this server was answering at the same time (each held for its
    /// configured delay): shows whether a client probes in parallel.
    public var peakConcurrentRequests: Int { core.concurrency.withLock { $0.peak } }

    /// The most recent request head, as received (empty before the first).
    public var lastRequest: [UInt8] { core.lastRequest.withLock { $0 } }

    /// Stops accepting, closes the listener and makes connections waiting out a delay close
    /// without a reply. Calling it again does nothing.
    public func stop() { core.listener.stop() }

    /// `HTTP/1.1 <status> <reason>` with Content-Type, Content-Length and Connection: close.
    static func response(status: Int, body: String) -> [UInt8] {
        let reasons = [200: "OK", 204: "No Content", 301: "Moved Permanently", 404: "Not Found",
                       500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"]
        let bodyBytes = Array(body.utf8)
        let head = "HTTP/1.1 \(status) \(reasons[status] ?? "Status")\r\nContent-Type: text/plain\r\n"
            + "Content-Length: \(bodyBytes.count)\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + bodyBytes
    }
}

/// A TCP listener on 127.0.0.1 for tests of connect probes: accepts each connection and closes
/// it at once, or, with `accepting: false`, never accepts.
///
/// A listener that never accepts has a backlog of 0: Linux queues one handshake, then drops
/// further SYNs, so later connects hang until the client gives up. That gives a connect
/// timeout without sending anything off the loopback interface.
public final class LoopbackTCPListener: Sendable {
    /// The port actually bound.
    public let port: UInt16
    /// `127.0.0.1:<port>`.
    public var address: SocketAddress { loopbackAddress(port) }

    /// Shared with the accept thread, which must not hold `self` (or `deinit` would never run).
    private final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    private let listener: LoopbackListener
    private let accepted = Counter()

    /// Listens on 127.0.0.1:`port` (0 picks a free port).
    ///
    /// - Throws: `SystemError`, e.g. `bind 127.0.0.1:8080: EADDRINUSE (Address already in use)`.
    public init(port: UInt16 = 0, accepting: Bool = true) throws {
        let listener = try LoopbackListener(port: port, backlog: accepting ? 1024 : 0)
        self.listener = listener
        self.port = listener.port
        if accepting {
            let accepted = self.accepted
            listener.startAccepting(name: "veer-test-tcp") { fd in
                accepted.value.add(1, ordering: .relaxed)
                closeDescriptor(fd)
            }
        }
    }

    deinit { listener.stop() }

    /// Connections accepted (and closed) so far.
    public var acceptedCount: Int { accepted.value.load(ordering: .relaxed) }

    /// Closes the listener; later connects are refused. Calling it again does nothing.
    public func stop() { listener.stop() }
}

/// `127.0.0.1:<port>`.
func loopbackAddress(_ port: UInt16) -> SocketAddress {
    // A constant that always parses.
    try! SocketAddress(parsing: "127.0.0.1:\(port)")
}

/// A listening socket, its accept thread, and a stop pipe whose read end becomes readable for
/// good once `stop()` writes to it, so every thread waiting on it wakes up.
final class LoopbackListener: Sendable {
    private struct State {
        var stopped = false
        var thread: pthread_t? = nil
    }

    let port: UInt16
    private let fd: Int32
    private let stopRead: Int32
    private let stopWrite: Int32
    private let state = Mutex(State())

    init(port: UInt16, backlog: Int32) throws {
        let requested = loopbackAddress(port)
        let fd = try Socket.open(Socket.stream, for: requested)
        var ends: [Int32] = [-1, -1]
        do {
            try Socket.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt SO_REUSEADDR \(requested)")
            try Socket.bind(fd, to: requested)
            try systemCall("listen \(requested)") { listen(fd, backlog) }
            self.port = try Socket.localAddress(fd, "\(requested)").port
            try systemCall("pipe for a loopback listener") { cposix_pipe_nonblocking(&ends) }
        } catch {
            closeDescriptor(fd)
            throw error
        }
        self.fd = fd
        self.stopRead = ends[0]
        self.stopWrite = ends[1]
    }

    /// Connection threads hold the listener, so the pipe outlives every waiter.
    deinit {
        closeDescriptor(stopRead)
        closeDescriptor(stopWrite)
    }

    /// Accepts on a new thread until `stop()`, handing each blocking connection to `handle`.
    func startAccepting(name: String, _ handle: @escaping @Sendable (Int32) -> Void) {
        let thread = spawnThread(name: name) { [self] in
            while wait(fd, until: .max) {
                let connection = retryingOnInterrupt { cposix_accept_cloexec(fd, nil, nil) }
                if connection >= 0 { handle(connection) }
            }
        }
        state.withLock { $0.thread = thread }
    }

    /// Waits until `fd` is readable (true) or the deadline passes or `stop()` is called (false).
    func wait(_ fd: Int32, until deadline: UInt64) -> Bool {
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: stopRead, events: Int16(POLLIN), revents: 0)]
        while true {
            let now = Clock.now()
            if now >= deadline { return false }
            let millis = deadline == .max ? -1 : Int32(clamping: (deadline - now + 999_999) / 1_000_000)
            let ready = retryingOnInterrupt { poll(&fds, 2, millis) }
            if fds[1].revents != 0 { return false }
            if ready > 0 { return true }
        }
    }

    /// Sleeps for `duration`; false if `stop()` cut it short.
    func sleep(_ duration: Duration) -> Bool {
        guard duration > .zero else { return true }
        var fds = [pollfd(fd: stopRead, events: Int16(POLLIN), revents: 0)]
        let deadline = Clock.now() &+ nanoseconds(duration)
        while true {
            let now = Clock.now()
            if now >= deadline { return true }
            _ = retryingOnInterrupt { poll(&fds, 1, Int32(clamping: (deadline - now + 999_999) / 1_000_000)) }
            if fds[0].revents != 0 { return false }
        }
    }

    func stop() {
        let thread: pthread_t?? = state.withLock { state in
            guard !state.stopped else { return nil }
            state.stopped = true
            return .some(state.thread)
        }
        guard let thread else { return }
        var byte: UInt8 = 1
        _ = write(stopWrite, &byte, 1)
        if let thread { pthread_join(thread, nil) }
        closeDescriptor(fd)
    }
}

extension Array where Element == UInt8 {
    /// True if `needle` occurs somewhere in the array.
    fileprivate func contains(sequence needle: [UInt8]) -> Bool {
        guard count >= needle.count else { return false }
        return (0...(count - needle.count)).contains { self[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
