import CPosix
import Glibc

/// Who is at the other end of a Unix socket, from the kernel (SO_PEERCRED): cannot be forged
/// by the client.
public struct PeerCredentials: Sendable, Equatable {
    /// Effective user id of the peer when it connected.
    public let uid: UInt32
    /// Effective group id of the peer when it connected.
    public let gid: UInt32
    /// Process id of the peer.
    public let pid: Int32

    /// Builds credentials, e.g. for tests of authorization rules.
    public init(uid: UInt32, gid: UInt32, pid: Int32) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
    }
}

/// A line-oriented control socket (Unix stream socket), one thread per client.
///
/// Protocol, usable with `socat - UNIX-CONNECT:PATH`:
/// - The client sends commands, one per line (`\n`; a trailing `\r` is dropped). A last line
///   without `\n` before the client closes its write side still counts.
/// - For each line the server calls `handler(line, peer)` and writes the returned text
///   followed by `\n` (the text may itself span several lines).
/// - A line longer than `maxLine` bytes gets `error: line too long (max N bytes)` and the
///   connection is closed.
/// - When the client closes (or shuts down its write side) the server closes after answering.
///   `UnixLineClient.request` relies on this: it sends one line, shuts down its write side
///   and reads the reply until EOF.
/// - A client silent for `clientIdleTimeout` is disconnected, so stuck clients do not keep
///   threads forever.
///
/// The handler runs on the client's thread, so it may be called concurrently for different
/// clients; lines of one client are handled one after another.
public final class UnixLineServer: Sendable {
    /// How long a connected client may stay silent before it is dropped.
    public static let clientIdleTimeout: Duration = .seconds(60)
    /// Pending connections the kernel queues; an admin socket sees few clients.
    static let listenBacklog: Int32 = 16
    /// Bytes read per read(2) call.
    static let readChunk = 4096
    /// After refusing a long line, input read and thrown away before closing (so the client
    /// gets the error instead of a connection reset), at most this much.
    static let drainLimit = 1 << 20

    /// Path of the socket file.
    public let path: String
    private let threads: ConnectionThreads
    private let maxLine: Int
    private let handler: @Sendable (String, PeerCredentials) -> String

    /// Binds and listens at `path`; call `start()` to begin serving.
    ///
    /// If `path` exists and is a socket nobody listens on (left by a crash), it is replaced.
    /// A socket with a live server gives EADDRINUSE; anything else at `path` gives EEXIST and
    /// is left alone. The socket file gets `mode`. Put it in a directory only its owner can
    /// enter: between bind and chmod the file briefly has the umask's mode.
    ///
    /// - Throws: `SystemError`, e.g. `bind /run/veer.sock: EADDRINUSE (...)`.
    public init(path: String, mode: UInt32 = 0o600, maxLine: Int = 4096,
                handler: @escaping @Sendable (String, PeerCredentials) -> String) throws {
        try Self.removeStaleSocket(path)
        let fd = try systemCall("socket for \(path)") { socket(AF_UNIX, Socket.stream | Socket.closeOnExec, 0) }
        do {
            try withUnixAddress(path) { address, length in
                _ = try systemCall("bind \(path)") { bind(fd, address, length) }
            }
            try systemCall("chmod \(path)") { chmod(path, mode_t(mode)) }
            try systemCall("listen \(path)") { listen(fd, Self.listenBacklog) }
        } catch {
            closeDescriptor(fd)
            throw error
        }
        self.path = path
        self.threads = ConnectionThreads(listener: fd, threadName: "veer-admin")
        self.maxLine = maxLine
        self.handler = handler
    }

    private static func removeStaleSocket(_ path: String) throws {
        var info = stat()
        if lstat(path, &info) != 0 { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw SystemError(errno: .EEXIST, action: "bind \(path): exists and is not a socket")
        }
        let probe = try systemCall("socket for \(path)") { socket(AF_UNIX, Socket.stream | Socket.closeOnExec, 0) }
        defer { closeDescriptor(probe) }
        let connected = try withUnixAddress(path) { address, length in
            retryingOnInterrupt { connect(probe, address, length) }
        }
        if connected == 0 {
            throw SystemError(errno: .EADDRINUSE, action: "bind \(path): another server is listening")
        }
        guard Glibc.errno == ECONNREFUSED else { throw SystemError(errno: .current, action: "connect \(path)") }
        try systemCall("unlink stale socket \(path)") { unlink(path) }
    }

    /// Starts accepting clients on a background thread and returns. Calling it again does nothing.
    public func start() {
        threads.start { [self] fd in serveClient(fd) }
    }

    /// Stops accepting, disconnects clients, closes and unlinks the socket. Calling it again
    /// does nothing.
    public func stop() {
        guard threads.stop() else { return }
        _ = unlink(path)
    }

