import CPosix
import Glibc
import Synchronization

/// What to do for one health probe: connect to `address`, optionally send a request and read
/// the reply, all within `timeout`.
public struct ProbeRequest: Sendable {
    /// Where to connect (IPv4 or IPv6).
    public var address: SocketAddress
    /// The whole probe: connect, send and read.
    public var timeout: Duration
    /// nil: a TCP connect probe, done once connected. Otherwise the bytes to send after
    /// connecting (e.g. `HTTPProbe.request(host:path:)`); then the reply is read until the peer
    /// closes, `maxResponse` bytes have arrived, or `complete` says the reply is whole.
    public var send: [UInt8]?
    /// Most reply bytes kept; reaching it ends the probe successfully (the reply is cut there).
    public var maxResponse: Int
    /// Called with all bytes read so far after each read; true ends the probe at once, without
    /// waiting for the peer to close. Runs on the prober's thread: keep it cheap and pure.
    public var complete: (@Sendable ([UInt8]) -> Bool)?

    /// Default for `maxResponse`: a status line, headers and a small body; health endpoints
    /// answer with a few hundred bytes.
    public static let defaultMaxResponse = 16384

    /// A probe; see the properties for what each part means.
    public init(address: SocketAddress, timeout: Duration, send: [UInt8]? = nil,
                maxResponse: Int = ProbeRequest.defaultMaxResponse,
                complete: (@Sendable ([UInt8]) -> Bool)? = nil) {
        self.address = address
        self.timeout = timeout
        self.send = send
        self.maxResponse = maxResponse
        self.complete = complete
    }

    /// A TCP connect probe: success means the handshake finished.
    public static func tcp(_ address: SocketAddress, timeout: Duration) -> ProbeRequest {
        ProbeRequest(address: address, timeout: timeout)
    }

    /// An HTTP/1.1 GET probe that ends as soon as the reply is whole (`HTTPProbe.isComplete`).
    /// Read the outcome's `response` with `HTTPProbe.parseResponse`.
    public static func http(_ address: SocketAddress, host: String, path: String, timeout: Duration,
                            maxResponse: Int = ProbeRequest.defaultMaxResponse) -> ProbeRequest {
        ProbeRequest(address: address, timeout: timeout, send: HTTPProbe.request(host: host, path: path),
                     maxResponse: maxResponse, complete: { HTTPProbe.isComplete($0) })
    }
}

/// How one probe ended.
public struct ProbeOutcome: Sendable, Equatable, CustomStringConvertible {
    /// Why a probe failed at the transport level.
    public enum Failure: Sendable, Equatable, CustomStringConvertible {
        /// The connection was refused or could not be made, e.g. ECONNREFUSED, ENETUNREACH.
        case connect(Errno)
        /// The deadline passed during `phase`: `"connect"`, `"write"` (sending the request) or
        /// `"read"` (waiting for the reply or its end).
        case timeout(phase: String)
        /// Anything else from the system: socket creation (EMFILE), send or read (ECONNRESET).
        case io(Errno)
        /// The host name could not be resolved. The prober never produces it (it takes
        /// addresses); callers that resolve first report it here so one type carries every failure.
        case resolve(String)
        /// The prober was stopped before the probe finished.
        case stopped

        /// For logs: `connect: ECONNREFUSED`, `timeout during read`, `io: ECONNRESET`.
        public var description: String {
            switch self {
            case .connect(let errno): return "connect: \(errno.name)"
            case .timeout(let phase): return "timeout during \(phase)"
            case .io(let errno): return "io: \(errno.name)"
            case .resolve(let reason): return "resolve: \(reason)"
            case .stopped: return "prober stopped"
            }
        }
    }

    /// nil when the transport worked: connected (TCP probe), or sent the request and read a
    /// reply (which may still be a bad one: parse `response`).
    public var failure: Failure?
    /// From the start of the connect to the connection (TCP probe), to the end of the reply
    /// (probe with `send`), or to the failure.
    public var latency: Duration
    /// The bytes read, also after a failure (e.g. half a reply before a read timeout).
    public var response: [UInt8]

    /// An outcome value (tests build expected values with it).
    public init(failure: Failure?, latency: Duration, response: [UInt8] = []) {
        self.failure = failure
        self.latency = latency
        self.response = response
    }

    /// `ok in 1.2 ms` or `timeout during read after 2000.0 ms`.
    public var description: String {
        let (seconds, attoseconds) = latency.components
        let tenths = (seconds * 10_000 + attoseconds / 100_000_000_000_000)
        let millis = "\(tenths / 10).\(tenths % 10) ms"
        guard let failure else { return "ok in \(millis)" }
        return "\(failure) after \(millis)"
    }
}

