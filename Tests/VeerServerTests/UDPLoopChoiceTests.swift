import Glibc
import Posix
import Testing
@testable import VeerServer

/// `--io`: which UDP loop runs and the start-up line that says why.
struct UDPLoopChoiceTests {
    @Test func withoutIOTheDefaultIsMmsgAndNothingIsProbed() {
        let choice = UDPLoopChoice.choose(requested: nil) {
            Issue.record("io_uring probed although nobody asked for it")
            return nil
        }
        #expect(choice.io == .mmsg)
        #expect(!choice.fellBack)
        #expect(choice.logLine == "udp io: mmsg (recvmmsg/sendmmsg) (the default; --io=uring for io_uring)")
    }

    @Test func uringWhenTheKernelAllowsIt() {
        let choice = UDPLoopChoice.choose(requested: .uring) { nil }
        #expect(choice.io == .uring)
        #expect(!choice.fellBack)
        #expect(choice.logLine == "udp io: uring (--io=uring, multishot recvmsg with provided buffers)")
    }

    /// The refusals a server meets: seccomp in a container (EPERM or ENOSYS), an old kernel
    /// (EINVAL for the multishot receive). The server falls back and says why, it does not fail.
    @Test(arguments: [(EPERM, "io_uring_setup probe", "EPERM (Operation not permitted)"),
                      (ENOSYS, "io_uring_setup probe", "ENOSYS (Function not implemented)"),
                      (EINVAL, "io_uring multishot recvmsg probe", "EINVAL (Invalid argument)")])
    func unavailableUringFallsBackToMmsgAndSaysWhy(code: Int32, action: String, text: String) {
        let choice = UDPLoopChoice.choose(requested: .uring) { SystemError(errno: Errno(rawValue: code), action: action) }
        #expect(choice.io == .mmsg)
        #expect(choice.fellBack)
        #expect(choice.logLine == "udp io: mmsg (recvmmsg/sendmmsg) (--io=uring, but io_uring is unavailable: \(action): \(text))")
    }

    @Test(arguments: [(["--io=uring"], UDPServer.IO.uring), (["--io", "mmsg"], .mmsg)] as [([String], UDPServer.IO)])
    func ioOptionParses(arguments: [String], expected: UDPServer.IO) throws {
        #expect(try ServeConfig(arguments[...]).io == expected)
    }

    @Test func ioOptionRejectsOtherLoops() {
        #expect {
            _ = try ServeConfig(["--io=epoll"][...])
        } throws: { error in
            "\(error)" == "--io must be uring or mmsg, got \"epoll\""
        }
    }
}
