import CPosix
import Glibc
import Synchronization

/// Who is at the other end of a TLS connection: what its verified certificate names, and
/// where it connected from.
public struct TLSPeer: Sendable, Equatable {
    /// The subject CN; empty when the certificate has none.
    public let commonName: String
    /// The DNS subjectAltNames.
    public let dnsNames: [String]
    /// The client's address and port.
    public let address: SocketAddress?

    /// A peer, e.g. for tests of authorization rules.
    public init(commonName: String, dnsNames: [String], address: SocketAddress?) {
        self.commonName = commonName
        self.dnsNames = dnsNames
        self.address = address
    }
}

/// The line protocol of `UnixLineServer` over TLS on a TCP port, for clients with a
/// certificate the context trusts (the admin protocol over TLS, issue 26).
///
/// - The handshake must end within `handshakeTimeout`; a client without a certificate, or
///   with one the context does not trust, is refused by OpenSSL's alert and its reason
///   goes to `refused`.
/// - At most `maxHandshakes` handshakes run at once. One more evicts the oldest unfinished
///   one: a crowd of clients that connect and never finish cannot hold a real client out (a
///   handshake on loopback takes milliseconds; a flood would need `maxHandshakes` new
///   connections within that time to push it out).
/// - At most `maxSessions` clients are served after their handshake; one more is answered
///   `error: busy` and closed. Together: at most `maxConnections` sockets at once, beyond
///   which a new connection is closed unanswered.
/// - Then, as on the Unix socket: one command per line, each reply followed by `\n`; a line
///   over `maxLine` bytes gets `error: line too long (max N bytes)` and the connection ends;
///   when the client closes (close_notify) the server answers what it sent and closes. An end
///   of stream without close_notify may be a cut, so a last line without `\n` before it is
///   not answered. A client silent for `idleTimeout`, or not taking a reply within
///   `sendTimeout`, is dropped.
public final class TLSLineServer: Sendable {
    /// Unfinished handshakes at once; the oldest is dropped for a new one.
    public static let maxHandshakes = 64
    /// Clients served at once after their handshake.
    public static let maxSessions = 16
    /// Sockets at once: handshakes, sessions, and room for evicted ones still closing.
    public static let maxConnections = maxHandshakes + maxSessions + 16
    /// Time for the whole handshake.
    public static let defaultHandshakeTimeout: Duration = .seconds(5)
    /// How long a client may stay silent between lines.
    public static let idleTimeout: Duration = .seconds(60)
    /// How long a reply may take to be taken by the client.
    public static let sendTimeout: Duration = .seconds(10)
    /// After refusing (a long line, a failed handshake), input read and thrown away before
    /// closing, so the client reads the refusal rather than a reset: at most this much, for
    /// at most `drainTimeout`.
    static let drainLimit = 1 << 20
    static let drainTimeout: Duration = .seconds(1)
    /// Pending connections the kernel queues while the accept thread catches up.
    static let listenBacklog: Int32 = 128
    static let readChunk = 4096

    /// The handshakes running, oldest first, and the sessions served.
    private struct Admission {
        var handshakes: [Int32] = []
        var evicted: Set<Int32> = []
        var sessions = 0
    }

    /// The address actually bound (the real port when port 0 was asked for).
    public let boundAddress: SocketAddress
    private let threads: ConnectionThreads
    private let context: Mutex<TLSContext>
    private let admission = Mutex(Admission())
    private let maxLine: Int
    private let handshakeTimeout: Duration
    private let handler: @Sendable (String, TLSPeer) -> String
    private let refused: @Sendable (SocketAddress?, String) -> Void

    /// Binds and listens on `address` now; call `start()` to begin serving.
    ///
    /// - Parameters:
    ///   - refused: told of each client refused at the handshake for what it sent (no or an
    ///     untrusted certificate, not TLS); not of timeouts, evictions or bare disconnects.
    ///   - handler: the reply to one line from a verified peer; runs on the client's thread.
    /// - Throws: `SystemError`, e.g. `bind 127.0.0.1:8953: EADDRINUSE (...)`.
    public init(address: SocketAddress, context: TLSContext, maxLine: Int = 4096,
                handshakeTimeout: Duration = TLSLineServer.defaultHandshakeTimeout,
                refused: @escaping @Sendable (SocketAddress?, String) -> Void,
                handler: @escaping @Sendable (String, TLSPeer) -> String) throws {
        let (fd, bound) = try Socket.listen(on: address, backlog: Self.listenBacklog)
        boundAddress = bound
        threads = ConnectionThreads(listener: fd, threadName: "veer-control", maxClients: Self.maxConnections)
        self.context = Mutex(context)
        self.maxLine = maxLine
        self.handshakeTimeout = handshakeTimeout
        self.refused = refused
        self.handler = handler
    }

    /// Serves new connections with `context` (connections already made keep theirs).
    public func replaceContext(_ context: TLSContext) {
        self.context.withLock { $0 = context }
    }

