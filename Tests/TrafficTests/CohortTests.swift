import Testing
import Traffic

/// `select=client`: weighted rendezvous hashing, tested exactly (given uniforms) and over
/// many keys (monotonic moves, shares within a binomial bound).
struct CohortTests {
    static let seed = CohortSeed(k0: 0x5EED_0000_0000_0001, k1: 0x5EED_0000_0000_0002)
    static let old = EndpointKey(name: NameKey("api.example.com"), id: "old").cohortSalt
    static let new = EndpointKey(name: NameKey("api.example.com"), id: "new").cohortSalt
    static let mid = EndpointKey(name: NameKey("api.example.com"), id: "mid").cohortSalt

    /// `count` distinct /24 keys, spread like real resolvers' (not consecutive).
    static func keys(_ count: Int) -> [CohortKey] {
        var random = FastRandom(seed: 24)
        var seen: Set<CohortKey> = []
        while seen.count < count {
            seen.insert(CohortKey(ipv4: UInt32(truncatingIfNeeded: random.next()), length: 24, fromECS: false))
        }
        return seen.sorted { $0.raw < $1.raw }
    }

    static func choose(_ key: CohortKey, _ weights: [UInt32], salts: [UInt64] = [old, new], seed: CohortSeed = seed) -> Int? {
        Cohort.choose(count: weights.count, weight: { weights[$0] }, salt: { salts[$0] }, key: key, seed: seed)
    }

    // MARK: - Exact

    @Test(arguments: [
        // (weights, uniforms, chosen): the smallest −ln(u)/w wins.
        ([UInt32(1), 1], [0.5, 0.25], Optional(0)),      // 0.693 < 1.386
        ([1, 3], [0.5, 0.25], Optional(1)),              // 0.693 > 1.386/3 = 0.462
        ([1, 2], [0.5, 0.25], Optional(0)),              // 0.693 = 0.693: the first keeps it
        ([0, 1], [0.9999, 0.0001], Optional(1)),         // weight 0 is never chosen
        ([5, 0], [0.0001, 0.9999], Optional(0)),
        ([0, 0], [0.5, 0.5], nil),
        ([1, 1, 1], [0.2, 0.9, 0.5], Optional(1)),
    ])
    func theSmallestScaledExponentialWins(weights: [UInt32], units: [Double], chosen: Int?) {
        #expect(Cohort.choose(count: weights.count, weight: { weights[$0] }, unit: { units[$0] }) == chosen)
    }

    @Test(arguments: [(0.5, 0.6931471805599453), (0.25, 1.3862943611198906), (1e-10, 23.025850929940457),
                      (0.9999999, 1.0000000494736474e-07), (0.7071067811865476, 0.3465735902799726),
                      (1.0, 0.0), (0x1p-53, 36.7368005696771)])
    func negativeLogIsExact(u: Double, expected: Double) {
        let got = Cohort.negativeLog(u)
        #expect(abs(got - expected) <= 1e-14 * max(1, expected), "−ln(\(u)) = \(got), want \(expected)")
    }

    @Test func keysKeepOnlyTheirPrefix() {
        let a = CohortKey(ipv4: 0xC000_0201, length: 32, fromECS: false)    // 192.0.2.1
        let b = CohortKey(ipv4: 0xC000_02FE, length: 24, fromECS: false)    // 192.0.2.254
        #expect(a == b, "a /24 key: the last octet does not count")
        #expect(a.description == "192.0.2.0/24")
        let ecs = CohortKey(ipv4: 0xC633_0000, length: 16, fromECS: true)   // 198.51.0.0/16
        #expect(ecs.isECS && ecs.length == 16 && ecs.description == "198.51.0.0/16")
        #expect(ecs != CohortKey(ipv4: 0xC633_0000, length: 16, fromECS: false), "ECS and resolver keys are kinds apart")
        let v6 = CohortKey(ipv6High: 0x2001_0DB8_0001_23FF, length: 128, fromECS: false)
        #expect(v6.length == 56 && v6.isIPv6 && v6.description == "2001:db8:1:2300::/56")
        #expect(CohortKey(ipv6High: 0x2001_0DB8_0000_0000, length: 32, fromECS: true).description == "2001:db8::/32")
    }

