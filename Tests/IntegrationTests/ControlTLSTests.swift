import Foundation
import Glibc
import Posix
import Testing
import TestSupport

/// The admin protocol over TLS with client certificates (issue 26), through the real binary:
/// `veer serve --control …` and `veer --server … --ca … --cert … --key …`, certificates made
/// by the real `openssl`, changes checked with the real `dig`.
struct ControlTLSTests {
    /// Two weighted names, so a certificate scoped to one can be refused the other.
    static let zone = """
        $ORIGIN example.com.
        $TTL 3600
        @    IN SOA ns1 hostmaster 2026120701 3600 600 604800 60
        @    IN NS  ns1
        ns1  IN A   192.0.2.53
        api  30 IN CNAME gw-old.example.net. endpoint=old weight=100
        api  30 IN CNAME gw-new.example.net. endpoint=new weight=0
        pay  30 IN CNAME gw-old.example.net. endpoint=old weight=100
        pay  30 IN CNAME gw-new.example.net. endpoint=new weight=0
        """

    /// `veer serve` with `--control 127.0.0.1:0` and the certificates' files.
    static func serverArguments(_ certs: ControlCertificates, _ extra: [String] = []) -> [String] {
        ["--control", "127.0.0.1:0", "--control-ca", certs.path("ca.pem"), "--control-cert", certs.path("server.pem"),
         "--control-key", certs.path("server.key")] + extra
    }

    static func start(_ certs: ControlCertificates, _ extra: [String] = []) throws -> VeerProcess {
        try VeerProcess(zones: ["example.com.zone": zone], extraArguments: serverArguments(certs, extra))
    }

    /// The port from `listening: control tls://127.0.0.1:PORT …`.
    static func controlPort(_ server: VeerProcess) throws -> UInt16 {
        let line = try server.logLine(containing: "listening: control tls://")
        let address = line.split(separator: "tls://")[1].prefix { $0 != " " }
        return try SocketAddress(parsing: String(address)).port
    }

    /// `veer --server HOST:PORT --ca ca.pem --cert CLIENT.pem --key CLIENT.key WORDS…`.
    static func veer(_ certs: ControlCertificates, _ port: UInt16, as client: String, host: String = "127.0.0.1",
                     _ words: String...) throws -> ProgramResult {
        try runProgram(try Tools.veer(), ["--server", "\(host):\(port)", "--ca", certs.path("ca.pem"),
                                          "--cert", certs.path(client + ".pem"), "--key", certs.path(client + ".key")] + words)
    }

    /// `endpoint=ENDPOINT weight=W` from `dig TXT _veer.NAME`.
    static func weight(_ server: VeerProcess, _ name: String, _ endpoint: String) throws -> Int? {
        for line in try server.dig("TXT", "_veer.\(name)").answer {
            guard let range = line.range(of: "endpoint=\(endpoint) weight=") else { continue }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
        return nil
    }

    @Test func aValidCertificateRunsStatusAndAShiftThatIsServed() throws {
        let certs = try ControlCertificates()
        try certs.client("ops")
        let server = try Self.start(certs)
        let port = try Self.controlPort(server)
        let status = try Self.veer(certs, port, as: "ops", "status")
        #expect(status.status == 0, "\(status.output)")
        #expect(status.output.hasPrefix("ok 2 weighted names"), "\(status.output)")
        let shift = try Self.veer(certs, port, as: "ops", "shift", "api.example.com", "new", "25%")
        #expect(shift.status == 0, "\(shift.output)")
        #expect(try Self.weight(server, "api.example.com", "new") == 25)
        // The server's certificate is checked against the host name too: a DNS name it holds.
        let byName = try Self.veer(certs, port, as: "ops", host: "localhost", "history", "api.example.com")
        #expect(byName.status == 0, "\(byName.output)")
        #expect(byName.output.contains("cert=ops api.example.com. new 0 -> 25"), "\(byName.output)")
    }

    @Test func aCertificateFromAnotherCAIsRefusedAtTheHandshake() throws {
        let certs = try ControlCertificates()
        let server = try Self.start(certs)
        let port = try Self.controlPort(server)
        let result = try Self.veer(certs, port, as: "stranger", "shift", "api.example.com", "new", "25%")
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains("refused this client's certificate at the handshake"), "\(result.output)")
        #expect(try Self.weight(server, "api.example.com", "new") == 0)
        let logged = try server.logLine(containing: "control: refused")
        #expect(logged.contains("certificate verify failed"), "\(logged)")
    }

