/// When each endpoint was last given out in an answer, and until when resolvers may still
/// hold it: what an operator waits for before releasing the old gateway. Fed with the served
/// counters by slot on the control clock; an endpoint counts as answered in a sample when its
/// counter moved since the one before, at the TTL in force then (the larger of the two
/// samples' TTLs, should a `ttl-shift=` window have opened or closed between them).
///
/// Kept by slot, in arrays, so a sample is one pass of integer compares: the control clock
/// feeds it five times a second whatever the number of weighted names. Cluster-wide, each
/// server's view is merged (`merge`): the latest answer and the furthest cache horizon.
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

        /// The later answer and the further horizon of the two.
        func merged(_ other: Seen) -> Seen {
            Seen(lastAnsweredAt: max(lastAnsweredAt, other.lastAnsweredAt), maxTTL: max(maxTTL, other.maxTTL),
                 cachedUntil: max(cachedUntil, other.cachedUntil))
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

    /// Unix milliseconds to seconds, rounded up (a cache horizon is never shown early), without
    /// overflow whatever the value.
    public static func secondsUp(_ ms: Int64) -> Int64 {
        ms / 1000 + (ms % 1000 > 0 ? 1 : 0)
    }

    /// When counting started (Unix ms).
    public let since: Int64
    /// By slot; nil where no answer was seen.
    private var seenBySlot: [Seen?] = []
    private var lastTotals: [UInt64] = []
    private var lastTTL: [UInt32] = []

    public init(since: Int64) {
        self.since = since
    }

    /// What is known of `slot`'s answers.
    public func seen(_ slot: Int) -> Seen? {
        slot >= 0 && slot < seenBySlot.count ? seenBySlot[slot] : nil
    }

    /// One sample: the served totals and the TTL answers carry now, both by slot. The first
    /// sample of a slot only sets its baseline. Calls `answered` with each slot answered since
    /// the sample before.
    public mutating func observe(totals: [UInt64], ttl: [UInt32], now: Int64, answered: (Int) -> Void = { _ in }) {
        let count = min(totals.count, ttl.count)
        if lastTotals.count < count {
            // New slots start from their first sample.
            lastTotals += totals[lastTotals.count..<count]
            lastTTL += ttl[lastTTL.count..<count]
            seenBySlot += [Seen?](repeating: nil, count: count - seenBySlot.count)
        }
        for slot in 0..<count where totals[slot] != lastTotals[slot] {
            let longest = max(lastTTL[slot], ttl[slot])
            lastTotals[slot] = totals[slot]
            record(slot, Seen(lastAnsweredAt: now, maxTTL: longest, cachedUntil: now + Int64(longest) * 1000))
            answered(slot)
        }
        for slot in 0..<count where ttl[slot] != lastTTL[slot] { lastTTL[slot] = ttl[slot] }
    }

    /// What another server saw of `slot`: kept where it is later or reaches further. Returns
    /// whether that changed anything.
    @discardableResult
    public mutating func merge(_ slot: Int, _ other: Seen) -> Bool {
        guard slot >= 0 else { return false }
        let before = seen(slot)
        record(slot, other)
        return seen(slot) != before
    }

    private mutating func record(_ slot: Int, _ other: Seen) {
        if seenBySlot.count <= slot { seenBySlot += [Seen?](repeating: nil, count: slot + 1 - seenBySlot.count) }
        seenBySlot[slot] = seenBySlot[slot].map { $0.merged(other) } ?? other
    }

    /// Where `slot` stands at `now`.
    public func state(_ slot: Int, now: Int64) -> State {
        guard let seen = seen(slot) else { return .notSeen(since: since) }
        return now < seen.cachedUntil ? .inCaches(until: seen.cachedUntil) : .drained(since: seen.cachedUntil)
    }

    /// `drained since 2026-12-07T10:00:00Z`, `in caches until …`, `not answered since …`;
    /// cache horizons rounded up to the second, so "until" is never early.
    public func text(_ slot: Int, now: Int64) -> String {
        switch state(slot, now: now) {
        case .inCaches(let until): "in caches until \(Timestamp.text(Self.secondsUp(until)))"
        case .drained(let since): "drained since \(Timestamp.text(Self.secondsUp(since)))"
        case .notSeen(let since): "not answered since \(Timestamp.text(since / 1000))"
        }
    }
}