    @Test func aResolverIsKeyedByItsPrefixAndAMappedIPv4AddressByTheIPv4One() {
        let v4 = ClientAddress(ipv6: false, high: 0xC000_0201 << 32, low: 0)                  // 192.0.2.1
        #expect(v4.cohortKey == CohortKey(ipv4: 0xC000_02FF, length: 24, fromECS: false))
        let mapped = ClientAddress(ipv6: true, high: 0, low: 0x0000_FFFF_C000_0263)          // ::ffff:192.0.2.99
        #expect(mapped.cohortKey == v4.cohortKey)
        let v6 = ClientAddress(ipv6: true, high: 0x2001_0DB8_0001_23AB, low: 1)
        #expect(v6.cohortKey.description == "2001:db8:1:2300::/56" && !v6.cohortKey.isECS)
    }

    @Test func seedsRoundTripAsHex() {
        #expect(CohortSeed(hex: Self.seed.description) == Self.seed)
        #expect(Self.seed.description == "5eed0000000000015eed000000000002")
        #expect(CohortSeed(hex: "5EED0000000000015eed000000000002") == nil, "upper case is refused: one spelling")
        #expect(CohortSeed(hex: "5eed") == nil)
    }

    // MARK: - Over many keys

    /// Within 4.5 standard deviations of n·p: fails by chance about once in 150,000 runs.
    static func withinBinomialBound(_ count: Int, of n: Int, share p: Double) -> Bool {
        let mean = Double(n) * p
        return abs(Double(count) - mean) <= 4.5 * (Double(n) * p * (1 - p)).squareRoot() + 1
    }

