/// A named health check declared with `$HEALTH`, probed for every endpoint whose
/// `health=` tag names it.
///
/// Syntax (one entry; parentheses may span lines as for records):
///
///     $HEALTH NAME KIND [key=value | flag]...
///     $HEALTH gw-new http address=127.0.0.1:8082 path=/healthz interval=1s timeout=500ms fall=3 rise=5 max-latency=300ms
///     $HEALTH gw https host=api.example.net path=/healthz expect=200-299 body=ok insecure
///     $HEALTH db tcp port=5432
///
/// - NAME: 1 to 32 letters, digits, `_` or `-`; unique in the zone (including `$INCLUDE`d
///   files). A check may be declared before or after the endpoints that use it.
/// - KIND: `tcp` (a TCP connect), `http` or `https` (a GET whose status is in `expect`).
///
/// Options, each at most once; unknown options and options of another kind are errors.
/// A DURATION is integers with units `ms`, `s`, `m`, `h` or `d` (`500ms`, `2s`, `1m`, `1h30m`), as `--bake` takes.
///
/// | option | kinds | default | meaning |
/// |---|---|---|---|
/// | `interval=DURATION` | all | `2s` | time between probes, 100ms…1h |
/// | `timeout=DURATION` | all | `1s` | probe timeout, 10ms…1m, shorter than `interval` |
/// | `fall=N` | all | `3` | consecutive failures to mark the endpoint down, 1…100 |
/// | `rise=N` | all | `5` | consecutive successes to mark it up again, 1…100 |
/// | `max-latency=DURATION` | all | none | a probe slower than this is an anomaly, 1ms…1m |
/// | `port=N` | all | 80 http, 443 https | 1…65535; tcp needs it (or a port in `address=`) |
/// | `address=IP[:PORT]` | all | the endpoint | probe this address (`[IPv6]:PORT` with a port) instead of the endpoint's CNAME target or first A/AAAA address; a port here excludes `port=` |
/// | `path=/…` | http, https | `/` | request path, starts with `/` |
/// | `host=NAME` | http, https | the CNAME target without its final dot, else the address | `Host` header and TLS SNI |
/// | `expect=CODES` | http, https | `200-399` | accepted statuses: `200`, `200-299`, `200,204,301-302` (100…599) |
/// | `body=TEXT` | http, https | none | the reply body must contain TEXT; `body="all good"` for spaces |
/// | `insecure` | https | off | skip certificate verification |
/// | `ca=PATH` | https | system CAs | CA bundle to verify the server with |
public struct HealthCheck: Sendable, Hashable {
    /// What a probe does.
    public enum Kind: String, Sendable, Hashable {
        /// A TCP connect to the port.
        case tcp
        /// An HTTP GET; the status must be in `expect`.
        case http
        /// An HTTPS GET; the status must be in `expect`.
        case https
    }

    /// The name endpoints refer to with `health=`.
    public let name: String
    public let kind: Kind
    /// Time between probes, in milliseconds.
    public let intervalMs: Int
    /// Time a probe may take before it counts as failed, in milliseconds; below `intervalMs`.
    public let timeoutMs: Int
    /// Consecutive failures that take an endpoint down.
    public let fall: Int
    /// Consecutive successes that bring it back up.
    public let rise: Int
    /// A successful probe slower than this is an anomaly; nil when not set.
    public let maxLatencyMs: Int?
    /// The explicit `port=` or the port in `address=`; nil means the kind's default.
    public let port: UInt16?
    /// The `address=` IP literal as written, without brackets or port; nil means the endpoint's.
    public let address: String?
    /// The HTTP request path (`/` by default).
    public let path: String
    /// `Host` header and SNI; nil means the endpoint's CNAME target, else the address.
    public let host: String?
    /// Accepted HTTP statuses (`[200...399]` by default: 2xx and 3xx).
    public let expect: [ClosedRange<Int>]
    /// A substring the reply body must contain; nil when not checked.
    public let body: String?
    /// HTTPS without certificate verification.
    public let insecure: Bool
    /// A CA bundle file for HTTPS; nil means the system's.
    public let ca: String?
    /// Where the `$HEALTH` directive starts.
    public let position: SourcePosition

    /// Probe interval when `interval=` is not given: 2 s.
    public static let defaultIntervalMs = 2_000
    /// Probe timeout when `timeout=` is not given: 1 s.
    public static let defaultTimeoutMs = 1_000
    /// Consecutive failures to go down when `fall=` is not given (gdnsd's default is 3 too).
    public static let defaultFall = 3
    /// Consecutive successes to come back when `rise=` is not given: coming back is slower
    /// than going down, so a flapping gateway stays out.
    public static let defaultRise = 5
    /// Statuses accepted when `expect=` is not given: 2xx and 3xx.
    public static let defaultExpect = [200...399]

    public init(name: String, kind: Kind, intervalMs: Int = defaultIntervalMs, timeoutMs: Int = defaultTimeoutMs,
                fall: Int = defaultFall, rise: Int = defaultRise, maxLatencyMs: Int? = nil, port: UInt16? = nil,
                address: String? = nil, path: String = "/", host: String? = nil,
                expect: [ClosedRange<Int>] = defaultExpect, body: String? = nil, insecure: Bool = false,
                ca: String? = nil, position: SourcePosition) {
        self.name = name
        self.kind = kind
        self.intervalMs = intervalMs
        self.timeoutMs = timeoutMs
        self.fall = fall
        self.rise = rise
        self.maxLatencyMs = maxLatencyMs
        self.port = port
        self.address = address
        self.path = path
        self.host = host
        self.expect = expect
        self.body = body
        self.insecure = insecure
        self.ca = ca
        self.position = position
    }

    /// The port probed: `port`, else 443 for https and 80 otherwise (tcp always has one).
    public var effectivePort: UInt16 { port ?? (kind == .https ? 443 : 80) }

    /// Whether an HTTP status is one of `expect`.
    public func accepts(status: Int) -> Bool { expect.contains { $0.contains(status) } }
}
