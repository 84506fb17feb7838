import Testing
import Traffic

/// When an endpoint at weight 0 was last answered and when caches let go of it.
struct DrainWatchTests {
    static let old = 0
    static let new = 1

    @Test func anEndpointStaysInCachesForItsTTLAfterTheLastAnswer() {
        var watch = DrainWatch(since: 0)
        var answered: [Int] = []
        watch.observe(totals: [10, 0], ttl: [30, 30], now: 1_000) { answered.append($0) }
        #expect(watch.state(Self.old, now: 1_000) == .notSeen(since: 0), "the first sample is only a baseline")
        watch.observe(totals: [15, 4], ttl: [30, 30], now: 2_000) { answered.append($0) }
        watch.observe(totals: [15, 9], ttl: [30, 30], now: 3_000) { answered.append($0) }
        #expect(answered == [0, 1, 1])
        #expect(watch.seen(Self.old) == .init(lastAnsweredAt: 2_000, maxTTL: 30, cachedUntil: 32_000))
        #expect(watch.state(Self.old, now: 31_999) == .inCaches(until: 32_000))
        #expect(watch.state(Self.old, now: 32_000) == .drained(since: 32_000))
        #expect(watch.text(Self.old, now: 40_000) == "drained since 1970-01-01T00:00:32Z")
        #expect(watch.text(Self.new, now: 4_000) == "in caches until 1970-01-01T00:00:33Z")
    }

    @Test func theLongestTTLCountsWhenAShiftWindowShortensIt() {
        var watch = DrainWatch(since: 0)
        watch.observe(totals: [0], ttl: [3_600], now: 0)
        watch.observe(totals: [5], ttl: [3_600], now: 1_000)
        // The ttl-shift window opens: answers now carry 30 s, but the hour-long ones are cached.
        watch.observe(totals: [6], ttl: [30], now: 2_000)
        watch.observe(totals: [7], ttl: [30], now: 3_000)
        #expect(watch.seen(Self.old)?.maxTTL == 3_600)
        // Answers between the samples at 1 s and 2 s may have carried the hour: 2 s + 1 h.
        #expect(watch.state(Self.old, now: 100_000) == .inCaches(until: 3_602_000))
    }

    @Test func slotsAddedByAReloadStartFromTheirFirstSample() {
        var watch = DrainWatch(since: 0)
        watch.observe(totals: [1], ttl: [30], now: 0)
        watch.observe(totals: [1, 50], ttl: [30, 30], now: 1_000)
        #expect(watch.seen(Self.new) == nil, "a new slot's first total is its baseline, not an answer")
        watch.observe(totals: [1, 51], ttl: [30, 30], now: 2_000)
        #expect(watch.seen(Self.new)?.lastAnsweredAt == 2_000)
    }

    @Test func anotherServersLaterAnswerWins() {
        var watch = DrainWatch(since: 0)
        watch.observe(totals: [0], ttl: [30], now: 0)
        watch.observe(totals: [1], ttl: [30], now: 1_000)
        let later = watch.merge(Self.old, .init(lastAnsweredAt: 9_000, maxTTL: 30, cachedUntil: 39_000))
        let longer = watch.merge(Self.old, .init(lastAnsweredAt: 500, maxTTL: 60, cachedUntil: 30_500))
        let older = watch.merge(Self.old, .init(lastAnsweredAt: 500, maxTTL: 10, cachedUntil: 10_500))
        #expect(later && longer)
        #expect(!older, "nothing new")
        #expect(watch.seen(Self.old) == .init(lastAnsweredAt: 9_000, maxTTL: 60, cachedUntil: 39_000))
    }

    @Test func secondsRoundUpWithoutOverflow() {
        #expect(DrainWatch.secondsUp(32_000) == 32)
        #expect(DrainWatch.secondsUp(32_001) == 33)
        #expect(DrainWatch.secondsUp(.max) == Int64.max / 1000 + 1)
    }
}
