import Testing
import Traffic

/// When an endpoint at weight 0 was last answered and when caches let go of it.
struct DrainWatchTests {
    static let old = EndpointKey(name: NameKey("api.example.com"), id: "old")
    static let new = EndpointKey(name: NameKey("api.example.com"), id: "new")

    @Test func anEndpointStaysInCachesForItsTTLAfterTheLastAnswer() {
        var watch = DrainWatch(since: 0)
        watch.observe([(Self.old, 10, 30), (Self.new, 0, 30)], now: 1_000)
        #expect(watch.state(Self.old, now: 1_000) == .notSeen(since: 0), "the first sample is only a baseline")
        watch.observe([(Self.old, 15, 30), (Self.new, 4, 30)], now: 2_000)
        watch.observe([(Self.old, 15, 30), (Self.new, 9, 30)], now: 3_000)
        #expect(watch.seen[Self.old] == .init(lastAnsweredAt: 2_000, maxTTL: 30, cachedUntil: 32_000))
        #expect(watch.state(Self.old, now: 31_999) == .inCaches(until: 32_000))
        #expect(watch.state(Self.old, now: 32_000) == .drained(since: 32_000))
        #expect(watch.text(Self.old, now: 40_000) == "drained since 1970-01-01T00:00:32Z")
        #expect(watch.text(Self.new, now: 4_000) == "in caches until 1970-01-01T00:00:33Z")
    }

    @Test func theLongestTTLCountsWhenAShiftWindowShortensIt() {
        var watch = DrainWatch(since: 0)
        watch.observe([(Self.old, 0, 3_600)], now: 0)
        watch.observe([(Self.old, 5, 3_600)], now: 1_000)
        // The ttl-shift window opens: answers now carry 30 s, but the hour-long ones are cached.
        watch.observe([(Self.old, 6, 30)], now: 2_000)
        watch.observe([(Self.old, 7, 30)], now: 3_000)
        #expect(watch.seen[Self.old]?.maxTTL == 3_600)
        // Answers between the samples at 1 s and 2 s may have carried the hour: 2 s + 1 h.
        #expect(watch.state(Self.old, now: 100_000) == .inCaches(until: 3_602_000))
    }

    @Test func anotherServersLaterAnswerWins() {
        var watch = DrainWatch(since: 0)
        watch.observe([(Self.old, 0, 30)], now: 0)
        watch.observe([(Self.old, 1, 30)], now: 1_000)
        watch.merge(Self.old, .init(lastAnsweredAt: 9_000, maxTTL: 30, cachedUntil: 39_000))
        watch.merge(Self.old, .init(lastAnsweredAt: 500, maxTTL: 60, cachedUntil: 30_500))
        #expect(watch.seen[Self.old] == .init(lastAnsweredAt: 9_000, maxTTL: 60, cachedUntil: 39_000))
    }
}
