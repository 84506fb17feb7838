import Dispatch
import Traffic

/// Logs, every ten seconds in which rate limiting held anything back, how much: the query
/// path itself never logs (BIND and NSD log per limited prefix; here the counters by kind
/// are in the metrics, `veer_rrl_limited_total`).
final class RateLimitLog: Sendable {
    static let periodSeconds = 10
    private let timer: TimerHandle

    init(counters: CounterRegistry, logOnly: Bool) {
        let queue = DispatchQueue(label: "veer.rrl-log")
        let source = DispatchSource.makeTimerSource(queue: queue)
        let period = DispatchTimeInterval.seconds(Self.periodSeconds)
        source.schedule(deadline: .now() + period, repeating: period, leeway: .seconds(1))
        nonisolated(unsafe) var last = counters.limitTotals()
        source.setEventHandler {
            let now = counters.limitTotals()
            let limited = zip(now.limited, last.limited).reduce(0) { $0 + ($1.0 &- $1.1) }
            let slipped = now.slipped &- last.slipped
            last = now
            guard limited > 0 else { return }
            if logOnly {
                Log.info("rate limiting (log only): \(limited) response(s) over the limit in the last \(Self.periodSeconds) s, all sent")
            } else {
                Log.info("rate limiting: \(limited) response(s) limited in the last \(Self.periodSeconds) s, \(slipped) of them sent truncated")
            }
        }
        timer = TimerHandle(source: source)
        source.resume()
    }
}
