import Testing
import Traffic

/// The live page's history with a scripted clock: the ring's bound and wrap-around, a point
/// per interval with the observed share from the served counters, the markers for rollout
/// steps, pauses, rollbacks, health, drains and fail-open, and the chart's merged points.
struct HistoryTests {
    static let key = NameKey("api.example.com")

    /// An observation of `api.example.com.` with `old` and `new` at `newShare` percent.
    static func observation(newShare: Double, served: (old: UInt64, new: UInt64) = (0, 0), health: EndpointHealth = .up,
                            newHealth: EndpointHealth? = nil, failOpen: Bool = false, latency: Int? = 5,
                            rollout: Rollout? = nil) -> HistoryObservation {
        let new = UInt32(newShare.rounded())
        return HistoryObservation(name: key, endpoints: [
            .init(id: "old", configured: 100 - new, configuredShare: 100 - newShare, effectiveShare: 100 - newShare,
                  served: served.old, latencyMs: latency, health: health),
            .init(id: "new", configured: new, configuredShare: newShare, effectiveShare: newShare,
                  served: served.new, latencyMs: latency, health: newHealth ?? health),
        ], failOpen: failOpen, rollout: rollout)
    }

    static func rollout(at now: Moment = 0) throws -> Rollout {
        try Rollout(name: "api.example.com", target: "new", steps: [1_000, 5_000, 10_000], bakeMs: 1_000,
                    baseline: [.init(id: "old", weight: 100), .init(id: "new", weight: 0)], now: now)
    }

    @Test func aPointEveryIntervalWithTheObservedShareOfThatInterval() throws {
        var history = History()
        history.observe([Self.observation(newShare: 25, served: (0, 0))], now: 0)
        // Ticks between points add nothing.
        history.observe([Self.observation(newShare: 25, served: (10, 10))], now: 5_000)
        history.observe([Self.observation(newShare: 25, served: (75, 25))], now: Moment(History.interval))
        history.observe([Self.observation(newShare: 25, served: (75, 25))], now: Moment(2 * History.interval))
        let name = try #require(history.names[Self.key])
        #expect(name.endpoints == ["old", "new"])
        #expect(name.count == 3)
        let points = name.points
        #expect(points.map(\.at) == [0, History.interval, 2 * History.interval])
        // The first point has no interval behind it, the last had no answers.
        #expect(points[0].values.map(\.observed) == [HistoryValue.none, HistoryValue.none])
        #expect(points[1].values.map(\.observed) == [7_500, 2_500])
        #expect(points[2].values.map(\.observed) == [HistoryValue.none, HistoryValue.none])
        #expect(points[1].values.map(\.configured) == [7_500, 2_500])
        #expect(points[1].values.map(\.latencyMs) == [5, 5])
    }

    @Test func theRingKeepsItsBoundAndDropsTheOldestPoints() throws {
        var history = History(capacity: 5)
        for i in 0..<12 {
            history.observe([Self.observation(newShare: Double(i))], now: Moment(Int64(i) * History.interval))
        }
        let name = try #require(history.names[Self.key])
        #expect(name.capacity == 5)
        #expect(name.count == 5)
        // Oldest first after wrapping around twice: points 7 to 11.
        #expect(name.points.map(\.at) == (7..<12).map { Int64($0) * History.interval })
        #expect(name.points.map { $0.values[1].configured } == [700, 800, 900, 1_000, 1_100])
    }

    @Test func theDefaultBoundIsADayOfTenSecondPoints() {
        #expect(History.interval == 10_000)
        #expect(NameHistory.capacity == 24 * 3_600 / 10)
        #expect(MemoryLayout<HistoryValue>.stride == 10)
    }

    @Test func eventRingKeepsItsBound() throws {
        var history = History(eventCapacity: 3)
        for i in 0..<10 {
            let health: EndpointHealth = i % 2 == 0 ? .up : .down
            history.observe([Self.observation(newShare: 50, health: .up, newHealth: health)], now: Moment(Int64(i) * 100))
        }
        let events = try #require(history.names[Self.key]).events
        #expect(events.count == 3)
        #expect(events.map(\.text) == ["new down", "new up", "new down"])
        #expect(events.map(\.at) == [700, 800, 900])
    }

    @Test func aShareThatMovesBetweenPointsAddsAPointAtOnce() throws {
        var history = History()
        history.observe([Self.observation(newShare: 0)], now: 0)
        history.observe([Self.observation(newShare: 0)], now: 200)
        history.observe([Self.observation(newShare: 10)], now: 400)
        let name = try #require(history.names[Self.key])
        #expect(name.points.map(\.at) == [0, 400])
        #expect(name.points[1].values[1].configured == 1_000)
        #expect(name.points[1].values[1].observed == HistoryValue.none)
    }

