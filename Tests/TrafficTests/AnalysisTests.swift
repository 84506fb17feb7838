import Testing
import Traffic

/// The judgment of one measurement, as a value: the three outcomes, the baseline, sparse
/// data, NaN, empty results and an unreachable Prometheus.
struct AnalysisJudgmentTests {
    static let rule = AnalysisRule(max: 0.01, maxIncrease: 1.5, minRequests: 100, failureLimit: 2)

    static func measure(_ value: PrometheusReading, requests: PrometheusReading = .value(1_834),
                        baseline: [(String, PrometheusReading, PrometheusReading)] = [("old", .value(0.003), .value(90_000))]) -> AnalysisMeasurement {
        AnalysisMeasurement(endpoint: "new", value: value, requests: requests,
                            baseline: baseline.map { AnalysisMeasurement.Baseline(endpoint: $0.0, value: $0.1, requests: $0.2) })
    }

    func judge(_ measurement: AnalysisMeasurement, _ rule: AnalysisRule = Self.rule) -> AnalysisResult {
        rule.judge(measurement, analysis: "errors", at: 5_000)
    }

    @Test func cleanTrafficPasses() {
        let result = judge(Self.measure(.value(0.004)))
        #expect(result.verdict == .pass)
        #expect(result.value == 0.004)
        #expect(result.baseline == 0.003)
        #expect(result.requests == 1_834)
        #expect(result.text == "analysis errors: new 0.004 vs old 0.003 (max 0.01, max-increase 1.5), 1,834 requests")
    }

    @Test func aBrokenMaxFailsWithBothValuesInTheText() {
        let result = judge(Self.measure(.value(0.042)))
        #expect(result.verdict == .fail)
        #expect(result.text == "analysis errors: new 0.042 vs old 0.003 (max 0.01, max-increase 1.5), 1,834 requests: above max 0.01")
    }

    @Test func aBrokenMinFails() {
        let rule = AnalysisRule(min: 0.99, minRequests: 10)
        #expect(judge(Self.measure(.value(0.95)), rule).verdict == .fail)
        #expect(judge(Self.measure(.value(0.995)), rule).verdict == .pass)
    }

    @Test func anIncreaseOverTheBaselineFails() {
        // p99 latency: 0.3 s against 0.1 s is 3×, over max-increase 1.5.
        let rule = AnalysisRule(maxIncrease: 1.5, minRequests: 100)
        let result = judge(Self.measure(.value(0.3), baseline: [("old", .value(0.1), .value(5_000))]), rule)
        #expect(result.verdict == .fail)
        #expect(result.text.hasSuffix("above 1.5× the baseline"))
        #expect(judge(Self.measure(.value(0.14), baseline: [("old", .value(0.1), .value(5_000))]), rule).verdict == .pass)
    }

    @Test func bothSidesEquallyBadIsNotTheNewGatewaysFault() {
        let rule = AnalysisRule(maxIncrease: 1.5, minRequests: 100)
        let result = judge(Self.measure(.value(0.02), baseline: [("old", .value(0.02), .value(50_000))]), rule)
        #expect(result.verdict == .pass)
    }

    @Test func oneUnluckyRequestAgainstACleanBaselineIsNoFailure() {
        let rule = AnalysisRule(maxIncrease: 1.5, minRequests: 100)
        // One 5xx in 200 requests against an old gateway at exactly 0.
        #expect(judge(Self.measure(.value(1.0 / 200), requests: .value(200), baseline: [("old", .value(0), .value(20_000))]), rule).verdict == .pass)
        // Ten of them is a failure.
        #expect(judge(Self.measure(.value(10.0 / 200), requests: .value(200), baseline: [("old", .value(0), .value(20_000))]), rule).verdict == .fail)
    }

    @Test func severalBaselineEndpointsAreWeightedByTheirRequests() {
        let rule = AnalysisRule(maxIncrease: 2, minRequests: 1)
        // (0.01 × 1000 + 0.04 × 3000) / 4000 = 0.0325
        let result = judge(Self.measure(.value(0.05), baseline: [("a", .value(0.01), .value(1_000)), ("b", .value(0.04), .value(3_000))]), rule)
        #expect(result.baseline == 0.0325)
        #expect(result.verdict == .pass)
        #expect(result.text.contains("vs a+b 0.0325"))
        // Without request counts, a baseline endpoint does not count.
        let unknown = judge(Self.measure(.value(0.05), baseline: [("a", .value(0.01), .noData), ("b", .value(0.04), .value(3_000))]), rule)
        #expect(unknown.baseline == 0.04)
    }

