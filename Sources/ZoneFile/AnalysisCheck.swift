/// A named analysis declared with `$ANALYSIS`: queries that judge an endpoint on the
/// gateways' real traffic, run for every endpoint whose `analysis=` tag names it.
///
/// Syntax (one entry; parentheses may span lines as for records):
///
///     $ANALYSIS NAME KIND url=URL key=value...
///     $ANALYSIS errors prometheus url=http://127.0.0.1:9090 interval=10s (
///         query="sum(rate(gateway_requests_total{gateway=\"{{endpoint}}\",code=~\"5..\"}[1m])) / sum(rate(gateway_requests_total{gateway=\"{{endpoint}}\"}[1m]))"
///         requests="sum(increase(gateway_requests_total{gateway=\"{{endpoint}}\"}[1m]))"
///         max=0.01 max-increase=1.5 min-requests=100 failure-limit=2 )
///     api 30 IN CNAME gw-new.example.net. endpoint=new weight=0 analysis=errors,latency
///
/// - NAME: 1 to 32 letters, digits, `_` or `-`; unique among the zone's `$ANALYSIS` names
///   (including `$INCLUDE`d files). Declared before or after the endpoints that use it.
/// - KIND: `prometheus` (the Prometheus HTTP API, `GET /api/v1/query`), the only kind.
///
/// Options, each at most once; unknown options are errors. `url=`, `query=` and `requests=`
/// are required, and at least one of `max=`, `min=` and `max-increase=`. A DURATION is as for
/// `$HEALTH` (`500ms`, `10s`, `1m`); a NUMBER is decimal, with an optional fraction and
/// exponent (`250`, `0.01`, `1e-3`). A QUERY is PromQL, quoted when it has spaces or quotes,
/// with the escapes of a TXT string: `\"` for a quote, `\\` for a backslash. It must contain
/// `{{endpoint}}`, which becomes the judged endpoint's id.
///
/// | option | default | meaning |
/// |---|---|---|
/// | `url=http://HOST[:PORT][/PREFIX]` | required | the Prometheus server: HOST an IPv4 literal, `[IPv6]` or `localhost`; PORT 80 by default; PREFIX for a server behind a path (`--web.route-prefix`). Only `http` for now |
/// | `interval=DURATION` | `10s` | time between two judgments, 1s…1h |
/// | `timeout=DURATION` | `5s`, or half the interval when that is shorter | time a query may take, 100ms…1m, shorter than `interval` |
/// | `query=QUERY` | required | the judged value of an endpoint (an error ratio, a p99 latency) |
/// | `requests=QUERY` | required | the endpoint's requests in the query's window, for `min-requests` |
/// | `traffic=QUERY` | none | requests still reaching an endpoint, shown while it drains |
/// | `max=NUMBER` | none | fail when the value is above it |
/// | `min=NUMBER` | none | fail when the value is below it |
/// | `max-increase=NUMBER` | none | fail when the value is above this factor times the baseline's (the endpoints traffic moves from); 1 or more |
/// | `min-requests=NUMBER` | `100` | fewer requests than this make the result inconclusive; 1 or more |
/// | `failure-limit=N` | `2` | consecutive failures that roll back, 1…100 |
/// | `inconclusive-limit=N` | `6` | consecutive inconclusive results that pause a rollout, 1…1000 |
public struct AnalysisCheck: Sendable, Hashable {
    /// Where the values come from.
    public enum Kind: String, Sendable, Hashable {
        /// A Prometheus server's HTTP API, one instant query per value.
        case prometheus
    }

