import Posix
import Glibc

/// Simple blocking DNS clients, for tests and tools. Not for the server's hot path.
public enum DNSClient {
    /// Sends `query` over UDP and returns the first datagram that comes back, or nil if none
    /// arrives within `timeout`.
    ///
    /// The socket is connected, so only datagrams from `server` are accepted, and an ICMP
    /// "port unreachable" shows up as `SystemError` ECONNREFUSED.
    public static func udp(_ query: [UInt8], to server: SocketAddress, timeout: Duration) throws -> [UInt8]? {
        let sender = try UDPSender(to: server)
        try sender.send(query)
        return try sender.receive(timeout: timeout)
    }

    /// Sends all `queries` on one TCP connection (each with its 2-byte length prefix, all in
    /// one write: pipelined), then reads one response per query.
    ///
    /// Returns fewer responses than queries if the server closed the connection early.
    /// Throws ETIMEDOUT if the responses do not all arrive within `timeout`.
    public static func tcp(_ queries: [[UInt8]], to server: SocketAddress, timeout: Duration) throws -> [[UInt8]] {
        let deadline = Clock.now() + nanoseconds(timeout)
        let client = try TCPClient(connectingTo: server, timeout: timeout)
        var framed: [UInt8] = []
        for query in queries { framed += TCPClient.frame(query) }
        try client.send(raw: framed)
        var responses: [[UInt8]] = []
        for _ in queries {
            let now = Clock.now()
            guard now < deadline else { throw SystemError(errno: .ETIMEDOUT, action: "read from \(server)") }
            guard let response = try client.receiveMessage(timeout: .nanoseconds(Int64(deadline - now))) else { break }
            responses.append(response)
        }
        return responses
    }

    /// Sends one datagram and does not wait for an answer (opens a socket per call; keep a
    /// `UDPSender` to send many).
    public static func sendRawUDP(_ bytes: [UInt8], to server: SocketAddress) throws {
        try UDPSender(to: server).send(bytes)
    }
}

/// A UDP socket connected to one server, reused across sends: for load and fuzz tests that
/// fire many datagrams, and for reading answers. One thread at a time.
public final class UDPSender {
    /// Largest datagram `receive` accepts (the UDP maximum payload, rounded).
    static let receiveCapacity = 65535

    /// The server this socket sends to.
    public let server: SocketAddress
    private let fd: Int32

    /// Opens a socket connected to `server`, sending from `source` when given (another
    /// loopback address, to look like another client).
    public init(to server: SocketAddress, from source: SocketAddress? = nil) throws {
        self.server = server
        let fd = try Socket.open(Socket.datagram, for: server)
        do {
            if let source { try Socket.bind(fd, to: source) }
            try server.withSockaddr { address, length in
                _ = try systemCall("connect \(server)") { connect(fd, address, length) }
            }
        } catch {
            closeDescriptor(fd)
            throw error
        }
        self.fd = fd
    }

    deinit { closeDescriptor(fd) }

    /// Sends one datagram holding `bytes`.
    public func send(_ bytes: [UInt8]) throws {
        _ = try bytes.withUnsafeBytes { buffer in
            try systemCall("send to \(server)") { Glibc.send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL)) }
        }
    }

    /// The next datagram from the server, or nil if none arrives within `timeout`.
    public func receive(timeout: Duration) throws -> [UInt8]? {
        guard try Socket.wait(fd, for: Int16(POLLIN), nanoseconds: nanoseconds(timeout), "poll \(server)") else {
            return nil
        }
        var buffer = [UInt8](repeating: 0, count: Self.receiveCapacity)
        let count = try buffer.withUnsafeMutableBytes { bytes in
            try systemCall("recv from \(server)") { recv(fd, bytes.baseAddress, bytes.count, 0) }
        }
        return Array(buffer[0..<count])
    }
}

/// A TCP connection speaking DNS framing (2-byte big-endian length, RFC 1035 section 4.2.2),
/// with raw access for tests of partial writes. One thread at a time.
public final class TCPClient {
    /// The server this connection goes to.
    public let server: SocketAddress
    private let fd: Int32

