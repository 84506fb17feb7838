import CPosix
import Glibc
import Synchronization

/// Serves DNS over TCP (RFC 7766) from one poll()-based event-loop thread.
///
/// - Framing: each message has a 2-byte big-endian length prefix (RFC 1035 section 4.2.2).
///   Partial reads and writes are handled; a client may send its length byte and the rest later.
/// - Pipelining: a client may send several queries without waiting; they are answered in order
///   (RFC 7766 section 6.2.1.1 allows any order, in-order is simplest and always valid).
/// - Idle timeout: a connection with no bytes read or written for `idleTimeout` is closed
///   (RFC 7766 section 6.2.3).
/// - Connection cap: when `maxConnections` are open and another client arrives, the least
///   recently active connection is closed to make room. Refusing newcomers instead would let a
///   few idle clients lock everybody out.
/// - Back-pressure: a connection whose unsent answers exceed `outputHighWater` is not read
///   until the client drains them, so a slow reader costs bounded memory and never blocks
///   other clients (all sockets are non-blocking; UDP runs on its own threads).
/// - A handler result of 0 closes the connection once the answers before it are sent; a
///   zero-length message from the client does the same (it cannot be a DNS message).
/// - When the client closes its write side, queued answers are still sent, then the
///   connection is closed.
///
/// Under socket activation the listeners come from the service manager instead
/// (`init(inherited:…)`).
public final class TCPServer: Sendable {
    /// Listen backlog: pending handshakes the kernel keeps while the loop catches up
    /// (the kernel caps it at net.core.somaxconn).
    static let listenBacklog: Int32 = 1024
    /// Largest DNS message over TCP: the 16-bit length prefix (RFC 1035 section 4.2.2).
    public static let maxMessage = 65535
    /// Unsent answer bytes above which a connection is no longer read (four full-size answers).
    static let outputHighWater = 4 * 65537
    /// Connections accepted per loop turn, so a flood of connects cannot starve served clients.
    static let acceptsPerTurn = 64
    /// Pause before accepting again when out of descriptors or memory (EMFILE, ENFILE,
    /// ENOBUFS, ENOMEM); otherwise poll would report the listener ready in a busy loop.
    static let acceptPauseNanoseconds: UInt64 = 100_000_000

    /// The addresses actually bound, with real ports (one per listen address, in order).
    public let boundAddresses: [SocketAddress]

    private enum Phase { case bound, running, stopped }
    private struct State {
        var phase = Phase.bound
        var thread: pthread_t? = nil
    }

    private let listeners: [Int32]
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let maxConnections: Int
    private let idleNanoseconds: UInt64
    private let makeHandler: @Sendable () -> any PacketHandler
    private let stopping = Atomic<Bool>(false)
    private let state = Mutex(State())

    /// Binds and listens on all addresses now; call `start()` to begin serving.
    ///
    /// - Parameters:
    ///   - listen: addresses to serve; port 0 picks a free port (see `boundAddresses`).
    ///   - maxConnections: open connections at most (see the class notes for what happens next).
    ///   - idleTimeout: how long a connection may stay without traffic.
    ///   - makeHandler: called once, on the event-loop thread.
    /// - Throws: `SystemError`, e.g. `bind [::1]:53: EADDRINUSE (Address already in use)`.
    public convenience init(listen: [SocketAddress], maxConnections: Int = 256, idleTimeout: Duration = .seconds(10),
                            makeHandler: @escaping @Sendable () -> any PacketHandler) throws {
        var listeners: [Int32] = []
        var bound: [SocketAddress] = []
        do {
            for address in listen {
                let (fd, address) = try Socket.listen(on: address, backlog: Self.listenBacklog, flags: Socket.nonBlocking)
                listeners.append(fd)
                bound.append(address)
            }
        } catch {
            for fd in listeners { closeDescriptor(fd) }
            throw error
        }
        try self.init(listeners: listeners, bound: bound, maxConnections: maxConnections,
                      idleTimeout: idleTimeout, makeHandler: makeHandler)
    }

