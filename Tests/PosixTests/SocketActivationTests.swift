import Glibc
import Posix
import TestSupport
import Testing

/// Socket activation: reading LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES, inspecting the handed-over
/// descriptors, and the UDP and TCP servers serving them.
@Suite struct SocketActivationTests {
    static let pid: Int32 = 4242

    @Test(arguments: [
        ([:], nil),
        (["LISTEN_FDS": "2"], nil),
        (["LISTEN_PID": "4243", "LISTEN_FDS": "2"], nil),
        (["LISTEN_PID": "4242"], nil),
        (["LISTEN_PID": "4242", "LISTEN_FDS": "0"], nil),
        (["LISTEN_PID": "4242", "LISTEN_FDS": "2"], SocketActivation.Announcement(count: 2, names: nil)),
        (["LISTEN_PID": "4242", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "veer.socket:veer.socket"],
         SocketActivation.Announcement(count: 2, names: ["veer.socket", "veer.socket"])),
    ] as [([String: String], SocketActivation.Announcement?)])
    func announcement(environment: [String: String], expected: SocketActivation.Announcement?) throws {
        #expect(try SocketActivation.announcement(environment, pid: Self.pid) == expected)
    }

    @Test(arguments: [
        (["LISTEN_PID": "x", "LISTEN_FDS": "2"], "LISTEN_PID=x: not a process id: EINVAL"),
        (["LISTEN_PID": "4242", "LISTEN_FDS": "-1"], "LISTEN_FDS=-1: not a count from 0 to 4096: EINVAL"),
        (["LISTEN_PID": "4242", "LISTEN_FDS": "two"], "LISTEN_FDS=two: not a count"),
        (["LISTEN_PID": "4242", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "dns"], "LISTEN_FDNAMES=dns: 1 name(s) for LISTEN_FDS=2: EINVAL"),
    ])
    func badEnvironmentIsAnErrorNamingTheVariable(environment: [String: String], message: String) {
        #expect {
            try SocketActivation.announcement(environment, pid: Self.pid)
        } throws: { error in
            "\(error)".hasPrefix(message)
        }
    }

    @Test func inspectTellsADatagramSocketFromAListenerAndReadsTheAddress() throws {
        let udp = try ActivationSockets.datagram(loopback)
        defer { ActivationSockets.close(udp) }
        let tcp = try ActivationSockets.stream(loopback)
        defer { ActivationSockets.close(tcp) }
        let datagram = try SocketActivation.inspect(udp, name: "dns")
        #expect(datagram.kind == .datagram)
        #expect(datagram.name == "dns")
        #expect(datagram.address == (try ActivationSockets.address(of: udp)))
        #expect(datagram.address.port != 0)
        let stream = try SocketActivation.inspect(tcp)
        #expect(stream.kind == .stream)
        #expect(stream.address == (try ActivationSockets.address(of: tcp)))
    }

    @Test func aStreamSocketThatIsNotListeningIsRefused() throws {
        let fd = try ActivationSockets.stream(loopback, listening: false)
        defer { ActivationSockets.close(fd) }
        #expect {
            try SocketActivation.inspect(fd, name: "veer.socket")
        } throws: { error in
            "\(error)".contains("inherited fd \(fd) (veer.socket) is a stream socket that is not listening")
        }
    }

    @Test func aDescriptorThatIsNotASocketIsENOTSOCK() throws {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]); close(ends[1]) }
        #expect {
            try SocketActivation.inspect(ends[0])
        } throws: { error in
            (error as? SystemError)?.errno.name == "ENOTSOCK"
                && "\(error)".hasPrefix("getsockopt SO_TYPE of inherited fd \(ends[0]): ENOTSOCK")
        }
    }

    @Test func aUnixSocketIsNotAnIPSocket() throws {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        #expect {
            try SocketActivation.inspect(fd)
        } throws: { error in
            "\(error)".contains("not an IP socket")
        }
    }

    @Test func everyThreadServesAnInheritedNonBlockingDatagramSocketWithoutSpinning() throws {
        let fd = try ActivationSockets.datagram(loopback)
        let handler = IdleCounter()
        let server = try UDPServer(inherited: [try SocketActivation.inspect(fd)], threads: 2) { handler }
        defer { server.stop() }
        server.start()
        let address = server.boundAddresses[0]
        #expect(address == (try ActivationSockets.address(of: fd)))
        // systemd opens it non-blocking; a worker would then spin on EAGAIN instead of waiting.
        #expect(try !ActivationSockets.isNonBlocking(fd))
        for index in 0..<20 {
            #expect(try DNSClient.udp([UInt8(index), 7], to: address, timeout: .seconds(2)) == [0xAA, UInt8(index), 7])
        }
        // Two threads wake once per idle interval each when nothing arrives, not in a loop.
        Clock.sleep(UDPServer.idleInterval * 2.5)
        #expect(handler.idles.withLock { $0 } <= 8)
    }

    /// systemd keeps the socket across restarts of the service: a shutdown(2) in `stop()`
    /// would leave it shut for the next server.
    @Test func stopLeavesAnInheritedDatagramSocketServingForTheNextServer() throws {
        let fd = try ActivationSockets.datagram(loopback)
        let kept = dup(fd)
        #expect(kept >= 0)
        let first = try UDPServer(inherited: [try SocketActivation.inspect(fd)], threads: 2) { EchoHandler() }
        first.start()
        let address = first.boundAddresses[0]
        #expect(try DNSClient.udp([1], to: address, timeout: .seconds(2)) == [0xAA, 1])
        first.stop()

        let next = try UDPServer(inherited: [try SocketActivation.inspect(kept)], threads: 1) { EchoHandler() }
        defer { next.stop() }
        next.start()
        #expect(try DNSClient.udp([2], to: address, timeout: .seconds(2)) == [0xAA, 2])
    }

    /// The accept loop accepts until EAGAIN: on a blocking listener it would block in
    /// accept(2) after the first client, and that client's query would wait for a second one.
    @Test func anInheritedBlockingListenerIsMadeNonBlockingAndServesClientAfterClient() throws {
        let fd = try ActivationSockets.stream(loopback, nonBlocking: false)
        let server = try TCPServer(inherited: [try SocketActivation.inspect(fd)]) { EchoHandler() }
        defer { server.stop() }
        server.start()
        #expect(try ActivationSockets.isNonBlocking(fd))
        let address = server.boundAddresses[0]
        for index in 0..<3 {
            #expect(try DNSClient.tcp([[UInt8(index), 9]], to: address, timeout: .seconds(5)) == [[0xBB, UInt8(index), 9]])
        }
    }
}