    /// Starts accepting on a background thread and returns. Calling it again does nothing.
    public func start() {
        threads.start { [self] fd in serve(fd) }
    }

    /// Stops accepting, closes the listener and disconnects every client. Calling it again
    /// does nothing.
    public func stop() {
        threads.stop()
    }

    private func serve(_ fd: Int32) {
        let address = Self.peerAddress(fd)
        guard let connection = handshake(fd, address) else { return }
        let admitted = admission.withLock { admission -> Bool in
            guard admission.sessions < Self.maxSessions else { return false }
            admission.sessions += 1
            return true
        }
        guard admitted else {
            try? connection.write(Array("error: busy, \(Self.maxSessions) clients are being served; try again\n".utf8),
                                  timeout: Self.sendTimeout)
            try? connection.closeWrite(timeout: Self.sendTimeout)
            drain(fd)
            return
        }
        defer { admission.withLock { $0.sessions -= 1 } }
        let names = connection.peerNames()
        session(connection, fd, TLSPeer(commonName: names.commonName, dnsNames: names.dnsNames, address: address))
    }

    /// Runs the handshake as one of at most `maxHandshakes`, evicting the oldest when full.
    private func handshake(_ fd: Int32, _ address: SocketAddress?) -> TLSConnection? {
        admission.withLock { admission in
            admission.handshakes.append(fd)
            if admission.handshakes.count > Self.maxHandshakes {
                let oldest = admission.handshakes.removeFirst()
                admission.evicted.insert(oldest)
                // Its thread deregisters under this lock before its descriptor is closed,
                // so this never reaches a reused descriptor.
                _ = shutdown(oldest, Int32(SHUT_RDWR))
            }
        }
        let started = Clock.now()
        let result: Result<TLSConnection, TLSError>
        do throws(TLSError) {
            result = .success(try TLSConnection.accept(fd, context: context.withLock { $0 }, timeout: handshakeTimeout))
        } catch {
            result = .failure(error)
        }
        let wasEvicted = admission.withLock { admission in
            admission.handshakes.removeAll { $0 == fd }
            return admission.evicted.remove(fd) != nil
        }
        switch result {
        case .success(let connection):
            return wasEvicted ? nil : connection
        case .failure(let error):
            let timedOut = Clock.now() - started >= nanoseconds(handshakeTimeout)
            let text = error.description
            if !wasEvicted, !timedOut, !text.hasSuffix("the peer closed the connection") {
                refused(address, text)
                // OpenSSL has sent its alert; let the client read it rather than a reset.
                _ = shutdown(fd, Int32(SHUT_WR))
                drain(fd)
            }
            return nil
        }
    }

    /// Lines in, replies out, until the client closes, falls silent or sends too long a line.
    private func session(_ connection: TLSConnection, _ fd: Int32, _ peer: TLSPeer) {
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: Self.readChunk)
        while true {
            guard let count = try? connection.read(into: &chunk, timeout: Self.idleTimeout) else { return }
            if count == 0 {
                if !pending.isEmpty { guard answer(pending[...], peer, connection) else { return } }
                try? connection.closeWrite(timeout: Self.sendTimeout)
                return
            }
            pending.append(contentsOf: chunk[0..<count])
            var lineStart = 0
            while let newline = pending[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
                guard answer(pending[lineStart..<newline], peer, connection) else {
                    refuseLongLine(connection, fd)
                    return
                }
                lineStart = newline + 1
            }
            pending.removeSubrange(0..<lineStart)
            let unfinished = pending.last == UInt8(ascii: "\r") ? pending.count - 1 : pending.count
            if unfinished > maxLine {
                refuseLongLine(connection, fd)
                return
            }
        }
    }

    /// Answers one line (without its `\n`); false if it is too long. A client that does not
    /// take the reply is left to the next read, which fails.
    private func answer(_ line: ArraySlice<UInt8>, _ peer: TLSPeer, _ connection: TLSConnection) -> Bool {
        var line = line
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        guard line.count <= maxLine else { return false }
        let reply = handler(String(decoding: line, as: UTF8.self), peer) + "\n"
        try? connection.write(Array(reply.utf8), timeout: Self.sendTimeout)
        return true
    }

    private func refuseLongLine(_ connection: TLSConnection, _ fd: Int32) {
        try? connection.write(Array("error: line too long (max \(maxLine) bytes)\n".utf8), timeout: Self.sendTimeout)
        try? connection.closeWrite(timeout: Self.sendTimeout)
        drain(fd)
    }

    /// Reads and throws away what the peer still sends, at most `drainLimit` bytes for
    /// `drainTimeout`, so that closing does not reset what was sent to it.
    private func drain(_ fd: Int32) {
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
            if count <= 0 && !(count < 0 && Glibc.errno == EAGAIN) { return }
            drained += max(0, count)
        }
    }

    private static func peerAddress(_ fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard status == 0 else { return nil }
        return withUnsafeBytes(of: &storage) { SocketAddress(sockaddr: $0.baseAddress!) }
    }
}
