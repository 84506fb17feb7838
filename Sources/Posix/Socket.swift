import CPosix
import Glibc

/// Socket helpers shared by the servers and clients (and the test servers in TestSupport). Each throws `SystemError` with
/// the call and the address, e.g. `bind 127.0.0.1:53: EADDRINUSE (Address already in use)`.
public enum Socket {
    /// SOCK_DGRAM / SOCK_STREAM as the Int32 that socket(2) takes (an enum in Glibc's overlay).
    public static let datagram = Int32(SOCK_DGRAM.rawValue)
    /// SOCK_STREAM as an Int32.
    public static let stream = Int32(SOCK_STREAM.rawValue)
    /// SOCK_CLOEXEC: every socket Veer opens is closed across exec.
    public static let closeOnExec = Int32(SOCK_CLOEXEC.rawValue)
    /// SOCK_NONBLOCK, for sockets driven by poll.
    public static let nonBlocking = Int32(SOCK_NONBLOCK.rawValue)

    /// A new close-on-exec socket for `address`'s family.
    public static func open(_ type: Int32, for address: SocketAddress, flags: Int32 = 0) throws -> Int32 {
        try systemCall("socket for \(address)") { socket(address.family, type | closeOnExec | flags, 0) }
    }

    /// Sets an integer socket option, throwing on failure.
    public static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32, _ what: @autoclosure () -> String) throws {
        var value = value
        try systemCall(what()) { setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) }
    }

    /// Sets an integer socket option where failure is harmless (buffer sizes).
    public static func setOptionIfPossible(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
        var value = value
        _ = setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Sets SO_RCVTIMEO or SO_SNDTIMEO; a zero duration means "no timeout" to the kernel, so
    /// it is raised to one microsecond.
    public static func setTimeout(_ fd: Int32, _ name: Int32, _ nanoseconds: UInt64, _ what: @autoclosure () -> String) throws {
        let micros = max(1, nanoseconds / 1_000)
        var tv = timeval(tv_sec: Int(micros / 1_000_000), tv_usec: Int(micros % 1_000_000))
        try systemCall(what()) { setsockopt(fd, SOL_SOCKET, name, &tv, socklen_t(MemoryLayout<timeval>.size)) }
    }

    /// Restricts an IPv6 socket to IPv6, so `[::]:53` and `0.0.0.0:53` can both be bound.
    public static func setIPv6Only(_ fd: Int32, _ address: SocketAddress) throws {
        guard address.isIPv6 else { return }
        try setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1, "setsockopt IPV6_V6ONLY \(address)")
    }

    /// Sets or clears O_NONBLOCK (a flag of the open file, so every copy of the descriptor,
    /// the service manager's included, sees it).
    public static func setNonBlocking(_ fd: Int32, _ nonBlocking: Bool, _ what: @autoclosure () -> String) throws {
        let flags = try systemCall("fcntl F_GETFL \(what())") { fcntl(fd, F_GETFL) }
        let wanted = nonBlocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        guard wanted != flags else { return }
        try systemCall("fcntl F_SETFL \(nonBlocking ? "O_NONBLOCK" : "blocking") \(what())") { fcntl(fd, F_SETFL, wanted) }
    }

    /// Binds `fd` to `address`, naming the address in the error.
    public static func bind(_ fd: Int32, to address: SocketAddress) throws {
        try address.withSockaddr { sa, len in
            _ = try systemCall("bind \(address)") { Glibc.bind(fd, sa, len) }
        }
    }

    /// A TCP socket listening on `address` with `backlog`: IPV6_V6ONLY for an IPv6 address,
    /// SO_REUSEADDR (a restarted server binds while old connections sit in TIME_WAIT; two
    /// listeners on one port are still refused). The descriptor and the address the kernel
    /// bound (the real port after port 0); nothing stays open when it throws.
    public static func listen(on address: SocketAddress, backlog: Int32, flags: Int32 = 0) throws -> (fd: Int32, bound: SocketAddress) {
        let fd = try open(stream, for: address, flags: flags)
        do {
            try setIPv6Only(fd, address)
            try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt SO_REUSEADDR \(address)")
            try bind(fd, to: address)
            try systemCall("listen \(address)") { Glibc.listen(fd, backlog) }
            return (fd, try localAddress(fd, "\(address)"))
        } catch {
            closeDescriptor(fd)
            throw error
        }
    }

    /// The address the kernel actually bound (the real port after binding port 0).
    public static func localAddress(_ fd: Int32, _ what: @autoclosure () -> String) throws -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        try withUnsafeMutablePointer(to: &storage) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                _ = try systemCall("getsockname \(what())") { getsockname(fd, sa, &length) }
            }
        }
        guard let address = withUnsafeBytes(of: &storage, { SocketAddress(sockaddr: $0.baseAddress!) }) else {
            throw SystemError(errno: .EINVAL, action: "getsockname \(what()): not an IP socket")
        }
        return address
    }

    /// Writes all of `bytes` to a blocking socket (MSG_NOSIGNAL: a closed peer gives EPIPE,
    /// not SIGPIPE).
    public static func sendAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ what: @autoclosure () -> String) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = try systemCall(what()) {
                send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            offset += sent
        }
    }

    /// Waits until `fd` is ready for `events`, up to `nanoseconds`. Returns false on timeout.
    public static func wait(_ fd: Int32, for events: Int16, nanoseconds: UInt64, _ what: @autoclosure () -> String) throws -> Bool {
        var pfd = pollfd(fd: fd, events: events, revents: 0)
        let millis = Int32(clamping: (nanoseconds + 999_999) / 1_000_000)
        let ready = try systemCall(what()) { poll(&pfd, 1, millis) }
        return ready > 0
    }
}

/// Nanoseconds in a `Duration`, clamped to 0 for negative durations.
public func nanoseconds(_ duration: Duration) -> UInt64 {
    let (seconds, attoseconds) = duration.components
    if seconds < 0 { return 0 }
    // One nanosecond is 10^9 attoseconds.
    return UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
}

/// Starts a joinable pthread running `body`, named `name` (at most 15 bytes are shown).
///
/// Thread creation fails only when the process is out of memory or threads; the servers treat
/// that as fatal at start-up, with a message naming the thread.
public func spawnThread(name: String, _ body: @escaping @Sendable () -> Void) -> pthread_t {
    final class Start {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) { self.name = name; self.body = body }
    }
    let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { argument in
        let start = Unmanaged<Start>.fromOpaque(argument!).takeRetainedValue()
        cposix_set_thread_name(start.name)
        start.body()
        return nil
    }, start)
    if result != 0 {
        Unmanaged<Start>.fromOpaque(start).release()
        let error = SystemError(errno: Errno(rawValue: result), action: "pthread_create \(name)")
        fatalError("\(error)")
    }
    return thread
}