/// Runs health probes on one background thread: a poll() loop over non-blocking sockets, so
/// thousands of concurrent probes need one thread, and a probe that hangs delays nothing but
/// itself.
///
/// - `completion` runs exactly once per probe, on the prober's thread. Keep it short (record
///   the outcome, hand it to a queue): while it runs, no other probe advances. It may call
///   `probe` again.
/// - Deadlines use the monotonic clock; timer resolution is about a millisecond.
/// - `stop()` (or the last reference going away) ends every unfinished probe with
///   `.stopped`, then ends the thread. A probe started after `stop()` completes at once with
///   `.stopped`, on the calling thread.
/// - Each probe uses one descriptor: size RLIMIT_NOFILE for the probes in flight; when out of
///   descriptors, probes fail with `.io(EMFILE)` instead of waiting.
/// - Connections are closed normally after the probe; a connect probe therefore leaves a
///   TIME_WAIT socket on this side per probe, harmless at probe rates of one per endpoint
///   per second.
public final class Prober: Sendable {
    private let core: Core

    /// Starts the loop thread (named `veer-prober`).
    ///
    /// - Throws: `SystemError` if the wake-up pipe cannot be made (out of descriptors).
    public init() throws {
        var ends: [Int32] = [-1, -1]
        try systemCall("pipe for the prober") { cposix_pipe_nonblocking(&ends) }
        let core = Core(wakeRead: ends[0], wakeWrite: ends[1])
        self.core = core
        let thread = spawnThread(name: "veer-prober") {
            var loop = EventLoop(core: core)
            loop.run()
        }
        core.shared.withLock { $0.thread = thread }
    }

    deinit { core.stop() }

    /// Starts a probe and returns at once; `completion` gets its outcome exactly once, on the
    /// prober's thread (see the class notes).
    public func probe(_ request: ProbeRequest, completion: @escaping @Sendable (ProbeOutcome) -> Void) {
        let accepted = core.shared.withLock { shared -> Bool in
            guard !shared.stopped else { return false }
            shared.queue.append(Submission(request: request, completion: completion))
            return true
        }
        guard accepted else {
            completion(ProbeOutcome(failure: .stopped, latency: .zero))
            return
        }
        core.wake()
    }

    /// Ends unfinished probes with `.stopped` and waits for the loop thread to exit (unless
    /// called from a completion, on the loop thread itself: then it returns at once and the
    /// loop ends after that completion). Calling it again does nothing.
    public func stop() { core.stop() }

    /// Resolves `host` to its addresses with `port`, IPv4 and IPv6 in the order getaddrinfo
    /// prefers them (RFC 6724), without duplicates. Numeric addresses work too.
    ///
    /// Blocking: it may wait for DNS servers for seconds. Call it off the DNS path, e.g. on a
    /// utility dispatch queue, never on the prober's thread or a server thread.
    ///
    /// - Throws: `ResolveError`, e.g. `resolve gw-new.example.net.: Name or service not known`.
    public static func resolve(host: String, port: UInt16) throws -> [SocketAddress] {
        guard !host.isEmpty else { throw ResolveError(host: host, reason: "empty host name") }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Socket.stream
        // Only families this host has an address for, so probes are not sent to IPv6
        // addresses from an IPv4-only host (or the reverse).
        hints.ai_flags = AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0 else {
            let reason = status == EAI_SYSTEM ? Errno.current.description : String(cString: gai_strerror(status))
            throw ResolveError(host: host, reason: reason)
        }
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var entry = list
        while let current = entry {
            if let sa = current.pointee.ai_addr, let address = SocketAddress(sockaddr: UnsafeRawPointer(sa)),
               !addresses.contains(address) {
                addresses.append(address)
            }
            entry = current.pointee.ai_next
        }
        if addresses.isEmpty { throw ResolveError(host: host, reason: "no IPv4 or IPv6 address") }
        return addresses
    }

    // MARK: - Shared state

    private struct Submission {
        let request: ProbeRequest
        let completion: @Sendable (ProbeOutcome) -> Void
    }

    private struct Shared {
        var queue: [Submission] = []
        var stopped = false
        var thread: pthread_t? = nil
    }

    /// What the loop thread and the callers share. The loop thread holds it, not the
    /// `Prober`, so dropping the last `Prober` reference stops the loop.
    private final class Core: Sendable {
        let shared = Mutex(Shared())
        let wakeRead: Int32
        let wakeWrite: Int32

