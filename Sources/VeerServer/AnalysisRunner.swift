import Dispatch
import Posix
import Traffic

/// Runs an analysis's Prometheus queries off the control queue: the judged endpoint's value
/// and request count, then each baseline endpoint's (for a drained endpoint, only its
/// `traffic=` query). Every query is bounded by the analysis's
/// `timeout=`; once Prometheus fails one, the rest of the run is answered with that failure
/// instead of waiting on each in turn. Queries are read-only: nothing here changes state.
enum AnalysisRunner {
    /// One queue for every run, one run at a time: the plane never asks for the same analysis
    /// twice at once, and a slow Prometheus must not grow a pile of threads.
    static let queue = DispatchQueue(label: "veer.analysis")

    /// Runs `request` on `queue` and hands the answers to `done` there.
    static func start(_ request: AnalysisRequest, done: @escaping @Sendable (AnalysisMeasurement) -> Void) {
        queue.async { done(measure(request)) }
    }

    /// Runs `request`'s queries now, on the calling thread; `traffic=` too when `traffic` (the
    /// plane's runs judge without it, `veer analysis` shows it).
    static func measure(_ request: AnalysisRequest, traffic: Bool = false) -> AnalysisMeasurement {
        let address: SocketAddress
        let location = request.host.contains(":") ? "[\(request.host)]:\(request.port)" : "\(request.host):\(request.port)"
        do {
            address = try SocketAddress(parsing: location)
        } catch {
            let failed = PrometheusReading.failed("prometheus \(location): \(error)")
            return AnalysisMeasurement(endpoint: request.endpoint, value: failed, requests: failed,
                                       baseline: request.baseline.map { .init(endpoint: $0.endpoint, value: failed, requests: failed) })
        }
        var failure: PrometheusReading?
        func ask(_ promql: String) -> PrometheusReading {
            if let failure { return failure }
            let reading = reading(PrometheusClient.query(address, pathPrefix: request.pathPrefix, promql: promql,
                                                         timeout: .milliseconds(request.timeoutMs)))
            if case .failed = reading { failure = reading }
            return reading
        }
        if request.trafficOnly {
            return AnalysisMeasurement(endpoint: request.endpoint, value: .noData, requests: .noData,
                                       traffic: request.judged.traffic.map(ask))
        }
        let value = ask(request.judged.value)
        let requests = ask(request.judged.requests)
        let baseline = request.baseline.map { queries in
            AnalysisMeasurement.Baseline(endpoint: queries.endpoint, value: ask(queries.value), requests: ask(queries.requests))
        }
        return AnalysisMeasurement(endpoint: request.endpoint, value: value, requests: requests, baseline: baseline,
                                   traffic: traffic ? request.judged.traffic.map(ask) : nil)
    }

    static func reading(_ result: PrometheusResult) -> PrometheusReading {
        switch result {
        case .value(let number): .value(number)
        case .noData: .noData
        case .failed(let text): .failed(text)
        }
    }
}
