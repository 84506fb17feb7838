import Posix
import TestSupport
import Testing

/// HTTPS probes through libcurl against `openssl s_server` with a self-signed certificate.
@Suite struct HTTPSProbeTests {
    static let timeout = Duration.seconds(5)

    /// GET https://HOST:PORT/ connecting to the gateway, with the given trust settings.
    static func get(_ gateway: TLSGateway, host: String = "127.0.0.1", insecure: Bool = false,
                    ca: String? = nil) -> HTTPSProbe.Outcome {
        HTTPSProbe.get(HTTPSProbe.Request(host: host, port: gateway.port, connectTo: gateway.address,
                                          timeout: timeout, insecure: insecure, caFile: ca)).outcome
    }

    static func failure(_ outcome: HTTPSProbe.Outcome) -> String? {
        if case .failure(let reason) = outcome { return reason }
        return nil
    }

    static func status(_ outcome: HTTPSProbe.Outcome) -> Int? {
        if case .reply(let status, _) = outcome { return status }
        return nil
    }

    @Test func selfSignedCertificateFailsVerificationByDefault() throws {
        let gateway = try TLSGateway()
        let outcome = Self.get(gateway)
        let reason = try #require(Self.failure(outcome), "\(outcome)")
        #expect(reason.contains("SSL certificate problem"), "\(reason)")
        #expect(reason.contains("self-signed"), "\(reason)")
    }

    @Test func insecureAcceptsSelfSignedCertificate() throws {
        let gateway = try TLSGateway()
        let outcome = Self.get(gateway, insecure: true)
        #expect(Self.status(outcome) == 200, "\(outcome)")
        if case .reply(_, let body) = outcome {
            #expect(String(decoding: body, as: UTF8.self).contains("s_server"))
        }
    }

    @Test func caFileMakesSelfSignedCertificateTrusted() throws {
        let gateway = try TLSGateway()
        let outcome = Self.get(gateway, ca: gateway.certificate)
        #expect(Self.status(outcome) == 200, "\(outcome)")
    }

    @Test func hostNameIsVerifiedWhileConnectingToTheAddress() throws {
        let gateway = try TLSGateway()
        // The URL names gw.test (SNI and Host); the connection goes to 127.0.0.1.
        #expect(Self.status(Self.get(gateway, host: TLSGateway.certificateName, ca: gateway.certificate)) == 200)
        let wrong = Self.get(gateway, host: "wrong.test", ca: gateway.certificate)
        let reason = try #require(Self.failure(wrong), "\(wrong)")
        #expect(reason.contains("wrong.test"), "\(reason)")
        // insecure skips the name check too.
        #expect(Self.status(Self.get(gateway, host: "wrong.test", insecure: true)) == 200)
    }

    @Test func closedPortFailsToConnect() throws {
        let listener = try LoopbackTCPListener()
        let closed = listener.address
        listener.stop()
        let (outcome, latency) = HTTPSProbe.get(HTTPSProbe.Request(host: "127.0.0.1", port: closed.port,
                                                                   timeout: Self.timeout, insecure: true))
        let reason = try #require(Self.failure(outcome), "\(outcome)")
        #expect(reason.contains("connect"), "\(reason)")
        #expect(latency < Self.timeout)
    }

    @Test func silentServerTimesOut() throws {
        // Never accepts: the handshake is queued by the kernel, the TLS hello never answered.
        let listener = try LoopbackTCPListener(accepting: false)
        defer { listener.stop() }
        let (outcome, latency) = HTTPSProbe.get(HTTPSProbe.Request(host: "127.0.0.1", port: listener.port,
                                                                   timeout: .milliseconds(300), insecure: true))
        #expect(outcome == .timeout)
        #expect(latency >= .milliseconds(290) && latency < .seconds(3), "\(latency)")
    }

    @Test func bodyIsCutAtMaxBody() throws {
        let gateway = try TLSGateway()
        let (outcome, _) = HTTPSProbe.get(HTTPSProbe.Request(host: "127.0.0.1", port: gateway.port, timeout: Self.timeout,
                                                             insecure: true, maxBody: 10))
        guard case .reply(let status, let body) = outcome else {
            Issue.record("\(outcome)")
            return
        }
        #expect(status == 200)
        #expect(body.count == 10)
    }

    @Test func requestURLBracketsIPv6Hosts() {
        #expect(HTTPSProbe.Request(host: "::1", port: 8443, path: "/healthz", timeout: .seconds(1)).url
                == "https://[::1]:8443/healthz")
        #expect(HTTPSProbe.Request(host: "gw.test", port: 443, timeout: .seconds(1)).url == "https://gw.test:443/")
    }
}
