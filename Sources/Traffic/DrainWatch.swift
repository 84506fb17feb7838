/// When each endpoint was last given out in an answer, and until when resolvers may still
/// hold it: what an operator waits for before releasing the old gateway. Fed with the served
/// counters on the control clock; an endpoint counts as answered in a sample when its counter
/// moved since the one before, at the TTL in force then (the larger of the two samples'
/// TTLs, should a `ttl-shift=` window have opened or closed between them).
///
/// Cluster-wide, each server's view is merged (`merge`): the latest answer and the furthest
/// cache horizon of any server.
public struct DrainWatch: Sendable, Equatable {
    /// One endpoint's last answer.
    public struct Seen: Sendable, Equatable, Codable {
        /// Unix milliseconds of the last sample in which it was answered.
        public var lastAnsweredAt: Int64
        /// The longest TTL (seconds) it was answered with.
        public var maxTTL: UInt32
        /// Unix milliseconds until which a resolver may answer from its cache with it: the
        /// furthest of every answer's time plus its TTL.
        public var cachedUntil: Int64

        public init(lastAnsweredAt: Int64, maxTTL: UInt32, cachedUntil: Int64) {
            self.lastAnsweredAt = lastAnsweredAt
            self.maxTTL = maxTTL
            self.cachedUntil = cachedUntil
        }
    }

    /// Where an endpoint at weight 0 stands.
    public enum State: Sendable, Equatable {
        /// Answered at some time this server or the cluster saw, and possibly still cached.
        case inCaches(until: Int64)
        /// The last answer's TTL has run out: resolvers that honour TTLs no longer use it.
        case drained(since: Int64)
        /// No answer seen since `since` (when this server started counting).
        case notSeen(since: Int64)
    }

    public private(set) var seen: [EndpointKey: Seen] = [:]
    /// When counting started (Unix ms).
    public let since: Int64
    private var lastTotals: [EndpointKey: UInt64] = [:]
    private var lastTTL: [EndpointKey: UInt32] = [:]

    public init(since: Int64) {
        self.since = since
    }

    /// One sample: each endpoint's served total and the TTL its answers carry now. The first
    /// sample of an endpoint only sets its baseline.
    public mutating func observe(_ samples: [(key: EndpointKey, total: UInt64, ttl: UInt32)], now: Int64) {
        for sample in samples {
            let before = lastTotals[sample.key]
            let ttlBefore = lastTTL[sample.key] ?? sample.ttl
            lastTotals[sample.key] = sample.total
            lastTTL[sample.key] = sample.ttl
            guard let before, sample.total != before else { continue }
            let ttl = max(ttlBefore, sample.ttl)
            record(sample.key, Seen(lastAnsweredAt: now, maxTTL: ttl, cachedUntil: now + Int64(ttl) * 1000))
        }
    }

    /// What another server saw: kept where it is later or reaches further.
    public mutating func merge(_ key: EndpointKey, _ other: Seen) {
        record(key, other)
    }

    private mutating func record(_ key: EndpointKey, _ other: Seen) {
        guard let mine = seen[key] else {
            seen[key] = other
            return
        }
        seen[key] = Seen(lastAnsweredAt: max(mine.lastAnsweredAt, other.lastAnsweredAt), maxTTL: max(mine.maxTTL, other.maxTTL),
                         cachedUntil: max(mine.cachedUntil, other.cachedUntil))
    }

    /// Where `key` stands at `now`.
    public func state(_ key: EndpointKey, now: Int64) -> State {
        guard let seen = seen[key] else { return .notSeen(since: since) }
        return now < seen.cachedUntil ? .inCaches(until: seen.cachedUntil) : .drained(since: seen.cachedUntil)
    }

    /// `drained since 2026-12-07T10:00:00Z`, `in caches until …`, `not answered since …`;
    /// cache horizons rounded up to the second, so "until" is never early.
    public func text(_ key: EndpointKey, now: Int64) -> String {
        switch state(key, now: now) {
        case .inCaches(let until): "in caches until \(Timestamp.text((until + 999) / 1000))"
        case .drained(let since): "drained since \(Timestamp.text((since + 999) / 1000))"
        case .notSeen(let since): "not answered since \(Timestamp.text(since / 1000))"
        }
    }
}
