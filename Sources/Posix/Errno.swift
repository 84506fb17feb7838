import CPosix
import Glibc

/// A POSIX error number, as found in `errno` after a failed system call.
///
/// `name` gives the symbolic name (`"EADDRINUSE"`) for the codes a DNS server meets in
/// practice, and `"errno 123"` for the rest; `description` adds the C library's message.
public struct Errno: Error, Equatable, Sendable, CustomStringConvertible {
    /// The numeric value, as in `<errno.h>`.
    public let rawValue: Int32

    /// Wraps a raw errno value.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The value of `errno` for the calling thread, right now.
    public static var current: Errno { Errno(rawValue: Glibc.errno) }

    /// The symbolic name, e.g. `"EADDRINUSE"`, or `"errno 123"` for codes without one here.
    public var name: String {
        Errno.names[rawValue] ?? "errno \(rawValue)"
    }

    /// `"EADDRINUSE (Address already in use)"`.
    public var description: String { "\(name) (\(message))" }

    /// The C library's message for this code (strerror_r, thread-safe).
    public var message: String {
        // glibc's longest message is well under 64 bytes; 128 leaves room for locales.
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 128) { buffer in
            String(cString: cposix_strerror(rawValue, buffer.baseAddress, buffer.count))
        }
    }

    /// Interrupted by a signal (retried by the helpers, rarely seen).
    public static let EINTR = Errno(rawValue: Glibc.EINTR)
    /// Would block, or a socket timeout expired.
    public static let EAGAIN = Errno(rawValue: Glibc.EAGAIN)
    /// No such file or directory.
    public static let ENOENT = Errno(rawValue: Glibc.ENOENT)
    /// Already exists.
    public static let EEXIST = Errno(rawValue: Glibc.EEXIST)
    /// Address (port) already bound.
    public static let EADDRINUSE = Errno(rawValue: Glibc.EADDRINUSE)
    /// Timed out.
    public static let ETIMEDOUT = Errno(rawValue: Glibc.ETIMEDOUT)
    /// Nobody listens at the address.
    public static let ECONNREFUSED = Errno(rawValue: Glibc.ECONNREFUSED)
    /// Invalid argument.
    public static let EINVAL = Errno(rawValue: Glibc.EINVAL)
    /// Path too long (e.g. over 107 bytes for a Unix socket).
    public static let ENAMETOOLONG = Errno(rawValue: Glibc.ENAMETOOLONG)
    /// A path component is not a directory.
    public static let ENOTDIR = Errno(rawValue: Glibc.ENOTDIR)
    /// A non-blocking connect has started.
    public static let EINPROGRESS = Errno(rawValue: Glibc.EINPROGRESS)
    /// The peer closed or reset the connection.
    public static let ECONNRESET = Errno(rawValue: Glibc.ECONNRESET)
    /// A reply that does not follow the protocol.
    public static let EPROTO = Errno(rawValue: Glibc.EPROTO)
    /// A message larger than accepted.
    public static let EMSGSIZE = Errno(rawValue: Glibc.EMSGSIZE)

    private static let names: [Int32: String] = [
        Glibc.EPERM: "EPERM", Glibc.ENOENT: "ENOENT", Glibc.ESRCH: "ESRCH", Glibc.EINTR: "EINTR",
        Glibc.EIO: "EIO", Glibc.ENXIO: "ENXIO", Glibc.E2BIG: "E2BIG", Glibc.EBADF: "EBADF",
        Glibc.EAGAIN: "EAGAIN", Glibc.ENOMEM: "ENOMEM", Glibc.EACCES: "EACCES",
        Glibc.EFAULT: "EFAULT", Glibc.EBUSY: "EBUSY", Glibc.EEXIST: "EEXIST",
        Glibc.EXDEV: "EXDEV", Glibc.ENODEV: "ENODEV", Glibc.ENOTDIR: "ENOTDIR",
        Glibc.EISDIR: "EISDIR", Glibc.EINVAL: "EINVAL", Glibc.ENFILE: "ENFILE",
        Glibc.EMFILE: "EMFILE", Glibc.EFBIG: "EFBIG", Glibc.ENOSPC: "ENOSPC",
        Glibc.ESPIPE: "ESPIPE", Glibc.EROFS: "EROFS", Glibc.EMLINK: "EMLINK",
        Glibc.EPIPE: "EPIPE", Glibc.ERANGE: "ERANGE", Glibc.ENAMETOOLONG: "ENAMETOOLONG",
        Glibc.ENOSYS: "ENOSYS", Glibc.ENOTEMPTY: "ENOTEMPTY", Glibc.ELOOP: "ELOOP",
        Glibc.EDQUOT: "EDQUOT", Glibc.ENOTSOCK: "ENOTSOCK", Glibc.EMSGSIZE: "EMSGSIZE",
        Glibc.EPROTONOSUPPORT: "EPROTONOSUPPORT", Glibc.EOPNOTSUPP: "EOPNOTSUPP",
        Glibc.EAFNOSUPPORT: "EAFNOSUPPORT", Glibc.EADDRINUSE: "EADDRINUSE",
        Glibc.EADDRNOTAVAIL: "EADDRNOTAVAIL", Glibc.ENETDOWN: "ENETDOWN",
        Glibc.ENETUNREACH: "ENETUNREACH", Glibc.ECONNABORTED: "ECONNABORTED",
        Glibc.ECONNRESET: "ECONNRESET", Glibc.ENOBUFS: "ENOBUFS", Glibc.EISCONN: "EISCONN",
        Glibc.ENOTCONN: "ENOTCONN", Glibc.ETIMEDOUT: "ETIMEDOUT",
        Glibc.ECONNREFUSED: "ECONNREFUSED", Glibc.EHOSTUNREACH: "EHOSTUNREACH",
        Glibc.EALREADY: "EALREADY", Glibc.EINPROGRESS: "EINPROGRESS", Glibc.EPROTO: "EPROTO",
    ]
}