    /// The name endpoints refer to with `analysis=`.
    public let name: String
    /// Where the values come from: `prometheus`.
    public let kind: Kind
    /// The server's host as written in `url=`: an IPv4 or IPv6 literal (without brackets), or
    /// `localhost`, which means the loopback address.
    public let host: String
    /// The server's port (80 when `url=` gives none).
    public let port: UInt16
    /// The path the server's API sits under, without a final `/`: `""` or `/prometheus`.
    public let pathPrefix: String
    /// Time between two judgments, in milliseconds.
    public let intervalMs: Int
    /// Time a query may take, in milliseconds; below `intervalMs`.
    public let timeoutMs: Int
    /// The judged value, with `{{endpoint}}` in it (see `query(for:)`).
    public let query: String
    /// The endpoint's request count in the window, with `{{endpoint}}` in it.
    public let requests: String
    /// Requests still reaching an endpoint, with `{{endpoint}}` in it; nil when not set.
    public let traffic: String?
    /// Upper absolute bound; nil when not set.
    public let max: Double?
    /// Lower absolute bound; nil when not set.
    public let min: Double?
    /// Largest allowed factor over the baseline (1 or more); nil when not set.
    public let maxIncrease: Double?
    /// Fewer requests than this in the window: inconclusive.
    public let minRequests: Double
    /// Consecutive failures that roll back.
    public let failureLimit: Int
    /// Consecutive inconclusive results that pause a rollout.
    public let inconclusiveLimit: Int
    /// Where the `$ANALYSIS` directive starts.
    public let position: SourcePosition

    /// What `query=`, `requests=` and `traffic=` must contain: replaced by the endpoint id.
    public static let endpointPlaceholder = "{{endpoint}}"
    /// Judgment interval when `interval=` is not given: 10 s, a few scrapes of a 1–5 s
    /// scrape interval, and a rollback within `failure-limit` × 10 s of the errors showing.
    public static let defaultIntervalMs = 10_000
    /// Query timeout when `timeout=` is not given, unless half the interval is shorter.
    public static let defaultTimeoutMs = 5_000
    /// `min-requests=` when not given: below 100 requests one error is already 1%.
    public static let defaultMinRequests: Double = 100
    /// `failure-limit=` when not given: one bad window alone never rolls back (Argo Rollouts'
    /// analysis and Flagger's threshold work the same way).
    public static let defaultFailureLimit = 2
    /// `inconclusive-limit=` when not given: a minute of no verdict at the default interval.
    public static let defaultInconclusiveLimit = 6

    /// An analysis as `$ANALYSIS` declares it; the defaults are the documented ones. The
    /// reader checks the values (ranges, `{{endpoint}}` in the queries); this does not.
    public init(name: String, kind: Kind = .prometheus, host: String, port: UInt16 = 80, pathPrefix: String = "",
                intervalMs: Int = defaultIntervalMs, timeoutMs: Int = defaultTimeoutMs, query: String,
                requests: String, traffic: String? = nil, max: Double? = nil, min: Double? = nil,
                maxIncrease: Double? = nil, minRequests: Double = defaultMinRequests,
                failureLimit: Int = defaultFailureLimit, inconclusiveLimit: Int = defaultInconclusiveLimit,
                position: SourcePosition) {
        self.name = name
        self.kind = kind
        self.host = host
        self.port = port
        self.pathPrefix = pathPrefix
        self.intervalMs = intervalMs
        self.timeoutMs = timeoutMs
        self.query = query
        self.requests = requests
        self.traffic = traffic
        self.max = max
        self.min = min
        self.maxIncrease = maxIncrease
        self.minRequests = minRequests
        self.failureLimit = failureLimit
        self.inconclusiveLimit = inconclusiveLimit
        self.position = position
    }

    /// The server as written in `url=`, normalised: `http://127.0.0.1:9090/prefix`.
    public var url: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "http://\(shownHost):\(port)\(pathPrefix)"
    }

    /// `query` for one endpoint: every `{{endpoint}}` replaced by `endpoint`. Endpoint ids are
    /// `[A-Za-z0-9_-]{1,32}` (the zone reader enforces it), characters that need no escaping
    /// inside a PromQL string or label matcher, so the id goes in as it is.
    public func query(for endpoint: String) -> String { Self.substitute(query, endpoint) }

    /// `requests` for one endpoint (see `query(for:)`).
    public func requests(for endpoint: String) -> String { Self.substitute(requests, endpoint) }

    /// `traffic` for one endpoint (see `query(for:)`); nil when `traffic=` is not set.
    public func traffic(for endpoint: String) -> String? { traffic.map { Self.substitute($0, endpoint) } }

    private static func substitute(_ template: String, _ endpoint: String) -> String {
        template.replacing(endpointPlaceholder, with: endpoint)
    }
}
