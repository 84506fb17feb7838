import Foundation
import Glibc
import Posix
import Testing
import TestSupport

/// Veer servers on a real etcd that speaks only TLS: with client certificates
/// (`--client-cert-auth`), and with etcd v3 users and short-lived tokens. Certificates are
/// made by `openssl`, as the README says (ControlCertificates: a CA, a server certificate for
/// 127.0.0.1, client certificates, and one from another CA).
@Suite(.serialized)
struct EtcdTLSTests {
    /// Veer servers on one TLS etcd, each with its own state directory and `access` options.
    final class TLSFleet: @unchecked Sendable {
        let etcd: EtcdCluster
        let certificates: ControlCertificates
        var servers: [VeerProcess] = []
        var states: [String] = []

        init(_ certificates: ControlCertificates, clientCertificateAuth: Bool, etcdArguments: [String] = []) throws {
            self.certificates = certificates
            // Without a CN: etcd's gateway refuses one with a CN once auth is on.
            try certificates.clientWithoutCommonName("harness")
            try certificates.etcdMember("etcd")
            let tls = EtcdCluster.TLS(ca: certificates.path("ca.pem"), certificate: certificates.path("etcd.pem"),
                                      key: certificates.path("etcd.key"), clientCertificateAuth: clientCertificateAuth,
                                      client: (certificates.path("harness.pem"), certificates.path("harness.key")))
            etcd = try EtcdCluster(tls: tls, extraArguments: etcdArguments)
        }

        /// Starts server `id` with `access` (the `--store-…` options); throws `StartupFailure`
        /// with its stderr when it refuses to start.
        @discardableResult
        func start(_ id: String, _ access: [String]) throws -> VeerProcess {
            let state = try FileIO.makeTemporaryDirectory(prefix: "veer-tls-")
            let server = try VeerProcess(zones: ["example.com.zone": SharedStoreTests.zone],
                                         extraArguments: ["--state-dir", state, "--store", "etcd=\(etcd.clientURLs)", "--server-id", id] + access)
            servers.append(server)
            states.append(state)
            return server
        }

        /// Why a server with `access` did not start (its stderr), or a failure if it did.
        func refusal(_ access: [String]) throws -> String {
            do {
                let server = try start("refused", access)
                server.stop()
                return "it started:\n\(server.stderr)"
            } catch let failure as StartupFailure {
                return failure.stderr
            }
        }

        func veer(_ i: Int, _ words: String...) throws -> ProgramResult {
            try runProgram(try Tools.veer(), ["--admin", states[i] + "/admin.sock"] + words)
        }