    private func serveClient(_ fd: Int32) {
        var uid: UInt32 = 0, gid: UInt32 = 0, pid: Int32 = 0
        guard cposix_peer_cred(fd, &uid, &gid, &pid) == 0 else { return }
        let peer = PeerCredentials(uid: uid, gid: gid, pid: pid)
        guard (try? Socket.setTimeout(fd, SO_RCVTIMEO, nanoseconds(Self.clientIdleTimeout), "")) != nil else { return }

        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: Self.readChunk)
        while true {
            let count = chunk.withUnsafeMutableBytes { buffer in
                retryingOnInterrupt { read(fd, buffer.baseAddress, buffer.count) }
            }
            if count < 0 { return } // timeout, reset, or stop()
            if count == 0 {
                if !pending.isEmpty { _ = answer(pending[...], peer: peer, fd: fd) }
                return
            }
            pending.append(contentsOf: chunk[0..<count])
            var lineStart = 0
            while let newline = pending[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
                guard answer(pending[lineStart..<newline], peer: peer, fd: fd) else { return }
                lineStart = newline + 1
            }
            pending.removeSubrange(0..<lineStart)
            // An unfinished line is already too long past maxLine bytes, allowing for a final
            // "\r" whose "\n" has not arrived yet.
            let unfinished = pending.last == UInt8(ascii: "\r") ? pending.count - 1 : pending.count
            if unfinished > maxLine {
                refuseLongLine(fd)
                return
            }
        }
    }

    /// Runs the handler for one line (without its `\n`) and writes the reply. False if the
    /// line is too long or the client is gone.
    private func answer(_ line: ArraySlice<UInt8>, peer: PeerCredentials, fd: Int32) -> Bool {
        var line = line
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        if line.count > maxLine {
            refuseLongLine(fd)
            return false
        }
        let reply = handler(String(decoding: line, as: UTF8.self), peer) + "\n"
        var bytes = Array(reply.utf8)
        return bytes.withUnsafeMutableBytes { buffer in
            (try? Socket.sendAll(fd, UnsafeRawBufferPointer(buffer), "")) != nil
        }
    }

    /// Sends the refusal, then drains what the client is still sending before closing, so
    /// it reads the error rather than a connection reset.
    private func refuseLongLine(_ fd: Int32) {
        var bytes = Array("error: line too long (max \(maxLine) bytes)\n".utf8)
        _ = bytes.withUnsafeMutableBytes { buffer in
            try? Socket.sendAll(fd, UnsafeRawBufferPointer(buffer), "")
        }
        _ = shutdown(fd, Int32(SHUT_WR))
        var drained = 0
        var chunk = [UInt8](repeating: 0, count: Self.readChunk)
        while drained < Self.drainLimit {
            let count = chunk.withUnsafeMutableBytes { buffer in
                retryingOnInterrupt { read(fd, buffer.baseAddress, buffer.count) }
            }
            if count <= 0 { return }
            drained += count
        }
    }
}

/// The client side of `UnixLineServer`, for the command-line tool.
public enum UnixLineClient {
    /// Connects to `path`, sends `line` (a `\n` is added), shuts down the write side and
    /// reads the reply until the server closes. Returns the reply without its final `\n`
    /// (for one command: exactly the server handler's text).
    ///
    /// - Throws: `SystemError`: `connect /run/veer.sock: ENOENT (...)` when no server runs,
    ///   `read reply from /run/veer.sock: ETIMEDOUT (...)` after `timeout`.
    public static func request(path: String, line: String, timeout: Duration = .seconds(10)) throws -> String {
        let deadline = Clock.now() + nanoseconds(timeout)
        let fd = try systemCall("socket for \(path)") { socket(AF_UNIX, Socket.stream | Socket.closeOnExec, 0) }
        defer { closeDescriptor(fd) }
        try Socket.setTimeout(fd, SO_SNDTIMEO, nanoseconds(timeout), "setsockopt SO_SNDTIMEO \(path)")
        try withUnixAddress(path) { address, length in
            _ = try systemCall("connect \(path)") { connect(fd, address, length) }
        }
        var request = Array(line.utf8)
        if request.last != UInt8(ascii: "\n") { request.append(UInt8(ascii: "\n")) }
        try request.withUnsafeBytes { try Socket.sendAll(fd, $0, "send to \(path)") }
        try systemCall("shutdown \(path)") { shutdown(fd, Int32(SHUT_WR)) }

        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: UnixLineServer.readChunk)
        while true {
            let now = Clock.now()
            guard now < deadline else { throw SystemError(errno: .ETIMEDOUT, action: "read reply from \(path)") }
            try Socket.setTimeout(fd, SO_RCVTIMEO, deadline - now, "setsockopt SO_RCVTIMEO \(path)")
            let count = chunk.withUnsafeMutableBytes { buffer in
                retryingOnInterrupt { read(fd, buffer.baseAddress, buffer.count) }
            }
            if count < 0 {
                let error = Errno.current
                if error == .EAGAIN { continue } // the receive timeout: the deadline check decides
                throw SystemError(errno: error, action: "read reply from \(path)")
            }
            if count == 0 { break }
            reply.append(contentsOf: chunk[0..<count])
        }
        if reply.last == UInt8(ascii: "\n") { reply.removeLast() }
        return String(decoding: reply, as: UTF8.self)
    }
}

/// Calls `body` with a `sockaddr_un` for `path`; ENAMETOOLONG if it does not fit sun_path.
func withUnixAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) throws -> R {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard bytes.count < capacity, !bytes.isEmpty else {
        throw SystemError(errno: .ENAMETOOLONG, action: "unix socket path \(path) (max \(capacity - 1) bytes)")
    }
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
    return try withUnsafePointer(to: &address) {
        try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, length) }
    }
}