    /// Connects to `server`, waiting at most `timeout`.
    public init(connectingTo server: SocketAddress, timeout: Duration) throws {
        self.server = server
        let fd = try Socket.open(Socket.stream, for: server, flags: Socket.nonBlocking)
        do {
            let result = server.withSockaddr { address, length in
                retryingOnInterrupt { connect(fd, address, length) }
            }
            if result != 0 {
                guard Errno.current == Errno(rawValue: EINPROGRESS) else {
                    throw SystemError(errno: .current, action: "connect \(server)")
                }
                guard try Socket.wait(fd, for: Int16(POLLOUT), nanoseconds: nanoseconds(timeout), "connect \(server)") else {
                    throw SystemError(errno: .ETIMEDOUT, action: "connect \(server)")
                }
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                try systemCall("getsockopt SO_ERROR \(server)") { getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) }
                if error != 0 { throw SystemError(errno: Errno(rawValue: error), action: "connect \(server)") }
            }
            Socket.setOptionIfPossible(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        } catch {
            closeDescriptor(fd)
            throw error
        }
        self.fd = fd
    }

    deinit { closeDescriptor(fd) }

    /// `message` with its 2-byte length prefix.
    public static func frame(_ message: [UInt8]) -> [UInt8] {
        precondition(message.count <= TCPServer.maxMessage, "DNS messages over TCP are at most 65535 bytes")
        return [UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message
    }

    /// Sends `message` with its length prefix.
    public func send(message: [UInt8]) throws {
        try send(raw: Self.frame(message))
    }

    /// Sends bytes exactly as given (no prefix): lets tests split a message across writes.
    public func send(raw bytes: [UInt8], timeout: Duration = .seconds(10)) throws {
        let deadline = Clock.now() + nanoseconds(timeout)
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let sent = retryingOnInterrupt {
                    Glibc.send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                }
                if sent >= 0 {
                    offset += sent
                    continue
                }
                guard Errno.current == .EAGAIN else { throw SystemError(errno: .current, action: "send to \(server)") }
                try waitUntil(deadline, for: Int16(POLLOUT), "send to \(server)")
            }
        }
    }

    /// Reads one length-prefixed message. Returns nil if the server closed the connection
    /// before the next message began; throws ETIMEDOUT after `timeout`.
    public func receiveMessage(timeout: Duration) throws -> [UInt8]? {
        let deadline = Clock.now() + nanoseconds(timeout)
        guard let prefix = try read(count: 2, deadline: deadline) else { return nil }
        let length = Int(prefix[0]) << 8 | Int(prefix[1])
        guard let message = try read(count: length, deadline: deadline) else {
            throw SystemError(errno: Errno(rawValue: ECONNRESET), action: "read from \(server): closed mid-message")
        }
        return message
    }

    /// True if the server closes the connection (EOF or reset) within `timeout`, false if it
    /// is still open then. Data that arrives meanwhile is discarded.
    public func waitForClose(timeout: Duration) throws -> Bool {
        let deadline = Clock.now() + nanoseconds(timeout)
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = scratch.withUnsafeMutableBytes { buffer in
                retryingOnInterrupt { Glibc.read(fd, buffer.baseAddress, buffer.count) }
            }
            if count == 0 { return true }
            if count > 0 { continue }
            if Errno.current == Errno(rawValue: ECONNRESET) { return true }
            guard Errno.current == .EAGAIN else { throw SystemError(errno: .current, action: "read from \(server)") }
            let now = Clock.now()
            if now >= deadline { return false }
            _ = try Socket.wait(fd, for: Int16(POLLIN), nanoseconds: deadline - now, "poll \(server)")
        }
    }

    /// Exactly `count` bytes, or nil on EOF before the first of them.
    private func read(count: Int, deadline: UInt64) throws -> [UInt8]? {
        var result = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = result.withUnsafeMutableBytes { buffer in
                retryingOnInterrupt { Glibc.read(fd, buffer.baseAddress! + filled, count - filled) }
            }
            if got > 0 {
                filled += got
            } else if got == 0 {
                if filled == 0 { return nil }
                throw SystemError(errno: Errno(rawValue: ECONNRESET), action: "read from \(server): closed mid-message")
            } else if Errno.current == .EAGAIN {
                try waitUntil(deadline, for: Int16(POLLIN), "read from \(server)")
            } else {
                throw SystemError(errno: .current, action: "read from \(server)")
            }
        }
        return result
    }

    private func waitUntil(_ deadline: UInt64, for events: Int16, _ action: @autoclosure () -> String) throws {
        let now = Clock.now()
        guard now < deadline, try Socket.wait(fd, for: events, nanoseconds: deadline - now, action()) else {
            throw SystemError(errno: .ETIMEDOUT, action: action())
        }
    }
}