    /// A sparse baseline judges no more than a sparse judged side: at a 95% step the old
    /// gateway's 40 requests with no error say nothing about its error rate.
    @Test func aBaselineWithTooFewRequestsIsLeftOut() {
        let rule = AnalysisRule(maxIncrease: 1.5, minRequests: 100)
        let result = judge(Self.measure(.value(0.002), requests: .value(1_000), baseline: [("old", .value(0), .value(40))]), rule)
        #expect(result.verdict == .inconclusive, "no baseline with enough requests: max-increase alone cannot judge")
        #expect(result.baseline == nil)
    }

    /// At a 100% step the old gateway has no traffic left: the last baseline of the rollout
    /// stands in, so a rule of max-increase alone can still complete it.
    @Test func theLastBaselineStandsInWhenTheOldSideHasNoTrafficLeft() {
        let rule = AnalysisRule(maxIncrease: 1.5, minRequests: 100)
        let measurement = Self.measure(.value(0.0011), requests: .value(5_000), baseline: [("old", .value(.nan), .value(0))])
        #expect(judge(measurement, rule).verdict == .inconclusive)
        let result = rule.judge(measurement, analysis: "errors", at: 0, fallback: 0.001)
        #expect(result.verdict == .pass)
        #expect(result.text.contains("vs the last baseline 0.001"))
        let failing = Self.measure(.value(0.01), requests: .value(5_000), baseline: [("old", .noData, .noData)])
        #expect(rule.judge(failing, analysis: "errors", at: 0, fallback: 0.001).verdict == .fail)
    }

    @Test func tooFewRequestsIsInconclusiveEvenWhenTheValueIsBad() {
        let result = judge(Self.measure(.value(0.5), requests: .value(12)))
        #expect(result.verdict == .inconclusive)
        #expect(result.text.hasSuffix("12 requests: fewer than min-requests 100"))
    }

    @Test(arguments: [
        (PrometheusReading.noData, PrometheusReading.value(1_000), "no verdict: no data for new, 1,000 requests"),
        (.value(.nan), .value(1_000), "no verdict: new NaN, 1,000 requests"),
        (.value(0.5), .noData, "no verdict: no request data for new"),
        (.value(0.5), .value(.nan), "no verdict: request count NaN for new"),
        (.failed("prometheus http://127.0.0.1:9: connect: ECONNREFUSED"), .value(1_000),
         "no verdict: prometheus http://127.0.0.1:9: connect: ECONNREFUSED"),
        (.value(0.5), .failed("prometheus http://127.0.0.1:9: HTTP 503"), "no verdict: prometheus http://127.0.0.1:9: HTTP 503"),
    ])
    func missingDataIsInconclusive(value: PrometheusReading, requests: PrometheusReading, text: String) {
        let result = judge(Self.measure(value, requests: requests))
        #expect(result.verdict == .inconclusive)
        #expect(result.text == "analysis errors: " + text)
    }

    @Test func aMissingBaselineCannotPassARelativeRuleAlone() {
        let relative = AnalysisRule(maxIncrease: 1.5, minRequests: 100)
        #expect(judge(Self.measure(.value(0.001), baseline: [("old", .noData, .noData)]), relative).verdict == .inconclusive)
        #expect(judge(Self.measure(.value(0.001), baseline: []), relative).verdict == .inconclusive)
        // With an absolute bound as well, the absolute bound judges.
        #expect(judge(Self.measure(.value(0.001), baseline: [("old", .value(.nan), .value(10))])).verdict == .pass)
        #expect(judge(Self.measure(.value(0.02), baseline: [])).verdict == .fail)
    }

    @Test func numbersReadAsPeopleWriteThem() {
        #expect(AnalysisRule.number(0.042) == "0.042")
        #expect(AnalysisRule.number(1.0 / 3) == "0.3333")
        #expect(AnalysisRule.number(1_834) == "1834")
        #expect(AnalysisRule.number(5_999.999_7) == "6000")
        #expect(AnalysisRule.number(999.98) == "1000", "rounded to a whole number, written without a fraction")
        #expect(AnalysisRule.number(.nan) == "NaN")
        #expect(AnalysisRule.count(1_834) == "1,834")
        #expect(AnalysisRule.count(1_234_567.4) == "1,234,567")
        #expect(AnalysisRule.count(12) == "12")
    }
}