/// A failed system call: the error number and what was being done, e.g.
/// `bind 127.0.0.1:53: EADDRINUSE (Address already in use)`.
public struct SystemError: Error, Sendable, CustomStringConvertible {
    /// Why it failed.
    public let errno: Errno
    /// What was being attempted, with its object: `"bind 127.0.0.1:53"`, `"fsync /x/state.tmp"`.
    public let action: String

    /// Wraps an errno with the action that failed.
    public init(errno: Errno, action: String) {
        self.errno = errno
        self.action = action
    }

    /// `"<action>: <ERRNAME> (<message>)"`.
    public var description: String { "\(action): \(errno.description)" }
}

/// Runs a system call until it finishes without EINTR. The one place that retries on EINTR.
///
/// Returns the call's result; on -1, `errno` still holds the reason. Does not allocate, so the
/// packet path can use it.
@inline(__always)
public func retryingOnInterrupt<T: FixedWidthInteger>(_ call: () -> T) -> T {
    while true {
        let result = call()
        if result == -1 && Glibc.errno == Glibc.EINTR { continue }
        return result
    }
}

/// Runs a system call (retrying EINTR) and throws `SystemError` naming `action` if it returns -1.
///
/// `action` is only built when the call fails.
@discardableResult
public func systemCall<T: FixedWidthInteger>(_ action: @autoclosure () -> String, _ call: () -> T) throws -> T {
    let result = retryingOnInterrupt(call)
    if result == -1 { throw SystemError(errno: .current, action: action()) }
    return result
}

/// Closes a descriptor, ignoring errors: on Linux the descriptor is released even when close
/// reports EINTR, so retrying could close a descriptor another thread just opened.
public func closeDescriptor(_ fd: Int32) {
    if fd >= 0 { _ = Glibc.close(fd) }
}