        /// Until server `i` answers `new` with `weight` in `_veer.api.example.com`.
        func waitForNew(_ i: Int, _ weight: Int, timeout: Duration = .seconds(5)) throws -> Bool {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if try servers[i].dig("TXT", "_veer.api.example.com").answer.joined().contains("endpoint=new weight=\(weight)") { return true }
                Thread.sleep(forTimeInterval: 0.01)
            }
            return false
        }
    }

    /// `--store-ca`, `--store-cert`, `--store-key` for client certificate `name`.
    static func clientFiles(_ certificates: ControlCertificates, _ name: String, ca: String = "ca.pem") -> [String] {
        ["--store-ca", certificates.path(ca), "--store-cert", certificates.path(name + ".pem"), "--store-key", certificates.path(name + ".key")]
    }

    @Test func aShiftThroughAnEtcdWithClientCertificatesIsServedByTwoServers() throws {
        let certificates = try ControlCertificates()
        try certificates.client("veer")
        let fleet = try TLSFleet(certificates, clientCertificateAuth: true)
        #expect(fleet.etcd.clientURLs.hasPrefix("https://127.0.0.1:"))
        for id in ["a", "b"] { try fleet.start(id, Self.clientFiles(certificates, "veer")) }
        let shift = try fleet.veer(0, "shift", "api.example.com", "new", "25%", "--wait")
        #expect(shift.status == 0 && shift.output.contains("served by all 2 live servers"), "\(shift.output)")
        // Server b learns it through its watch, over TLS too.
        for i in 0..<2 { #expect(try fleet.waitForNew(i, 25), "server \(i) does not answer new=25") }
        let status = try fleet.veer(1, "status").output
        #expect(status.contains("store: etcd https://127.0.0.1:"), "\(status)")
    }

    @Test func withoutAClientCertificateTheServerRefusesToStartAndSaysWhoRefusedWhat() throws {
        let certificates = try ControlCertificates()
        let fleet = try TLSFleet(certificates, clientCertificateAuth: true)
        let url = fleet.etcd.clientURLs
        let none = try fleet.refusal(["--store-ca", certificates.path("ca.pem")])
        #expect(none.contains("etcd \(url)") && none.contains("etcd refused this client")
                && none.contains("none was given (use --store-cert and --store-key)"), "\(none)")
        // A certificate from a CA etcd does not trust.
        let stranger = try fleet.refusal(Self.clientFiles(certificates, "stranger"))
        #expect(stranger.contains("etcd refused this client's certificate (--store-cert \(certificates.path("stranger.pem")))"), "\(stranger)")
        // etcd's certificate checked against another CA: this side refuses it.
        try certificates.client("veer")
        let untrusted = try fleet.refusal(Self.clientFiles(certificates, "veer", ca: "other-ca.pem"))
        #expect(untrusted.contains("this client refused etcd's certificate") && untrusted.contains("certificate verify failed"), "\(untrusted)")
        // Without --store-ca the system's CAs are used, and they do not know the test CA.
        let system = try fleet.refusal(["--store-cert", certificates.path("veer.pem"), "--store-key", certificates.path("veer.key")])
        #expect(system.contains("checked against the system's CAs"), "\(system)")
    }

    /// A TLS etcd with client certificates and auth on, tokens that expire after 2 s unused,
    /// the user `veer` with read and write under /veer/, and `nobody` with no role; the
    /// client certificate `member` without a CN, as the gateway wants with auth on.
    static func authFleet(_ certificates: ControlCertificates) throws -> (TLSFleet, String) {
        try certificates.clientWithoutCommonName("member")
        let fleet = try TLSFleet(certificates, clientCertificateAuth: true,
                                 etcdArguments: ["--auth-token", "simple", "--auth-token-ttl", "2"])
        try fleet.etcd.enableAuth(rootPassword: "root-secret", users: ["veer": ("veer-secret", "/veer/"), "nobody": ("nobody-secret", nil)])
        let passwords = certificates.path("passwords")
        try FileManager.default.createDirectory(atPath: passwords, withIntermediateDirectories: true)
        for (name, text) in [("veer", "veer-secret\n"), ("nobody", "nobody-secret\n"), ("wrong", "not-the-password\n")] {
            try text.write(toFile: passwords + "/" + name, atomically: true, encoding: .utf8)
        }
        return (fleet, passwords)
    }

    @Test func aWrongPasswordOrNoPermissionOnThePrefixIsAClearErrorAtStart() throws {
        let certificates = try ControlCertificates()
        let (fleet, passwords) = try Self.authFleet(certificates)
        let ca = Self.clientFiles(certificates, "member")
        let url = fleet.etcd.clientURLs
        let wrong = try fleet.refusal(ca + ["--store-user", "veer", "--store-password-file", passwords + "/wrong"])
        #expect(wrong.contains("etcd \(url)") && wrong.contains("user \"veer\" was refused: wrong password"), "\(wrong)")
        let denied = try fleet.refusal(ca + ["--store-user", "nobody", "--store-password-file", passwords + "/nobody"])
        #expect(denied.contains("etcd \(url)") && denied.contains("permission denied: user \"nobody\" may not read or write the keys under /veer/"),
                "\(denied)")
        let anonymous = try fleet.refusal(ca)
        #expect(anonymous.contains("no user was given: use --store-user and --store-password-file"), "\(anonymous)")
        // A client certificate with a CN: etcd's gateway refuses it while auth is on.
        try certificates.client("named")
        let named = try fleet.refusal(Self.clientFiles(certificates, "named") + ["--store-user", "veer", "--store-password-file", passwords + "/veer"])
        #expect(named.contains("refuses a client certificate with a CommonName") && named.contains("issue it without a CN"), "\(named)")
    }

    @Test func aTokenExpiredUnderARunningServerIsRenewedAndChangesKeepWorking() throws {
        let certificates = try ControlCertificates()
        let (fleet, passwords) = try Self.authFleet(certificates)
        let access = Self.clientFiles(certificates, "member") + ["--store-user", "veer", "--store-password-file", passwords + "/veer"]
        for id in ["a", "b"] { try fleet.start(id, access) }
        #expect(try fleet.veer(0, "shift", "api.example.com", "new", "10%", "--wait").status == 0)
        // Server a sends nothing for longer than the token's 2 s: etcd forgets its token.
        // Tokens taken after it stopped end later than its own; once etcd has dropped one of
        // them, it has dropped server a's too. Each is asked once (asking renews it).
        kill(fleet.servers[0].processIdentifier, SIGSTOP)
        var probes = try (0..<12).map { _ in try fleet.etcd.authenticate("veer", "veer-secret") }
        let deadline = ContinuousClock.now + .seconds(15)
        var expired = false
        while !expired, !probes.isEmpty, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.5)
            expired = try !fleet.etcd.accepts(token: probes.removeFirst())
        }
        kill(fleet.servers[0].processIdentifier, SIGCONT)
        try #require(expired, "etcd kept a veer token alive for longer than --auth-token-ttl 2")
        let shift = try fleet.veer(0, "shift", "api.example.com", "new", "30%", "--wait")
        #expect(shift.status == 0 && shift.output.hasPrefix("ok"), "no error reaches the operator: \(shift.output)")
        for i in 0..<2 { #expect(try fleet.waitForNew(i, 30), "server \(i) does not answer new=30") }
        let renewed = try fleet.servers[0].logLine(containing: "authenticated again as veer", timeout: .seconds(1))
        #expect(renewed.contains("invalid auth token"), "\(renewed)")
        #expect(!fleet.servers[0].stderr.contains(" error "), "\(fleet.servers[0].stderr)")

        // `veer store export` takes the same options.
        let back = try FileIO.makeTemporaryDirectory(prefix: "veer-tls-export-")
        let exported = try runProgram(try Tools.veer(), ["store", "export", "--state-dir", back, "--store", "etcd=\(fleet.etcd.clientURLs)"] + access)
        #expect(exported.status == 0 && exported.output.contains("ok exported"), "\(exported.output)")
    }

    @Test func anEtcdRestartForgetsEveryTokenAndBothServersAuthenticateAgainUnasked() throws {
        let certificates = try ControlCertificates()
        let (fleet, passwords) = try Self.authFleet(certificates)
        let access = Self.clientFiles(certificates, "member") + ["--store-user", "veer", "--store-password-file", passwords + "/veer"]
        for id in ["a", "b"] { try fleet.start(id, access) }
        #expect(try fleet.veer(0, "shift", "api.example.com", "new", "10%", "--wait").status == 0)
        // Simple tokens live in etcd's memory only: a restart drops them all.
        fleet.etcd.stop(0)
        try fleet.etcd.start(0)
        // Authenticating goes through raft: once it works, etcd has a leader again.
        let deadline = ContinuousClock.now + .seconds(10)
        var last = ""
        while true {
            do { _ = try fleet.etcd.authenticate("veer", "veer-secret"); break } catch { last = "\(error)" }
            guard ContinuousClock.now < deadline else { throw HarnessError("etcd did not take a login within 10 s of its restart: \(last)") }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let shift = try fleet.veer(1, "shift", "api.example.com", "new", "40%", "--wait")
        #expect(shift.status == 0 && shift.output.hasPrefix("ok"), "no error reaches the operator: \(shift.output)")
        for i in 0..<2 { #expect(try fleet.waitForNew(i, 40), "server \(i) does not answer new=40") }
        // Each server's next request (a's beat, b's change) found its token refused.
        for server in fleet.servers {
            let line = try server.logLine(containing: "authenticated again as veer", timeout: .seconds(5))
            #expect(line.contains("invalid auth token"), "\(line)")
        }
    }

    @Test func aRoleRevokedUnderARunningServerIsAChangeRefusedWithPermissionDenied() throws {
        let certificates = try ControlCertificates()
        let (fleet, passwords) = try Self.authFleet(certificates)
        try fleet.start("a", Self.clientFiles(certificates, "member") + ["--store-user", "veer", "--store-password-file", passwords + "/veer"])
        #expect(try fleet.veer(0, "shift", "api.example.com", "new", "10%").status == 0)
        let revoke = try fleet.etcd.post(0, "/v3/auth/user/revoke", #"{"name":"veer","role":"veer"}"#)
        try #require(revoke.status == 200, "\(String(decoding: revoke.body, as: UTF8.self))")
        let shift = try fleet.veer(0, "shift", "api.example.com", "new", "20%")
        #expect(shift.status != 0 && shift.output.contains("error:")
                && shift.output.contains("permission denied: user \"veer\" may not read or write"), "\(shift.output)")
        #expect(try fleet.waitForNew(0, 10), "the refused change is not served")
    }
}