    @Test func risingWeightOnlyGainsKeysAndFallingOnlyLosesThem() {
        let keys = Self.keys(100_000)
        let steps: [UInt32] = [0, 1, 5, 25, 50, 100, 50, 25, 5, 1, 0]
        var previous = keys.map { Self.choose($0, [100, 0]) }
        for (i, percent) in steps.enumerated().dropFirst() {
            let rising = percent > steps[i - 1]
            let now = keys.map { Self.choose($0, [100 - percent, percent]) }
            var onNew = 0
            for k in keys.indices {
                if now[k] == 1 { onNew += 1 }
                if rising {
                    #expect(!(previous[k] == 1 && now[k] == 0), "key \(keys[k]) left new on the way up to \(percent)%")
                } else {
                    #expect(!(previous[k] == 0 && now[k] == 1), "key \(keys[k]) joined new on the way down to \(percent)%")
                }
            }
            #expect(Self.withinBinomialBound(onNew, of: keys.count, share: Double(percent) / 100),
                    "\(onNew) of \(keys.count) keys on new at \(percent)%")
            previous = now
        }
    }

    @Test func movingWeightBetweenTwoMovesKeysOnlyOffTheLoweredAndOntoTheRaised() {
        let keys = Self.keys(100_000)
        let salts = [Self.old, Self.mid, Self.new]
        let before = keys.map { Self.choose($0, [50, 30, 20], salts: salts) }
        // 20 points from old to new; mid keeps its weight and, in expectation, its share.
        let after = keys.map { Self.choose($0, [30, 30, 40], salts: salts) }
        var midKeys = 0, midChanged = 0
        for k in keys.indices {
            if before[k] != after[k] {
                #expect(before[k] == 0 || after[k] == 2, "key \(keys[k]) moved \(before[k]!) -> \(after[k]!)")
            }
            if after[k] == 1 { midKeys += 1 }
            if (before[k] == 1) != (after[k] == 1) { midChanged += 1 }
        }
        #expect(Self.withinBinomialBound(midKeys, of: keys.count, share: 0.3))
        // Only raising one weight moves nothing between the other two.
        let raised = keys.map { Self.choose($0, [50, 30, 60], salts: salts) }
        for k in keys.indices where before[k] != raised[k] {
            #expect(raised[k] == 2, "raising new moved key \(keys[k]) \(before[k]!) -> \(raised[k]!)")
        }
        // What no scheme can avoid (see `Cohort`): some of mid's keys trade places, through
        // the two endpoints whose weights changed. Recorded so a change of rule shows here.
        #expect(midChanged > 0 && midChanged < keys.count / 10)
    }

    @Test func aDownEndpointsClientsComeBackWhenItHeals() {
        let keys = Self.keys(20_000)
        let salts = [Self.old, Self.mid, Self.new]
        let healthy = keys.map { Self.choose($0, [40, 30, 30], salts: salts) }
        let midDown = keys.map { Self.choose($0, [40, 0, 30], salts: salts) }
        for k in keys.indices {
            #expect(midDown[k] != 1)
            if healthy[k] != 1 { #expect(midDown[k] == healthy[k], "only mid's clients move while it is down") }
        }
        #expect(keys.map { Self.choose($0, [40, 30, 30], salts: salts) } == healthy, "healed: every client is back")
    }

    @Test func theSeedDecidesTheCohorts() {
        let keys = Self.keys(10_000)
        let a = keys.map { Self.choose($0, [50, 50]) }
        #expect(keys.map { Self.choose($0, [50, 50]) } == a, "same seed, same cohorts")
        let other = keys.map { Self.choose($0, [50, 50], seed: CohortSeed(k0: 7, k1: 8)) }
        let same = zip(a, other).filter { $0 == $1 }.count
        #expect(Self.withinBinomialBound(same, of: keys.count, share: 0.5), "another seed: independent cohorts")
    }

    // MARK: - What operators see

    @Test func aDryRunCountsTheSampledKeysThatWouldMove() {
        let config = WeightedNameConfig(key: NameKey("api.example.com"), endpoints: [
            EndpointConfig(id: "old", slot: 0, zoneWeight: 95), EndpointConfig(id: "new", slot: 1, zoneWeight: 5),
        ], selectByClient: true)
        func effective(_ old: UInt32, _ new: UInt32) -> EffectiveWeights {
            let store = WeightStore(names: [WeightStore.Name(name: "api.example.com.", endpoints: [
                WeightStore.Endpoint(id: "old", weight: old), WeightStore.Endpoint(id: "new", weight: new)])])
            return EffectiveWeights(config: [config], store: store, health: [:], shortTTL: [], seed: Self.seed)
        }
        let before = effective(95, 5), after = effective(75, 25)
        let keys = Self.keys(2_000)
        let samples = keys.map { key in
            CohortSample(key: key, slot: before.table().pick([0, 1], family: .any, client: key, random: &Self.never)!, count: 3)
        }
        let moves = CohortView.moves(of: before.names[0], samples: samples, before: before.table(), after: after.table())
        let expected = keys.filter { key in
            Self.choose(key, [95, 5], salts: [config.endpoints[0].key, config.endpoints[1].key])
                != Self.choose(key, [75, 25], salts: [config.endpoints[0].key, config.endpoints[1].key])
        }.count
        #expect(moves.of == 2_000 && moves.keys == expected && moves.answers == UInt64(3 * expected))
        // 20 of the 95 points move: about 21% of the keys.
        #expect(Self.withinBinomialBound(moves.keys, of: 2_000, share: 20.0 / 95))

        let view = CohortView(before.names[0], samples: [CohortSample(key: keys[0], slot: 0, count: 90)] + samples.dropFirst(),
                              byKind: [(ecs: 4, resolver: 6), (ecs: 1, resolver: 0)])
        #expect(view.top.first?.key == keys[0] && view.keys == 2_000 && !view.concentrated)
        #expect(view.byKind.map(\.endpoint) == ["old", "new"] && view.byKind[0].ecs == 4 && view.byKind[1].resolver == 0)
        let heavy = CohortView(before.names[0], samples: (0..<10).map { CohortSample(key: keys[$0], slot: 0, count: $0 < 5 ? 100 : 1) },
                               byKind: [])
        #expect(heavy.concentrated, "5 keys with 500 of 505 answers")
    }

    nonisolated(unsafe) static var never = NeverRandom()
    struct NeverRandom: RandomSource {
        func next(below bound: UInt64) -> UInt64 { Issue.record("a select=client name drew at random"); return 0 }
    }
}

extension EndpointConfig {
    var key: UInt64 { EndpointKey(name: NameKey("api.example.com"), id: id).cohortSalt | 1 }
}
