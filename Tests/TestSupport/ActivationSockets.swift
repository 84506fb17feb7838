import Posix
import Glibc

/// Sockets made the way a service manager makes them before handing them to a service
/// (socket activation): bound, non-blocking and close-on-exec; for the tests of serving
/// inherited sockets.
public enum ActivationSockets {
    /// Tries at finding a port free for both UDP and TCP: the port the kernel picks for UDP
    /// may be some TCP socket's.
    static let pairAttempts = 8

    /// A UDP socket bound to `address`.
    public static func datagram(_ address: SocketAddress) throws -> Int32 {
        let fd = try Socket.open(Socket.datagram, for: address, flags: Socket.nonBlocking)
        do {
            try Socket.setIPv6Only(fd, address)
            try Socket.bind(fd, to: address)
        } catch {
            closeDescriptor(fd)
            throw error
        }
        return fd
    }

    /// A TCP socket bound to `address`, listening unless `listening` is false.
    public static func stream(_ address: SocketAddress, listening: Bool = true, nonBlocking: Bool = true) throws -> Int32 {
        let fd = try Socket.open(Socket.stream, for: address, flags: nonBlocking ? Socket.nonBlocking : 0)
        do {
            try Socket.setIPv6Only(fd, address)
            try Socket.bind(fd, to: address)
            if listening { try systemCall("listen \(address)") { listen(fd, 16) } }
        } catch {
            closeDescriptor(fd)
            throw error
        }
        return fd
    }

    /// A UDP and a listening TCP socket on one free port of 127.0.0.1, as a socket unit with
    /// `ListenDatagram=` and `ListenStream=` on one port hands over.
    public static func loopbackPair() throws -> (udp: Int32, tcp: Int32, port: UInt16) {
        let any = try SocketAddress(parsing: "127.0.0.1:0")
        for _ in 0..<pairAttempts {
            let udp = try datagram(any)
            do {
                let port = try Socket.localAddress(udp, "\(any)").port
                return (udp, try stream(any.withPort(port)), port)
            } catch let error as SystemError where error.errno == .EADDRINUSE {
                closeDescriptor(udp)
            } catch {
                closeDescriptor(udp)
                throw error
            }
        }
        throw SystemError(errno: .EADDRINUSE, action: "finding a port of 127.0.0.1 free for UDP and TCP")
    }

    /// The address `fd` is bound to.
    public static func address(of fd: Int32) throws -> SocketAddress {
        try Socket.localAddress(fd, "fd \(fd)")
    }

    /// Whether O_NONBLOCK is set on `fd`.
    public static func isNonBlocking(_ fd: Int32) throws -> Bool {
        try systemCall("fcntl F_GETFL fd \(fd)") { fcntl(fd, F_GETFL) } & O_NONBLOCK != 0
    }

    /// Closes `fd`.
    public static func close(_ fd: Int32) { closeDescriptor(fd) }
}