/// Verdicts in a row: `failure-limit` rolls back, `inconclusive-limit` pauses, a step is
/// promoted only after its bake, a clean probe and a passing analysis.
struct AnalysisRolloutTests {
    static let rule = AnalysisRule(max: 0.01, minRequests: 100, failureLimit: 2, inconclusiveLimit: 3)
    static let baseline = [WeightStore.Endpoint(id: "old", weight: 100), WeightStore.Endpoint(id: "new", weight: 0)]

    func plan() throws -> Rollout {
        try Rollout(name: "api.example.com", target: "new", steps: [100, 10_000], bakeMs: 10_000, baseline: Self.baseline,
                    analyses: ["errors"], now: 0)
    }

    static func result(_ verdict: AnalysisVerdict, at: Int64 = 0) -> AnalysisResult {
        AnalysisResult(analysis: "errors", endpoint: "new", verdict: verdict, value: 0.05, baseline: 0.001, requests: 500,
                       at: at, text: "analysis errors: \(verdict)")
    }

    @Test func aStepWaitsForAPassingAnalysisAfterItsBake() throws {
        var rollout = try plan()
        _ = rollout.probe(anomaly: nil, now: 1_000)
        #expect(rollout.tick(now: 10_000) == nil, "baked and probed clean, but no analysis verdict yet")
        #expect(rollout.analyzed(Self.result(.inconclusive), rule: Self.rule, now: 11_000) == nil)
        #expect(rollout.tick(now: 12_000) == nil, "inconclusive holds the step")
        #expect(rollout.analyzed(Self.result(.pass), rule: Self.rule, now: 13_000) == nil)
        #expect(rollout.tick(now: 14_000) == .apply(step: 1, basisPoints: 10_000))
        // The next step needs a pass of its own.
        _ = rollout.probe(anomaly: nil, now: 15_000)
        #expect(rollout.tick(now: 30_000) == nil)
        _ = rollout.analyzed(Self.result(.pass), rule: Self.rule, now: 31_000)
        #expect(rollout.tick(now: 31_000) == .complete)
    }

    @Test func failureLimitFailuresInARowRollBack() throws {
        var rollout = try plan()
        #expect(rollout.analyzed(Self.result(.fail), rule: Self.rule, now: 1_000) == nil, "one failure is not enough")
        #expect(rollout.analyzed(Self.result(.inconclusive), rule: Self.rule, now: 2_000) == nil, "inconclusive neither counts nor resets")
        guard case .rollBack(let reason)? = rollout.analyzed(Self.result(.fail), rule: Self.rule, now: 3_000) else {
            Issue.record("the second failure in a row rolls back")
            return
        }
        #expect(reason == "analysis errors: fail (2 failures in a row at step 1/2 (1%))")
        #expect(rollout.phase == .aborted)
    }

    @Test func aPassBetweenFailuresStartsTheCountAgain() throws {
        var rollout = try plan()
        _ = rollout.analyzed(Self.result(.fail), rule: Self.rule, now: 1_000)
        _ = rollout.analyzed(Self.result(.pass), rule: Self.rule, now: 2_000)
        #expect(rollout.analyzed(Self.result(.fail), rule: Self.rule, now: 3_000) == nil)
        #expect(rollout.phase == .baking)
    }

    @Test func inconclusiveResultsPauseAndNeverRollBack() throws {
        var rollout = try plan()
        for at in [1_000, 2_000] as [Int64] {
            #expect(rollout.analyzed(Self.result(.inconclusive), rule: Self.rule, now: Moment(at)) == nil)
        }
        guard case .hold(let reason)? = rollout.analyzed(Self.result(.inconclusive), rule: Self.rule, now: 3_000) else {
            Issue.record("the third inconclusive result in a row pauses")
            return
        }
        #expect(reason.hasPrefix("paused: analysis errors inconclusive 3 times in a row at step 1/2 (1%)"))
        #expect(rollout.phase == .paused)
        #expect(rollout.note == reason)
        // Resuming gives the analysis a whole limit again.
        _ = try rollout.resume(now: 4_000)
        #expect(rollout.analyzed(Self.result(.inconclusive), rule: Self.rule, now: 5_000) == nil)
        #expect(rollout.phase == .baking)
    }

