import Posix
import Glibc
import Synchronization

/// Stands in for API gateways' metrics: an HTTP server on 127.0.0.1 that serves
/// `GET /metrics` in the Prometheus text format (0.0.4) and `GET /healthz` → 200, for tests of
/// analyses against a real Prometheus.
///
/// For each gateway id it exports
/// - `gateway_requests_total{gateway="ID",code="200"|"503"}`, counters;
/// - `gateway_request_duration_seconds_bucket{gateway="ID",le="…"}` with `_sum` and `_count`,
///   a histogram over `latencyBuckets`.
///
/// The test sets, per gateway, requests per second, the share of them answered 503, and the
/// latency every request takes. Counters advance with real time from the settings in force:
/// each read or change first adds `rate × elapsed` since the last one, so no thread ticks and a
/// new setting applies from the moment it is made. Counters are kept and exported as
/// fractions, so the error ratio over any window is exactly the one set (a real gateway's
/// integer counters would add noise a test does not need). A rate of 0 is no traffic: the
/// series stay, flat.
public final class TestGateway: Sendable {
    /// Histogram bucket bounds in seconds (Prometheus client libraries' defaults): a latency of
    /// L lands in the first bucket whose bound is at least L, so `histogram_quantile(0.99, …)`
    /// falls between that bound and the one below it.
    public static let latencyBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// Longest request head read.
    static let maxRequest = 8192

    /// One gateway's settings and counters.
    struct Series {
        var requestsPerSecond = 0.0
        var errorRatio = 0.0
        var latency = 0.005
        var ok = 0.0
        var errors = 0.0
        /// Cumulative counts per bucket of `latencyBuckets`, then +Inf.
        var buckets = [Double](repeating: 0, count: TestGateway.latencyBuckets.count + 1)
        var sum = 0.0

        /// Adds the requests of `seconds` at the current settings.
        mutating func advance(_ seconds: Double) {
            let count = requestsPerSecond * seconds
            guard count > 0 else { return }
            errors += count * errorRatio
            ok += count * (1 - errorRatio)
            for (i, bound) in TestGateway.latencyBuckets.enumerated() where latency <= bound { buckets[i] += count }
            buckets[buckets.count - 1] += count
            sum += count * latency
        }
    }

    struct State {
        var order: [String] = []
        var series: [String: Series] = [:]
        /// Clock reading of the last advance, in nanoseconds.
        var last = Clock.now()

        mutating func advance() {
            let now = Clock.now()
            let seconds = Double(now &- last) / 1e9
            last = now
            for id in order { series[id]!.advance(seconds) }
        }
    }

    private final class Core: Sendable {
        let listener: LoopbackListener
        let state = Mutex(State())
        let scrapes = Atomic<Int>(0)

        init(listener: LoopbackListener) { self.listener = listener }

