import Posix

/// Which UDP loop `veer serve` runs (`--io`), and why: io_uring when asked for and the
/// kernel allows it, recvmmsg/sendmmsg otherwise. A kernel without io_uring (too old,
/// kernel.io_uring_disabled, a seccomp filter in a container) is not an error: the server
/// falls back to recvmmsg/sendmmsg and says so in its log, as NSD and Knot do.
struct UDPLoopChoice: Equatable {
    let io: UDPServer.IO
    /// Why, for the log line.
    let reason: String
    /// Asked for io_uring and did not get it: logged as a warning.
    let fellBack: Bool

    /// Decides from `--io` (nil: not given) and, only when io_uring is asked for, the
    /// kernel's answer from `probe` (nil: available, else why not).
    static func choose(requested: UDPServer.IO?, probe: () -> SystemError?) -> UDPLoopChoice {
        switch requested {
        case nil:
            return UDPLoopChoice(io: .mmsg, reason: "the default; --io=uring for io_uring", fellBack: false)
        case .mmsg:
            return UDPLoopChoice(io: .mmsg, reason: "--io=mmsg", fellBack: false)
        case .uring:
            if let refusal = probe() {
                return UDPLoopChoice(io: .mmsg, reason: "--io=uring, but io_uring is unavailable: \(refusal)", fellBack: true)
            }
            return UDPLoopChoice(io: .uring, reason: "--io=uring, multishot recvmsg with provided buffers", fellBack: false)
        }
    }

    /// `udp io: uring (--io=uring, …)` or `udp io: mmsg (--io=uring, but io_uring is unavailable: …)`.
    var logLine: String {
        let loop = io == .uring ? "uring" : "mmsg (recvmmsg/sendmmsg)"
        return "udp io: \(loop) (\(reason))"
    }
}