        init(wakeRead: Int32, wakeWrite: Int32) {
            self.wakeRead = wakeRead
            self.wakeWrite = wakeWrite
        }

        /// After the loop thread has let go: nobody can write to the pipe any more.
        deinit {
            closeDescriptor(wakeRead)
            closeDescriptor(wakeWrite)
        }

        /// Makes poll() return. A full pipe (EAGAIN) already guarantees that.
        func wake() {
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
        }

        func stop() {
            let thread: pthread_t?? = shared.withLock { shared in
                guard !shared.stopped else { return nil }
                shared.stopped = true
                return .some(shared.thread)
            }
            guard let thread, let thread else { return }
            wake()
            if pthread_equal(thread, pthread_self()) != 0 {
                pthread_detach(thread)
            } else {
                pthread_join(thread, nil)
            }
        }
    }

    // MARK: - The loop

    /// One probe under way.
    private struct Flight {
        enum Phase { case connecting, writing, reading }

        let fd: Int32
        let request: ProbeRequest
        let completion: @Sendable (ProbeOutcome) -> Void
        let start: UInt64
        let deadline: UInt64
        var phase = Phase.connecting
        /// Bytes of `request.send` already written.
        var sent = 0
        var response: [UInt8] = []
        /// Set once the probe is over; the loop then closes `fd` and calls `completion`.
        var outcome: ProbeOutcome? = nil

        var phaseName: String {
            switch phase {
            case .connecting: return "connect"
            case .writing: return "write"
            case .reading: return "read"
            }
        }

        var pollEvents: Int16 {
            phase == .reading ? Int16(POLLIN) : Int16(POLLOUT)
        }

        /// The handshake finished: a connect probe is done, others send their request.
        mutating func connected() {
            guard let bytes = request.send else {
                finish(nil)
                return
            }
            phase = bytes.isEmpty ? .reading : .writing
            if phase == .writing { write() }
        }

        /// Sends what the socket takes (partial writes continue on the next POLLOUT).
        mutating func write() {
            guard let bytes = request.send else { return }
            while sent < bytes.count {
                let offset = sent
                let count = bytes.withUnsafeBytes { buffer in
                    retryingOnInterrupt {
                        send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                    }
                }
                if count < 0 {
                    let error = Glibc.errno
                    if error != EAGAIN && error != EWOULDBLOCK { finish(.io(Errno(rawValue: error))) }
                    return
                }
                sent += count
            }
            phase = .reading
        }

        /// Reads what is there; ends the probe at EOF, at `maxResponse`, or when `complete` agrees.
        mutating func read(using scratch: inout [UInt8]) {
            let limit = max(1, request.maxResponse)
            while outcome == nil {
                let wanted = min(scratch.count, limit - response.count)
                let count = scratch.withUnsafeMutableBytes { buffer in
                    retryingOnInterrupt { Glibc.read(fd, buffer.baseAddress, wanted) }
                }
                if count < 0 {
                    let error = Glibc.errno
                    if error != EAGAIN && error != EWOULDBLOCK { finish(.io(Errno(rawValue: error))) }
                    return
                }
                if count == 0 {
                    finish(nil)
                    return
                }
                response += scratch[0..<count]
                if response.count >= limit || request.complete?(response) == true {
                    finish(nil)
                }
            }
        }

        /// Records the outcome (the first one wins); the loop closes and reports it.
        mutating func finish(_ failure: ProbeOutcome.Failure?) {
            guard outcome == nil else { return }
            let elapsed = Clock.now() &- start
            outcome = ProbeOutcome(failure: failure, latency: .nanoseconds(Int64(clamping: elapsed)),
                                   response: response)
        }
    }

    /// The state only the loop thread touches.
    private struct EventLoop {
        /// Bytes asked of each read(2).
        static let readChunk = 16384

        let core: Core
        var flights: [Flight] = []
        var pollSet: [pollfd] = []
        var scratch = [UInt8](repeating: 0, count: EventLoop.readChunk)

        init(core: Core) { self.core = core }