        func serve(_ fd: Int32) {
            defer { closeDescriptor(fd) }
            let deadline = Clock.now() &+ 10_000_000_000
            var request: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 2048)
            while !Self.hasHeadEnd(request) {
                guard request.count < TestGateway.maxRequest, listener.wait(fd, until: deadline) else { return }
                let count = buffer.withUnsafeMutableBytes { bytes in retryingOnInterrupt { Glibc.read(fd, bytes.baseAddress, bytes.count) } }
                if count <= 0 { return }
                request += buffer[0..<count]
            }
            let line = request.prefix { $0 != 13 && $0 != 10 }.split(separator: 0x20)
            let path = line.count >= 2 ? String(decoding: line[1], as: UTF8.self) : ""
            let reply: [UInt8]
            if path == "/metrics" || path.hasPrefix("/metrics?") {
                scrapes.add(1, ordering: .relaxed)
                reply = LoopbackHTTPServer.response(status: 200, body: metrics())
            } else if path == "/healthz" {
                reply = LoopbackHTTPServer.response(status: 200, body: "ok")
            } else {
                reply = LoopbackHTTPServer.response(status: 404, body: "not found")
            }
            reply.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let sent = retryingOnInterrupt { send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
                    if sent <= 0 { return }
                    offset += sent
                }
            }
        }

        static func hasHeadEnd(_ bytes: [UInt8]) -> Bool {
            guard bytes.count >= 4 else { return false }
            return (3..<bytes.count).contains { bytes[$0 - 3] == 13 && bytes[$0 - 2] == 10 && bytes[$0 - 1] == 13 && bytes[$0] == 10 }
        }

        /// The exposition, after bringing every counter up to now.
        func metrics() -> String {
            let (order, series) = state.withLock { state in
                state.advance()
                return (state.order, state.series)
            }
            var text = "# HELP gateway_requests_total Requests answered, by status code.\n# TYPE gateway_requests_total counter\n"
            for id in order {
                text += "gateway_requests_total{gateway=\"\(id)\",code=\"200\"} \(series[id]!.ok)\n"
                text += "gateway_requests_total{gateway=\"\(id)\",code=\"503\"} \(series[id]!.errors)\n"
            }
            text += "# HELP gateway_request_duration_seconds Request latency.\n# TYPE gateway_request_duration_seconds histogram\n"
            for id in order {
                let s = series[id]!
                for (i, bound) in TestGateway.latencyBuckets.enumerated() {
                    text += "gateway_request_duration_seconds_bucket{gateway=\"\(id)\",le=\"\(bound)\"} \(s.buckets[i])\n"
                }
                text += "gateway_request_duration_seconds_bucket{gateway=\"\(id)\",le=\"+Inf\"} \(s.buckets[s.buckets.count - 1])\n"
                text += "gateway_request_duration_seconds_sum{gateway=\"\(id)\"} \(s.sum)\n"
                text += "gateway_request_duration_seconds_count{gateway=\"\(id)\"} \(s.buckets[s.buckets.count - 1])\n"
            }
            return text
        }
    }

    private let core: Core
    /// The port bound.
    public let port: UInt16
    /// `127.0.0.1:<port>`.
    public var address: SocketAddress { loopbackAddress(port) }
    /// `127.0.0.1:<port>`, as a Prometheus scrape target.
    public var target: String { "127.0.0.1:\(port)" }

    /// Serves the metrics of `gateways` (ids such as `old` and `new`), all without traffic
    /// until `set` says otherwise, on a free loopback port.
    public init(gateways: [String]) throws {
        let listener = try LoopbackListener(port: 0, backlog: 128)
        let core = Core(listener: listener)
        core.state.withLock { state in
            state.order = gateways
            for id in gateways { state.series[id] = Series() }
        }
        self.core = core
        self.port = listener.port
        listener.startAccepting(name: "veer-test-gw") { fd in
            pthread_detach(spawnThread(name: "veer-test-gwc") { core.serve(fd) })
        }
    }

    deinit { core.listener.stop() }

    /// From now on, `gateway` receives `requestsPerSecond` requests, `errorRatio` (0…1) of them
    /// answered 503, each taking `latency`. A gateway not given to `init` is added.
    public func set(_ gateway: String, requestsPerSecond: Double, errorRatio: Double = 0, latency: Duration = .milliseconds(5)) {
        let seconds = Double(latency.components.seconds) + Double(latency.components.attoseconds) / 1e18
        core.state.withLock { state in
            state.advance()
            if state.series[gateway] == nil {
                state.order.append(gateway)
                state.series[gateway] = Series()
            }
            state.series[gateway]!.requestsPerSecond = max(0, requestsPerSecond)
            state.series[gateway]!.errorRatio = min(1, max(0, errorRatio))
            state.series[gateway]!.latency = seconds
        }
    }

    /// Requests of `gateway` counted so far (both codes), brought up to now.
    public func requests(_ gateway: String) -> Double {
        core.state.withLock { state in
            state.advance()
            return state.series[gateway].map { $0.ok + $0.errors } ?? 0
        }
    }

    /// `GET /metrics` requests served so far: how often Prometheus scraped.
    public var scrapeCount: Int { core.scrapes.load(ordering: .relaxed) }

    /// Stops serving; scrapes fail from now on. Calling it again does nothing.
    public func stop() { core.listener.stop() }
}
