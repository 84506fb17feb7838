import TestSupport
import Testing
import Traffic

/// Selection, exactly: a scripted random source puts the draw on every boundary of the
/// cumulative walk.
struct WeightedChoiceExactTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let weights: [UInt32]
        /// draw → expected index
        let expectations: [(UInt64, Int)]
        var testDescription: String { "weights \(weights)" }
    }

    static let cases: [Case] = [
        // Cumulative 3 | 3 | 5: draws 0...2 → 0, the zero weight owns no draw, 3...4 → 2.
        Case(weights: [3, 0, 2], expectations: [(0, 0), (2, 0), (3, 2), (4, 2)]),
        // 99/1: only the last unit of weight goes to the second endpoint.
        Case(weights: [99, 1], expectations: [(0, 0), (98, 0), (99, 1)]),
        Case(weights: [1, 1, 1], expectations: [(0, 0), (1, 1), (2, 2)]),
        // A drained first endpoint is skipped at the first boundary.
        Case(weights: [0, 5], expectations: [(0, 1), (4, 1)]),
        Case(weights: [75, 25], expectations: [(74, 0), (75, 1), (99, 1)]),
    ]

    @Test(arguments: cases)
    func cumulativeWalkBoundaries(_ c: Case) {
        for (draw, expected) in c.expectations {
            var random = ScriptedRandom([draw])
            #expect(WeightedChoice.pick(c.weights, random: &random) == expected, "draw \(draw)")
        }
    }

    @Test func allZeroWeightsChooseNothing() {
        var random = ScriptedRandom([])
        #expect(WeightedChoice.pick([0, 0], random: &random) == nil)
        #expect(WeightedChoice.pick([], random: &random) == nil)
    }

    @Test func drawIsTakenBelowTheTotalWeight() {
        // The scripted source reduces modulo the bound it is asked for: 7 mod (3+2) = 2 → first.
        var random = ScriptedRandom([7, 8])
        #expect(WeightedChoice.pick([3, 2], random: &random) == 0)
        #expect(WeightedChoice.pick([3, 2], random: &random) == 1)
    }
}

/// Selection, statistically: 100,000 seeded draws land within 4 standard deviations of the
/// binomial expectation for every endpoint.
struct WeightedChoiceStatisticalTests {
    static let draws = 100_000

    @Test(arguments: [[99, 1], [75, 25], [50, 50], [50, 30, 20], [1, 0, 3]] as [[UInt32]])
    func sharesWithinBinomialBound(_ weights: [UInt32]) {
        var random = FastRandom(seed: 0x5EED_0000 + UInt64(weights.count))
        var counts = [Int](repeating: 0, count: weights.count)
        for _ in 0..<Self.draws {
            counts[WeightedChoice.pick(weights, random: &random)!] += 1
        }
        let total = Double(weights.reduce(0, +))
        for (index, weight) in weights.enumerated() {
            let p = Double(weight) / total
            let expected = Double(Self.draws) * p
            let sigma = (Double(Self.draws) * p * (1 - p)).squareRoot()
            #expect(abs(Double(counts[index]) - expected) <= 4 * sigma,
                    "endpoint \(index): \(counts[index]) answers, expected \(expected) ± \(4 * sigma)")
            if weight == 0 { #expect(counts[index] == 0) }
        }
    }

    @Test func fastRandomIsUniformBelowABound() {
        var random = FastRandom(seed: 42)
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[Int(random.next(below: 7))] += 1 }
        let sigma = (70_000.0 * (1.0 / 7) * (6.0 / 7)).squareRoot()
        for count in counts { #expect(abs(Double(count) - 10_000) <= 4 * sigma) }
    }

    @Test func sameSeedSameSequence() {
        var a = FastRandom(seed: 7), b = FastRandom(seed: 7)
        for _ in 0..<100 { #expect(a.next() == b.next()) }
    }
}
