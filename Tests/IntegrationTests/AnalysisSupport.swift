import Foundation
import Posix
import Testing
import TestSupport

/// One analysis test's world: test gateways `old` and `new` exporting their metrics, a real
/// Prometheus scraping them every second, and the real `veer serve` with a zone whose `new`
/// endpoint is judged by `$ANALYSIS` lines against that Prometheus. Every test has its own.
struct AnalysisSetup {
    /// The error ratio over 10 s, not the usual minute: with a 1 s scrape it follows a change
    /// within a few seconds, so the tests need not wait a minute for a rate to move.
    static let errorRatio = #"sum(rate(gateway_requests_total{gateway=\"{{endpoint}}\",code=~\"5..\"}[10s])) / sum(rate(gateway_requests_total{gateway=\"{{endpoint}}\"}[10s]))"#
    static let requests = #"sum(increase(gateway_requests_total{gateway=\"{{endpoint}}\"}[10s]))"#
    static let p99 = #"histogram_quantile(0.99, sum by (le) (rate(gateway_request_duration_seconds_bucket{gateway=\"{{endpoint}}\"}[15s])))"#
    /// The analyses run every second; a query may take 900 ms before it counts as failed,
    /// since a 2-core machine running the whole suite answers slowly at times.
    static let interval = "1s"
    static let timeout = "900ms"

    let gateway: TestGateway
    let prometheus: PrometheusServer
    let server: VeerProcess

    /// `analysis`: the options of `$ANALYSIS errors` after its queries (bounds and limits);
    /// `query`: the judged value's query. `ttl`: the records' TTL.
    init(old: (errors: Double, latency: Duration) = (0.001, .milliseconds(5)),
         new: (errors: Double, latency: Duration) = (0.001, .milliseconds(5)), newRate: Double = 100,
         query: String = errorRatio, analysis: String) throws {
        gateway = try TestGateway(gateways: ["old", "new"])
        gateway.set("old", requestsPerSecond: 100, errorRatio: old.errors, latency: old.latency)
        gateway.set("new", requestsPerSecond: newRate, errorRatio: new.errors, latency: new.latency)
        prometheus = try PrometheusServer(targets: [gateway.target])
        let zone = Self.zone(gatewayPort: gateway.port, analyses: [
            Self.analysis("errors", prometheusPort: prometheus.port, query: query, options: analysis),
        ])
        server = try VeerProcess(zones: ["example.com.zone": zone])
    }

    /// `$ANALYSIS NAME …` against Prometheus on `prometheusPort`.
    static func analysis(_ name: String, prometheusPort: UInt16, query: String = errorRatio, options: String) -> String {
        """
        $ANALYSIS \(name) prometheus url=http://127.0.0.1:\(prometheusPort) interval=\(interval) timeout=\(timeout) (
            query="\(query)"
            requests="\(requests)"
            \(options) )
        """
    }

    /// api.example.com: old at 100, new at 0 with `role=new`, each with a health check on
    /// the test gateway's `/healthz` (a rollout needs one on its target) and new judged by
    /// `analysis=errors`. Probes are slow and patient: one probe anomaly aborts a rollout,
    /// and these tests are about analyses, not about a loaded machine's probe latency.
    static func zone(gatewayPort: UInt16, analyses: [String], ttl: Int = 30) -> String {
        let policy = "interval=1s timeout=900ms fall=3 rise=2"
        return """
            $ORIGIN example.com.
            $TTL 3600
            @    IN SOA ns1 hostmaster 2026120701 3600 600 604800 60
            @    IN NS  ns1
            ns1  IN A   192.0.2.53
            $HEALTH gw-old http address=127.0.0.1 port=\(gatewayPort) path=/healthz \(policy)
            $HEALTH gw-new http address=127.0.0.1 port=\(gatewayPort) path=/healthz \(policy)
            \(analyses.joined(separator: "\n"))
            api  \(ttl) IN CNAME gw-old.example.net. endpoint=old weight=100 health=gw-old
            api  \(ttl) IN CNAME gw-new.example.net. endpoint=new weight=0 health=gw-new role=new analysis=errors
            """
    }

    func veer(_ words: String...) throws -> ProgramResult {
        try Self.veer(admin: server.stateDirectory.path + "/admin.sock", words)
    }

    static func veer(admin: String, _ words: [String]) throws -> ProgramResult {
        try runProgram(try Tools.veer(), ["--admin", admin] + words)
    }

    /// `rollout status api.example.com --json`, the first rollout.
    func rollout() throws -> [String: Any] {
        try Self.rollout(veer("rollout", "status", "api.example.com", "--json"))
    }

    static func rollout(_ result: ProgramResult) throws -> [String: Any] {
        let list = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]]
        return list?.first ?? ["unreadable": result.output]
    }

    /// The rollout's last verdict of analysis `name`, from its `analyses`.
    static func analysis(_ rollout: [String: Any], _ name: String = "errors") -> [String: Any]? {
        (rollout["analyses"] as? [[String: Any]])?.first { $0["analysis"] as? String == name }
    }

    static func verdict(_ rollout: [String: Any], _ name: String = "errors") -> String? {
        analysis(rollout, name)?["verdict"] as? String
    }

    /// Polls the rollout until `done` holds, for up to `timeout`; the last state seen.
    func waitForRollout(timeout: Duration = .seconds(30), _ done: ([String: Any]) -> Bool) throws -> [String: Any] {
        try Self.poll(timeout: timeout, { try rollout() }, until: done)
    }

    /// Runs `read` every 50 ms until `done` takes its result or `timeout` passes; the last result.
    static func poll<T>(timeout: Duration, _ read: () throws -> T, until done: (T) -> Bool) throws -> T {
        let deadline = ContinuousClock.now + timeout
        var last = try read()
        while !done(last) && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            last = try read()
        }
        return last
    }

    /// `veer analysis api.example.com new --json`: the run of `errors` on new.
    func analyzeNow() throws -> [String: Any] {
        let result = try veer("analysis", "api.example.com", "new", "--json")
        // The client prints the JSON without the reply's `ok` line.
        let body = result.output.hasPrefix("ok") ? String(result.output.drop { $0 != "\n" }) : result.output
        let runs = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]]
        return runs?.first ?? ["unreadable": result.output]
    }

    /// Until Prometheus has scraped enough that `veer analysis` judges new `verdict` (it is
    /// inconclusive until two scrapes are in the window): a rollout started then is judged on
    /// data from its first interval.
    func waitForData(verdict: String, timeout: Duration = .seconds(30)) throws {
        let run = try Self.poll(timeout: timeout, { try analyzeNow() }) { $0["verdict"] as? String == verdict }
        guard run["verdict"] as? String == verdict else {
            throw HarnessError("no \(verdict) verdict from `veer analysis` within \(timeout): \(run)\n\(prometheus.logTail())")
        }
    }

    func configured(_ endpoint: String) throws -> Int? {
        try endpointStatus(endpoint)["configured"] as? Int
    }

    func endpointStatus(_ endpoint: String) throws -> [String: Any] {
        let output = try veer("status", "--json").output
        let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        let endpoints = ((json?["names"] as? [[String: Any]])?.first?["endpoints"] as? [[String: Any]]) ?? []
        return endpoints.first { $0["id"] as? String == endpoint } ?? [:]
    }

    func history() throws -> String {
        try veer("history", "api.example.com", "100").output
    }
}

extension Duration {
    /// `6.2 s`, for the figures the tests print.
    var shortText: String { String(format: "%.1f s", seconds) }
}