        mutating func run() {
            while true {
                let (arrivals, stopped) = core.shared.withLock { shared in
                    defer { shared.queue.removeAll() }
                    return (shared.queue, shared.stopped)
                }
                if stopped {
                    cancelAll(queued: arrivals)
                    return
                }
                for submission in arrivals { begin(submission) }
                finishCompleted()

                let now = Clock.now()
                pollSet.removeAll(keepingCapacity: true)
                pollSet.append(pollfd(fd: core.wakeRead, events: Int16(POLLIN), revents: 0))
                for flight in flights {
                    pollSet.append(pollfd(fd: flight.fd, events: flight.pollEvents, revents: 0))
                }
                // On a poll error (only ENOMEM is possible here) nothing is ready, but deadlines
                // are still enforced below.
                let ready = retryingOnInterrupt { poll(&pollSet, nfds_t(pollSet.count), pollTimeout(now: now)) }
                if ready > 0 {
                    if pollSet[0].revents != 0 { drainWakePipe() }
                    for index in flights.indices where pollSet[index + 1].revents != 0 {
                        advance(index)
                    }
                }
                expire(now: Clock.now())
                finishCompleted()
            }
        }

        /// Milliseconds until the earliest deadline, rounded up; -1 with nothing in flight.
        private func pollTimeout(now: UInt64) -> Int32 {
            guard let deadline = flights.lazy.map(\.deadline).min() else { return -1 }
            if deadline <= now { return 0 }
            return Int32(clamping: (deadline - now + 999_999) / 1_000_000)
        }

        private func drainWakePipe() {
            var buffer = [UInt8](repeating: 0, count: 256)
            while buffer.withUnsafeMutableBytes({ Glibc.read(core.wakeRead, $0.baseAddress, $0.count) }) > 0 {}
        }

        /// Opens the socket and starts the non-blocking connect.
        private mutating func begin(_ submission: Submission) {
            let request = submission.request
            let start = Clock.now()
            let deadline = start &+ nanoseconds(request.timeout)
            let fd = socket(request.address.family, Socket.stream | Socket.closeOnExec | Socket.nonBlocking, 0)
            if fd < 0 {
                submission.completion(ProbeOutcome(failure: .io(.current), latency: .zero))
                return
            }
            // The request goes out in one segment; Nagle would only delay it.
            Socket.setOptionIfPossible(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
            var flight = Flight(fd: fd, request: request, completion: submission.completion,
                                start: start, deadline: deadline)
            let result = request.address.withSockaddr { address, length in
                retryingOnInterrupt { connect(fd, address, length) }
            }
            if result == 0 {
                flight.connected()
            } else if Glibc.errno != EINPROGRESS {
                flight.finish(.connect(.current))
            }
            flights.append(flight)
        }

        /// Handles poll's report for flight `index`.
        private mutating func advance(_ index: Int) {
            switch flights[index].phase {
            case .connecting:
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                if getsockopt(flights[index].fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 {
                    error = Glibc.errno
                }
                if error != 0 {
                    flights[index].finish(.connect(Errno(rawValue: error)))
                } else {
                    flights[index].connected()
                }
            case .writing:
                flights[index].write()
            case .reading:
                flights[index].read(using: &scratch)
            }
        }

        /// Ends every unfinished probe whose deadline has passed.
        private mutating func expire(now: UInt64) {
            for index in flights.indices where flights[index].outcome == nil && now >= flights[index].deadline {
                flights[index].finish(.timeout(phase: flights[index].phaseName))
            }
        }

        /// Closes finished probes, then calls their completions (which may start new probes).
        private mutating func finishCompleted() {
            var done: [(completion: @Sendable (ProbeOutcome) -> Void, outcome: ProbeOutcome)] = []
            flights.removeAll { flight in
                guard let outcome = flight.outcome else { return false }
                closeDescriptor(flight.fd)
                done.append((flight.completion, outcome))
                return true
            }
            for (completion, outcome) in done { completion(outcome) }
        }

        private mutating func cancelAll(queued: [Submission]) {
            for index in flights.indices { flights[index].finish(.stopped) }
            finishCompleted()
            for submission in queued { submission.completion(ProbeOutcome(failure: .stopped, latency: .zero)) }
        }
    }
}

/// A host name that getaddrinfo could not turn into addresses.
public struct ResolveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The name as given, e.g. `"gw-new.example.net."`.
    public let host: String
    /// The resolver's message, e.g. `"Name or service not known"`.
    public let reason: String

    /// A resolution failure for `host`.
    public init(host: String, reason: String) {
        self.host = host
        self.reason = reason
    }

    /// `resolve gw-new.example.net.: Name or service not known`.
    public var description: String { "resolve \(host): \(reason)" }
}

extension Process {
    /// An identifier of the calling thread (pthread_self), unique among live threads: lets
    /// tests check that callbacks run on one thread.
    public static var currentThreadID: UInt { UInt(pthread_self()) }
}