    /// Serves listening sockets handed over by the service manager (socket activation)
    /// instead of binding any; this server owns the descriptors from here on. Each is made
    /// non-blocking, which the accept loop relies on (it accepts until EAGAIN).
    ///
    /// - Throws: `SystemError`, e.g. `fcntl F_SETFL O_NONBLOCK inherited [::]:53: EBADF (…)`.
    public convenience init(inherited sockets: [InheritedSocket], maxConnections: Int = 256,
                            idleTimeout: Duration = .seconds(10),
                            makeHandler: @escaping @Sendable () -> any PacketHandler) throws {
        precondition(sockets.allSatisfy { $0.kind == .stream }, "TCPServer serves listening stream sockets only")
        do {
            for socket in sockets { try Socket.setNonBlocking(socket.fd, true, "inherited \(socket.address)") }
        } catch {
            for socket in sockets { closeDescriptor(socket.fd) }
            throw error
        }
        try self.init(listeners: sockets.map(\.fd), bound: sockets.map(\.address), maxConnections: maxConnections,
                      idleTimeout: idleTimeout, makeHandler: makeHandler)
    }

    /// Takes the listeners (closing them if it fails) and makes the loop's wake-up pipe.
    private init(listeners: [Int32], bound: [SocketAddress], maxConnections: Int, idleTimeout: Duration,
                 makeHandler: @escaping @Sendable () -> any PacketHandler) throws {
        precondition(maxConnections >= 1, "TCPServer needs maxConnections >= 1")
        var pipeEnds: [Int32] = [-1, -1]
        do {
            try systemCall("pipe for the TCP event loop") { cposix_pipe_nonblocking(&pipeEnds) }
        } catch {
            for fd in listeners { closeDescriptor(fd) }
            throw error
        }
        self.listeners = listeners
        self.boundAddresses = bound
        self.wakeRead = pipeEnds[0]
        self.wakeWrite = pipeEnds[1]
        self.maxConnections = maxConnections
        self.idleNanoseconds = max(1, nanoseconds(idleTimeout))
        self.makeHandler = makeHandler
    }

    deinit {
        let needsClose = state.withLock { $0.phase != .stopped }
        if needsClose {
            for fd in listeners { closeDescriptor(fd) }
            closeDescriptor(wakeRead)
            closeDescriptor(wakeWrite)
        }
    }

    /// Starts the event-loop thread and returns. Calling it again does nothing.
    public func start() {
        state.withLock { state in
            guard state.phase == .bound else { return }
            state.phase = .running
            state.thread = spawnThread(name: "veer-tcp") { [self] in
                var loop = EventLoop(server: self)
                loop.run()
            }
        }
    }

    /// Closes the listeners and every connection, and waits for the loop thread to end.
    /// Calling it again does nothing.
    public func stop() {
        let thread: pthread_t?? = state.withLock { state in
            guard state.phase != .stopped else { return nil }
            state.phase = .stopped
            return .some(state.thread)
        }
        guard let thread else { return }
        stopping.store(true, ordering: .releasing)
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        if let thread { pthread_join(thread, nil) }
        for fd in listeners { closeDescriptor(fd) }
        closeDescriptor(wakeRead)
        closeDescriptor(wakeWrite)
    }

    /// One client connection's buffers and timers.
    private struct Connection {
        let fd: Int32
        let peer: SocketAddress
        /// Received bytes not yet answered (may hold a partial message).
        var input: [UInt8] = []
        /// Framed answers not yet written; `outputStart` bytes of it are already sent.
        var output: [UInt8] = []
        var outputStart = 0
        var lastActivity: UInt64
        /// No more reading: the client closed its side, or the handler asked to close.
        var closing = false

        var pendingOutput: Int { output.count - outputStart }
    }

    /// The state the loop thread owns; nothing here is shared.
    private struct EventLoop {
        let server: TCPServer
        let handler: any PacketHandler
        /// Handler output: 2 bytes for the length prefix, then up to 65535 bytes of message.
        let response: UnsafeMutableRawBufferPointer
        /// Scratch for read(2), one maximum-size frame.
        let readBuffer: UnsafeMutableRawBufferPointer
        var connections: [Connection] = []
        var pollSet: [pollfd] = []
        var acceptPausedUntil: UInt64 = 0

