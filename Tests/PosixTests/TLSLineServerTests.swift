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

    @Test func theOldestUnfinishedHandshakeMakesRoomForANewOne() throws {
        let certs = try ControlCertificates()
        let server = try startServer(certs)
        defer { server.stop() }
        var stalled: [Int32] = []
        defer { for fd in stalled { close(fd) } }
        for _ in 0...TLSLineServer.maxHandshakes {
            stalled.append(try HTTPClient.connect(server.boundAddress, timeout: .seconds(2)))
        }
        // The first one is pushed out by the last: the server closes it, long before the
        // handshake timeout.
        let first = stalled[0]
        #expect(try Socket.wait(first, for: Int16(POLLIN), nanoseconds: 2_000_000_000, "wait"))
        var byte: UInt8 = 0
        #expect(read(first, &byte, 1) <= 0, "closed, not answered")
        // The second is still waiting for its handshake.
        #expect(try Socket.wait(stalled[1], for: Int16(POLLIN), nanoseconds: 200_000_000, "wait") == false)
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
