import Testing
import Traffic

/// The health state machine, fed sequences of probe results with an injected clock.
struct HealthStateTests {
    let policy = HealthPolicy(fall: 3, rise: 2, maxLatencyMs: 300)
    static let ok = ProbeResult.success(latencyMs: 20)
    static let refused = ProbeResult.failure(reason: "connect: ECONNREFUSED", latencyMs: nil)

    /// Feeds results one second apart; returns the transitions with the index that caused them.
    func run(_ results: [ProbeResult], from state: HealthState = HealthState()) -> (HealthState, [(Int, HealthState.Transition)]) {
        var state = state
        var transitions: [(Int, HealthState.Transition)] = []
        for (i, result) in results.enumerated() {
            if let t = state.record(result, at: Int64(i) * 1000, policy: policy) { transitions.append((i, t)) }
        }
        return (state, transitions)
    }

    @Test func unknownCountsAsUpAndTheFirstSuccessMakesItUpQuietly() {
        var state = HealthState()
        #expect(state.isUp)
        #expect(state.status == .unknown)
        #expect(state.record(Self.ok, at: 0, policy: policy) == nil)
        #expect(state.status == .up)
    }

    @Test func goesDownExactlyAtTheFallThreshold() {
        let (state, transitions) = run([Self.ok, Self.refused, Self.refused, Self.refused])
        #expect(transitions.count == 1)
        #expect(transitions.first?.0 == 3)
        #expect(transitions.first?.1 == .init(from: .up, to: .down, reason: "connect: ECONNREFUSED (3/3)"))
        #expect(!state.isUp)
        #expect(state.lastTransitionAt == 3000)
    }

    @Test func twoFailuresAreNotEnough() {
        let (state, transitions) = run([Self.refused, Self.refused, Self.ok, Self.refused, Self.refused])
        #expect(transitions.isEmpty)
        #expect(state.isUp)
    }

    @Test func failingFromTheStartGoesDownFromUnknown() {
        let (_, transitions) = run([Self.refused, Self.refused, Self.refused])
        #expect(transitions.map(\.1.from) == [.unknown])
    }

    @Test func comesBackExactlyAtTheRiseThreshold() {
        let down = run([Self.refused, Self.refused, Self.refused]).0
        let (state, transitions) = run([Self.ok, Self.ok], from: down)
        #expect(transitions.map(\.0) == [1])
        #expect(transitions.first?.1.to == .up)
        #expect(state.isUp)
    }

    @Test func flappingNeverReachesEitherThreshold() {
        let down = run([Self.refused, Self.refused, Self.refused]).0
        let (state, transitions) = run([Self.ok, Self.refused, Self.ok, Self.refused, Self.ok, Self.refused], from: down)
        #expect(transitions.isEmpty)
        #expect(!state.isUp)
        let up = run([Self.ok]).0
        let (stillUp, none) = run([Self.refused, Self.refused, Self.ok, Self.refused, Self.refused, Self.ok], from: up)
        #expect(none.isEmpty)
        #expect(stillUp.isUp)
    }

    @Test func slowSuccessIsAnAnomaly() {
        let slow = ProbeResult.success(latencyMs: 812)
        let (state, transitions) = run([slow, slow, slow])
        #expect(transitions.first?.1.reason == "latency 812ms > 300ms (3/3)")
        #expect(!state.isUp)
        #expect(HealthState.anomaly(.success(latencyMs: 300), policy: policy) == nil)
        #expect(HealthState.anomaly(.success(latencyMs: 301), policy: policy) == "latency 301ms > 300ms")
    }

    @Test func timeoutAndBadStatusAreAnomalies() {
        let (_, transitions) = run([.failure(reason: "timeout after 1000ms", latencyMs: 1000),
                                    .failure(reason: "status 503", latencyMs: 5),
                                    .failure(reason: "status 503", latencyMs: 5)])
        #expect(transitions.first?.1.reason == "status 503 (3/3)")
    }

    @Test func recoveryAfterALongOutage() {
        var results = [ProbeResult](repeating: Self.refused, count: 50)
        results += [Self.ok, Self.ok]
        let (state, transitions) = run(results)
        #expect(transitions.map(\.1.to) == [.down, .up])
        #expect(state.history.count == HealthState.historyLimit)
        #expect(state.consecutiveSuccesses == 2)
    }

    @Test(arguments: [
        ("new", UInt32(25), nil as Int64?, true),
        (nil as String?, UInt32(25), Int64(10_000 - 3599), true),
        (nil, UInt32(25), Int64(10_000 - 3601), false),
        (nil, UInt32(25), nil, false),
        ("new", UInt32(0), nil, false),
        ("old", UInt32(100), nil, false),
    ] as [(String?, UInt32, Int64?, Bool)])
    func rollbackOnlyForTheMigrationTarget(_ role: String?, _ weight: UInt32, _ raisedAt: Int64?, _ expected: Bool) {
        #expect(RollbackRule.shouldRollBack(role: role, weight: weight, raisedAt: raisedAt, now: 10_000) == expected)
    }
}