    @Test func verdictsAreSavedWithTheRollout() throws {
        var rollout = try plan()
        _ = rollout.analyzed(Self.result(.fail, at: 7_000), rule: Self.rule, now: 7_000)
        let tally = try #require(rollout.analyses["errors"])
        #expect(tally.failures == 1)
        #expect(tally.last?.at == 7_000)
        // Analyses not attached to the target are ignored.
        let other = AnalysisResult(analysis: "latency", endpoint: "new", verdict: .fail, value: nil, baseline: nil,
                                   requests: nil, at: 0, text: "")
        #expect(rollout.analyzed(other, rule: Self.rule, now: 8_000) == nil)
        #expect(rollout.analyses.keys.sorted() == ["errors"])
    }
}

/// The plane runs analyses on its clock and acts on their verdicts.
struct AnalysisPlaneTests {
    static let analysis = AnalysisConfig(
        name: "errors", host: "127.0.0.1", port: 9090, intervalMs: 10_000, timeoutMs: 2_000,
        query: "rate(errors{gateway=\"{{endpoint}}\"}[1m])", requests: "increase(requests{gateway=\"{{endpoint}}\"}[1m])",
        rule: AnalysisRule(max: 0.01, maxIncrease: 1.5, minRequests: 100, failureLimit: 2, inconclusiveLimit: 3))
    static let config = [
        WeightedNameConfig(key: Driver.api, endpoints: [
            EndpointConfig(id: "old", slot: 0, zoneWeight: 100, role: "old", check: "gw", analyses: ["errors"]),
            EndpointConfig(id: "new", slot: 1, zoneWeight: 0, check: "gw", analyses: ["errors"]),
        ], ttlShift: 5, analyses: [analysis]),
    ]

    static func answer(_ request: AnalysisRequest, value: Double, requests: Double = 500, old: Double = 0.001) -> ControlPlane.Event {
        .analyzed(request, AnalysisMeasurement(endpoint: request.endpoint, value: .value(value), requests: .value(requests),
                                               baseline: [.init(endpoint: "old", value: .value(old), requests: .value(50_000))]))
    }

    static func rolling() -> Driver {
        var driver = Driver(config: config)
        #expect(driver.command("rollout start api.example.com --to new --steps 1,100 --bake 10s", at: 0)?.hasPrefix("ok") == true)
        driver.send(Driver.probe(1, nil, .up), at: 500)
        return driver
    }

    @Test func theLeaderAsksOncePerIntervalForTheTargetAgainstTheBaseline() throws {
        var driver = Self.rolling()
        driver.send(.tick, at: 1_000)
        driver.send(.tick, at: 2_000)
        #expect(driver.analyses.count == 1, "one request in flight at a time")
        let request = try #require(driver.analyses.first)
        #expect(request.endpoint == "new")
        #expect(request.judged.value == "rate(errors{gateway=\"new\"}[1m])")
        #expect(request.baseline.map(\.endpoint) == ["old"])
        #expect(request.baseline.first?.requests == "increase(requests{gateway=\"old\"}[1m])")
        driver.send(Self.answer(request, value: 0.001), at: 3_000)
        driver.send(.tick, at: 5_000)
        #expect(driver.analyses.count == 1, "not due before the interval")
        driver.send(.tick, at: 11_000)
        #expect(driver.analyses.count == 2)
    }

    @Test func aFollowerAsksNothing() {
        var driver = Self.rolling()
        driver.send(.leadership(false), at: 600)
        driver.send(.tick, at: 1_000)
        #expect(driver.analyses.isEmpty)
    }