    @Test func noCertificateIsRefusedByTheClientAndAtTheHandshake() throws {
        let certs = try ControlCertificates()
        let server = try Self.start(certs)
        let port = try Self.controlPort(server)
        // The CLI will not try without one.
        let cli = try runProgram(try Tools.veer(), ["--server", "127.0.0.1:\(port)", "--ca", certs.path("ca.pem"), "status"])
        #expect(cli.status == 64, "\(cli.output)")
        #expect(cli.output.contains("--server needs --ca, --cert and --key"), "\(cli.output)")
        // Any other TLS client without one is refused by the server.
        let input = certs.path("status.txt")
        try "status\n".write(toFile: input, atomically: true, encoding: .utf8)
        let bare = try runProgram(try TLSGateway.openssl(), ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", certs.path("ca.pem"),
                                                              "-quiet", "-ign_eof"], input: input)
        #expect(bare.status != 0, "\(bare.output)")
        #expect(!bare.output.contains("ok 2 weighted names"), "\(bare.output)")
        #expect(bare.output.contains("certificate required"), "\(bare.output)")
        let logged = try server.logLine(containing: "control: refused")
        #expect(logged.contains("peer did not return a certificate"), "\(logged)")
        // And a server certificate the client's CA did not sign is refused by the client.
        let wrongCA = try runProgram(try Tools.veer(), ["--server", "127.0.0.1:\(port)", "--ca", certs.path("other-ca.pem"),
                                                        "--cert", certs.path("stranger.pem"), "--key", certs.path("stranger.key"), "status"])
        #expect(wrongCA.status == 1, "\(wrongCA.output)")
        #expect(wrongCA.output.contains("certificate verify failed"), "\(wrongCA.output)")
    }

    @Test func theServerCertificateMustNameTheHostTheClientAsked() throws {
        let certs = try ControlCertificates()
        try certs.client("ops")
        // 127.0.0.2 is loopback too, and not in the server certificate (127.0.0.1, ::1, localhost).
        let server = try VeerProcess(zones: ["example.com.zone": Self.zone],
                                     extraArguments: Self.serverArguments(certs).map { $0 == "127.0.0.1:0" ? "127.0.0.2:0" : $0 })
        let port = try Self.controlPort(server)
        let result = try Self.veer(certs, port, as: "ops", host: "127.0.0.2", "status")
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains("certificate verify failed: IP address mismatch"), "\(result.output)")
    }

    @Test func aScopedCertificateShiftsItsNameIsRefusedAnotherAndReadsEverything() throws {
        let certs = try ControlCertificates()
        try certs.client("deploy-bot")
        // A certificate is scoped by one of its DNS names as well as by its CN.
        try certs.client("runner", commonName: "ci-runner-7", dnsNames: ["deploy-bot"])
        let server = try Self.start(certs, ["--control-allow", "deploy-bot=api.example.com"])
        let port = try Self.controlPort(server)

        let own = try Self.veer(certs, port, as: "deploy-bot", "shift", "api.example.com", "new", "25%")
        #expect(own.status == 0, "\(own.output)")
        #expect(try Self.weight(server, "api.example.com", "new") == 25)

        for client in ["deploy-bot", "runner"] {
            let other = try Self.veer(certs, port, as: client, "shift", "pay.example.com", "new", "50%")
            #expect(other.status == 1, "\(other.output)")
            #expect(other.output.hasPrefix("error: changing pay.example.com. is not allowed for deploy-bot"), "\(other.output)")
            let reload = try Self.veer(certs, port, as: client, "reload")
            #expect(reload.status == 1 && reload.output.hasPrefix("error: reload is not allowed for deploy-bot"), "\(reload.output)")
        }
        #expect(try Self.weight(server, "pay.example.com", "new") == 0, "nothing changed")
        #expect(try Self.weight(server, "pay.example.com", "old") == 100, "nothing changed")

        for words in [["status"], ["status", "pay.example.com"], ["history"], ["health", "pay.example.com"], ["rollout", "status"]] {
            let read = try runProgram(try Tools.veer(), ["--server", "127.0.0.1:\(port)", "--ca", certs.path("ca.pem"),
                                                         "--cert", certs.path("deploy-bot.pem"), "--key", certs.path("deploy-bot.key")] + words)
            #expect(read.status == 0, "\(words): \(read.output)")
        }
    }

    @Test func aPipelineRunsARolloutToItsEndFromAnotherMachine() throws {
        let certs = try ControlCertificates()
        try certs.client("deploy-bot")
        let setup = try HealthTests.Setup(maxLatency: nil, extraArguments: Self.serverArguments(certs, ["--control-allow", "deploy-bot=api.example.com"]))
        let port = try Self.controlPort(setup.server)
        let start = try Self.veer(certs, port, as: "deploy-bot", "rollout", "start", "api.example.com", "--to", "new",
                                  "--steps", "50,100", "--bake", "1s")
        #expect(start.status == 0, "\(start.output)")
        let wait = try Self.veer(certs, port, as: "deploy-bot", "rollout", "wait", "api.example.com", "--timeout", "20s")
        #expect(wait.status == 0, "\(wait.output)")
        #expect(wait.output.hasSuffix("step 2/2 100% completed\n"), "\(wait.output)")
        let history = try setup.veer("history", "api.example.com").output
        #expect(history.contains("cert=deploy-bot api.example.com. rollout to new started"), "\(history)")
    }

    @Test func theAuditLineNamesTheSubjectOnAnotherServerOfTheCluster() throws {
        let certs = try ControlCertificates()
        try certs.client("deploy-bot")
        let fleet = try SharedStoreTests.Fleet(servers: 2, extra: Self.serverArguments(certs, ["--control-allow", "deploy-bot=api.example.com"]))
        let port = try Self.controlPort(fleet.servers[0])
        let shift = try Self.veer(certs, port, as: "deploy-bot", "shift", "api.example.com", "new", "25%", "--wait")
        #expect(shift.status == 0, "\(shift.output)")
        // Read on the other server, through its Unix socket: the line came through etcd.
        let history = try fleet.veer(1, "history", "api.example.com").output
        #expect(history.contains("cert=deploy-bot api.example.com. new 0 -> 25 reason=\"shift api.example.com new 25%\""), "\(history)")
    }

    @Test func aHundredStalledHandshakesDoNotKeepAValidClientWaiting() throws {
        let certs = try ControlCertificates()
        try certs.client("ops")
        let server = try Self.start(certs)
        let port = try Self.controlPort(server)
        let address = try SocketAddress(parsing: "127.0.0.1:\(port)")
        var stalled: [Int32] = []
        defer { for fd in stalled { close(fd) } }
        for _ in 0..<100 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            try #require(fd >= 0)
            stalled.append(fd)
            let connected = address.withSockaddr { connect(fd, $0, $1) }
            try #require(connected == 0, "connect: \(Errno.current)")
            // Half a ClientHello's record header, then nothing.
            _ = send(fd, [0x16, 0x03, 0x01], 3, Int32(MSG_NOSIGNAL))
        }
        Thread.sleep(forTimeInterval: 0.2) // every stalled one accepted and waiting
        let started = ContinuousClock.now
        let status = try Self.veer(certs, port, as: "ops", "status")
        let took = ContinuousClock.now - started
        #expect(status.status == 0, "\(status.output)")
        #expect(took < .seconds(1), "served in \(took) behind 100 stalled handshakes")
    }

    @Test func aLineOver4KiBIsRefused() throws {
        let certs = try ControlCertificates()
        try certs.client("ops")
        let server = try Self.start(certs)
        let port = try Self.controlPort(server)
        let context = try TLSContext.client(ca: certs.path("ca.pem"), certificate: certs.path("ops.pem"), key: certs.path("ops.key"))
        let long = "status " + String(repeating: "a", count: 4096)
        let reply = try TLSLineClient.request(host: "127.0.0.1", port: port, context: context, line: long)
        #expect(reply == "error: line too long (max 4096 bytes)")
        let fine = try TLSLineClient.request(host: "127.0.0.1", port: port, context: context, line: "status api.example.com")
        #expect(fine.hasPrefix("ok"), "\(fine)")
    }

    @Test func aRevokedCertificateIsRefusedOnceTheCRLIsReloaded() throws {
        let certs = try ControlCertificates()
        try certs.client("ops")
        try certs.client("laptop")
        let server = try Self.start(certs, ["--control-crl", certs.path("crl.pem")])
        let port = try Self.controlPort(server)
        #expect(try Self.veer(certs, port, as: "laptop", "status").status == 0)
        try certs.revoke("laptop")
        let reload = try runProgram(try Tools.veer(), ["--admin", server.stateDirectory.path + "/admin.sock", "reload"])
        #expect(reload.status == 0, "\(reload.output)")
        let revoked = try Self.veer(certs, port, as: "laptop", "shift", "api.example.com", "new", "25%")
        #expect(revoked.status == 1, "\(revoked.output)")
        #expect(revoked.output.contains("refused this client's certificate at the handshake"), "\(revoked.output)")
        #expect(revoked.output.contains("revoked"), "\(revoked.output)")
        #expect(try Self.weight(server, "api.example.com", "new") == 0)
        #expect(try Self.veer(certs, port, as: "ops", "status").status == 0, "the others still get in")
        let logged = try server.logLine(containing: "certificate revoked")
        #expect(logged.contains("control: refused"), "\(logged)")
    }
}