    @Test func rolloutStepsPausesAndRollbacksAreMarked() throws {
        var rollout = try Self.rollout()
        var history = History()
        history.observe([Self.observation(newShare: 0)], now: 0)
        history.observe([Self.observation(newShare: 10, rollout: rollout)], now: 200)
        try rollout.pause(reason: "by an operator", now: 400)
        history.observe([Self.observation(newShare: 10, rollout: rollout)], now: 400)
        _ = try rollout.resume(now: 600)
        history.observe([Self.observation(newShare: 10, rollout: rollout)], now: 600)
        #expect(rollout.probe(anomaly: nil, now: 800) == nil)
        _ = rollout.tick(now: 800)
        _ = rollout.tick(now: 2_000)
        #expect(rollout.step == 1)
        history.observe([Self.observation(newShare: 50, rollout: rollout)], now: 2_000)
        _ = try rollout.abort(reason: "by an operator", now: 2_200)
        history.observe([Self.observation(newShare: 0, rollout: rollout)], now: 2_200)
        let events = try #require(history.names[Self.key]).events
        #expect(events.map(\.kind) == [.start, .pause, .resume, .step, .rollback, .drain])
        #expect(events.first?.text == "rollout to new started: steps 10%,50%,100%, step 1/3 10%")
        #expect(events[3].text == "step 2/3 50%")
        #expect(events.allSatisfy { $0.kind == .drain ? $0.endpoint == "new" : true })
    }

    @Test func aRolloutSeenFirstAfterARestartIsMarkedFromItsStart() throws {
        var rollout = try Self.rollout(at: Moment(monotonic: 0, wall: 1_000))
        #expect(rollout.probe(anomaly: nil, now: 100) == nil)
        _ = rollout.tick(now: 100)
        _ = rollout.tick(now: 1_200)
        var history = History()
        history.observe([Self.observation(newShare: 50, rollout: rollout)], now: Moment(monotonic: 0, wall: 9_000))
        let events = try #require(history.names[Self.key]).events
        #expect(events.map(\.kind) == [.start, .step])
        #expect(events.map(\.at) == [1_000, 9_000])
    }

    @Test func healthFailOpenAndManualWeightsAreMarked() throws {
        var history = History()
        history.observe([Self.observation(newShare: 50)], now: 0)
        history.observe([Self.observation(newShare: 50, health: .down, failOpen: true)], now: 200)
        history.observe([Self.observation(newShare: 50, health: .up)], now: 400)
        history.observe([Self.observation(newShare: 25)], now: 600)
        let events = try #require(history.names[Self.key]).events
        #expect(events.map(\.kind) == [.health, .health, .failOpen, .health, .health, .failOpen, .weights])
        #expect(events.map(\.text) == ["old down", "new down", "every endpoint down: failing open, answering by configured weights",
                                       "old up", "new up", "fail-open over", "weights old 75%, new 25%"])
    }

    @Test func aNameWhoseEndpointsChangeStartsAnewAndARemovedNameIsForgotten() throws {
        var history = History()
        history.observe([Self.observation(newShare: 50)], now: 0)
        var changed = Self.observation(newShare: 50)
        changed.endpoints[1].id = "newer"
        history.observe([changed], now: Moment(History.interval))
        let name = try #require(history.names[Self.key])
        #expect(name.endpoints == ["old", "newer"])
        #expect(name.count == 1)
        history.observe([], now: Moment(2 * History.interval))
        #expect(history.names.isEmpty)
    }

    @Test func theChartMergesRunsOfPoints() throws {
        var history = History()
        for i in 0..<10 {
            let served = (old: UInt64(i * 10), new: UInt64(i * 10))
            history.observe([Self.observation(newShare: i < 6 ? 10 : 50, served: served, newHealth: i == 2 ? .down : .up,
                                              latency: i)], now: Moment(Int64(i) * History.interval))
        }
        let name = try #require(history.names[Self.key])
        #expect(name.points(atMost: 10).count == 10)
        let merged = name.points(atMost: 4)
        // Runs of 3: [0,1,2] [3,4,5] [6,7,8] [9].
        #expect(merged.count == 4)
        #expect(merged.map(\.at) == [2, 5, 8, 9].map { Int64($0) * History.interval })
        #expect(merged.map { $0.values[1].configured } == [1_000, 1_000, 5_000, 5_000])
        #expect(merged[0].values[1].health == .down)
        #expect(merged[1].values[1].health == .up)
        #expect(merged.map { $0.values[0].latencyMs } == [2, 5, 8, 9])
        #expect(merged[0].values[0].observed == 5_000)
    }
}