        init(server: TCPServer) {
            self.server = server
            self.handler = server.makeHandler()
            self.response = .allocate(byteCount: 2 + TCPServer.maxMessage, alignment: 16)
            self.readBuffer = .allocate(byteCount: 2 + TCPServer.maxMessage, alignment: 16)
        }

        mutating func run() {
            defer {
                for connection in connections { closeDescriptor(connection.fd) }
                response.deallocate()
                readBuffer.deallocate()
            }
            while !server.stopping.load(ordering: .acquiring) {
                let now = Clock.now()
                let accepting = now >= acceptPausedUntil
                pollSet.removeAll(keepingCapacity: true)
                pollSet.append(pollfd(fd: server.wakeRead, events: Int16(POLLIN), revents: 0))
                for fd in server.listeners {
                    pollSet.append(pollfd(fd: fd, events: accepting ? Int16(POLLIN) : 0, revents: 0))
                }
                let firstConnection = pollSet.count
                for connection in connections {
                    var events: Int16 = 0
                    if !connection.closing && connection.pendingOutput < TCPServer.outputHighWater {
                        events |= Int16(POLLIN)
                    }
                    if connection.pendingOutput > 0 { events |= Int16(POLLOUT) }
                    pollSet.append(pollfd(fd: connection.fd, events: events, revents: 0))
                }

                let ready = retryingOnInterrupt { poll(&pollSet, nfds_t(pollSet.count), pollTimeout(now: now, accepting: accepting)) }
                if ready < 0 { continue }
                if server.stopping.load(ordering: .acquiring) { return }
                // Nothing happened for a while: let the handler drop replaced state, as the
                // UDP threads do.
                if ready == 0 { handler.idle() }

                let polled = connections.count
                for index in 0..<polled {
                    let revents = pollSet[firstConnection + index].revents
                    if revents == 0 { continue }
                    if revents & Int16(POLLOUT) != 0 { flush(index) }
                    if revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 && !connections[index].closing {
                        receive(index)
                    }
                }
                closeExpiredAndFinished(now: Clock.now())
                for (offset, fd) in server.listeners.enumerated() where pollSet[1 + offset].revents != 0 {
                    accept(from: fd)
                }
            }
        }

        /// Milliseconds until the next idle deadline (or the end of an accept pause), at most
        /// `UDPServer.idleInterval`, so an unused loop still calls the handler's `idle()`.
        private func pollTimeout(now: UInt64, accepting: Bool) -> Int32 {
            var deadline = now &+ nanoseconds(UDPServer.idleInterval)
            for connection in connections {
                deadline = min(deadline, connection.lastActivity &+ server.idleNanoseconds)
            }
            if !accepting { deadline = min(deadline, acceptPausedUntil) }
            if deadline <= now { return 0 }
            // Round up so the loop wakes after the deadline, not just before it.
            return Int32(clamping: (deadline - now + 999_999) / 1_000_000)
        }

        private mutating func accept(from listener: Int32) {
            for _ in 0..<TCPServer.acceptsPerTurn {
                var storage = sockaddr_storage()
                var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let fd = withUnsafeMutablePointer(to: &storage) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                        retryingOnInterrupt { cposix_accept_nonblocking(listener, sa, &length) }
                    }
                }
                if fd < 0 {
                    let error = Glibc.errno
                    if error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM {
                        acceptPausedUntil = Clock.now() + TCPServer.acceptPauseNanoseconds
                    }
                    return // EAGAIN: nothing more; ECONNABORTED and the like: try next turn.
                }
                guard let peer = withUnsafeBytes(of: &storage, { SocketAddress(sockaddr: $0.baseAddress!) }) else {
                    closeDescriptor(fd)
                    continue
                }
                // Answers are written whole; Nagle would only delay pipelined answers.
                Socket.setOptionIfPossible(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
                if connections.count >= server.maxConnections { evictLeastRecentlyActive() }
                connections.append(Connection(fd: fd, peer: peer, lastActivity: Clock.now()))
            }
        }

