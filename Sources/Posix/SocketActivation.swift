import Glibc

/// A socket that the service manager opened and handed over (socket activation), as Veer
/// found it: what kind it is and what it is bound to.
public struct InheritedSocket: Sendable, Equatable {
    /// The two kinds Veer serves: UDP datagram sockets and listening TCP sockets.
    public enum Kind: Sendable, Equatable { case datagram, stream }

    /// The descriptor, 3 and up; close-on-exec once taken.
    public let fd: Int32
    public let kind: Kind
    /// What the socket is bound to (getsockname), with its real port.
    public let address: SocketAddress
    /// Its name from `LISTEN_FDNAMES` (systemd's `FileDescriptorName=`, by default the socket
    /// unit's name), if one was given.
    public let name: String?
}

/// systemd's socket-activation protocol, read without libsystemd (sd_listen_fds(3)).
///
/// The service manager binds the sockets (port 53 needs no privilege in the service then),
/// starts the service with them as descriptors 3, 4, … and says so in the environment:
/// `LISTEN_PID` (the process they are meant for: a child that inherits the variables by
/// mistake must not take them), `LISTEN_FDS` (how many) and, optionally, `LISTEN_FDNAMES`
/// (their names, separated by colons).
public enum SocketActivation {
    /// The first handed-over descriptor: 0 to 2 are standard input, output and error
    /// (SD_LISTEN_FDS_START).
    public static let firstDescriptor: Int32 = 3
    /// More descriptors than this is a mistake in the environment, not a real socket unit.
    static let maxDescriptors = 4096
    /// The variables of the protocol.
    static let variables = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]

    /// What the environment announces for this process.
    public struct Announcement: Equatable, Sendable {
        /// How many descriptors, from `firstDescriptor` on.
        public let count: Int
        /// One name per descriptor, or nil without `LISTEN_FDNAMES`.
        public let names: [String]?

        public init(count: Int, names: [String]?) {
            self.count = count
            self.names = names
        }
    }

    /// Reads the protocol's variables: nil when no sockets were handed to process `pid`
    /// (no `LISTEN_PID`, another process's, or `LISTEN_FDS` absent or 0).
    ///
    /// - Throws: `SystemError` (EINVAL) naming the variable, when a value is not a number or
    ///   the names do not match the count.
    public static func announcement(_ environment: [String: String], pid: Int32) throws -> Announcement? {
        guard let pidText = environment["LISTEN_PID"] else { return nil }
        guard let listenPID = Int32(pidText), listenPID > 0 else {
            throw SystemError(errno: .EINVAL, action: "LISTEN_PID=\(pidText): not a process id")
        }
        guard listenPID == pid, let countText = environment["LISTEN_FDS"] else { return nil }
        guard let count = Int(countText), (0...maxDescriptors).contains(count) else {
            throw SystemError(errno: .EINVAL, action: "LISTEN_FDS=\(countText): not a count from 0 to \(maxDescriptors)")
        }
        guard count > 0 else { return nil }
        var names: [String]?
        if let text = environment["LISTEN_FDNAMES"] {
            let split = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard split.count == count else {
                throw SystemError(errno: .EINVAL, action: "LISTEN_FDNAMES=\(text): \(split.count) name(s) for LISTEN_FDS=\(count)")
            }
            names = split
        }
        return Announcement(count: count, names: names)
    }

    /// Takes the sockets handed to this process: reads the variables and unsets them (so a
    /// program Veer starts does not take them for its own), marks each descriptor
    /// close-on-exec and inspects it. Empty when the process was not socket-activated.
    ///
    /// Call it before starting threads: unsetenv(3) is not safe while another thread reads
    /// the environment.
    ///
    /// - Throws: `SystemError`, e.g. `getsockopt SO_TYPE of inherited fd 4: EBADF (Bad file
    ///   descriptor)` when `LISTEN_FDS` counts more descriptors than were handed over.
    public static func takeInherited() throws -> [InheritedSocket] {
        var environment: [String: String] = [:]
        for name in variables {
            if let value = getenv(name) { environment[name] = String(cString: value) }
            unsetenv(name)
        }
        guard let announced = try announcement(environment, pid: getpid()) else { return [] }
        return try (0..<announced.count).map { index in
            let fd = firstDescriptor + Int32(index)
            let socket = try inspect(fd, name: announced.names?[index])
            try systemCall("fcntl FD_CLOEXEC on inherited \(label(fd, socket.name))") { fcntl(fd, F_SETFD, FD_CLOEXEC) }
            return socket
        }
    }

    /// The kind and address of descriptor `fd`.
    ///
    /// - Throws: `SystemError`: ENOTSOCK for a descriptor that is not a socket, EINVAL for a
    ///   socket Veer cannot serve (not IP, a stream socket that is not listening, as
    ///   `Accept=yes` hands over, or another type).
    public static func inspect(_ fd: Int32, name: String? = nil) throws -> InheritedSocket {
        let what = label(fd, name)
        let type = try integerOption(fd, SO_TYPE, "getsockopt SO_TYPE of inherited \(what)")
        let kind: InheritedSocket.Kind
        switch type {
        case Socket.datagram:
            kind = .datagram
        case Socket.stream:
            guard try integerOption(fd, SO_ACCEPTCONN, "getsockopt SO_ACCEPTCONN of inherited \(what)") != 0 else {
                throw SystemError(errno: .EINVAL, action: "inherited \(what) is a stream socket that is not listening (a socket unit with Accept=yes?)")
            }
            kind = .stream
        default:
            throw SystemError(errno: .EINVAL, action: "inherited \(what) is neither a datagram nor a stream socket (SO_TYPE \(type))")
        }
        let address = try Socket.localAddress(fd, "of inherited \(what)")
        return InheritedSocket(fd: fd, kind: kind, address: address, name: name)
    }

    private static func integerOption(_ fd: Int32, _ option: Int32, _ what: @autoclosure () -> String) throws -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        try systemCall(what()) { getsockopt(fd, SOL_SOCKET, option, &value, &length) }
        return value
    }

    /// `fd 3` or `fd 3 (veer.socket)`.
    private static func label(_ fd: Int32, _ name: String?) -> String {
        name.map { "fd \(fd) (\($0))" } ?? "fd \(fd)"
    }
}