    @Test func failingTrafficRollsTheRolloutBackWithTheValuesInTheAuditLog() throws {
        var driver = Self.rolling()
        driver.send(.tick, at: 1_000)
        driver.send(Self.answer(driver.analyses[0], value: 0.05), at: 1_100)
        #expect(driver.weights() == [99, 1], "one failure holds the step")
        driver.send(.tick, at: 11_000)
        driver.send(Self.answer(driver.analyses[1], value: 0.05), at: 11_100)
        #expect(driver.weights() == [100, 0])
        #expect(driver.plane.rollouts[Driver.api]?.phase == .aborted)
        let line = try #require(driver.audit.first { $0.text.contains("aborted") })
        #expect(line.reason.contains("new 0.05 vs old 0.001 (max 0.01, max-increase 1.5), 500 requests"))
        #expect(driver.audit.contains { $0.text == "new 1 -> 0" })
    }

    @Test func cleanTrafficPromotesOnlyAfterAPass() {
        var driver = Self.rolling()
        driver.send(.tick, at: 1_000)
        driver.send(Self.answer(driver.analyses[0], value: 0.001, requests: 10), at: 1_100)
        driver.send(.tick, at: 10_500)
        #expect(driver.weights() == [99, 1], "baked and probed, but only an inconclusive verdict")
        driver.send(.tick, at: 11_000)
        driver.send(Self.answer(driver.analyses[1], value: 0.001), at: 11_100)
        driver.send(.tick, at: 11_200)
        #expect(driver.weights() == [0, 100])
        // The verdict was saved with the rollout.
        #expect(driver.saved?.rollouts.first?.analyses["errors"]?.last?.verdict == .pass)
    }

    @Test func noTrafficHoldsThenPausesWithANote() {
        var driver = Self.rolling()
        for (index, at) in ([1_000, 11_000, 21_000] as [Int64]).enumerated() {
            driver.send(.tick, at: Moment(at))
            driver.send(Self.answer(driver.analyses[index], value: .nan, requests: 0), at: Moment(at + 100))
        }
        let rollout = driver.plane.rollouts[Driver.api]
        #expect(rollout?.phase == .paused)
        #expect(rollout?.note?.contains("inconclusive 3 times in a row") == true)
        #expect(driver.weights() == [99, 1], "never rolled back on sparse data")
        #expect(driver.audit.contains { $0.text == "rollout to new paused at step 1/2" })
    }

    @Test func outsideARolloutARaisedEndpointIsRolledBackOnFailingTraffic() {
        var driver = Driver(config: Self.config)
        #expect(driver.command("shift api.example.com new 10%", at: 0)?.hasPrefix("ok") == true)
        driver.send(.tick, at: 1_000)
        #expect(driver.analyses.map(\.endpoint) == ["new"], "the raised endpoint is watched, the old one is not")
        driver.send(Self.answer(driver.analyses[0], value: 0.2), at: 1_100)
        driver.send(.tick, at: 11_000)
        driver.send(Self.answer(driver.analyses[1], value: 0.2), at: 11_100)
        #expect(driver.weights() == [90, 0])
        #expect(driver.audit.last?.reason.hasPrefix("rollback api.example.com. new 10 -> 0: analysis errors: new 0.2 vs old 0.001") == true)
    }

    @Test func aDrainedEndpointIsWatchedForTheTrafficStillReachingIt() throws {
        let analysis = AnalysisConfig(name: "errors", host: "127.0.0.1", port: 9090, intervalMs: 10_000, timeoutMs: 2_000,
                                      query: "q{g=\"{{endpoint}}\"}", requests: "r{g=\"{{endpoint}}\"}",
                                      traffic: "rate(r{g=\"{{endpoint}}\"}[5m])", rule: AnalysisRule(max: 0.01))
        let config = [WeightedNameConfig(key: Driver.api, endpoints: [
            EndpointConfig(id: "old", slot: 0, zoneWeight: 100, analyses: ["errors"], ttl: 30),
            EndpointConfig(id: "new", slot: 1, zoneWeight: 0, analyses: ["errors"], ttl: 30),
        ], analyses: [analysis])]
        var driver = Driver(config: config)
        driver.send(.served([0, 0]), at: 100)
        driver.send(.served([5, 0]), at: 300)
        driver.send(.tick, at: 400)
        #expect(driver.analyses.isEmpty, "old has weight: not drained, and not raised")
        let revision = driver.plane.drainRevision
        #expect(driver.command("shift api.example.com new 100%", at: 500)?.hasPrefix("ok") == true)
        #expect(driver.plane.drainRevision > revision, "old set to 0: the shared store hears what this server saw of it")
        let generation = driver.plane.generation
        driver.send(.served([6, 1]), at: 700)
        #expect(driver.plane.generation == generation + 1, "a drained endpoint's answer is published for the TXT records")
        #expect(driver.plane.drained[EndpointKey(name: Driver.api, id: "old")]?.cachedUntil == 30_700)
        driver.send(.tick, at: 800)
        let request = try #require(driver.analyses.first { $0.trafficOnly })
        #expect(request.endpoint == "old")
        #expect(request.judged.traffic == "rate(r{g=\"old\"}[5m])")
        driver.send(.analyzed(request, AnalysisMeasurement(endpoint: "old", value: .noData, requests: .noData, traffic: .value(0.4))), at: 900)
        #expect(driver.plane.drainTraffic[EndpointKey(name: Driver.api, id: "old")]?.reading == .value(0.4))
        #expect(driver.plane.rollouts.isEmpty && driver.weights() == [0, 100], "watching traffic judges nothing")
    }

