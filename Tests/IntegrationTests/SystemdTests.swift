import Foundation
import Glibc
import Posix
import TestSupport
import Testing

/// Veer under systemd: the readiness protocol, received on a test-made NOTIFY_SOCKET as
/// systemd would (READY=1 with a STATUS= once serving, RELOADING=1 then READY=1 around a
/// reload, STOPPING=1 on the way out); sockets handed over as systemd hands them (socket
/// activation); and the unit files as `make install` writes them.
@Suite(.serialized)
struct SystemdTests {
    /// The repository, for `make units`.
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

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

    /// The arguments of a `veer serve` on zones written into `root`, state there too.
    static func serveArguments(in root: URL) throws -> [String] {
        let zones = root.appendingPathComponent("zones"), state = root.appendingPathComponent("state")
        try writeZones(["example.com.zone": WeightsTests.zone], to: zones)
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        return ["serve", "--zones", zones.path, "--state-dir", state.path]
    }

    @Test func aSocketHandedInThroughListenFDsIsServed() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let (udp, tcp, port) = try ActivationSockets.loopbackPair()
        // --listen as well: the inherited sockets win, and the log says so.
        let veer = try Spawned(try Tools.veer(), try Self.serveArguments(in: root) + ["--listen", "127.0.0.1:0"],
                               handing: [udp, tcp], names: ["veer.socket", "veer.socket"],
                               logPath: root.appendingPathComponent("veer.log").path)
        // The child has its own copies now.
        ActivationSockets.close(udp)
        ActivationSockets.close(tcp)
        try veer.waitForLog(" info ready: ")
        let log = veer.log
        #expect(log.contains(" info listening: udp 127.0.0.1:\(port) (inherited from systemd)\n"), "\(log)")
        #expect(log.contains(" info listening: tcp 127.0.0.1:\(port) (inherited from systemd)\n"), "\(log)")
        #expect(log.contains("inherited from systemd (LISTEN_FDS), not --listen 127.0.0.1:0"), "\(log)")

        let overUDP = try DigResult.asking("127.0.0.1", port: port, ["www.example.com", "A"])
        #expect(overUDP.answer == ["www.example.com. 3600 IN A 192.0.2.10"], "\(overUDP)")
        #expect(!overUDP.output.contains("TCP"), "\(overUDP)")
        let overTCP = try DigResult.asking("127.0.0.1", port: port, ["www.example.com", "A", "+tcp"])
        #expect(overTCP.answer == ["www.example.com. 3600 IN A 192.0.2.10"], "\(overTCP)")
        #expect(veer.stop() == 0, "\(veer.log)")
    }

    /// The same through systemd's own launcher: the outer one binds TCP and, at the first
    /// connection, runs the inner one, which adds a datagram socket (-d) to the one it was
    /// handed and runs veer with both.
    @Test func systemdSocketActivateStartsVeerOnItsSockets() throws {
        let activate = try Tools.onPath("systemd-socket-activate")
            ?? { throw HarnessError("systemd-socket-activate not found: apt-get install systemd") }()
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        // A port free for UDP and TCP, let go for systemd-socket-activate to bind.
        let (udp, tcp, port) = try ActivationSockets.loopbackPair()
        ActivationSockets.close(udp)
        ActivationSockets.close(tcp)
        let listen = "127.0.0.1:\(port)"
        let veer = try Spawned(activate, ["-l", listen, activate, "-d", "-l", listen, try Tools.veer()]
                               + (try Self.serveArguments(in: root)),
                               logPath: root.appendingPathComponent("activate.log").path)
        try veer.waitForLog("Listening on \(listen) as 3.")
        // This first query starts veer; it waits in the listen queue meanwhile.
        let first = try DigResult.asking("127.0.0.1", port: port, ["www.example.com", "A", "+tcp", "+time=10"])
        #expect(first.answer == ["www.example.com. 3600 IN A 192.0.2.10"], "\(first)\n\(veer.log)")
        try veer.waitForLog(" info ready: ")
        #expect(veer.log.contains(" info listening: udp \(listen) (inherited from systemd)\n"), "\(veer.log)")
        #expect(veer.log.contains(" info listening: tcp \(listen) (inherited from systemd)\n"), "\(veer.log)")
        let overUDP = try DigResult.asking("127.0.0.1", port: port, ["www.example.com", "A"])
        #expect(overUDP.answer == ["www.example.com. 3600 IN A 192.0.2.10"], "\(overUDP)")
        #expect(veer.stop() == 0, "\(veer.log)")
    }

    /// `make units` (what `make install` writes, without a release build) into a prefix whose
    /// bin/veer is the debug binary: systemd-analyze checks that ExecStart's program exists.
    @Test func installedUnitsPassSystemdAnalyzeVerify() throws {
        let analyze = try Tools.onPath("systemd-analyze")
            ?? { throw HarnessError("systemd-analyze not found: apt-get install systemd") }()
        let make = try Tools.onPath("make") ?? { throw HarnessError("make not found: apt-get install make") }()
        let prefix = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: prefix) }
        let bin = prefix.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: bin.appendingPathComponent("veer").path,
                                                   withDestinationPath: try Tools.veer())
        // `make test` runs this: the outer make's jobserver is not ours to use.
        let installed = try runProgram("/usr/bin/env", ["-u", "MAKEFLAGS", "-u", "MFLAGS", "-u", "MAKELEVEL", make, "-s",
                                                        "-C", Self.repository, "units", "PREFIX=\(prefix.path)", "DESTDIR="],
                                       timeout: .seconds(30))
        #expect(installed.status == 0, "\(installed.output)")

        let units = prefix.appendingPathComponent("lib/systemd/system")
        let service = try String(contentsOf: units.appendingPathComponent("veer.service"), encoding: .utf8)
        let socket = try String(contentsOf: units.appendingPathComponent("veer.socket"), encoding: .utf8)
        #expect(!(service + socket).contains("@PREFIX@"))
        #expect(service.contains("\nExecStart=\(prefix.path)/bin/veer serve "), "\(service)")
        #expect(service.contains("\nType=notify\n"))
        #expect(socket.contains("\nListenDatagram=0.0.0.0:53\n") && socket.contains("\nListenStream=[::]:53\n"), "\(socket)")

        let verify = try runProgram(analyze, ["verify", units.appendingPathComponent("veer.socket").path,
                                              units.appendingPathComponent("veer.service").path], timeout: .seconds(60))
        // Clean: any warning about the units is a failure too.
        #expect(verify.status == 0 && verify.output.isEmpty, "systemd-analyze verify:\n\(verify.output)")
    }
}
