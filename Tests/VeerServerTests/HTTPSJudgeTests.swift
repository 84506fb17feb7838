import Posix
import Testing
import Traffic
@testable import VeerServer
import ZoneFile

/// How an HTTPS probe's outcome becomes a health result: the same status and body rules as
/// HTTP, timeouts in the check's own words, libcurl's reason otherwise.
struct HTTPSJudgeTests {
    static let check = HealthCheck(name: "gw", kind: .https, timeoutMs: 250, expect: [200...299], body: "ok",
                                   position: SourcePosition(file: "test.zone", line: 1, column: 1))

    @Test(arguments: [
        (HTTPSProbe.Outcome.reply(status: 200, body: Array("all ok".utf8)), ProbeResult.success(latencyMs: 12)),
        (.reply(status: 503, body: Array("ok".utf8)), .failure(reason: "status 503", latencyMs: 12)),
        (.reply(status: 200, body: Array("down".utf8)), .failure(reason: "body lacks \"ok\"", latencyMs: 12)),
        (.timeout, .failure(reason: "timeout after 250ms", latencyMs: 12)),
        (.failure("SSL certificate problem: self-signed certificate"),
         .failure(reason: "https: SSL certificate problem: self-signed certificate", latencyMs: 12)),
    ])
    func outcomeBecomesResult(outcome: HTTPSProbe.Outcome, expected: ProbeResult) {
        #expect(HealthMonitor.judge(outcome, latency: 12, check: Self.check) == expected)
    }
}