    @Test func aVerdictAskedInTheStepBeforeAPromotionDoesNotCountForTheNext() throws {
        var driver = Self.rolling()
        driver.send(.tick, at: 500)
        driver.send(Self.answer(driver.analyses[0], value: 0.001), at: 600)
        // At 10.5 s a run is due and the bake ends in the same tick: asked in step 1, then
        // promoted.
        driver.send(.tick, at: 10_500)
        #expect(driver.weights() == [0, 100], "promoted on the pass of step 1")
        let early = try #require(driver.analyses.last)
        #expect(early.step == 0, "asked before the promotion")
        driver.send(Self.answer(early, value: 0.001), at: 10_600)
        #expect(driver.plane.rollouts[Driver.api]?.analyses["errors"]?.passedInStep == false,
                "a pass asked in step 1 says nothing of step 2")
        driver.send(.tick, at: 20_500)
        let asked = try #require(driver.analyses.last)
        #expect(asked.step == 1)
        driver.send(Self.answer(asked, value: 0.001), at: 20_600)
        #expect(driver.plane.rollouts[Driver.api]?.analyses["errors"]?.passedInStep == true)
    }

    @Test func anEarlierRaisesFailuresDoNotRollBackTheNextOne() {
        var driver = Driver(config: Self.config)
        #expect(driver.command("shift api.example.com new 10%", at: 0)?.hasPrefix("ok") == true)
        driver.send(.tick, at: 1_000)
        driver.send(Self.answer(driver.analyses[0], value: 0.2), at: 1_100)
        driver.send(.tick, at: 11_000)
        driver.send(Self.answer(driver.analyses[1], value: 0.2), at: 11_100)
        #expect(driver.weights() == [90, 0], "rolled back after two failures")
        driver.send(.tick, at: 12_000)
        #expect(driver.command("shift api.example.com new 10%", at: 13_000)?.hasPrefix("ok") == true)
        driver.send(.tick, at: 21_000)
        driver.send(Self.answer(driver.analyses.last!, value: 0.2), at: 21_100)
        #expect(driver.weights() == [90, 10], "one failure of the new raise is not two in a row")
    }

    @Test func aRolloutRestoredAtStartWaitsOnlyForTheAnalysesTheZonesStillHave() throws {
        var driver = Self.rolling()
        let saved = try #require(driver.saved)
        #expect(saved.rollouts.first?.analyses.keys.sorted() == ["errors"])
        // The zones no longer attach `errors` to new.
        let config = [WeightedNameConfig(key: Driver.api, endpoints: [
            EndpointConfig(id: "old", slot: 0, zoneWeight: 100, role: "old", check: "gw"),
            EndpointConfig(id: "new", slot: 1, zoneWeight: 0, check: "gw"),
        ], ttlShift: 5)]
        let state = PersistedState(store: saved.store, rollouts: saved.rollouts, revision: driver.revision, seed: saved.seed)
        var restarted = Driver(saved: state, now: 20_000, config: config)
        #expect(restarted.plane.rollouts[Driver.api]?.analyses.isEmpty == true)
        restarted.send(Driver.probe(1, nil, .up), at: 20_500)
        restarted.send(.tick, at: 21_000)
        restarted.send(.tick, at: 32_000)
        #expect(restarted.weights() == [0, 100], "promoted on its bake and probes alone")
    }
}
