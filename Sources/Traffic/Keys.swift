import DNSWire

/// A weighted name as the control side keys it: lowercased, absolute (`api.example.com.`).
/// Every map of names uses it, so there is one canonical spelling and one place that makes it.
public struct NameKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let text: String

    /// From what an operator typed: `API.example.com` and `api.example.com.` are one key.
    public init(_ text: String) {
        let lower = text.lowercased()
        self.text = lower.hasSuffix(".") ? lower : lower + "."
    }

    /// From a zone's owner name.
    public init(_ name: DomainName) {
        text = name.lowercased().description
    }

    public var description: String { text }

    public static func < (a: NameKey, b: NameKey) -> Bool { a.text < b.text }
}

/// One endpoint of one weighted name: the identity that weights, health, rollouts, status
/// and metrics share. The query path uses the endpoint's slot instead.
public struct EndpointKey: Hashable, Sendable, CustomStringConvertible {
    public let name: NameKey
    public let id: String

    public init(name: NameKey, id: String) {
        self.name = name
        self.id = id
    }

    public var description: String { "\(name) \(id)" }
}

/// The control side's time, in milliseconds on two clocks read together: `monotonic` for
/// every duration (bakes, windows, retries), which a wall-clock step does not move, and
/// `wall` (Unix epoch) only for what people and files read. One injected clock gives both.
public struct Moment: Sendable, Equatable, CustomStringConvertible {
    public var monotonic: Int64
    public var wall: Int64

    public init(monotonic: Int64, wall: Int64) {
        self.monotonic = monotonic
        self.wall = wall
    }

    /// Both clocks at `ms`: for tests, where the two agree until a test steps one.
    public init(_ ms: Int64) {
        self.init(monotonic: ms, wall: ms)
    }

    /// Unix seconds, for audit lines and the saved `raisedAt`.
    public var wallSeconds: Int64 { wall / 1000 }

    /// `ms` later on both clocks.
    public func adding(_ ms: Int64) -> Moment { Moment(monotonic: monotonic + ms, wall: wall + ms) }

    public var description: String { "mono \(monotonic)ms wall \(wall)ms" }
}

extension Moment: ExpressibleByIntegerLiteral {
    /// `Moment(5_000)` written `5_000`, for tables of scripted times.
    public init(integerLiteral ms: Int64) {
        self.init(ms)
    }
}
