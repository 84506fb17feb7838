import CPosix
import Glibc

/// systemd's readiness protocol without libsystemd (sd_notify(3)): one datagram of
/// `KEY=VALUE` lines to the Unix socket named by `NOTIFY_SOCKET` (a leading `@` is the
/// abstract namespace). Without the variable it does nothing, so Veer behaves the same
/// outside systemd. A failure is reported once and otherwise ignored: the service manager
/// being away must not stop answering.
public enum ServiceNotify {
    /// Sends `lines` (`READY=1`, `STATUS=…`) as one message; returns the error, if any.
    @discardableResult
    public static func send(_ lines: [String]) -> SystemError? {
        guard let path = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }), !path.isEmpty else { return nil }
        let message = Array(lines.joined(separator: "\n").utf8)
        let fd = socket(AF_UNIX, Socket.datagram | Socket.closeOnExec, 0)
        guard fd >= 0 else { return SystemError(errno: .current, action: "socket for NOTIFY_SOCKET \(path)") }
        defer { closeDescriptor(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            return SystemError(errno: .ENAMETOOLONG, action: "NOTIFY_SOCKET \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let sent = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                message.withUnsafeBytes { Glibc.sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, length) }
            }
        }
        return sent < 0 ? SystemError(errno: .current, action: "sending to NOTIFY_SOCKET \(path)") : nil
    }

    /// `MONOTONIC_USEC=…`, which systemd wants with `RELOADING=1` (CLOCK_MONOTONIC, µs).
    public static var monotonicMicroseconds: String { "MONOTONIC_USEC=\(Clock.now() / 1_000)" }
}
