import Glibc
@testable import Posix
import TestSupport
import Testing

/// The line protocol over TLS in-process, with certificates from the real `openssl`: the
/// peer as its certificate names it, and the limits that keep stalled or surplus clients from
/// holding the others out.
@Suite struct TLSLineServerTests {
    /// Replies `ok CN [SAN…]: LINE`.
    private func startServer(_ certs: ControlCertificates) throws -> TLSLineServer {
        let context = try TLSContext.server(ca: certs.path("ca.pem"), certificate: certs.path("server.pem"),
                                            key: certs.path("server.key"), crl: nil)
        let server = try TLSLineServer(address: try SocketAddress(parsing: "127.0.0.1:0"), context: context,
                                       refused: { _, _ in }) { line, peer in
            "ok " + ([peer.commonName] + peer.dnsNames).joined(separator: " ") + ": " + line
        }
        server.start()
        return server
    }

    private func clientContext(_ certs: ControlCertificates, _ name: String) throws -> TLSContext {
        try TLSContext.client(ca: certs.path("ca.pem"), certificate: certs.path(name + ".pem"), key: certs.path(name + ".key"))
    }

    @Test func thePeerIsNamedByItsCertificatesCNAndDNSNames() throws {
        let certs = try ControlCertificates()
        try certs.client("runner", commonName: "ci-runner-7", dnsNames: ["deploy-bot", "runner.ci.example"])
        let server = try startServer(certs)
        defer { server.stop() }
        let reply = try TLSLineClient.request(host: "127.0.0.1", port: server.boundAddress.port,
                                              context: try clientContext(certs, "runner"), line: "status\r\nhistory")
        #expect(reply == "ok ci-runner-7 deploy-bot runner.ci.example: status\nok ci-runner-7 deploy-bot runner.ci.example: history")
    }

    @Test func anUnfinishedHandshakeMakesRoomForANewOne() throws {
        let certs = try ControlCertificates()
        // A handshake deadline far beyond the test, so only an eviction can close a socket.
        let context = try TLSContext.server(ca: certs.path("ca.pem"), certificate: certs.path("server.pem"),
                                            key: certs.path("server.key"), crl: nil)
        let server = try TLSLineServer(address: try SocketAddress(parsing: "127.0.0.1:0"), context: context,
                                       handshakeTimeout: .seconds(300), refused: { _, _ in }) { line, _ in line }
        server.start()
        defer { server.stop() }
        var stalled: [Int32] = []
        defer { for fd in stalled { close(fd) } }
        for _ in 0...TLSLineServer.maxHandshakes {
            stalled.append(try HTTPClient.connect(server.boundAddress, timeout: .seconds(2)))
        }
        // Each accepted socket starts its handshake on its own thread, in whatever order the
        // threads run; the one that finds 64 already waiting pushes out the oldest registered.
        // So one of them is closed (not answered), and only one.
        func closed() throws -> [Int32] {
            try stalled.filter { try Socket.wait($0, for: Int16(POLLIN), nanoseconds: 0, "wait") }
        }
        let deadline = Clock.now() &+ 30_000_000_000
        var gone = try closed()
        while gone.isEmpty, Clock.now() < deadline {
            usleep(20_000)
            gone = try closed()
        }
        try #require(gone.count == 1, "\(gone.count) of \(stalled.count) closed")
        var byte: UInt8 = 0
        #expect(read(gone[0], &byte, 1) <= 0, "closed, not answered")
        usleep(200_000)
        #expect(try closed().count == 1, "the others still wait for their handshakes")
    }

    @Test func aClientBeyondTheSessionLimitIsToldTheServerIsBusy() throws {
        let certs = try ControlCertificates()
        try certs.client("ops")
        let server = try startServer(certs)
        defer { server.stop() }
        let context = try clientContext(certs, "ops")
        var held: [(Int32, TLSConnection)] = []
        defer { for (fd, _) in held { close(fd) } }
        for _ in 0..<TLSLineServer.maxSessions {
            let fd = try HTTPClient.connect(server.boundAddress, timeout: .seconds(2))
            let connection = try TLSConnection.connect(fd, host: "127.0.0.1", context: context, timeout: .seconds(5))
            held.append((fd, connection))
            // A reply shows the session is counted before the next one connects.
            try connection.write(Array("ping\n".utf8), timeout: .seconds(5))
            var chunk = [UInt8](repeating: 0, count: 256)
            #expect(try connection.read(into: &chunk, timeout: .seconds(5)) > 0)
        }
        let reply = try TLSLineClient.request(host: "127.0.0.1", port: server.boundAddress.port, context: context, line: "status")
        #expect(reply.hasPrefix("error: busy, \(TLSLineServer.maxSessions) clients are being served"), "\(reply)")
        // One leaves, and the next client is served.
        let (fd, connection) = held.removeLast()
        try connection.closeWrite(timeout: .seconds(1))
        close(fd)
        var served = ""
        for _ in 0..<50 where !served.hasPrefix("ok") {
            served = try TLSLineClient.request(host: "127.0.0.1", port: server.boundAddress.port, context: context, line: "status")
            if !served.hasPrefix("ok") { Clock.sleep(.milliseconds(20)) }
        }
        #expect(served == "ok ops: status")
    }
}
