import Foundation
import Glibc
import Posix
import Testing

/// systemd's readiness protocol, received on a test-made NOTIFY_SOCKET as systemd would:
/// READY=1 with a STATUS= once serving, RELOADING=1 then READY=1 around a reload,
/// STOPPING=1 on the way out.
@Suite(.serialized)
struct SystemdTests {
    /// A Unix datagram socket bound at `path`, as systemd's notify socket is.
    final class NotifySocket {
        let fd: Int32
        let path: String

        init(_ path: String) throws {
            self.path = path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0 else { throw HarnessError("bind \(path): errno \(errno)") }
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit { close(fd) }

        /// The next message, or nil after 10 s.
        func receive() -> String? {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(fd, &buffer, buffer.count, 0)
            return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil
        }
    }

    @Test func readyReloadingAndStoppingReachTheNotifySocket() throws {
        let directory = try FileIO.makeTemporaryDirectory(prefix: "veer-notify-")
        let notify = try NotifySocket(directory + "/notify")
        let server = try VeerProcess(zones: ["example.com.zone": WeightsTests.zone], environment: ["NOTIFY_SOCKET": notify.path])
        let ready = try #require(notify.receive(), "no READY=1 within 10 s")
        #expect(ready.split(separator: "\n").contains("READY=1"), "\(ready)")
        #expect(ready.contains("STATUS=serving 1 zone(s), generation "), "\(ready)")
        // It is ready when it says so: the zone answers.
        #expect(try server.dig("www.example.com", "A").answer == ["www.example.com. 3600 IN A 192.0.2.10"])

        kill(server.processIdentifier, SIGHUP)
        let reloading = try #require(notify.receive())
        #expect(reloading.hasPrefix("RELOADING=1\nMONOTONIC_USEC="), "\(reloading)")
        let readyAgain = try #require(notify.receive())
        #expect(readyAgain.hasPrefix("READY=1\nSTATUS=serving 1 zone(s)"), "\(readyAgain)")

        server.stop()
        #expect(notify.receive() == "STOPPING=1")
    }

    @Test func withoutNotifySocketNothingIsSentAndNothingFails() throws {
        let server = try VeerProcess(zones: ["example.com.zone": WeightsTests.zone], environment: ["NOTIFY_SOCKET": ""])
        #expect(try server.dig("www.example.com", "A").status == "NOERROR")
        #expect(!server.stderr.contains("systemd:"))
    }
}