        private mutating func evictLeastRecentlyActive() {
            guard let oldest = connections.indices.min(by: {
                connections[$0].lastActivity < connections[$1].lastActivity
            }) else { return }
            closeDescriptor(connections[oldest].fd)
            connections.remove(at: oldest)
        }

        /// Reads what is available, answers every complete message, tries to write.
        private mutating func receive(_ index: Int) {
            let fd = connections[index].fd
            let count = retryingOnInterrupt { read(fd, readBuffer.baseAddress, readBuffer.count) }
            if count < 0 {
                let error = Glibc.errno
                if error == EAGAIN || error == EWOULDBLOCK { return }
                markDead(index)
                return
            }
            if count == 0 {
                // The client is done sending; answer what is complete, send, then close.
                connections[index].closing = true
            } else {
                connections[index].lastActivity = Clock.now()
                connections[index].input.append(contentsOf: UnsafeRawBufferPointer(rebasing: readBuffer[0..<count]))
            }
            answer(index)
            flush(index)
        }

        /// Answers complete messages in `input` while the output backlog allows.
        private mutating func answer(_ index: Int) {
            var consumed = 0
            let peer = connections[index].peer
            connections[index].input.withUnsafeBytes { input in
                while input.count - consumed >= 2 && connections[index].pendingOutput < TCPServer.outputHighWater {
                    let length = Int(input[consumed]) << 8 | Int(input[consumed + 1])
                    if length == 0 {
                        connections[index].closing = true
                        consumed = input.count
                        return
                    }
                    guard input.count - consumed - 2 >= length else { return }
                    let query = UnsafeRawBufferPointer(rebasing: input[(consumed + 2)..<(consumed + 2 + length)])
                    consumed += 2 + length
                    let written = handler.handle(
                        query: query,
                        response: UnsafeMutableRawBufferPointer(rebasing: response[2...]),
                        transport: .tcp, peer: peer)
                    guard written > 0 && written <= TCPServer.maxMessage else {
                        connections[index].closing = true
                        consumed = input.count
                        return
                    }
                    response[0] = UInt8(written >> 8)
                    response[1] = UInt8(written & 0xFF)
                    connections[index].output.append(contentsOf: UnsafeRawBufferPointer(rebasing: response[0..<(2 + written)]))
                }
            }
            if consumed > 0 { connections[index].input.removeSubrange(0..<consumed) }
        }

        /// Writes as much pending output as the socket takes; then reads on if it was held back.
        private mutating func flush(_ index: Int) {
            let fd = connections[index].fd
            while connections[index].pendingOutput > 0 {
                let start = connections[index].outputStart
                let sent = connections[index].output.withUnsafeBytes { bytes in
                    retryingOnInterrupt {
                        send(fd, bytes.baseAddress! + start, bytes.count - start, Int32(MSG_NOSIGNAL))
                    }
                }
                if sent < 0 {
                    let error = Glibc.errno
                    if error != EAGAIN && error != EWOULDBLOCK { markDead(index) }
                    return
                }
                connections[index].outputStart += sent
                connections[index].lastActivity = Clock.now()
            }
            connections[index].output.removeAll(keepingCapacity: true)
            connections[index].outputStart = 0
            // Messages held back by the high-water mark can be answered now.
            if !connections[index].input.isEmpty && !isDead(index) {
                let before = connections[index].output.count
                answer(index)
                if connections[index].output.count > before { flush(index) }
            }
        }

        /// A dead connection is closed at the end of the turn; reading and writing stop now.
        private mutating func markDead(_ index: Int) {
            connections[index].closing = true
            connections[index].input.removeAll()
            connections[index].output.removeAll()
            connections[index].outputStart = 0
            connections[index].lastActivity = 0
        }

        private func isDead(_ index: Int) -> Bool { connections[index].lastActivity == 0 }

        /// Closes connections that timed out, failed, or finished closing with nothing to send.
        private mutating func closeExpiredAndFinished(now: UInt64) {
            connections.removeAll { connection in
                let idle = now >= connection.lastActivity &+ server.idleNanoseconds
                let finished = connection.closing && connection.pendingOutput == 0
                if idle || finished { closeDescriptor(connection.fd) }
                return idle || finished
            }
        }
    }
}
